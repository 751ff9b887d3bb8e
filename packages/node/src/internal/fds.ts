/**
 * The parent's fds for a child: files opened for its stdio, fds it is given checked (open, under
 * the limit the child starts with), and closing them again.
 */
import * as Fs from "node:fs"

import type { CommandExecutor } from "@effect-command/core"
import { CommandError } from "@effect-command/core"

import type { Engine } from "./engine.js"
import { childProcessFdBound } from "./spawn.js"

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
 * The fd goes into `opened`; a failure throws the SpawnError.
 */
export const openFile = (
  path: string,
  flags: keyof typeof fileFlags,
  what: string,
  line: string,
  opened: Array<number>
): number => {
  try {
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
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    const fifo = code === "EFIFO" || code === "ENXIO"
    throw new CommandError.SpawnError({
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
}

/** Closes fds of ours, whichever are still open. */
export const closeAll = (fds: ReadonlyArray<number>) => {
  for (const fd of fds) {
    try {
      Fs.closeSync(fd)
    } catch {
      // already closed by the caller: nothing left to release
    }
  }
}

/** A passed fd must be open in the parent: the child would get nothing, or another file later. Throws the SpawnError. */
export const checkPassedFd = (fd: number, line: string): void => {
  try {
    Fs.fstatSync(fd)
  } catch (cause) {
    throw new CommandError.SpawnError({
      reason: "Unknown",
      errno: "EBADF",
      stage: "passFd",
      detail: `fd ${fd} passed to the child is not open in the parent`,
      command: line,
      cause
    })
  }
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
 * {@link childProcessFdBound}.
 */
export const unplaceableFds = (stage: CommandExecutor.SpawnStage, engine: Engine | null): ReadonlyArray<string> => {
  const limit = childFdLimit()
  const reasons: Array<string> = []
  for (const { fd } of [...stage.passFds, ...stage.inputFds]) {
    if (fd >= limit) {
      reasons.push(`fd ${fd} is at or above the fd limit (RLIMIT_NOFILE ${limit}): the child cannot have it`)
    } else if (engine === null && fd > childProcessFdBound) {
      reasons.push(
        `fd ${fd} is above ${childProcessFdBound}, the highest fd the child_process engine gives a child (the native engine has no such bound)`
      )
    }
  }
  return reasons
}
