/**
 * The one place that touches `node:child_process`: a fully resolved spec in; pid, parent-side
 * pipe ends and an exit notification out. Everything above (stdio wiring, buffers, kill-and-reap,
 * errors) works on `Child`, so another engine can replace this file.
 */
import * as ChildProcess from "node:child_process"
import type * as Net from "node:net"
import type { Readable, Writable } from "node:stream"

/** What the child gets at one fd number. */
export type StdioSource =
  | { readonly _tag: "Ignore" }
  | { readonly _tag: "Inherit" }
  | { readonly _tag: "Fd"; readonly fd: number }
  | { readonly _tag: "Pipe" }
  | { readonly _tag: "Socket"; readonly socket: Net.Socket }

export interface SpawnSpec {
  /** Absolute path of the program, already resolved. */
  readonly path: string
  /** argv[0] as the child sees it, then the arguments. */
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly cwd: string | undefined
  /** Index = the child's fd number. */
  readonly stdio: ReadonlyArray<StdioSource>
  /** Start the child in a new process group (and session, until the helper brings setpgid). */
  readonly newGroup: boolean
}

export interface ExitInfo {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Child {
  readonly pid: number
  /** The parent's end of each `Pipe` source, by child fd number. */
  readonly pipes: ReadonlyArray<Readable | Writable | null>
  /** Calls back once, after the child was reaped. */
  readonly onExit: (callback: (info: ExitInfo) => void) => void
  /** Whether the child was reaped. */
  readonly exited: () => boolean
  /** Lets the parent exit while the child runs. */
  readonly unref: () => void
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
  }
}

/**
 * Spawns and calls back once: with the child after the OS started it, or with the errno error of
 * a failed spawn (then nothing is running).
 */
export const spawn = (spec: SpawnSpec, callback: (result: Child | NodeJS.ErrnoException) => void): void => {
  let child: ChildProcess.ChildProcess
  try {
    child = ChildProcess.spawn(spec.path, spec.argv.slice(1), {
      argv0: spec.argv[0] ?? spec.path,
      env: spec.env,
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      stdio: spec.stdio.map(toNode),
      detached: spec.newGroup,
      windowsHide: true
    })
  } catch (error) {
    callback(error as NodeJS.ErrnoException)
    return
  }
  let exit: ExitInfo | undefined
  const waiters: Array<(info: ExitInfo) => void> = []
  child.once("exit", (code, signal) => {
    exit = { code, signal }
    for (const waiter of waiters.splice(0)) waiter(exit)
  })
  const onSpawn = () => {
    child.off("error", onError)
    // Later errors (a failed kill) must not crash the process; they are reported where they happen.
    child.on("error", () => {})
    callback({
      pid: child.pid!,
      pipes: child.stdio.map((s) => s ?? null),
      onExit: (waiter) => (exit !== undefined ? waiter(exit) : void waiters.push(waiter)),
      exited: () => exit !== undefined,
      unref: () => child.unref()
    })
  }
  const onError = (error: NodeJS.ErrnoException) => {
    child.off("spawn", onSpawn)
    // After EMFILE/ENFILE Node gives up before setting up `stdio`: it is undefined then.
    for (const pipe of (child.stdio as typeof child.stdio | undefined) ?? []) pipe?.destroy()
    callback(error)
  }
  child.once("spawn", onSpawn)
  child.once("error", onError)
}
