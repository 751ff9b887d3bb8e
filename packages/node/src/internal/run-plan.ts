/**
 * The Node executor's `RunPlan`: a run helper's simple command in one go. The same steps as a
 * started stage (preflight, prepare, spawn, the outputs read until their end, kill-and-reap), but
 * as plain callbacks inside one `Effect.async`, without a scope, a handle, streams or fibers: a
 * spawn of `/bin/true` then runs a fraction of the JavaScript, which is what a short-lived program
 * (not yet compiled by V8) pays for per spawn. Interrupted, it kills and reaps as a started stage does.
 */
import * as Os from "node:os"
import * as Util from "node:util"

import { CommandError, type CommandExecutor, type ExitStatus } from "@effect-command/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

import type { Engine } from "./engine.js"
import { abortChild, leadsGroup, toStatus } from "./lifecycle.js"
import { once } from "./once.js"
import { paced } from "./pace.js"
import { DrainClock } from "./pipe-reader.js"
import { clearStage, isContained, isRefusal, needsHelper } from "./preflight.js"
import { prepareNow } from "./prepare.js"
import { endedAtOnce, endStage, type Options, startChildNow, type Started } from "./stage.js"

type IO = Parameters<CommandExecutor.RunPlan>[1]

/**
 * Reads one output of the child into `onBytes` (false: stop; the child is then aborted at once,
 * since nobody reads the rest); `done` is called once, at its end: EOF, a stop, a read error, or
 * (once the child exited) `drainDelay` spent waiting for bytes a grandchild may still write.
 * Returns what stops waiting (an interrupted run's outputs are closed by its kill-and-reap).
 */
const readOutput = (
  options: Options,
  stage: CommandExecutor.SpawnStage,
  started: Started,
  fd: 1 | 2,
  onBytes: (bytes: Uint8Array) => boolean,
  done: (error?: CommandError.IoError) => void
) => {
  const { child, exit } = started
  const output = child.outputs?.get(fd)
  if (output === undefined) {
    done()
    return () => {}
  }
  const name = fd === 1 ? "stdout" : "stderr"
  const clock = new DrainClock(options.drainDelay)
  let ended = false
  const end = (error?: CommandError.IoError) => {
    if (ended) return
    ended = true
    clock.stop()
    done(error)
  }
  // Only a grandchild can hold the pipe once the child exited: wait for it within the delay.
  const idle = () => {
    if (!ended && child.exited()) clock.start(() => (output.close(), end()))
  }
  const failed = (cause: unknown) => end(new CommandError.IoError({ stream: name, command: stage.line, cause }))
  try {
    output.read((bytes) => {
      clock.stop()
      if (!onBytes(bytes)) {
        Effect.runFork(abortChild(child, exit, stage.killPolicy, leadsGroup(stage)))
        end()
        return false
      }
      idle()
      return true
    }, (errno) => {
      if (errno === 0) return end()
      failed(Object.assign(new Error(`${Util.getSystemErrorName(-errno)}: reading ${name} failed`), { errno }))
    })
  } catch (error) {
    failed(error)
  }
  child.onExit(idle)
  return () => {
    ended = true
    clock.stop()
  }
}

/**
 * Writes the child's inputs, each closed once written: every input fd's bytes, and `stdin` (fed
 * from memory) into a piped stdin. A child that closes one early is not an error: the rest is
 * dropped. A failed write of stdin, or an input the engine refuses, goes to `failed` and aborts
 * the child, as a started run's failed feeding does. Returns what stops writing: once the child exited nobody reads the rest.
 */
const writeInputs = (
  stage: CommandExecutor.SpawnStage,
  started: Started,
  stdin: Uint8Array | undefined,
  failed: (error: CommandError.IoError) => void
) => {
  const { child, exit } = started
  const inputs: Array<readonly [number, Uint8Array]> = stage.inputFds.map(({ bytes, fd }) => [fd, bytes])
  if (stdin !== undefined) inputs.push([0, stdin])
  const fail = (fd: number, cause: unknown) => {
    failed(new CommandError.IoError({ stream: fd === 0 ? "stdin" : `fd ${fd}`, command: stage.line, cause }))
    Effect.runFork(abortChild(child, exit, stage.killPolicy, leadsGroup(stage)))
  }
  for (const [fd, bytes] of inputs) {
    try {
      child.inputs?.get(fd)?.write(bytes, (errno) => {
        if (fd !== 0 || errno === 0 || errno === closedByPeer.EPIPE || errno === closedByPeer.ECONNRESET) return
        fail(fd, Object.assign(new Error(`${Util.getSystemErrorName(-errno)}: writing stdin failed`), { errno }))
      })
    } catch (error) {
      // Nothing of it was written (and its end is closed: the child would take the EOF for all of it).
      fail(fd, error)
    }
  }
  return () => inputs.forEach(([fd]) => child.inputs?.get(fd)?.close())
}

/** The errnos of a write to a child that closed its end. */
const closedByPeer = Os.constants.errno

/**
 * Runs a started child to its end (its inputs written, its outputs read, its status once reaped)
 * and calls `settle` once: with the run, or with the first failure (stdin's, then stdout's, then
 * stderr's). Returns what stops writing the inputs and waiting for the outputs.
 */
const runToEnd = (
  options: Options,
  stage: CommandExecutor.SpawnStage,
  started: Started,
  io: IO,
  settle: (outcome: CommandExecutor.PlanRun | CommandError.IoError) => void
) => {
  const { child } = started
  let pending = 3
  let status: ExitStatus.ExitStatus | undefined
  const failures: Array<CommandError.IoError | undefined> = [undefined, undefined, undefined]
  const ended = () => {
    if (--pending > 0) return
    settle(failures.find((failure) => failure !== undefined) ?? { pid: child.pid, status: status! })
  }
  const stopWriting = writeInputs(stage, started, io.stdin, (error) => (failures[0] = error))
  const stops = [
    stopWriting,
    readOutput(options, stage, started, 1, io.stdout, (error) => ((failures[1] = error), ended())),
    readOutput(options, stage, started, 2, io.stderr, (error) => ((failures[2] = error), ended()))
  ]
  child.onExit((info) => {
    status = toStatus(info)
    stopWriting()
    ended()
  })
  return () => stops.forEach((stop) => stop())
}

/**
 * A failure of the run, not yet tied to a span: core fails with it again inside the run's span,
 * which an error takes from where it is first failed with (and this effect runs outside it).
 */
const failure = (error: CommandError.CommandError) => Effect.failCause(Cause.fail(error))

/** Whether the run's end needs no effect (see `endedAtOnce`); a failed check leaves it to `endStage`. */
const endsAtOnce = (options: Options, stage: CommandExecutor.SpawnStage, started: Started) => {
  try {
    return endedAtOnce(options, stage, started)
  } catch {
    return false
  }
}

/** The run in one go: resumed once, with its kill-and-reap done; the effect returned is the interruption's. */
const runInOneGo = (
  options: Options,
  engine: Engine,
  stage: CommandExecutor.SpawnStage,
  io: IO,
  resume: (effect: Effect.Effect<CommandExecutor.PlanRun, CommandError.CommandError>) => void
) => {
  const cleared = clearStage(stage, engine, options)
  if (isRefusal(cleared)) return resume(failure(cleared))
  const prepared = prepareNow(stage, cleared.path, null, false, engine, {})
  if (prepared instanceof CommandError.SpawnError) return resume(failure(prepared))
  // The started child for an interruption's kill-and-reap; null when none started.
  const spawned = once<Started | null>()
  let interrupted = false
  let stopIo = () => {}
  startChildNow(engine, { ...prepared, spec: { ...prepared.spec, rawPipes: true } }, cleared.execFailure, (started) => {
    if (started instanceof CommandError.SpawnError) {
      spawned.done(null)
      return resume(failure(started))
    }
    spawned.done(started)
    if (interrupted) return
    stopIo = runToEnd(options, stage, started, io, (outcome) =>
      paced(() => {
        if (interrupted) return
        const settled = outcome instanceof CommandError.IoError ? failure(outcome) : Effect.succeed(outcome)
        resume(
          endsAtOnce(options, stage, started) ? settled : Effect.zipRight(endStage(options, stage, started), settled)
        )
      }))
  })
  return Effect.suspend(() => {
    interrupted = true
    stopIo()
    return Effect.flatMap(
      spawned.wait,
      (started) => started === null ? Effect.void : endStage(options, stage, started)
    )
  })
}

/**
 * The layer's `RunPlan`: with the native engine, a single command that needs neither the helper
 * nor containment (its spawn is the engine's alone). Anything else is declined, and started.
 */
export const makeRunPlan = (options: Options): CommandExecutor.RunPlan => (plan, io) => {
  const { engine } = options
  const stage = plan.stages[0]
  if (engine === null || plan.stages.length !== 1 || (stage.stdin._tag === "Pipe" && io.stdin === undefined)) {
    return undefined
  }
  if (needsHelper(stage, engine).length > 0 || isContained(stage, options)) return undefined
  return Effect.async((resume) => runInOneGo(options, engine, stage, io, resume))
}
