/** `Process.waitFor`: readiness by a pattern in a piped output, without taking the output away. */
import { Command, CommandError, DryRunExecutor, ExitStatus } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"

import { decode } from "./support.js"

const server = Command.make("server", "--token", Redacted.make("s3cret")).pipe(Command.stdout("pipe"))

const answering = (response: DryRunExecutor.Response) => Effect.provide(DryRunExecutor.layer(() => response))

const collected = (stream: Stream.Stream<Uint8Array, unknown>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => [...chunks].map(decode).join(""))

describe("waitFor", () => {
  it.scoped("returns the match; the output still gives every byte, the matched ones included", () =>
    Effect.gen(function*() {
      const process = yield* Command.start(server)
      const match = yield* process.waitFor(/listening on (\d+)/g)
      expect(match[1]).toBe("8080")
      // A second wait sees what the first read ahead.
      expect((yield* process.waitFor(/starting/))[0]).toBe("starting")
      expect(yield* collected(process.stdout)).toBe("starting\nlistening on 8080\nready\n")
    }).pipe(answering({ stdout: "starting\nlistening on 8080\nready\n" })))

  it.scoped("an output that ends first: ReadinessError Ended with what the child said, secrets blanked", () =>
    Effect.gen(function*() {
      const process = yield* Command.start(server)
      const error = yield* Effect.flip(process.waitFor(/listening/))
      expect(error).toBeInstanceOf(CommandError.ReadinessError)
      expect(error).toMatchObject({ reason: "Ended", pattern: "/listening/", stream: "stdout" })
      expect(error._tag === "ReadinessError" && error.output).toBe("bad token <redacted>")
      expect(error.message).toBe(
        "server --token <redacted>: ended its stdout without printing /listening/: bad token <redacted>"
      )
    }).pipe(answering({ stdout: "\nbad token s3cret\n", status: 1 })))

  it.scoped("what is read ahead is bounded by maxOutput: OutputLimitError past it", () =>
    Effect.gen(function*() {
      const process = yield* Command.start(server.pipe(Command.maxOutput(10)))
      const error = yield* Effect.flip(process.waitFor(/ready/))
      expect(error).toMatchObject({ _tag: "OutputLimitError", stream: "stdout", limit: 10 })
      expect(error._tag === "OutputLimitError" && decode(error.output)).toBe("0123456789")
    }).pipe(answering({ stdout: "0123456789abc ready\n" })))

  it.scoped("stderr when asked", () =>
    Effect.gen(function*() {
      const process = yield* Command.start(server.pipe(Command.stderr("pipe")))
      expect((yield* process.waitFor(/ready/, { stream: "stderr" }))[0]).toBe("ready")
    }).pipe(answering({ stderr: "ready\n" })))

  it.scoped("an output that is not piped, a pattern that is not a RegExp, a bad timeout: usage errors", () =>
    Effect.gen(function*() {
      const process = yield* Command.start(server)
      const notPiped = yield* Effect.flip(process.waitFor(/x/, { stream: "stderr" }))
      expect(notPiped._tag === "CommandUsageError" && notPiped.reasons).toEqual([
        `waitFor reads stderr, which is not piped: set it to "pipe"`
      ])
      const bad = yield* Effect.flip(process.waitFor("x" as unknown as RegExp, { timeout: -1 }))
      expect(bad._tag === "CommandUsageError" && bad.reasons).toEqual([
        `waitFor needs a RegExp, not "x"`,
        "the waitFor timeout must be a duration ≥ 0 or Infinity, not -1"
      ])
      const captured = yield* Command.start(Command.make("x").pipe(Command.stdout("capture")))
      expect((yield* Effect.flip(captured.waitFor(/x/)))._tag).toBe("CommandUsageError")
    }).pipe(answering({})))

  it.scopedLive("a timeout: ReadinessError Timeout, the child left running", () =>
    Effect.gen(function*() {
      const process = yield* Command.start(server)
      const error = yield* Effect.flip(process.waitFor(/never/, { timeout: "20 millis" }))
      expect(error).toMatchObject({ _tag: "ReadinessError", reason: "Timeout" })
      expect(error.message).toContain("did not print /never/ on stdout within 20ms")
      yield* process.kill()
      expect(yield* process.wait).toEqual(ExitStatus.signaled("SIGTERM"))
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ delay: "1 hour" })))))
})
