/**
 * The workloads: each runs its contenders in worker processes (worker.ts), or each contender in a
 * fresh process of its own (cold.ts, the C floor), and returns its samples.
 */
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"

import { bytesFloor, coldProgram, type Floor, spawnFloor } from "./build.js"
import { benchDir, config, roundsOf } from "./config.js"
import * as Contenders from "./contenders.js"
import type { ColdJob, Job, JobResult, Sample } from "./protocol.js"
import { RESULT_PREFIX } from "./protocol.js"
import type { Column, Workload } from "./results.js"
import { runSsh } from "./ssh.js"
import { fmt, MiB, rotate } from "./stats.js"

/** Runs a process that prints its result as a `@@result ` line; gives up on it (SIGKILL) after `limitMs`. */
const runProcess = (file: string, args: ReadonlyArray<string>, what: string, limitMs: number): Promise<JobResult> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(file, args, { cwd: benchDir, stdio: ["ignore", "pipe", "inherit"] })
    const watchdog = setTimeout(() => child.kill("SIGKILL"), limitMs)
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s
    })
    child.once("error", reject)
    child.once("close", (code, signal) => {
      clearTimeout(watchdog)
      const line = out.split("\n").find((l) => l.startsWith(RESULT_PREFIX))
      if (code !== 0 || line === undefined) {
        return reject(new Error(`the process for ${what} failed (${signal ?? code}):\n${out}`))
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as JobResult)
    })
  })

const runWorker = (job: Job): Promise<JobResult> =>
  runProcess(
    process.execPath,
    [...process.execArgv, "--expose-gc", fileURLToPath(new URL("worker.ts", import.meta.url)), JSON.stringify(job)],
    job.workload,
    // A worker stuck outside the runs it times itself (it should not happen): give up on it.
    config.timeoutMs * 15
  )

const RAW = { id: "raw", name: "raw node" }
/** Raw node in a process of its own that imports nothing but `node:child_process` (cold.ts). */
const MINIMAL_RAW = { id: "raw-minimal", name: "raw node in a fresh minimal process" }
/** W4: ours in a process of its own that imports only `effect` and this library (cold.ts). */
const MINIMAL_OURS = "ours-minimal"
/** W4: the same, reading with `Output.forEach`. */
const MINIMAL_OURS_FOREACH = "ours-foreach-minimal"

/** The measuring process's own CPU time (user + system): less sensitive to other load than wall time. */
const CPU_PER_SPAWN: Column = { key: "cpu", label: "parent CPU µs/spawn: median (min–max)", summary: "median" }
const CPU_MS: Column = { key: "cpu", label: "parent CPU ms per run: median (min–max)", summary: "median" }

const labels = (list: ReadonlyArray<{ readonly id: string; readonly label: string }>) =>
  new Map(list.map((c) => [c.id, c.label]))

export const log = (line: string) => process.stderr.write(`${line}\n`)

export const timed = async <A>(f: () => Promise<A>): Promise<[A, number]> => {
  const start = Date.now()
  const a = await f()
  return [a, (Date.now() - start) / 1000]
}

type RoundsJob = Extract<Job, { kind: "rounds" }>

const roundsJob = (
  workload: RoundsJob["workload"],
  fields: Partial<RoundsJob> & { readonly rounds: number }
): RoundsJob => ({
  kind: "rounds",
  workload,
  n: 0,
  concurrency: 1,
  bytes: 0,
  warmup: 0,
  ballastMiB: 0,
  ballastWarmup: 0,
  timeoutMs: config.timeoutMs,
  ...fields,
  rounds: roundsOf(fields)
})

/** W1 and W1b: sequential spawn+wait of /bin/true, µs per spawn. */
const spawnWaitWorkload = async (
  id: "W1" | "W1b",
  c: Partial<RoundsJob> & { readonly n: number; readonly rounds: number },
  what: { readonly log: string; readonly title: string; readonly rss: string; readonly notes: ReadonlyArray<string> }
): Promise<Workload> => {
  log(`${id}: ${what.log}, n=${c.n}, ${roundsOf(c)} rounds`)
  const [result, seconds] = await timed(() => runWorker(roundsJob(id, c)))
  return {
    id,
    title: `${id}: ${what.title}, n=${c.n} per run`,
    unit: "µs/spawn",
    higherIsBetter: false,
    baseline: RAW,
    labels: labels(Contenders.w1),
    samples: result.samples,
    columns: [CPU_PER_SPAWN],
    notes: [
      `The measuring process's RSS before the runs${what.rss}: ${fmt(result.info.parentRssMiB ?? NaN)} MiB.`,
      ...what.notes
    ],
    seconds
  }
}

const runW1 = () =>
  spawnWaitWorkload("W1", config.w1, {
    log: "spawn+wait /bin/true, sequential",
    title: "spawn+wait `/bin/true`, sequential",
    rss: "",
    notes: [`Each contender warms up with ${config.w1.warmup} spawns first.`]
  })

const runW1b = () => {
  const c = config.w1b
  return spawnWaitWorkload("W1b", c, {
    log: `W1 with the parent holding ${c.ballastMiB} MiB of Buffers`,
    title: `W1 with the parent holding ${c.ballastMiB} MiB of Buffers (written)`,
    rss: ", ballast included",
    notes: [
      `n is ${c.n} (W1: ${config.w1.n}) to keep the whole run near 12 minutes: fork() from this parent costs tens of ms.`,
      `Each contender warms up with ${c.warmup} spawns before the ballast is allocated (W1: ${config.w1.warmup}), then with ${c.ballastWarmup} more with it.`
    ]
  })
}

/**
 * Rounds of runs in fresh processes: each round runs every contender once, in a process of its
 * own, in the order of `rotate`; a process that fails is that run's error.
 */
const freshRounds = (
  workload: string,
  ids: ReadonlyArray<string>,
  rounds: number,
  runOne: (id: string, round: number) => Promise<JobResult>,
  describe: (s: Sample) => string
): Promise<[Array<Sample>, number]> =>
  timed(async () => {
    const samples: Array<Sample> = []
    for (let round = 0; round < rounds; round++) {
      const line: Array<string> = []
      for (const id of rotate(ids, round)) {
        const got = await runOne(id, round).then(
          (result) => result.samples,
          (e: Error) => [{ round, contender: id, value: NaN, error: e.message.split("\n")[0]!, extra: {} }]
        )
        samples.push(...got)
        const s = got[0]!
        line.push(s.error !== undefined ? `${id} FAILED: ${s.error}` : `${id} ${describe(s)}`)
      }
      log(`  ${workload} round ${round + 1}/${rounds}: ${line.join(", ")}`)
    }
    return samples
  })

/** The byte workloads' C floor: its row, and how bytes-floor.c runs the workload. */
const BYTES_FLOOR = {
  id: "c",
  label: "C: `posix_spawn`, `poll`, the native engine's pipe and socket pair (src/bytes-floor.c)"
}
const floorModes = { W3: "capture", W4: "stream", W6wc: "feed-wc", W6cat: "feed-cat" } as const

/** One run of the C floor of a byte workload, in a process of its own. */
const runBytesFloor = (
  floor: { readonly path: string },
  workload: keyof typeof floorModes,
  round: number,
  c: { readonly bytes: number; readonly warmup: number }
) =>
  runProcess(
    floor.path,
    [floorModes[workload], round, c.bytes, c.warmup].map(String),
    "the C floor",
    config.timeoutMs
  )

/** The note on a byte workload's C floor (or on its absence). */
const bytesFloorNote = (floor: Floor) =>
  "path" in floor
    ? "C: the same bytes moved by a C program (compiled with `cc -O2` at run time) through the same kernel objects as the native engine's (a pipe with a 1 MiB buffer out of the child, a socket pair into it), with `poll`; after a warm-up run of the same size. It is the floor: what the kernel's pipes cost without a runtime."
    : `No C floor: ${floor.missing}.`

const runSingles = (workload: "W3" | "W4", list: ReadonlyArray<{ readonly id: string }>, floor: Floor) =>
  freshRounds(
    workload,
    [...list.map((c) => c.id), ...("path" in floor ? [BYTES_FLOOR.id] : [])],
    roundsOf(config.w34),
    (contender, round) =>
      contender === BYTES_FLOOR.id && "path" in floor
        ? runBytesFloor(floor, workload, round, config.w34)
        : runWorker({
          kind: "single",
          workload,
          contender,
          round,
          bytes: config.w34.bytes,
          warmup: config.w34.warmup,
          timeoutMs: config.timeoutMs
        }),
    (s) => `${s.value.toFixed(0)} MiB/s +${(s.extra.rssGrowthMiB ?? NaN).toFixed(0)} MiB`
  )

let coldBuilt: Promise<string> | undefined
/** One run of the cold program (cold.ts), transpiled once per bench run. */
const runCold = async (job: ColdJob): Promise<JobResult> =>
  runProcess(
    process.execPath,
    [await (coldBuilt ??= coldProgram()), JSON.stringify(job)],
    `cold ${job.contender}`,
    config.timeoutMs
  )

const runW2 = async (): Promise<Workload> => {
  const c = config.w2
  log(`W2: ${c.n} × /bin/true, ${c.concurrency} in flight, ${roundsOf(c)} rounds`)
  const [result, seconds] = await timed(() => runWorker(roundsJob("W2", c)))
  log(`W2: raw node in a fresh minimal process, ${roundsOf(c)} rounds`)
  const [minimal, minimalSeconds] = await freshRounds(
    "W2",
    ["raw"],
    roundsOf(c),
    (contender, round) => runCold({ contender, round, n: c.n, concurrency: c.concurrency, warmup: c.warmup }),
    (s) => s.value.toFixed(1)
  )
  return {
    id: "W2",
    title: `W2: ${c.n} × \`/bin/true\`, ${c.concurrency} in flight`,
    unit: "spawns/s",
    higherIsBetter: true,
    baseline: RAW,
    secondBaseline: MINIMAL_RAW,
    labels: new Map([
      ...labels(Contenders.w2),
      [MINIMAL_RAW.id, "raw node: spawn, stdio \"ignore\", in a fresh process that imports nothing but child_process"]
    ]),
    samples: [...result.samples, ...minimal.map((s) => ({ ...s, contender: MINIMAL_RAW.id }))],
    columns: [{ key: "stallMs", label: "longest timer stall, ms: median (min–max)", summary: "median" }, CPU_PER_SPAWN],
    notes: [
      "Timer stall: the longest stretch in which a 1 ms `setInterval` did not fire during the run (timer probe, src/probe.ts).",
      `Each contender warms up with ${c.warmup} spawns first (${c.concurrency} in flight).`,
      `Two baselines. "Raw node" runs in the worker that also loaded and warmed up every other contender: an application's process, whose larger memory makes each fork() copy more page tables. "Raw node in a fresh minimal process" runs in a process of its own that imports nothing but \`node:child_process\` (src/cold.ts), with the same ${c.warmup} warm-up spawns, one process a round, after the worker's rounds (its round r is paired with their round r).`
    ],
    seconds: seconds + minimalSeconds
  }
}

/** The cold runs' contenders (ids of contenders.ts) and the C floor. */
const COLD = ["raw", "ours", "execa", "platform"]
const FLOOR = { id: "c", label: "C: `posix_spawn` + `waitpid`, stdio on /dev/null (src/spawn-floor.c)" }
const COLD_COLUMNS: ReadonlyArray<Column> = [
  { key: "firstMs", label: "first spawn, ms: median (min–max)", summary: "median" },
  { key: "importEffectMs", label: "import `effect`, ms", summary: "median" },
  { key: "importLibraryMs", label: "import the library (after `effect`), ms", summary: "median" },
  CPU_PER_SPAWN
]

/** W1 or W2 with every contender in a fresh process of its own, after at most `config.cold.warmup` spawns. */
const runColdWorkload = async (which: "W1" | "W2", floor: ReturnType<typeof spawnFloor>): Promise<Workload> => {
  const c = config.cold
  const concurrency = which === "W1" ? 1 : c.concurrency
  const how = which === "W1" ? "sequential" : `${concurrency} in flight`
  const list = [...Contenders.w1.filter((x) => COLD.includes(x.id)), ...("path" in floor ? [FLOOR] : [])]
  log(`${which} cold: ${c.n} × /bin/true, ${how}, a fresh process per run, ${roundsOf(c)} rounds`)
  const [samples, seconds] = await freshRounds(
    `${which} cold`,
    list.map((x) => x.id),
    roundsOf(c),
    (contender, round) =>
      contender === FLOOR.id && "path" in floor
        ? runProcess(floor.path, [round, c.n, concurrency, c.warmup].map(String), "the C floor", config.timeoutMs)
        : runCold({ contender, round, n: c.n, concurrency, warmup: c.warmup }),
    (s) => s.value.toFixed(1)
  )
  return {
    id: `${which}cold`,
    title: `${which} cold: ${c.n} × \`/bin/true\`, ${how}, each contender in a fresh process of its own`,
    unit: which === "W1" ? "µs/spawn" : "spawns/s",
    higherIsBetter: which === "W2",
    // Raw node's process here is the minimal one.
    baseline: { id: RAW.id, name: MINIMAL_RAW.name },
    labels: labels(list),
    samples,
    columns: COLD_COLUMNS,
    notes: [
      `Each run is a fresh Node process (src/cold.ts, as plain JavaScript, not under tsx) that imports its contender's library and nothing else; raw node's imports nothing but \`node:child_process\`. It spawns once, then more up to ${c.warmup} spawns in all, then runs the timed ${c.n}: V8 has compiled next to nothing yet, as in a command-line tool or a short job.`,
      "First spawn: from just after the imports to the first exit (for ours and @effect/platform, building the runtime and its layer included). Import: the `import()` of the library in that process, after Node started; for ours and @effect/platform, `effect` (its index, every module) first, then the library on top of it: the second figure is the library's own.",
      "path" in floor
        ? "C: the same spawns from a C program, compiled with `cc -O2` at run time; it has nothing to import. It is the floor: what the kernel's process creation costs without a runtime."
        : `No C floor: ${floor.missing}.`
    ],
    seconds
  }
}

const sizeLabel = (bytes: number) => (bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / 1024} KiB`)

const runW3 = async (): Promise<Workload> => {
  log(`W3: capture ${sizeLabel(config.w34.bytes)} of stdout, ${roundsOf(config.w34)} rounds, a fresh process per run`)
  const floor = bytesFloor()
  const [samples, seconds] = await runSingles("W3", Contenders.w3, floor)
  return {
    id: "W3",
    title: `W3: capture ${sizeLabel(config.w34.bytes)} of \`head -c ${config.w34.bytes} /dev/zero\` as bytes`,
    unit: "MiB/s",
    higherIsBetter: true,
    baseline: RAW,
    labels: labels([...Contenders.w3, BYTES_FLOOR]),
    samples,
    columns: [{ key: "rssGrowthMiB", label: "peak RSS growth, MiB: median (min–max)", summary: "median" }, CPU_MS],
    notes: [
      "Each run in a fresh Node process after a 1 MiB warm-up run of the same contender; peak RSS growth is VmHWM after the run minus VmRSS before it (the peak reset through /proc/self/clear_refs).",
      bytesFloorNote(floor)
    ],
    seconds
  }
}

const runW4 = async (): Promise<Workload> => {
  log(
    `W4: stream ${sizeLabel(config.w34.bytes)} of stdout, keep nothing, ${
      roundsOf(config.w34)
    } rounds, a fresh process per run`
  )
  const floor = bytesFloor()
  const [samples, seconds] = await runSingles("W4", Contenders.w4, floor)
  log(`W4: raw node and ours in fresh minimal processes, ${roundsOf(config.w34)} rounds`)
  const { bytes, warmup } = config.w34
  const [minimal, minimalSeconds] = await freshRounds(
    "W4",
    ["raw", "ours", "ours-foreach"],
    roundsOf(config.w34),
    (contender, round) => runCold({ contender, round, n: 0, concurrency: 1, warmup, bytes }),
    (s) => `${s.value.toFixed(0)} MiB/s`
  )
  return {
    id: "W4",
    title: `W4: stream ${sizeLabel(bytes)} of \`head -c ${bytes} /dev/zero\`, keep nothing`,
    unit: "MiB/s",
    higherIsBetter: true,
    baseline: RAW,
    secondBaseline: MINIMAL_RAW,
    labels: new Map([
      ...labels([...Contenders.w4, BYTES_FLOOR]),
      [MINIMAL_RAW.id, "raw node: spawn, count \"data\", in a fresh process that imports nothing but child_process"],
      [
        MINIMAL_OURS,
        `ours (helper, ${Contenders.engines.helper}): Command.stream + Stream.runDrain, in a fresh process that imports only effect and this library`
      ],
      [
        MINIMAL_OURS_FOREACH,
        `ours (helper, ${Contenders.engines.helper}): Command.run + Output.forEach, in a fresh process that imports only effect and this library`
      ]
    ]),
    samples: [
      ...samples,
      ...minimal.map((s) => ({
        ...s,
        contender: s.contender === "raw" ? MINIMAL_RAW.id : s.contender === "ours" ? MINIMAL_OURS : MINIMAL_OURS_FOREACH
      }))
    ],
    columns: [{ key: "rssGrowthMiB", label: "peak RSS growth, MiB: median (min–max)", summary: "median" }, CPU_MS],
    notes: [
      "Run like W3: each run in a fresh Node process.",
      bytesFloorNote(floor),
      `Two baselines. "Raw node" runs in a fresh worker process that loaded every contender's library, as ours, execa and @effect/platform do: an application's process. The two "fresh minimal process" rows run in a process that imports only what that contender needs (src/cold.ts), after the same warm-up, one process a round, after the worker's rounds (round r paired with their round r).`
    ],
    seconds: seconds + minimalSeconds
  }
}

const runW5 = async (): Promise<Workload> => {
  const c = config.w5
  const pipe = `head -c ${c.bytes} /dev/zero | wc -c`
  log(`W5: ${pipe} as a pipeline, ${roundsOf(c)} rounds`)
  const [result, seconds] = await timed(() => runWorker(roundsJob("W5", c)))
  return {
    id: "W5",
    title: `W5: \`${pipe}\` (${sizeLabel(c.bytes)}) as a pipeline vs \`sh -c\``,
    unit: "MiB/s",
    higherIsBetter: true,
    baseline: { id: "sh", name: "`sh -c`" },
    labels: labels(Contenders.w5),
    samples: result.samples,
    columns: [CPU_MS],
    notes: [
      "Ours and raw node join the two children with one kernel pipe (raw node: the socket pair Node made for head's stdout, passed to wc as its stdin); execa and @effect/platform copy every byte through Node streams. The raw-node row's ratio is to `sh -c` too."
    ],
    seconds
  }
}

const runW6 = async (which: "W6wc" | "W6cat"): Promise<Workload> => {
  const c = config.w6
  const what = which === "W6wc" ? "into `wc -c`" : "into `cat`, capturing its output"
  log(`${which}: feed ${sizeLabel(c.bytes)} ${what.replaceAll("`", "")}, ${roundsOf(c)} rounds`)
  const [result, seconds] = await timed(() => runWorker(roundsJob(which, c)))
  const floor = bytesFloor()
  const [floorSamples, floorSeconds] = "path" in floor
    ? await freshRounds(
      `${which} C floor`,
      [BYTES_FLOOR.id],
      roundsOf(c),
      (_, round) => runBytesFloor(floor, which, round, c),
      (s) => s.value.toFixed(0)
    )
    : [[], 0]
  return {
    id: which,
    title: `${which === "W6wc" ? "W6a" : "W6b"}: feed ${sizeLabel(c.bytes)} ${what}`,
    unit: "MiB/s",
    higherIsBetter: true,
    baseline: RAW,
    labels: labels([...(which === "W6wc" ? Contenders.w6wc : Contenders.w6cat), BYTES_FLOOR]),
    samples: [...result.samples, ...floorSamples],
    columns: [CPU_MS],
    notes: [
      `Every contender but C runs in one worker process, interleaved, round after round; C runs one process a round, after the worker's rounds. ${
        bytesFloorNote(floor)
      }`
    ],
    seconds: seconds + floorSeconds
  }
}

/** Every workload, by the id `--only` selects it with, in the order they run. */
export const workloads: ReadonlyArray<readonly [string, () => Promise<ReadonlyArray<Workload>>]> = [
  ["COLD", async () => {
    const floor = spawnFloor()
    return [await runColdWorkload("W1", floor), await runColdWorkload("W2", floor)]
  }],
  ["W1", async () => [await runW1()]],
  ["W1B", async () => [await runW1b()]],
  ["W2", async () => [await runW2()]],
  ["W3", async () => [await runW3()]],
  ["W4", async () => [await runW4()]],
  ["W5", async () => [await runW5()]],
  ["W6", async () => [await runW6("W6wc"), await runW6("W6cat")]],
  ["SSH", () => runSsh()]
]
