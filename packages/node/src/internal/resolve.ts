/** Turning a Command's program and working directory into what exec needs, with exact errors. */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Util from "node:util"

import type { CommandError } from "@effect-command/core"
import { CommandError as Errors } from "@effect-command/core"

type SpawnError = CommandError.SpawnError

const accessible = (path: string): "ok" | "missing" | "directory" | "denied" => {
  let stat: Fs.Stats
  try {
    stat = Fs.statSync(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === "EACCES" ? "denied" : "missing"
  }
  if (stat.isDirectory()) return "directory"
  try {
    Fs.accessSync(path, Fs.constants.X_OK)
    return "ok"
  } catch {
    return "denied"
  }
}

/**
 * The absolute path to exec: an absolute program as is, a relative one with a `/` against the
 * child's working directory, a bare name searched in the parent's PATH now (like virCommand and
 * execvp; the child's own PATH is not used).
 */
export const resolveProgram = (
  program: string,
  cwd: string | undefined,
  command: string
): SpawnError | string => {
  const fail = (reason: SpawnError["reason"], errno: string, detail: string) =>
    new Errors.SpawnError({ reason, errno, detail, command, stage: "execve" })
  const check = (path: string): SpawnError | string => {
    switch (accessible(path)) {
      case "ok":
        return path
      case "missing":
        return fail("NotFound", "ENOENT", `no such file: ${path}`)
      case "directory":
        return fail("NotExecutable", "EACCES", `${path} is a directory`)
      case "denied":
        return fail("PermissionDenied", "EACCES", `${path} is not executable by this user`)
    }
  }
  if (program.startsWith("/")) return check(program)
  if (program.includes("/")) return check(Path.resolve(cwd ?? process.cwd(), program))
  const searchPath = process.env.PATH ?? ""
  let denied: string | undefined
  for (const dir of searchPath.split(":")) {
    const candidate = Path.resolve(dir === "" ? "." : dir, program)
    const state = accessible(candidate)
    if (state === "ok") return candidate
    if (state === "denied") denied ??= candidate
  }
  return denied !== undefined
    ? fail("PermissionDenied", "EACCES", `${denied} is not executable by this user`)
    : fail("NotFound", "ENOENT", `${program} is not in PATH=${searchPath}`)
}

/** What the kernel reads of a file to choose how to run it (BINPRM_BUF_SIZE). */
const headerSize = 256

/** How deep `#!` interpreters are followed: past the kernel's own limit, where exec fails with ELOOP. */
const maxInterpreters = 8

/** A file's first bytes; undefined when it cannot be read or is not a regular file. */
const headerOf = (path: string): Buffer | undefined => {
  try {
    // Non-blocking: opening a FIFO must not wait for a writer.
    const fd = Fs.openSync(path, Fs.constants.O_RDONLY | Fs.constants.O_NONBLOCK)
    try {
      if (!Fs.fstatSync(fd).isFile()) return undefined
      const head = Buffer.alloc(headerSize)
      return head.subarray(0, Fs.readSync(fd, head, 0, headerSize, 0))
    } finally {
      Fs.closeSync(fd)
    }
  } catch {
    return undefined
  }
}

/** An ELF file's class, byte order and machine: what must match this process's own binary. */
const elfMachine = (head: Buffer): string | undefined =>
  head.length < 20
    ? undefined
    : `${head[4]}/${head[5]}/${head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18)}`

let ownMachine: string | undefined
const nodeMachine = (): string | undefined => (ownMachine ??= elfMachine(headerOf(process.execPath) ?? Buffer.alloc(0)))

const isElf = (head: Buffer) => head.length >= 4 && head.readUInt32BE(0) === 0x7f454c46

/** Why the kernel would refuse `path` with ENOEXEC, or undefined when it runs it or fails otherwise. */
const execFormatProblem = (path: string, cwd: string, depth: number): string | undefined => {
  const head = headerOf(path)
  // Unreadable, missing, not a regular file: exec fails with EACCES or ENOENT, no shell follows.
  if (head === undefined) return undefined
  if (isElf(head)) {
    const own = nodeMachine()
    return own === undefined || elfMachine(head) === own ? undefined : `${path} is an ELF binary for another machine`
  }
  if (head.toString("latin1", 0, 2) !== "#!") return `${path} is neither an ELF binary nor a #! script`
  const end = head.indexOf(10)
  if (end < 0 && head.length === headerSize) return `the #! line of ${path} is longer than the kernel reads`
  const interpreter = head.toString("latin1", 2, end < 0 ? head.length : end).trim().split(/[ \t]/)[0]!
  if (interpreter === "") return `the #! line of ${path} names no interpreter`
  return depth + 1 >= maxInterpreters ? undefined : execFormatProblem(Path.resolve(cwd, interpreter), cwd, depth + 1)
}

/**
 * Refuses a program the kernel would refuse with ENOEXEC: not an ELF binary for this machine, not
 * a `#!` script whose interpreter is one (or another such script). Only for a direct
 * `child_process` spawn, whose exec (libuv's execvp) would run such a file with `/bin/sh` instead
 * of failing; the helper and the native engine call execve, which fails by itself. Formats the
 * kernel runs through binfmt_misc are refused there too.
 */
export const checkExecutableFormat = (
  path: string,
  cwd: string | undefined,
  command: string
): SpawnError | undefined => {
  const problem = execFormatProblem(path, cwd ?? process.cwd(), 0)
  return problem === undefined ? undefined : new Errors.SpawnError({
    reason: "NotExecutable",
    errno: "ENOEXEC",
    stage: "execve",
    detail: problem,
    command
  })
}

/** A missing or non-directory working directory, as its own error rather than exec's ENOENT. */
export const checkWorkingDirectory = (cwd: string | undefined, command: string): SpawnError | undefined => {
  if (cwd === undefined) return undefined
  try {
    if (Fs.statSync(cwd).isDirectory()) return undefined
    return new Errors.SpawnError({
      reason: "BadWorkingDirectory",
      errno: "ENOTDIR",
      stage: "chdir",
      detail: `${cwd} is not a directory`,
      command
    })
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code ?? "ENOENT"
    return new Errors.SpawnError({
      reason: "BadWorkingDirectory",
      errno,
      stage: "chdir",
      detail: `cannot use ${cwd} as working directory`,
      command
    })
  }
}

/** The reason for an errno from exec (or the spawn around it). */
export const reasons: Record<string, SpawnError["reason"]> = {
  ENOENT: "NotFound",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  ENOEXEC: "NotExecutable",
  EISDIR: "NotExecutable",
  ETXTBSY: "NotExecutable",
  EMFILE: "TooManyOpenFiles",
  ENFILE: "TooManyOpenFiles",
  E2BIG: "ArgumentListTooLong",
  ENOTDIR: "BadWorkingDirectory"
}

/**
 * A child-side step that failed before the exec, the helper's or the native engine's: the exec
 * itself by its errno, the working directory as such, any other step as `otherwise` says (the
 * helper's own setup steps: SetupFailed; the engine's fd steps: by errno, like child_process's).
 */
export const stepError = (
  stage: string,
  errno: string,
  command: string,
  cwd: string | undefined,
  otherwise: SpawnError["reason"],
  extra: { readonly detail?: string; readonly cause?: unknown } = {}
): SpawnError =>
  new Errors.SpawnError({
    reason: stage === "execve" ? reasons[errno] ?? "Unknown" : stage === "chdir" ? "BadWorkingDirectory" : otherwise,
    stage,
    errno,
    command,
    ...(stage === "chdir" ? { detail: `cannot use ${cwd} as working directory` } : {}),
    ...extra
  })

/** The steps the native engine runs in the child before the exec, as it names a failed one. */
const childSteps = new Set(["setsid", "setpgid", "prctl", "dup2", "open", "fcntl", "close_range", "chdir", "execve"])

/** A spawn failure reported by the OS. */
export const fromErrno = (error: NodeJS.ErrnoException, command: string, cwd: string | undefined): SpawnError => {
  const errno = error.code ?? "EUNKNOWN"
  if (error.syscall !== undefined && childSteps.has(error.syscall)) {
    return stepError(error.syscall, errno, command, cwd, reasons[errno] ?? "Unknown", { cause: error })
  }
  let reason = reasons[errno] ?? "Unknown"
  // libuv reports a working directory that vanished after our check as ENOENT from chdir.
  if (errno === "ENOENT" && cwd !== undefined && !Fs.existsSync(cwd)) reason = "BadWorkingDirectory"
  // Not Node's message: it names the file spawned, which is the helper when one is used.
  const detail = errno === "E2BIG"
    ? "the arguments and environment exceed the kernel's limit"
    : errno === "EMFILE" || errno === "ENFILE"
    ? "the parent has too many open files"
    : errno === "EAGAIN"
    ? "too many processes: this user's limit (ulimit -u) or the system's is reached"
    : (error.errno !== undefined ? Util.getSystemErrorMap().get(error.errno)?.[1] : undefined) ?? error.message
  // Node's error lists the real arguments (`spawnargs`), Redacted ones included: not in our error.
  delete (error as { spawnargs?: unknown }).spawnargs
  return new Errors.SpawnError({ reason, errno, detail, command, cause: error })
}
