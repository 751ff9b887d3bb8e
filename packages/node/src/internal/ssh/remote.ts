/**
 * The command line a remote host runs for one plan stage: a small POSIX sh wrapper, read by the
 * remote login shell, around the command's argv quoted once. The wrapper reports on its own
 * stderr, marked with a per-run nonce (see `markers.ts`): the command's pid (which is also its
 * process group: it runs under `setsid`) before it starts, then its status once it ended and the
 * rest of its group was killed.
 */
import { type Command, CommandError, type CommandExecutor } from "@effect-command/core"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"

/** One word for a POSIX shell: `'…'`, with `'` as `'\''`. */
export const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`

const wordValue = (word: Command.Word): string => (typeof word === "string" ? word : Redacted.value(word))

/** Every setting of the stage that needs the child-side helper or a local fd, named. */
const refused = (plan: CommandExecutor.SpawnPlan): ReadonlyArray<string> => {
  const found: Array<string> = []
  if (plan.stages.length > 1) found.push("a pipeline")
  const stage = plan.stages[0]
  const { setup } = stage
  const named: ReadonlyArray<readonly [boolean, string]> = [
    [setup.umask !== undefined, "umask"],
    [setup.limits.length > 0, "limit"],
    [setup.uid !== undefined, "uid"],
    [setup.gid !== undefined, "gid"],
    [setup.groups !== undefined, "groups"],
    [setup.clearCaps || setup.allowCaps.length > 0, "clearCaps/allowCap"],
    [setup.processGroup === "inherit", "processGroup(\"inherit\")"],
    [setup.dieWithParent !== undefined, "dieWithParent"],
    [setup.daemonize, "daemonize"],
    [setup.pidFile !== undefined, "pidFile"],
    [setup.contain === true, "contain"],
    [setup.handshake, "handshake"],
    [setup.preExec.length > 0, "preExec"],
    [stage.passFds.length > 0, "passFd"],
    [stage.inputFds.length > 0, "inputFd"],
    [plan.stdin._tag === "Fd", "stdin(Input.fd)"],
    [plan.stdout._tag === "Fd", "stdout(Output.fd)"],
    [plan.stderr._tag === "Fd", "stderr(Output.fd)"]
  ]
  for (const [set, name] of named) {
    if (set) {
      found.push(`${name} cannot be honoured on a remote host (it needs the local child-side helper or a local fd)`)
    }
  }
  if (stage.env !== undefined && stage.program.includes("=")) {
    found.push(`the program ${JSON.stringify(stage.program)} contains '=': env(1) would take it for a variable`)
  }
  return found
}

/** Fails with `CommandUsageError` naming every setting a remote run cannot honour. */
export const refusal = (plan: CommandExecutor.SpawnPlan): CommandError.CommandUsageError | undefined => {
  const reasons = refused(plan)
  return reasons.length === 0 ? undefined : new CommandError.CommandUsageError({ reasons, command: plan.line })
}

/**
 * `env` words for the stage's environment policy: nothing when the remote environment is kept as
 * it is; `env -i` when cleared; `env -u` to remove inherited names. A `Pass` takes the local value.
 */
const envWords = (stage: CommandExecutor.SpawnStage, local: Readonly<Record<string, string | undefined>>) => {
  if (stage.env === undefined) return []
  const words = ["env"]
  if (stage.env.base !== "inherit") words.push("-i")
  const pairs: Array<string> = []
  for (const entry of stage.env.entries) {
    const value = entry._tag === "Set" ? wordValue(entry.value) : entry._tag === "Pass" ? local[entry.name] : undefined
    if (value !== undefined) pairs.push(`${entry.name}=${value}`)
    else if (stage.env.base === "inherit") words.push("-u", entry.name)
  }
  return [...words, ...pairs]
}

const outputRedirect = (fd: 1 | 2, output: CommandExecutor.SpawnErrorOutput): string => {
  switch (output._tag) {
    case "Null":
      return ` ${fd}>/dev/null`
    case "File":
      return ` ${fd}>${output.append ? ">" : ""}${quote(output.path)}`
    case "ToStdout":
      return " 2>&1"
    default:
      return ""
  }
}

/** How the wrapper polls for the rest of the group after the command's own exit, in tenths of a second. */
const tenths = (grace: Duration.Duration): number => Math.ceil(Duration.toMillis(grace) / 100)

/**
 * The string handed to `ssh` as the remote command: the wrapper script with the stage's argv,
 * environment, working directory and redirections, for the remote login shell (any POSIX shell).
 *
 * `registry` is the connection's directory on the host (see `masterScript`): the command's pid is
 * written there while it runs, so that the connection's end kills whatever is left.
 */
export const remoteScript = (
  plan: CommandExecutor.SpawnPlan,
  nonce: string,
  registry: string,
  local: Readonly<Record<string, string | undefined>>
): string => {
  const stage = plan.stages[0]
  const words = ["setsid", "--", ...envWords(stage, local), ...stage.argv].map(quote).join(" ")
  const stdin = plan.stdin._tag === "File" ? ` <${quote(plan.stdin.path)}` : ""
  const redirects = `${stdin}${outputRedirect(1, plan.stdout)}${outputRedirect(2, plan.stderr)}`
  const signal = stage.killPolicy.signal.slice(3)
  const mark = (what: string) => `printf '\\000%s ${what}\\n' ${nonce}`
  const file = quote(`${registry}/${nonce}`)
  return [
    // fd 4 is the channel's stderr: the reports and the command's stderr go there; the shell's own
    // messages (a job's "Terminated" notice) go nowhere.
    `exec 4>&2 2>/dev/null`,
    ...(stage.cwd === undefined ? [] : [`cd -- ${quote(stage.cwd)} 2>&4 || { ${mark("cwd")} >&4; exit 1; }`]),
    // A foreground child records and prints its own pid, then becomes the command: setsid execs in
    // place (the child leads no group), so pid = pgid = sid. In the foreground, the command gets
    // SIGINT and SIGQUIT as it would locally (a background job would have them ignored).
    `sh -c 'echo "$$" >"$1" && printf "\\000%s pid %s\\n" "$0" "$$" >&4 && shift && exec "$@" 4>&-' ${nonce} ${file} ${words} 2>&4${redirects}`,
    `s=$?`,
    `read p <${file} || exit "$s"`,
    // What is left of the command's group gets the kill policy, as locally after a child's exit.
    // A member that died but waits for init to reap it is gone: kill(2) still finds a zombie, so
    // where /proc is there, the group counts as live only with a member that is not one.
    `live() { kill -s 0 -- "-$p" || return 1; [ -r /proc/self/stat ] || return 0; ` +
    `for f in /proc/[0-9]*/stat; do read -r l <"$f" || continue; set -- \${l##*) }; ` +
    `[ "$3" = "$p" ] && [ "$1" != Z ] && return 0; done; return 1; }`,
    `if kill -s ${signal} -- "-$p"; then i=0; while [ "$i" -lt ${
      tenths(stage.killPolicy.grace)
    } ] && live; do sleep 0.1; i=$((i+1)); done; kill -s KILL -- "-$p"; fi`,
    `${mark("status %s")} "$s" >&4`,
    // Unregistered after the report, off the channel: the run does not wait for rm.
    `rm -f ${file} </dev/null >/dev/null 4>&- &`,
    `exit "$s"`
  ].join("\n")
}

/**
 * The remote command of the layer's own session, over the connection every command uses: makes
 * the registry directory, says `ready <dir>`, and holds until its stdin ends — the connection
 * closed, or the local `ssh` lost its parent. Then every command still registered gets SIGKILL,
 * its whole group, and the directory goes.
 */
export const masterScript = [
  `d=$(mktemp -d "\${TMPDIR:-/tmp}/effect-command-ssh.XXXXXXXX") || exit 1`,
  `printf 'ready %s\\n' "$d"`,
  `cat >/dev/null`,
  `for f in "$d"/*; do read p <"$f" && kill -s KILL -- "-$p"; done 2>/dev/null`,
  `rm -rf -- "$d"`
].join("\n")

/** The remote command that sends `signal` to the command's process group. */
export const killScript = (pgid: number, signal: string): string =>
  `kill -s ${signal.slice(3)} -- -${pgid} 2>/dev/null; exit 0`
