/** A detached child outlives its scope, whatever fed its input or drained its outputs there. */
import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Sink, Stream } from "effect"

import { utf8 } from "../support/run.js"

describe("detach", () => {
  it.live("a child with an output sink, detached: closing the scope does not kill it", () =>
    Effect.gen(function*() {
      const detached = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          Command.make("/bin/sh", "-c", "echo hi; sleep 0.3; exit 4").pipe(
            Command.stdout(Command.Output.sink(Sink.drain))
          )
        )
        return yield* process.detach
      }))
      expect(yield* detached.wait).toEqual(ExitStatus.exited(4))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a child with an input stream, detached after its input was fed: closing the scope does not kill it", () =>
    Effect.gen(function*() {
      const detached = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          Command.make("/bin/sh", "-c", "read line; sleep 0.3; exit 5").pipe(
            Command.stdin(Command.Input.stream(Stream.make(utf8("line\n"))))
          )
        )
        return yield* process.detach
      }))
      expect(yield* detached.wait).toEqual(ExitStatus.exited(5))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
