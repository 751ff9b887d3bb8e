import { Command, CommandError, CommandExecutor, ExitStatus } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel, Redacted, Sink, Stream } from "effect"

import { decode, encode } from "./support.js"

/**
 * An executor whose `RunPlan` answers with `status` after handing `stdout` and `stderr` to the
 * collectors, and whose `Spawn` fails with a SpawnError saying "spawned": which way a run went.
 */
const executor = (
  answer: { status?: ExitStatus.ExitStatus; stdout?: string; stderr?: string; decline?: boolean } = {}
) => {
  const plans: Array<CommandExecutor.SpawnPlan> = []
  const kept: Array<boolean> = []
  const inputs: Array<Uint8Array | undefined> = []
  const spawn: CommandExecutor.Spawn = (plan) =>
    Effect.fail(new CommandError.SpawnError({ reason: "PermissionDenied", detail: "spawned", command: plan.line }))
  const runPlan: CommandExecutor.RunPlan = (plan, collect) => {
    if (answer.decline === true) return undefined
    plans.push(plan)
    inputs.push(collect.stdin)
    return Effect.sync(() => {
      // In two chunks, as a pipe would give them.
      for (const [text, into] of [[answer.stdout, collect.stdout], [answer.stderr, collect.stderr]] as const) {
        const bytes = encode(text ?? "")
        const half = bytes.length >> 1
        if (bytes.length > 0) kept.push(into(bytes.subarray(0, half)) && into(bytes.subarray(half)))
      }
      return { pid: 42, status: answer.status ?? ExitStatus.exited(0) }
    })
  }
  return { plans, kept, inputs, service: CommandExecutor.make(spawn, runPlan) }
}

const provided = <A, E>(
  effect: Effect.Effect<A, E, CommandExecutor.CommandExecutor>,
  service: CommandExecutor.CommandExecutor
) => Effect.provideService(effect, CommandExecutor.CommandExecutor, service)

describe("RunPlan: the run helpers' simple commands in one go", () => {
  it.effect("string, lines and exitCode go through it; nothing is spawned", () =>
    Effect.gen(function*() {
      const { plans, service } = executor({ stdout: "a\nb\n" })
      expect(yield* provided(Command.string(Command.make("echo")), service)).toBe("a\nb\n")
      expect(yield* provided(Command.lines(Command.make("echo")), service)).toEqual(["a", "b"])
      expect(yield* provided(Command.exitCode(Command.make("echo")), service)).toBe(0)
      expect(plans.map((plan) => [plan.stdout._tag, plan.stderr._tag])).toEqual([
        ["Pipe", "Pipe"],
        ["Pipe", "Pipe"],
        // An unspecified stdout nobody would see is not even piped.
        ["Null", "Pipe"]
      ])
    }))

  it.effect("a failed run's error shows stderr's last 8 KiB, as through start", () =>
    Effect.gen(function*() {
      const stderr = "x".repeat(9000) + "the end"
      const { service } = executor({ status: ExitStatus.exited(3), stderr })
      const error = yield* Effect.flip(provided(Command.run(Command.make("tool")), service))
      expect(error._tag).toBe("ExitError")
      const tail = (error as CommandError.ExitError).stderrTail
      expect(tail.length).toBe(8 * 1024)
      expect(tail.endsWith("the end")).toBe(true)
    }))

  it.effect("an output past maxOutput: the collector says stop, the run fails with OutputLimitError", () =>
    Effect.gen(function*() {
      const { kept, service } = executor({ stdout: "0123456789" })
      const error = yield* Effect.flip(
        provided(Command.string(Command.make("tool").pipe(Command.maxOutput(4))), service)
      )
      expect(kept).toEqual([false])
      expect(error._tag).toBe("OutputLimitError")
      expect(decode((error as CommandError.OutputLimitError).output)).toBe("0123")
    }))

  it.effect("allowSigpipe applies to its status", () =>
    Effect.gen(function*() {
      const { service } = executor({ status: ExitStatus.signaled("SIGPIPE", false) })
      const result = yield* provided(Command.run(Command.make("yes").pipe(Command.allowSigpipe)), service)
      expect(result.status).toEqual(ExitStatus.exited(0))
      expect(result.stages).toEqual([ExitStatus.signaled("SIGPIPE", false)])
    }))

  it.effect("an input fed from memory comes as its bytes, for a Pipe stdin: bytes as given, text and secrets encoded", () =>
    Effect.gen(function*() {
      const { inputs, plans, service } = executor()
      const bytes = new Uint8Array([0, 1, 255])
      for (const input of [bytes, "héllo", Redacted.make("s3cret"), ""]) {
        yield* provided(Command.run(Command.make("tool").pipe(Command.feed(input))), service)
      }
      yield* provided(Command.run(Command.make("tool")), service)
      expect(plans.map((plan) => plan.stdin._tag)).toEqual(["Pipe", "Pipe", "Pipe", "Pipe", "Null"])
      expect(inputs[0]).toBe(bytes) // not copied
      expect(inputs.slice(1).map((input) => input === undefined ? undefined : decode(input))).toEqual([
        "héllo",
        "s3cret",
        "",
        undefined
      ])
    }))

  it.effect("what it cannot take is started: input streams, sinks, timeouts, pipelines, debug logs, a decline", () =>
    Effect.gen(function*() {
      const { plans, service } = executor()
      const plain = Command.make("tool")
      const started: ReadonlyArray<Effect.Effect<unknown, CommandError.CommandError, CommandExecutor.CommandExecutor>> =
        [
          Command.run(plain.pipe(Command.stdin(Command.Input.stream(Stream.make(encode("x")))))),
          Command.run(plain.pipe(Command.stdout(Command.Output.sink(Sink.drain)))),
          Command.run(plain.pipe(Command.stderr(Command.Output.sink(Sink.drain)))),
          Command.run(plain.pipe(Command.timeout("1 minute"))),
          Command.run(plain.pipe(Command.pipeTo(Command.make("wc")))),
          Command.run(plain).pipe(Logger.withMinimumLogLevel(LogLevel.Debug))
        ]
      const spawned = (error: CommandError.CommandError) => error._tag === "SpawnError" && error.detail === "spawned"
      for (const run of started) {
        const error = yield* Effect.flip(provided(run, service))
        expect([error.message, spawned(error)]).toEqual([error.message, true])
      }
      expect(plans).toEqual([])
      const declined = executor({ decline: true })
      expect(spawned(yield* Effect.flip(provided(Command.run(plain), declined.service)))).toBe(true)
    }))

  it.effect("a command with problems fails with CommandUsageError before the plan is made", () =>
    Effect.gen(function*() {
      const { plans, service } = executor()
      const error = yield* Effect.flip(
        provided(Command.run(Command.make("tool").pipe(Command.pidFile("/run/tool.pid"))), service)
      )
      expect(error._tag).toBe("CommandUsageError")
      expect(plans).toEqual([])
    }))
})
