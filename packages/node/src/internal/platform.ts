/**
 * @effect/platform's `CommandExecutor` on our engine: platform `Command` values are translated to
 * ours, run by an `@effect-command/core` executor, and our processes are presented as platform
 * `Process` values. Loaded lazily by PlatformCommandExecutor.ts, so that `@effect/platform` stays an
 * optional peer dependency.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Util from "node:util"

import type { CommandError, ExitStatus } from "@effect-command/core"
import { Command, CommandExecutor, Signal } from "@effect-command/core"
import * as PlatformCommand from "@effect/platform/Command"
import * as PlatformExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError, SystemErrorReason } from "@effect/platform/Error"
import { BadArgument, isPlatformError, SystemError } from "@effect/platform/Error"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"

import * as NodeCommandExecutor from "../NodeCommandExecutor.js"
import type { KillOptions, Options } from "../PlatformCommandExecutor.js"
import * as RealTime from "./realtime.js"

/**
 * How platform processes are stopped, as given: they become each command's `Command.killSignal`
 * and `killGrace`, which refuse (with a CommandUsageError at start) what is not a signal or a grace.
 */
interface Policy {
  readonly grace: Duration.DurationInput
  readonly signal: Signal.Signal
}

const policyOf = (options: KillOptions): Policy => ({
  grace: options.killGrace ?? "3 seconds",
  signal: options.killSignal ?? "SIGTERM"
})

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/** The stock executor's `pathOrDescriptor`: `cmd a b | cmd2 c`, unquoted. */
const describe = (command: PlatformCommand.Command): string =>
  PlatformCommand.flatten(command).map((stage) => `${stage.command} ${stage.args.join(" ")}`).join(" | ")

/** handleErrnoException's table in @effect/platform-node-shared. */
const errnoReasons: Record<string, SystemErrorReason> = {
  ENOENT: "NotFound",
  EACCES: "PermissionDenied",
  EEXIST: "AlreadyExists",
  EISDIR: "BadResource",
  ENOTDIR: "BadResource",
  EBUSY: "Busy",
  ELOOP: "BadResource"
}

const spawnReasons: Partial<Record<CommandError.SpawnErrorReason, SystemErrorReason>> = {
  NotFound: "NotFound",
  PermissionDenied: "PermissionDenied",
  NotExecutable: "PermissionDenied",
  BadWorkingDirectory: "NotFound"
}

/** Node's text for an errno name: "no such file or directory" for ENOENT. */
const errnoText = (code: string): string => {
  const number = (Os.constants.errno as Record<string, number | undefined>)[code]
  return (number !== undefined ? Util.getSystemErrorMap().get(-number)?.[1] : undefined) ?? code
}

/**
 * A spawn failure as the stock executor reports it. It checks the working directory first, with
 * `FileSystem.access`: a directory that check refuses is that check's error. Otherwise it is
 * Node's spawn error: `syscall: "spawn <program>"`, `description: "spawn <program> ENOENT"`.
 */
const spawnFailure = (error: CommandError.SpawnError, line: string, stage: PlatformCommand.StandardCommand) => {
  if (error.reason === "BadWorkingDirectory" && Option.isSome(stage.cwd)) {
    const dir = stage.cwd.value
    try {
      Fs.accessSync(dir)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "ENOENT"
      return new SystemError({
        reason: errnoReasons[code] ?? "Unknown",
        module: "FileSystem",
        method: "access",
        pathOrDescriptor: dir,
        syscall: "access",
        description: `${code}: ${errnoText(code)}, access '${dir}'`,
        cause: error
      })
    }
  }
  const code = error.errno ??
    (error.reason === "NotFound" || error.reason === "BadWorkingDirectory" ? "ENOENT" : "EACCES")
  return new SystemError({
    reason: errnoReasons[code] ?? spawnReasons[error.reason] ?? "Unknown",
    module: "Command",
    method: "spawn",
    pathOrDescriptor: line,
    syscall: `spawn ${stage.command}`,
    description: `spawn ${stage.command} ${code}`,
    cause: error
  })
}

/** Our error as the platform error the stock executor gives in the same situation. */
const toPlatformError = (
  error: CommandError.CommandError,
  method: string,
  line: string,
  stage?: PlatformCommand.StandardCommand
): PlatformError => {
  switch (error._tag) {
    case "CommandUsageError":
      return new BadArgument({ module: "Command", method, description: error.reasons.join("; "), cause: error })
    case "SpawnError": {
      if (stage !== undefined) return spawnFailure(error, line, stage)
      const reason = (error.errno !== undefined ? errnoReasons[error.errno] : undefined) ??
        spawnReasons[error.reason] ??
        "Unknown"
      return new SystemError({
        reason,
        module: "Command",
        method,
        pathOrDescriptor: line,
        ...(error.stage !== undefined ? { syscall: error.stage } : {}),
        description: error.message,
        cause: error
      })
    }
    case "IoError":
      // A failure of the caller's own stdin stream comes back as it was.
      if (isPlatformError(error.cause)) return error.cause
      return new SystemError({
        reason: "Unknown",
        module: "Command",
        method: error.stream === "stdin" ? "toWritable" : `fromReadable(${error.stream})`,
        pathOrDescriptor: line,
        description: error.message,
        cause: error
      })
    default:
      return new SystemError({
        reason: "Unknown",
        module: "Command",
        method,
        pathOrDescriptor: line,
        description: error.message,
        cause: error
      })
  }
}

const signalAliases: Record<string, Signal.Signal> = { SIGIOT: "SIGABRT", SIGPOLL: "SIGIO", SIGUNUSED: "SIGSYS" }

const toSignal = (signal: PlatformExecutor.Signal): Signal.Signal | undefined =>
  Signal.isSignal(signal) ? signal : signalAliases[signal]

// ---------------------------------------------------------------------------------------------
// translation
// ---------------------------------------------------------------------------------------------

/** Node's `shell` option: `[file, ...args].join(" ")` run by `/bin/sh -c` (or the given shell). */
const argvOf = (stage: PlatformCommand.StandardCommand): readonly [string, ReadonlyArray<string>] =>
  stage.shell === false
    ? [stage.command, stage.args]
    : [stage.shell === true ? "/bin/sh" : stage.shell, ["-c", [stage.command, ...stage.args].join(" ")]]

const toOutput = (output: PlatformCommand.Command.Output): Command.Output =>
  output === "inherit" ? Command.Output.inherit : Command.Output.pipe

const toCommand = (
  stage: PlatformCommand.StandardCommand,
  stdio: { readonly stdin: Command.Input; readonly stdout: Command.Output; readonly stderr: Command.Output },
  policy: Policy
): Command.Command => {
  const [program, args] = argvOf(stage)
  let command = Command.make(program, ...args)
  // Platform default (extendEnv: true): the parent's environment with the overrides on top.
  command = stage.extendEnv ? Command.envInherit(command) : Command.envClear(command)
  for (const [name, value] of stage.env) command = Command.env(command, name, value)
  if (Option.isSome(stage.cwd)) command = Command.workingDirectory(command, stage.cwd.value)
  return command.pipe(
    Command.stdin(stdio.stdin),
    Command.stdout(stdio.stdout),
    Command.stderr(stdio.stderr),
    Command.killSignal(policy.signal),
    Command.killGrace(policy.grace)
  )
}

// ---------------------------------------------------------------------------------------------
// processes
// ---------------------------------------------------------------------------------------------

const ProcessProto = {
  [PlatformExecutor.ProcessTypeId]: PlatformExecutor.ProcessTypeId,
  ...Inspectable.BaseProto,
  toJSON(this: PlatformExecutor.Process) {
    return { _id: "@effect/platform/CommandExecutor/Process", pid: this.pid }
  }
}

/** Signal, then up to the grace for the exit, then SIGKILL; returns once the child was reaped. */
const killStage = (process: CommandExecutor.Process, signal: Signal.Signal, grace: Duration.DurationInput) =>
  Effect.gen(function*() {
    yield* process.kill(signal)
    if (signal !== "SIGKILL" && Option.isNone(yield* RealTime.timeoutOption(process.wait, grace))) {
      yield* process.kill("SIGKILL")
    }
    yield* process.wait
  })

const exitCodeOf = (
  status: ExitStatus.ExitStatus,
  line: string
): Effect.Effect<PlatformExecutor.ExitCode, PlatformError> =>
  status._tag === "Exited"
    ? Effect.succeed(PlatformExecutor.ExitCode(status.code))
    : Effect.fail(
      new SystemError({
        reason: "Unknown",
        module: "Command",
        method: "exitCode",
        pathOrDescriptor: line,
        description: `Process interrupted due to receipt of signal: ${status.signal}`,
        cause: new Error(`Process interrupted due to receipt of signal: ${status.signal}`)
      })
    )

/**
 * Starts a platform command. `helper`: started by a run helper, which owns the I/O: a stdin left as
 * `"pipe"` can never be written, so it is closed (EOF) instead of left open forever.
 */
const startWith = (
  engine: CommandExecutor.CommandExecutor,
  policy: Policy,
  helper: boolean
) =>
(command: PlatformCommand.Command): Effect.Effect<PlatformExecutor.Process, PlatformError, Scope.Scope> =>
  Effect.gen(function*() {
    const line = describe(command)
    const stages = PlatformCommand.flatten(command)
    const started: Array<CommandExecutor.Process> = []
    let running = true
    const stopped = Effect.sync(() => (running = false))
    // Registered before the children, so it runs after their finalizers reaped them: once the
    // scope is closed, `isRunning` is false at once, not when a background fiber gets to it.
    yield* Effect.addFinalizer(() => stopped)
    let upstream: Stream.Stream<Uint8Array, CommandError.IoError> | undefined
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i]!
      const last = i === stages.length - 1
      const stdin: Command.Input = upstream !== undefined
        ? Command.Input.stream(upstream)
        : stage.stdin === "inherit"
        ? Command.Input.inherit
        : stage.stdin === "pipe"
        ? helper ? Command.Input.stream(Stream.empty) : Command.Input.pipe
        : Command.Input.stream(stage.stdin)
      // Earlier stages: stdout feeds the next stage; nobody could read a piped stderr, so it goes
      // to /dev/null rather than filling up and blocking the stage.
      const stdout = last ? toOutput(stage.stdout) : Command.Output.pipe
      const stderr = last
        ? toOutput(stage.stderr)
        : stage.stderr === "inherit"
        ? Command.Output.inherit
        : Command.Output.null
      const process = yield* engine.start(toCommand(stage, { stdin, stdout, stderr }, policy)).pipe(
        Effect.mapError((error) => toPlatformError(error, "spawn", line, stage))
      )
      started.push(process)
      upstream = process.stdout
    }
    const first = started[0]!
    const lastProcess = started[started.length - 1]!
    const lastStage = stages[stages.length - 1]!

    // Our `wait` always completes: the scope's finalizer reaps the child.
    yield* Effect.forkDaemon(Effect.zipRight(lastProcess.wait, stopped))

    const output = (
      stream: Stream.Stream<Uint8Array, CommandError.IoError>,
      config: PlatformCommand.Command.Output
    ) => {
      const mapped = Stream.mapError(stream, (error) => toPlatformError(error, "spawn", line))
      return typeof config === "string" ? mapped : Stream.transduce(mapped, config)
    }
    const stdin: Sink.Sink<void, Uint8Array, never, PlatformError> = stages[0]!.stdin === "pipe" && !helper
      ? Sink.mapError(first.stdin, (error) => toPlatformError(error, "toWritable", line))
      : Sink.drain
    const process: PlatformExecutor.Process = Object.assign(Object.create(ProcessProto), {
      pid: PlatformExecutor.ProcessId(lastProcess.pid),
      exitCode: Effect.flatMap(
        Effect.mapError(
          Effect.tap(lastProcess.wait, () => stopped),
          (error) => toPlatformError(error, "exitCode", line)
        ),
        (status) => exitCodeOf(status, line)
      ),
      isRunning: Effect.sync(() => running),
      kill: (signal: PlatformExecutor.Signal = "SIGTERM") => {
        const ours = toSignal(signal)
        if (ours === undefined) {
          return Effect.fail(
            new BadArgument({ module: "Command", method: "kill", description: `${signal} is not a Linux signal` })
          )
        }
        return Effect.forEach(started, (p) => killStage(p, ours, policy.grace), {
          concurrency: "unbounded",
          discard: true
        }).pipe(Effect.mapError((error) => toPlatformError(error, "kill", line)))
      },
      stdin,
      stdout: output(lastProcess.stdout, lastStage.stdout),
      stderr: output(lastProcess.stderr, lastStage.stderr)
    })
    return process
  })

// ---------------------------------------------------------------------------------------------
// the executor
// ---------------------------------------------------------------------------------------------

/** Reads a stream to its end in the background of the current scope, ignoring what it gives. */
const drainInBackground = (stream: Stream.Stream<unknown, unknown>) =>
  Effect.forkScoped(Effect.ignore(Stream.runDrain(stream)))

/** A platform `CommandExecutor` running commands with our executor. */
export const make = (
  engine: CommandExecutor.CommandExecutor,
  options: KillOptions = {}
): PlatformExecutor.CommandExecutor => {
  const policy = policyOf(options)
  const base = PlatformExecutor.makeExecutor(startWith(engine, policy, false))
  const startOwned = startWith(engine, policy, true)
  // The helpers read every pipe they do not return, so a chatty child never blocks on a full pipe.
  const stream: PlatformExecutor.CommandExecutor["stream"] = (command) =>
    Stream.unwrapScoped(
      Effect.map(Effect.tap(startOwned(command), (process) => drainInBackground(process.stderr)), (p) => p.stdout)
    )
  const streamLines: PlatformExecutor.CommandExecutor["streamLines"] = (command, encoding) =>
    Stream.splitLines(Stream.decodeText(stream(command), encoding))
  return {
    ...base,
    exitCode: (command) =>
      Effect.scoped(Effect.gen(function*() {
        const process = yield* startOwned(command)
        yield* drainInBackground(process.stdout)
        yield* drainInBackground(process.stderr)
        return yield* process.exitCode
      })),
    string: (command, encoding = "utf-8") =>
      Effect.scoped(Effect.gen(function*() {
        const decoder = new TextDecoder(encoding)
        const process = yield* startOwned(command)
        yield* drainInBackground(process.stderr)
        return decoder.decode(Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(process.stdout))))
      })),
    lines: (command, encoding = "utf-8") =>
      Effect.map(Stream.runCollect(streamLines(command, encoding)), Chunk.toArray),
    stream,
    streamLines
  }
}

/** Our executor, whatever it is, as the platform one. */
export const layerFromExecutor = (
  options: KillOptions = {}
): Layer.Layer<PlatformExecutor.CommandExecutor, never, CommandExecutor.CommandExecutor> =>
  Layer.effect(
    PlatformExecutor.CommandExecutor,
    Effect.map(CommandExecutor.CommandExecutor, (engine) => make(engine, options))
  )

/** The platform executor on a fresh Node executor, which takes the options it knows. */
export const layerWith = (options: Options = {}): Layer.Layer<PlatformExecutor.CommandExecutor> =>
  layerFromExecutor(options).pipe(Layer.provide(NodeCommandExecutor.layerWith(options)))
