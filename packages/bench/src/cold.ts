/**
 * The cold program: one contender of W1 or W2 (or of W4's minimal rows) in a fresh Node process of
 * its own that loads that contender's library and nothing else (raw node's loads nothing but
 * `node:child_process`). It runs
 * as plain JavaScript (build.ts transpiles it), not under tsx, whose loader hooks would slow every
 * import and whose esbuild service would make the process larger.
 *
 * It times each import stage (for an Effect-based library, `effect` first and then the library on
 * top of it), the first spawn (from just after the imports to the first exit, building the runtime
 * included), and, after `warmup` spawns in all, the timed run (its wall time, and this process's
 * CPU time per spawn). For W4 it times one stream of `job.bytes` after one of `job.warmup` bytes
 * (MiB/s, and this process's CPU time in ms). The result is one `@@result ` line of JSON on stdout,
 * as from worker.ts.
 */
import type * as Effect from "effect/Effect"
import type * as ManagedRuntime from "effect/ManagedRuntime"

import type { ColdJob, JobResult } from "./protocol.js"
import { RESULT_PREFIX } from "./protocol.js"
import { check, head, pool, rawSpawnWait, rawStream, repeat, TRUE } from "./spawn.js"

/**
 * A contender, loaded: `n` spawn+wait of /bin/true, at most `concurrency` at once; W4's stream of
 * `bytes` of `head -c` stdout, keeping nothing (raw node's and ours only).
 */
interface Loaded {
  readonly spawns: (n: number, concurrency: number) => Promise<void>
  readonly stream?: (bytes: number) => Promise<void>
  readonly dispose: () => Promise<void>
}

/** Runs `load`, recording how long it took as `key` (ms). */
type Stage = <A>(key: "importEffectMs" | "importLibraryMs", load: () => Promise<A>) => Promise<A>

const plain = (once: () => Promise<void>, stream?: (bytes: number) => Promise<void>): Loaded => ({
  spawns: (n, concurrency) => (concurrency === 1 ? repeat(n, once) : pool(n, concurrency, once)),
  ...(stream === undefined ? {} : { stream }),
  dispose: async () => {}
})

/** An Effect-based contender, with the loops the steady-state contenders use (effects.ts). */
const viaRuntime = async <R, ER>(
  runtime: ManagedRuntime.ManagedRuntime<R, ER>,
  exitCode: Effect.Effect<number, unknown, R>,
  stream?: (bytes: number) => Effect.Effect<unknown, unknown, R>
): Promise<Loaded> => {
  const { exitZero, parallel, sequential } = await import("./effects.js")
  const once = exitZero(exitCode)
  return {
    spawns: (n, concurrency) =>
      runtime.runPromise(concurrency === 1 ? sequential(once, n) : parallel(once, n, concurrency)),
    ...(stream === undefined ? {} : { stream: async (bytes: number) => void await runtime.runPromise(stream(bytes)) }),
    dispose: () => runtime.dispose()
  }
}

/** Ours: W1 and W2 through `Command.exitCode`; W4 read as a Stream, or with `Output.forEach`. */
const loadOurs = async (stage: Stage, read: "stream" | "forEach"): Promise<Loaded> => {
  const { Effect, ManagedRuntime, Stream } = await stage("importEffectMs", () => import("effect"))
  const [{ Command }, { NodeCommandExecutor }] = await stage(
    "importLibraryMs",
    () => Promise.all([import("@effect-command/core"), import("@effect-command/node")])
  )
  const stream = (bytes: number) => {
    const headOf = Command.make("head", ...head(bytes))
    if (read === "stream") return Stream.runDrain(Command.stream(headOf))
    return Effect.suspend(() => {
      let length = 0
      const run = Command.run(
        headOf.pipe(Command.stdout(Command.Output.forEach((chunk) => void (length += chunk.length))))
      )
      return Effect.map(run, () => check(length === bytes, `streamed ${length}`))
    })
  }
  return viaRuntime(ManagedRuntime.make(NodeCommandExecutor.layer), Command.exitCode(Command.make(TRUE)), stream)
}

/** By id, as in contenders.ts: what each contender imports, and its W1 and W2. */
const contenders: Readonly<Record<string, (stage: Stage) => Promise<Loaded>>> = {
  raw: async () => plain(() => rawSpawnWait(TRUE, [], "ignore"), rawStream),
  execa: async (stage) => {
    const { execa } = await stage("importLibraryMs", async () => {
      await import("./node20.js")
      return import("execa")
    })
    return plain(async () => check((await execa(TRUE)).exitCode === 0, "execa exit code"))
  },
  platform: async (stage) => {
    const { ManagedRuntime } = await stage("importEffectMs", () => import("effect"))
    const [PCommand, NodeContext] = await stage(
      "importLibraryMs",
      () => Promise.all([import("@effect/platform/Command"), import("@effect/platform-node/NodeContext")])
    )
    return viaRuntime(ManagedRuntime.make(NodeContext.layer), PCommand.exitCode(PCommand.make(TRUE)))
  },
  ours: (stage) => loadOurs(stage, "stream"),
  /** Ours, reading W4's stream with `Output.forEach` (lent chunks) instead of a Stream. */
  "ours-foreach": (stage) => loadOurs(stage, "forEach")
}

/** W4's minimal row: one warm-up stream of `warmup` bytes, then the timed one of `bytes`; MiB/s. */
const timeStream = async (loaded: Loaded, bytes: number, warmup: number, extra: Record<string, number>) => {
  if (loaded.stream === undefined) throw new Error("this contender has no W4 stream")
  await loaded.stream(warmup)
  const cpu = process.cpuUsage()
  const start = performance.now()
  await loaded.stream(bytes)
  const seconds = (performance.now() - start) / 1000
  const cpuUsed = process.cpuUsage(cpu)
  extra.cpu = (cpuUsed.user + cpuUsed.system) / 1000
  return bytes / 1048576 / seconds
}

/** W1 or W2: the first spawn, the rest of the warm-up, then `n` timed; µs per spawn (W1) or spawns/s. */
const timeSpawns = async (loaded: Loaded, job: ColdJob, extra: Record<string, number>) => {
  let start = performance.now()
  await loaded.spawns(1, job.concurrency)
  extra.firstMs = performance.now() - start
  await loaded.spawns(job.warmup - 1, job.concurrency)
  const cpu = process.cpuUsage()
  start = performance.now()
  await loaded.spawns(job.n, job.concurrency)
  const seconds = (performance.now() - start) / 1000
  const cpuUsed = process.cpuUsage(cpu)
  extra.cpu = (cpuUsed.user + cpuUsed.system) / job.n
  return job.concurrency === 1 ? (seconds * 1e6) / job.n : job.n / seconds
}

const run = async (job: ColdJob): Promise<JobResult> => {
  const extra: Record<string, number> = {}
  const stage: Stage = async (key, load) => {
    const start = performance.now()
    const loaded = await load()
    extra[key] = performance.now() - start
    return loaded
  }
  try {
    const load = contenders[job.contender]
    if (load === undefined) throw new Error(`no cold contender ${job.contender}`)
    const loaded = await load(stage)
    const value = job.bytes !== undefined
      ? await timeStream(loaded, job.bytes, job.warmup, extra)
      : await timeSpawns(loaded, job, extra)
    await loaded.dispose()
    return { samples: [{ round: job.round, contender: job.contender, value, extra }], info: {} }
  } catch (e) {
    const error = (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 200)
    return { samples: [{ round: job.round, contender: job.contender, value: NaN, error, extra: {} }], info: {} }
  }
}

run(JSON.parse(process.argv[2] ?? "") as ColdJob).then((result) =>
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`, () => process.exit(0))
)
