/**
 * An output has one reader at a time. A second reader at the same time (a second run of
 * `Process.stdout`, or a stream of a captured output) fails at once with an IoError saying so,
 * instead of waiting forever; a reader after the first one finished gets what is left.
 */
import type { CommandError, CommandExecutor } from "@effect-command/core"
import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Sink, Stream } from "effect"

import { text, utf8 } from "../support/run.js"

/** Prints `first`, waits for a line on stdin, prints `second`; the same on stderr. */
const twoParts = Command.make("sh", "-c", "echo first; echo first >&2; read line; echo second; echo second >&2").pipe(
  Command.stdin("pipe")
)

const send = (process: CommandExecutor.Process, line: string) => Stream.run(Stream.make(utf8(line)), process.stdin)

const joined = (chunks: Chunk.Chunk<Uint8Array>) => Chunk.toArray(chunks).map(text).join("")

/** A read that must fail at once: bounded, so that a reader left waiting fails the test. */
const secondRead = (stream: Stream.Stream<Uint8Array, CommandError.IoError>) =>
  Effect.flip(Stream.runCollect(stream)).pipe(Effect.timeout("5 seconds"))

const expectAlreadyRead = (error: CommandError.IoError, stream: string) => {
  expect(error._tag).toBe("IoError")
  expect(error.stream).toBe(stream)
  expect(error.message).toContain(`${stream} is already being read`)
}

describe("one reader at a time", () => {
  for (const output of ["stdout", "stderr"] as const) {
    it.live(`a second reader of ${output} while the first reads fails at once; the first gets everything`, () =>
      Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(twoParts.pipe(Command.stdout("pipe"), Command.stderr("pipe")))
        const started = yield* Deferred.make<void>()
        const first = yield* Effect.fork(
          Stream.runCollect(Stream.tap(process[output], () => Deferred.succeed(started, undefined)))
        )
        yield* Deferred.await(started)
        expectAlreadyRead(yield* secondRead(process[output]), output)
        yield* send(process, "go\n")
        expect(joined(yield* Fiber.join(first))).toBe("first\nsecond\n")
      })).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }

  it.live("a reader while the first waits for bytes (nothing queued) fails at once too", () =>
    Effect.scoped(Effect.gen(function*() {
      const process = yield* Command.start(
        Command.make("sh", "-c", "read line; echo late").pipe(
          Command.stdin("pipe"),
          Command.stdout("pipe")
        )
      )
      const first = yield* Effect.fork(Stream.runCollect(process.stdout))
      // The first reader is parked in its wait: nothing has been written yet.
      yield* Effect.yieldNow()
      expectAlreadyRead(yield* secondRead(process.stdout), "stdout")
      yield* send(process, "go\n")
      expect(joined(yield* Fiber.join(first))).toBe("late\n")
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("reading a captured output as a stream while the capture runs fails at once; the capture is whole", () =>
    Effect.scoped(Effect.gen(function*() {
      const process = yield* Command.start(twoParts.pipe(Command.stdout("capture")))
      expectAlreadyRead(yield* secondRead(process.stdout), "stdout")
      yield* send(process, "go\n")
      expect(text((yield* process.result).stdout)).toBe("first\nsecond\n")
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("reading an output that a sink reads fails at once; the sink gets everything", () =>
    Effect.scoped(Effect.gen(function*() {
      const received: Array<string> = []
      const sink = Sink.forEach((bytes: Uint8Array) => Effect.sync(() => received.push(text(bytes))))
      const process = yield* Command.start(twoParts.pipe(Command.stdout(Command.Output.sink(sink))))
      // Once the sink got bytes, its fiber holds the output until the end.
      yield* Effect.sleep("5 millis").pipe(
        Effect.repeat({ until: () => received.length > 0 }),
        Effect.timeout("5 seconds")
      )
      expectAlreadyRead(yield* secondRead(process.stdout), "stdout")
      yield* send(process, "go\n")
      yield* process.result
      expect(received.join("")).toBe("first\nsecond\n")
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a read after the first one stopped gets what is left, and a read after the end gets nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const process = yield* Command.start(twoParts.pipe(Command.stdout("pipe")))
      const head = yield* Stream.runHead(process.stdout)
      expect(head._tag === "Some" && text(head.value)).toBe("first\n")
      yield* send(process, "go\n")
      expect(joined(yield* Stream.runCollect(process.stdout))).toBe("second\n")
      expect(joined(yield* Stream.runCollect(process.stdout))).toBe("")
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a reader that was interrupted lets the next one read", () =>
    Effect.scoped(Effect.gen(function*() {
      const process = yield* Command.start(twoParts.pipe(Command.stdout("pipe")))
      const started = yield* Deferred.make<void>()
      const first = yield* Effect.fork(
        Stream.runDrain(Stream.tap(process.stdout, () => Deferred.succeed(started, undefined)))
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(first)
      yield* send(process, "go\n")
      expect(joined(yield* Stream.runCollect(process.stdout))).toBe("second\n")
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
