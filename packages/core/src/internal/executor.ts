/** The executor's `start`: one run from a valid command to a process whose `result` says how it ended. */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"

import type * as Command from "../Command.js"
import type { CommandError, IoError } from "../CommandError.js"

import { CommandTimeoutError, OutputLimitError } from "../CommandError.js"
import type * as CommandExecutor from "../CommandExecutor.js"
import * as ExitStatus from "../ExitStatus.js"
import { firstStage, joints, stagesOf } from "./command.js"
import type { CallerIo, ChunkReader, Drain, Drained, Drainer } from "./drain.js"
import {
  childOutput,
  chunkReader,
  counting,
  drain,
  memoryInput,
  none,
  planErrorOutput,
  planInput,
  planOutput,
  runCallerIo
} from "./drain.js"
import { annotate, annotateSpan, debugEnabled, failIn, logDebugLazily } from "./observe.js"
import { runStatus } from "./pipefail.js"
import { spawnPlan } from "./plan.js"
import { preview, withPreviews } from "./previews.js"
import { peekable, waitFor } from "./ready.js"
import { describe } from "./render.js"
import { encoder, scrubbed } from "./scrub.js"
import { sleep } from "./sleep.js"
import { validate } from "./validate.js"

/** How many bytes of each output the "Result" debug line shows. */
const logBytes = 1024

/**
 * `self`, run by its first caller, its exit shared with every later one (an interrupted first run
 * too). `Effect.cached` does the same at a cost of tens of µs per command (a lock, a clock read).
 */
const once = <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  let outcome: Deferred.Deferred<A, E> | undefined
  return Effect.suspend(() => {
    if (outcome !== undefined) return Deferred.await(outcome)
    outcome = Deferred.unsafeMake<A, E>(FiberId.none)
    return Effect.zipRight(Effect.intoDeferred(self, outcome), Deferred.await(outcome))
  })
}

/**
 * The run's status: the executor's (`set -o pipefail`'s over the stages), except that a stage
 * that allows it and died of SIGPIPE counts as exited 0.
 */
const statusPolicy = (
  plan: CommandExecutor.SpawnPlan,
  spawned: CommandExecutor.SpawnedProcess
): Effect.Effect<ExitStatus.ExitStatus, CommandError> => {
  const commands = plan.stages.map((stage) => stage.command)
  if (!commands.some((stage) => stage.allowSigpipe)) return spawned.wait
  return Effect.map(spawned.waitStages, (statuses) => runStatus(commands, statuses))
}

/** A started run, as `result` sees it. */
interface Started {
  readonly command: Command.Command
  readonly line: string
  readonly spawned: CommandExecutor.SpawnedProcess
  /** The run's status, by the command's own rules (`allowSigpipe`). */
  readonly wait: Effect.Effect<ExitStatus.ExitStatus, CommandError>
  readonly feeder: CallerIo | undefined
  readonly stdout: Output
  readonly stderr: Output
  /** The stderr of every stage but the last, first to last. */
  readonly upstreamStderr: ReadonlyArray<Output>
  readonly timer: Fiber.RuntimeFiber<void> | undefined
  readonly timedOut: () => boolean
  readonly counts: () => { readonly bytesIn: number; readonly bytesOut: number }
}

/** One output of a run: what core does with it, and its drain. */
interface Output {
  readonly plan: Drain
  readonly drainer: Drainer
}

/**
 * How a started run ends: it waits for the child, then for its input and outputs, and fails with
 * the first thing that went wrong — the timeout, the caller's stream or sink, an output past its
 * limit — or succeeds with the status and the captured bytes.
 */
const settle = (run: Started): Effect.Effect<CommandExecutor.RunResult, CommandError> =>
  Effect.gen(function*() {
    const { command, feeder, spawned } = run
    const stages = yield* spawned.waitStages
    const status = yield* run.wait
    // Once the child is gone nobody reads the rest of the input: stop feeding (a failure is kept).
    if (feeder !== undefined) yield* feeder.stop
    const fed = feeder === undefined ? Either.void : yield* Effect.either(feeder.done)
    // The timer, still running, stops a sink that would never end.
    const drainedOut = yield* Effect.either(run.stdout.drainer.done)
    const drainedErr = yield* Effect.either(run.stderr.drainer.done)
    const drainedUpstream = yield* Effect.forEach(run.upstreamStderr, (output) => Effect.either(output.drainer.done))
    if (run.timer !== undefined) yield* Fiber.interrupt(run.timer)
    const out = Either.getOrElse(drainedOut, () => none)
    const err = Either.getOrElse(drainedErr, () => none)
    const upstream = drainedUpstream.map((drained) => Either.getOrElse(drained, () => none))
    const usage = spawned.usage === undefined ? undefined : yield* spawned.usage
    yield* annotate({
      "process.exit_status": ExitStatus.format(status),
      "command.bytes_in": run.counts().bytesIn,
      "command.bytes_out": run.counts().bytesOut,
      ...(usage === undefined ? {} : {
        "process.cpu.user_ms": Duration.toMillis(usage.userTime),
        "process.cpu.system_ms": Duration.toMillis(usage.systemTime),
        "process.max_rss_bytes": usage.maxRss
      })
    })
    yield* logDebugLazily(() =>
      `Result ${ExitStatus.format(status)}, stdout: '${scrubbed(command, out.bytes, logBytes)}' ` +
      `stderr: '${scrubbed(command, err.bytes, logBytes)}'`
    )
    if (run.timedOut()) return yield* timeoutError(run, out, err, upstream)
    const ends: ReadonlyArray<Either.Either<unknown, IoError>> = [fed, drainedOut, drainedErr, ...drainedUpstream]
    for (const failure of ends.map((end) => Either.getLeft(end))) {
      if (Option.isSome(failure)) return yield* Effect.fail(failure.value)
    }
    // Which stage each output is of: a pipeline's own outputs are its last stage's.
    const last = upstream.length
    const outputs = [
      ["stdout", out, last],
      ["stderr", err, last],
      ...upstream.map((drained, i) => ["stderr", drained, i] as const)
    ] as const
    for (const [name, drained, stage] of outputs) {
      if (drained.overflow) {
        return yield* Effect.fail(overflowError(command, run.line, name, drained.bytes, last > 0 ? stage : undefined))
      }
    }
    return {
      status,
      stages,
      stdout: out.bytes,
      stderr: err.bytes,
      stageStderr: [...upstream.map((drained) => drained.bytes), err.bytes],
      ...(usage === undefined ? {} : { usage })
    }
  })

/** An output that passed the command's `maxOutput`; `stage` is a pipeline's stage it came from. */
const overflowError = (
  command: Command.Command,
  line: string,
  name: "stdout" | "stderr",
  bytes: Uint8Array,
  stage: number | undefined
): OutputLimitError =>
  withPreviews(
    new OutputLimitError({
      stream: name,
      limit: command.maxOutput,
      output: bytes,
      ...(stage !== undefined ? { failedStage: stage } : {}),
      command: line
    }),
    { output: preview(command, bytes) }
  )

/**
 * What the caller captured, as it came; the tails kept of unspecified outputs are the library's
 * own, shown like an error's stderr tail: with the command's secrets blanked.
 */
const timeoutError = (
  run: Started,
  out: Drained,
  err: Drained,
  upstream: ReadonlyArray<Drained>
): CommandTimeoutError => {
  const { command } = run
  const captured = (plan: Drain, drained: Drained) =>
    plan._tag === "Capture" && plan.tail !== undefined
      ? encoder.encode(scrubbed(command, drained.bytes, plan.tail))
      : drained.bytes
  const stdout = captured(run.stdout.plan, out)
  const stderr = captured(run.stderr.plan, err)
  const stageStderr = upstream.length === 0
    ? undefined
    : [...upstream.map((drained, i) => captured(run.upstreamStderr[i]!.plan, drained)), stderr]
  return withPreviews(
    new CommandTimeoutError({
      timeout: command.timeout!,
      stdout,
      stderr,
      ...(stageStderr === undefined ? {} : { stageStderr }),
      command: run.line
    }),
    {
      stdout: preview(command, stdout),
      stderr: preview(command, stderr),
      ...(stageStderr === undefined ? {} : { stageStderr: stageStderr.map((bytes) => preview(command, bytes)) })
    }
  )
}

/** A valid command's plan, and what core does with its stdio: the input it feeds, the outputs it drains. */
const planned = (valid: Command.Command, captureAsked: boolean, debug: boolean) => {
  const line = describe(valid)
  // virCommandRun never captures a daemon's output: the pipes would stay open in the daemon.
  const captureUnspecified = captureAsked && !valid.setup.daemonize
  // A pipeline's input is its first stage's; its outputs are its last stage's (this command).
  const [stdin, input] = planInput(valid, firstStage(valid).stdin)
  // An unspecified stdout's tail only shows in the "Result" debug line (and in an error's
  // stderr tail when stderr joins it): not read, not even piped, when nobody would see it.
  const stdoutTail = valid.stderr?._tag === "ToStdout" || debug
  const [stdout, outPlan] = planOutput(valid.stdout, captureUnspecified && stdoutTail)
  const [stderr, errPlan] = planErrorOutput(valid.stderr, captureUnspecified)
  // An earlier stage's stderr that its joint does not take is planned like the last stage's;
  // one that goes on to the next stage has nothing to read.
  const links = joints(valid)
  const upstreamPlans = stagesOf(valid).slice(0, -1).map((stage, i) =>
    links[i] === "stdout"
      ? planErrorOutput(stage.stderr, captureUnspecified)
      : [{ _tag: "Null" } as const, { _tag: "None" } as const] as const
  )
  const plan = spawnPlan(valid, line, stdin, stdout, stderr, upstreamPlans.map(([output]) => output))
  return { line, input, stdout, outPlan, stderr, errPlan, upstreamPlans, plan }
}

/**
 * The run helpers' whole run through the executor's `RunPlan`, for what it takes: a single
 * command with no input stream (an input from memory is given as bytes), no sink and no timeout,
 * while debug lines are off (they show the
 * run's steps). What `settle` does for a started run, in one go: the status by the command's
 * rules, the captures, an output past its limit. Undefined: `start` runs it.
 */
const runWhole = (
  runPlan: CommandExecutor.RunPlan,
  valid: Command.Command,
  span: Tracer.Span
): Effect.Effect<CommandExecutor.RunResult, CommandError> | undefined => {
  if (valid.upstream !== undefined || valid.timeout !== undefined) return undefined
  const { errPlan, input, line, outPlan, plan } = planned(valid, true, false)
  if (outPlan._tag === "Sink" || errPlan._tag === "Sink") return undefined
  const stdin = memoryInput(valid.stdin)
  if (input !== undefined && stdin === undefined) return undefined
  const failed = new Set<unknown>()
  const out = chunkReader(valid, outPlan, "stdout", failed)
  const err = chunkReader(valid, errPlan, "stderr", failed)
  let bytesOut = 0
  const reading = (reader: ChunkReader | undefined) => (bytes: Uint8Array) => {
    bytesOut += bytes.length
    return reader === undefined || reader.take(bytes)
  }
  const ran = runPlan(plan, { stdin, stdout: reading(out), stderr: reading(err) })
  if (ran === undefined) return undefined
  return Effect.matchEffect(ran, {
    // The plan runs outside the run's span: its failures are failed again in it.
    onFailure: (error) => failIn(error, span),
    onSuccess: ({ pid, status }): Effect.Effect<CommandExecutor.RunResult, CommandError> => {
      const outEnd = out?.end() ?? Either.right(none)
      const errEnd = err?.end() ?? Either.right(none)
      const counted = valid.allowSigpipe ? runStatus([valid], [status]) : status
      annotateSpan(span, {
        "process.pid": pid,
        "process.exit_status": ExitStatus.format(counted),
        "command.bytes_in": stdin?.length ?? 0,
        "command.bytes_out": bytesOut
      })
      if (Either.isLeft(outEnd)) return failIn(outEnd.left, span)
      if (Either.isLeft(errEnd)) return failIn(errEnd.left, span)
      const stdout = outEnd.right.bytes
      const stderr = errEnd.right.bytes
      return outEnd.right.overflow
        ? failIn(overflowError(valid, line, "stdout", stdout, undefined), span)
        : errEnd.right.overflow
        ? failIn(overflowError(valid, line, "stderr", stderr, undefined), span)
        : Effect.succeed({ status: counted, stages: [status], stdout, stderr, stageStderr: [stderr] })
    }
  })
}

/** The run helpers' whole run through `start`: captured tails, the result, the scope closed. */
export const startedRun = (executor: CommandExecutor.CommandExecutor, command: Command.Command) =>
  Effect.scoped(Effect.flatMap(executor.start(command, { captureUnspecified: true }), (process) => process.result))

/** @internal */
export const make = (
  spawn: CommandExecutor.Spawn,
  runPlan?: CommandExecutor.RunPlan
): CommandExecutor.CommandExecutor => {
  const executor: CommandExecutor.CommandExecutor = {
    start: (command, options) =>
      Effect.gen(function*() {
        const valid = yield* validate(command)
        const { errPlan, input, line, outPlan, plan, stderr, stdout, upstreamPlans } = planned(
          valid,
          options?.captureUnspecified === true,
          yield* debugEnabled
        )
        yield* Effect.logDebug(`About to run ${line}`)
        const spawned = yield* spawn(plan)
        const wait = statusPolicy(plan, spawned)
        yield* annotate({ "process.pid": spawned.pid })
        let bytesIn = 0
        let bytesOut = 0
        // Whether the run's own I/O failed (a stream or sink of the caller's, an output past its
        // limit, a forEach function) and aborted the child: then a timeout firing during the kill
        // grace does not replace that error.
        let failedFirst = false
        const failAbort = Effect.suspend(() => {
          failedFirst = true
          return spawned.abort
        })
        const feeder = input === undefined
          ? undefined
          : yield* runCallerIo(
            valid,
            "stdin",
            Stream.run(
              counting(input, (n) => void (bytesIn += n)),
              spawned.stdin
            ),
            failAbort
          )
        const count = (n: number) => void (bytesOut += n)
        const failed = new Set<unknown>()
        const outDrain = yield* drain(valid, failAbort, childOutput(spawned, "stdout"), outPlan, count, failed)
        const errDrain = yield* drain(valid, failAbort, childOutput(spawned, "stderr"), errPlan, count, failed)
        const upstreamStderr = yield* Effect.forEach(upstreamPlans, ([, drainPlan], i) =>
          Effect.map(
            drain(
              valid,
              failAbort,
              {
                name: `stage ${i + 1} stderr`,
                stream: spawned.upstreamStderr[i] ?? Stream.empty,
                collect: undefined
              },
              drainPlan,
              count,
              failed
            ),
            (drainer): Output => ({ plan: drainPlan, drainer })
          ))
        let timedOut = false
        const timer = valid.timeout === undefined ? undefined : yield* Effect.forkScoped(
          sleep(valid.timeout).pipe(
            Effect.zipRight(Effect.sync(() => void (timedOut = !failedFirst))),
            Effect.zipRight(spawned.abort),
            // The timeout bounds the whole run: the caller's streams and sinks may never end.
            Effect.zipRight(
              Effect.all([
                feeder?.stop ?? Effect.void,
                outDrain.stop,
                errDrain.stop,
                ...upstreamStderr.map((output) => output.drainer.stop)
              ], { discard: true })
            )
          )
        )
        const result = once(settle({
          command: valid,
          line,
          spawned,
          wait,
          feeder,
          stdout: { plan: outPlan, drainer: outDrain },
          stderr: { plan: errPlan, drainer: errDrain },
          upstreamStderr,
          timer,
          timedOut: () => timedOut,
          counts: () => ({ bytesIn, bytesOut })
        }))
        // An output the caller reads itself (a "pipe": `stream`, `start`) can be waited on, and
        // counts as bytes out too.
        const outPeek = stdout._tag === "Pipe" && outPlan._tag === "None"
          ? peekable(valid, "stdout", spawned.stdout)
          : undefined
        const errPeek = stderr._tag === "Pipe" && errPlan._tag === "None"
          ? peekable(valid, "stderr", spawned.stderr)
          : undefined
        const { collect: _, ...handle } = spawned
        return {
          ...handle,
          stdout: outPeek !== undefined ? counting(outPeek.stream, count) : spawned.stdout,
          stderr: errPeek !== undefined ? counting(errPeek.stream, count) : spawned.stderr,
          // A stage's stderr the caller reads itself counts as bytes out too.
          upstreamStderr: spawned.upstreamStderr.map((stream, i) =>
            upstreamPlans[i]?.[1]._tag === "None" ? counting(stream, count) : stream
          ),
          waitFor: waitFor(valid, { stdout: outPeek, stderr: errPeek }),
          wait,
          result
        } satisfies CommandExecutor.Process
      })
  }
  const started = (command: Command.Command, span: Tracer.Span) =>
    Effect.withParentSpan(startedRun(executor, command), span)
  return {
    ...executor,
    run: (command, span) =>
      runPlan === undefined ? started(command, span) : Effect.flatMap(debugEnabled, (debug) => {
        const valid = validate(command)
        const whole = debug || Either.isLeft(valid) ? undefined : runWhole(runPlan, valid.right, span)
        return whole ?? started(command, span)
      })
  }
}
