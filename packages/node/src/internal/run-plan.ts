/**
 * The Node executor's `RunPlan`: a run helper's simple command in one go. The same steps as a
 * started stage (preflight, prepare, spawn, the outputs read until their end, kill-and-reap), but
 * without a scope, a handle, streams or fibers: a spawn of `/bin/true` then runs a fraction of the
 * JavaScript, which is what a short-lived program (not yet compiled by V8) pays for per spawn.
 */
import type { Readable } from "node:stream"
import * as Util from "node:util"

import { CommandError, type CommandExecutor } from "@effect-command/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"

import { abortChild, leadsGroup } from "./lifecycle.js"
import { paced } from "./pace.js"
import { DrainClock, pipeReader } from "./pipe-reader.js"
import { isContained, needsHelper, preflight } from "./preflight.js"
import { prepare } from "./prepare.js"
import type { RawOutput } from "./spawn.js"
import { endStage, type Options, startChild, type Started, writeInputFds } from "./stage.js"

/**
 * Reads an output the engine reads itself into `take` (false: stop); the effect it returns waits
 * for its end: EOF, a stop, or (once the child exited) `drainDelay` spent waiting for bytes.
 */
const collectRaw = (
  options: Options,
  stage: CommandExecutor.SpawnStage,
  child: Started["child"],
  output: RawOutput,
  name: "stdout" | "stderr",
  take: (bytes: Uint8Array) => boolean
) =>
  Effect.sync(() => {
    const clock = new DrainClock(options.drainDelay)
    let outcome: Effect.Effect<void, CommandError.IoError> | undefined
    let waiter: ((outcome: Effect.Effect<void, CommandError.IoError>) => void) | undefined
    const finish = (result: Effect.Effect<void, CommandError.IoError>) => {
      if (outcome !== undefined) return
      outcome = result
      clock.stop()
      paced(() => waiter?.(result))
    }
    // Only a grandchild can hold the pipe once the child exited: wait for it within the delay.
    const idle = () => {
      if (outcome === undefined && child.exited()) clock.start(() => (output.close(), finish(Effect.void)))
    }
    const failed = (cause: unknown) =>
      finish(Effect.fail(new CommandError.IoError({ stream: name, command: stage.line, cause })))
    try {
      output.read((bytes) => {
        clock.stop()
        if (!take(bytes)) {
          finish(Effect.void)
          return false
        }
        idle()
        return true
      }, (errno) => {
        if (errno === 0) return finish(Effect.void)
        failed(Object.assign(new Error(`${Util.getSystemErrorName(-errno)}: reading ${name} failed`), { errno }))
      })
    } catch (error) {
      failed(error)
    }
    child.onExit(idle)
    return Effect.async<void, CommandError.IoError>((resume) => {
      if (outcome !== undefined) return resume(outcome)
      waiter = resume
      return Effect.sync(() => void (waiter = undefined))
    })
  })

/** Reads one output of the child into `onBytes`; past its limit the child is aborted at once. */
const collected = (
  options: Options,
  stage: CommandExecutor.SpawnStage,
  started: Started,
  fd: 1 | 2,
  name: "stdout" | "stderr",
  onBytes: (bytes: Uint8Array) => boolean
) => {
  const { child, exit, prepared } = started
  const take = (bytes: Uint8Array) => {
    if (onBytes(bytes)) return true
    // Nobody reads the rest: the child could block for ever writing it.
    Effect.runFork(abortChild(child, exit, stage.killPolicy, leadsGroup(stage)))
    return false
  }
  const raw = child.outputs?.get(fd)
  if (raw !== undefined) return collectRaw(options, stage, child, raw, name, take)
  // A `2>&1` into a pipe is one socket pair, read as stdout.
  const pipe = prepared.joined !== undefined
    ? (fd === 1 ? prepared.joined : undefined)
    : (child.pipes.get(fd) as Readable | undefined)
  return pipe === undefined
    ? Effect.succeed(Effect.void)
    : pipeReader(pipe, name, stage.line, child, options.drainDelay).collect(take)
}

/** Runs a started child to its end: its outputs read, its status once reaped. */
const runToEnd = (
  options: Options,
  stage: CommandExecutor.SpawnStage,
  started: Started,
  collect: Parameters<CommandExecutor.RunPlan>[1]
) =>
  Effect.gen(function*() {
    const { child } = started
    writeInputFds(stage, started)
    const outEnd = yield* collected(options, stage, started, 1, "stdout", collect.stdout)
    const errEnd = yield* collected(options, stage, started, 2, "stderr", collect.stderr)
    const status = yield* Deferred.await(started.exit)
    // As a started run settles: the status first, then each output's end, the first failure kept.
    const outRead = yield* Effect.either(outEnd)
    const errRead = yield* Effect.either(errEnd)
    if (Either.isLeft(outRead)) return yield* Effect.fail(outRead.left)
    if (Either.isLeft(errRead)) return yield* Effect.fail(errRead.left)
    return { pid: child.pid, status } satisfies CommandExecutor.PlanRun
  })

/**
 * The layer's `RunPlan`: with the native engine, a single command that needs neither the helper
 * nor containment (its spawn is the engine's alone). Anything else is declined, and started.
 */
export const makeRunPlan = (options: Options): CommandExecutor.RunPlan => (plan, collect) => {
  const { engine } = options
  const stage = plan.stages[0]
  if (engine === null || plan.stages.length !== 1 || stage.stdin._tag === "Pipe") return undefined
  if (needsHelper(stage, engine).length > 0 || isContained(stage, options)) return undefined
  return Effect.flatMap(preflight(stage, engine, options), (cleared) =>
    Effect.acquireUseRelease(
      Effect.flatMap(prepare(stage, cleared.path, null, false, engine, {}), (prepared) =>
        startChild(engine, { ...prepared, spec: { ...prepared.spec, rawOutputs: true } }, cleared.execFailure)),
      (started) =>
        runToEnd(options, stage, started, collect),
      (started) =>
        endStage(options, stage, started)
    ))
}
