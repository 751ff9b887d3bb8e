/** Turning a Command's program and working directory into what exec needs, with exact errors. */
import type { CommandError } from "@effect-command/core"
import { CommandError as Errors } from "@effect-command/core"
import * as Fs from "node:fs"
import * as Path from "node:path"

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
  const detail = errno === "E2BIG"
    ? "the arguments and environment exceed the kernel's limit"
    : errno === "EMFILE" || errno === "ENFILE"
    ? "the parent has too many open files"
    : error.message
  // Node's error lists the real arguments (`spawnargs`), Redacted ones included: not in our error.
  delete (error as { spawnargs?: unknown }).spawnargs
  return new Errors.SpawnError({ reason, errno, detail, command, cause: error })
}
