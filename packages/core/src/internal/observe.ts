/** What a run tells logs and traces: debug lines built only when they are shown, span names and attributes. */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

import type * as Command from "../Command.js"
import { stagesOf } from "./command.js"
import { describe } from "./render.js"

/** Whether debug lines are logged at all (the minimum log level lets them through). */
export const debugEnabled: Effect.Effect<boolean> = Effect.map(
  FiberRef.get(FiberRef.currentMinimumLogLevel),
  (minimum) => !LogLevel.greaterThan(minimum, LogLevel.Debug)
)

/** A debug line whose text (decoding and scrubbing output) is only built when debug logs are on. */
export const logDebugLazily = (message: () => string): Effect.Effect<void> =>
  Effect.flatMap(debugEnabled, (on) => (on ? Effect.logDebug(message()) : Effect.void))

export const spanName = (command: Command.Command): string =>
  stagesOf(command).map((stage) => stage.program.slice(stage.program.lastIndexOf("/") + 1)).join(" | ")

/**
 * Attributes on the current span, if there is one. `Effect.annotateCurrentSpan` fails (and
 * ignores) a NoSuchElementException, stack trace included, when there is none.
 */
export const annotate = (attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (parent) =>
    Effect.sync(() => {
      if (Option.isNone(parent) || parent.value._tag !== "Span") return
      for (const [key, value] of Object.entries(attributes)) parent.value.attribute(key, value)
    }))

/**
 * Every run is a span named after its program(s), with the redacted command line. It wraps the
 * whole helper, status check included, so that a run failing with `ExitError` ends it as failed.
 */
export const traced = (command: Command.Command) =>
  Effect.withSpan(spanName(command), { attributes: { "command.line": describe(command) } })
