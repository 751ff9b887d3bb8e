/** virCommandHandshakeWait/Notify: the start-up handshake with a child through the helper's pipes. */
import type { Readable, Writable } from "node:stream"

import { CommandError } from "@effect-command/core"
import * as Effect from "effect/Effect"

import { listen } from "./pipe-reader.js"
import { endedUnread } from "./read-into.js"

/**
 * virCommandHandshakeWait/Notify over the helper's two pipes: the child writes "1" when it is
 * ready to exec and then waits for our "1". A setup failure before that is reported instead.
 */
export const handshakeOf = (
  ready: Readable,
  release: Writable,
  report: Effect.Effect<string>,
  failure: (report: string) => CommandError.SpawnError | CommandError.DaemonError,
  line: string
) => {
  release.on("error", () => {})
  const readyByte = Effect.async<string>((resume) => {
    const onEnd = () => finish("")
    let unlisten = () => {}
    const finish = (byte: string) => {
      unlisten()
      ready.off("close", onEnd)
      resume(Effect.succeed(byte))
    }
    // The child quit without a byte.
    if (endedUnread(ready)) return finish("")
    unlisten = listen(ready, (chunk) => finish(chunk.toString("latin1", 0, 1)))
    ready.once("close", onEnd)
    ready.on("error", () => {})
    return Effect.sync(() => {
      unlisten()
      ready.off("close", onEnd)
    })
  })
  const quit = (report: string) =>
    report !== ""
      ? failure(report)
      : new CommandError.SpawnError({
        reason: "SetupFailed",
        stage: "handshake",
        detail: "the child quit during the start-up handshake",
        command: line
      })
  let waited = false
  let notified = false
  const done = (what: string): Effect.Effect<void, CommandError.CommandError> =>
    Effect.fail(new CommandError.CommandUsageError({ reasons: [`the handshake is already ${what}`], command: line }))
  return {
    wait: Effect.suspend((): Effect.Effect<void, CommandError.CommandError> => {
      if (waited) return done("waited for")
      waited = true
      return Effect.flatMap(
        readyByte,
        (byte) => (byte === "1" ? Effect.void : Effect.flatMap(report, (r) => Effect.fail(quit(r))))
      )
    }),
    notify: Effect.suspend((): Effect.Effect<void, CommandError.CommandError> => {
      if (notified) return done("notified")
      notified = true
      release.end("1")
      return Effect.flatMap(report, (r) => (r === "" ? Effect.void : Effect.fail(failure(r))))
    })
  }
}
