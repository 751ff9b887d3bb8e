/** The parent's reading end of a child's output pipe: as a stream, collected, or read whole. */
import type { Readable } from "node:stream"

import { CommandError } from "@effect-command/core"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

import { paced } from "./pace.js"
import { endedUnread, ownChunks, readInto } from "./read-into.js"
import * as RealTime from "./realtime.js"
import type { Child } from "./spawn.js"
import { isClosedByPeer } from "./spawn.js"

/** How many bytes a stream's reader buffers ahead of its consumer before it stops reading the pipe. */
const readAhead = 1 << 20

/**
 * What the readers of one pipe share: whether it ended (and how), the reader waiting for news, who
 * the bytes flow to, and how much longer it may stay idle once the child exited. Once the child
 * exited, readers wait for more bytes at most `drainDelay` in total: a grandchild that holds the
 * pipe and writes now and then cannot keep them waiting past the delay, while the child's own
 * output, all in the kernel by then, is never waited for long.
 */
class PipeState {
  error: Error | undefined
  done: boolean
  /** The waiting reader's re-check, called on news: bytes, the end, an error, the child's exit. */
  waiting: (() => void) | undefined
  /**
   * Whether a reader (a stream being run, a collect) is at it. A second one at the same time is
   * refused: there is one place for a waiting reader, and the bytes would be split between them.
   */
  busy = false
  /** Where the pipe's bytes go (false stops the pipe until `resume()`): the current reader's. */
  reader: ((bytes: Uint8Array, lent: boolean) => boolean) | undefined
  private readonly clock: DrainClock

  constructor(
    readonly pipe: Readable,
    readonly name: string,
    readonly line: string,
    readonly child: Child,
    drainDelay: Duration.Duration
  ) {
    this.done = endedUnread(pipe)
    this.clock = new DrainClock(drainDelay)
    // The end resumes the reader's fiber: paced, like exits (32 outputs may end in one turn).
    const ended = () => {
      this.done = true
      paced(this.wake)
    }
    pipe.once("end", ended)
    pipe.once("close", ended)
    pipe.on("error", (e) => {
      if (!isClosedByPeer(e)) this.error = e
      ended()
    })
    child.onExit(this.wake)
  }

  readonly wake = (): void => {
    const retry = this.waiting
    this.waiting = undefined
    retry?.()
  }

  failure(): CommandError.IoError {
    return new CommandError.IoError({ stream: this.name, command: this.line, cause: this.error })
  }

  alreadyRead(): CommandError.IoError {
    const cause = new Error(`${this.name} is already being read`)
    return new CommandError.IoError({ stream: this.name, command: this.line, cause })
  }

  /**
   * Lets the pipe flow into `onData` (`owned`: it keeps the bytes, see `ownChunks`); a later reader
   * takes over what the one before left.
   */
  flow(onData: (bytes: Uint8Array, lent: boolean) => boolean, owned: boolean): void {
    const started = this.reader !== undefined
    this.reader = onData
    ownChunks(this.pipe, owned)
    if (started) this.pipe.resume()
    else readInto(this.pipe, (bytes, lent) => this.reader!(bytes, lent))
  }

  stopIdle(): void {
    this.clock.stop()
  }

  /** The reader waits and nothing is queued: after the child's exit, that wait is bounded. */
  idle(): void {
    if (this.done || !this.child.exited()) return
    this.clock.start(() => {
      this.done = true
      this.pipe.destroy()
      this.wake()
    })
  }
}

/**
 * What is left of `drainDelay` for waiting for an output after the child exited (Infinity: no
 * bound): it runs while a reader waits with nothing to read, and stops when bytes come.
 */
export class DrainClock {
  private budget: number
  /** The running timer's canceller. */
  private timer: (() => void) | undefined
  private since = 0

  constructor(drainDelay: Duration.Duration) {
    this.budget = Duration.toMillis(drainDelay)
  }

  stop(): void {
    if (this.timer === undefined) return
    this.timer()
    this.timer = undefined
    this.budget -= Date.now() - this.since
  }

  /** Runs the clock (if it is not running); `expired` is called when the budget is spent. */
  start(expired: () => void): void {
    if (this.timer !== undefined) return
    this.since = Date.now()
    const cancel = RealTime.setTimer(() => {
      // A stalled event loop fires the timer before it polls the pipe: give the poll phase one
      // turn (setImmediate runs after it) to deliver bytes already written. Still idle then:
      // only a grandchild can hold the pipe, stop waiting for it.
      setImmediate(() => {
        if (this.timer !== cancel) return
        this.timer = undefined
        expired()
      })
    }, this.budget)
    this.timer = cancel
  }
}

/**
 * A pipe as a stream. A pull takes everything queued as one chunk, woken once per event-loop turn
 * (libuv reads many 64 KiB chunks per turn), and the queue stops the pipe past `readAhead` bytes.
 */
const streamOf = (state: PipeState): Stream.Stream<Uint8Array, CommandError.IoError> => {
  let queue: Array<Uint8Array> = []
  let queued = 0
  let wakeScheduled = false
  const wakeLater = () => {
    wakeScheduled = false
    state.wake()
  }
  /** Queues bytes for the next pull; false (stop reading) once `readAhead` bytes wait. */
  const enqueue = (bytes: Uint8Array, lent: boolean): boolean => {
    state.stopIdle()
    queue.push(lent ? bytes.slice() : bytes)
    queued += bytes.length
    if (state.waiting !== undefined && !wakeScheduled) {
      wakeScheduled = true
      setImmediate(wakeLater)
    }
    return queued < readAhead
  }
  const pulls = Stream.repeatEffectChunkOption(
    Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<CommandError.IoError>>((resume) => {
      const attempt = () => {
        if (state.reader !== enqueue) state.flow(enqueue, true)
        if (queue.length > 0) {
          const chunk = Chunk.unsafeFromArray(queue)
          if (queued >= readAhead) state.pipe.resume()
          queue = []
          queued = 0
          return resume(Effect.succeed(chunk))
        }
        if (state.error !== undefined) return resume(Effect.fail(Option.some(state.failure())))
        if (state.done) return resume(Effect.fail(Option.none()))
        state.waiting = attempt
        state.idle()
      }
      attempt()
      return Effect.sync(() => {
        state.waiting = undefined
        state.stopIdle()
      })
    })
  )
  return Stream.unwrapScoped(
    Effect.as(
      Effect.acquireRelease(
        Effect.suspend(
          () => (state.busy ? Effect.fail(state.alreadyRead()) : Effect.sync(() => void (state.busy = true)))
        ),
        () => Effect.sync(() => void (state.busy = false))
      ),
      pulls
    )
  )
}

/** Reads until `onBytes` says stop (then the read end closes) or the output ends, without a stream or a fiber. */
const collectOf = (state: PipeState) => (onBytes: (bytes: Uint8Array) => boolean) =>
  Effect.sync((): Effect.Effect<void, CommandError.IoError> => {
    if (state.busy) return Effect.fail(state.alreadyRead())
    state.busy = true
    let outcome: Effect.Effect<void, CommandError.IoError> | undefined
    let resumeWaiter: ((outcome: Effect.Effect<void, CommandError.IoError>) => void) | undefined
    const settle = (result: Effect.Effect<void, CommandError.IoError>) => {
      state.busy = false
      state.waiting = undefined
      state.stopIdle()
      outcome = result
      resumeWaiter?.(result)
    }
    const check = () => {
      if (outcome !== undefined) return
      if (state.error !== undefined) return settle(Effect.fail(state.failure()))
      if (state.done) return settle(Effect.void)
      state.waiting = check
      state.idle()
    }
    const take = (bytes: Uint8Array): boolean => {
      if (outcome !== undefined) return false
      state.stopIdle()
      if (onBytes(bytes)) {
        check()
        return true
      }
      settle(Effect.void)
      // Nobody reads the rest: the read end closes (after this read's callback), so that a writer
      // gets EPIPE at once instead of blocking on a full pipe until the kill grace is over.
      process.nextTick(() => state.pipe.destroy())
      return false
    }
    state.flow(take, false)
    check()
    return Effect.async<void, CommandError.IoError>((resume) => {
      if (outcome !== undefined) return resume(outcome)
      resumeWaiter = resume
      return Effect.sync(() => void (resumeWaiter = undefined))
    })
  })

/**
 * Reads a pipe, as a stream or collected (every chunk handed to a callback as it comes). The pipe
 * stays paused (its bytes in the kernel, a writer blocked on a full pipe) until the first pull or
 * the collect; then it flows. One reader at a time: a second one while the first reads fails at
 * once; a later one gets what is left.
 */
export const pipeReader = (
  pipe: Readable,
  name: string,
  line: string,
  child: Child,
  drainDelay: Duration.Duration
) => {
  const state = new PipeState(pipe, name, line, child, drainDelay)
  let stream: Stream.Stream<Uint8Array, CommandError.IoError> | undefined
  return {
    // Built when first asked for: a run that collects the output never needs it.
    get stream() {
      return (stream ??= streamOf(state))
    },
    collect: collectOf(state)
  }
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
