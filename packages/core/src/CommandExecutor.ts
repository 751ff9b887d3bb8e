/**
 * The service that runs commands. An executor implements one primitive, `spawn`; `make` derives
 * everything else (feeding stdin, capturing output, the run helpers) once, here, so that every
 * executor — the Node one, the dry-run one, yours — behaves the same. An executor may add a
 * `RunPlan`, a cheaper way to run the run helpers' simple commands; core still does everything
 * above the OS for them.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"

import type { Command, Input, Output } from "./Command.js"
import type { CommandError, IoError } from "./CommandError.js"
import type { ExitStatus } from "./ExitStatus.js"
import * as internal from "./internal/executor.js"
import * as tag from "./internal/tag.js"
import type { Signal } from "./Signal.js"

/**
 * A running child, as an executor's `spawn` returns it.
 *
 * @example
 * ```ts
 * import { CommandExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * // An executor that logs the pid of every child another executor spawns.
 * const logged = (spawn: CommandExecutor.Spawn): CommandExecutor.Spawn => (plan) =>
 *   Effect.tap(spawn(plan), (child: CommandExecutor.SpawnedProcess) => Effect.log(`${plan.line}: pid ${child.pid}`))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SpawnedProcess {
  /** The child's pid (for a daemon: the intermediate process's). */
  readonly pid: number
  /**
   * Writes to the child's stdin when stdin is `"pipe"`; completing the sink closes stdin (EOF).
   * A child that closed its stdin early is not an error: the rest is discarded. Unusable otherwise.
   */
  readonly stdin: Sink.Sink<void, Uint8Array, never, IoError>
  /** The child's stdout when it is `"pipe"`, else empty. Run it once. */
  readonly stdout: Stream.Stream<Uint8Array, IoError>
  /** The child's stderr when it is `"pipe"`, else empty. Run it once. For a pipeline: the last stage's. */
  readonly stderr: Stream.Stream<Uint8Array, IoError>
  /**
   * For a pipeline: the stderr of every stage but the last, first to last, each a stream when that
   * stage's plan says `Pipe` (else empty); run each once. Empty for a single command.
   *
   * @since 0.3.0
   */
  readonly upstreamStderr: ReadonlyArray<Stream.Stream<Uint8Array, IoError>>
  /**
   * Optional, for executors that can read an output more cheaply than through its stream: starts
   * reading `stdout` or `stderr` at once and hands every chunk to `onBytes`, until it returns
   * false (the rest is not read) or the output ends; the effect it returns waits for that. The
   * run helpers capture outputs with it when it is there, with the stream otherwise. An output is
   * read either this way or through its stream, once. The bytes are lent: valid only during the
   * call (the executor may reuse its read buffer), so `onBytes` copies what it keeps.
   *
   * @since 0.1.0
   */
  readonly collect?: (
    output: "stdout" | "stderr",
    onBytes: (bytes: Uint8Array) => boolean
  ) => Effect.Effect<Effect.Effect<void, IoError>>
  /**
   * Waits until the child has exited and was reaped. Never fails because of the child's status.
   * For a pipeline: every stage exited, and the status is `set -o pipefail`'s (the rightmost
   * unsuccessful stage's, else the last's).
   */
  readonly wait: Effect.Effect<ExitStatus, CommandError>
  /** Every stage's status, first to last, once all exited (one for a single command). */
  readonly waitStages: Effect.Effect<ReadonlyArray<ExitStatus>, CommandError>
  /** Sends a signal to the child's process group (to the child alone with `processGroup("inherit")`). */
  readonly kill: (signal?: Signal) => Effect.Effect<void, CommandError>
  /**
   * virCommandAbort: signal with the kill policy's signal, wait up to its grace, SIGKILL, reap.
   * Returns how the child ended.
   */
  readonly abort: Effect.Effect<ExitStatus>
  /**
   * Lets the child outlive the scope (virCommandRunAsync with a pid pointer): closing the scope no
   * longer kills it. Wait for it or abort it later with the returned handle. It still dies with
   * the parent process (a contained one also with the worker thread that started it) unless the
   * command says `dieWithParent(false)`.
   */
  readonly detach: Effect.Effect<DetachedProcess>
  /** virCommandHandshakeWait: waits until the child is ready to exec (needs `Command.handshake`). */
  readonly handshakeWait: Effect.Effect<void, CommandError>
  /** virCommandHandshakeNotify: lets the child exec (needs `Command.handshake`). */
  readonly handshakeNotify: Effect.Effect<void, CommandError>
  /**
   * What every process of the command used, once all of them were reaped; undefined when the
   * executor does not know it (an uncontained command, or one whose processes outlived it).
   */
  readonly usage?: Effect.Effect<ResourceUsage | undefined>
}

/**
 * CPU time and memory of every process a command started, at any depth: what the Node executor
 * reports for a contained command (see `Command.contain`), measured by its supervisor once the
 * whole tree was reaped. A pipeline's is its stages' together.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { Duration, Effect } from "effect"
 *
 * const cost = Effect.map(
 *   Command.run(Command.make("make", "-j8").pipe(Command.contain(true))),
 *   (result) => result.usage === undefined ? "unknown" : Duration.format(result.usage.userTime)
 * )
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface ResourceUsage {
  /** CPU time spent in user mode, by all the processes together. */
  readonly userTime: Duration.Duration
  /** CPU time spent in the kernel on their behalf. */
  readonly systemTime: Duration.Duration
  /** The largest peak resident set size of any one of them, in bytes. */
  readonly maxRss: number
}

/**
 * A running child, as `Command.start` returns it: the spawned process plus `result`, which waits
 * for the exit, for stdin to be fed and for the captured outputs to be drained.
 *
 * @example
 * ```ts
 * import { Command, type CommandExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const child: CommandExecutor.Process = yield* Command.start(Command.make("make").pipe(Command.stdout("capture")))
 *   const result = yield* child.result // exit status and captured output; a non-zero exit is a value here
 *   return result.status
 * }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Process extends Omit<SpawnedProcess, "collect"> {
  /**
   * How the child ended and what was captured (bytes of outputs set to `"capture"`, empty
   * otherwise). Fails only when the I/O itself failed; a non-zero exit is a value here. May be run
   * more than once: it returns the same result.
   */
  readonly result: Effect.Effect<RunResult, CommandError>
  /**
   * Waits until a piped output (stdout unless `stream` says `"stderr"`) shows a match of
   * `pattern`, and returns it: readiness of a server that says "listening on …". It reads ahead
   * without taking anything away: every byte it read is still given, first, to the next reader
   * of that output. The pattern is matched against the last 64 Ki characters read, UTF-8
   * decoded. Fails with `ReadinessError` when the output ends first or `timeout` passes (no
   * timeout by default), leaving the child as it is; with `OutputLimitError` when more than the
   * command's `maxOutput` was read ahead and not yet taken; with `CommandUsageError` when the
   * output is not set to `"pipe"`.
   */
  readonly waitFor: (
    pattern: RegExp,
    options?: { readonly stream?: "stdout" | "stderr"; readonly timeout?: Duration.DurationInput }
  ) => Effect.Effect<RegExpExecArray, CommandError>
}

/**
 * A child detached from its scope: virPidWait and virPidAbort.
 *
 * @example
 * ```ts
 * import { Command, type CommandExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server: CommandExecutor.DetachedProcess = yield* Effect.scoped(
 *     Effect.flatMap(Command.start(Command.make("python3", "-m", "http.server")), (child) => child.detach)
 *   )
 *   // the scope is closed and the server still runs; stop it when done
 *   return yield* server.abort
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DetachedProcess {
  readonly pid: number
  /** Waits until the child exited and was reaped. */
  readonly wait: Effect.Effect<ExitStatus, CommandError>
  /** Kill policy: signal, grace, SIGKILL, reap. */
  readonly abort: Effect.Effect<ExitStatus>
}

/**
 * What a finished command produced.
 *
 * @example
 * ```ts
 * import { Command, type CommandExecutor, ExitStatus } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(
 *   Command.run(Command.make("uname", "-r").pipe(Command.stdout("capture"))),
 *   (result: CommandExecutor.RunResult) => `${ExitStatus.format(result.status)}: ${new TextDecoder().decode(result.stdout)}`
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunResult {
  readonly status: ExitStatus
  /** Every stage's status, first to last (one for a single command). */
  readonly stages: ReadonlyArray<ExitStatus>
  /** The captured stdout; empty when stdout was not captured. */
  readonly stdout: Uint8Array
  /** The captured stderr; empty when stderr was not captured (or went to stdout). For a pipeline: the last stage's. */
  readonly stderr: Uint8Array
  /**
   * Every stage's captured stderr, first to last, beside `stages` (one for a single command; the
   * last is `stderr`): a stage's bytes when its stderr was set to `"capture"`, empty otherwise.
   *
   * @since 0.3.0
   */
  readonly stageStderr: ReadonlyArray<Uint8Array>
  /** What every process of the command used, when the executor knows it (a contained command). */
  readonly usage?: ResourceUsage
}

/**
 * Options of `CommandExecutor.start`.
 *
 * @example
 * ```ts
 * import { Command, CommandExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const executor = yield* CommandExecutor.CommandExecutor
 *   const child = yield* executor.start(Command.make("make"), { captureUnspecified: true })
 *   return yield* child.result
 * }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  /**
   * Capture an unspecified stdout and stderr into 8 KiB tail buffers (for the error's stderr tail
   * and the debug log) instead of sending them to /dev/null, like virCommandRun. The run helpers
   * set it. A daemon's outputs are never captured: the daemon would hold the pipes open.
   */
  readonly captureUnspecified?: boolean
}

/**
 * Where a command's stdin comes from once `make` has lowered it to what needs the OS: bytes, text
 * and streams are fed through a `Pipe` by `make`; unspecified is `Null`.
 *
 * @example
 * ```ts
 * import type { CommandExecutor } from "@effect-command/core"
 *
 * const describe = (input: CommandExecutor.SpawnInput): string =>
 *   input._tag === "File" ? `< ${input.path}` : input._tag === "Fd" ? `<&${input.fd}` : input._tag
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type SpawnInput = Extract<Input, { readonly _tag: "Null" | "Inherit" | "Fd" | "File" | "Pipe" }>

/**
 * Where a command's stdout (or stderr) goes once lowered: captures and sinks read a `Pipe` in
 * `make`; unspecified is `Null` (or a `Pipe` the run helpers keep a tail of).
 *
 * @example
 * ```ts
 * import type { CommandExecutor } from "@effect-command/core"
 *
 * const piped = (output: CommandExecutor.SpawnOutput): boolean => output._tag === "Pipe"
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type SpawnOutput = Extract<Output, { readonly _tag: "Null" | "Inherit" | "Fd" | "File" | "Pipe" }>

/**
 * Where a command's stderr goes once lowered: a `SpawnOutput`, or `ToStdout` (the same kernel
 * object as stdout, `2>&1`).
 *
 * @example
 * ```ts
 * import type { CommandExecutor } from "@effect-command/core"
 *
 * const joined = (stderr: CommandExecutor.SpawnErrorOutput): boolean => stderr._tag === "ToStdout"
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type SpawnErrorOutput = SpawnOutput | { readonly _tag: "ToStdout" }

/**
 * A joint of a pipeline, as a stage sees it: `FromPrevious` (stdin is the previous stage's pipe)
 * or `ToNext` (this output goes into the next stage's stdin; when both outputs say so they share
 * one pipe, `2>&1 |`).
 *
 * @example
 * ```ts
 * import type { CommandExecutor } from "@effect-command/core"
 *
 * const intoNext = (stage: CommandExecutor.SpawnStage): boolean => stage.stdout._tag === "ToNext"
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type SpawnJoint = { readonly _tag: "FromPrevious" } | { readonly _tag: "ToNext" }

/**
 * One process to start: everything about it resolved as far as core can, and its stdio narrowed
 * to what an executor must wire up (pipeline joints included).
 *
 * @example
 * ```ts
 * import type { CommandExecutor } from "@effect-command/core"
 *
 * // What a stage would execve: its argv and working directory.
 * const summary = (stage: CommandExecutor.SpawnStage): string => `${stage.cwd ?? "."}: ${stage.argv.join(" ")}`
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface SpawnStage {
  /** The stage as validated (without its pipeline link), for executors that want the original. */
  readonly command: Command
  /** The stage's command line with its secrets redacted, for errors. */
  readonly line: string
  /** The program as given: a path, or a name to look up on the PATH. */
  readonly program: string
  /**
   * argv as the child gets it: the program, then the arguments, Redacted words revealed. Not for
   * logs or errors: use `line`.
   */
  readonly argv: ReadonlyArray<string>
  /**
   * The environment policy, or `undefined` when the child gets the parent's environment as it is.
   * Resolve it against the parent's environment when spawning with `Command.resolveEnv(stage.command, parent)`.
   */
  readonly env: Command["env"] | undefined
  readonly cwd: string | undefined
  readonly setup: Command["setup"]
  /** Parent fds given to the child at the same number (virCommandPassFD). */
  readonly passFds: Command["passFds"]
  /** Child fds fed with bytes through a pipe (virCommandSetSendBuffer). */
  readonly inputFds: Command["inputFds"]
  readonly killPolicy: Command["killPolicy"]
  readonly stdin: SpawnInput | { readonly _tag: "FromPrevious" }
  readonly stdout: SpawnOutput | { readonly _tag: "ToNext" }
  readonly stderr: SpawnErrorOutput | { readonly _tag: "ToNext" }
}

/**
 * What `make` hands the executor's primitive: a validated command lowered to what needs the OS.
 * Feeding bytes, text and streams, capturing and sinks are done above it, by `make`.
 *
 * @example
 * ```ts
 * import type { CommandExecutor } from "@effect-command/core"
 *
 * const programs = (plan: CommandExecutor.SpawnPlan): string => plan.stages.map((stage) => stage.program).join(" | ")
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface SpawnPlan {
  /** The validated command as given (a pipeline: its last stage, with the chain of upstream stages). */
  readonly command: Command
  /** The whole command line with its secrets redacted (`describe`), for errors. */
  readonly line: string
  /** The stages, first to last: one for a single command. */
  readonly stages: readonly [SpawnStage, ...Array<SpawnStage>]
  /** The first stage's stdin: `Pipe` is written through `SpawnedProcess.stdin`. */
  readonly stdin: SpawnInput
  /** The last stage's stdout: `Pipe` is read through `SpawnedProcess.stdout`. */
  readonly stdout: SpawnOutput
  /** The last stage's stderr: `Pipe` is read through `SpawnedProcess.stderr`. */
  readonly stderr: SpawnErrorOutput
}

/**
 * The executor primitive. It receives a `SpawnPlan`: a validated command, its stages resolved
 * and their stdio lowered to what needs the OS. It starts every stage and joins them. The child
 * must be killed and reaped when the scope closes (unless detached or daemonized).
 *
 * @example
 * ```ts
 * import { CommandError, CommandExecutor } from "@effect-command/core"
 * import { Effect, Layer } from "effect"
 *
 * // The primitive of an executor that refuses to run anything.
 * const refuse: CommandExecutor.Spawn = (plan) =>
 *   Effect.fail(new CommandError.SpawnError({ reason: "PermissionDenied", command: plan.line }))
 * const layer = Layer.succeed(CommandExecutor.CommandExecutor, CommandExecutor.make(refuse))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Spawn = (plan: SpawnPlan) => Effect.Effect<SpawnedProcess, CommandError, Scope.Scope>

/**
 * The service.
 *
 * @example
 * ```ts
 * import { Command, CommandExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const executor: CommandExecutor.CommandExecutor = yield* CommandExecutor.CommandExecutor
 *   const child = yield* executor.start(Command.make("true"))
 *   return yield* child.wait
 * }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandExecutor {
  /** Starts a command in the current scope; the scope's close kills and reaps it. */
  readonly start: (command: Command, options?: StartOptions) => Effect.Effect<Process, CommandError, Scope.Scope>
  /**
   * Runs a command to its end as the run helpers (`run`, `string`, `exitCode`, …) do: the same
   * as `start` with `captureUnspecified`, then `result`, in a scope of its own; quicker for the
   * commands an executor's `RunPlan` takes. `make` gives every executor one; the run helpers use
   * `start` when it is missing.
   *
   * `span` is the run helper's span, which the run is not inside (providing it costs more than a
   * short run): the run puts its attributes (pid, exit status, bytes) on it, fails with its errors
   * inside it, and makes it the parent span of what it starts (`make`'s `run` does all three).
   *
   * @since 0.3.0
   */
  readonly run?: (command: Command, span: Tracer.Span) => Effect.Effect<RunResult, CommandError>
}

/**
 * How a whole run through a `RunPlan` ended.
 *
 * @example
 * ```ts
 * import { type CommandExecutor, ExitStatus } from "@effect-command/core"
 *
 * const ended: CommandExecutor.PlanRun = { pid: 4242, status: ExitStatus.exited(0) }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface PlanRun {
  readonly pid: number
  /** The child's own status (`allowSigpipe` is applied by core). */
  readonly status: ExitStatus
}

/**
 * Optional, for an executor that can run a whole plan more cheaply than through its `Spawn`: the
 * run helpers give it the plan of a single command without an input stream, a sink or a timeout.
 * It starts the child, writes `io.stdin` to a `Pipe` stdin (the input fed from memory; then it
 * closes the pipe, the child's EOF; a child that closes its stdin early is not an error, and once
 * the child exited the rest is not written), hands every chunk of each output that is a pipe to
 * `io.stdout` and `io.stderr` (the bytes are lent, as with `SpawnedProcess.collect`; when one
 * returns false nobody wants the rest — the output passed its limit, or an `Output.forEach`
 * function failed: the rest is not read and the child is aborted at once), and returns once the child was reaped and its outputs ended (after `Spawn`'s drain rules). Interrupted, it kills and reaps the child
 * as `Spawn`'s scope would. For a plan it cannot run so it returns undefined: then `Spawn` runs
 * it, so it may decline anything. Its effect runs outside the run's span (core puts the run's
 * attributes on the span, and fails with the plan's errors inside it): fail with
 * `Effect.failCause(Cause.fail(error))` for an error that is to show the run's span.
 *
 * @example
 * ```ts
 * import { CommandExecutor, ExitStatus } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * // An executor whose `true` needs no process at all; everything else goes through `spawn`.
 * const spawn: CommandExecutor.Spawn = (plan) => Effect.dieMessage(`not in this example: ${plan.line}`)
 * const runPlan: CommandExecutor.RunPlan = (plan) =>
 *   plan.stages.length === 1 && plan.stages[0].program === "true"
 *     ? Effect.succeed({ pid: 0, status: ExitStatus.exited(0) })
 *     : undefined
 * const executor = CommandExecutor.make(spawn, runPlan)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export type RunPlan = (
  plan: SpawnPlan,
  io: {
    /** The bytes for a `Pipe` stdin (`plan.stdin`); undefined when it is not one. */
    readonly stdin: Uint8Array | undefined
    readonly stdout: (bytes: Uint8Array) => boolean
    readonly stderr: (bytes: Uint8Array) => boolean
  }
) => Effect.Effect<PlanRun, CommandError> | undefined

/**
 * @example
 * ```ts
 * import { Command, type CommandError, type CommandExecutor } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const program: Effect.Effect<string, CommandError.CommandError, CommandExecutor.CommandExecutor> =
 *   Command.string(Command.make("echo", "hi"))
 * Effect.runPromise(Effect.provide(program, NodeCommandExecutor.layer)).then(console.log) // "hi\n"
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const CommandExecutor: Context.Tag<CommandExecutor, CommandExecutor> = tag.CommandExecutor

/**
 * Builds an executor from its spawn primitive, and optionally a `RunPlan` that runs the run
 * helpers' simple commands in one go.
 *
 * @example
 * ```ts
 * import { Command, CommandError, CommandExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const refuseAll = CommandExecutor.make((plan) =>
 *   Effect.fail(new CommandError.SpawnError({ reason: "PermissionDenied", command: plan.line, detail: "sandboxed" }))
 * )
 * const program = Effect.flip(Command.exitCode(Command.make("rm", "-rf", "/tmp/cache")))
 * Effect.runPromise(Effect.provideService(program, CommandExecutor.CommandExecutor, refuseAll)).then((error) => console.log(error._tag)) // SpawnError
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (spawn: Spawn, runPlan?: RunPlan) => CommandExecutor = internal.make
