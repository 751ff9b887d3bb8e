/**
 * The spawn seam: a fully resolved spec in; pid, parent-side pipe ends and an exit notification
 * out. Everything above (stdio wiring, buffers, kill-and-reap, errors) works on `Child`. Two
 * engines sit behind it: the native addon (a vfork-like clone, real pipes, pidfd exits: the default where
 * it is built) and `node:child_process` (forks the whole parent on the event-loop thread, pipes
 * are socket pairs).
 */
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import type { Readable, Writable } from "node:stream"
import { isMainThread } from "node:worker_threads"

import { Signal } from "@effect-command/core"

import type { Engine, EngineChild, EngineExit, EngineReader, EngineSpawnSpec } from "./engine.js"
import { loadEngine, StdioClosed, StdioDevNull } from "./engine.js"
import { paced } from "./pace.js"
import { keepBuffered, userBufferReader } from "./read-into.js"

/** What the child gets at one fd number. */
export type StdioSource =
  | { readonly _tag: "Ignore" }
  | { readonly _tag: "Inherit" }
  | { readonly _tag: "Fd"; readonly fd: number }
  /** A pipe to the parent; `toChild` says which way the bytes flow. */
  | { readonly _tag: "Pipe"; readonly toChild: boolean }
  | { readonly _tag: "Socket"; readonly socket: Net.Socket }
  /** What an earlier fd of the spec gets, the same kernel object (`2>&1`); the native engine only. */
  | { readonly _tag: "SameAs"; readonly fd: number }

export interface SpawnSpec {
  /** Absolute path of the program, already resolved. */
  readonly path: string
  /** argv[0] as the child sees it, then the arguments. */
  readonly argv: ReadonlyArray<string>
  /** Undefined: the parent's environment, unchanged. */
  readonly env: Readonly<Record<string, string>> | undefined
  readonly cwd: string | undefined
  /**
   * What each child fd gets, by fd number; every fd not in it is closed in the child. The native
   * engine's cost follows the number of entries; child_process takes a dense array up to the
   * highest fd, so it is given none above {@link childProcessFdBound}.
   */
  readonly stdio: ReadonlyMap<number, StdioSource>
  /** Start the child in a new process group (and session, with child_process). */
  readonly newGroup: boolean
  /** The native engine only: the signal the child gets when the parent dies (PR_SET_PDEATHSIG). */
  readonly deathSignal: number | undefined
  /**
   * The child is a containment supervisor (the helper with `--contain`): when this thread's
   * environment is torn down it gets SIGTERM, which makes it SIGKILL its whole tree, instead of a
   * SIGKILL of its own, which would orphan that tree.
   */
  readonly supervisor: boolean
  /**
   * The native engine only: the parent's ends of the child's pipes are read and written by the
   * engine itself (`Child.outputs`, `Child.inputs`), not through Node streams.
   */
  readonly rawPipes?: boolean
}

/** A pipe out of the child that the native engine reads itself (`SpawnSpec.rawPipes`). */
export interface RawOutput {
  /** Starts reading it, once: see `Engine.readPipe`. */
  readonly read: (onData: (bytes: Uint8Array) => boolean, onEnd: (errno: number) => void) => void
  /** Closes it, read or not; no callback comes after it. */
  readonly close: () => void
}

/** A pipe into the child that the native engine writes itself (`SpawnSpec.rawPipes`). */
export interface RawInput {
  /** Writes the bytes, once, then closes it: see `Engine.writePipe`. */
  readonly write: (bytes: Uint8Array, onEnd: (errno: number) => void) => void
  /** Closes it, written or not; no callback comes after it. */
  readonly close: () => void
}

/** An error of a child's pipe that only says the child closed its end: not a failure of ours. */
export const isClosedByPeer = (error: NodeJS.ErrnoException): boolean =>
  error.code === "EPIPE" || error.code === "ECONNRESET" || error.code === "ERR_STREAM_DESTROYED"

export interface ExitInfo {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Known with the native engine; child_process does not tell. */
  readonly coreDumped: boolean
}

export interface Child {
  readonly pid: number
  /** The parent's end of each `Pipe` source, by child fd number. */
  readonly pipes: ReadonlyMap<number, Readable | Writable>
  /** With `rawPipes`: the pipes out of the child, by child fd number (not in `pipes`). */
  readonly outputs?: ReadonlyMap<number, RawOutput>
  /** With `rawPipes`: the pipes into the child, by child fd number (not in `pipes`). */
  readonly inputs?: ReadonlyMap<number, RawInput>
  /** Calls back once, after the child was reaped. */
  readonly onExit: (callback: (info: ExitInfo) => void) => void
  /** Whether the child was reaped. */
  readonly exited: () => boolean
  /**
   * Sends a signal to the child, or with `group` to the process group it leads (the child alone
   * while it leads none yet). Whether anyone got it: never once the child was reaped, so a reused
   * pid or group id is never hit.
   */
  readonly kill: (signal: Signal.Signal, group: boolean) => boolean
  /** Lets the parent exit while the child runs. */
  readonly unref: () => void
}

/** Exit bookkeeping shared by both engines (and a contained stage's target). */
export const exitNotifier = () => {
  let exit: ExitInfo | undefined
  const waiters: Array<(info: ExitInfo) => void> = []
  return {
    done: (info: ExitInfo) => {
      // Known at once (a reaped pid is never signalled); only the callbacks are paced.
      exit = info
      paced(() => {
        for (const waiter of waiters.splice(0)) waiter(info)
      })
    },
    onExit: (waiter: (info: ExitInfo) => void) => (exit !== undefined ? waiter(exit) : void waiters.push(waiter)),
    exited: () => exit !== undefined
  }
}

const toNode = (source: StdioSource): ChildProcess.IOType | number | Net.Socket => {
  switch (source._tag) {
    case "Ignore":
      return "ignore"
    case "Inherit":
      return "inherit"
    case "Fd":
      return source.fd
    case "Pipe":
      return "pipe"
    case "Socket":
      return source.socket
    case "SameAs":
      throw new RangeError(`child fd ${source.fd} cannot be shared on child_process`)
  }
}

/**
 * The highest child fd child_process is given: its `stdio` option is an array indexed by fd
 * number, as long as the highest one (FD_SETSIZE, the traditional bound for fds a program expects).
 */
export const childProcessFdBound = 1024

/** child_process's dense `stdio` array: "ignore" (closed, or /dev/null for 0-2) in the gaps. */
const denseStdio = (stdio: ReadonlyMap<number, StdioSource>): Array<ChildProcess.IOType | number | Net.Socket> => {
  const dense: Array<ChildProcess.IOType | number | Net.Socket> = []
  let highest = 2
  for (const fd of stdio.keys()) highest = Math.max(highest, fd)
  if (highest > childProcessFdBound) throw new RangeError(`child fd ${highest} is above ${childProcessFdBound}`)
  for (let fd = 0; fd <= highest; fd++) dense.push(toNode(stdio.get(fd) ?? { _tag: "Ignore" }))
  return dense
}

/**
 * A worker's child_process children: when the worker is terminated, no JS runs and its libuv
 * never reaps them. The native engine, when it loads, adopts them for its teardown (kill with the
 * group, reap); on the main thread the process's end settles them.
 */
const adopter = (): Engine | null => (isMainThread ? null : loadEngine())

/**
 * child_process's children have no pidfd: signalled by pid, and only while not reaped (libuv reaps
 * them on this thread, and the exit is known at once).
 */
const killByPid = (pid: number, exited: () => boolean) => (signal: Signal.Signal, group: boolean): boolean => {
  if (exited()) return false
  try {
    process.kill(group ? -pid : pid, signal)
    return true
  } catch {
    // ESRCH for the group: the helper may not have called setpgid yet; the child itself then.
    if (!group) return false
    try {
      process.kill(pid, signal)
      return true
    } catch {
      return false // ESRCH: nothing left to signal
    }
  }
}

const spawnChildProcess = (spec: SpawnSpec, callback: (result: Child | NodeJS.ErrnoException) => void): void => {
  let child: ChildProcess.ChildProcess
  try {
    child = ChildProcess.spawn(spec.path, spec.argv.slice(1), {
      argv0: spec.argv[0] ?? spec.path,
      env: spec.env ?? process.env,
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      stdio: denseStdio(spec.stdio),
      detached: spec.newGroup,
      windowsHide: true
    })
  } catch (error) {
    callback(error as NodeJS.ErrnoException)
    return
  }
  const notifier = exitNotifier()
  const engine = adopter()
  // At once, not at 'spawn' (a tick later): a worker terminated in between must still end it.
  if (child.pid !== undefined) engine?.adopt(child.pid, spec.supervisor)
  child.once("exit", (code, signal) => {
    if (child.pid !== undefined) engine?.forget(child.pid)
    notifier.done({ code, signal, coreDumped: false })
  })
  const onSpawn = () => {
    child.off("error", onError)
    // Later errors (a failed kill) must not crash the process; they are reported where they happen.
    child.on("error", () => {})
    const pipes = new Map<number, Readable | Writable>()
    for (const [fd, source] of spec.stdio) {
      const pipe = child.stdio[fd]
      if (source._tag !== "Pipe" || pipe === null || pipe === undefined) continue
      if (!source.toChild) pipe.on("readable", keepBuffered)
      pipes.set(fd, pipe)
    }
    callback({
      pid: child.pid!,
      pipes,
      onExit: notifier.onExit,
      exited: notifier.exited,
      kill: killByPid(child.pid!, notifier.exited),
      unref: () => {
        child.unref()
        engine?.leave(child.pid!)
      }
    })
  }
  const onError = (error: NodeJS.ErrnoException) => {
    child.off("spawn", onSpawn)
    // After EMFILE Node leaves `child.stdio` unset.
    for (const pipe of child.stdio ?? []) pipe?.destroy()
    callback(error)
  }
  child.once("spawn", onSpawn)
  child.once("error", onError)
}

const envp = (env: Readonly<Record<string, string | undefined>>): Array<string> => {
  const entries: Array<string> = []
  for (const name in env) if (env[name] !== undefined) entries.push(`${name}=${env[name]}`)
  return entries
}

/** The kernel buffer asked for a pipe a lot may flow through (F_SETPIPE_SZ; 64 KiB by default). */
export const largePipe = 1 << 20

/** The fd under a Node socket (a socket pair end made for a child). */
const socketFd = (socket: Net.Socket): number => (socket as unknown as { _handle: { fd: number } })._handle.fd

/** The fds made for one native spawn: the child's ends (closed once it started) and ours, by child fd. */
interface NativeEnds {
  readonly child: Array<number>
  readonly parent: Map<number, number>
}

/** Closes the fds made for a spawn: the child's ends, and with `all` ours too (nothing started). */
const closeEnds = (engine: Engine, ends: NativeEnds, all: boolean) => {
  for (const fd of ends.child) engine.closeFd(fd)
  if (all) { for (const fd of ends.parent.values()) engine.closeFd(fd) }
}

/** The engine's `[childFd, source]` pairs; the pipes and socket pairs made for them go into `ends`. */
const nativeStdio = (engine: Engine, stdio: SpawnSpec["stdio"], ends: NativeEnds): Array<[number, number]> => {
  const pairs: Array<[number, number]> = []
  for (const [fd, source] of stdio) {
    switch (source._tag) {
      case "Ignore":
        pairs.push([fd, fd <= 2 ? StdioDevNull : StdioClosed])
        break
      case "Inherit":
        pairs.push([fd, fd])
        break
      case "Fd":
        pairs.push([fd, source.fd])
        break
      case "Socket":
        pairs.push([fd, socketFd(source.socket)])
        break
      case "SameAs": {
        const shared = pairs.find(([earlier]) => earlier === source.fd)
        if (shared === undefined) throw new RangeError(`child fd ${fd} shares fd ${source.fd}, which comes later`)
        pairs.push([fd, shared[1]])
        break
      }
      case "Pipe": {
        // Into the child, a socket pair: a pipe wakes its writer whenever the reader frees any
        // room (feeding `wc -c`, 16 KiB writes), a socket once half its buffer is free. Out of
        // the child, a pipe; stdout's with a larger kernel buffer, so a fast writer and a Node
        // reader meet less often. Only stdout's: an unprivileged user's pipes share a budget
        // (pipe-user-pages-soft, 64 MiB), past which all of that user's new pipes get tiny ones.
        const [ours, theirs] = source.toChild
          ? engine.makeSocketPair()
          : engine.makePipe(fd === 1 ? largePipe : undefined)
        ends.child.push(theirs!)
        ends.parent.set(fd, ours!)
        pairs.push([fd, theirs!])
        break
      }
    }
  }
  return pairs
}

const nativeSpec = (spec: SpawnSpec, stdio: Array<[number, number]>): EngineSpawnSpec => ({
  path: spec.path,
  argv: spec.argv,
  // On the main thread the engine copies C's environ, which is what process.env holds there.
  envp: spec.env === undefined && isMainThread ? null : envp(spec.env ?? process.env),
  cwd: spec.cwd ?? null,
  stdio,
  newGroup: spec.newGroup,
  deathSignal: spec.deathSignal ?? null,
  supervisor: spec.supervisor
})

/** Our end of a child's pipe, handed to the engine (`open`) once when asked, closed once either way. */
const rawEnd = (engine: Engine, fd: number) => {
  let end: EngineReader | undefined
  let closed = false
  return {
    open: (make: (fd: number) => EngineReader) => {
      if (closed || end !== undefined) return
      try {
        end = make(fd)
      } catch (error) {
        // The engine closed the fd: its number may be someone else's by now.
        closed = true
        throw error
      }
    },
    close: () => {
      if (closed) return
      closed = true
      if (end !== undefined) end.close()
      else engine.closeFd(fd)
    }
  }
}

const rawOutput = (engine: Engine, fd: number): RawOutput => {
  const end = rawEnd(engine, fd)
  return { read: (onData, onEnd) => end.open((fd) => engine.readPipe(fd, onData, onEnd)), close: end.close }
}

const rawInput = (engine: Engine, fd: number): RawInput => {
  const end = rawEnd(engine, fd)
  return { write: (bytes, onEnd) => end.open((fd) => engine.writePipe(fd, bytes, onEnd)), close: end.close }
}

/** The started child as `Child`: our pipe ends become streams (or raw outputs). */
const nativeChild = (
  engine: Engine,
  child: EngineChild,
  spec: SpawnSpec,
  parentEnds: ReadonlyMap<number, number>,
  notifier: ReturnType<typeof exitNotifier>
): Child => {
  const pipes = new Map<number, Readable | Writable>()
  const outputs = new Map<number, RawOutput>()
  const inputs = new Map<number, RawInput>()
  for (const [childFd, fd] of parentEnds) {
    const source = spec.stdio.get(childFd) as { readonly toChild: boolean }
    if (spec.rawPipes === true) {
      if (source.toChild) inputs.set(childFd, rawInput(engine, fd))
      else outputs.set(childFd, rawOutput(engine, fd))
    } else {
      const socket = source.toChild ? new Net.Socket({ fd, readable: false, writable: true }) : userBufferReader(fd)
      // The socket's now: it closes the fd. Released only once the socket holds it: a worker
      // terminated in between (between any two statements) leaves it to both, and the engine's
      // close at the env's end skips an fd that is no longer the same file, never one nobody has.
      engine.releaseFd(fd)
      pipes.set(childFd, socket)
    }
  }
  return {
    pid: child.pid,
    pipes,
    outputs,
    inputs,
    onExit: notifier.onExit,
    exited: notifier.exited,
    kill: (signal, group) => child.kill(Signal.numbers[signal], group),
    unref: () => {
      child.unref()
      for (const pipe of pipes.values()) (pipe as Net.Socket).unref()
    }
  }
}

const spawnNative = (engine: Engine, spec: SpawnSpec, callback: (result: Child | NodeJS.ErrnoException) => void) => {
  const ends: NativeEnds = { child: [], parent: new Map() }
  let stdio: Array<[number, number]>
  try {
    stdio = nativeStdio(engine, spec.stdio, ends)
  } catch (error) {
    closeEnds(engine, ends, true)
    return callback(error as NodeJS.ErrnoException)
  }
  const notifier = exitNotifier()
  /** The spawn failed: nothing of it runs, and every end made for it is closed. */
  const notStarted = (error: NodeJS.ErrnoException) => {
    nativeInFlight--
    closeEnds(engine, ends, true)
    callback(error)
  }
  const started = (child: EngineChild) => {
    closeEnds(engine, ends, false)
    callback(nativeChild(engine, child, spec, ends.parent, notifier))
  }
  const exited = (exit: EngineExit) => {
    nativeInFlight--
    notifier.done(exit)
  }
  const engineSpec = nativeSpec(spec, stdio)
  const alone = nativeInFlight++ === 0
  let child: EngineChild
  try {
    if (!isMainThread || !alone) {
      // Off the event loop: 32 spawns at once would block it 32 times, and one core would do all.
      return engine.spawnAsync(
        engineSpec,
        (error, child) => (error !== null ? notStarted(error) : started(child!)),
        exited
      )
    }
    // Nothing else of ours is starting or running: spawn right here. The loop waits until the
    // child's exec (about 0.2 ms: the clone shares our memory, so the parent's size does not
    // matter), and the spawn skips two thread hand-offs, about 0.1 ms of a sequential spawn.
    child = engine.spawn(engineSpec, exited)
  } catch (error) {
    return notStarted(error as NodeJS.ErrnoException)
  }
  started(child)
}

/**
 * This thread's native children that are being spawned or still run (until reaped). Only when
 * there is none does the main thread spawn synchronously (see spawnNative).
 */
let nativeInFlight = 0

/**
 * Spawns and calls back once: with the child after the OS started it, or with the errno error of
 * a failed spawn (then nothing is running and nothing is left open).
 */
export const spawn = (
  engine: Engine | null,
  spec: SpawnSpec,
  callback: (result: Child | NodeJS.ErrnoException) => void
): void => {
  // Paced like exits: 32 spawns completing in one turn would each resume their fiber there.
  const deliver = (result: Child | NodeJS.ErrnoException) => paced(() => callback(result))
  return engine !== null ? spawnNative(engine, spec, deliver) : spawnChildProcess(spec, deliver)
}
