import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"

import type * as Command from "../Command.js"
import type { CommandError } from "../CommandError.js"
import {
  CommandTimeoutError,
  CommandUsageError,
  ExitError,
  IoError,
  OutputLimitError,
  SignalError
} from "../CommandError.js"
import type * as CommandExecutor from "../CommandExecutor.js"
import * as ExitStatus from "../ExitStatus.js"
import { firstStage, show, stagesOf } from "./command.js"
import { update, wordValue } from "./model.js"
import { spawnPlan } from "./plan.js"
import { describe, validate } from "./render.js"
import { sleep } from "./sleep.js"
import { CommandExecutor as Tag } from "./tag.js"

/** How many bytes of an unspecified output the run helpers keep (and of stderr an error shows). */
export const tailBytes = 8 * 1024

/** How many bytes of each output the "Result" debug line shows. */
const logBytes = 1024

const decoder = new TextDecoder()

const empty = new Uint8Array(0)

const concat = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  if (chunks.length === 1 && chunks[0]!.length === size) return chunks[0]!
  const out = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}

/** Keeps only the last `tail` bytes handed to `push`. */
const tailBuffer = (tail: number) => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  return {
    push: (bytes: Uint8Array): boolean => {
      // A copy of what can be kept: the bytes are only lent (see SpawnedProcess.collect).
      const kept = new Uint8Array(bytes.subarray(Math.max(0, bytes.length - tail)))
      chunks.push(kept)
      size += kept.length
      while (chunks.length > 1 && size - chunks[0]!.length >= tail) size -= chunks.shift()!.length
      return true
    },
    bytes: (): Uint8Array => {
      const all = concat(chunks, size)
      return all.length > tail ? all.slice(all.length - tail) : all
    }
  }
}

/** The largest capture buffer reserved up front (address space only: pages are used as bytes arrive). */
const largestReservation = 2 ** 32

/** A capture buffer grows by what it holds, at least `minimumGrowth` and at most `growthStep` bytes. */
const minimumGrowth = 64 * 1024
const growthStep = 16 * 1024 * 1024

/**
 * A capture buffer that grows in place: a resizable ArrayBuffer reserves address space for the
 * limit and uses memory only for the bytes written, so capturing N bytes costs about N bytes of
 * memory, never a copy of everything at the end. Where resizable buffers are missing it keeps
 * the chunks and joins them once.
 */
const captureBuffer = (limit: number) => {
  let size = 0
  let buffer: ArrayBuffer | undefined
  try {
    buffer = new ArrayBuffer(0, { maxByteLength: Math.min(limit, largestReservation) })
    if (buffer.resizable !== true) buffer = undefined
  } catch {
    buffer = undefined
  }
  const chunks: Array<Uint8Array> = []
  return {
    /** Appends up to the limit; false when bytes had to be dropped. */
    push: (bytes: Uint8Array): boolean => {
      const room = Math.min(bytes.length, limit - size)
      const kept = room === bytes.length ? bytes : bytes.subarray(0, room)
      if (buffer !== undefined && size + room <= buffer.maxByteLength) {
        // Grown ahead (by what it holds, up to `growthStep`), not per chunk: one resize per
        // chunk was a page-table change per 64 KiB read. `bytes` gives the rest back.
        if (size + room > buffer.byteLength) {
          const ahead = Math.min(Math.max(size, minimumGrowth), growthStep)
          buffer.resize(Math.min(buffer.maxByteLength, size + room + ahead))
        }
        new Uint8Array(buffer, size, room).set(kept)
      } else {
        if (buffer !== undefined) {
          chunks.push(new Uint8Array(buffer, 0, size).slice())
          buffer = undefined
        }
        chunks.push(new Uint8Array(kept)) // a copy: the bytes are only lent
      }
      size += room
      return room === bytes.length
    },
    bytes: (): Uint8Array => {
      if (buffer === undefined) return concat(chunks, size)
      if (buffer.byteLength > size) buffer.resize(size)
      return new Uint8Array(buffer, 0, size)
    }
  }
}

/** What core does with one output of the child. */
type Drain =
  | { readonly _tag: "None" }
  | { readonly _tag: "Capture"; readonly tail: number | undefined }
  | { readonly _tag: "Sink"; readonly sink: Sink.Sink<unknown, Uint8Array, unknown, unknown> }

const planOutput = (
  output: Command.Output | undefined,
  captureUnspecified: boolean
): [CommandExecutor.SpawnOutput, Drain] => {
  if (output === undefined) {
    return captureUnspecified
      ? [{ _tag: "Pipe" }, { _tag: "Capture", tail: tailBytes }]
      : [{ _tag: "Null" }, { _tag: "None" }]
  }
  switch (output._tag) {
    case "Capture":
      return [{ _tag: "Pipe" }, { _tag: "Capture", tail: undefined }]
    case "Sink":
      return [{ _tag: "Pipe" }, { _tag: "Sink", sink: output.sink }]
    default:
      return [output, { _tag: "None" }]
  }
}

const planInput = (
  command: Command.Command,
  input: Command.Input | undefined
): [CommandExecutor.SpawnInput, Stream.Stream<Uint8Array, IoError> | undefined] => {
  if (input === undefined) return [{ _tag: "Null" }, undefined]
  switch (input._tag) {
    case "Bytes":
      return [{ _tag: "Pipe" }, Stream.succeed(input.bytes)]
    case "Text":
      return [{ _tag: "Pipe" }, Stream.sync(() => new TextEncoder().encode(wordValue(input.text)))]
    case "Stream":
      return [
        { _tag: "Pipe" },
        Stream.mapError(input.stream, (cause) => new IoError({ stream: "stdin", command: describe(command), cause }))
      ]
    default:
      return [input, undefined]
  }
}

/** `stream`, telling `count` the size of every chunk that passes. */
const counting = <E>(stream: Stream.Stream<Uint8Array, E>, count: (n: number) => void): Stream.Stream<Uint8Array, E> =>
  Stream.mapChunks(stream, (chunk) => {
    for (const bytes of chunk) count(bytes.length)
    return chunk
  })

/** What ended a stream or sink of the caller's, as the run's IoError (an IoError it failed with is kept). */
const ioError = (command: Command.Command, stream: string, cause: Cause.Cause<unknown>): IoError => {
  // Its failure, else its defect, else the interruption.
  const reason = Cause.squash(cause)
  return reason instanceof IoError ? reason : new IoError({ stream, command: describe(command), cause: reason })
}

/** A stream or sink of the caller's, running in a fiber of the run's scope. */
interface CallerIo {
  /** Interrupts it because the run no longer needs it: not a failure. */
  readonly stop: Effect.Effect<void>
  /** Waits for its end; fails with what ended it, unless it completed or was stopped. */
  readonly done: Effect.Effect<void, IoError>
}

/**
 * Runs a stream or sink of the caller's in a fiber of the current scope. Any end but success or
 * `stop` (a failure, a defect, an interruption from inside) aborts the child at once and is kept
 * as the run's IoError: a child fed a truncated input must die before it sees EOF, and one whose
 * output nobody reads any more would block forever on a full pipe.
 */
const runCallerIo = (
  command: Command.Command,
  stream: string,
  io: Effect.Effect<unknown, unknown>,
  abort: Effect.Effect<unknown>
): Effect.Effect<CallerIo, never, Scope.Scope> => {
  let stopped = false
  let failure: IoError | undefined
  const supervised = Effect.onExit(io, (exit) => {
    if (Exit.isSuccess(exit) || stopped) return Effect.void
    failure = ioError(command, stream, exit.cause)
    return abort
  })
  return Effect.flatMap(Effect.forkScoped(supervised), (fiber) =>
    // Added after the fork, so it runs first when the scope closes: an interruption by the close
    // is not the stream's failure. The process's own finalizer decides what becomes of the child
    // (a detached one outlives the scope).
    Effect.as(Effect.addFinalizer(() => Effect.sync(() => void (stopped = true))), {
      stop: Effect.suspend(() => {
        stopped = true
        return Fiber.interrupt(fiber)
      }),
      done: Effect.flatMap(Fiber.await(fiber), () => (failure === undefined ? Effect.void : Effect.fail(failure)))
    }))
}

/** What one output's drain reports: the bytes kept, or that the limit was passed. */
type Drained = { readonly bytes: Uint8Array; readonly overflow: boolean }

const none: Drained = { bytes: empty, overflow: false }

/** One output being drained: the effect that waits for its end, and how to stop a sink that may never end. */
interface Drainer {
  readonly done: Effect.Effect<Drained, IoError>
  readonly stop: Effect.Effect<void>
}

const drained: Drainer = { done: Effect.succeed(none), stop: Effect.void }

/**
 * Starts draining one output (in the current scope). A capture hands each chunk to a buffer:
 * through the executor's `collect` where it has one (no stream, no fiber), else by running the
 * output's stream in a fiber of its own; both end soon after the child. A sink is the caller's
 * code, which may never end: it can be stopped.
 */
const drain = (
  command: Command.Command,
  spawned: CommandExecutor.SpawnedProcess,
  name: "stdout" | "stderr",
  plan: Drain,
  counted: (n: number) => void
): Effect.Effect<Drainer, never, Scope.Scope> => {
  const stream = spawned[name]
  switch (plan._tag) {
    case "None":
      return Effect.succeed(drained)
    case "Capture":
      return Effect.flatMap(Effect.runtime<never>(), (runtime) => {
        const buffer = plan.tail !== undefined ? tailBuffer(plan.tail) : captureBuffer(command.maxOutput)
        let overflow = false
        const onBytes = (bytes: Uint8Array) => {
          counted(bytes.length)
          overflow = !buffer.push(bytes)
          // Past the limit the child is killed at once: nobody will read the rest, so it could
          // block forever writing it (and never close its other output either).
          if (overflow) Runtime.runFork(runtime)(spawned.abort)
          return !overflow
        }
        const finish = Effect.sync((): Drained => ({ bytes: buffer.bytes(), overflow }))
        const collected = spawned.collect !== undefined
          ? spawned.collect(name, onBytes)
          // Not `runForEachWhile`: its sink nests a `catchAll` per element that keeps every chunk
          // alive until the stream ends, doubling the memory of a large capture.
          : Effect.map(
            Effect.forkScoped(Stream.runDrain(Stream.takeUntil(stream, (bytes) => !onBytes(bytes)))),
            Fiber.join
          )
        return Effect.map(collected, (done): Drainer => ({ done: Effect.zipRight(done, finish), stop: Effect.void }))
      })
    case "Sink": {
      // What a sink that is done early leaves is read and discarded: unread, it would fill the
      // pipe and block the child forever.
      const run = Stream.run(counting(stream, counted), Sink.zipLeft(plan.sink, Sink.drain))
      return Effect.map(runCallerIo(command, name, run, spawned.abort), (io): Drainer => ({
        done: Effect.as(io.done, none),
        stop: io.stop
      }))
    }
  }
}

/** The secrets of a command (Redacted words of every stage), to keep them out of logged output. */
const secretsOf = (command: Command.Command): Array<string> =>
  stagesOf(command).flatMap((stage) => {
    const words: Array<Command.Word> = [...stage.args]
    for (const entry of stage.env.entries) if (entry._tag === "Set") words.push(entry.value)
    if (stage.stdin?._tag === "Text") words.push(stage.stdin.text)
    return words.filter((w): w is Redacted.Redacted<string> => typeof w !== "string").map(Redacted.value)
  }).filter((secret) => secret.length > 0)

const encoder = new TextEncoder()

/** What is left of a secret where output was cut through it is blanked from this many bytes on. */
const shortestFragment = 4

/** Whether `bytes` holds `part` at `at`. */
const holds = (bytes: Uint8Array, part: Uint8Array, at: number): boolean => {
  if (at < 0 || at + part.length > bytes.length) return false
  for (let i = 0; i < part.length; i++) if (bytes[at + i] !== part[i]) return false
  return true
}

/**
 * The last `limit` bytes of a child's output as text for a log line or an error, with the
 * command's secrets blanked. They are looked for before the cut is made, from a secret's length
 * before it, so that a secret straddling the cut leaves nothing in view. What is left of a secret
 * at the edges of the bytes is blanked too: its end where they begin (a tail buffer cut off the
 * rest before the bytes reached us), its beginning where they end.
 */
const scrubbed = (command: Command.Command, bytes: Uint8Array, limit: number): string => {
  const from = Math.max(0, bytes.length - limit)
  const secrets = secretsOf(command).map((secret) => encoder.encode(secret))
  if (secrets.length === 0) return decoder.decode(bytes.subarray(from))
  const hidden: Array<readonly [start: number, end: number]> = []
  const hide = (start: number, end: number) => void hidden.push([Math.max(from, start), end])
  for (const secret of secrets) {
    for (let at = Math.max(0, from - secret.length + 1); at < bytes.length; at++) {
      if (holds(bytes, secret, at)) hide(at, at + secret.length)
    }
    for (let kept = Math.min(secret.length - 1, bytes.length - from); kept >= shortestFragment; kept--) {
      if (holds(bytes, secret.subarray(secret.length - kept), from)) {
        hide(from, from + kept)
        break
      }
    }
    for (let kept = Math.min(secret.length - 1, bytes.length - from); kept >= shortestFragment; kept--) {
      if (holds(bytes, secret.subarray(0, kept), bytes.length - kept)) {
        hide(bytes.length - kept, bytes.length)
        break
      }
    }
  }
  // One "<redacted>" per secret shown, or per run of overlapping ones.
  hidden.sort((a, b) => a[0] - b[0])
  let text = ""
  let shown = from
  for (let i = 0; i < hidden.length;) {
    const start = hidden[i]![0]
    let end = hidden[i]![1]
    for (i++; i < hidden.length && hidden[i]![0] < end; i++) end = Math.max(end, hidden[i]![1])
    text += `${decoder.decode(bytes.subarray(shown, start))}<redacted>`
    shown = end
  }
  return text + decoder.decode(bytes.subarray(shown))
}

/** Whether debug lines are logged at all (the minimum log level lets them through). */
const debugEnabled: Effect.Effect<boolean> = Effect.map(
  FiberRef.get(FiberRef.currentMinimumLogLevel),
  (minimum) => !LogLevel.greaterThan(minimum, LogLevel.Debug)
)

/** A debug line whose text (decoding and scrubbing output) is only built when debug logs are on. */
const logDebugLazily = (message: () => string): Effect.Effect<void> =>
  Effect.flatMap(debugEnabled, (on) => (on ? Effect.logDebug(message()) : Effect.void))

const spanName = (command: Command.Command): string =>
  stagesOf(command).map((stage) => stage.program.slice(stage.program.lastIndexOf("/") + 1)).join(" | ")

/**
 * Attributes on the current span, if there is one. `Effect.annotateCurrentSpan` fails (and
 * ignores) a NoSuchElementException, stack trace included, when there is none.
 */
const annotate = (attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (parent) =>
    Effect.sync(() => {
      if (Option.isNone(parent) || parent.value._tag !== "Span") return
      for (const [key, value] of Object.entries(attributes)) parent.value.attribute(key, value)
    }))

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

/** @internal */
export const make = (spawn: CommandExecutor.Spawn): CommandExecutor.CommandExecutor => ({
  start: (command, options) =>
    Effect.gen(function*() {
      const valid = yield* validate(command)
      const line = describe(valid)
      // virCommandRun never captures a daemon's output: the pipes would stay open in the daemon.
      const captureUnspecified = options?.captureUnspecified === true && !valid.setup.daemonize
      // A pipeline's input is its first stage's; its outputs are its last stage's (this command).
      const [stdin, input] = planInput(valid, firstStage(valid).stdin)
      // An unspecified stdout's tail only shows in the "Result" debug line (and in an error's
      // stderr tail when stderr joins it): not read, not even piped, when nobody would see it.
      const stdoutTail = valid.stderr?._tag === "ToStdout" || (yield* debugEnabled)
      const [stdout, outPlan] = planOutput(valid.stdout, captureUnspecified && stdoutTail)
      const [stderr, errPlan] = valid.stderr?._tag === "ToStdout"
        ? [valid.stderr, { _tag: "None" } as const]
        : planOutput(valid.stderr, captureUnspecified)
      yield* Effect.logDebug(`About to run ${line}`)
      const spawned = yield* spawn(spawnPlan(valid, line, stdin, stdout, stderr))
      yield* annotate({ "process.pid": spawned.pid })
      let bytesIn = 0
      let bytesOut = 0
      const feeder = input === undefined
        ? undefined
        : yield* runCallerIo(
          valid,
          "stdin",
          Stream.run(
            counting(input, (n) => void (bytesIn += n)),
            spawned.stdin
          ),
          spawned.abort
        )
      const count = (n: number) => void (bytesOut += n)
      const outDrain = yield* drain(valid, spawned, "stdout", outPlan, count)
      const errDrain = yield* drain(valid, spawned, "stderr", errPlan, count)
      let timedOut = false
      const timer = valid.timeout === undefined ? undefined : yield* Effect.forkScoped(
        sleep(valid.timeout).pipe(
          Effect.zipRight(Effect.sync(() => void (timedOut = true))),
          Effect.zipRight(spawned.abort),
          // The timeout bounds the whole run: the caller's streams and sinks may never end.
          Effect.zipRight(Effect.all([feeder?.stop ?? Effect.void, outDrain.stop, errDrain.stop], { discard: true }))
        )
      )
      const result = once(Effect.gen(function*() {
        const stages = yield* spawned.waitStages
        const status = yield* spawned.wait
        // Once the child is gone nobody reads the rest of the input: stop feeding (a failure is kept).
        if (feeder !== undefined) yield* feeder.stop
        const fed = feeder === undefined ? Either.void : yield* Effect.either(feeder.done)
        // The timer, still running, stops a sink that would never end.
        const outDrained = yield* Effect.either(outDrain.done)
        const errDrained = yield* Effect.either(errDrain.done)
        if (timer !== undefined) yield* Fiber.interrupt(timer)
        const out = Either.getOrElse(outDrained, () => none)
        const err = Either.getOrElse(errDrained, () => none)
        yield* annotate({
          "process.exit_status": ExitStatus.format(status),
          "command.bytes_in": bytesIn,
          "command.bytes_out": bytesOut
        })
        yield* logDebugLazily(() =>
          `Result ${ExitStatus.format(status)}, stdout: '${scrubbed(valid, out.bytes, logBytes)}' ` +
          `stderr: '${scrubbed(valid, err.bytes, logBytes)}'`
        )
        if (timedOut) {
          // What the caller captured, as it came; the tails kept of unspecified outputs are the
          // library's own, shown like an error's stderr tail: with the command's secrets blanked.
          const captured = (plan: Drain, drained: Drained) =>
            plan._tag === "Capture" && plan.tail !== undefined
              ? encoder.encode(scrubbed(valid, drained.bytes, plan.tail))
              : drained.bytes
          return yield* new CommandTimeoutError({
            timeout: valid.timeout!,
            stdout: captured(outPlan, out),
            stderr: captured(errPlan, err),
            command: line
          })
        }
        for (const failure of [Either.getLeft(fed), Either.getLeft(outDrained), Either.getLeft(errDrained)]) {
          if (Option.isSome(failure)) return yield* Effect.fail(failure.value)
        }
        for (const [name, drained] of [["stdout", out], ["stderr", err]] as const) {
          if (drained.overflow) {
            return yield* new OutputLimitError({
              stream: name,
              limit: valid.maxOutput,
              output: drained.bytes,
              command: line
            })
          }
        }
        return { status, stages, stdout: out.bytes, stderr: err.bytes }
      }))
      const { collect: _, ...handle } = spawned
      return {
        ...handle,
        // An output the caller reads itself (a "pipe": `stream`, `start`) counts as bytes out too.
        stdout: outPlan._tag === "None" ? counting(spawned.stdout, count) : spawned.stdout,
        stderr: errPlan._tag === "None" ? counting(spawned.stderr, count) : spawned.stderr,
        result
      } satisfies CommandExecutor.Process
    })
})

// ---------------------------------------------------------------------------------------------
// the run helpers, derived once from `start`
// ---------------------------------------------------------------------------------------------

const start = (
  command: Command.Command,
  options?: CommandExecutor.StartOptions
): Effect.Effect<CommandExecutor.Process, CommandError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.flatMap(Tag, (executor) => executor.start(command, options))

/** @internal */
export const startProcess = (
  command: Command.Command
): Effect.Effect<CommandExecutor.Process, CommandError, CommandExecutor.CommandExecutor | Scope.Scope> => start(command)

/** The captured bytes the caller asked for; the run helpers' default tails are dropped. */
const asked = (command: Command.Command, result: CommandExecutor.RunResult): CommandExecutor.RunResult => ({
  status: result.status,
  stages: result.stages,
  stdout: command.stdout?._tag === "Capture" ? result.stdout : empty,
  stderr: command.stderr?._tag === "Capture" ? result.stderr : empty
})

const stderrTail = (command: Command.Command, result: CommandExecutor.RunResult): string =>
  scrubbed(command, command.stderr?._tag === "ToStdout" ? result.stdout : result.stderr, tailBytes).trimEnd()

const statusError = (
  command: Command.Command,
  result: CommandExecutor.RunResult
): ExitError | SignalError | undefined => {
  const { status } = result
  const stages = result.stages.length > 1 ? { stages: result.stages } : {}
  if (status._tag === "Exited") {
    return status.code === 0
      ? undefined
      : new ExitError({
        exitCode: status.code,
        stderrTail: stderrTail(command, result),
        command: describe(command),
        ...stages
      })
  }
  return new SignalError({
    signal: status.signal,
    coreDumped: status.coreDumped,
    stderrTail: stderrTail(command, result),
    command: describe(command),
    ...stages
  })
}

/**
 * A run helper owns the child's I/O: a "pipe" that only `start`'s caller could serve would leave
 * the child blocked forever (libvirt: "cannot mix caller fds with blocking execution").
 */
const unservedPipes = (command: Command.Command, helper: string): ReadonlyArray<string> => [
  ...(firstStage(command).stdin?._tag === "Pipe"
    ? [`${helper} cannot write a piped stdin: feed it, or use start`]
    : []),
  ...(command.stdout?._tag === "Pipe" ? [`${helper} cannot read a piped stdout: capture it, or use start`] : []),
  ...(command.stderr?._tag === "Pipe" ? [`${helper} cannot read a piped stderr: capture it, or use start`] : []),
  ...(stagesOf(command).some((stage) => stage.setup.handshake)
    ? [`${helper} cannot complete a handshake: use start, handshakeWait and handshakeNotify`]
    : [])
]

const refuseUnserved = (command: Command.Command, helper: string): Effect.Effect<void, CommandUsageError> => {
  const reasons = unservedPipes(command, helper)
  return reasons.length === 0
    ? Effect.void
    : Effect.fail(new CommandUsageError({ reasons, command: describe(command) }))
}

const runResult = (
  command: Command.Command,
  helper: string
): Effect.Effect<CommandExecutor.RunResult, CommandError, CommandExecutor.CommandExecutor> =>
  Effect.zipRight(
    refuseUnserved(command, helper),
    Effect.scoped(Effect.flatMap(start(command, { captureUnspecified: true }), (process) => process.result))
  )

/**
 * Every run is a span named after its program(s), with the redacted command line. It wraps the
 * whole helper, status check included, so that a run failing with `ExitError` ends it as failed.
 */
const traced = (command: Command.Command) =>
  Effect.withSpan(spanName(command), { attributes: { "command.line": describe(command) } })

const checked = (
  command: Command.Command,
  helper: string
): Effect.Effect<CommandExecutor.RunResult, CommandError, CommandExecutor.CommandExecutor> =>
  Effect.flatMap(runResult(command, helper), (result) => {
    const error = statusError(command, result)
    return error === undefined ? Effect.succeed(asked(command, result)) : Effect.fail(error)
  })

/** @internal */
export const run = (
  command: Command.Command
): Effect.Effect<CommandExecutor.RunResult, CommandError, CommandExecutor.CommandExecutor> =>
  checked(command, "run").pipe(traced(command))

/** @internal */
export const status = (
  command: Command.Command
): Effect.Effect<ExitStatus.ExitStatus, CommandError, CommandExecutor.CommandExecutor> =>
  Effect.map(runResult(command, "status"), (result) => result.status).pipe(traced(command))

/** @internal */
export const exitCode = (
  command: Command.Command
): Effect.Effect<number, CommandError, CommandExecutor.CommandExecutor> =>
  Effect.flatMap(runResult(command, "exitCode"), (result) =>
    result.status._tag === "Exited"
      ? Effect.succeed(result.status.code)
      : Effect.fail(statusError(command, result)!)).pipe(traced(command))

/** Sets stdout to `to` for a helper that reads stdout itself; a stdout the caller set elsewhere is a usage error. */
const takeStdout = (
  command: Command.Command,
  helper: string,
  to: Command.Output
): Effect.Effect<Command.Command, CommandUsageError> =>
  command.stdout === undefined || command.stdout._tag === to._tag
    ? Effect.succeed(update(command, { stdout: to as Command.Output }))
    : Effect.fail(
      new CommandUsageError({
        reasons: [`${helper} reads stdout, but stdout is set to ${command.stdout._tag}`],
        command: describe(command)
      })
    )

const captureStdout = (
  command: Command.Command,
  helper: string
): Effect.Effect<Uint8Array, CommandError, CommandExecutor.CommandExecutor> =>
  Effect.flatMap(
    takeStdout(command, helper, { _tag: "Capture" }),
    (cmd) => Effect.map(checked(cmd, helper), (r) => r.stdout)
  )
    .pipe(traced(command))

const decode = (bytes: Uint8Array, encoding: string | undefined): string =>
  (encoding === undefined ? decoder : new TextDecoder(encoding)).decode(bytes)

/** An encoding `TextDecoder` does not know is a usage problem, found before anything runs. */
const unknownEncoding = (command: Command.Command, encoding: string | undefined): CommandUsageError | undefined => {
  if (encoding === undefined) return undefined
  try {
    new TextDecoder(encoding)
    return undefined
  } catch {
    return new CommandUsageError({ reasons: [`unknown text encoding ${show(encoding)}`], command: describe(command) })
  }
}

/** @internal */
export const bytes = (
  command: Command.Command
): Effect.Effect<Uint8Array, CommandError, CommandExecutor.CommandExecutor> => captureStdout(command, "bytes")

/** @internal */
export const string = (
  command: Command.Command,
  encoding?: string
): Effect.Effect<string, CommandError, CommandExecutor.CommandExecutor> => {
  const unknown = unknownEncoding(command, encoding)
  return unknown !== undefined
    ? Effect.fail(unknown)
    : Effect.map(captureStdout(command, "string"), (out) => decode(out, encoding))
}

/** @internal */
export const splitLines = (text: string): Array<string> => {
  if (text.length === 0) return []
  const lines = text.split(/\r?\n/)
  if (lines[lines.length - 1] === "") lines.pop()
  return lines
}

/** @internal */
export const lines = (
  command: Command.Command
): Effect.Effect<Array<string>, CommandError, CommandExecutor.CommandExecutor> =>
  Effect.map(captureStdout(command, "lines"), (out) => splitLines(decode(out, undefined)))

/** @internal */
export const records = (
  command: Command.Command,
  options?: { readonly separator?: string; readonly columns?: number }
): Effect.Effect<Array<Array<string>>, CommandError, CommandExecutor.CommandExecutor> => {
  const separator = options?.separator ?? "\0"
  const columns = options?.columns ?? 1
  if (!Number.isSafeInteger(columns) || columns < 1 || typeof separator !== "string" || separator.length === 0) {
    return Effect.fail(
      new CommandUsageError({
        reasons: [
          `records needs a non-empty separator and a whole number of columns ≥ 1, not ${show(separator)} and ${
            show(columns)
          }`
        ],
        command: describe(command)
      })
    )
  }
  return Effect.map(captureStdout(command, "records"), (stdout) => {
    const text = decode(stdout, undefined)
    if (text.length === 0) return []
    const tokens = text.split(separator)
    if (tokens[tokens.length - 1] === "") tokens.pop()
    const out: Array<Array<string>> = []
    for (let i = 0; i < tokens.length; i += columns) out.push(tokens.slice(i, i + columns))
    return out
  })
}

/** @internal */
export const stream = (
  command: Command.Command
): Stream.Stream<Uint8Array, CommandError, CommandExecutor.CommandExecutor> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    // The run's span, ended with the stream's exit. It is given to the effects that annotate it,
    // not to the stream: `Stream.withSpan` provides it again for every chunk pulled (about 14 µs
    // a chunk, three times what the rest of a pull costs; it adds up for many small chunks).
    const span = yield* Effect.makeSpanScoped(spanName(command), { attributes: { "command.line": describe(command) } })
    const cmd = yield* takeStdout(command, "stream", { _tag: "Pipe" })
    yield* refuseUnserved(update(cmd, { stdout: undefined }), "stream")
    const process = yield* Effect.withParentSpan(start(cmd, { captureUnspecified: true }), span)
    const check = Effect.flatMap(process.result, (result) => {
      const error = statusError(cmd, result)
      return error === undefined ? Effect.void : Effect.fail(error)
    })
    return Stream.concat(process.stdout, Stream.drain(Stream.fromEffect(Effect.withParentSpan(check, span))))
  }))

/** @internal */
export const streamLines = (
  command: Command.Command
): Stream.Stream<string, CommandError, CommandExecutor.CommandExecutor> =>
  stream(command).pipe(Stream.decodeText(), Stream.splitLines)
