/**
 * Torture, part 1: many random probe runs at 16-way concurrency, interrupted at random moments,
 * against both engines (the setup helper, and `helper: "never"`).
 *
 * Each run picks, from a seeded generator: how the probe ends (exit 0, exit 1, a fatal signal),
 * whether it ignores SIGTERM, how much it writes to stdout and stderr (up to 1 MiB each), whether
 * it leaves a grandchild holding its output, whether it reads stdin (fed from memory, echoed
 * back), where its outputs go (captured, the run helpers' default tail, /dev/null, stderr joined
 * to stdout), sometimes an output limit it will pass, which API runs it, and how it is cut short:
 * not at all, `Effect.timeout` after 0–50 ms, `Fiber.interrupt` after 0–50 ms, `Command.timeout`
 * after 1–50 ms, an interrupt before the fiber ever ran (before spawn), or an interrupt once the
 * child has exited (during the drain, after exit).
 *
 * Every run must end with the exact result that was asked for (status, captured bytes, stderr
 * tail, output-limit error), or with the typed error its interruption allows (TimeoutException,
 * CommandTimeoutError carrying a prefix of the output, a plain interruption). Afterwards: no
 * zombie child, no live process carrying the run's marker variable, as many open fds as before.
 *
 * Size: `EC_TORTURE_RUNS` runs in total, split between the two engines (default 1,000, which fits
 * the normal `pnpm test`; `pnpm test:torture` runs 10,000). `EC_TORTURE_SEED` fixes the generator;
 * `EC_TORTURE_DRAIN_DELAY` replaces the 100 ms drain delay (to tell drain-delay failures apart).
 */
import "../fixtures/ensure-helper.js"

import { Buffer } from "node:buffer"
import * as Fs from "node:fs"

import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Equal, Exit, Fiber, Option } from "effect"

import { probePath } from "../support/probe.js"
import { marker, openFdCount, withMarker, zombieChildren } from "../support/procs.js"
import { helperPath } from "../support/raw-helper.js"

// ---------------------------------------------------------------------------------------------
// size and seed
// ---------------------------------------------------------------------------------------------

const positiveInt = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === "") return fallback
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not ${JSON.stringify(raw)}`)
  return n
}

/** Total runs over both engines. */
const RUNS = Math.max(2, positiveInt("EC_TORTURE_RUNS", 1_000))
const SEED = positiveInt("EC_TORTURE_SEED", Math.floor(Math.random() * 2 ** 32)) >>> 0
const CONCURRENCY = 16
const MARK = "EC_TORTURE_MARK"
const KILL_GRACE = "200 millis"
/** A short drain delay, as the issue asks; `EC_TORTURE_DRAIN_DELAY` overrides it for diagnosis. */
const DRAIN_DELAY = (process.env.EC_TORTURE_DRAIN_DELAY ?? "100 millis") as Duration.DurationInput
const TAIL = 8 * 1024
const MiB = 1024 * 1024

/** mulberry32: small, fast, good enough to pick test cases, and reproducible from its seed. */
const generator = (seed: number) => {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
  /** An integer in [min, max]. */
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  /** One of the weighted choices. */
  const pick = <A>(choices: ReadonlyArray<readonly [number, A]>): A => {
    const total = choices.reduce((sum, [w]) => sum + w, 0)
    let r = next() * total
    for (const [w, value] of choices) {
      if ((r -= w) < 0) return value
    }
    return choices[choices.length - 1]![1]
  }
  return { next, int, pick }
}
type Generator = ReturnType<typeof generator>

// ---------------------------------------------------------------------------------------------
// what a run asks for
// ---------------------------------------------------------------------------------------------

const SIGNALS = ["TERM", "KILL", "INT", "HUP", "USR1", "SEGV"] as const

type End = { readonly _tag: "Exit"; readonly code: 0 | 1 } | {
  readonly _tag: "Signal"
  readonly name: (typeof SIGNALS)[number]
}

type Cut =
  | { readonly _tag: "None" }
  | { readonly _tag: "EffectTimeout"; readonly ms: number }
  | { readonly _tag: "FiberInterrupt"; readonly ms: number }
  | { readonly _tag: "CommandTimeout"; readonly ms: number }
  | { readonly _tag: "BeforeSpawn" }
  | { readonly _tag: "AfterExit" }

interface Spec {
  readonly index: number
  readonly end: End
  readonly ignoreTerm: boolean
  readonly stdoutBytes: number
  readonly stderrBytes: number
  /** Grandchild holding stdout/stderr open for this many ms. */
  readonly holderMs: number | undefined
  readonly sleepMs: number
  /** Fed to stdin (the probe reads it to EOF and echoes it on both outputs). */
  readonly feed: Uint8Array | undefined
  readonly stdout: "capture" | "default" | "null"
  readonly stderr: "capture" | "default" | "null" | "stdout"
  readonly maxOutput: number | undefined
  /** `start` only with AfterExit. */
  readonly api: "run" | "status" | "start"
  readonly cut: Cut
}

/** 256 KiB of printable text with newlines, sliced for stdin. */
const feedPool = (rng: Generator): Buffer => {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n"
  const pool = Buffer.alloc(256 * 1024)
  for (let i = 0; i < pool.length; i++) pool[i] = alphabet.charCodeAt(rng.int(0, alphabet.length - 1))
  return pool
}

const outputSize = (rng: Generator): number =>
  rng.pick<() => number>([
    [30, () => 0],
    [50, () => rng.int(1, 64 * 1024)],
    [20, () => rng.int(64 * 1024 + 1, MiB)]
  ])()

const makeSpec = (rng: Generator, pool: Buffer, index: number): Spec => {
  const end = rng.pick<() => End>([
    [50, () => ({ _tag: "Exit", code: 0 })],
    [25, () => ({ _tag: "Exit", code: 1 })],
    [25, () => ({ _tag: "Signal", name: SIGNALS[rng.int(0, SIGNALS.length - 1)]! })]
  ])()
  const cut = rng.pick<() => Cut>([
    [30, () => ({ _tag: "None" })],
    [20, () => ({ _tag: "EffectTimeout", ms: rng.int(0, 50) })],
    [20, () => ({ _tag: "FiberInterrupt", ms: rng.int(0, 50) })],
    [10, () => ({ _tag: "CommandTimeout", ms: rng.int(1, 50) })],
    [5, () => ({ _tag: "BeforeSpawn" })],
    [15, () => ({ _tag: "AfterExit" })]
  ])()
  const feedBytes = rng.next() < 0.5 ? undefined : rng.next() < 0.2 ? 0 : rng.int(1, 128 * 1024)
  const feedAt = feedBytes === undefined ? 0 : rng.int(0, pool.length - feedBytes)
  const spec: Spec = {
    index,
    end,
    ignoreTerm: rng.next() < 0.3,
    stdoutBytes: outputSize(rng),
    stderrBytes: outputSize(rng),
    holderMs: rng.next() < 0.15 ? rng.int(1, 300) : undefined,
    sleepMs: rng.next() < 0.5 ? 0 : rng.int(1, 30),
    feed: feedBytes === undefined ? undefined : pool.subarray(feedAt, feedAt + feedBytes),
    stdout: rng.pick([[45, "capture"], [40, "default"], [15, "null"]] as const),
    stderr: rng.pick([[35, "capture"], [35, "default"], [10, "null"], [20, "stdout"]] as const),
    maxOutput: undefined,
    api: cut._tag === "AfterExit" ? "start" : rng.next() < 0.8 ? "run" : "status",
    cut
  }
  // Sometimes a limit that exactly one captured stream passes (two could race for who is first).
  if (cut._tag !== "AfterExit" && rng.next() < 0.1) {
    const { stderr, stdout } = expectedStreams(spec)
    const captured: Array<readonly ["stdout" | "stderr", number]> = []
    if (spec.stdout === "capture") captured.push(["stdout", stdout.length])
    if (spec.stderr === "capture") captured.push(["stderr", stderr.length])
    const [over, other] = rng.next() < 0.5 ? captured : [...captured].reverse()
    if (over !== undefined && over[1] > 0 && (other === undefined || other[1] < over[1])) {
      return { ...spec, maxOutput: rng.int(other?.[1] ?? 0, over[1] - 1) }
    }
  }
  return spec
}

const describeSpec = (spec: Spec): string =>
  JSON.stringify({ ...spec, feed: spec.feed === undefined ? undefined : `${spec.feed.length} bytes` })

const probeArgs = (spec: Spec): Array<string> => {
  const args = ["--no-report"]
  if (spec.feed === undefined) args.push("--no-stdin", "--quiet-io")
  if (spec.ignoreTerm) args.push("--ignore-term")
  if (spec.holderMs !== undefined) args.push("--fork-holder", String(spec.holderMs))
  if (spec.stdoutBytes > 0) args.push("--write-stdout", String(spec.stdoutBytes))
  if (spec.stderrBytes > 0) args.push("--write-stderr", String(spec.stderrBytes))
  if (spec.sleepMs > 0) args.push("--sleep-ms", String(spec.sleepMs))
  if (spec.end._tag === "Signal") args.push("--signal", spec.end.name)
  else args.push("--exit", String(spec.end.code))
  return args
}

const commandOf = (spec: Spec, mark: string): Command.Command => {
  let cmd = Command.make(probePath, ...probeArgs(spec)).pipe(Command.env(MARK, mark), Command.killGrace(KILL_GRACE))
  if (spec.stdout !== "default") cmd = Command.stdout(cmd, spec.stdout)
  if (spec.stderr !== "default") cmd = Command.stderr(cmd, spec.stderr)
  if (spec.feed !== undefined) cmd = Command.feed(cmd, spec.feed)
  if (spec.maxOutput !== undefined) cmd = Command.maxOutput(cmd, spec.maxOutput)
  if (spec.cut._tag === "CommandTimeout") cmd = Command.timeout(cmd, Duration.millis(spec.cut.ms))
  return cmd
}

// ---------------------------------------------------------------------------------------------
// what a run must produce
// ---------------------------------------------------------------------------------------------

/** The probe's `--write-*` pattern, 1 MiB of it: "abc…z" repeated. */
const PATTERN = Buffer.alloc(MiB, 0)
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = 0x61 + (i % 26)

const empty = Buffer.alloc(0)
const ascii = (s: string) => Buffer.from(s, "latin1")
const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * The bytes the probe writes: on stdout the echo of stdin then the pattern, on stderr the same.
 * With stderr joined to stdout the one stream gets them in the order the probe writes them.
 */
const expectedStreams = (spec: Spec): { readonly stdout: Buffer; readonly stderr: Buffer } => {
  const echo = (name: string) =>
    spec.feed === undefined ? empty : Buffer.concat([ascii(`BEGIN ${name}\n`), spec.feed, ascii(`END ${name}\n`)])
  const outPattern = PATTERN.subarray(0, spec.stdoutBytes)
  const errPattern = PATTERN.subarray(0, spec.stderrBytes)
  if (spec.stderr === "stdout") {
    return { stdout: Buffer.concat([echo("STDOUT"), echo("STDERR"), outPattern, errPattern]), stderr: empty }
  }
  return { stdout: Buffer.concat([echo("STDOUT"), outPattern]), stderr: Buffer.concat([echo("STDERR"), errPattern]) }
}

const statusOf = (end: End): ExitStatus.ExitStatus =>
  end._tag === "Exit" ? ExitStatus.exited(end.code) : ExitStatus.signaled(`SIG${end.name}`)

const sameBytes = (what: string, actual: Uint8Array, expected: Buffer): string | undefined => {
  const a = buf(actual)
  if (a.equals(expected)) return undefined
  let at = 0
  while (at < a.length && at < expected.length && a[at] === expected[at]) at++
  return `${what}: ${a.length} bytes, expected ${expected.length}, first difference at ${at}`
}

const sameText = (what: string, actual: string, expected: string): string | undefined => {
  if (actual === expected) return undefined
  let at = 0
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++
  const around = (s: string) => JSON.stringify(s.slice(Math.max(0, at - 30), at + 30))
  return `${what}: ${actual.length} chars, expected ${expected.length}, first difference at ${at}: ${
    around(actual)
  } vs ${around(expected)}`
}

const sameStatus = (actual: ExitStatus.ExitStatus, expected: ExitStatus.ExitStatus): string | undefined =>
  Equal.equals(actual, expected)
    ? undefined
    : `status ${ExitStatus.format(actual)}, expected ${ExitStatus.format(expected)}`

const first = (...problems: ReadonlyArray<string | undefined>): string | undefined =>
  problems.find((p) => p !== undefined)

/** A check returns what is wrong, or undefined. */
type Expected =
  | { readonly _tag: "Success"; readonly check: (value: unknown) => string | undefined }
  | { readonly _tag: "Failure"; readonly check: (error: unknown) => string | undefined }

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : String(error)

/** What the run produces when nothing cut it short. */
const expectedOf = (spec: Spec): Expected => {
  const streams = expectedStreams(spec)
  const captured = (name: "stdout" | "stderr") => (spec[name] === "capture" ? streams[name] : empty)
  if (spec.maxOutput !== undefined) {
    const limit = spec.maxOutput
    const stream = spec.stdout === "capture" && streams.stdout.length > limit ? "stdout" : "stderr"
    return {
      _tag: "Failure",
      check: (e) =>
        e instanceof CommandError.OutputLimitError
          ? first(
            e.stream === stream ? undefined : `OutputLimitError on ${e.stream}, expected ${stream}`,
            e.limit === limit ? undefined : `OutputLimitError limit ${e.limit}, expected ${limit}`,
            sameBytes("OutputLimitError output", e.output, streams[stream].subarray(0, limit))
          )
          : `${tagOf(e)}, expected OutputLimitError`
    }
  }
  const status = statusOf(spec.end)
  const result = (value: unknown) => {
    const r = value as CommandExecutor.RunResult
    return first(
      sameStatus(r.status, status),
      sameBytes("stdout", r.stdout, captured("stdout")),
      sameBytes("stderr", r.stderr, captured("stderr"))
    )
  }
  switch (spec.api) {
    case "status":
      return { _tag: "Success", check: (value) => sameStatus(value as ExitStatus.ExitStatus, status) }
    case "start":
      return { _tag: "Success", check: result }
    case "run": {
      if (spec.end._tag === "Exit" && spec.end.code === 0) return { _tag: "Success", check: result }
      // The error's stderr tail: the last 8 KiB of stderr as captured (or of the joined stream).
      const source = spec.stderr === "stdout"
        ? (spec.stdout === "null" ? empty : streams.stdout)
        : spec.stderr === "null"
        ? empty
        : streams.stderr
      const tail = source.subarray(Math.max(0, source.length - TAIL)).toString("latin1").trimEnd()
        .replace(/^(?:[ \t]*\r?\n)+/, "") // blank lines at the start dropped, as errors.md says
      const end = spec.end
      return {
        _tag: "Failure",
        check: (e) => {
          if (end._tag === "Exit") {
            if (!(e instanceof CommandError.ExitError)) return `${tagOf(e)}, expected ExitError`
            return first(
              e.exitCode === end.code ? undefined : `exit code ${e.exitCode}, expected ${end.code}`,
              sameText("stderrTail", e.stderrTail, tail)
            )
          }
          if (!(e instanceof CommandError.SignalError)) return `${tagOf(e)}, expected SignalError`
          return first(
            e.signal === `SIG${end.name}` ? undefined : `signal ${e.signal}, expected SIG${end.name}`,
            e.coreDumped ? "core dumped" : undefined,
            sameText("stderrTail", e.stderrTail, tail)
          )
        }
      }
    }
  }
}

/** Judges how a run ended: a label for the tally, and what is wrong if anything. */
const judge = (
  spec: Spec,
  exit: Exit.Exit<unknown, unknown>
): { readonly label: string; readonly problem?: string } => {
  const expected = expectedOf(spec)
  if (Exit.isSuccess(exit)) {
    if (expected._tag === "Failure") return { label: "wrong", problem: "succeeded, expected a failure" }
    const problem = expected.check(exit.value)
    return problem === undefined ? { label: "result" } : { label: "wrong", problem }
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (Cause.isTimeoutException(e)) {
      return spec.cut._tag === "EffectTimeout"
        ? { label: "TimeoutException" }
        : { label: "wrong", problem: "TimeoutException without Effect.timeout" }
    }
    if (e instanceof CommandError.CommandTimeoutError) {
      if (spec.cut._tag !== "CommandTimeout") {
        return { label: "wrong", problem: "CommandTimeoutError without Command.timeout" }
      }
      // What was captured until the timeout is a prefix of the whole output.
      const streams = expectedStreams(spec)
      const prefix = (name: "stdout" | "stderr", bytes: Uint8Array) =>
        spec[name] !== "capture" || streams[name].subarray(0, bytes.length).equals(buf(bytes))
          ? undefined
          : `CommandTimeoutError ${name} (${bytes.length} bytes) is not a prefix of the output`
      const problem = first(
        Duration.toMillis(e.timeout) === spec.cut.ms
          ? undefined
          : `timeout ${Duration.format(e.timeout)}, expected ${spec.cut.ms} ms`,
        prefix("stdout", e.stdout),
        prefix("stderr", e.stderr)
      )
      return problem === undefined ? { label: "CommandTimeoutError" } : { label: "wrong", problem }
    }
    if (expected._tag === "Success") {
      return { label: "wrong", problem: `failed with ${tagOf(e)}: ${String((e as Error).message ?? e)}` }
    }
    const problem = expected.check(e)
    return problem === undefined ? { label: tagOf(e) } : { label: "wrong", problem }
  }
  if (Cause.isInterruptedOnly(exit.cause)) {
    return ["FiberInterrupt", "BeforeSpawn", "AfterExit"].includes(spec.cut._tag)
      ? { label: "interrupted" }
      : { label: "wrong", problem: "interrupted, but nothing interrupted it" }
  }
  return { label: "wrong", problem: `defect: ${Cause.pretty(exit.cause)}` }
}

// ---------------------------------------------------------------------------------------------
// running
// ---------------------------------------------------------------------------------------------

/** Runs one spec the way its `cut` says; returns how it ended and, for AfterExit, the status seen. */
const runOne = (
  spec: Spec,
  mark: string
): Effect.Effect<
  { readonly exit: Exit.Exit<unknown, unknown>; readonly problem?: string },
  never,
  CommandExecutor.CommandExecutor
> => {
  const cmd = commandOf(spec, mark)
  const program: Effect.Effect<unknown, CommandError.CommandError, CommandExecutor.CommandExecutor> =
    spec.api === "status"
      ? Command.status(cmd)
      : Command.run(cmd)
  switch (spec.cut._tag) {
    case "None":
    case "CommandTimeout":
      return Effect.map(Effect.exit(program), (exit) => ({ exit }))
    case "EffectTimeout":
      return Effect.map(Effect.exit(Effect.timeout(program, Duration.millis(spec.cut.ms))), (exit) => ({ exit }))
    case "FiberInterrupt": {
      const ms = spec.cut.ms
      return Effect.gen(function*() {
        const fiber = yield* Effect.fork(program)
        yield* Effect.sleep(Duration.millis(ms))
        return { exit: yield* Fiber.interrupt(fiber) }
      })
    }
    case "BeforeSpawn":
      // The forked fiber has not run yet when the interrupt arrives: it never gets to spawn.
      return Effect.gen(function*() {
        const fiber = yield* Effect.fork(program)
        return { exit: yield* Fiber.interrupt(fiber) }
      })
    case "AfterExit":
      return Effect.gen(function*() {
        const exited = yield* Deferred.make<ExitStatus.ExitStatus>()
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const process = yield* Command.start(cmd)
          yield* Deferred.succeed(exited, yield* process.wait)
          return yield* process.result
        })))
        const seen = yield* Effect.raceFirst(
          Effect.map(Deferred.await(exited), Option.some),
          Effect.as(Fiber.await(fiber), Option.none<ExitStatus.ExitStatus>())
        )
        const exit = yield* Fiber.interrupt(fiber)
        const problem = Option.isSome(seen) ? sameStatus(seen.value, statusOf(spec.end)) : undefined
        return problem === undefined ? { exit } : { exit, problem: `wait: ${problem}` }
      })
  }
}

const SIGKILL_BIT = 1n << 8n

/** Whether a SIGKILL is pending for the process: it is dying (it cannot block or ignore it). */
const dying = (pid: number): boolean => {
  let status: string
  try {
    status = Fs.readFileSync(`/proc/${pid}/status`, "latin1")
  } catch {
    return true
  }
  const pending = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, "m").exec(status)?.[1] ?? "0"}`)
  return ((pending("SigPnd") | pending("ShdPnd")) & SIGKILL_BIT) !== 0n
}

const torture = (engine: "helper" | "never", runs: number, seed: number) =>
  Effect.gen(function*() {
    const rng = generator(seed)
    const pool = feedPool(rng)
    const mark = marker()
    // Node opens some fds on first use (the SIGCHLD pipe, the thread pool's): warm them up first.
    yield* Command.run(
      Command.make(probePath, "--no-report", "--fork-holder", "1", "--write-stdout", "100000").pipe(
        Command.feed("warm up"),
        Command.stdout("capture"),
        Command.stderr("capture"),
        Command.env(MARK, mark)
      )
    )
    const fdsBefore = openFdCount()
    const tally: Record<string, number> = {}
    const problems: Array<string> = []
    const startedAt = Date.now()
    // Drawn up front, so that the seed alone decides every run's spec.
    const specs = Array.from({ length: runs }, (_, i) => makeSpec(rng, pool, i))
    yield* Effect.forEach(
      specs,
      (spec) =>
        Effect.gen(function*() {
          const i = spec.index
          const { exit, problem: early } = yield* runOne(spec, mark)
          const { label, problem } = judge(spec, exit)
          tally[label] = (tally[label] ?? 0) + 1
          for (const p of [early, problem]) {
            if (p !== undefined) problems.push(`${engine} run ${i}: ${p}\n  spec: ${describeSpec(spec)}`)
          }
        }),
      { concurrency: CONCURRENCY, discard: true }
    )
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1)
    console.log(`torture ${engine}: ${runs} runs in ${seconds} s, seed ${seed}: ${JSON.stringify(tally)}`)

    // Checked together, so that wrong results do not hide a leak (or the other way round).
    // A group member (the grandchild) that ignored SIGTERM gets SIGKILL from the finalizer, which
    // returns without waiting for it to be gone: it may still be on its way out. A process with
    // SIGKILL pending counts as gone.
    const left = {
      wrongRuns: problems.length,
      firstWrongRuns: problems.slice(0, 10),
      zombies: zombieChildren(),
      markedProcesses: withMarker(MARK, mark).filter((pid) => !dying(pid)),
      extraOpenFds: openFdCount() - fdsBefore
    }
    expect(left, `seed ${seed}`).toEqual({
      wrongRuns: 0,
      firstWrongRuns: [],
      zombies: [],
      markedProcesses: [],
      extraOpenFds: 0
    })
    // Every kind of ending happened (not a vacuous run).
    if (runs >= 200) {
      expect(tally.result ?? 0).toBeGreaterThan(0)
      expect(tally.interrupted ?? 0).toBeGreaterThan(0)
      expect((tally.ExitError ?? 0) + (tally.SignalError ?? 0)).toBeGreaterThan(0)
    }
  }).pipe(
    Effect.provide(
      NodeCommandExecutor.layerWith({ drainDelay: DRAIN_DELAY, helper: engine === "helper" ? helperPath : "never" })
    )
  )

describe(`torture: ${RUNS} random runs at ${CONCURRENCY}-way concurrency`, () => {
  const helperRuns = Math.ceil(RUNS / 2)
  const neverRuns = RUNS - helperRuns
  /** Generous: about 30 ms per run at this concurrency on 2 cores, times four. */
  const timeout = (runs: number) => 60_000 + runs * 120

  it.live(`${helperRuns} runs through the setup helper`, () => {
    expect(Fs.existsSync(helperPath)).toBe(true)
    return torture("helper", helperRuns, SEED)
  }, timeout(helperRuns))

  it.live(
    `${neverRuns} runs without the helper (helper: "never")`,
    () => torture("never", neverRuns, (SEED ^ 0x5bd1e995) >>> 0),
    timeout(neverRuns)
  )
})

// Found by the random runs above: with child_process, 16 spawns in a row block the event loop for
// longer than the 100 ms drain delay, and the drain deadline (a timer armed once the child exited)
// fired before the poll phase that would deliver the bytes still in the kernel, silently
// truncating captured output. The same stall, made systematic with synchronous work.
describe("torture: output is complete when the event loop stalls past the drain delay", () => {
  it.live(
    "100 runs writing 200000 bytes, captured while the loop stalls 150 ms every 30 ms",
    () =>
      Effect.gen(function*() {
        const stall = Effect.sync(() => {
          const until = Date.now() + 150
          while (Date.now() < until) {
            // a busy event loop
          }
        })
        const busy = yield* Effect.fork(Effect.forever(Effect.zipRight(Effect.sleep("30 millis"), stall)))
        const cmd = Command.make(probePath, "--no-report", "--no-stdin", "--quiet-io", "--write-stdout", "200000").pipe(
          Command.stdout("capture")
        )
        const lengths = yield* Effect.forEach(
          Array.from({ length: 100 }),
          () => Effect.map(Command.run(cmd), (result) => result.stdout.length),
          { concurrency: CONCURRENCY }
        ).pipe(Effect.ensuring(Fiber.interrupt(busy)))
        expect(lengths.filter((n) => n !== 200_000)).toEqual([])
      }).pipe(Effect.provide(NodeCommandExecutor.layerWith({ drainDelay: DRAIN_DELAY, helper: helperPath }))),
    120_000
  )
})
