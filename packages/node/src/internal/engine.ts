/**
 * The native spawn engine (native/engine.c; shipped in prebuilds/, or built to build/engine.node by
 * scripts/build-native.mjs): its typed interface and a loader. clone(CLONE_VM | CLONE_VFORK) like
 * posix_spawn (the cost does not grow with the parent's memory), the child running the setup
 * helper's own steps (native/setup.c) before the exec, real pipes, exit through a pidfd on the libuv
 * loop. Linux only. This file is where the engine's JS API is described.
 */
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

import { buildCommand, findNative } from "./native-files.js"

/** The API version this file expects; the addon exports its own as `abi`. */
export const ENGINE_ABI = 9

/** A child fd gets this parent fd: the fd number, or one of these markers. */
export const StdioDevNull = -1
export const StdioClosed = -2

export interface EngineSpawnSpec {
  /** Absolute path of the program, already resolved (no PATH search). */
  readonly path: string
  /** argv[0] as the child sees it, then the arguments. */
  readonly argv: ReadonlyArray<string>
  /**
   * The whole environment, "NAME=VALUE" each, passed exactly; null: the process's own (C
   * `environ`, copied when the spawn is called: on the main thread, what `process.env` holds).
   */
  readonly envp: ReadonlyArray<string> | null
  readonly cwd: string | null
  /**
   * `[childFd, source]` pairs, each child fd once, in any order: the source is the parent fd the
   * child fd gets (`[i, i]` passes fd i at its number), {@link StdioDevNull} or
   * {@link StdioClosed}. Every other fd is closed in the child; all signals are default and
   * unblocked there. The cost follows the number of pairs, not the fd numbers.
   */
  readonly stdio: ReadonlyArray<readonly [childFd: number, source: number]>
  /** The child leads a new process group. */
  readonly newGroup: boolean
  /** The child leads a new session (and so a new group). */
  readonly newSession?: boolean
  /** The signal (a number) the child gets when the spawning thread ends (PR_SET_PDEATHSIG). */
  readonly deathSignal?: number | null
  /** A containment supervisor: at teardown SIGTERM (it then SIGKILLs its tree), SIGKILL 2 s later. */
  readonly supervisor?: boolean
}

export interface EngineExit {
  /** The exit code, or null when a signal ended the child. */
  readonly code: number | null
  /** The signal's name ("SIGKILL"), or null when the child exited. */
  readonly signal: NodeJS.Signals | null
  readonly coreDumped: boolean
}

export interface EngineChild {
  readonly pid: number
  /**
   * Sends a signal number (`os.constants.signals`; 0 probes) to the child through its pidfd, or
   * with `group` to the process group it leads (`kill(-pid)`; the child alone while it leads none,
   * such as before the setup helper's setpgid). Whether anyone got it: false, not an exception,
   * once the child was reaped or when nobody is there (ESRCH). The engine reaps the child on this
   * same thread, so it is never reaped in between: neither a reused pid nor a reused group id is
   * ever signalled. Call it as a method.
   */
  kill(signal: number, group?: boolean): boolean
  /** Lets the loop (and so the process or worker) end while the child runs. */
  unref(): void
  /** Undoes `unref`: the running child keeps the loop alive again (the default). */
  ref(): void
}

/** A pipe being read by {@link Engine.readPipe}, or written by {@link Engine.writePipe}. */
export interface EngineReader {
  /** Stops reading (or writing) and closes the fd; no callback comes after it. Call it as a method. */
  close(): void
}

export interface Engine {
  readonly abi: number
  /** Set when the kernel lacks what the engine needs (pidfds, Linux 5.4): do not use it then. */
  readonly unavailable?: string
  /**
   * pipe2(O_CLOEXEC): `[readFd, writeFd]`. `capacity` asks for that many bytes of kernel buffer
   * (F_SETPIPE_SZ; best effort, the default is 64 KiB): 1 MiB lets a fast writer and a Node reader
   * meet less often. The engine keeps both fds until they are taken (`closeFd`, `releaseFd`,
   * `readPipe`, `writePipe`): those still kept when the thread's env ends (a terminated worker,
   * whose JavaScript closes nothing any more) are closed then. Close them with `closeFd` only.
   */
  makePipe(capacity?: number): [number, number]
  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected fds, kept like `makePipe`'s. */
  makeSocketPair(): [number, number]
  /** Closes an fd of `makePipe` or `makeSocketPair` nobody took; false (nothing closed) for any other. */
  closeFd(fd: number): boolean
  /** Takes an fd of `makePipe` or `makeSocketPair` from the engine (for a Node socket, which closes it). */
  releaseFd(fd: number): void
  /**
   * The process's environment as "NAME=VALUE" strings, read from C's `environ` in one call. On the
   * main thread that is what `process.env` reads and writes (reading `process.env` whole costs a
   * getenv per variable); a worker's `process.env` is a copy, so use it there instead.
   */
  environ(): Array<string>
  /**
   * kill(2) that answers 0 or the errno (ESRCH: nobody there) instead of throwing like
   * `process.kill`; a negative pid is a process group. 0 and -1 are refused (TypeError).
   */
  signalProcess(pid: number, signal: number): number
  /**
   * Takes a child that child_process spawned in this thread: when the thread's env is torn down
   * (a terminated worker, whose libuv would never reap it), it is SIGKILLed with its process group
   * (when it leads one) and reaped, like the engine's own; a `supervisor` gets SIGTERM first (it
   * then SIGKILLs its tree). False: the pid is gone already.
   */
  adopt(pid: number, supervisor?: boolean): boolean
  /** The adopted child exited and was reaped: drop it (before its pid can be reused). */
  forget(pid: number): void
  /** The adopted child was detached: at teardown it is left running, and reaped once it ends. */
  leave(pid: number): void
  /**
   * Reads a pipe out of a child on the loop, without a Node stream; takes `fd` (closed when the
   * reader ends, and at once if the call throws). Each chunk goes to `onData` as a view of a read
   * buffer every reader of the thread shares: lent, valid during the call only. `onData` returning
   * false stops reading and closes the fd. EOF calls `onEnd(0)`, a read error `onEnd(errno)`, once;
   * neither comes after `close()` or a false from `onData`. A reader keeps the loop alive, and is
   * closed when the thread's env is torn down.
   */
  readPipe(fd: number, onData: (bytes: Uint8Array) => boolean, onEnd: (errno: number) => void): EngineReader
  /**
   * Writes `bytes` into a pipe into a child on the loop, as fast as the child reads it, without a
   * Node stream (at most 4 MiB per turn of the loop); takes `fd` like `readPipe`. Once all of it
   * went out the fd is closed (the child's EOF) and `onEnd(0)` is called; a failed write closes it
   * and calls `onEnd(errno)`: EPIPE when the child closed its end, EFAULT when the bytes' buffer
   * was detached (transferred) meanwhile. Neither comes after `close()`. The bytes are not copied:
   * they must not change until the end.
   */
  writePipe(fd: number, bytes: Uint8Array, onEnd: (errno: number) => void): EngineReader
  /**
   * Starts the program, or throws an Error with `code` ("ENOENT", "EACCES", "ENOEXEC", ...),
   * negative `errno` and `syscall`: the step that failed ("execve" and "chdir", with `path`;
   * "dup2", "open" of /dev/null, "setpgid", "pidfd_open", ...); then nothing was started or left open.
   * `onExit` is called once, after the child was reaped, in the async context of this call.
   * When the env (worker or main thread) is torn down, children not unref'd are SIGKILLed (with
   * their process group when they lead one) and reaped; unref'd ones are left running.
   */
  spawn(spec: EngineSpawnSpec, onExit: (exit: EngineExit) => void): EngineChild
  /**
   * The same spawn on a libuv thread-pool thread: the event loop is not blocked while the kernel
   * starts the child (the spawn returns only after its exec). `onSpawn` comes from the loop with
   * the child, or with the error `spawn` would throw; the spec's fds must stay open until then.
   * A spec that is not valid throws at once, as with `spawn`.
   */
  spawnAsync(
    spec: EngineSpawnSpec,
    onSpawn: (error: NodeJS.ErrnoException | null, child: EngineChild | undefined) => void,
    onExit: (exit: EngineExit) => void
  ): void
}

/** Where a from-source build puts the addon (the same from src/ and dist/). */
export const enginePath: string = fileURLToPath(new URL("../../build/engine.node", import.meta.url))

let loaded: Engine | null | undefined
let reason: string | undefined

/**
 * The native engine, or null when there is none for this platform, it does not load, the platform
 * is not Linux or the kernel lacks pidfds (see {@link engineUnavailableReason}). Loaded once per
 * thread from `EFFECT_COMMAND_ENGINE` when set, else the package's own (built from source, else
 * prebuilt for this platform, arch and libc).
 */
export const loadEngine = (): Engine | null => {
  if (loaded !== undefined) return loaded
  loaded = null
  if (process.platform !== "linux") {
    reason = `the native engine is Linux-only (platform: ${process.platform})`
    return loaded
  }
  const found = process.env.EFFECT_COMMAND_ENGINE !== undefined
    ? { path: process.env.EFFECT_COMMAND_ENGINE }
    : findNative("engine.node", true)
  if ("missing" in found) {
    reason = `the native engine is not built: ${found.missing}`
    return loaded
  }
  const path = found.path
  try {
    const engine = createRequire(import.meta.url)(path) as Engine
    if (engine.abi !== ENGINE_ABI) {
      reason = `${path} has API version ${String(engine.abi)}, expected ${ENGINE_ABI}: rebuild it (\`${buildCommand}\`)`
    } else if (engine.unavailable !== undefined) {
      reason = `the native engine cannot run on this kernel: ${engine.unavailable}`
    } else {
      loaded = engine
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    reason = code === "MODULE_NOT_FOUND"
      ? `${path} does not exist`
      : `${path} does not load: ${error instanceof Error ? error.message : String(error)}`
  }
  return loaded
}

/** Why {@link loadEngine} returned null; undefined when it loaded (or was not tried yet). */
export const engineUnavailableReason = (): string | undefined => reason
