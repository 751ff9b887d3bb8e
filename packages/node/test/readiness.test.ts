/** `Process.waitFor` on real children: readiness by a line of output, nothing lost, bounded by its timeout. */
import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Stream } from "effect"

import { text } from "./support/run.js"

const sh = (script: string) => Command.make("/bin/sh", "-c", script).pipe(Command.stdout("pipe"))

const all = (stream: Stream.Stream<Uint8Array, unknown>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => [...chunks].map(text).join(""))

describe("waitFor", () => {
  it.live("a server's port from its output; the caller reads every line after", () =>
    Effect.scoped(Effect.gen(function*() {
      // The child waits for its stdin before it goes on: the wait cannot have read past the line.
      const process = yield* Command.start(
        sh("echo starting; echo listening on 4242; read go; echo serving").pipe(Command.stdin("pipe"))
      )
      const match = yield* process.waitFor(/listening on (\d+)/)
      expect(match[1]).toBe("4242")
      yield* Stream.run(Stream.make(new TextEncoder().encode("go\n")), process.stdin)
      expect(yield* all(process.stdout)).toBe("starting\nlistening on 4242\nserving\n")
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("an output that ends without the pattern: ReadinessError Ended with what it said, even under a 2^53 ms timeout", () =>
    Effect.scoped(Effect.gen(function*() {
      const process = yield* Command.start(sh("echo 'error: address in use' >&1; exit 1"))
      const error = yield* Effect.flip(process.waitFor(/listening/, { timeout: 2 ** 53 }))
      expect(error).toMatchObject({ _tag: "ReadinessError", reason: "Ended", output: "error: address in use" })
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a timeout ends the wait, not the child; an interrupted wait loses no byte", () =>
    Effect.scoped(Effect.gen(function*() {
      const process = yield* Command.start(sh("echo first; read never").pipe(Command.stdin("pipe")))
      const timedOut = yield* Effect.flip(process.waitFor(/second/, { timeout: "100 millis" }))
      expect(timedOut).toMatchObject({ _tag: "ReadinessError", reason: "Timeout", output: "first" })
      const interrupted = yield* Effect.either(Effect.timeout(process.waitFor(/second/), "50 millis"))
      expect(Either.isLeft(interrupted)).toBe(true)
      yield* process.kill("SIGKILL")
      expect(yield* all(process.stdout)).toBe("first\n")
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
