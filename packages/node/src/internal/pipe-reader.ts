/** The parent's reading end of a child's output pipe: as a stream, collected, or read whole. */
import type { Readable } from "node:stream"

import { CommandError } from "@effect-command/core"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

import { paced } from "./pace.js"
import { endedUnread, readInto } from "./read-into.js"
import * as RealTime from "./realtime.js"
import type { Child } from "./spawn.js"
import { isClosedByPeer } from "./spawn.js"

/** How many bytes a stream's reader buffers ahead of its consumer before it stops reading the pipe. */
const readAhead = 1 << 20

/**
 * Reads a pipe, as a stream or collected (every chunk handed to a callback as it comes). The pipe
 * stays paused (its bytes in the kernel, a writer blocked on a full pipe) until the first pull or
 * the collect; then it flows. A stream pull takes everything queued as one chunk, woken once per
 * event-loop turn (libuv reads many 64 KiB chunks per turn), and the queue stops the pipe past
 * `readAhead` bytes. Once the child exited, a reader waits for more bytes at most `drainDelay` in
 * total: a grandchild that holds the pipe and writes now and then cannot keep it waiting past the
 * delay, while the child's own output, all in the kernel by then, is never waited for long. One
 * reader at a time: a second one while the first reads fails at once; a later one gets what is left.
 */
export const pipeReader = (
  pipe: Readable,
  name: string,
  line: string,
  child: Child,
  drainDelay: Duration.Duration
) => {
  let error: Error | undefined
  let done = endedUnread(pipe)
  /** The waiting consumer's re-check, called on news: bytes, the end, an error, the child's exit. */
  let waiting: (() => void) | undefined
  const wake = () => {
    const retry = waiting
    waiting = undefined
    retry?.()
  }
  // The end resumes the reader's fiber: paced, like exits (32 outputs may end in one turn).
  pipe.once("end", () => {
    done = true
    paced(wake)
  })
  pipe.once("close", () => {
    done = true
    paced(wake)
  })
  pipe.on("error", (e) => {
    if (!isClosedByPeer(e)) error = e
    done = true
    paced(wake)
  })
  child.onExit(wake)
  const failure = () => new CommandError.IoError({ stream: name, command: line, cause: error })

  /** What is left of `drainDelay` for waiting after the child exited (Infinity: no bound). */
  let idleBudget = Duration.toMillis(drainDelay)
  /** The running idle timer's canceller. */
  let idleTimer: (() => void) | undefined
  let idleSince = 0
  const stopIdle = () => {
    if (idleTimer === undefined) return
    idleTimer()
    idleTimer = undefined
    idleBudget -= Date.now() - idleSince
  }
  /** The consumer waits and nothing is queued: after the child's exit, that wait is bounded. */
  const idle = () => {
    if (idleTimer !== undefined || done || !child.exited()) return
    idleSince = Date.now()
    const cancel = RealTime.setTimer(() => {
      // A stalled event loop fires the timer before it polls the pipe: give the poll phase one
      // turn (setImmediate runs after it) to deliver bytes already written. Still idle then:
      // only a grandchild can hold the pipe, stop waiting for it.
      setImmediate(() => {
        if (idleTimer !== cancel) return
        idleTimer = undefined
        done = true
        pipe.destroy()
        wake()
      })
    }, idleBudget)
    idleTimer = cancel
  }

  /** Where the pipe's bytes go (false stops the pipe until `resume()`): the current reader's. */
  let reader: ((bytes: Uint8Array, lent: boolean) => boolean) | undefined
  /** Lets the pipe flow into `onData`; a later reader takes over what the one before left. */
  const flow = (onData: (bytes: Uint8Array, lent: boolean) => boolean) => {
    const started = reader !== undefined
    reader = onData
    if (started) pipe.resume()
    else readInto(pipe, (bytes, lent) => reader!(bytes, lent))
  }
  /**
   * Whether a reader (a stream being run, a collect) is at it. A second one at the same time is
   * refused: there is one place for a waiting reader, and the bytes would be split between them.
   */
  let busy = false
  const alreadyRead = () =>
    new CommandError.IoError({ stream: name, command: line, cause: new Error(`${name} is already being read`) })

  let queue: Array<Uint8Array> = []
  let queued = 0
  let wakeScheduled = false
  const wakeLater = () => {
    wakeScheduled = false
    wake()
  }
  /** Queues bytes for the next pull; false (stop reading) once `readAhead` bytes wait. */
  const enqueue = (bytes: Uint8Array): boolean => {
    stopIdle()
    queue.push(bytes)
    queued += bytes.length
    if (waiting !== undefined && !wakeScheduled) {
      wakeScheduled = true
      setImmediate(wakeLater)
    }
    return queued < readAhead
  }
  const enqueueCopy = (bytes: Uint8Array, lent: boolean) => enqueue(lent ? bytes.slice() : bytes)
  const pulls = Stream.repeatEffectChunkOption(
    Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<CommandError.IoError>>((resume) => {
      const attempt = () => {
        if (reader !== enqueueCopy) flow(enqueueCopy)
        if (queue.length > 0) {
          const chunk = Chunk.unsafeFromArray(queue)
          if (queued >= readAhead) pipe.resume()
          queue = []
          queued = 0
          return resume(Effect.succeed(chunk))
        }
        if (error !== undefined) return resume(Effect.fail(Option.some(failure())))
        if (done) return resume(Effect.fail(Option.none()))
        waiting = attempt
        idle()
      }
      attempt()
      return Effect.sync(() => {
        waiting = undefined
        stopIdle()
      })
    })
  )
  const stream: Stream.Stream<Uint8Array, CommandError.IoError> = Stream.unwrapScoped(
    Effect.as(
      Effect.acquireRelease(
        Effect.suspend(() => (busy ? Effect.fail(alreadyRead()) : Effect.sync(() => void (busy = true)))),
        () => Effect.sync(() => void (busy = false))
      ),
      pulls
    )
  )

  /** Reads until `onBytes` says stop or the output ends, without a stream or a fiber. */
  const collect = (onBytes: (bytes: Uint8Array) => boolean) =>
    Effect.sync((): Effect.Effect<void, CommandError.IoError> => {
      if (busy) return Effect.fail(alreadyRead())
      busy = true
      let outcome: Effect.Effect<void, CommandError.IoError> | undefined
      let resumeWaiter: ((outcome: Effect.Effect<void, CommandError.IoError>) => void) | undefined
      const settle = (result: Effect.Effect<void, CommandError.IoError>) => {
        busy = false
        waiting = undefined
        stopIdle()
        outcome = result
        resumeWaiter?.(result)
      }
      const check = () => {
        if (outcome !== undefined) return
        if (error !== undefined) return settle(Effect.fail(failure()))
        if (done) return settle(Effect.void)
        waiting = check
        idle()
      }
      const take = (bytes: Uint8Array): boolean => {
        if (outcome !== undefined) return false
        stopIdle()
        if (onBytes(bytes)) {
          check()
          return true
        }
        settle(Effect.void)
        return false
      }
      flow(take)
      check()
      return Effect.async<void, CommandError.IoError>((resume) => {
        if (outcome !== undefined) return resume(outcome)
        resumeWaiter = resume
        return Effect.sync(() => void (resumeWaiter = undefined))
      })
    })
  return { stream, collect }
}

/** Collects a pipe's bytes as text until EOF. */
export const readAll = (pipe: Readable, done: (text: string) => void): void => {
  if (endedUnread(pipe)) return done("")
  let text = ""
  listen(pipe, (chunk) => (text += chunk.toString("latin1")))
  pipe.on("error", () => {})
  pipe.once("close", () => done(text))
}

/** Hands every chunk of a pipe to `onData` (its own copy), whichever way the pipe is read; returns a canceller. */
export const listen = (pipe: Readable, onData: (bytes: Buffer) => void): () => void => {
  let active = true
  readInto(pipe, (bytes, lent) => {
    if (active) onData(lent ? Buffer.from(bytes) : (bytes as Buffer))
    return active
  })
  return () => void (active = false)
}
