/**
 * The command line a remote host runs for one plan: a small POSIX sh wrapper, read by the remote
 * login shell, around each stage's argv quoted once. The wrapper reports on its own stderr, marked
 * with a per-run nonce (see `markers.ts`): the pid of the command's process group (it runs under
 * `setsid`) before it starts, each stage's status in a pipeline, then the status once it ended and
 * the rest of its group was killed.
 */
import { type Command, CommandError, type CommandExecutor } from "@effect-command/core"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"

/** What the layer learnt about its host when it connected (see `masterScript`). */
export interface Host {
  /** The connection's directory on the host, where running commands are registered. */
  readonly registry: string
  /** Whether a process reads its own pid from /proc/self/stat there (Linux). */
  readonly procSelf: boolean
}

/** One word for a POSIX shell: `'…'`, with `'` as `'\''`. */
export const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`

const wordValue = (word: Command.Word): string => (typeof word === "string" ? word : Redacted.value(word))

/** Every setting of a stage that needs the child-side helper or a local fd, named. */
const refusedStage = (stage: CommandExecutor.SpawnStage, last: boolean): ReadonlyArray<string> => {
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
    [stage.stdin._tag === "Fd", "stdin(Input.fd)"],
    [stage.stdout._tag === "Fd", "stdout(Output.fd)"],
    [stage.stderr._tag === "Fd", "stderr(Output.fd)"],
    // An earlier stage's stdout that no joint takes: the remote host has no local stdout to give it.
    [!last && stage.stdout._tag === "Inherit", "stdout(\"inherit\") on a stage whose stdout no joint takes"]
  ]
  const found: Array<string> = []
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

/** Every setting of the plan a remote run cannot honour, named (a pipeline's by stage). */
const refused = (plan: CommandExecutor.SpawnPlan): ReadonlyArray<string> => {
  const { stages } = plan
  if (stages.length === 1) return refusedStage(stages[0], true)
  const found = stages.flatMap((stage, i) =>
    refusedStage(stage, i === stages.length - 1).map((reason) => `stage ${i + 1}: ${reason}`)
  )
  // One process group: one signal reaches every stage.
  if (new Set(stages.map((stage) => stage.killPolicy.signal)).size > 1) {
    found.push("the stages of a remote pipeline share one kill signal: set the same killSignal on every stage")
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
  // `--`: a program whose name starts with `-` is not an option of env.
  return [...words, "--", ...pairs]
}

const outputRedirect = (fd: 1 | 2, output: CommandExecutor.SpawnErrorOutput): string => {
  switch (output._tag) {
    case "Null":
      return ` ${fd}>/dev/null`
    case "File":
      // `>|`: a login shell's noclobber (`set -C`) must not refuse an existing file.
      return ` ${fd}>${output.append ? ">" : "|"}${quote(output.path)}`
    case "ToStdout":
      return " 2>&1"
    default:
      return ""
  }
}

/**
 * `cd` to a stage's working directory, relative to the remote home as `chdir` would be: without
 * the CDPATH a login shell's start-up files may export (it would search elsewhere and print the
 * directory on stdout).
 */
const chdir = (dir: string): string => `CDPATH= cd -P -- ${quote(dir === "-" ? "./-" : dir)}`

/** How the wrapper polls for the rest of the group after the command's own exit, in tenths of a second. */
const tenths = (grace: Duration.Duration): number => Math.ceil(Duration.toMillis(grace) / 100)

/** A stage's redirections: its stdin, stdout and stderr as the plan says; a joint's are the pipe's. */
const stageRedirects = (stage: CommandExecutor.SpawnStage, fifo: string | undefined): string => {
  const stdin = stage.stdin._tag === "File" ? ` <${quote(stage.stdin.path)}` : ""
  const stdout = stage.stdout._tag === "ToNext" ? "" : outputRedirect(1, stage.stdout)
  switch (stage.stderr._tag) {
    case "ToNext":
      // Into the pipe, before stdout goes elsewhere (`2>&1 >/dev/null` for a stderr joint).
      return `${stdin} 2>&1${stdout}`
    case "Pipe":
    case "Inherit":
      // The last stage's goes out with the reports; an earlier stage's to its own FIFO.
      return `${stdin}${stdout} 2>${fifo === undefined ? "&4" : quote(fifo)}`
    default:
      return `${stdin}${stdout}${outputRedirect(2, stage.stderr)}`
  }
}

/**
 * For each stage, the FIFO in the connection's registry that carries its stderr to a reader
 * session of its own: an earlier stage's piped stderr, or its inherited one unless the last
 * stage's is inherited too (then both go out with the reports, to this process's stderr).
 */
export const stderrFifos = (
  plan: CommandExecutor.SpawnPlan,
  registry: string,
  nonce: string
): ReadonlyArray<string | undefined> =>
  plan.stages.map((stage, i) =>
    i < plan.stages.length - 1 &&
      (stage.stderr._tag === "Pipe" || (stage.stderr._tag === "Inherit" && plan.stderr._tag !== "Inherit"))
      ? `${registry}/${nonce}.${i}`
      : undefined
  )

/**
 * The signals a pipeline's own shells catch (with a no-op, which the stages do not inherit), so
 * that a signal sent to the whole group leaves them waiting to report their stage's status.
 */
const caught = "HUP INT QUIT ABRT USR1 USR2 PIPE ALRM TERM XCPU XFSZ VTALRM PROF"

/**
 * The `sh -c` script of a pipeline: every stage in one pipeline of the shell, each in a subshell
 * that runs it (`exec`: the program itself, never a shell builtin) in its own working directory,
 * then reports its status (`stage <i> <code>`) on fd 4. The shell's own messages go nowhere.
 */
const pipelineScript = (
  plan: CommandExecutor.SpawnPlan,
  nonce: string,
  fifos: ReadonlyArray<string | undefined>,
  local: Readonly<Record<string, string | undefined>>
): string => {
  const stages = plan.stages.map((stage, i) => {
    const cd = stage.cwd === undefined ? "" : `${chdir(stage.cwd)} && `
    const words = [...envWords(stage, local), ...stage.argv].map(quote).join(" ")
    const run = `(${cd}exec ${words}${stageRedirects(stage, fifos[i])} 4>&-)`
    return `{ trap : ${caught}; ${run}; printf '\\000%s stage ${i} %s\\n' ${nonce} "$?" >&4; }`
  })
  return [`exec 2>/dev/null`, `trap : ${caught}`, stages.join(" | ")].join("\n")
}

/**
 * The string handed to `ssh` as the remote command: the wrapper script with each stage's argv,
 * environment, working directory and redirections, for the remote login shell (any POSIX shell).
 * A pipeline's stages run under one `sh` that leads their process group.
 *
 * The host's registry is the connection's directory there (see `masterScript`): the group's pid
 * is written there while it runs, so that the connection's end kills whatever is left; an earlier
 * stage's piped stderr goes through a FIFO there (see `readerScript`). With `sweep`, the run also
 * removes the registrations of runs that ended.
 */
export const remoteScript = (
  plan: CommandExecutor.SpawnPlan,
  nonce: string,
  host: Host,
  local: Readonly<Record<string, string | undefined>>,
  sweep: boolean
): string => {
  const { stages } = plan
  const { registry } = host
  const single = stages.length === 1
  const fifos = stderrFifos(plan, registry, nonce)
  const made = fifos.filter((fifo) => fifo !== undefined)
  const signal = stages[0].killPolicy.signal.slice(3)
  const grace = stages.reduce((most, stage) => Duration.max(most, stage.killPolicy.grace), Duration.zero)
  const mark = (what: string) => `printf '\\000%s ${what}\\n' ${nonce}`
  const file = quote(registration(registry, nonce))
  // A FIFO its reader did not take (the run ended first): held open while it is replaced, in one
  // rename, by an empty file, so that a reader waiting on it ends and one still to come reads
  // nothing. (The reader removes what it opened.)
  const over = made.map((fifo) =>
    `[ -p ${quote(fifo)} ] && { : >|${quote(`${fifo}.over`)} && mv -f -- ${quote(`${fifo}.over`)} ${quote(fifo)}; } ` +
    `5<>${quote(fifo)}`
  )
  // Marked as ended (no registration yet), for the sweep to take a cancellation with it.
  const badCwd = `2>&4 || { ${[`${mark("cwd")} >&4`, ...over, `echo - >|${file}`, "exit 1"].join("; ")}; }`
  // A single command runs in the wrapper's working directory; a pipeline's are checked first.
  const cwds = single
    ? stages[0].cwd === undefined ? [] : [`${chdir(stages[0].cwd)} ${badCwd}`]
    : stages.flatMap((stage) => (stage.cwd === undefined ? [] : [`(${chdir(stage.cwd)}) ${badCwd}`]))
  const target = (single
    ? [...envWords(stages[0], local), ...stages[0].argv]
    : ["sh", "-c", pipelineScript(plan, nonce, fifos, local)]).map(quote).join(" ")
  const closeReports = single ? " 4>&-" : ""
  const redirects = single ? stageRedirects(stages[0], undefined) : ""
  // A foreground child (the command gets SIGINT and SIGQUIT as it would locally; a background job
  // would have them ignored) registers its pid and the wrapper's, prints its pid, then becomes the
  // command in a session of its own, which it leads (setsid execs in place: the child leads no
  // group), so that its pid is its group's. A registry gone (the connection ended) stops it first.
  // A run aborted before its start was seen here leaves a cancellation (see `killScript`): checked
  // after the registration, so that either the abort finds the registration or the run finds it.
  const cancelled = quote(cancellation(registry, nonce))
  const start = host.procSelf
    // The subshell's own pid, from /proc: one exec (setsid's) before the command's. The group is
    // there a moment after the pid: `killScript` signals the process itself until then.
    ? `( read -r p _ </proc/self/stat && echo "$p $$" >${file} && [ ! -e ${cancelled} ] && ` +
      `printf '\\000%s pid %s\\n' ${nonce} "$p" >&4 && exec setsid -- ${target}${closeReports} ) 2>&4${redirects}`
    // Without /proc: a shell in the new session, which registers and prints its own.
    : `setsid -- sh -c 'echo "$$ $PPID" >"$1" && [ ! -e "$2" ] && printf "\\000%s pid %s\\n" "$0" "$$" >&4 && ` +
      `shift 2 && exec "$@"${closeReports}' ${nonce} ${file} ${cancelled} ${target} 2>&4${redirects}`
  return [
    // fd 4 is the channel's stderr: the reports and the command's stderr go there; the shell's own
    // messages (a job's "Terminated" notice) go nowhere.
    `exec 4>&2 2>/dev/null`,
    // Either this or the stage's reader makes the FIFO, whichever comes first.
    ...made.map((fifo) => `{ mkfifo -m 600 -- ${quote(fifo)} || [ -p ${quote(fifo)} ]; } || exit 1`),
    ...cwds,
    start,
    `s=$?`,
    // The channel may be gone (the local client killed): the clean-up below must still run.
    `trap '' PIPE`,
    ...over,
    `read p _ <${file} || exit "$s"`,
    // What is left of the command's group gets the kill policy, as locally after a child's exit.
    // A member that died but waits for init to reap it is gone: kill(2) still finds a zombie, so
    // where /proc is there, the group counts as live only with a member that is not one.
    `live() { kill -s 0 -- "-$p" || return 1; [ -r /proc/self/stat ] || return 0; ` +
    `for f in /proc/[0-9]*/stat; do read -r l <"$f" || continue; set -- \${l##*) }; ` +
    `[ "$3" = "$p" ] && [ "$1" != Z ] && return 0; done; return 1; }`,
    `if kill -s ${signal} -- "-$p"; then i=0; while [ "$i" -lt ${
      tenths(grace)
    } ] && live; do sleep 0.1; i=$((i+1)); done; kill -s KILL -- "-$p"; fi`,
    // Unregistered before the report (nothing left for the layer's end to kill); the file stays,
    // for a later run's sweep: no exec here, the run does not wait for rm.
    `echo - >|${file}`,
    `${mark("status %s")} "$s" >&4`,
    ...(sweep ? [sweepScript(registry)] : []),
    `exit "$s"`
  ].join("\n")
}

/**
 * Removes the registrations of the runs that ended (`-`; never written again) and their
 * cancellations, off the channel: one run in many sends it, so that the registry stays small
 * without an exec in every run.
 */
export const sweepScript = (registry: string): string =>
  `{ set --; for f in ${quote(registry)}/*.pid; do read -r q <"$f" && [ "$q" = - ] && ` +
  `set -- "$@" "$f" "\${f%.pid}.cancel"; done; ` +
  `[ $# -eq 0 ] || exec rm -f -- "$@"; } </dev/null >/dev/null 4>&- &`

/**
 * The remote command of the reader session of an earlier stage's stderr: makes its FIFO unless the
 * wrapper did, waits for the stage to open it, removes it and copies it to stdout. An empty file
 * there says the run ended before the stage opened it (see `remoteScript`): nothing to read.
 */
export const readerScript = (fifo: string): string => {
  const f = quote(fifo)
  const pid = quote(`${fifo}.pid`)
  return [
    // Registered like a command (its login shell leads its group): the layer's end kills it.
    `echo "$$" >${pid} || exit 1`,
    `{ mkfifo -m 600 -- ${f} || [ -p ${f} ] || [ -f ${f} ]; } 2>/dev/null || { rm -f -- ${pid}; exit 1; }`,
    `{ rm -f -- ${f}; cat; } <${f}`,
    `s=$?`,
    // The empty file that replaced the FIFO this reader had opened.
    `rm -f -- ${f} ${pid}`,
    `exit "$s"`
  ].join("\n")
}

/**
 * After a run whose readers did not all end by themselves: kills what is left of each (a reader
 * still waiting on its FIFO) and removes the FIFO or its stand-in.
 */
export const readersCleanup = (fifos: ReadonlyArray<string>): string =>
  `for f in ${fifos.map(quote).join(" ")}; do ` +
  `[ -f "$f.pid" ] && read p <"$f.pid" && kill -s KILL -- "-$p"; rm -rf -- "$f" "$f.pid" "$f.over"; done 2>/dev/null; exit 0`

/**
 * A registration names a run's process (its group's leader once it runs) and the wrapper that
 * started it: `<pid> <wrapper pid>`, `-` once the run ended. With `p` and `w` read from one, this
 * sends `signal` to the group, or, before the group is there (the process has not yet called
 * setsid), to the process itself while it is still the wrapper's child: never to a process that
 * reused the number.
 */
const signalRegistered = (signal: string): string =>
  `case $p in ''|*[!0-9]*|0|1) ;; *) kill -s ${signal} -- "-$p" || ` +
  `{ read -r l </proc/"$p"/stat && set -- \${l##*) } && [ "$2" = "$w" ] && kill -s ${signal} "$p"; };; esac`

/**
 * The remote command of the layer's own session, over the connection every command uses: makes
 * the registry directory, says `ready <procSelf> <dir>`, and holds until its stdin ends — the
 * connection closed, or the local `ssh` lost its parent. Then every command still registered gets
 * SIGKILL, its whole group, and the directory goes (with any FIFO left in it).
 */
export const masterScript = [
  `d=$(mktemp -d "\${TMPDIR:-/tmp}/effect-command-ssh.XXXXXXXX") && d=$(cd -P -- "$d" && pwd) || exit 1`,
  `if [ -r /proc/self/stat ]; then proc=proc; else proc=noproc; fi`,
  `printf 'ready %s %s\\n' "$proc" "$d"`,
  `cat >/dev/null`,
  // Moved first, so that no command registers (and starts) any more; then each registration names
  // a group to kill (`-`: a command that ended); a FIFO of a stage's stderr only goes.
  `mv -- "$d" "$d.end" && d="$d.end"`,
  `for f in "$d"/*.pid; do [ -f "$f" ] && read -r p w <"$f" && ${signalRegistered("KILL")}; done 2>/dev/null`,
  `rm -rf -- "$d"`
].join("\n")

/** Where a run registers its pid (its group's) on the host. */
export const registration = (registry: string, nonce: string): string => `${registry}/${nonce}.pid`

/** Where an abort that came before the run's start was seen leaves word not to start it. */
export const cancellation = (registry: string, nonce: string): string => `${registry}/${nonce}.cancel`

/**
 * The remote command that sends `signal` to the command's process group, as the host knows it: by
 * its registration, so that a kill does not wait for the pid to have come here, and does nothing
 * once the command is unregistered (its group is gone, and the number may name another one).
 * With `cancel` (an abort before the start was seen here), it first leaves word not to start the
 * command, for a wrapper that has not registered yet. The word stays until the layer's end: a
 * wrapper may come long after.
 */
export const killScript = (signal: string, registry: string, nonce: string, cancel = false): string =>
  `${cancel ? `: >|${quote(cancellation(registry, nonce))}; ` : ""}` +
  `read -r p w <${quote(registration(registry, nonce))} && ${signalRegistered(signal.slice(3))} 2>/dev/null; exit 0`
