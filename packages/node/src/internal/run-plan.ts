/**
 * The Node executor's `RunPlan`: a run helper's simple command in one go. The same steps as a
 * started stage (preflight, prepare, spawn, the outputs read until their end, kill-and-reap), but
 * without a scope, a handle, streams or fibers: a spawn of `/bin/true` then runs a fraction of the
 * JavaScript, which is what a short-lived program (not yet compiled by V8) pays for per spawn.
 */
import type { Readable } from "node:stream"

import type { CommandExecutor } from "@effect-command/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"

import { abortChild, leadsGroup } from "./lifecycle.js"
import { pipeReader } from "./pipe-reader.js"
import { isContained, needsHelper, preflight } from "./preflight.js"
import { prepare } from "./prepare.js"
import { endStage, type Options, startChild, type Started, writeInputFds } from "./stage.js"

/** Reads one output of the child into `onBytes`; past its limit the child is aborted at once. */
const collected = (
  options: Options,
  stage: CommandExecutor.SpawnStage,
  started: Started,
  pipe: Readable | undefined,
  name: "stdout" | "stderr",
  onBytes: (bytes: Uint8Array) => boolean
) => {
  if (pipe === undefined) return Effect.succeed(Effect.void)
  const { child, exit } = started
  return pipeReader(pipe, name, stage.line, child, options.drainDelay).collect((bytes) => {
    if (onBytes(bytes)) return true
    // Nobody reads the rest: the child could block for ever writing it.
    Effect.runFork(abortChild(child, exit, stage.killPolicy, leadsGroup(stage)))
    return false
  })
}

/** Runs a started child to its end: its outputs read, its status once reaped. */
const runToEnd = (
  options: Options,
  stage: CommandExecutor.SpawnStage,
  started: Started,
  collect: Parameters<CommandExecutor.RunPlan>[1]
) =>
  Effect.gen(function*() {
    const { child, prepared } = started
    writeInputFds(stage, started)
    const stdout = prepared.joined ?? (child.pipes.get(1) as Readable | undefined)
    const stderr = prepared.joined !== undefined ? undefined : (child.pipes.get(2) as Readable | undefined)
    const outEnd = yield* collected(options, stage, started, stdout, "stdout", collect.stdout)
    const errEnd = yield* collected(options, stage, started, stderr, "stderr", collect.stderr)
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
        startChild(engine, prepared, cleared.execFailure)),
      (started) =>
        runToEnd(options, stage, started, collect),
      (started) => endStage(options, stage, started)
    ))
}
