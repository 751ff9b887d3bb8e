/** The Node executor's spawn primitive: stdio wiring, streams, kill-and-reap. */
import * as Fs from "node:fs"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Readable, Writable } from "node:stream"
import { isMainThread } from "node:worker_threads"

import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError, ExitStatus, Signal } from "@effect-command/core"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"

import type { Engine } from "./engine.js"
import { remainingGroupMembers, signalGroup } from "./group.js"
import * as Helper from "./helper.js"
import * as RealTime from "./realtime.js"
import { checkExecutableFormat, checkWorkingDirectory, fromErrno, resolveProgram } from "./resolve.js"
import { socketPair } from "./socketpair.js"
import * as Spawn from "./spawn.js"

export interface Options {
  /** After the child exited, how long a read may wait for EOF (a grandchild may hold the pipe). */
  readonly drainDelay: Duration.Duration
  /** The child-side setup helper, or null to spawn directly (fewer powers, see `needsHelper`). */
  readonly helper: string | null
  /** Why `helper` is null, for the HelperMissing error: "it is not built: …". */
  readonly helperMissing: string
  /** The native spawn engine, or null for child_process. */
  readonly engine: Engine | null
}

/**
 * Settings only the child-side helper can apply; refused without it rather than
 * ignored. The native engine makes a child die with its parent itself.
 */
const needsHelper = (stage: CommandExecutor.SpawnStage, engine: Engine | null): ReadonlyArray<string> => {
  const { setup } = stage
  const found: Array<string> = []
  if (setup.umask !== undefined) found.push("umask")
  if (setup.limits.length > 0) found.push("resource limits")
  if (setup.uid !== undefined || setup.gid !== undefined || setup.groups !== undefined) found.push("credentials")
  if (setup.clearCaps || setup.allowCaps.length > 0) found.push("capabilities")
  if (engine === null && setup.dieWithParent !== undefined && setup.dieWithParent !== false) found.push("dieWithParent")
  if (setup.daemonize) found.push("daemonize")
  if (setup.handshake) found.push("handshake")
  if (setup.preExec.length > 0) found.push("pre-exec actions")
  return found
}

/** Why `Process.kill` refuses a value that is no signal name (a JavaScript caller may pass anything). */
const unknownSignal = (sig: unknown): string =>
  `unknown signal ${typeof sig === "string" ? JSON.stringify(sig) : String(sig)}: give a name such as "SIGTERM"`

/** `a`, `a and b`, `a, b and c`. */
const listed = (items: ReadonlyArray<string>): string =>
  items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`

const isClosedByPeer = (error: NodeJS.ErrnoException): boolean =>
  error.code === "EPIPE" || error.code === "ECONNRESET" || error.code === "ERR_STREAM_DESTROYED"

const toStatus = (info: Spawn.ExitInfo): ExitStatus.ExitStatus =>
  info.code !== null
    ? ExitStatus.exited(info.code)
    : ExitStatus.signaled((info.signal ?? "SIGKILL") as Signal.Signal, info.coreDumped)

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
const pipeReader = (
  pipe: Readable,
  name: string,
  line: string,
  child: Spawn.Child,
  drainDelay: Duration.Duration
) => {
  let error: Error | undefined
  let done = Spawn.endedUnread(pipe)
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
    Spawn.paced(wake)
  })
  pipe.once("close", () => {
    done = true
    Spawn.paced(wake)
  })
  pipe.on("error", (e) => {
    if (!isClosedByPeer(e)) error = e
    done = true
    Spawn.paced(wake)
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
    else Spawn.readInto(pipe, (bytes, lent) => reader!(bytes, lent))
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

/**
 * Writes to a pipe with backpressure. Once the child closed its end the sink completes: the rest
 * of the input is not pulled (an endless input would otherwise be consumed forever, in a loop of
 * synchronous resumptions that starves the event loop, so the child's exit is never seen). Only a
 * complete input ends the pipe: after a failure, a defect or an interruption the child must not
 * see EOF and take what it got for all of it; the pipe is closed once the child is dead.
 */
const writable = (
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

/** Collects a pipe's bytes as text until EOF. */
const readAll = (pipe: Readable, done: (text: string) => void): void => {
  if (Spawn.endedUnread(pipe)) return done("")
  let text = ""
  listen(pipe, (chunk) => (text += chunk.toString("latin1")))
  pipe.on("error", () => {})
  pipe.once("close", () => done(text))
}

/** Hands every chunk of a pipe to `onData` (its own copy), whichever way the pipe is read; returns a canceller. */
const listen = (pipe: Readable, onData: (bytes: Buffer) => void): () => void => {
  let active = true
  Spawn.readInto(pipe, (bytes, lent) => {
    if (active) onData(lent ? Buffer.from(bytes) : (bytes as Buffer))
    return active
  })
  return () => void (active = false)
}

/**
 * virCommandHandshakeWait/Notify over the helper's two pipes: the child writes "1" when it is
 * ready to exec and then waits for our "1". A setup failure before that is reported instead.
 */
const handshakeOf = (
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
    if (Spawn.endedUnread(ready)) return finish("")
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

interface Prepared {
  readonly spec: Spawn.SpawnSpec
  /** Fds the parent opened for the child (files) or must close after the spawn (closeParent). */
  readonly closeAfterSpawn: ReadonlyArray<number>
  /** Our end of the stdout+stderr socket pair, for `stderr: "stdout"` with a piped stdout. */
  readonly joined: Net.Socket | undefined
  /** The child's end, closed in the parent after the spawn. */
  readonly joinedChildEnd: Net.Socket | undefined
  /** The helper's status and handshake fds in the child, when the helper is used. */
  readonly helperFds: Helper.HelperFds | undefined
}

/** How `Input.file` and `Output.file` open their file. */
const fileFlags = {
  r: Fs.constants.O_RDONLY,
  w: Fs.constants.O_WRONLY | Fs.constants.O_CREAT | Fs.constants.O_TRUNC,
  a: Fs.constants.O_WRONLY | Fs.constants.O_CREAT | Fs.constants.O_APPEND
} as const

/** The reason a failed open is reported with. */
const openReason = (code: string | undefined): CommandError.SpawnErrorReason =>
  code === "ENOENT"
    ? "NotFound"
    : code === "EACCES" || code === "EPERM" || code === "EROFS"
    ? "PermissionDenied"
    : "Unknown"

/**
 * Opens a file for the child's stdio without ever blocking the event loop: the open is
 * non-blocking, so a FIFO (which would wait for a peer, freezing the whole process) is found and
 * refused. A device is opened again without O_NONBLOCK, which the child would otherwise inherit.
 */
const openFile = (path: string, flags: keyof typeof fileFlags, what: string, line: string, opened: Array<number>) =>
  Effect.try({
    try: () => {
      const probe = Fs.openSync(path, fileFlags[flags] | Fs.constants.O_NONBLOCK | Fs.constants.O_NOCTTY, 0o644)
      let fd = probe
      try {
        const stat = Fs.fstatSync(probe)
        if (stat.isFIFO() || stat.isSocket()) {
          throw Object.assign(new Error(`${path} is a ${stat.isFIFO() ? "FIFO" : "socket"}`), { code: "EFIFO" })
        }
        if (!stat.isFile()) {
          // The same file (through the open fd, not the path again), blocking, not truncated twice.
          fd = Fs.openSync(`/proc/self/fd/${probe}`, fileFlags[flags] & ~Fs.constants.O_TRUNC | Fs.constants.O_NOCTTY)
          Fs.closeSync(probe)
        }
      } catch (error) {
        Fs.closeSync(probe)
        throw error
      }
      opened.push(fd)
      return fd
    },
    catch: (cause) => {
      const code = (cause as NodeJS.ErrnoException).code
      const fifo = code === "EFIFO" || code === "ENXIO"
      return new CommandError.SpawnError({
        reason: openReason(code),
        errno: fifo ? "ENXIO" : code ?? "EUNKNOWN",
        stage: `open(${what})`,
        detail: fifo
          ? `${path} is a FIFO or socket: opening it waits for a peer, which would block this process; open it yourself and pass its fd (Command.Input.fd / Command.Output.fd)`
          : `cannot open ${path} for ${what}`,
        command: line,
        cause
      })
    }
  })

const closeAll = (fds: ReadonlyArray<number>) => {
  for (const fd of fds) {
    try {
      Fs.closeSync(fd)
    } catch {
      // already closed by the caller: nothing left to release
    }
  }
}

/** A pipeline stage's connection to its neighbour: a FIFO both helpers open, or a socket pair end. */
export type Joint =
  | { readonly _tag: "Fifo"; readonly path: string }
  | { readonly _tag: "Fd"; readonly fd: number }
  | { readonly _tag: "Socket"; readonly socket: Net.Socket }

/** Which of a stage's stdio are joined to its neighbours (stderr and stdout may share one joint). */
export interface StageLinks {
  readonly stdin?: Joint
  readonly stdout?: Joint
  readonly stderr?: Joint
}

/**
 * The parent's environment now (env policies are applied at run time). Reading `process.env` whole
 * costs a getenv per variable; on the main thread the engine reads the same environment at once.
 */
const parentEnvironment = (engine: Engine | null): Readonly<Record<string, string | undefined>> => {
  if (engine === null || !isMainThread) return process.env
  const env: Record<string, string> = Object.create(null)
  for (const entry of engine.environ()) {
    const at = entry.indexOf("=")
    const name = entry.slice(0, at)
    // getenv takes a name's first entry.
    if (at > 0 && env[name] === undefined) env[name] = entry.slice(at + 1)
  }
  return env
}

let openFileLimit: number | undefined

/**
 * RLIMIT_NOFILE as a child starts with it (Node raises the soft limit to the hard one at start-up,
 * and the child inherits it): no fd at or above it can be given to the child. Read once;
 * Infinity where /proc does not tell.
 */
const childFdLimit = (): number => {
  if (openFileLimit !== undefined) return openFileLimit
  openFileLimit = Infinity
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(Fs.readFileSync("/proc/self/limits", "latin1"))?.[1]
    if (soft !== undefined) openFileLimit = Number(soft)
  } catch {
    // no /proc: the spawn reports what the kernel refuses
  }
  return openFileLimit
}

/**
 * Child fds (passFd, inputFd) that cannot be given, found before anything is opened: at or above
 * the fd limit, and on child_process, whose stdio array is as long as the highest fd, above
 * {@link Spawn.childProcessFdBound}.
 */
const unplaceableFds = (stage: CommandExecutor.SpawnStage, engine: Engine | null): ReadonlyArray<string> => {
  const limit = childFdLimit()
  const reasons: Array<string> = []
  for (const { fd } of [...stage.passFds, ...stage.inputFds]) {
    if (fd >= limit) {
      reasons.push(`fd ${fd} is at or above the fd limit (RLIMIT_NOFILE ${limit}): the child cannot have it`)
    } else if (engine === null && fd > Spawn.childProcessFdBound) {
      reasons.push(
        `fd ${fd} is above ${Spawn.childProcessFdBound}, the highest fd the child_process engine gives a child (the native engine has no such bound)`
      )
    }
  }
  return reasons
}

const prepare = (
  command: CommandExecutor.SpawnStage,
  path: string,
  line: string,
  helper: string | null,
  engine: Engine | null,
  links: StageLinks
): Effect.Effect<Prepared, CommandError.SpawnError> =>
  Effect.gen(function*() {
    const opened: Array<number> = []
    const closeParent = command.passFds.filter((p) => p.closeParent).map((p) => p.fd)
    const release = Effect.sync(() => closeAll([...opened, ...closeParent]))
    return yield* Effect.gen(function*() {
      /** What each child fd gets; every other fd is closed in the child. */
      const stdio = new Map<number, Spawn.StdioSource>()
      const input = command.stdin
      switch (input._tag) {
        case "Inherit":
          stdio.set(0, { _tag: "Inherit" })
          break
        case "Fd":
          stdio.set(0, { _tag: "Fd", fd: input.fd })
          break
        case "File":
          stdio.set(0, { _tag: "Fd", fd: yield* openFile(input.path, "r", "stdin", line, opened) })
          break
        case "Pipe":
          stdio.set(0, { _tag: "Pipe", toChild: true })
          break
        default:
          stdio.set(0, { _tag: "Ignore" })
      }
      const output = (
        out: CommandExecutor.SpawnStage["stderr"],
        fd: 1 | 2
      ): Effect.Effect<Spawn.StdioSource, CommandError.SpawnError> => {
        switch (out._tag) {
          case "Inherit":
            return Effect.succeed({ _tag: "Inherit" })
          case "Fd":
            return Effect.succeed({ _tag: "Fd", fd: out.fd })
          case "File":
            return Effect.map(
              openFile(out.path, out.append ? "a" : "w", fd === 1 ? "stdout" : "stderr", line, opened),
              (n) => ({ _tag: "Fd", fd: n })
            )
          case "Pipe":
            return Effect.succeed({ _tag: "Pipe", toChild: false })
          default:
            return Effect.succeed({ _tag: "Ignore" })
        }
      }
      const stdout = command.stdout
      let joined: Net.Socket | undefined
      let joinedChildEnd: Net.Socket | undefined
      const both = links.stdout !== undefined && links.stdout === links.stderr
      const stderrToStdout = helper !== null && (command.stderr._tag === "ToStdout" || both)
      if (stderrToStdout) {
        // The helper makes fd 2 a dup of fd 1 in the child: one kernel object, whatever it is.
        stdio.set(1, yield* output(stdout, 1))
        stdio.set(2, { _tag: "Ignore" })
      } else if (command.stderr._tag === "ToStdout") {
        if (stdout._tag === "Pipe") {
          ;[joined, joinedChildEnd] = yield* socketPair(line)
          stdio.set(1, { _tag: "Socket", socket: joinedChildEnd })
          stdio.set(2, stdio.get(1)!)
        } else {
          const out = yield* output(stdout, 1)
          stdio.set(1, out)
          // `inherit` for stderr would be the parent's fd 2: join the parent's stdout instead.
          stdio.set(2, out._tag === "Inherit" ? { _tag: "Fd", fd: 1 } : out)
        }
      } else {
        stdio.set(1, yield* output(stdout, 1))
        stdio.set(2, yield* output(command.stderr, 2))
      }
      // Pipeline joints replace the stage's own stdio at the joined ends.
      const linkArgs: Array<string> = []
      const join = (fd: 0 | 1 | 2, joint: Joint | undefined, option: string) => {
        if (joint === undefined) return
        if (joint._tag === "Socket") {
          stdio.set(fd, { _tag: "Socket", socket: joint.socket })
        } else if (joint._tag === "Fd") {
          stdio.set(fd, { _tag: "Fd", fd: joint.fd })
        } else {
          stdio.set(fd, { _tag: "Ignore" })
          linkArgs.push(option, joint.path)
        }
      }
      join(0, links.stdin, "--stdin-fifo")
      join(1, links.stdout, "--stdout-fifo")
      // `stderr: "stdout"` follows stdout into the pipe (with the helper, its dup2 does that).
      if (
        command.stderr._tag === "ToStdout" && links.stdout !== undefined && links.stdout._tag !== "Fifo" &&
        links.stderr === undefined
      ) {
        stdio.set(2, stdio.get(1)!)
      }
      if (!(both && stderrToStdout)) join(2, links.stderr, "--stderr-fifo")
      for (const { fd } of command.passFds) {
        const open = yield* Effect.try({
          try: () => Fs.fstatSync(fd),
          catch: (cause) =>
            new CommandError.SpawnError({
              reason: "Unknown",
              errno: "EBADF",
              stage: "passFd",
              detail: `fd ${fd} passed to the child is not open in the parent`,
              command: line,
              cause
            })
        })
        void open
        stdio.set(fd, { _tag: "Fd", fd })
      }
      for (const { fd } of command.inputFds) stdio.set(fd, { _tag: "Pipe", toChild: true })
      const helperFds = helper !== null ? Helper.helperFds(command) : undefined
      if (helperFds !== undefined) {
        stdio.set(helperFds.status, { _tag: "Pipe", toChild: false })
        if (helperFds.handshakeReady !== undefined) {
          stdio.set(helperFds.handshakeReady, { _tag: "Pipe", toChild: false })
        }
        if (helperFds.handshakeWait !== undefined) stdio.set(helperFds.handshakeWait, { _tag: "Pipe", toChild: true })
      }
      // Undefined: the parent's environment as it is (the engine copies it at once).
      let env: Record<string, string> | undefined
      if (command.env !== undefined) {
        env = Object.create(null) as Record<string, string>
        for (const [name, value] of Object.entries(Command.resolveEnv(command.command, parentEnvironment(engine)))) {
          env[name] = Command.wordValue(value)
        }
      }
      const { argv } = command
      const spec: Spawn.SpawnSpec = helper !== null && helperFds !== undefined
        ? {
          // The helper applies the setup (process group and working directory included), then execs.
          path: helper,
          argv: [helper, ...Helper.helperArgs(command, helperFds, { stderrToStdout, links: linkArgs }), path, ...argv],
          env,
          cwd: undefined,
          stdio,
          newGroup: false,
          deathSignal: undefined
        }
        : {
          path,
          argv,
          env,
          cwd: command.cwd,
          stdio,
          newGroup: command.setup.processGroup === "new",
          // Only the native engine sets it without the helper.
          deathSignal: engine !== null ? Helper.deathSignal(command) : undefined
        }
      return {
        spec,
        closeAfterSpawn: [...opened, ...closeParent],
        joined,
        joinedChildEnd,
        helperFds
      } satisfies Prepared
    }).pipe(Effect.tapError(() => release))
  })

/** A spawned stage, and the effect that waits until its target was exec'd (or its setup failed). */
interface Spawned {
  readonly process: CommandExecutor.SpawnedProcess
  readonly execed: Effect.Effect<void, CommandError.SpawnError | CommandError.DaemonError>
}

/**
 * Spawns one command (a whole command, or one stage of a pipeline with its joints) and registers
 * its kill-and-reap finalizer in the current scope. With `deferExec` it returns before the
 * helper's report; pipeline stages need that, since each blocks until its neighbour opens the
 * FIFO they share.
 */
const spawnStage = (
  options: Options,
  command: CommandExecutor.SpawnStage,
  links: StageLinks,
  deferExec: boolean
): Effect.Effect<Spawned, CommandError.CommandError, Scope.Scope> =>
  Effect.gen(function*() {
    const { line } = command
    // Refused before `prepare`: the closeParent fds are still ours to close (virCommandPassFD).
    const refuse = (error: CommandError.SpawnError | CommandError.CommandUsageError) =>
      Effect.zipRight(
        Effect.sync(() => closeAll(command.passFds.filter((p) => p.closeParent).map((p) => p.fd))),
        Effect.fail(error)
      )
    const missing = needsHelper(command, options.engine)
    // With the native engine the helper runs only for what the engine cannot do itself.
    const helper = options.engine !== null && missing.length === 0 ? null : options.helper
    if (helper === null && missing.length > 0) {
      return yield* refuse(
        new CommandError.SpawnError({
          reason: "HelperMissing",
          stage: "setup",
          detail: `the child-side helper is needed for ${listed(missing)}, but ${options.helperMissing}`,
          command: line
        })
      )
    }
    const badFds = unplaceableFds(command, options.engine)
    if (badFds.length > 0) return yield* refuse(new CommandError.CommandUsageError({ reasons: badFds, command: line }))
    const badCwd = checkWorkingDirectory(command.cwd, line)
    if (badCwd !== undefined) return yield* refuse(badCwd)
    // An absolute program that the native engine execs itself is not checked first: a failed
    // execve is explained afterwards, the same way, at no cost to the spawns that work.
    const checkAfter = helper === null && options.engine !== null && command.program.startsWith("/")
    const path = checkAfter ? command.program : resolveProgram(command.program, command.cwd, line)
    if (typeof path !== "string") return yield* refuse(path)
    // Spawned directly by child_process, whose exec would hand any other file to /bin/sh.
    const notExecutable = helper === null && options.engine === null
      ? checkExecutableFormat(path, command.cwd, line)
      : undefined
    if (notExecutable !== undefined) return yield* refuse(notExecutable)
    const execFailure = (error: NodeJS.ErrnoException) => {
      const explained = checkAfter && error.syscall === "execve" ? resolveProgram(path, command.cwd, line) : undefined
      return typeof explained === "object" ? explained : fromErrno(error, line, command.cwd)
    }

    const exit = Deferred.unsafeMake<ExitStatus.ExitStatus>(FiberId.none)
    let detached = false

    /** The helper's report: "" once the target was exec'd, else `<stage> <errno>`. */
    const helperReport = Deferred.unsafeMake<string>(FiberId.none)
    const spawned = Effect.flatMap(prepare(command, path, line, helper, options.engine, links), (prepared) =>
      Effect.async<{ child: Spawn.Child; prepared: Prepared }, CommandError.SpawnError>((resume) => {
        Spawn.spawn(options.engine, prepared.spec, (result) => {
          closeAll(prepared.closeAfterSpawn)
          prepared.joinedChildEnd?.destroy()
          if (result instanceof Error) {
            prepared.joined?.destroy()
            return resume(Effect.fail(execFailure(result)))
          }
          result.onExit((info) =>
            Deferred.unsafeDone(exit, Exit.succeed(toStatus(info)))
          )
          if (prepared.helperFds !== undefined) {
            readAll(result.pipes.get(prepared.helperFds.status) as Readable, (text) =>
              Deferred.unsafeDone(helperReport, Exit.succeed(text)))
          }
          resume(Effect.succeed({ child: result, prepared }))
        })
      }))
    /** A setup failure: reap the helper, release its pipes, report the stage. */
    const setupFailed = (child: Spawn.Child, prepared: Prepared, report: string) =>
      Effect.zipRight(
        Effect.zipRight(
          Deferred.await(exit),
          Effect.sync(() => {
            for (const pipe of child.pipes.values()) {
              pipe.destroy()
            }
            prepared.joined?.destroy()
          })
        ),
        Effect.fail(Helper.setupError(report, command, line))
      )
    // Without a handshake, `start` returns once the target runs (or its setup failed).
    const acquire = Effect.flatMap(spawned, ({ child, prepared }) =>
      prepared.helperFds === undefined || command.setup.handshake || deferExec
        ? Effect.succeed({ child, prepared })
        : Effect.flatMap(Deferred.await(helperReport), (report) =>
          report === "" ? Effect.succeed({ child, prepared }) : setupFailed(child, prepared, report)))

    // A setsid action makes the child lead its own group (and session) whatever `processGroup` says.
    const newGroup = command.setup.processGroup === "new" || command.setup.preExec.some((a) =>
      a._tag === "Setsid"
    )
    const signal = (pid: number, sig: Signal.Signal, evenAfterExit: boolean, child: Spawn.Child) => {
      if (child.exited() && !evenAfterExit) {
        return
      }
      try {
        process.kill(newGroup ? -pid : pid, sig)
      } catch {
        // ESRCH for the group: the helper may not have called setpgid yet; the child itself then.
        try {
          if (newGroup) {
            process.kill(pid, sig)
          }
        } catch {
          // ESRCH: nothing left to signal
        }
      }
    }
    const { grace, signal: killSignal } = command.killPolicy

    const abortChild = (child: Spawn.Child) =>
      Effect.uninterruptible(Effect.gen(function*() {
        if (!child.exited()) {
          signal(child.pid, killSignal, false, child)
          // Interruptible inside the uninterruptible abort, or the timeout could not cut it short.
          const inTime = yield* RealTime.timeoutOption(Effect.interruptible(Deferred.await(exit)), grace)
          if (Option.isNone(inTime)) {
            signal(child.pid, "SIGKILL", false, child)
          }
        }
        return yield* Deferred.await(exit)
      }))

    /** Members of the child's group that outlived it: policy signal, grace, SIGKILL. */
    const killGroupRemnants = (pid: number) =>
      Effect.gen(function*() {
        if (!newGroup || remainingGroupMembers(pid, options.engine) === 0) {
          return
        }
        if (!signalGroup(pid, killSignal, options.engine)) {
          return
        }
        const deadline = Date.now() + Duration.toMillis(grace)
        while (remainingGroupMembers(pid, options.engine) > 0 && Date.now() < deadline) {
          yield* RealTime.sleep("10 millis")
        }
        if (!signalGroup(pid, "SIGKILL", options.engine)) {
          return
        }
        // SIGKILL is not instant: return only once the group is gone (bounded, in case of D state).
        const killDeadline = Date.now() + 1000
        while (remainingGroupMembers(pid, options.engine) > 0 && Date.now() < killDeadline) {
          yield* RealTime.sleep("1 millis")
        }
      }).pipe(Effect.uninterruptible)

    const { child, prepared } = yield* Effect.acquireRelease(acquire, ({ child, prepared }) =>
      Effect.gen(function*() {
        if (!detached) {
          yield* abortChild(child)
          // A daemon left its group on purpose: it outlives the scope.
          if (!command.setup.daemonize) {
            yield* killGroupRemnants(child.pid)
          }
        }
        for (const pipe of child.pipes.values()) {
          pipe.destroy()
        }
        prepared.joined?.destroy()
      }))

    for (const { bytes, fd } of command.inputFds) {
      const pipe = child.pipes.get(fd) as Writable
      pipe.on("error", () => {}) // the child may close it early: not an error
      pipe.end(bytes)
    }

    const stdoutPipe = prepared.joined ?? (child.pipes.get(1) as Readable | undefined) ?? null
    const stdinPipe = (child.pipes.get(0) as Writable | undefined) ?? null
    const stderrPipe = prepared.joined !== undefined ? null : (child.pipes.get(2) as Readable | undefined) ?? null
    const readers = {
      stdout: stdoutPipe !== null ? pipeReader(stdoutPipe, "stdout", line, child, options.drainDelay) : undefined,
      stderr: stderrPipe !== null ? pipeReader(stderrPipe, "stderr", line, child, options.drainDelay) : undefined
    }
    const wait = Deferred.await(exit)
    const abort = abortChild(child)
    const noHandshake = Effect.failSync(() =>
      new CommandError.CommandUsageError({ reasons: ["the command does not require a handshake"], command: line })
    )
    const fds = prepared.helperFds
    const handshake = command.setup.handshake && fds?.handshakeReady !== undefined && fds.handshakeWait !== undefined
      ? handshakeOf(
        child.pipes.get(fds.handshakeReady) as Readable,
        child.pipes.get(fds.handshakeWait) as Writable,
        Deferred.await(helperReport),
        (report) =>
          Helper.setupError(report, command, line),
        line
      )
      : { wait: noHandshake, notify: noHandshake }
    const handle: CommandExecutor.SpawnedProcess = {
      pid: child.pid,
      stdin: stdinPipe !== null
        ? writable(stdinPipe, "stdin", line)
        : Sink.failSync(() =>
          new CommandError.IoError({ stream: "stdin", command: line, cause: new Error("stdin is not a pipe") })
        ),
      stdout: readers.stdout?.stream ?? Stream.empty,
      stderr: readers.stderr?.stream ?? Stream.empty,
      collect: (output, onBytes) =>
        readers[output]?.collect(onBytes) ?? Effect.succeed(Effect.void),
      wait,
      waitStages: Effect.map(wait, (status) => [status]),
      kill: (sig = "SIGTERM") =>
        Signal.isSignal(sig)
          ? Effect.sync(() =>
            signal(child.pid, sig, false, child)
          )
          : Effect.fail(new CommandError.CommandUsageError({ reasons: [unknownSignal(sig)], command: line })),
      abort,
      detach: Effect.sync(() => {
        detached = true
        child.unref()
        return { pid: child.pid, wait, abort }
      }),
      handshakeWait: handshake.wait,
      handshakeNotify: handshake.notify
    }
    const execed = prepared.helperFds === undefined
      ? Effect.void
      : Effect.flatMap(Deferred.await(helperReport), (report) =>
        report === "" ? Effect.void : Effect.fail(Helper.setupError(report, command, line)))
    return { process: handle, execed }
  })

/** @internal */
export const makeSpawn = (options: Options): CommandExecutor.Spawn => (plan) =>
  plan.stages.length === 1
    ? Effect.map(spawnStage(options, plan.stages[0], {}, false), (stage) => stage.process)
    : spawnPipeline(options, plan)

/**
 * A pipeline: every stage spawned at once, joined by kernel pipes (FIFOs opened by the helpers)
 * or, without the helper, socket pairs; the bytes never pass through Node. The stages live in
 * one sub-scope that kills them in parallel; a stage that cannot start closes it at once.
 */
const spawnPipeline = (options: Options, plan: CommandExecutor.SpawnPlan) =>
  Effect.gen(function*() {
    const { line, stages } = plan
    const joints = stages.length - 1
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.parallel)
    // Real pipes from the native engine; else FIFOs the helpers open; else socket pairs.
    const engine = options.engine
    const fifoDir = engine === null && options.helper !== null
      ? Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-command-"))
      : undefined
    yield* Scope.addFinalizer(
      scope,
      Effect.sync(() => fifoDir !== undefined && Fs.rmSync(fifoDir, { recursive: true, force: true }))
    )
    const started = yield* Effect.gen(function*() {
      const pipes: Array<Joint> = []
      for (let i = 0; i < joints; i++) {
        if (engine !== null) {
          const [read, write] = engine.makePipe(Spawn.largePipe)
          pipes.push({ _tag: "Fd", fd: write }, { _tag: "Fd", fd: read })
        } else if (fifoDir !== undefined) {
          pipes.push({ _tag: "Fifo", path: Path.join(fifoDir, `${i}`) })
        } else {
          const [left, right] = yield* socketPair(line)
          pipes.push({ _tag: "Socket", socket: left }, { _tag: "Socket", socket: right })
        }
      }
      // With pipes and sockets, stage i writes to pipes[2i] and stage i + 1 reads pipes[2i + 1].
      const writeEnd = (i: number) => (fifoDir !== undefined ? pipes[i] : pipes[2 * i])
      const readEnd = (i: number) => (fifoDir !== undefined ? pipes[i] : pipes[2 * i + 1])
      // Closed once: by the loop below once every stage holds its ends, or here if a spawn fails.
      let pipesClosed = false
      const closePipes = () => {
        if (pipesClosed) return
        pipesClosed = true
        for (const joint of pipes) {
          if (joint._tag === "Socket") joint.socket.destroy()
          if (joint._tag === "Fd") closeAll([joint.fd])
        }
      }
      yield* Scope.addFinalizer(scope, Effect.sync(closePipes))
      const spawned: Array<Spawned> = []
      for (const [i, stage] of stages.entries()) {
        const out = i < joints ? writeEnd(i) : undefined
        const links: StageLinks = {
          ...(stage.stdin._tag === "FromPrevious" ? { stdin: readEnd(i - 1)! } : {}),
          ...(out !== undefined && stage.stdout._tag === "ToNext" ? { stdout: out } : {}),
          ...(out !== undefined && stage.stderr._tag === "ToNext" ? { stderr: out } : {})
        }
        spawned.push(yield* spawnStage(options, stage, links, true))
      }
      // The children hold the ends now; the parent's copies would keep EOF from coming.
      closePipes()
      // Every stage runs, or the first failure stops them all.
      yield* Effect.all(spawned.map((s) => s.execed), { concurrency: "unbounded", discard: true })
      return spawned.map((s) => s.process)
    }).pipe(
      Scope.extend(scope),
      Effect.onExit((exit) => (exit._tag === "Failure" ? Scope.close(scope, exit) : Effect.void))
    )
    if (fifoDir !== undefined) Fs.rmSync(fifoDir, { recursive: true, force: true })
    const first = started[0]!
    const last = started[started.length - 1]!
    const waitStages = Effect.all(started.map((p) => p.wait), { concurrency: "unbounded" })
    const abort = Effect.map(Effect.all(started.map((p) => p.abort), { concurrency: "unbounded" }), ExitStatus.pipefail)
    const noHandshake = Effect.failSync(() =>
      new CommandError.CommandUsageError({ reasons: ["a pipeline has no start-up handshake"], command: line })
    )
    return {
      pid: first.pid,
      stdin: first.stdin,
      stdout: last.stdout,
      stderr: last.stderr,
      ...(last.collect !== undefined ? { collect: last.collect } : {}),
      wait: Effect.map(waitStages, ExitStatus.pipefail),
      waitStages,
      kill: (sig) => Effect.all(started.map((p) => p.kill(sig)), { discard: true }),
      abort,
      detach: Effect.map(Effect.all(started.map((p) => p.detach)), () => ({
        pid: first.pid,
        wait: Effect.map(waitStages, ExitStatus.pipefail),
        abort
      })),
      handshakeWait: noHandshake,
      handshakeNotify: noHandshake
    } satisfies CommandExecutor.SpawnedProcess
  })
