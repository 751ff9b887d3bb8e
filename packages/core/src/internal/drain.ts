/**
 * What core does with the child's stdio: which stdio the executor wires (a pipe, or what the
 * command gave), and the reading and feeding core does itself — captures, the caller's sinks and
 * input streams, each in a fiber of the run's scope.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Predicate from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"

import type * as Command from "../Command.js"
import { IoError } from "../CommandError.js"
import type * as CommandExecutor from "../CommandExecutor.js"
import { captureBuffer, empty, tailBuffer } from "./buffers.js"
import { wordValue } from "./model.js"
import { describe } from "./render.js"
import { encoder } from "./scrub.js"

/** How many bytes of an unspecified output the run helpers keep (and of stderr an error shows). */
export const tailBytes = 8 * 1024

/** What core does with one output of the child. */
export type Drain =
  | { readonly _tag: "None" }
  | { readonly _tag: "Capture"; readonly tail: number | undefined }
  | { readonly _tag: "Sink"; readonly sink: Sink.Sink<unknown, Uint8Array, unknown, unknown> }
  | { readonly _tag: "ForEach"; readonly f: (bytes: Uint8Array) => void }

export const planOutput = (
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
    case "ForEach":
      return [{ _tag: "Pipe" }, { _tag: "ForEach", f: output.f }]
    default:
      return [output, { _tag: "None" }]
  }
}

/** Like `planOutput`, for a stderr, which may also go to the stage's stdout (`2>&1`): nothing to read then. */
export const planErrorOutput = (
  output: Command.ErrorOutput | undefined,
  captureUnspecified: boolean
): [CommandExecutor.SpawnErrorOutput, Drain] =>
  output?._tag === "ToStdout" ? [output, { _tag: "None" }] : planOutput(output, captureUnspecified)

/** The bytes of an input fed from memory (`feed`: bytes, text, a secret); undefined for any other. */
export const memoryInput = (input: Command.Input | undefined): Uint8Array | undefined =>
  input?._tag === "Bytes" ? input.bytes : input?._tag === "Text" ? encoder.encode(wordValue(input.text)) : undefined

export const planInput = (
  command: Command.Command,
  input: Command.Input | undefined
): [CommandExecutor.SpawnInput, Stream.Stream<Uint8Array, IoError> | undefined] => {
  if (input === undefined) return [{ _tag: "Null" }, undefined]
  switch (input._tag) {
    case "Bytes":
    case "Text":
      return [{ _tag: "Pipe" }, Stream.sync(() => memoryInput(input)!)]
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
export const counting = <E>(
  stream: Stream.Stream<Uint8Array, E>,
  count: (n: number) => void
): Stream.Stream<Uint8Array, E> =>
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
export interface CallerIo {
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
export const runCallerIo = (
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
export type Drained = { readonly bytes: Uint8Array; readonly overflow: boolean }

export const none: Drained = { bytes: empty, overflow: false }

/**
 * What takes an output's chunks one by one, lent (valid only during the call): a capture's buffer
 * (a tail, or everything up to the command's `maxOutput`), or the caller's `Output.forEach`.
 */
export interface ChunkReader {
  /** Takes a chunk; false: the rest is not wanted (past the limit, or `forEach` failed), the child is to be aborted. */
  readonly take: (bytes: Uint8Array) => boolean
  /** What was kept and whether the limit was passed; what `forEach` threw, as the run's IoError. */
  readonly end: () => Either.Either<Drained, IoError>
}

/**
 * The chunk reader of a capture or a `forEach`; undefined for any other drain. `name`: the
 * output's, for errors. `failed`: the run's `forEach` functions that failed, shared by its
 * outputs, so that a function given to both is not called again by the other.
 */
export const chunkReader = (
  command: Command.Command,
  plan: Drain,
  name: string,
  failed: Set<unknown>
): ChunkReader | undefined => {
  switch (plan._tag) {
    case "Capture": {
      const buffer = plan.tail !== undefined ? tailBuffer(plan.tail) : captureBuffer(command.maxOutput)
      let overflow = false
      return {
        take: (bytes) => !(overflow = !buffer.push(bytes)),
        end: () => Either.right({ bytes: buffer.bytes(), overflow })
      }
    }
    case "ForEach": {
      let failure: IoError | undefined
      const fail = (cause: unknown) => {
        failure ??= new IoError({ stream: name, command: describe(command), cause })
        failed.add(plan.f)
      }
      return {
        take: (bytes) => {
          if (failure !== undefined) return false
          // Given to the other output too, and failed there (whose IoError the run fails with):
          // not called again, and this output is not wanted any more either.
          if (failed.has(plan.f)) return false
          try {
            const returned: unknown = plan.f(bytes)
            if (Effect.isEffect(returned)) {
              // Nothing would run it: its work would be lost without a word.
              fail(new TypeError(`the function of Output.forEach returned an Effect: use Output.sink for effects`))
            } else if (Predicate.isPromiseLike(returned)) {
              // Nothing would wait for it, and its rejection would be unhandled.
              returned.then(undefined, () => {})
              fail(new TypeError(`the function of Output.forEach returned a promise: it must be synchronous`))
            }
          } catch (error) {
            fail(error)
          }
          return failure === undefined
        },
        end: () => failure === undefined ? Either.right(none) : Either.left(failure)
      }
    }
    default:
      return undefined
  }
}

/** One output being drained: the effect that waits for its end, and how to stop a sink that may never end. */
export interface Drainer {
  readonly done: Effect.Effect<Drained, IoError>
  readonly stop: Effect.Effect<void>
}

const drained: Drainer = { done: Effect.succeed(none), stop: Effect.void }

/** One output of the child as core reads it: its stream, and the executor's cheaper reader if it has one. */
export interface ChildOutput {
  /** How errors name it: `"stdout"`, `"stderr"`, `"stage 1 stderr"`. */
  readonly name: string
  readonly stream: Stream.Stream<Uint8Array, IoError>
  readonly collect:
    | ((onBytes: (bytes: Uint8Array) => boolean) => Effect.Effect<Effect.Effect<void, IoError>>)
    | undefined
}

/** The child's stdout or stderr (a pipeline's: its last stage's). */
export const childOutput = (spawned: CommandExecutor.SpawnedProcess, name: "stdout" | "stderr"): ChildOutput => {
  const { collect } = spawned
  return {
    name,
    stream: spawned[name],
    collect: collect === undefined ? undefined : (onBytes) => collect(name, onBytes)
  }
}

/**
 * Starts draining one output (in the current scope). A capture hands each chunk to a buffer, a
 * `forEach` to the caller's function: through the executor's `collect` where it has one (no stream, no fiber), else by running the
 * output's stream in a fiber of its own; both end soon after the child. A sink is the caller's
 * code, which may never end: it can be stopped.
 */
export const drain = (
  command: Command.Command,
  abort: Effect.Effect<unknown>,
  output: ChildOutput,
  plan: Drain,
  counted: (n: number) => void,
  failed: Set<unknown>
): Effect.Effect<Drainer, never, Scope.Scope> => {
  const { name, stream } = output
  switch (plan._tag) {
    case "None":
      return Effect.succeed(drained)
    case "Capture":
    case "ForEach":
      return Effect.flatMap(Effect.runtime<never>(), (runtime) => {
        const reader = chunkReader(command, plan, name, failed)!
        const onBytes = (bytes: Uint8Array) => {
          counted(bytes.length)
          if (reader.take(bytes)) return true
          // Past the limit, or once forEach failed, the child is killed at once: nobody will
          // read the rest, so it could block forever writing it (and never close its other output).
          Runtime.runFork(runtime)(abort)
          return false
        }
        const finish = Effect.suspend(() => reader.end())
        const collected = output.collect !== undefined
          ? output.collect(onBytes)
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
      return Effect.map(runCallerIo(command, name, run, abort), (io): Drainer => ({
        done: Effect.as(io.done, none),
        stop: io.stop
      }))
    }
  }
}
