/** The parent's writing end of a child's input pipe, as a sink. */
import type { Writable } from "node:stream"

import { CommandError } from "@effect-command/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Sink from "effect/Sink"

import { isClosedByPeer } from "./spawn.js"

/**
 * Writes to a pipe with backpressure. Once the child closed its end the sink completes: the rest
 * of the input is not pulled (an endless input would otherwise be consumed forever, in a loop of
 * synchronous resumptions that starves the event loop, so the child's exit is never seen). Only a
 * complete input ends the pipe: after a failure, a defect or an interruption the child must not
 * see EOF and take what it got for all of it; the pipe is closed once the child is dead.
 */
export const writable = (
  pipe: Writable,
  name: string,
  line: string
): Sink.Sink<void, Uint8Array, never, CommandError.IoError> => {
  let closedByChild = false
  let error: Error | undefined
  pipe.on("error", (e: NodeJS.ErrnoException) => {
    if (isClosedByPeer(e)) closedByChild = true
    else error = e
  })
  const failure = (cause: unknown) => new CommandError.IoError({ stream: name, command: line, cause })
  const open = () => !closedByChild && !pipe.destroyed
  /** Writes one chunk; `false` when the child is gone and nothing more should be written. */
  const write = (bytes: Uint8Array) =>
    Effect.async<boolean, CommandError.IoError>((resume) => {
      if (error !== undefined) return resume(Effect.fail(failure(error)))
      if (!open()) return resume(Effect.succeed(false))
      if (pipe.write(bytes)) return resume(Effect.succeed(true))
      const settle = () => {
        pipe.off("drain", settle)
        pipe.off("close", settle)
        pipe.off("error", settle)
        resume(error !== undefined ? Effect.fail(failure(error)) : Effect.succeed(open()))
      }
      pipe.on("drain", settle)
      pipe.on("close", settle)
      pipe.on("error", settle)
      return Effect.sync(() => {
        pipe.off("drain", settle)
        pipe.off("close", settle)
        pipe.off("error", settle)
      })
    })
  // A fold, not `Sink.forEachWhile`: that one nests a `catchAll` per element, which keeps every
  // chunk written alive until the input ends (all of a large streamed input in memory).
  return Sink.foldEffect(true, (open: boolean) => open, (_: boolean, bytes: Uint8Array) => write(bytes)).pipe(
    Sink.ignoreLeftover,
    Sink.as(undefined),
    Sink.ensuringWith((exit) => (Exit.isSuccess(exit) ? Effect.sync(() => pipe.end()) : Effect.void))
  )
}
