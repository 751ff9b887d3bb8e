/**
 * The child-side setup helper (native/helper.c): finding it, turning a Command's setup into its
 * arguments, and its failure records into typed errors.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"

import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError, Signal } from "@effect-command/core"
import * as Duration from "effect/Duration"

import { buildHint, findNative } from "./native-files.js"
import { stepError } from "./resolve.js"

/** The helper a layer uses (`path`), or why it has none (`missing`: said when a command needs it). */
export interface FoundHelper {
  readonly path: string | null
  readonly missing: string
}

/**
 * Looks for the helper the layer option `helper` names: `"auto"` (the path in
 * `EFFECT_COMMAND_HELPER`, else the package's own: built from source, else prebuilt; statically
 * linked, so one binary serves glibc and musl), `"never"`, or a path. Called when a layer is built.
 */
export const findHelper = (setting: string): FoundHelper => {
  const none = (missing: string): FoundHelper => ({ path: null, missing })
  if (setting === "never") return none("it is switched off by the layer option `helper: \"never\"`")
  if (process.platform !== "linux") return none(`it runs on Linux only, not on ${process.platform}`)
  const given = setting === "auto" ? process.env.EFFECT_COMMAND_HELPER : setting
  const own = given === undefined ? findNative("effect-command-helper", false) : undefined
  if (own !== undefined && "missing" in own) return none(`it is not built: ${own.missing}`)
  const candidate = given ?? own!.path
  let problem: string
  try {
    Fs.accessSync(candidate, Fs.constants.X_OK)
    problem = Fs.statSync(candidate).isFile() ? "" : "not a file"
  } catch (error) {
    problem = (error as NodeJS.ErrnoException).code ?? "not usable"
  }
  if (problem === "") return { path: candidate, missing: "" }
  if (given === undefined) return none(`${candidate} is not an executable file (${problem}): ${buildHint}`)
  const from = setting === "auto" ? "EFFECT_COMMAND_HELPER names" : "the layer option `helper` names"
  return none(`${from} ${candidate}, which is not an executable file (${problem})`)
}

/** The child fds the helper uses (it closes them at the exec): the lowest ones the command leaves free. */
export interface HelperFds {
  readonly status: number
  readonly handshakeReady: number | undefined
  readonly handshakeWait: number | undefined
  /** The supervisor's control pipe, when the stage is contained. */
  readonly control: number | undefined
}

export const helperFds = (stage: CommandExecutor.SpawnStage, contained: boolean): HelperFds => {
  const taken = new Set([...stage.passFds.map((p) => p.fd), ...stage.inputFds.map((p) => p.fd)])
  // Low numbers, whatever fds the command passes: the highest one + 1 could be past the fd limit.
  const free: Array<number> = []
  for (let fd = 3; free.length < 4; fd++) if (!taken.has(fd)) free.push(fd)
  return {
    status: free[0]!,
    handshakeReady: stage.setup.handshake ? free[1] : undefined,
    handshakeWait: stage.setup.handshake ? free[2] : undefined,
    control: contained ? free[3] : undefined
  }
}

/**
 * The signal number a child gets when its parent dies (PR_SET_PDEATHSIG), or undefined: non-daemon
 * children die with the parent unless told otherwise. Set by the helper or the native engine.
 */
export const deathSignal = (stage: CommandExecutor.SpawnStage): number | undefined => {
  const signal = stage.setup.dieWithParent ?? (stage.setup.daemonize ? false : "SIGKILL")
  return signal === false ? undefined : Signal.numbers[signal]
}

/** The helper's argv, up to and including `--`; the target's path and argv follow. */
export const helperArgs = (
  stage: CommandExecutor.SpawnStage,
  fds: HelperFds,
  options: { readonly stderrToStdout: boolean; readonly links: ReadonlyArray<string> }
): Array<string> => {
  const { setup } = stage
  const args = ["--status-fd", String(fds.status)]
  if (setup.umask !== undefined) args.push("--umask", setup.umask.toString(8))
  for (const { fd } of [...stage.passFds, ...stage.inputFds]) args.push("--keep-fd", String(fd))
  if (options.stderrToStdout) args.push("--stderr-to-stdout")
  args.push("--pgid", setup.processGroup)
  const signal = deathSignal(stage)
  if (signal !== undefined) args.push("--pdeathsig", String(signal), "--parent-pid", String(process.pid))
  if (setup.daemonize) args.push("--daemonize")
  if (setup.pidFile !== undefined) args.push("--pidfile", setup.pidFile)
  for (const { hard, resource, soft } of setup.limits) args.push("--rlimit", `${resource}:${soft}:${hard}`)
  for (const action of setup.preExec) {
    switch (action._tag) {
      case "Nice":
        args.push("--nice", String(action.increment))
        break
      case "Setsid":
        args.push("--setsid")
        break
      case "NoNewPrivileges":
        args.push("--no-new-privs")
        break
      case "OomScoreAdjust":
        args.push("--oom-score-adj", String(action.value))
        break
      case "IoPriority":
        args.push("--ioprio", `${action.class}:${action.level}`)
        break
    }
  }
  if (setup.uid !== undefined) args.push("--uid", String(setup.uid))
  if (setup.gid !== undefined) args.push("--gid", String(setup.gid))
  if (setup.groups !== undefined) args.push("--groups", setup.groups.join(","))
  if (setup.clearCaps) args.push("--clear-caps")
  for (const capability of setup.allowCaps) args.push("--allow-cap", String(Command.capabilities[capability]))
  if (stage.cwd !== undefined) args.push("--cwd", stage.cwd)
  if (fds.handshakeReady !== undefined && fds.handshakeWait !== undefined) {
    args.push("--handshake-ready", String(fds.handshakeReady), "--handshake-wait", String(fds.handshakeWait))
  }
  if (fds.control !== undefined) {
    // The grace between a death signal other than SIGKILL and SIGKILL (always finite; at most ~24 days).
    const grace = Math.min(Math.ceil(Duration.toMillis(stage.killPolicy.grace)), 2 ** 31 - 1)
    args.push("--contain", String(fds.control), "--contain-grace", String(grace))
  }
  args.push(...options.links, "--")
  return args
}

/** errno numbers to names; where two names share a number (EAGAIN, EWOULDBLOCK) the first, as Node reports it. */
const errnoNames = new Map<number, string>()
for (const [name, n] of Object.entries(Os.constants.errno)) if (!errnoNames.has(n)) errnoNames.set(n, name)

/** A failure the helper reported: `<stage> <errno>\n`. */
export const parseStatus = (record: string): { readonly stage: string; readonly errno: string } | undefined => {
  const match = /^(\S+) (\d+)\n?$/.exec(record)
  if (match === null) return undefined
  const n = Number(match[2])
  return { stage: match[1]!, errno: errnoNames.get(n) ?? `errno ${n}` }
}

/** The typed error for a helper's failure record. */
export const setupError = (
  record: string,
  command: CommandExecutor.SpawnStage,
  line: string
): CommandError.SpawnError | CommandError.DaemonError => {
  const parsed = parseStatus(record)
  if (parsed === undefined) {
    return new CommandError.SpawnError({
      reason: "SetupFailed",
      detail: `the helper reported ${JSON.stringify(record)}`,
      command: line
    })
  }
  const { errno, stage } = parsed
  const pidFile = command.setup.pidFile
  if (stage === "pidfile-lock") {
    return new CommandError.DaemonError({
      reason: "PidFileLocked",
      ...(pidFile !== undefined ? { pidFile } : {}),
      command: line,
      cause: errno
    })
  }
  if (stage.startsWith("pidfile")) {
    // The helper writes only a regular file of one link, and never through a symlink.
    const why = stage === "pidfile-type"
      ? "not a regular file of one link"
      : stage === "pidfile-open" && errno === "ELOOP"
      ? "ELOOP (a symbolic link)"
      : errno
    return new CommandError.DaemonError({
      reason: "PidFileUnwritable",
      ...(pidFile !== undefined ? { pidFile } : {}),
      command: line,
      cause: `${stage}: ${why}`
    })
  }
  const detail = stage === "getpwnam"
    ? `unknown user ${String(command.setup.uid)}`
    : stage === "getgrnam"
    ? "unknown group"
    : undefined
  return stepError(stage, errno, line, command.cwd, "SetupFailed", detail !== undefined ? { detail } : {})
}
