/**
 * Every way running a command can fail, as tagged errors. Each carries `command`: the command line
 * rendered with `Command.toString` (Redacted values shown as `<redacted>`), so a message can be acted
 * on without the value that failed.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type { ExitStatus } from "./ExitStatus.js"
import type { Signal } from "./Signal.js"

/**
 * The command was built wrongly: every problem recorded by the combinators (NUL bytes, bad env
 * names, fds ≤ 2 passed, input set twice, …) and every inconsistency between fields (a pid file
 * without `daemonize`, …). Reported before anything is spawned.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandUsageError extends Data.TaggedError("CommandUsageError")<{
  readonly reasons: ReadonlyArray<string>
  readonly command: string
}> {
  override get message(): string {
    return `invalid command ${this.command}: ${this.reasons.join("; ")}`
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
    const detail = this.detail !== undefined ? ` (${this.detail})` : ""
    return `${this.reason}: ${what}${errno}${detail}: ${this.command}`
  }
}

/**
 * The child exited with a non-zero code. `stderrTail` holds the last bytes (at most 8 KiB) of its
 * stderr when stderr was captured, by the caller or by the run helpers' default capture.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExitError extends Data.TaggedError("ExitError")<{
  readonly exitCode: number
  readonly stderrTail: string
  readonly command: string
  /** For a pipeline: every stage's status, first to last (the error is the rightmost failure's). */
  readonly stages?: ReadonlyArray<ExitStatus>
}> {
  override get message(): string {
    return `child process (${this.command}) unexpected exit status ${this.exitCode}${tail(this.stderrTail)}`
  }
}

/**
 * A signal killed the child.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignalError extends Data.TaggedError("SignalError")<{
  readonly signal: Signal
  readonly coreDumped: boolean
  readonly stderrTail: string
  readonly command: string
  /** For a pipeline: every stage's status, first to last (the error is the rightmost failure's). */
  readonly stages?: ReadonlyArray<ExitStatus>
}> {
  override get message(): string {
    const core = this.coreDumped ? " (core dumped)" : ""
    return `child process (${this.command}) unexpected fatal signal ${this.signal}${core}${tail(this.stderrTail)}`
  }
}

/**
 * The command ran longer than its timeout; it was killed with its kill policy and reaped. `stdout`
 * and `stderr` hold what was captured until then.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandTimeoutError extends Data.TaggedError("CommandTimeoutError")<{
  readonly timeout: Duration.Duration
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
  readonly command: string
}> {
  override get message(): string {
    return `child process (${this.command}) timed out after ${Duration.format(this.timeout)}`
  }
}

/**
 * A captured output exceeded the command's `maxOutput`: the child was killed and reaped. `output`
 * holds the first `limit` bytes.
 *
 * @since 0.1.0
 * @category errors
 */
export class OutputLimitError extends Data.TaggedError("OutputLimitError")<{
  readonly stream: "stdout" | "stderr"
  readonly limit: number
  readonly output: Uint8Array
  readonly command: string
}> {
  override get message(): string {
    return `child process (${this.command}) wrote more than ${this.limit} bytes to ${this.stream}; it was killed`
  }
}

/**
 * Daemonizing failed: the pid file is locked by a running daemon, or could not be written. (A
 * failing step of the double fork itself is a `SpawnError` with its `stage`.)
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
    return `${this.reason}: daemonizing failed${where}: ${this.command}`
  }
}

/**
 * Reading from or writing to the child failed for a reason other than the child closing its end
 * (an EPIPE on stdin is not an error), or a stream given as input failed.
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
    return `I/O on ${this.stream} failed${cause}: ${this.command}`
  }
}

/**
 * Any error a command can fail with.
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
  | IoError

const tail = (stderr: string): string => (stderr.length > 0 ? `: ${stderr}` : "")
