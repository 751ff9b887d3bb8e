/**
 * The child-side setup helper (native/helper.c): finding it, turning a Command's setup into its
 * arguments, and its failure records into typed errors.
 */
import { Command, CommandError, Signal } from "@effect-command/core"
import * as Fs from "node:fs"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import { stepError } from "./resolve.js"

/** Where the package's build step puts the helper (the same from src/ and dist/). */
const builtPath = fileURLToPath(new URL("../../build/effect-command-helper", import.meta.url))

/** How to build it, for errors that need it. */
export const buildHint = "build it with `pnpm --filter @effect-command/node run build:native` (needs a C compiler)"

let found: string | null | undefined

/** The helper's path, or null when it is not built (or not on Linux). Looked up once. */
export const helperPath = (): string | null => {
  if (found !== undefined) return found
  const candidate = process.env.EFFECT_COMMAND_HELPER ?? builtPath
  try {
    Fs.accessSync(candidate, Fs.constants.X_OK)
    found = process.platform === "linux" ? candidate : null
  } catch {
    found = null
  }
  return found
}

/** The child fds the helper uses, placed above every fd the command passes. */
export interface HelperFds {
  readonly status: number
  readonly handshakeReady: number | undefined
  readonly handshakeWait: number | undefined
}

export const helperFds = (command: Command.Command): HelperFds => {
  const highest = Math.max(2, ...command.passFds.map((p) => p.fd), ...command.inputFds.map((p) => p.fd))
  return {
    status: highest + 1,
    handshakeReady: command.setup.handshake ? highest + 2 : undefined,
    handshakeWait: command.setup.handshake ? highest + 3 : undefined
  }
}


/**
 * The signal number a child gets when its parent dies (PR_SET_PDEATHSIG), or undefined: non-daemon
 * children die with the parent unless told otherwise. Set by the helper or the native engine.
 */
export const deathSignal = (command: Command.Command): number | undefined => {
  const signal = command.setup.dieWithParent ?? (command.setup.daemonize ? false : "SIGKILL")
  return signal === false ? undefined : Signal.numbers[signal]
}

/** The helper's argv, up to and including `--`; the target's path and argv follow. */
export const helperArgs = (
  command: Command.Command,
  fds: HelperFds,
  options: { readonly stderrToStdout: boolean; readonly links: ReadonlyArray<string> }
): Array<string> => {
  const { setup } = command
  const args = ["--status-fd", String(fds.status)]
  if (setup.umask !== undefined) args.push("--umask", setup.umask.toString(8))
  for (const { fd } of [...command.passFds, ...command.inputFds]) args.push("--keep-fd", String(fd))
  if (options.stderrToStdout) args.push("--stderr-to-stdout")
  args.push("--pgid", setup.processGroup)
  const signal = deathSignal(command)
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
  if (command.cwd !== undefined) args.push("--cwd", command.cwd)
  if (fds.handshakeReady !== undefined && fds.handshakeWait !== undefined) {
    args.push("--handshake-ready", String(fds.handshakeReady), "--handshake-wait", String(fds.handshakeWait))
  }
  args.push(...options.links, "--")
  return args
}

const errnoNames = new Map(Object.entries(Os.constants.errno).map(([name, n]) => [n, name]))

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
  command: Command.Command,
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
    return new CommandError.DaemonError({
      reason: "PidFileUnwritable",
      ...(pidFile !== undefined ? { pidFile } : {}),
      command: line,
      cause: `${stage}: ${errno}`
    })
  }
  const detail = stage === "getpwnam" ? `unknown user ${String(command.setup.uid)}` : stage === "getgrnam" ? "unknown group" : undefined
  return stepError(stage, errno, line, command.cwd, "SetupFailed", detail !== undefined ? { detail } : {})
}
