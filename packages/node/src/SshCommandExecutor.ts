/**
 * Runs commands on another host over OpenSSH: a `CommandExecutor` layer for one host, so the same
 * `Command` runs locally, in a dry run or remotely by swapping the layer.
 *
 * The layer opens one authenticated connection (the system's `ssh` as a ControlMaster, a child
 * of the Node executor, its socket in a private 0700 directory) with BatchMode (no prompts) and no
 * pty, honouring `~/.ssh/config`, the agent and `known_hosts` (host keys are checked as your
 * configuration says; an unknown host is refused). Every command goes over it as a session of its
 * own: the package's helper asks the master for it in OpenSSH's mux protocol, as `ssh -S` would,
 * without starting an `ssh` client per command (with the `ssh` option, or without the helper,
 * that client runs it). Closing the layer's scope stops the connection.
 *
 * On the remote host a small POSIX sh wrapper runs the argv, quoted once, in its own session
 * (`setsid`), reports its process group before it starts and its status when it ended. Closing a
 * command's scope, interrupting it, `abort` or a timeout send the kill signal to that whole
 * remote group, wait the grace, then SIGKILL: killing the local `ssh` alone would leave it running.
 * Every running command is registered on the host with the layer's own session, which kills what
 * is still registered when it ends: the layer closed, the Node process killed, the connection lost.
 *
 * @since 0.3.0
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

import { Command, CommandError, CommandExecutor, ExitStatus } from "@effect-command/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

import { findHelper } from "./internal/helper.js"
import { executorFor } from "./internal/options.js"
import * as RealTime from "./internal/realtime.js"
import { type Host, masterScript } from "./internal/ssh/remote.js"
import { type Connection, remoteWord, spawnOver } from "./internal/ssh/spawn.js"

/**
 * Where and how to connect.
 *
 * @example
 * ```ts
 * import { SshCommandExecutor } from "@effect-command/node"
 *
 * const options: SshCommandExecutor.Options = {
 *   host: "build-1.example.org",
 *   user: "ci",
 *   port: 2222,
 *   identityFile: "/home/ci/.ssh/id_ed25519",
 *   options: { ConnectTimeout: "5", ServerAliveInterval: "15" }
 * }
 * const layer = SshCommandExecutor.layer(options)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /** The host name or address, or a `Host` alias of `~/.ssh/config`. */
  readonly host: string
  /** The remote user (`ssh -l`). Unset: as `~/.ssh/config` says, else the local user name. */
  readonly user?: string
  /** The port (`ssh -p`). Unset: as `~/.ssh/config` says, else 22. */
  readonly port?: number
  /** A private key file (`ssh -i`), tried besides the agent's and the configured ones. */
  readonly identityFile?: string
  /**
   * More `ssh -o` options, such as `{ UserKnownHostsFile: "/path", ConnectTimeout: "5" }`. They
   * come before `~/.ssh/config`. The options the executor sets itself (`ControlPath`,
   * `ControlMaster`, `ControlPersist`, `BatchMode`, `RequestTTY`, `RemoteCommand`, …) are refused.
   */
  readonly options?: Readonly<Record<string, string>>
  /**
   * The local `ssh` client to run: a path or a name looked up on the PATH. Default: `ssh`. Given,
   * it also runs every command as a mux client (`ssh -S`), where the package's helper would
   * otherwise ask the connection for the command's session itself (about 13 ms less per command
   * here: an `ssh` client's own start).
   */
  readonly ssh?: string
  /**
   * The host's sshd `MaxSessions` (default 10, as sshd's): how many sessions the connection may
   * have at once. The layer's own takes one and one is kept for kills; a command takes one (a
   * pipeline one more per earlier stage whose stderr comes back): a command waits for its
   * sessions rather than be refused by sshd.
   */
  readonly maxSessions?: number
}

/** How long closing the layer waits for the remote side to clean up before the local client is stopped. */
const closeGrace = "5 seconds"

/**
 * One run in this many removes the registrations of the runs that ended from the host's registry:
 * the registry holds at most about this many such files, and a run does not pay for an rm.
 */
const sweepEvery = 64

/** The `ssh -o` options the executor sets itself, or that would change how it talks to ssh. */
const ownOptions = new Set([
  "batchmode",
  "controlmaster",
  "controlpath",
  "controlpersist",
  "forkafterauthentication",
  "permitlocalcommand",
  "localcommand",
  "remotecommand",
  "requesttty",
  "sessiontype",
  "stdinnull"
])

const unsafe = /[\0\r\n]/

/** What is wrong with `options`, each named: they are refused before anything runs. */
const problems = (options: Options): ReadonlyArray<string> => {
  const found: Array<string> = []
  const word = (value: unknown, what: string) => {
    if (typeof value !== "string" || value === "" || unsafe.test(value)) {
      found.push(`${what} ${JSON.stringify(value)} is not a non-empty string without NUL or line breaks`)
    }
  }
  if (typeof options.host === "string" && (/\s/.test(options.host) || options.host.startsWith("-"))) {
    found.push(`host ${JSON.stringify(options.host)} is not a host name, an address or a Host alias`)
  } else word(options.host, "host")
  if (options.user !== undefined) word(options.user, "user")
  if (options.identityFile !== undefined) word(options.identityFile, "identityFile")
  if (options.ssh !== undefined) word(options.ssh, "ssh")
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 1 && options.port <= 65535)) {
    found.push(`port ${String(options.port)} is not an integer from 1 to 65535`)
  }
  if (
    options.maxSessions !== undefined &&
    !(Number.isSafeInteger(options.maxSessions) && options.maxSessions >= 3 && options.maxSessions <= 65535)
  ) {
    found.push(`maxSessions ${String(options.maxSessions)} is not an integer from 3 to 65535`)
  }
  for (const [name, value] of Object.entries(options.options ?? {})) {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) {
      found.push(`option name ${JSON.stringify(name)} is not an ssh option name`)
    } else if (ownOptions.has(name.toLowerCase())) found.push(`option ${name} is set by the executor itself`)
    word(value, `option ${name}'s value`)
  }
  return found
}

/** The ssh argv up to the remote command, for the master or a mux client. */
const sshArgs = (options: Options, socket: string, master: boolean): ReadonlyArray<string> => [
  "-T",
  "-S",
  socket,
  "-o",
  `ControlMaster=${master ? "yes" : "no"}`,
  "-o",
  "ControlPersist=no",
  "-o",
  "BatchMode=yes",
  // A session without the connection (its master gone) fails: it never opens a connection of its own.
  ...(master ? [] : ["-o", "ProxyCommand=false"]),
  ...(options.port === undefined ? [] : ["-p", String(options.port)]),
  ...(options.user === undefined ? [] : ["-l", options.user]),
  ...(options.identityFile === undefined ? [] : ["-i", options.identityFile]),
  ...Object.entries(options.options ?? {}).flatMap(([name, value]) => ["-o", `${name}=${value}`]),
  "--",
  options.host
]

/**
 * A `CommandExecutor` running every command on `options.host`. Building the layer connects (and
 * fails with `ConnectionError { reason: "ConnectFailed" }` and ssh's reason when it cannot, with
 * `CommandUsageError` naming every bad option before any `ssh` runs); closing its scope kills
 * every command still running on the host (a detached one too) and closes the connection. A
 * connection lost under a running command fails it with `ConnectionError { reason:
 * "ConnectionLost" }`.
 *
 * Each command is as it would be locally — argv, environment (`envPass` takes the local value),
 * working directory, stdin, stdout and stderr bytes as they are, exit status, timeouts, kill
 * policy — with these differences: paths of `Input.file` and `Output.file` are on the remote host;
 * a bare program name is looked up on the remote PATH (with a cleared environment, on the
 * `PATH` you give, else `/bin:/usr/bin`), and a missing one is the remote shell's exit 127; settings that need the local child-side helper or local
 * fds (limits, credentials, capabilities, umask, daemonize, passed or input fds, handshake,
 * pre-exec actions, `contain`, `dieWithParent`, `processGroup("inherit")`) fail with a
 * `CommandUsageError` naming them before anything runs. A pipeline runs on the host in one
 * session and one process group, with every stage's status (its stages share one kill signal). A remote exit code of 129 to 192
 * is read as a death by signal (code − 128), as the remote shell reports it. Redacted values reach
 * the remote command through its command line: the local `ssh` argv and the remote process list
 * show them while it runs (feed a secret through stdin to keep it out of both).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { SshCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const remote = SshCommandExecutor.layer({ host: "build-1.example.org", user: "ci" })
 * // build-1's kernel release; run it with Effect.runPromise
 * const release = Effect.provide(Command.string(Command.make("uname", "-r")), remote)
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<CommandExecutor.CommandExecutor, CommandError.CommandError> =>
  Layer.scoped(
    CommandExecutor.CommandExecutor,
    Effect.gen(function*() {
      const reasons = problems(options)
      if (reasons.length > 0) {
        return yield* new CommandError.CommandUsageError({ reasons, command: `ssh ${String(options.host)}` })
      }
      // Each local client as the Node executor's primitive returned it: what `collect` reads.
      const spawned = new WeakMap<Command.Command, CommandExecutor.SpawnedProcess>()
      const local = executorFor({}, (plan, child) => void spawned.set(plan.command, child))
      const ssh = options.ssh ?? "ssh"
      // The helper's mux client, unless an ssh client was named.
      const helper = options.ssh === undefined ? findHelper("auto").path : null
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-command-ssh-"))),
        (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
      )
      const socket = join(dir, "control")
      const master = yield* local.start(
        Command.make(ssh, ...sshArgs(options, socket, true), masterScript).pipe(
          Command.stdin("pipe"),
          Command.stdout("pipe"),
          Command.stderr("capture")
        )
      )
      const remote = yield* Effect.raceFirst(
        Effect.map(master.waitFor(/^ready (proc|noproc) (.+)$/m), (match): Host => ({
          registry: match[2]!,
          procSelf: match[1] === "proc"
        })).pipe(
          Effect.catchAll(() => Effect.succeed(undefined))
        ),
        Effect.as(master.wait, undefined)
      )
      if (remote === undefined) {
        const result = yield* master.result
        const said = new TextDecoder().decode(result.stderr).trim()
        return yield* new CommandError.ConnectionError({
          reason: "ConnectFailed",
          host: options.host,
          detail: said === "" ? `ssh ${ExitStatus.format(result.status)}` : said,
          command: `ssh ${options.host}`
        })
      }
      // Closing the layer: EOF to the connection's own session, whose remote side then kills every
      // command still registered (a detached one) before the session and the connection end.
      yield* Effect.addFinalizer(() =>
        RealTime.timeoutOption(
          Effect.interruptible(Effect.ignore(Effect.zipRight(Stream.run(Stream.empty, master.stdin), master.wait))),
          closeGrace
        )
      )
      // sshd's MaxSessions, less the connection's own session and the one kept for kills.
      const sessionCount = (options.maxSessions ?? 10) - 2
      let runs = 0
      const connection: Connection = {
        host: options.host,
        local,
        spawned: (command) => spawned.get(command),
        remote,
        sweep: () => ++runs % sweepEvery === 0,
        sessions: yield* Effect.makeSemaphore(sessionCount),
        sessionCount,
        control: yield* Effect.makeSemaphore(1),
        ssh: (remote) =>
          helper === null
            ? Command.make(ssh, ...sshArgs(options, socket, false), remoteWord(remote))
            : Command.make(helper, "--ssh-mux", socket, remoteWord(remote))
      }
      return CommandExecutor.make(spawnOver(connection))
    })
  )

/**
 * What one host of a {@link fanOut} gave: the program's value, or why it failed there (a
 * connection failure included).
 *
 * @example
 * ```ts
 * import type { SshCommandExecutor } from "@effect-command/node"
 * import { Either } from "effect"
 *
 * const line = (result: SshCommandExecutor.HostResult<string, never>): string =>
 *   `${result.host}: ${Either.isRight(result.result) ? result.result.right : result.result.left.message}`
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface HostResult<A, E> {
  /** The host as its options name it. */
  readonly host: string
  readonly options: Options
  readonly result: Either.Either<A, E | CommandError.CommandError>
}

/**
 * Runs `program` on every host, each over its own connection, at most `concurrency` hosts at a
 * time (default 8), and gives every host's result, in the order of `hosts`. A host that fails —
 * it cannot be reached, or the program fails there — does not stop the others; with
 * `failFast: true` the first failure fails the whole run instead, and the hosts still running are
 * interrupted (their remote commands killed as their scopes close). A `concurrency` that is not a
 * positive integer fails with `CommandUsageError` before any host is contacted.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { SshCommandExecutor } from "@effect-command/node"
 * import { Effect, Either } from "effect"
 *
 * const hosts = ["web-1", "web-2", "web-3"].map((host) => ({ host, user: "deploy" }))
 * // Every host's uptime, or why it failed there; run it with Effect.runPromise
 * const program = Effect.gen(function*() {
 *   const results = yield* SshCommandExecutor.fanOut(hosts, Command.string(Command.make("uptime")), { concurrency: 2 })
 *   for (const { host, result } of results) {
 *     yield* Effect.log(host, Either.isRight(result) ? result.right.trim() : result.left.message)
 *   }
 * })
 * ```
 *
 * @since 0.3.0
 * @category combinators
 */
export const fanOut = <A, E, R>(
  hosts: Iterable<Options>,
  program: Effect.Effect<A, E, R>,
  options?: { readonly concurrency?: number; readonly failFast?: boolean }
): Effect.Effect<
  ReadonlyArray<HostResult<A, E>>,
  E | CommandError.CommandError,
  Exclude<R, CommandExecutor.CommandExecutor>
> =>
  Effect.suspend(() => {
    const concurrency = options?.concurrency ?? 8
    if (!(Number.isSafeInteger(concurrency) && concurrency >= 1)) {
      return new CommandError.CommandUsageError({
        reasons: [`concurrency ${String(concurrency)} is not a positive integer`],
        command: "fanOut"
      })
    }
    const targets = Array.from(hosts)
    const onHost = (host: Options) => Effect.provide(program, layer(host))
    const run = options?.failFast === true
      ? Effect.forEach(targets, (host) => Effect.map(onHost(host), Either.right), { concurrency })
      : Effect.forEach(targets, (host) => Effect.either(onHost(host)), { concurrency })
    return Effect.map(run, (results) =>
      results.map((result, i): HostResult<A, E> => ({ host: targets[i]!.host, options: targets[i]!, result })))
  })
