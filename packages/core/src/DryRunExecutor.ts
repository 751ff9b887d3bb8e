/**
 * virCommandSetDryRun as a Layer: an executor that runs nothing. It records every command (its
 * `toString` line, argv, environment, working directory and the bytes fed to its stdin) and
 * answers with what a handler scripts: exit status, stdout, stderr, a delay. Every run helper
 * works on it unchanged, so code that drives other programs can be tested without them.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"

import * as Command from "./Command.js"
import { CommandUsageError } from "./CommandError.js"
import * as CommandExecutor from "./CommandExecutor.js"
import * as ExitStatus from "./ExitStatus.js"
import { concat } from "./internal/buffers.js"
import { durationOf, show } from "./internal/command.js"
import { update } from "./internal/model.js"
import { describe } from "./internal/render.js"
import { sleep } from "./internal/sleep.js"
import * as Signal from "./Signal.js"

/**
 * One command the dry-run executor was asked to run.
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   yield* Command.run(Command.make("passwd", "--stdin", "alice").pipe(Command.feed("s3cret\n")))
 *   const [entry]: ReadonlyArray<DryRunExecutor.Recorded> = yield* DryRunExecutor.recorded
 *   return `${entry?.line} <<< ${new TextDecoder().decode(entry?.stdin)}`
 * })
 * Effect.runPromise(Effect.provide(program, DryRunExecutor.layer())).then(console.log) // "passwd --stdin alice <<< s3cret\n"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Recorded {
  /**
   * The line virCommandSetDryRun records: `Command.toString` of the command with `libvirt: true`
   * (added variables only; `env` holds the whole environment), with `linebreaks` if the layer
   * asks for them.
   */
  readonly line: string
  readonly program: string
  readonly args: ReadonlyArray<Command.Word>
  /** The environment the child would get; Redacted values stay Redacted. */
  readonly env: Readonly<Record<string, Command.Word>>
  readonly cwd: string | undefined
  /** Everything written to the child's stdin, up to its end. */
  readonly stdin: Uint8Array
  /**
   * The stage as the executor got it: its stdio lowered (fed input and captured output as `Pipe`,
   * an unspecified output the run helpers keep a tail of as `Pipe`).
   */
  readonly command: Command.Command
}

/**
 * A stage of the plan as a Command again, with the stdio the plan gives the pipeline's ends and
 * an earlier stage's stderr that no joint takes.
 */
const asRun = (plan: CommandExecutor.SpawnPlan, stage: CommandExecutor.SpawnStage, i: number): Command.Command => {
  const first = i === 0
  const last = i === plan.stages.length - 1
  const { stderr } = stage
  return update(stage.command, {
    ...(first ? { stdin: plan.stdin } : {}),
    ...(last ? { stdout: plan.stdout, stderr: plan.stderr } : stderr._tag !== "ToNext" ? { stderr } : {})
  })
}

/**
 * What a scripted child does. Defaults: exit 0, no output, no delay.
 *
 * @example
 * ```ts
 * import { DryRunExecutor, ExitStatus } from "@effect-command/core"
 *
 * const crash: DryRunExecutor.Response = { status: ExitStatus.signaled("SIGSEGV"), stderr: "Segmentation fault\n" }
 * const slow: DryRunExecutor.Response = { stdout: "done\n", delay: "2 seconds" }
 * const layer = DryRunExecutor.layer(({ program }) => (program === "crashy" ? crash : slow))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Response {
  /** An exit code (an integer from 0 to 255), or a full status (to script a death by signal). */
  readonly status?: number | ExitStatus.ExitStatus
  readonly stdout?: string | Uint8Array
  readonly stderr?: string | Uint8Array
  /**
   * How long the child "runs" before it exits, on the fiber's Clock (a `TestClock` moves it),
   * however long; `Infinity`: until it is killed. Interruptible like a real child.
   */
  readonly delay?: Duration.DurationInput
}

/**
 * Scripts the answer to each recorded command.
 *
 * @example
 * ```ts
 * import { DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * // Scripted answers by program; an Effect when the answer needs one.
 * const handler: DryRunExecutor.Handler = ({ program, args }) =>
 *   program === "git" && args[0] === "rev-parse" ? { stdout: "main\n" } : Effect.as(Effect.log(`ran ${program}`), { status: 0 })
 * const layer = DryRunExecutor.layer(handler)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (recorded: Recorded) => Response | Effect.Effect<Response>

/**
 * The log of a dry-run executor.
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   yield* Command.run(Command.make("systemctl", "restart", "nginx"))
 *   const log: DryRunExecutor.DryRunLog = yield* DryRunExecutor.DryRunLog
 *   return (yield* log.recorded).map((entry) => entry.line)
 * })
 * Effect.runPromise(Effect.provide(program, DryRunExecutor.layer())).then(console.log) // [ 'systemctl restart nginx' ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DryRunLog {
  readonly recorded: Effect.Effect<ReadonlyArray<Recorded>>
}

/**
 * @example
 * ```ts
 * import { DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const count = Effect.flatMap(DryRunExecutor.DryRunLog, (log) => log.recorded).pipe(Effect.map((all) => all.length))
 * Effect.runPromise(Effect.provide(count, DryRunExecutor.layer())).then(console.log) // 0
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const DryRunLog: Context.Tag<DryRunLog, DryRunLog> = Context.GenericTag<DryRunLog>(
  "@effect-command/core/DryRunLog"
)

/**
 * Every command recorded so far, oldest first.
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   yield* Command.run(Command.make("ip", "link", "set", "eth0", "up"))
 *   return (yield* DryRunExecutor.recorded).map((entry) => entry.args)
 * })
 * Effect.runPromise(Effect.provide(program, DryRunExecutor.layer())).then(console.log) // [ [ 'link', 'set', 'eth0', 'up' ] ]
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const recorded: Effect.Effect<ReadonlyArray<Recorded>, never, DryRunLog> = Effect.flatMap(
  DryRunLog,
  (log) => log.recorded
)

/**
 * Options of the dry-run layer.
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const options: DryRunExecutor.Options = { environment: { HOME: "/home/alice" } }
 * const program = Effect.zipRight(Command.run(Command.make("ls").pipe(Command.envPass("HOME"))), DryRunExecutor.recorded)
 * Effect.runPromise(Effect.provide(program, DryRunExecutor.layer(undefined, options))).then(([entry]) => console.log(entry?.env)) // { HOME: '/home/alice' }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The "parent environment" for inheritance and `envPass`. Default: empty. */
  readonly environment?: Readonly<Record<string, string | undefined>>
  /** Record lines with `linebreaks`. */
  readonly linebreaks?: boolean
}

const toBytes = (data: string | Uint8Array | undefined): Uint8Array =>
  data === undefined ? new Uint8Array(0) : typeof data === "string" ? new TextEncoder().encode(data) : data

const statusProblems = (status: Response["status"]): ReadonlyArray<string> => {
  const code = typeof status === "number" ? status : ExitStatus.isExited(status) ? status.code : undefined
  if (code !== undefined) {
    return Number.isInteger(code) && code >= 0 && code <= 255
      ? []
      : [`the dry-run handler scripted the exit code ${show(code)}; an exit code is an integer from 0 to 255`]
  }
  if (ExitStatus.isSignaled(status)) {
    return Signal.isSignal(status.signal) && typeof status.coreDumped === "boolean"
      ? []
      : [`the dry-run handler scripted a death by the unknown signal ${show(status.signal)}`]
  }
  return status === undefined
    ? []
    : [`the dry-run handler scripted the status ${show(status)}, not an exit code or an ExitStatus`]
}

/** What is wrong with a scripted response: the run fails with it as a `CommandUsageError`. */
const responseProblems = (reply: Response): ReadonlyArray<string> => {
  if (typeof reply !== "object" || reply === null) {
    return [`the dry-run handler answered ${show(reply)}, not a response`]
  }
  const found = [...statusProblems(reply.status)]
  if (reply.delay !== undefined && durationOf(reply.delay) === undefined) {
    found.push(`the dry-run handler scripted the delay ${show(reply.delay)}; a delay is a duration ≥ 0 or Infinity`)
  }
  for (const name of ["stdout", "stderr"] as const) {
    const output = reply[name]
    if (output !== undefined && typeof output !== "string" && !(output instanceof Uint8Array)) {
      found.push(`the dry-run handler scripted ${show(output)} as ${name}, not a string or bytes`)
    }
  }
  return found
}

interface Outcome {
  readonly stages: ReadonlyArray<ExitStatus.ExitStatus>
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
  /** What every stage but the last scripted as its stderr, first to last. */
  readonly upstreamStderr: ReadonlyArray<Uint8Array>
}

/** What answers a dry run: the handler, and where its entries are recorded. */
interface Script {
  /** Appended to as commands are recorded; `recorded` hands out copies. */
  readonly log: Array<Recorded>
  readonly handler: Handler
  readonly environment: Readonly<Record<string, string | undefined>>
  readonly linebreaks: boolean
}

/** One stage: recorded, then answered by the handler. */
const answerStage = (script: Script, stage: Command.Command, stdin: Uint8Array) =>
  Effect.gen(function*() {
    const { environment } = script
    const line = Command.toString(stage, { linebreaks: script.linebreaks, environment, libvirt: true })
    const entry: Recorded = {
      line: line._tag === "Right" ? line.right : describe(stage),
      program: stage.program,
      args: stage.args,
      env: Command.resolveEnv(stage, environment),
      cwd: stage.cwd,
      stdin,
      command: stage
    }
    script.log.push(entry)
    const reply = yield* Effect.suspend(() => {
      const r = script.handler(entry)
      return Effect.isEffect(r) ? r : Effect.succeed(r)
    })
    const problems = responseProblems(reply)
    if (problems.length > 0) {
      return yield* new CommandUsageError({ reasons: problems, command: describe(stage) })
    }
    if (reply.delay !== undefined) yield* sleep(reply.delay)
    const status = reply.status === undefined
      ? ExitStatus.exited(0)
      : typeof reply.status === "number"
      ? ExitStatus.exited(reply.status)
      : reply.status
    return { status, stdout: toBytes(reply.stdout), stderr: toBytes(reply.stderr) }
  })

/**
 * A pipeline's stages answer in order, each reading what the one before wrote to the pipe. Each
 * stage's stderr is pushed to `stderrs` as it answers: a run killed midway still has the earlier ones.
 */
const answerPlan = (script: Script, plan: CommandExecutor.SpawnPlan, input: Uint8Array, stderrs: Array<Uint8Array>) =>
  Effect.gen(function*() {
    let stdin = input
    const statuses: Array<ExitStatus.ExitStatus> = []
    let last: { readonly stdout: Uint8Array; readonly stderr: Uint8Array } = {
      stdout: new Uint8Array(0),
      stderr: new Uint8Array(0)
    }
    for (const [i, stage] of plan.stages.entries()) {
      const reply = yield* answerStage(script, asRun(plan, stage, i), stdin)
      statuses.push(reply.status)
      stderrs.push(reply.stderr)
      last = reply
      // What goes on to the next stage, through its joint.
      stdin = stage.stdout._tag !== "ToNext"
        ? reply.stderr
        : stage.stderr._tag === "ToNext"
        ? concat([reply.stdout, reply.stderr])
        : reply.stdout
    }
    return {
      stages: statuses,
      stdout: last.stdout,
      stderr: last.stderr,
      upstreamStderr: stderrs.slice(0, -1)
    } satisfies Outcome
  })

/**
 * One piped output of a dry run: what the handler scripted for it, once the run has ended. Like a
 * pipe, it is read once: a later reader gets what is left, nothing.
 */
const outputStream = (
  finished: Effect.Effect<Outcome, CommandUsageError>,
  output: CommandExecutor.SpawnErrorOutput | { readonly _tag: "ToNext" },
  scripted: (outcome: Outcome) => Uint8Array
): Stream.Stream<Uint8Array> => {
  if (output._tag !== "Pipe") return Stream.empty
  let taken = false
  const bytes = Effect.map(finished, scripted).pipe(Effect.catchAllCause(() => Effect.succeed(new Uint8Array(0))))
  return Stream.suspend(() => {
    if (taken) return Stream.empty
    return Stream.fromEffect(Effect.tap(bytes, () => void (taken = true)))
  }).pipe(Stream.filter((chunk) => chunk.length > 0))
}

/**
 * A `CommandExecutor` that records and scripts instead of running, with its `DryRunLog`.
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const layer = DryRunExecutor.layer(({ args }) => ({ stdout: `ran with ${args.length} args\n` }))
 * const program = Effect.gen(function*() {
 *   const out = yield* Command.string(Command.make("/usr/bin/dnsmasq", "--strict-order"))
 *   const [entry] = yield* DryRunExecutor.recorded
 *   return [out, entry?.line] // ["ran with 1 args\n", "/usr/bin/dnsmasq --strict-order"]
 * })
 * Effect.runPromise(Effect.provide(program, layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  handler: Handler = () => ({}),
  options?: Options
): Layer.Layer<CommandExecutor.CommandExecutor | DryRunLog> =>
  Layer.effectContext(Effect.gen(function*() {
    const log: Array<Recorded> = []
    const pids = yield* Ref.make(100_000)
    const environment = options?.environment ?? {}

    const spawn: CommandExecutor.Spawn = (plan) =>
      Effect.gen(function*() {
        const pid = yield* Ref.getAndUpdate(pids, (n) => n + 1)
        const input = yield* Deferred.make<Uint8Array>()
        const outcome = yield* Deferred.make<Outcome, CommandUsageError>()
        const chunks: Array<Uint8Array> = []
        const stderrs: Array<Uint8Array> = []
        const { command, stages } = plan
        const script: Script = { log, handler, environment, linebreaks: options?.linebreaks ?? false }
        if (plan.stdin._tag !== "Pipe") yield* Deferred.succeed(input, new Uint8Array(0))
        const answer = Effect.flatMap(
          Effect.flatMap(Deferred.await(input), (stdin) => answerPlan(script, plan, stdin, stderrs)),
          (o) => Deferred.succeed(outcome, o)
        )
        // Killed: the stages that answered keep the stderr they wrote.
        const end = (signal: Command.KillPolicy["signal"]) =>
          Effect.suspend(() =>
            Deferred.succeed(outcome, {
              stages: stages.map(() => ExitStatus.signaled(signal)),
              stdout: new Uint8Array(0),
              stderr: new Uint8Array(0),
              upstreamStderr: stages.slice(1).map((_, i) => stderrs[i] ?? new Uint8Array(0))
            })
          )
        // However the handler ends, the run learns it: a scripting mistake or a defect fails `wait`,
        // an interruption (the scope closing, or the handler's own) ends it as killed.
        yield* Effect.forkScoped(Effect.onExit(answer, (exit) =>
          Exit.isSuccess(exit)
            ? Effect.void
            : Cause.isInterruptedOnly(exit.cause)
            ? end(command.killPolicy.signal)
            : Deferred.failCause(outcome, exit.cause)))
        const finished = Deferred.await(outcome)
        const waitStages = Effect.map(finished, (o) => o.stages)
        const wait = Effect.map(waitStages, ExitStatus.pipefail)
        // A handler that answered wrongly or died fails `wait`; the outputs and `abort` then end empty.
        const abort = Effect.zipRight(
          end(command.killPolicy.signal),
          Effect.catchAllCause(wait, () => Effect.succeed(ExitStatus.signaled(command.killPolicy.signal)))
        )
        const noHandshake = Effect.fail(
          new CommandUsageError({ reasons: ["the command does not require a handshake"], command: plan.line })
        )
        return {
          pid,
          stdin: Sink.forEach((bytes: Uint8Array) => Effect.sync(() => void chunks.push(bytes))).pipe(
            Sink.ensuring(Effect.suspend(() => Deferred.succeed(input, concat(chunks))))
          ),
          stdout: outputStream(
            finished,
            plan.stdout,
            (o) => (plan.stderr._tag === "ToStdout" ? concat([o.stdout, o.stderr]) : o.stdout)
          ),
          stderr: outputStream(finished, plan.stderr, (o) => o.stderr),
          upstreamStderr: stages.slice(0, -1).map((stage, i) =>
            outputStream(finished, stage.stderr, (o) => o.upstreamStderr[i] ?? new Uint8Array(0))
          ),
          wait,
          waitStages,
          kill: (signal = "SIGTERM") => Effect.asVoid(end(signal)),
          abort,
          detach: Effect.succeed({ pid, wait, abort }),
          handshakeWait: command.setup.handshake ? Effect.void : noHandshake,
          handshakeNotify: command.setup.handshake ? Effect.void : noHandshake
        } satisfies CommandExecutor.SpawnedProcess
      })

    return Context.make(CommandExecutor.CommandExecutor, CommandExecutor.make(spawn)).pipe(
      Context.add(DryRunLog, { recorded: Effect.sync((): ReadonlyArray<Recorded> => log.slice()) })
    )
  }))
