/**
 * A command is an immutable description of a child process to run: program, arguments,
 * environment, stdio, fds, child-side setup and kill policy (libvirt's `virCommand` as a value).
 * Build it with the combinators below, all `dual` (data-first or `pipe`able); run it with the
 * helpers at the end, which need a `CommandExecutor`.
 *
 * Combinators never throw. A mistake (a NUL byte, a bad env name, an fd ≤ 2 passed, …) is recorded
 * with its reason in `problems`; running or rendering the command then fails with
 * `CommandUsageError` listing every reason, before anything is spawned.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Equal from "effect/Equal"
import type * as Inspectable from "effect/Inspectable"
import type { Pipeable } from "effect/Pipeable"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"

import type { CommandError, CommandUsageError } from "./CommandError.js"
import type { CommandExecutor, Process, RunResult } from "./CommandExecutor.js"
import type { ExitStatus } from "./ExitStatus.js"
import { capabilities as capabilityTable } from "./internal/capabilities.js"
import * as internal from "./internal/command.js"
import * as environment from "./internal/env.js"
import * as model from "./internal/model.js"
import * as render from "./internal/render.js"
import * as executor from "./internal/run.js"
import * as validation from "./internal/validate.js"
import type { Signal } from "./Signal.js"

// =============================================================================================
// models
// =============================================================================================

/**
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * console.log(Command.TypeId in Command.make("true")) // true
 * ```
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = model.TypeId as never

/**
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const id: Command.TypeId = Command.TypeId
 * console.log(Command.make("true")[id] === id) // true
 * ```
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * One argv word or environment value. A `Redacted` word reaches the child as its value, but every
 * rendering (`toString`, logs, errors, `JSON.stringify`, inspection) shows `<redacted>`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Either, Redacted } from "effect"
 *
 * const password: Command.Word = Redacted.make("s3cret")
 * const login = Command.make("mysql", "--user", "admin", "--password", password)
 * console.log(Either.getOrThrow(Command.toString(login))) // mysql --user admin --password <redacted>
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Word = string | Redacted.Redacted<string>

/**
 * The child's environment.
 *
 * - `base: "default"` (a new command): the child inherits the parent's whole environment. The
 *   first env combinator switches it to `"empty"` (virCommand: any customisation stops
 *   inheritance).
 * - `base: "empty"`: the child gets exactly `entries`.
 * - `base: "inherit"` (after `envInherit`): the parent's environment with `entries` applied on top.
 *
 * The parent's environment (for inheritance and `Pass` entries) is read when the command runs,
 * not when it is built.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const env: Command.Env = Command.make("make").pipe(Command.env("CC", "clang")).env
 * console.log(env.base, env.entries) // empty [ { _tag: 'Set', name: 'CC', value: 'clang' } ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Env {
  readonly base: "default" | "empty" | "inherit"
  readonly entries: ReadonlyArray<EnvEntry>
}

/**
 * `Set` a value; `Pass` the parent's value if it has one when the command runs; `Unset` (remove
 * an inherited name). A name appears at most once: setting it again replaces it in place.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("ssh", "host").pipe(Command.envPass("SSH_AUTH_SOCK"), Command.envUnset("DISPLAY"))
 * const entries: ReadonlyArray<Command.EnvEntry> = cmd.env.entries
 * console.log(entries.map((entry) => `${entry._tag} ${entry.name}`)) // [ 'Pass SSH_AUTH_SOCK', 'Unset DISPLAY' ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type EnvEntry =
  | { readonly _tag: "Set"; readonly name: string; readonly value: Word }
  | { readonly _tag: "Pass"; readonly name: string }
  | { readonly _tag: "Unset"; readonly name: string }

/**
 * Where the child's stdin comes from. Unspecified: /dev/null.
 *
 * - `Null`: /dev/null. `Inherit`: the parent's stdin. `Fd`: a parent fd (virCommandSetInputFD).
 * - `Bytes`, `Text`: fed from memory (virCommandSetInputBuffer), concurrently with reading output.
 * - `Stream`: fed from an Effect stream; a failure of the stream aborts the child and fails the
 *   run with `IoError`.
 * - `Pipe`: write it yourself through `Process.stdin`.
 * - `File`: opened read-only.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const input: Command.Input = Command.Input.text("hello\n")
 * const cmd = Command.make("cat").pipe(Command.stdin(input))
 * console.log(cmd.stdin?._tag) // Text
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Input =
  | { readonly _tag: "Null" }
  | { readonly _tag: "Inherit" }
  | { readonly _tag: "Fd"; readonly fd: number }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Text"; readonly text: Word }
  | { readonly _tag: "Stream"; readonly stream: Stream.Stream<Uint8Array, unknown> }
  | { readonly _tag: "Pipe" }
  | { readonly _tag: "File"; readonly path: string }

/**
 * Where the child's stdout (or stderr) goes. Unspecified: /dev/null for `start`; the run helpers
 * capture it into an 8 KiB tail buffer used in errors and then discarded (virCommandRun).
 *
 * - `Null`, `Inherit`, `Fd` (a parent fd, virCommandSetOutputFD).
 * - `Capture`: collected into memory (virCommandSetOutputBuffer); `RunResult.stdout`.
 * - `Pipe`: read it yourself through `Process.stdout`.
 * - `File`: created or truncated (`append` to append), mode 0644 before the umask.
 * - `Sink`: every chunk goes to an Effect sink, concurrently.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const output: Command.Output = Command.Output.file("build.log", { append: true })
 * const cmd = Command.make("make").pipe(Command.stdout(output))
 * console.log(cmd.stdout) // { _tag: 'File', path: 'build.log', append: true }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Output =
  | { readonly _tag: "Null" }
  | { readonly _tag: "Inherit" }
  | { readonly _tag: "Fd"; readonly fd: number }
  | { readonly _tag: "Capture" }
  | { readonly _tag: "Pipe" }
  | { readonly _tag: "File"; readonly path: string; readonly append: boolean }
  | { readonly _tag: "Sink"; readonly sink: Sink.Sink<unknown, Uint8Array, unknown, unknown> }
  | { readonly _tag: "ForEach"; readonly f: (bytes: Uint8Array) => void }

/**
 * Where stderr goes: an `Output`, or `ToStdout`: the same kernel pipe or file as stdout
 * (`2>&1`; interleaved in the order the child writes, like giving virCommand one buffer twice).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const joined: Command.ErrorOutput = Command.Output.toStdout
 * // make 2>&1: both outputs captured together
 * const cmd = Command.make("make").pipe(Command.stdout("capture"), Command.stderr(joined))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorOutput = Output | { readonly _tag: "ToStdout" }

/**
 * An `Input` or its shorthand.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const inputs: ReadonlyArray<Command.InputLike> = ["null", "inherit", "pipe", Command.Input.file("/etc/hosts")]
 * const commands = inputs.map((input) => Command.make("cat").pipe(Command.stdin(input)))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type InputLike = Input | "null" | "inherit" | "pipe"

/**
 * An `Output` or its shorthand.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const output: Command.OutputLike = "capture"
 * const cmd = Command.make("uname", "-r").pipe(Command.stdout(output))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type OutputLike = Output | "null" | "inherit" | "pipe" | "capture"

/**
 * An `ErrorOutput` or its shorthand (`"stdout"` is `ToStdout`).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const errors: Command.ErrorOutputLike = "stdout"
 * const cmd = Command.make("make").pipe(Command.stdout("capture"), Command.stderr(errors))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorOutputLike = ErrorOutput | "null" | "inherit" | "pipe" | "capture" | "stdout"

/**
 * A resource limit name (`RLIMIT_<name>`).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const resource: Command.LimitResource = "NOFILE"
 * const cmd = Command.make("nginx").pipe(Command.limit(resource, 4096))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type LimitResource = (typeof internal.limitResources)[number]

/**
 * A limit in the resource's unit, or no limit.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const core: Command.LimitValue = "unlimited"
 * const cmd = Command.make("qemu-system-x86_64").pipe(Command.limit("CORE", core))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type LimitValue = number | "unlimited"

/**
 * A Linux capability name.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const keep: ReadonlyArray<Command.Capability> = ["CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN"]
 * const cmd = keep.reduce((command, cap) => Command.allowCap(command, cap), Command.clearCaps(Command.make("dnsmasq")))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Capability = keyof typeof capabilityTable

/**
 * Linux capability numbers by name (linux/capability.h).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * console.log(Command.capabilities.CAP_NET_ADMIN) // 12
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const capabilities: { readonly [K in Capability]: number } = capabilityTable

/**
 * Declarative steps run in the child just before credentials are changed (the TypeScript answer
 * to virCommandSetPreExecHook). A step that fails stops the exec with a `SpawnError`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const actions: ReadonlyArray<Command.PreExecAction> = [Command.PreExec.nice(10), Command.PreExec.noNewPrivileges]
 * const cmd = actions.reduce((command, action) => Command.preExec(command, action), Command.make("make", "-j4"))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type PreExecAction =
  | { readonly _tag: "Nice"; readonly increment: number }
  | { readonly _tag: "Setsid" }
  | { readonly _tag: "NoNewPrivileges" }
  | { readonly _tag: "OomScoreAdjust"; readonly value: number }
  | { readonly _tag: "IoPriority"; readonly class: "realtime" | "best-effort" | "idle"; readonly level: number }

/**
 * What happens in the child between fork and exec, in libvirt's order (umask, close fds,
 * process group, die-with-parent, daemonize, limits, pre-exec actions, credentials, capabilities,
 * working directory, handshake). Most of it needs the node package's child-side helper.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("dnsmasq").pipe(Command.umask(0o077), Command.limit("NOFILE", 1024))
 * const setup: Command.ChildSetup = cmd.setup
 * console.log(setup.umask, setup.limits) // 63 [ { resource: 'NOFILE', soft: 1024, hard: 1024 } ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildSetup {
  /** File mode creation mask; unset: inherited. Unlike virCommand, 0 can be set. */
  readonly umask?: number
  /** Resource limits; setting a resource again replaces it. */
  readonly limits: ReadonlyArray<
    { readonly resource: LimitResource; readonly soft: LimitValue; readonly hard: LimitValue }
  >
  /** User to switch to (id or name, names resolved when the command runs). Unset: unchanged. */
  readonly uid?: number | string
  /** Group to switch to. Unset: unchanged (or the user's primary group when `uid` is a name). */
  readonly gid?: number | string
  /** Supplementary groups. Unset with `uid`: the user's groups. */
  readonly groups?: ReadonlyArray<number | string>
  /** Drop every capability except `allowCaps`, from every set including the bounding set. */
  readonly clearCaps: boolean
  readonly allowCaps: ReadonlyArray<Capability>
  /** `"new"` (default): the child leads a new process group, so it and its children are killed together. */
  readonly processGroup: "new" | "inherit"
  /** Signal the child gets when the parent dies. Unset: SIGKILL, except for daemons; `false`: none. */
  readonly dieWithParent?: Signal | false
  /** Double fork: the child runs in its own session, in /, and outlives the parent (virCommandDaemonize). */
  readonly daemonize: boolean
  /** The daemon's pid file, written and locked before `run` returns. Needs `daemonize`. */
  readonly pidFile?: string
  /**
   * Containment: every process the command starts, at any depth, ends with it (see `contain`).
   * Unset: the executor's default.
   */
  readonly contain?: boolean
  /** The child waits for `Process.handshakeNotify` before exec (virCommandRequireHandshake). */
  readonly handshake: boolean
  readonly preExec: ReadonlyArray<PreExecAction>
}

/**
 * How a running child is stopped when its scope closes, on interruption, on `abort` and on a
 * timeout: `signal` to its process group, up to `grace` to exit, then SIGKILL, then reap.
 * Default: SIGTERM, 3 seconds.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Duration } from "effect"
 *
 * const cmd = Command.make("postgres").pipe(Command.killSignal("SIGINT"), Command.killGrace("30 seconds"))
 * const policy: Command.KillPolicy = cmd.killPolicy
 * console.log(policy.signal, Duration.toSeconds(policy.grace)) // SIGINT 30
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface KillPolicy {
  readonly signal: Signal
  readonly grace: Duration.Duration
}

/**
 * What a pipeline stage sends to the next: its stdout (`|`), its stderr, or both (`2>&1 |`).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const from: Command.PipeSource = "both" // make 2>&1 | tee build.log
 * const cmd = Command.make("make").pipe(Command.pipeTo(Command.make("tee", "build.log"), { from }))
 * console.log(Command.joints(cmd)) // [ 'both' ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type PipeSource = "stdout" | "stderr" | "both"

/**
 * The stage before this one in a pipeline, and which of its outputs becomes this one's stdin.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const count = Command.pipeline(Command.make("ls", "/etc"), Command.make("wc", "-l"))
 * const upstream: Command.Upstream | undefined = count.upstream
 * console.log(upstream?.command.program, upstream?.from) // ls stdout
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Upstream {
  readonly command: Command
  readonly from: PipeSource
}

/**
 * An immutable command. Two commands with the same fields are `Equal` and hash alike.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Equal } from "effect"
 *
 * const status: Command.Command = Command.make("git", "status").pipe(Command.workingDirectory("/srv/repo"))
 * console.log(status.program, status.args, status.cwd) // git [ 'status' ] /srv/repo
 * console.log(Equal.equals(status, Command.make("git", "status").pipe(Command.workingDirectory("/srv/repo")))) // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Command extends Pipeable, Inspectable.Inspectable, Equal.Equal {
  readonly [TypeId]: TypeId
  /** An absolute path, or a bare name searched in the parent's PATH when the command runs. */
  readonly program: string
  readonly args: ReadonlyArray<Word>
  readonly env: Env
  /** Working directory; unset: the parent's. */
  readonly cwd: string | undefined
  /** Unset: /dev/null. */
  readonly stdin: Input | undefined
  /** Unset: /dev/null for `start`, a discarded 8 KiB tail for the run helpers. */
  readonly stdout: Output | undefined
  /** Unset: like stdout. */
  readonly stderr: ErrorOutput | undefined
  /** Parent fds the child gets at the same number (virCommandPassFD). */
  readonly passFds: ReadonlyArray<{ readonly fd: number; readonly closeParent: boolean }>
  /** Fds the child reads bytes from, EOF after the last (virCommandSetSendBuffer). */
  readonly inputFds: ReadonlyArray<{ readonly fd: number; readonly bytes: Uint8Array }>
  readonly setup: ChildSetup
  readonly killPolicy: KillPolicy
  /** Unset: no limit. When it expires the command is killed with its kill policy and fails with `CommandTimeoutError`. */
  readonly timeout: Duration.Duration | undefined
  /** Bytes a captured stdout or stderr may hold (default 100 MiB); more kills the child and fails with `OutputLimitError`. */
  readonly maxOutput: number
  /** Whether being killed by SIGPIPE counts as success in the run's status (see `allowSigpipe`). */
  readonly allowSigpipe: boolean
  /** In a pipeline, the stage before this one; its output is this stage's stdin through a kernel pipe. */
  readonly upstream: Upstream | undefined
  /** Usage problems recorded by the combinators; see `validate`. */
  readonly problems: ReadonlyArray<string>
}

// =============================================================================================
// refinements
// =============================================================================================

/**
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * console.log(Command.isCommand(Command.make("ls")), Command.isCommand("ls")) // true false
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isCommand: (u: unknown) => u is Command = model.isCommand

// =============================================================================================
// constructors
// =============================================================================================

/**
 * A command from a program and its arguments (virCommandNew, virCommandNewArgList), or from a
 * tagged template: the template's text is split on white space, each interpolation is one argv
 * word (glued to adjacent text), an array interpolation expands to several words. No shell ever
 * runs: a character a shell would interpret (`| ; $ > ' "` …) in the template's own text is a
 * usage problem — interpolate such text instead.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const a = Command.make("/usr/bin/dnsmasq", "--strict-order", "--domain", "localdomain")
 * const file = "my notes.txt"
 * const b = Command.make`git add -- ${file}` // argv: git, add, --, "my notes.txt"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  (strings: TemplateStringsArray, ...values: ReadonlyArray<Word | number | ReadonlyArray<Word>>): Command
  (program: string, ...args: ReadonlyArray<Word>): Command
} = internal.make as never

/**
 * A command from a whole argv: `argv[0]` is the program (virCommandNewArgs).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.fromArgv(["tar", "-czf", "backup.tgz", "etc"])
 * console.log(cmd.program, cmd.args) // tar [ '-czf', 'backup.tgz', 'etc' ]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromArgv: (argv: ReadonlyArray<Word>) => Command = internal.fromArgv

/**
 * Stdin constructors.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const checksum = Command.make("sha256sum").pipe(Command.stdin(Command.Input.file("/etc/hostname")))
 * const count = Command.make("wc", "-c").pipe(Command.stdin(Command.Input.bytes(new Uint8Array([1, 2, 3]))))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const Input = {
  null: { _tag: "Null" } as Input,
  inherit: { _tag: "Inherit" } as Input,
  pipe: { _tag: "Pipe" } as Input,
  /** A parent fd: an integer from 0 to 2^31-1, else `stdin` records a usage problem. */
  fd: (fd: number): Input => ({ _tag: "Fd", fd }),
  bytes: (bytes: Uint8Array): Input => ({ _tag: "Bytes", bytes }),
  text: (text: Word): Input => ({ _tag: "Text", text }),
  stream: (stream: Stream.Stream<Uint8Array, unknown>): Input => ({ _tag: "Stream", stream }),
  file: (path: string): Input => ({ _tag: "File", path })
} as const

/**
 * Stdout and stderr constructors.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * import { createHash } from "node:crypto"
 *
 * // make >>build.log 2>&1
 * const build = Command.make("make").pipe(
 *   Command.stdout(Command.Output.file("build.log", { append: true })),
 *   Command.stderr(Command.Output.toStdout)
 * )
 *
 * // The SHA-256 of an archive as tar writes it: no chunk is kept (update copies what it needs).
 * const hash = createHash("sha256")
 * const archive = Command.make("tar", "-c", "/srv/data").pipe(
 *   Command.stdout(Command.Output.forEach((bytes) => hash.update(bytes)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const Output = {
  null: { _tag: "Null" } as Output,
  inherit: { _tag: "Inherit" } as Output,
  pipe: { _tag: "Pipe" } as Output,
  capture: { _tag: "Capture" } as Output,
  /** For stderr: the same pipe or file as stdout (`2>&1`). */
  toStdout: { _tag: "ToStdout" } as ErrorOutput,
  /** A parent fd: an integer from 0 to 2^31-1, else `stdout`/`stderr` record a usage problem. */
  fd: (fd: number): Output => ({ _tag: "Fd", fd }),
  file: (path: string, options?: { readonly append?: boolean }): Output => ({
    _tag: "File",
    path,
    append: options?.append ?? false
  }),
  sink: (sink: Sink.Sink<unknown, Uint8Array, unknown, unknown>): Output => ({ _tag: "Sink", sink }),
  /**
   * Hands every chunk to `f` as it is read, synchronously, like Go's `io.Writer`: the cheapest
   * way to consume a large output (a hash, a count, a parser). The bytes are lent: valid only
   * during the call (the executor may read the next chunk into the same memory), so copy what you
   * keep. `f` has no way to wait: for an effectful consumer use `sink`. When `f` throws, or
   * returns a promise or an Effect, it is not called again, the child is killed at once and the
   * run fails with `IoError` carrying what it threw.
   *
   * @since 0.4.0
   */
  forEach: (f: (bytes: Uint8Array) => void): Output => ({ _tag: "ForEach", f })
} as const

/**
 * Pre-exec action constructors, passed to `preExec` (see its example).
 *
 * @since 0.1.0
 * @category constructors
 */
export const PreExec = {
  /** Add `increment` (an integer from -40 to 40) to the nice value (negative needs CAP_SYS_NICE). */
  nice: (increment: number): PreExecAction => ({ _tag: "Nice", increment }),
  /** Become a session leader (no controlling terminal). */
  setsid: { _tag: "Setsid" } as PreExecAction,
  /** PR_SET_NO_NEW_PRIVS: exec can never grant privileges (setuid bits, file caps). */
  noNewPrivileges: { _tag: "NoNewPrivileges" } as PreExecAction,
  /** Write /proc/self/oom_score_adj (an integer from -1000 to 1000). */
  oomScoreAdjust: (value: number): PreExecAction => ({ _tag: "OomScoreAdjust", value }),
  /** ioprio_set for the child (a level is an integer from 0 to 7). */
  ioPriority: (ioClass: "realtime" | "best-effort" | "idle", level: number): PreExecAction => ({
    _tag: "IoPriority",
    class: ioClass,
    level
  })
} as const

// =============================================================================================
// arguments
// =============================================================================================

/**
 * Append one argument (virCommandAddArg).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("ls").pipe(Command.arg("-l"), Command.arg("/tmp"))
 * console.log(cmd.args) // [ '-l', '/tmp' ]
 * ```
 *
 * @since 0.1.0
 * @category arguments
 */
export const arg: {
  (word: Word): (self: Command) => Command
  (self: Command, word: Word): Command
} = internal.arg

/**
 * Append arguments (virCommandAddArgSet, virCommandAddArgList).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const files = ["a.txt", "b.txt"]
 * const cmd = Command.make("git", "add", "--").pipe(Command.args(files))
 * console.log(cmd.args) // [ 'add', '--', 'a.txt', 'b.txt' ]
 * ```
 *
 * @since 0.1.0
 * @category arguments
 */
export const args: {
  (words: ReadonlyArray<Word>): (self: Command) => Command
  (self: Command, words: ReadonlyArray<Word>): Command
} = internal.args

/**
 * Append one `name=value` argument (virCommandAddArgPair). A Redacted value redacts the word.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("dd").pipe(Command.argPair("if", "/dev/zero"), Command.argPair("count", "1"))
 * console.log(cmd.args) // [ 'if=/dev/zero', 'count=1' ]
 * ```
 *
 * @since 0.1.0
 * @category arguments
 */
export const argPair: {
  (name: string, value: Word): (self: Command) => Command
  (self: Command, name: string, value: Word): Command
} = internal.argPair

// =============================================================================================
// environment
// =============================================================================================

/**
 * Set `name=value` in the child (virCommandAddEnvPair). Makes the environment explicit.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Either, Redacted } from "effect"
 *
 * const cmd = Command.make("make").pipe(Command.env("CC", "clang"), Command.env("TOKEN", Redacted.make("s3cret")))
 * console.log(Either.getOrThrow(Command.toString(cmd))) // env -i CC=clang TOKEN=<redacted> make
 * ```
 *
 * @since 0.1.0
 * @category environment
 */
export const env: {
  (name: string, value: Word): (self: Command) => Command
  (self: Command, name: string, value: Word): Command
} = internal.env

/**
 * Set a preformatted `NAME=VALUE` (virCommandAddEnvString); a string without `=` is a usage problem.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("date").pipe(Command.envString("LC_ALL=C"))
 * console.log(Command.resolveEnv(cmd, { PATH: "/usr/bin" })) // { LC_ALL: 'C' }
 * ```
 *
 * @since 0.1.0
 * @category environment
 */
export const envString: {
  (assignment: Word): (self: Command) => Command
  (self: Command, assignment: Word): Command
} = internal.envString

/**
 * Pass these variables from the parent, each only if the parent has it when the command runs
 * (virCommandAddEnvPass). Makes the environment explicit.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("ssh", "host").pipe(Command.envPass("SSH_AUTH_SOCK", "TERM"))
 * console.log(Command.resolveEnv(cmd, { SSH_AUTH_SOCK: "/tmp/agent", HOME: "/root" })) // { SSH_AUTH_SOCK: '/tmp/agent' }
 * ```
 *
 * @since 0.1.0
 * @category environment
 */
export const envPass: {
  (...names: ReadonlyArray<string>): (self: Command) => Command
  (self: Command, ...names: ReadonlyArray<string>): Command
} = internal.envPass

/**
 * virCommandAddEnvPassCommon: `LC_ALL=C`, then pass `LD_PRELOAD LD_LIBRARY_PATH PATH HOME USER
 * LOGNAME TMPDIR` when the parent has them. Everything else is dropped.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.envPassCommon(Command.make("iptables", "-L"))
 * console.log(Command.resolveEnv(cmd, { PATH: "/usr/bin", API_KEY: "k" })) // { LC_ALL: 'C', PATH: '/usr/bin' }
 * ```
 *
 * @since 0.1.0
 * @category environment
 */
export const envPassCommon: (self: Command) => Command = internal.envPassCommon

/**
 * Remove a variable the child would otherwise get. On a command that still inherits the parent's
 * environment it keeps inheriting, minus this name.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("node", "app.js").pipe(Command.envUnset("NODE_OPTIONS"))
 * console.log(Command.resolveEnv(cmd, { PATH: "/usr/bin", NODE_OPTIONS: "--inspect" })) // { PATH: '/usr/bin' }
 * ```
 *
 * @since 0.1.0
 * @category environment
 */
export const envUnset: {
  (name: string): (self: Command) => Command
  (self: Command, name: string): Command
} = internal.envUnset

/**
 * Start from the parent's whole environment; entries set before or after apply on top.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("make").pipe(Command.envInherit, Command.env("CC", "clang"))
 * console.log(Command.resolveEnv(cmd, { PATH: "/usr/bin" })) // { PATH: '/usr/bin', CC: 'clang' }
 * ```
 *
 * @since 0.1.0
 * @category environment
 */
export const envInherit: (self: Command) => Command = internal.envInherit

/**
 * The parent's environment plus these variables: what `env` in execa or `@effect/platform` does.
 * (`Command.env` alone starts from an empty environment, libvirt's rule.) The same as
 * `envInherit` followed by one `env` per entry; entries set before or after apply too.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("make").pipe(Command.envExtend({ CC: "clang", CFLAGS: "-O2" }))
 * console.log(Command.resolveEnv(cmd, { PATH: "/usr/bin" })) // { PATH: '/usr/bin', CC: 'clang', CFLAGS: '-O2' }
 * ```
 *
 * @since 0.2.0
 * @category environment
 */
export const envExtend: {
  (variables: Readonly<Record<string, Word>>): (self: Command) => Command
  (self: Command, variables: Readonly<Record<string, Word>>): Command
} = internal.envExtend

/**
 * Start from an empty environment, dropping every entry set so far.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("env").pipe(Command.env("A", "1"), Command.envClear, Command.env("B", "2"))
 * console.log(Command.resolveEnv(cmd, { PATH: "/usr/bin" })) // { B: '2' }
 * ```
 *
 * @since 0.1.0
 * @category environment
 */
export const envClear: (self: Command) => Command = internal.envClear

// =============================================================================================
// working directory and stdio
// =============================================================================================

/**
 * The child's working directory (virCommandSetWorkingDirectory). Setting it twice is a usage
 * problem; so is setting it on a daemon (which always runs in `/`).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("git", "status").pipe(Command.workingDirectory("/srv/repo"))
 * console.log(cmd.cwd) // /srv/repo
 * ```
 *
 * @since 0.1.0
 * @category stdio
 */
export const workingDirectory: {
  (dir: string): (self: Command) => Command
  (self: Command, dir: string): Command
} = internal.workingDirectory

/**
 * Where stdin comes from. Setting it twice is a usage problem ("input given twice").
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const load = Command.make("psql", "app").pipe(Command.stdin(Command.Input.file("schema.sql")))
 * const edit = Command.make("vim", "notes.txt").pipe(Command.stdin("inherit"), Command.stdout("inherit"))
 * ```
 *
 * @since 0.1.0
 * @category stdio
 */
export const stdin: {
  (input: InputLike): (self: Command) => Command
  (self: Command, input: InputLike): Command
} = internal.stdin

/**
 * Feed stdin from memory (virCommandSetInputBuffer): text (UTF-8), bytes, or a Redacted secret.
 * Bytes are not copied: each run writes them as they are while it runs, so change them only
 * between runs. A child that closes its stdin (or exits) before reading all of it is not an error.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * // Effect<Array<string>, CommandError, CommandExecutor>: [ 'apple', 'pear' ] when run
 * const sorted = Command.lines(Command.make("sort").pipe(Command.feed("pear\napple\n")))
 * ```
 *
 * @since 0.1.0
 * @category stdio
 */
export const feed: {
  (data: string | Uint8Array | Redacted.Redacted<string>): (self: Command) => Command
  (self: Command, data: string | Uint8Array | Redacted.Redacted<string>): Command
} = internal.feed

/**
 * Where stdout goes. Setting it twice is a usage problem.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const build = Command.make("make").pipe(Command.stdout("inherit")) // shown on the terminal
 * const version = Command.make("uname", "-r").pipe(Command.stdout("capture")) // RunResult.stdout
 * ```
 *
 * @since 0.1.0
 * @category stdio
 */
export const stdout: {
  (output: OutputLike): (self: Command) => Command
  (self: Command, output: OutputLike): Command
} = internal.stdout

/**
 * Where stderr goes; `"stdout"` joins it to stdout. Setting it twice is a usage problem. Every
 * stage of a pipeline has its own, set before `pipeTo`: a stage's `"capture"` ends in
 * `RunResult.stageStderr`, its `"pipe"` is read through `Process.upstreamStderr`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const quiet = Command.make("make").pipe(Command.stderr("null"))
 * const both = Command.make("make").pipe(Command.stdout("capture"), Command.stderr("stdout")) // 2>&1
 *
 * // What the middle stage of a pipeline said, whatever the status.
 * const unpacked = Command.pipeline(
 *   Command.make("curl", "-s", "https://example.org/a.tar.gz"),
 *   Command.make("gunzip").pipe(Command.stderr("capture")),
 *   Command.make("tar", "-t")
 * )
 * const complaint = Effect.map(Command.run(unpacked), (result) => new TextDecoder().decode(result.stageStderr[1]))
 * ```
 *
 * @since 0.1.0
 * @category stdio
 */
export const stderr: {
  (output: ErrorOutputLike): (self: Command) => Command
  (self: Command, output: ErrorOutputLike): Command
} = internal.stderr

// =============================================================================================
// file descriptors
// =============================================================================================

/**
 * Give the child the parent's `fd` at the same number (virCommandPassFD). With `closeParent` the
 * parent's fd is closed no later than the spawn, also when the spawn fails. Anything but an
 * integer from 3 to 2^31-1 (fds are C ints) is a usage problem; passing the same fd twice keeps
 * the first.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * // A server that accepts connections on a socket the parent opened (socket activation).
 * const serve = (socketFd: number) =>
 *   Command.make("server", "--listen-fd", String(socketFd)).pipe(Command.passFd(socketFd, { closeParent: true }))
 * ```
 *
 * @since 0.1.0
 * @category fds
 */
export const passFd: {
  (fd: number, options?: { readonly closeParent?: boolean }): (self: Command) => Command
  (self: Command, fd: number, options?: { readonly closeParent?: boolean }): Command
} = internal.passFd

/**
 * Let the child read `data` from fd `fd`, EOF after the last byte (virCommandSetSendBuffer: you
 * choose the number, so you can put it in an argument such as `--readfd 3`). Anything but an
 * integer from 3 to 2^31-1 is a usage problem.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Redacted } from "effect"
 *
 * const passphrase = Redacted.make("correct horse")
 * const decrypt = Command.make("gpg", "--batch", "--passphrase-fd", "3", "--decrypt", "notes.gpg").pipe(
 *   Command.inputFd(3, Redacted.value(passphrase))
 * )
 * ```
 *
 * @since 0.1.0
 * @category fds
 */
export const inputFd: {
  (fd: number, data: string | Uint8Array): (self: Command) => Command
  (self: Command, fd: number, data: string | Uint8Array): Command
} = internal.inputFd

// =============================================================================================
// child setup
// =============================================================================================

/**
 * The child's umask: an integer from 0 to 0o777, else a usage problem.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("install.sh").pipe(Command.umask(0o027))
 * console.log(cmd.setup.umask?.toString(8)) // 27
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const umask: {
  (mask: number): (self: Command) => Command
  (self: Command, mask: number): Command
} = internal.umask

/**
 * A resource limit: one value for soft and hard, or both. A value is `"unlimited"` or an integer
 * from 0 to 2^53-1 (past it a number is no longer exact); anything else, or a soft limit above the
 * hard one, is a usage problem.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const vm = Command.make("qemu-system-x86_64").pipe(
 *   Command.limit("NOFILE", { soft: 1024, hard: 4096 }),
 *   Command.limit("CORE", "unlimited")
 * )
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const limit: {
  (resource: LimitResource, value: LimitValue | { readonly soft: LimitValue; readonly hard: LimitValue }): (
    self: Command
  ) => Command
  (
    self: Command,
    resource: LimitResource,
    value: LimitValue | { readonly soft: LimitValue; readonly hard: LimitValue }
  ): Command
} = internal.limit

/**
 * User to run as (virCommandSetUID): a name, or an id from 0 to 2^32-2 (2^32-1 is the kernel's
 * "unchanged"). Anything else is a usage problem.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const dnsmasq = Command.make("dnsmasq", "--keep-in-foreground").pipe(Command.uid("nobody"))
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const uid: {
  (user: number | string): (self: Command) => Command
  (self: Command, user: number | string): Command
} = internal.uid

/**
 * Group to run as (virCommandSetGID): a name, or an id from 0 to 2^32-2.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const dnsmasq = Command.make("dnsmasq", "--keep-in-foreground").pipe(Command.uid(65534), Command.gid(65534))
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const gid: {
  (group: number | string): (self: Command) => Command
  (self: Command, group: number | string): Command
} = internal.gid

/**
 * Supplementary groups: names or ids from 0 to 2^32-2, at most 65536 of them (NGROUPS_MAX).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const backup = Command.make("backup.sh").pipe(Command.uid("backup"), Command.groups(["backup", "disk"]))
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const groups: {
  (groups: ReadonlyArray<number | string>): (self: Command) => Command
  (self: Command, groups: ReadonlyArray<number | string>): Command
} = internal.groups

/**
 * Drop all capabilities except those allowed (virCommandClearCaps).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const dnsmasq = Command.make("dnsmasq").pipe(Command.clearCaps, Command.allowCap("CAP_NET_BIND_SERVICE"))
 * console.log(dnsmasq.setup.clearCaps, dnsmasq.setup.allowCaps) // true [ 'CAP_NET_BIND_SERVICE' ]
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const clearCaps: (self: Command) => Command = internal.clearCaps

/**
 * Keep this capability (virCommandAllowCap).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const dnsmasq = Command.make("dnsmasq").pipe(
 *   Command.clearCaps,
 *   Command.allowCap("CAP_NET_ADMIN"),
 *   Command.allowCap("CAP_NET_BIND_SERVICE")
 * )
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const allowCap: {
  (capability: Capability): (self: Command) => Command
  (self: Command, capability: Capability): Command
} = internal.allowCap

/**
 * `"new"` (default): the child leads its own process group; `"inherit"`: it stays in the parent's
 * (for interactive programs that need the terminal's foreground group). Only a new group lets scope
 * close kill the child's own children too.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * // An editor needs the terminal: stay in its foreground process group.
 * const edit = Command.make("vim", "notes.txt").pipe(
 *   Command.processGroup("inherit"),
 *   Command.stdin("inherit"),
 *   Command.stdout("inherit")
 * )
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const processGroup: {
  (mode: "new" | "inherit"): (self: Command) => Command
  (self: Command, mode: "new" | "inherit"): Command
} = internal.processGroup

/**
 * The signal the child gets when the parent dies (PR_SET_PDEATHSIG), or `false` for none. The
 * default is SIGKILL for every child but a daemon. Linux sends it when the thread that spawned the
 * child ends: children started from a worker thread die with that worker.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const worker = Command.make("worker").pipe(Command.dieWithParent("SIGTERM")) // a chance to clean up
 * const survivor = Command.make("worker").pipe(Command.dieWithParent(false))
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const dieWithParent: {
  (signal: Signal | false): (self: Command) => Command
  (self: Command, signal: Signal | false): Command
} = internal.dieWithParent

/**
 * Run as a daemon (virCommandDaemonize), optionally with a pid file (virCommandSetPidFile).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const dnsmasq = Command.make("dnsmasq", "--keep-in-foreground").pipe(
 *   Command.daemonize({ pidFile: "/run/dnsmasq.pid" })
 * )
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const daemonize: {
  (options?: { readonly pidFile?: string }): (self: Command) => Command
  (self: Command, options?: { readonly pidFile?: string }): Command
} = internal.daemonize

/**
 * Containment: whether every process the command starts, at any depth, is killed and reaped when
 * its run ends (success, failure, interruption, timeout, `abort`, scope close, a terminated worker
 * thread, the Node process killed), however it tried to leave: `setsid`, a double fork, a new
 * process group, ignoring SIGTERM, forking as fast as it can, stopped. `true` asks for it: without
 * the child-side helper the command fails before anything runs. `false` opts out: only the child
 * and its process group are killed and reaped. Unset: the executor's default (the Node
 * executor's layer option `contain`, off by default). A daemon is never contained: it leaves on
 * purpose. It costs one more process per command (a few milliseconds per spawn).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * // A test harness whose children start servers that detach with setsid:
 * const suite = Command.make("./run-tests.sh").pipe(Command.contain(true))
 * // Under a layer with `contain: true`, a launcher whose setsid'ed children are meant to outlive it:
 * const launcher = Command.make("./start-agents.sh").pipe(Command.contain(false))
 * ```
 *
 * @since 0.3.0
 * @category child setup
 */
export const contain: {
  (enabled: boolean): (self: Command) => Command
  (self: Command, enabled: boolean): Command
} = internal.contain

/**
 * The daemon's pid file (virCommandSetPidFile); a usage problem without `daemonize`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const daemon = Command.make("my-daemon").pipe(Command.daemonize(), Command.pidFile("/run/my-daemon.pid"))
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const pidFile: {
  (path: string): (self: Command) => Command
  (self: Command, path: string): Command
} = internal.pidFile

/**
 * Require a start-up handshake (virCommandRequireHandshake).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const child = yield* Command.start(Command.handshake(Command.make("qemu-system-x86_64", "-S")))
 *   yield* child.handshakeWait // set up (limits, credentials, …), not yet running the program
 *   yield* child.handshakeNotify // now it may exec
 *   return yield* child.wait
 * }))
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const handshake: (self: Command) => Command = internal.handshake

/**
 * Add a pre-exec action.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const backup = Command.make("backup.sh").pipe(
 *   Command.preExec(Command.PreExec.nice(10)),
 *   Command.preExec(Command.PreExec.ioPriority("idle", 7)),
 *   Command.preExec(Command.PreExec.noNewPrivileges)
 * )
 * ```
 *
 * @since 0.1.0
 * @category child setup
 */
export const preExec: {
  (action: PreExecAction): (self: Command) => Command
  (self: Command, action: PreExecAction): Command
} = internal.preExec

// =============================================================================================
// kill policy
// =============================================================================================

/**
 * The first signal sent to stop the child (default SIGTERM).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * // postgres shuts down fast on SIGINT
 * const postgres = Command.make("postgres", "-D", "/var/lib/pgsql").pipe(Command.killSignal("SIGINT"))
 * ```
 *
 * @since 0.1.0
 * @category kill policy
 */
export const killSignal: {
  (signal: Signal): (self: Command) => Command
  (self: Command, signal: Signal): Command
} = internal.killSignal

/**
 * How long the child has to exit after the first signal before SIGKILL (default 3 seconds). Any
 * finite duration is honoured, however long (0: SIGKILL at once, after the signal); an infinite,
 * negative or NaN one is a usage problem: an endless grace would let a child that ignores the
 * signal hold every scope's close forever.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * // SIGTERM, up to 30 seconds to shut down, then SIGKILL
 * const postgres = Command.make("postgres", "-D", "/var/lib/pgsql").pipe(Command.killGrace("30 seconds"))
 * ```
 *
 * @since 0.1.0
 * @category kill policy
 */
export const killGrace: {
  (grace: Duration.DurationInput): (self: Command) => Command
  (self: Command, grace: Duration.DurationInput): Command
} = internal.killGrace

// =============================================================================================
// timeouts, output limits, pipelines
// =============================================================================================

/**
 * Kill the command when it runs longer than `duration`: its kill policy (signal, grace, SIGKILL),
 * then reaping, then `CommandTimeoutError` with the output captured so far. (`Effect.timeout`
 * around any helper also kills and reaps, through interruption, without that error's details.)
 * Any positive duration is honoured, however long, on the fiber's Clock (a `TestClock` moves it);
 * `Infinity` means no timeout (it removes one set before). Zero, negative or NaN is a usage problem.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const page = Command.string(Command.make("curl", "-s", "https://example.com").pipe(Command.timeout("10 seconds")))
 * const orEmpty = page.pipe(Effect.catchTag("CommandTimeoutError", () => Effect.succeed("")))
 * ```
 *
 * @since 0.1.0
 * @category timeouts
 */
export const timeout: {
  (duration: Duration.DurationInput): (self: Command) => Command
  (self: Command, duration: Duration.DurationInput): Command
} = internal.timeout

/**
 * The most bytes a captured stdout or stderr may hold (default 100 MiB; `Infinity` for no limit):
 * an integer from 0 to 2^53-1, else a usage problem; set on a pipeline, it bounds each captured
 * output of every stage. Memory is used only for the bytes captured.
 * A child that writes more is killed and reaped, and the run fails with `OutputLimitError`
 * naming the stream and carrying the output up to the limit.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const log = Command.bytes(Command.make("cat", "/var/log/syslog").pipe(Command.maxOutput(1024 * 1024)))
 * const head = log.pipe(Effect.catchTag("OutputLimitError", (error) => Effect.succeed(error.output)))
 * ```
 *
 * @since 0.1.0
 * @category timeouts
 */
export const maxOutput: {
  (bytes: number): (self: Command) => Command
  (self: Command, bytes: number): Command
} = internal.maxOutput

/**
 * `self | into`: `into` reads `self`'s stdout (or stderr, or both) through a kernel pipe the two
 * children share; the bytes never pass through Node. The result is a pipeline, run like any
 * command: input feeds the first stage, output comes from the last, each stage keeps its own
 * environment, directory and setup. It fails like `set -o pipefail`: with the error of the
 * rightmost failing stage, whose message names that stage and quotes its stderr;
 * `RunResult.stages` and the errors list every stage's status, the errors every stage's stderr
 * tail (`stageStderrTails`).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Either } from "effect"
 *
 * const count = Command.make("ls", "/etc").pipe(Command.pipeTo(Command.make("wc", "-l")))
 * console.log(Either.getOrThrow(Command.toString(count))) // ls /etc | wc -l
 * ```
 *
 * @since 0.1.0
 * @category pipelines
 */
export const pipeTo: {
  (into: Command, options?: { readonly from?: PipeSource }): (self: Command) => Command
  (self: Command, into: Command, options?: { readonly from?: PipeSource }): Command
} = internal.pipeTo

/**
 * `a | b | c …`, each stage's stdout to the next's stdin (see `pipeTo`).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Either } from "effect"
 *
 * const top = Command.pipeline(Command.make("ps", "-eo", "comm"), Command.make("sort"), Command.make("uniq", "-c"))
 * console.log(Either.getOrThrow(Command.toString(top))) // ps -eo comm | sort | uniq -c
 * ```
 *
 * @since 0.1.0
 * @category pipelines
 */
export const pipeline: (first: Command, ...rest: ReadonlyArray<Command>) => Command = internal.pipeline

/**
 * The stages of a pipeline, first to last, each on its own (without `upstream`); a single
 * command is one stage.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const count = Command.pipeline(Command.make("ls"), Command.make("wc", "-l"))
 * console.log(Command.stages(count).map((stage) => stage.program)) // [ 'ls', 'wc' ]
 * ```
 *
 * @since 0.1.0
 * @category pipelines
 */
export const stages: (self: Command) => ReadonlyArray<Command> = internal.standaloneStages

/**
 * What each stage of a pipeline sends to the next: `joints(p)[i]` joins stage i to stage i + 1.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const p = Command.make("make").pipe(Command.pipeTo(Command.make("grep", "error"), { from: "stderr" }))
 * console.log(Command.joints(p)) // [ 'stderr' ]
 * ```
 *
 * @since 0.1.0
 * @category pipelines
 */
export const joints: (self: Command) => ReadonlyArray<PipeSource> = internal.joints

// =============================================================================================
// rendering
// =============================================================================================

/**
 * Every usage problem of the command, or the command itself.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Either } from "effect"
 *
 * const bad = Command.make("echo", "a\0b").pipe(Command.env("A=B", "c"))
 * const result = Command.validate(bad)
 * if (Either.isLeft(result)) console.log(result.left.reasons.length) // 2
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validate: (self: Command) => Either.Either<Command, CommandUsageError> = validation.validate

/**
 * A death by SIGPIPE counts as success in the run's status: the stage (or command) was writing
 * when its reader had finished and gone, which is how `yes | head -1` or `producer | grep -m1`
 * end. `set -o pipefail` would fail such a pipeline with the writer's signal. Applied to one
 * stage: give it before `pipeTo`. `RunResult.stages` still shows the signal.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * // `yes` dies of SIGPIPE once `head` has its line: not a failure.
 * const first = Command.make("yes").pipe(Command.allowSigpipe, Command.pipeTo(Command.make("head", "-n", "1")))
 * ```
 *
 * @since 0.2.0
 * @category pipelines
 */
export const allowSigpipe: (self: Command) => Command = internal.allowSigpipe

/**
 * The command as a `/bin/sh` line: its environment, then argv, each word quoted so that `sh -c`
 * parses it back to the same word (libvirt's rules), Redacted values as `<redacted>`. The line
 * gives the child the environment it gets: `env -i NAME=value …` when the environment starts
 * empty (after `env`, `envPass`, `envClear`…), `env -u NAME …` for each variable `envUnset`
 * removes from an inherited one, `NAME=value …` alone when variables are only added to it. With
 * `libvirt: true`, the assignments only, as virCommandToString writes them. `linebreaks` puts each
 * option with its values on its own line. `Pass` entries are shown with the values in
 * `environment` when given, as `NAME="$NAME"` otherwise.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Either } from "effect"
 *
 * const cmd = Command.make("echo", "hello world").pipe(Command.env("LANG", "C"))
 * console.log(Either.getOrThrow(Command.toString(cmd))) // env -i LANG=C echo 'hello world'
 * console.log(Either.getOrThrow(Command.toString(cmd, { libvirt: true }))) // LANG=C echo 'hello world'
 * const extended = Command.make("make").pipe(Command.envExtend({ CC: "clang" }), Command.envUnset("MAKEFLAGS"))
 * console.log(Either.getOrThrow(Command.toString(extended))) // env -u MAKEFLAGS CC=clang make
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const toString: (
  self: Command,
  options?: {
    readonly linebreaks?: boolean
    readonly environment?: Readonly<Record<string, string | undefined>>
    readonly libvirt?: boolean
  }
) => Either.Either<string, CommandUsageError> = (self, options) =>
  Either.map(validation.validate(self), (valid) => render.render(valid, { ...options, escape: true }))

/**
 * virCommandWriteArgLog's line: the environment as `toString` shows it (`libvirt: true`: the
 * assignments only) and argv, separated by spaces, unquoted; Redacted values as `<redacted>`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Either } from "effect"
 *
 * const cmd = Command.make("echo", "hello world").pipe(Command.env("LANG", "C"))
 * console.log(Either.getOrThrow(Command.toLogLine(cmd))) // env -i LANG=C echo hello world
 * console.log(Either.getOrThrow(Command.toLogLine(cmd, { libvirt: true }))) // LANG=C echo hello world
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const toLogLine: (
  self: Command,
  options?: {
    readonly environment?: Readonly<Record<string, string | undefined>>
    readonly libvirt?: boolean
  }
) => Either.Either<string, CommandUsageError> = (self, options) =>
  Either.map(validation.validate(self), (valid) => render.render(valid, { ...options, escape: false }))

/**
 * Quote one word for a POSIX shell with libvirt's rules.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * console.log(Command.quote("it's"), Command.quote("plain")) // 'it'\''s' plain
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const quote: (word: string) => string = render.quote

// =============================================================================================
// execution
// =============================================================================================

/**
 * Start the command in the current scope (virCommandRunAsync). Closing the scope kills and reaps
 * the child (unless it was detached or daemonized).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const sed = yield* Command.start(Command.make("sed", "-u", "s/^/> /").pipe(Command.stdin("pipe"), Command.stdout("pipe")))
 *   yield* Stream.run(Stream.make("hello\n").pipe(Stream.encodeText), sed.stdin) // then EOF
 *   return yield* sed.stdout.pipe(Stream.decodeText(), Stream.mkString)
 * })) // "> hello\n"; leaving the scope kills and reaps sed if it still runs
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const start: (self: Command) => Effect.Effect<Process, CommandError, CommandExecutor | Scope.Scope> =
  executor.startProcess

/**
 * virCommandRun: run to completion, feeding input and draining outputs concurrently. Fails with
 * `ExitError` on a non-zero exit and `SignalError` on a signal, each with the tail of stderr.
 * Returns the status and the outputs set to `"capture"`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(
 *   Command.run(Command.make("echo", "hi").pipe(Command.stdout("capture"))),
 *   (result) => new TextDecoder().decode(result.stdout)
 * )
 * Effect.runPromise(Effect.provide(program, NodeCommandExecutor.layer)).then(console.log) // "hi\n"
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const run: (self: Command) => Effect.Effect<RunResult, CommandError, CommandExecutor> = executor.run

/**
 * virCommandRun with a status pointer: the exit code, whatever it is. A signal still fails.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const code = Command.exitCode(Command.make("sh", "-c", "exit 3"))
 * Effect.runPromise(Effect.provide(code, NodeCommandExecutor.layer)).then(console.log) // 3
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const exitCode: (self: Command) => Effect.Effect<number, CommandError, CommandExecutor> = executor.exitCode

/**
 * virCommandRawStatus: how the child ended; never fails because of it.
 *
 * @example
 * ```ts
 * import { Command, ExitStatus } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const status = Command.status(Command.make("sh", "-c", "kill -KILL $$"))
 * Effect.runPromise(Effect.provide(status, NodeCommandExecutor.layer)).then(ExitStatus.format).then(console.log) // fatal signal SIGKILL
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const status: (self: Command) => Effect.Effect<ExitStatus, CommandError, CommandExecutor> = executor.status

/**
 * Run and return stdout as bytes; fails like `run`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const bytes = Command.bytes(Command.make("printf", "\\001\\002"))
 * Effect.runPromise(Effect.provide(bytes, NodeCommandExecutor.layer)).then(console.log) // Uint8Array(2) [ 1, 2 ]
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const bytes: (self: Command) => Effect.Effect<Uint8Array, CommandError, CommandExecutor> = executor.bytes

/**
 * Run and return stdout decoded (UTF-8 unless `encoding` names another); fails like `run`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const text = Command.string(Command.make("echo", "hello"))
 * Effect.runPromise(Effect.provide(text, NodeCommandExecutor.layer)).then(console.log) // "hello\n"
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const string: (self: Command, encoding?: string) => Effect.Effect<string, CommandError, CommandExecutor> =
  executor.string

/**
 * Run and return stdout's lines (without their `\n` or `\r\n`); fails like `run`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const sorted = Command.lines(Command.make("sort").pipe(Command.feed("pear\napple\n")))
 * Effect.runPromise(Effect.provide(sorted, NodeCommandExecutor.layer)).then(console.log) // [ 'apple', 'pear' ]
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const lines: (self: Command) => Effect.Effect<Array<string>, CommandError, CommandExecutor> = executor.lines

/**
 * virCommandRunNul: stdout split on `separator` (default NUL) into groups of `columns` tokens;
 * fails like `run`. `columns` is a whole number ≥ 1 (default 1) and the separator is not empty,
 * else the run fails with `CommandUsageError`. A short last group is kept, as libvirt does; with
 * `strict: true` it fails the run with `RecordsError` instead, so every record has exactly
 * `columns` fields and the result is typed as tuples (`Array<readonly [string, string]>` for
 * `columns: 2`).
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const pairs = Command.records(Command.make("printf", "a\\0001\\000b\\0002\\000"), { columns: 2, strict: true })
 * const program = Effect.map(pairs, (rows) => rows.map(([name, value]) => `${name}=${value}`))
 * Effect.runPromise(Effect.provide(program, NodeCommandExecutor.layer)).then(console.log) // [ 'a=1', 'b=2' ]
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const records: {
  <const N extends number>(
    self: Command,
    options: { readonly separator?: string; readonly columns: N; readonly strict: true }
  ): Effect.Effect<Array<Row<N>>, CommandError, CommandExecutor>
  (
    self: Command,
    options?: { readonly separator?: string; readonly columns?: number; readonly strict?: false }
  ): Effect.Effect<Array<Array<string>>, CommandError, CommandExecutor>
} = executor.records as never

/**
 * A record of `records` with `strict: true`: a tuple of `N` strings (`readonly [string, string]`
 * for 2), or a readonly array when `N` is not a literal.
 *
 * @example
 * ```ts
 * import type { Command } from "@effect-command/core"
 *
 * const pair: Command.Row<2> = ["name", "value"]
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Row<N extends number, Fields extends ReadonlyArray<string> = readonly []> = number extends N
  ? ReadonlyArray<string>
  : Fields["length"] extends N ? Fields
  : Row<N, readonly [...Fields, string]>

/**
 * Stream stdout; after the last chunk the exit status is checked like `run`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Effect, Stream } from "effect"
 *
 * // The size of a download, without holding it in memory.
 * const size = Command.stream(Command.make("curl", "-s", "https://example.com")).pipe(
 *   Stream.runFold(0, (total, chunk) => total + chunk.length)
 * )
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const stream: (self: Command) => Stream.Stream<Uint8Array, CommandError, CommandExecutor> = executor.stream

/**
 * Stream stdout's lines; after the last line the exit status is checked like `run`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Console, Stream } from "effect"
 *
 * const follow = Command.streamLines(Command.make("journalctl", "-f", "-u", "nginx")).pipe(
 *   Stream.take(10),
 *   Stream.runForEach(Console.log)
 * )
 * ```
 *
 * @since 0.1.0
 * @category execution
 */
export const streamLines: (self: Command) => Stream.Stream<string, CommandError, CommandExecutor> = executor.streamLines

/**
 * The environment the child gets, given the parent's: what an executor passes to exec. Redacted
 * values stay Redacted.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const cmd = Command.make("make").pipe(Command.envPass("HOME"), Command.env("CC", "clang"))
 * console.log(Command.resolveEnv(cmd, { HOME: "/root", PATH: "/usr/bin" })) // { HOME: '/root', CC: 'clang' }
 * ```
 *
 * @since 0.1.0
 * @category interpretation
 */
export const resolveEnv: (
  self: Command,
  parent: Readonly<Record<string, string | undefined>>
) => Record<string, Word> = environment.resolveEnv

/**
 * The value of a word, Redacted or not: what reaches the child.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Redacted } from "effect"
 *
 * console.log(Command.wordValue(Redacted.make("s3cret")), Command.wordValue("plain")) // s3cret plain
 * ```
 *
 * @since 0.1.0
 * @category interpretation
 */
export const wordValue: (word: Word) => string = model.wordValue
