/**
 * Random failures, defects, interruptions, early ends and never-ending behaviour injected at a
 * random chunk into what the caller plugs into a run: an input stream, a stdout or stderr sink,
 * the consumer of `Process.stdout` / `stderr` from `Command.start`, the consumer of
 * `Command.stream`. Every run ends within its bound, with a success, a CommandError, or (for the
 * caller's own consumer) what the caller injected; nothing is left: no process, no zombie, no fd.
 */
import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, FastCheck as fc, Sink, Stream } from "effect"

import { eventually, marker, openFdCount, withMarker, zombieChildren } from "../support/procs.js"
import { utf8 } from "../support/run.js"

const targets = ["input", "stdout sink", "stderr sink", "start stdout", "start stderr", "stream"] as const
type Target = (typeof targets)[number]
const behaviours = ["fail", "die", "interrupt", "never", "end early", "none"] as const
type Behaviour = (typeof behaviours)[number]

const timeoutMillis = 400
const graceMillis = 200
/** A run ends by then, whatever was injected: the timeout, the kill grace, and room for a loaded machine. */
const boundMillis = timeoutMillis + graceMillis + 2000

const defect = new Error("injected defect")

/** The injected behaviour, as the effect run for the chunk it hits. */
const inject = (behaviour: Behaviour): Effect.Effect<void, string> => {
  switch (behaviour) {
    case "fail":
      return Effect.fail("injected")
    case "die":
      return Effect.die(defect)
    case "interrupt":
      return Effect.interrupt
    case "never":
      return Effect.never
    default:
      return Effect.void
  }
}

interface Scenario {
  readonly target: Target
  readonly behaviour: Behaviour
  /** The chunk the behaviour hits (counted from 0). */
  readonly at: number
  /** Whether the child writes forever (else a few thousand lines). */
  readonly endless: boolean
  readonly lines: number
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  target: fc.constantFrom(...targets),
  behaviour: fc.constantFrom(...behaviours),
  at: fc.integer({ min: 0, max: 3 }),
  endless: fc.boolean(),
  lines: fc.integer({ min: 1, max: 20_000 })
})

/** What happened in one run. */
interface Outcome {
  readonly exit: Exit.Exit<unknown, unknown>
  readonly took: number
  /** Whether the injected behaviour was reached (a short output may end before chunk `at`). */
  readonly hit: boolean
}

const runScenario = (s: Scenario, mark: string): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    let seen = 0
    let hit = false
    /** Run for every chunk: the injected behaviour at chunk `at`. */
    const onChunk = (): Effect.Effect<void, string> => {
      if (seen++ !== s.at) return Effect.void
      hit = true
      return inject(s.behaviour)
    }
    const keepGoing = () => Effect.sync(() => s.behaviour !== "end early" || seen++ < s.at)
    const writer = s.endless ? "exec yes" : `exec seq 1 ${s.lines}`
    const toStderr = s.target === "stderr sink" || s.target === "start stderr"
    const base = Command.make(
      "/bin/sh",
      "-c",
      s.target === "input" ? "exec cat" : toStderr ? `exec 1>&2; ${writer}` : writer
    ).pipe(
      Command.envInherit,
      Command.env("EC_MARKER", mark),
      Command.timeout(`${timeoutMillis} millis`),
      Command.killGrace(`${graceMillis} millis`)
    )
    const consume = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
      s.behaviour === "end early"
        ? Stream.runDrain(Stream.takeWhile(stream, () => seen++ < s.at))
        : Stream.runForEach(stream, onChunk)
    let run: Effect.Effect<unknown, unknown, CommandExecutor.CommandExecutor>
    switch (s.target) {
      case "input": {
        const chunks = Array.from({ length: s.at }, (_, i) => utf8(`chunk ${i}\n`))
        const ending = s.behaviour === "none" || s.behaviour === "end early"
          ? Stream.empty
          : Stream.fromEffect(Effect.suspend(() => {
            hit = true
            return Effect.zipRight(inject(s.behaviour), Effect.succeed(utf8("never sent")))
          }))
        run = Command.run(
          base.pipe(Command.stdin(Command.Input.stream(Stream.concat(Stream.fromIterable(chunks), ending))))
        )
        break
      }
      case "stdout sink":
      case "stderr sink": {
        const sink = s.behaviour === "end early"
          ? Sink.forEachWhile(keepGoing)
          : Sink.forEach(onChunk)
        const output = Command.Output.sink(sink)
        run = Command.run(base.pipe(s.target === "stdout sink" ? Command.stdout(output) : Command.stderr(output)))
        break
      }
      case "start stdout":
      case "start stderr": {
        const name = s.target === "start stdout" ? "stdout" : "stderr"
        run = Effect.scoped(Effect.gen(function*() {
          const process = yield* Command.start(
            base.pipe(name === "stdout" ? Command.stdout("pipe") : Command.stderr("pipe"))
          )
          yield* consume(process[name])
          return yield* process.result
        }))
        break
      }
      case "stream":
        run = consume(Command.stream(base))
        break
    }
    const started = Date.now()
    // The caller's own consumer may wait forever: only the caller can bound it.
    const exit = yield* Effect.exit(
      Effect.timeout(run.pipe(Effect.provide(NodeCommandExecutor.layer)), `${boundMillis} millis`)
    )
    return { exit, took: Date.now() - started, hit }
  })

const isCommandError = (error: unknown): boolean =>
  [
    CommandError.CommandUsageError,
    CommandError.SpawnError,
    CommandError.ExitError,
    CommandError.SignalError,
    CommandError.CommandTimeoutError,
    CommandError.OutputLimitError,
    CommandError.DaemonError,
    CommandError.IoError
  ].some((type) => error instanceof type)

/** Checks the outcome against what the scenario allows; returns a description of the outcome. */
const check = (s: Scenario, { exit, hit, took }: Outcome): string => {
  const ownConsumer = s.target === "start stdout" || s.target === "start stderr" || s.target === "stream"
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
  const error = failure?._tag === "Some" ? failure.value : undefined
  const what = Exit.isSuccess(exit)
    ? "success"
    : error !== undefined
    ? (error as { _tag?: string })._tag ?? String(error)
    : Cause.isDie(exit.cause)
    ? "defect"
    : "interrupted"
  const timedOutByCaller = error instanceof Error && error.name === "TimeoutException"
  expect(took, `${what} after ${took} ms`).toBeLessThan(boundMillis + 500)
  if (timedOutByCaller) {
    // Only the caller's own consumer may wait forever.
    expect(ownConsumer && s.behaviour === "never" && hit, what).toBe(true)
    return what
  }
  if (!hit || s.behaviour === "none" || s.behaviour === "end early") {
    expect(["success", "CommandTimeoutError"], what).toContain(what)
    return what
  }
  if (ownConsumer) {
    // The caller's consumer fails, dies or is interrupted with what it injected.
    const expected =
      { fail: "injected", die: "defect", interrupt: "interrupted", never: "CommandTimeoutError" }[s.behaviour]
    expect([expected, "CommandTimeoutError"], what).toContain(what)
    return what
  }
  // The run's own streams and sinks: a typed error, never a success on a broken input or output.
  expect(error !== undefined && isCommandError(error), what).toBe(true)
  expect(s.behaviour === "never" ? ["CommandTimeoutError"] : ["IoError", "CommandTimeoutError"], what).toContain(what)
  return what
}

describe("injected failures in the caller's streams and sinks", () => {
  it("every run ends within its bound with a success or a typed error, and leaves nothing behind", async () => {
    const fdsBefore = openFdCount()
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const mark = marker()
        const outcome = await Effect.runPromise(runScenario(s, mark))
        check(s, outcome)
        expect(await eventually(() => withMarker("EC_MARKER", mark).length === 0), "a marked process survived").toBe(
          true
        )
        expect(await eventually(() => zombieChildren().length === 0), "a zombie is left").toBe(true)
        expect(await eventually(() => openFdCount() === fdsBefore), `fds: ${openFdCount()} instead of ${fdsBefore}`)
          .toBe(true)
      }),
      { numRuns: 30 }
    )
  }, 120_000)
})
