/** The run helpers (`run`, `string`, `lines`, `stream`, …), each derived once from the executor's `start`. */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"

import type * as Command from "../Command.js"
import type { CommandError } from "../CommandError.js"
import { CommandUsageError, ExitError, RecordsError, SignalError } from "../CommandError.js"
import type * as CommandExecutor from "../CommandExecutor.js"
import type * as ExitStatus from "../ExitStatus.js"
import { decoder, empty } from "./buffers.js"
import { firstStage, show, spokenStdio, stagesOf } from "./command.js"
import { tailBytes } from "./drain.js"
import { startedRun } from "./executor.js"
import { update } from "./model.js"
import { failIn, spanName, traced } from "./observe.js"
import { failedStage } from "./pipefail.js"
import { describe } from "./render.js"
import { scrubbed } from "./scrub.js"
import { CommandExecutor as Tag } from "./tag.js"

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
const asked = (command: Command.Command, result: CommandExecutor.RunResult): CommandExecutor.RunResult => {
  const stages = stagesOf(command)
  return {
    status: result.status,
    stages: result.stages,
    stdout: command.stdout?._tag === "Capture" ? result.stdout : empty,
    stderr: command.stderr?._tag === "Capture" ? result.stderr : empty,
    stageStderr: result.stageStderr.map((bytes, i) => (stages[i]?.stderr?._tag === "Capture" ? bytes : empty)),
    ...(result.usage !== undefined ? { usage: result.usage } : {})
  }
}

/** The last bytes of an output as an error shows them: secrets blanked, blank lines at the start and white space at the end trimmed. */
const tailOf = (command: Command.Command, bytes: Uint8Array): string =>
  scrubbed(command, bytes, tailBytes).trimEnd().replace(/^(?:[ \t]*\r?\n)+/, "")

/**
 * What an error shows of the outputs: stderr's tail (the joined output's with `2>&1`), and
 * stdout's when the run captured it apart from stderr.
 */
const tails = (command: Command.Command, result: CommandExecutor.RunResult) => {
  const joined = command.stderr?._tag === "ToStdout"
  return {
    stderrTail: tailOf(command, joined ? result.stdout : result.stderr),
    ...(command.stdout?._tag === "Capture" && !joined ? { stdoutTail: tailOf(command, result.stdout) } : {})
  }
}

/**
 * What an error tells of a pipeline's stages: every status and stderr tail, and which stage failed
 * (nothing for a single command).
 */
const stageFacts = (command: Command.Command, result: CommandExecutor.RunResult, stderrTail: string) => {
  if (result.stages.length < 2) return {}
  const failed = failedStage(stagesOf(command), result.stages)
  return {
    stages: result.stages,
    stageStderrTails: result.stageStderr.map((bytes, i) =>
      i === result.stageStderr.length - 1 ? stderrTail : tailOf(command, bytes)
    ),
    ...(failed !== undefined ? { failedStage: failed } : {})
  }
}

const statusError = (
  command: Command.Command,
  result: CommandExecutor.RunResult
): ExitError | SignalError | undefined => {
  const { status } = result
  const outputs = tails(command, result)
  const facts = { ...outputs, command: describe(command), ...stageFacts(command, result, outputs.stderrTail) }
  if (status._tag === "Exited") {
    return status.code === 0 ? undefined : new ExitError({ exitCode: status.code, ...facts })
  }
  return new SignalError({ signal: status.signal, coreDumped: status.coreDumped, ...facts })
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
  ...stagesOf(command).slice(0, -1).flatMap((stage, i) =>
    stage.stderr?._tag === "Pipe"
      ? [`${helper} cannot read the piped stderr of stage ${i + 1}: capture it, or use start`]
      : []
  ),
  ...(stagesOf(command).some((stage) => stage.setup.handshake)
    ? [`${helper} cannot complete a handshake: use start, handshakeWait and handshakeNotify`]
    : [])
]

/** The usage error for a command whose pipes the helper cannot serve, if any. */
const unserved = (command: Command.Command, helper: string): CommandUsageError | undefined => {
  const reasons = unservedPipes(command, helper)
  return reasons.length === 0 ? undefined : new CommandUsageError({ reasons, command: describe(command) })
}

/** The whole run, in the helper's span (see `traced`). */
const runResult = (
  command: Command.Command,
  helper: string,
  span: Tracer.Span
): Effect.Effect<CommandExecutor.RunResult, CommandError, CommandExecutor.CommandExecutor> => {
  const refused = unserved(command, helper)
  if (refused !== undefined) return failIn(refused, span)
  return Effect.flatMap(
    Tag,
    (executor) => executor.run?.(command, span) ?? Effect.withParentSpan(startedRun(executor, command), span)
  )
}

const checked = (
  command: Command.Command,
  helper: string,
  span: Tracer.Span
): Effect.Effect<CommandExecutor.RunResult, CommandError, CommandExecutor.CommandExecutor> =>
  Effect.flatMap(runResult(command, helper, span), (result) => {
    const error = statusError(command, result)
    return error === undefined ? Effect.succeed(asked(command, result)) : failIn(error, span)
  })

/** @internal */
export const run = (
  command: Command.Command
): Effect.Effect<CommandExecutor.RunResult, CommandError, CommandExecutor.CommandExecutor> =>
  traced(command, (span) => checked(command, "run", span))

/** @internal */
export const status = (
  command: Command.Command
): Effect.Effect<ExitStatus.ExitStatus, CommandError, CommandExecutor.CommandExecutor> =>
  traced(command, (span) => Effect.map(runResult(command, "status", span), (result) => result.status))

/** @internal */
export const exitCode = (
  command: Command.Command
): Effect.Effect<number, CommandError, CommandExecutor.CommandExecutor> =>
  traced(
    command,
    (span) =>
      Effect.flatMap(runResult(command, "exitCode", span), (result) =>
        result.status._tag === "Exited"
          ? Effect.succeed(result.status.code)
          : failIn(statusError(command, result)!, span))
  )

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
        reasons: [`${helper} reads stdout, but stdout is set to ${spokenStdio(command.stdout, "Output")}`],
        command: describe(command)
      })
    )

const captureStdout = (
  command: Command.Command,
  helper: string
): Effect.Effect<Uint8Array, CommandError, CommandExecutor.CommandExecutor> =>
  traced(command, (span) =>
    Effect.flatMap(
      takeStdout(command, helper, { _tag: "Capture" }),
      (cmd) => Effect.map(checked(cmd, helper, span), (r) => r.stdout)
    ))

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
  options?: { readonly separator?: string; readonly columns?: number; readonly strict?: boolean }
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
  return Effect.flatMap(captureStdout(command, "records"), (stdout) => {
    const text = decode(stdout, undefined)
    const tokens = text.length === 0 ? [] : text.split(separator)
    if (tokens[tokens.length - 1] === "") tokens.pop()
    const out: Array<Array<string>> = []
    for (let i = 0; i < tokens.length; i += columns) out.push(tokens.slice(i, i + columns))
    const short = tokens.length % columns
    return options?.strict === true && short !== 0
      ? Effect.fail(new RecordsError({ columns, fields: short, records: out.length - 1, command: describe(command) }))
      : Effect.succeed(out)
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
    const refused = unserved(update(cmd, { stdout: undefined }), "stream")
    if (refused !== undefined) return yield* Effect.fail(refused)
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
