/**
 * Every way running a command can fail, as tagged errors. Each carries `command`: the command line
 * rendered with `Command.toString(…, { libvirt: true })` (Redacted values shown as `<redacted>`), so a message can be acted
 * on without the value that failed. Each `message` is one line of at most 300 characters: the
 * program and its arguments (without what sets up the environment; a long line loses its middle),
 * what happened, and the last line of the output the error keeps; the fields keep every fact whole.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Inspectable from "effect/Inspectable"

import { headline, stageProgram } from "./internal/headline.js"
import type { Previews } from "./internal/previews-key.js"
import { previewsKey } from "./internal/previews-key.js"

import type { ExitStatus } from "./ExitStatus.js"
import type { Signal } from "./Signal.js"

/**
 * The command was built wrongly: every problem recorded by the combinators (NUL bytes, bad env
 * names, fds ≤ 2 passed, input set twice, …) and every inconsistency between fields (a pid file
 * without `daemonize`, …). Reported before anything is spawned.
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Command.string(Command.make("echo", "a\0b")).pipe(
 *   Effect.catchTag("CommandUsageError", (error) => Effect.succeed(error.reasons.length))
 * )
 * Effect.runPromise(Effect.provide(program, DryRunExecutor.layer())).then(console.log) // 1
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandUsageError extends Data.TaggedError("CommandUsageError")<{
  readonly reasons: ReadonlyArray<string>
  readonly command: string
}> {
  override get message(): string {
    return headline(this.command, `invalid command: ${this.reasons.join("; ")}`)
  }
}

/**
 * Why a spawn failed.
 *
 * - `NotFound`: no such program (a bare name not on the parent's PATH, or a missing absolute path).
 * - `PermissionDenied`: the program or a directory on its path is not accessible (EACCES/EPERM).
 * - `NotExecutable`: the program is a directory or not an executable format.
 * - `BadWorkingDirectory`: the working directory does not exist or is not a directory.
 * - `TooManyOpenFiles`: EMFILE/ENFILE in the parent.
 * - `ArgumentListTooLong`: E2BIG: argv plus environment exceed the kernel's limit.
 * - `SetupFailed`: a child-side setup step (`stage`) failed with `errno`.
 * - `HelperMissing`: the command needs the child-side helper, which is not built.
 * - `Unknown`: anything else; `errno` and `cause` say what.
 *
 * @example
 * ```ts
 * import type { CommandError } from "@effect-command/core"
 *
 * const hint = (reason: CommandError.SpawnErrorReason): string =>
 *   reason === "NotFound" ? "is it installed?" : reason === "HelperMissing" ? "run npx effect-command-build" : reason
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type SpawnErrorReason =
  | "NotFound"
  | "PermissionDenied"
  | "NotExecutable"
  | "BadWorkingDirectory"
  | "TooManyOpenFiles"
  | "ArgumentListTooLong"
  | "SetupFailed"
  | "HelperMissing"
  | "Unknown"

/**
 * The child could not be started. Nothing is left running.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const program = Command.string(Command.make("no-such-program-here")).pipe(
 *   Effect.catchTag("SpawnError", (error) => Effect.succeed(error.reason))
 * )
 * Effect.runPromise(Effect.provide(program, NodeCommandExecutor.layer)).then(console.log) // NotFound
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class SpawnError extends Data.TaggedError("SpawnError")<{
  readonly reason: SpawnErrorReason
  readonly command: string
  /** A child-side setup step (`"setrlimit(NOFILE)"`, `"chdir"`, `"execve"`…) when known. */
  readonly stage?: string
  /** The errno name (`"ENOENT"`) when known. */
  readonly errno?: string
  /** What a person should know: the PATH searched, the directory that is missing, how to build the helper. */
  readonly detail?: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const what = this.stage !== undefined ? `${this.stage} failed` : "spawn failed"
    const errno = this.errno !== undefined ? `: ${this.errno}` : ""
    return headline(this.command, `${this.reason}: ${what}${errno}`, { detail: this.detail })
  }
}

/**
 * What `ExitError` and `SignalError` both tell of a run that ended badly.
 *
 * @example
 * ```ts
 * import type { CommandError } from "@effect-command/core"
 *
 * const lastLine = (facts: CommandError.StatusFacts): string => facts.stderrTail.split("\n").at(-1) ?? ""
 *
 * // In a pipeline, what the stage that failed said (its own stderr, not the last stage's).
 * const complaint = (facts: CommandError.StatusFacts): string =>
 *   facts.failedStage === undefined ? facts.stderrTail : facts.stageStderrTails?.[facts.failedStage] ?? ""
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export interface StatusFacts {
  /** The last bytes of stderr (a pipeline's: its last stage's), secrets blanked; "" when not captured. */
  readonly stderrTail: string
  /** When the run captured stdout (`string`, `lines`, `bytes`, `"capture"`): its tail, like `stderrTail`. */
  readonly stdoutTail?: string
  readonly command: string
  /** For a pipeline: every stage's status, first to last (the error is the rightmost failure's). */
  readonly stages?: ReadonlyArray<ExitStatus>
  /**
   * For a pipeline: every stage's stderr tail, first to last, beside `stages` (the last is
   * `stderrTail`). Each like `stderrTail`: what the run helpers kept of an unspecified stderr, or
   * the end of a captured one; "" for a stderr sent elsewhere (a file, the next stage, …).
   *
   * @since 0.3.0
   */
  readonly stageStderrTails?: ReadonlyArray<string>
  /**
   * For a pipeline: the index in `stages` of the stage whose status this is, pipefail's rightmost
   * failing stage (a stage that allows SIGPIPE and died of it did not fail).
   *
   * @since 0.3.0
   */
  readonly failedStage?: number
}

/** A pipeline stage as a message names it: `stage 2 (gunzip)`, numbered from 1. */
const stageName = (error: { readonly command: string; readonly failedStage?: number }): string => {
  const index = error.failedStage ?? 0
  const program = stageProgram(error.command, index)
  return `stage ${index + 1}${program === "" ? "" : ` (${program})`}`
}

/**
 * A status error's message: the whole command, then, in a pipeline, which stage failed and the
 * last line it wrote to stderr; else the last line of `stderrTail`.
 */
const statusHeadline = (facts: StatusFacts, what: string): string =>
  facts.failedStage === undefined
    ? headline(facts.command, what, { output: facts.stderrTail })
    : headline(facts.command, `${stageName(facts)}: ${what}`, {
      output: facts.stageStderrTails?.[facts.failedStage] ?? ""
    })

/**
 * The child exited with a non-zero code. `stderrTail` holds the last bytes (at most 8 KiB) of its
 * stderr when stderr was captured, by the caller or by the run helpers' default capture. For a
 * pipeline, the code is pipefail's rightmost failing stage's (`failedStage`); every stage's
 * stderr tail is in `stageStderrTails`, and the message names the stage and quotes its own stderr.
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const layer = DryRunExecutor.layer(() => ({ status: 2, stderr: "no such file\n" }))
 * const program = Command.run(Command.make("ls", "/missing")).pipe(
 *   Effect.catchTag("ExitError", (error) => Effect.succeed(`${error.exitCode}: ${error.stderrTail}`))
 * )
 * Effect.runPromise(Effect.provide(program, layer)).then(console.log) // 2: no such file
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ExitError extends Data.TaggedError("ExitError")<
  {
    readonly exitCode: number
  } & StatusFacts
> {
  override get message(): string {
    return statusHeadline(this, `unexpected exit status ${this.exitCode}`)
  }
}

/**
 * A signal killed the child (in a pipeline: pipefail's rightmost failing stage, as in `ExitError`).
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor, ExitStatus } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const layer = DryRunExecutor.layer(() => ({ status: ExitStatus.signaled("SIGSEGV", true) }))
 * const program = Command.run(Command.make("./crashy")).pipe(
 *   Effect.catchTag("SignalError", (error) => Effect.succeed(`${error.signal} ${error.coreDumped}`))
 * )
 * Effect.runPromise(Effect.provide(program, layer)).then(console.log) // SIGSEGV true
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class SignalError extends Data.TaggedError("SignalError")<
  {
    readonly signal: Signal
    readonly coreDumped: boolean
  } & StatusFacts
> {
  override get message(): string {
    const core = this.coreDumped ? " (core dumped)" : ""
    return statusHeadline(this, `unexpected fatal signal ${this.signal}${core}`)
  }
}

/**
 * The command ran longer than its timeout; it was killed with its kill policy and reaped. `stdout`
 * and `stderr` hold what was captured until then (a pipeline's: its last stage's; `stageStderr`
 * has every stage's stderr).
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Duration, Effect } from "effect"
 *
 * const layer = DryRunExecutor.layer(() => ({ delay: "1 hour" }))
 * const program = Command.run(Command.make("sleep", "3600").pipe(Command.timeout("10 millis"))).pipe(
 *   Effect.catchTag("CommandTimeoutError", (error) => Effect.succeed(Duration.format(error.timeout)))
 * )
 * Effect.runPromise(Effect.provide(program, layer)).then(console.log) // 10ms
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandTimeoutError extends Data.TaggedError("CommandTimeoutError")<{
  readonly timeout: Duration.Duration
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
  /**
   * For a pipeline: every stage's stderr until then, first to last (the last is `stderr`), each
   * like `stderr`: what was captured, or the last 8 KiB the run helpers kept, secrets blanked.
   *
   * @since 0.3.0
   */
  readonly stageStderr?: ReadonlyArray<Uint8Array>
  readonly command: string
}> {
  override get message(): string {
    return headline(this.command, `timed out after ${Duration.format(this.timeout)}`)
  }
  /**
   * The output as its length and a short preview, not an array of numbers.
   *
   * @since 0.2.0
   */
  override toJSON(): unknown {
    const previews = previewsOf(this)
    return {
      ...(super.toJSON() as object),
      stdout: preview(this, "stdout", this.stdout),
      stderr: preview(this, "stderr", this.stderr),
      ...(this.stageStderr === undefined ? {} : {
        stageStderr: this.stageStderr.map((bytes, i) => previews?.stageStderr?.[i] ?? `${bytes.length} bytes`)
      })
    }
  }
  /** @internal */
  override [Inspectable.NodeInspectSymbol](): unknown {
    return inspected(this)
  }
}

/**
 * A captured output exceeded the command's `maxOutput`: the child was killed and reaped. `output`
 * holds the first `limit` bytes. In a pipeline, every stage was killed, and `failedStage` says
 * whose output it was (the message names the stage).
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const layer = DryRunExecutor.layer(() => ({ stdout: "x".repeat(100) }))
 * const program = Command.string(Command.make("yes").pipe(Command.maxOutput(10))).pipe(
 *   Effect.catchTag("OutputLimitError", (error) => Effect.succeed(`${error.stream}: ${error.output.length} bytes`))
 * )
 * Effect.runPromise(Effect.provide(program, layer)).then(console.log) // stdout: 10 bytes
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class OutputLimitError extends Data.TaggedError("OutputLimitError")<{
  readonly stream: "stdout" | "stderr"
  readonly limit: number
  readonly output: Uint8Array
  /**
   * For a pipeline: the index of the stage whose `stream` passed the limit (the last stage's
   * stdout and stderr are the pipeline's; an earlier stage's stderr may be captured too).
   *
   * @since 0.3.0
   */
  readonly failedStage?: number
  readonly command: string
}> {
  override get message(): string {
    const what = `wrote more than ${this.limit} bytes to ${this.stream}; it was killed`
    return headline(this.command, this.failedStage === undefined ? what : `${stageName(this)} ${what}`)
  }
  /**
   * The output as its length and a short preview, not an array of numbers.
   *
   * @since 0.2.0
   */
  override toJSON(): unknown {
    return { ...(super.toJSON() as object), output: preview(this, "output", this.output) }
  }
  /** @internal */
  override [Inspectable.NodeInspectSymbol](): unknown {
    return inspected(this)
  }
}

/**
 * Daemonizing failed: the pid file is locked by a running daemon, or could not be written. (A
 * failing step of the double fork itself is a `SpawnError` with its `stage`.)
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const start = Command.run(Command.make("dnsmasq").pipe(Command.daemonize({ pidFile: "/run/dnsmasq.pid" }))).pipe(
 *   Effect.asVoid,
 *   // another dnsmasq holds the pid file's lock: it is already running
 *   Effect.catchTag("DaemonError", (error) => error.reason === "PidFileLocked" ? Effect.void : Effect.fail(error))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class DaemonError extends Data.TaggedError("DaemonError")<{
  readonly reason: "PidFileLocked" | "PidFileUnwritable"
  readonly pidFile?: string
  readonly command: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const where = this.pidFile !== undefined ? ` (pid file ${this.pidFile})` : ""
    return headline(this.command, `${this.reason}: daemonizing failed${where}`)
  }
}

/**
 * `Process.waitFor` did not see its pattern: the output ended without it, or the timeout passed.
 * The child is left as it is (the caller decides: `abort`, `kill`, or wait longer).
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const layer = DryRunExecutor.layer(() => ({ stdout: "error: address in use\n", status: 1 }))
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* Command.start(Command.make("server").pipe(Command.stdout("pipe")))
 *   return yield* server.waitFor(/listening on (\d+)/)
 * })).pipe(Effect.catchTag("ReadinessError", (error) => Effect.succeed(`${error.reason}: ${error.output}`)))
 * Effect.runPromise(Effect.provide(program, layer)).then(console.log) // Ended: error: address in use
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class ReadinessError extends Data.TaggedError("ReadinessError")<{
  readonly reason: "Ended" | "Timeout"
  /** The pattern waited for, as written (`/listening on (\d+)/`). */
  readonly pattern: string
  readonly stream: "stdout" | "stderr"
  /** With `reason: "Timeout"`: how long it waited. */
  readonly timeout?: Duration.Duration
  /** The last 8 KiB read while waiting, like an `ExitError`'s `stderrTail`: what the child said instead. */
  readonly output: string
  readonly command: string
}> {
  override get message(): string {
    const why = this.reason === "Timeout" && this.timeout !== undefined
      ? `did not print ${this.pattern} on ${this.stream} within ${Duration.format(this.timeout)}`
      : `ended its ${this.stream} without printing ${this.pattern}`
    return headline(this.command, why, { output: this.output })
  }
}

/**
 * Reading from or writing to the child failed for a reason other than the child closing its end
 * (an EPIPE on stdin is not an error), or a stream given as input failed.
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect, Stream } from "effect"
 *
 * const input = Command.Input.stream(Stream.fail("the upload was cancelled"))
 * const program = Command.run(Command.make("gzip").pipe(Command.stdin(input))).pipe(
 *   Effect.catchTag("IoError", (error) => Effect.succeed(error.stream))
 * )
 * Effect.runPromise(Effect.provide(program, DryRunExecutor.layer())).then(console.log) // stdin
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class IoError extends Data.TaggedError("IoError")<{
  /** `"stdin"`, `"stdout"`, `"stderr"`, `"fd 3"`, … */
  readonly stream: string
  readonly command: string
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error
      ? `: ${this.cause.message}`
      : this.cause === undefined
      ? ""
      : `: ${String(this.cause)}`
    return headline(this.command, `I/O on ${this.stream} failed${cause}`)
  }
}

/**
 * `Command.records` with `strict: true` found a short last record: the output ended `fields`
 * tokens into a record of `columns`, after `records` whole ones. (Without `strict`, the short
 * record is returned, as libvirt does.)
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const layer = DryRunExecutor.layer(() => ({ stdout: "a\x001\x00b\x00" }))
 * const program = Command.records(Command.make("list-pairs"), { columns: 2, strict: true }).pipe(
 *   Effect.catchTag("RecordsError", (error) => Effect.succeed(`${error.fields} of ${error.columns}`))
 * )
 * Effect.runPromise(Effect.provide(program, layer)).then(console.log) // 1 of 2
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class RecordsError extends Data.TaggedError("RecordsError")<{
  readonly columns: number
  /** How many tokens the short last record has (fewer than `columns`). */
  readonly fields: number
  /** How many whole records came before it. */
  readonly records: number
  readonly command: string
}> {
  override get message(): string {
    return headline(
      this.command,
      `output ends with a record of ${this.fields} of ${this.columns} fields, after ${this.records} whole ones`
    )
  }
}

/**
 * A remote executor could not reach its host, or lost it while the command ran: ssh failed to
 * connect or authenticate (`ConnectFailed`: the command never started), or the connection broke
 * before the command's status came back (`ConnectionLost`: the command may still be running
 * there). `detail` is what the ssh client said.
 *
 * @example
 * ```ts
 * import { Command, type CommandError } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Command.string(Command.make("uptime")).pipe(
 *   Effect.catchTag("ConnectionError", (error: CommandError.ConnectionError) => Effect.succeed(`${error.host}: ${error.detail}`))
 * )
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export class ConnectionError extends Data.TaggedError("ConnectionError")<{
  readonly reason: "ConnectFailed" | "ConnectionLost"
  /** The host as the executor was given it. */
  readonly host: string
  /** What the ssh client wrote on stderr (its last 8 KiB), trimmed. */
  readonly detail: string
  readonly command: string
}> {
  override get message(): string {
    const what = this.reason === "ConnectFailed"
      ? `cannot connect to ${this.host}`
      : `lost the connection to ${this.host}`
    return headline(this.command, what, { output: this.detail })
  }
}

/**
 * Any error a command can fail with.
 *
 * @example
 * ```ts
 * import { Command, type CommandError } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const explain = (error: CommandError.CommandError): string =>
 *   error._tag === "ExitError" ? `exited with ${error.exitCode}` : error.message
 * const program = Command.string(Command.make("git", "status")).pipe(Effect.mapError(explain))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type CommandError =
  | CommandUsageError
  | SpawnError
  | ExitError
  | SignalError
  | CommandTimeoutError
  | OutputLimitError
  | DaemonError
  | ReadinessError
  | IoError
  | RecordsError
  | ConnectionError

/**
 * An output field as an error prints it: the preview its run attached (secrets blanked), else
 * only its length (an error made elsewhere has no list of secrets to blank).
 */
const preview = (error: object, field: "stdout" | "stderr" | "output", bytes: Uint8Array): string =>
  previewsOf(error)?.[field] ?? `${bytes.length} bytes`

const previewsOf = (error: object): Previews | undefined =>
  (error as { readonly [previewsKey]?: Previews })[previewsKey]

/** An error with output fields as `console.log` shows it: its stack, then its fields with the output previewed. */
const inspected = (error: Error & { toJSON(): unknown }): string => {
  const { message: _, ...fields } = error.toJSON() as Record<string, unknown>
  return `${error.stack ?? error.message}\n${Inspectable.format(fields)}`
}
