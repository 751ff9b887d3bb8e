/**
 * The Node executor's layer options, checked when the layer is built. A layer cannot fail without
 * putting an error in every user's layer type, so options that make no sense make every command
 * fail instead, before anything runs, with a CommandUsageError that names the option.
 */
import { CommandError, CommandExecutor } from "@effect-command/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

import type { Options } from "../NodeCommandExecutor.js"
import { engineUnavailableReason, loadEngine } from "./engine.js"
import { findHelper } from "./helper.js"
import { makeSpawn } from "./primitive.js"
import { makeRunPlan } from "./run-plan.js"

/**
 * A duration, or undefined for what is not one. `Duration.decode` turns NaN and negative input into
 * zero, which would be a silent "do not wait at all": refused here.
 */
export const decodeDuration = (input: unknown): Duration.Duration | undefined => {
  const negative = typeof input === "number"
    ? !(input >= 0)
    : typeof input === "bigint"
    ? input < 0n
    : typeof input === "string"
    ? input.trimStart().startsWith("-")
    : Array.isArray(input) && !input.every((n) => typeof n === "number" && n >= 0)
  return negative ? undefined : Option.getOrUndefined(Duration.decodeUnknown(input))
}

const show = (value: unknown): string => (typeof value === "string" ? JSON.stringify(value) : String(value))

/** `"native"` or `"child_process"` as the options and `EFFECT_COMMAND_SPAWN` say. */
export const engineOf = (options: Options) =>
  options.engine === "child_process" || process.env.EFFECT_COMMAND_SPAWN === "child_process" ? null : loadEngine()

/** What is wrong with the options, one sentence each. */
const problems = (options: Options): Array<string> => {
  const found: Array<string> = []
  if (options.drainDelay !== undefined && decodeDuration(options.drainDelay) === undefined) {
    found.push(`the layer option drainDelay must be a duration of zero or more, not ${show(options.drainDelay)}`)
  }
  if (options.engine !== undefined && options.engine !== "auto" && options.engine !== "child_process") {
    found.push(`the layer option engine must be "auto" or "child_process", not ${show(options.engine)}`)
  }
  if (options.contain !== undefined && typeof options.contain !== "boolean") {
    found.push(`the layer option contain must be true or false, not ${show(options.contain)}`)
  }
  if (options.helper !== undefined && (typeof options.helper !== "string" || options.helper === "")) {
    found.push(`the layer option helper must be "auto", "never" or a path, not ${show(options.helper)}`)
  }
  return found
}

/**
 * The executor for these options: the engine loaded and the helper looked for now. `onSpawned`
 * sees every child it spawns, as its primitive returned it (the SSH executor reads its clients'
 * outputs from there).
 */
export const executorFor = (
  options: Options,
  onSpawned?: (plan: CommandExecutor.SpawnPlan, spawned: CommandExecutor.SpawnedProcess) => void
): CommandExecutor.CommandExecutor => {
  const reasons = problems(options)
  if (reasons.length > 0) {
    return CommandExecutor.make((plan) =>
      Effect.fail(new CommandError.CommandUsageError({ reasons, command: plan.line }))
    )
  }
  const helper = findHelper(options.helper ?? "auto")
  const resolved = {
    engine: engineOf(options),
    drainDelay: decodeDuration(options.drainDelay ?? "1 second")!,
    helper: helper.path,
    helperMissing: helper.missing,
    contain: options.contain ?? false
  }
  const spawn = makeSpawn(resolved)
  return CommandExecutor.make(
    onSpawned === undefined ? spawn : (plan) => Effect.tap(spawn(plan), (spawned) => onSpawned(plan, spawned)),
    makeRunPlan(resolved)
  )
}

let warned = false

/**
 * Once per process, a warning that the native engine was asked for (`engine: "auto"`) and does not
 * load here, with why: the commands then run on node:child_process, which needs the helper for
 * more settings and forks the whole parent.
 */
export const warnIfEngineUnavailable = (options: Options): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (warned || engineOf(options) !== null || options.engine === "child_process") return Effect.void
    if (process.env.EFFECT_COMMAND_SPAWN === "child_process") return Effect.void
    warned = true
    return Effect.logWarning(
      `effect-command: the native spawn engine is not used (${engineUnavailableReason()}); ` +
        "children are spawned with node:child_process"
    )
  })
