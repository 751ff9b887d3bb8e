/** The Node executor's `Spawn` primitive: a plan's single stage, or its pipeline. */
import type { CommandExecutor } from "@effect-command/core"
import * as Effect from "effect/Effect"

import { spawnPipeline } from "./pipeline.js"
import { type Options, spawnStage } from "./stage.js"

export type { Options } from "./stage.js"

export const makeSpawn = (options: Options): CommandExecutor.Spawn => (plan) =>
  plan.stages.length === 1
    ? Effect.map(spawnStage(options, plan.stages[0], {}, false), (stage) => stage.process)
    : spawnPipeline(options, plan)
