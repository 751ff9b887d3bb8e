/**
 * What is refused before anything is opened for a stage: settings only the missing helper could
 * apply, fds the child cannot have, a working directory that is not there, a program that is not
 * found or not executable. Decides whether the stage goes through the helper.
 */
import type { CommandExecutor } from "@effect-command/core"
import { CommandError } from "@effect-command/core"
import * as Effect from "effect/Effect"

import type { Engine } from "./engine.js"
import { closeAll, unplaceableFds } from "./fds.js"
import { checkExecutableFormat, checkWorkingDirectory, fromErrno, resolveProgram } from "./resolve.js"

/** How the stage is spawned, once nothing stands in its way. */
export interface Cleared {
  /** The setup helper to spawn it through, or null to spawn the program itself. */
  readonly helper: string | null
  /** Whether the helper stays as the stage's supervisor (containment). */
  readonly contained: boolean
  /** The program's path: resolved, or absolute as given when a failed execve is explained afterwards. */
  readonly path: string
  /** The error for a failed spawn. */
  readonly execFailure: (error: NodeJS.ErrnoException) => CommandError.SpawnError
}

/**
 * Settings only the child-side helper can apply; refused without it rather than
 * ignored. The native engine makes a child die with its parent itself.
 */
export const needsHelper = (stage: CommandExecutor.SpawnStage, engine: Engine | null): ReadonlyArray<string> => {
  const { setup } = stage
  const found: Array<string> = []
  if (setup.contain === true) found.push("containment")
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

/** `a`, `a and b`, `a, b and c`. */
const listed = (items: ReadonlyArray<string>): string =>
  items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`

/**
 * Whether a stage is contained: as the command says, else as the layer says wherever the helper
 * runs. A daemon never is (validation refuses `contain(true)` with `daemonize`).
 */
export const isContained = (
  stage: CommandExecutor.SpawnStage,
  options: { readonly helper: string | null; readonly contain: boolean }
): boolean => !stage.setup.daemonize && (stage.setup.contain ?? (options.contain && options.helper !== null))

/**
 * The checks, in order; a refusal closes the fds the stage would have closed after its spawn
 * (virCommandPassFD) and is returned.
 */
export const clearStage = (
  stage: CommandExecutor.SpawnStage,
  engine: Engine | null,
  options: { readonly helper: string | null; readonly helperMissing: string; readonly contain: boolean }
): Cleared | CommandError.SpawnError | CommandError.CommandUsageError => {
  const { cwd, line, program } = stage
  const refuse = (error: CommandError.SpawnError | CommandError.CommandUsageError) => {
    closeAll(stage.passFds.filter((p) => p.closeParent).map((p) => p.fd))
    return error
  }
  const missing = needsHelper(stage, engine)
  const contained = isContained(stage, options)
  // With the native engine the helper runs only for what the engine cannot do itself.
  const helper = engine !== null && missing.length === 0 && !contained ? null : options.helper
  if (helper === null && missing.length > 0) {
    return refuse(
      new CommandError.SpawnError({
        reason: "HelperMissing",
        stage: "setup",
        detail: `the child-side helper is needed for ${listed(missing)}, but ${options.helperMissing}`,
        command: line
      })
    )
  }
  const badFds = unplaceableFds(stage, engine)
  if (badFds.length > 0) return refuse(new CommandError.CommandUsageError({ reasons: badFds, command: line }))
  const badCwd = checkWorkingDirectory(cwd, line)
  if (badCwd !== undefined) return refuse(badCwd)
  // An absolute program that the native engine execs itself is not checked first: a failed
  // execve is explained afterwards, the same way, at no cost to the spawns that work.
  const checkAfter = helper === null && engine !== null && program.startsWith("/")
  const path = checkAfter ? program : resolveProgram(program, cwd, line)
  if (typeof path !== "string") return refuse(path)
  // Spawned directly by child_process, whose exec would hand any other file to /bin/sh.
  const notExecutable = helper === null && engine === null ? checkExecutableFormat(path, cwd, line) : undefined
  if (notExecutable !== undefined) return refuse(notExecutable)
  const execFailure = (error: NodeJS.ErrnoException) => {
    const explained = checkAfter && error.syscall === "execve" ? resolveProgram(path, cwd, line) : undefined
    return typeof explained === "object" ? explained : fromErrno(error, line, cwd)
  }
  return { helper, contained: contained && helper !== null, path, execFailure }
}

/** Whether {@link clearStage} refused the stage. */
export const isRefusal = (
  cleared: Cleared | CommandError.SpawnError | CommandError.CommandUsageError
): cleared is CommandError.SpawnError | CommandError.CommandUsageError => "_tag" in cleared

/** {@link clearStage} as an effect. */
export const preflight = (
  stage: CommandExecutor.SpawnStage,
  engine: Engine | null,
  options: { readonly helper: string | null; readonly helperMissing: string; readonly contain: boolean }
): Effect.Effect<Cleared, CommandError.SpawnError | CommandError.CommandUsageError> =>
  Effect.suspend(() => {
    const cleared = clearStage(stage, engine, options)
    return isRefusal(cleared) ? Effect.fail(cleared) : Effect.succeed(cleared)
  })
