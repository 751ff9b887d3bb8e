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

/** Attributes on a span, now (a no-op span ignores them). */
export const annotateSpan = (span: Tracer.AnySpan, attributes: Record<string, unknown>): void => {
  if (span._tag !== "Span") return
  for (const [key, value] of Object.entries(attributes)) span.attribute(key, value)
}

/**
 * Attributes on the current span, if there is one. `Effect.annotateCurrentSpan` fails (and
 * ignores) a NoSuchElementException, stack trace included, when there is none.
 */
export const annotate = (attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (parent) =>
    Effect.sync(() => {
      if (Option.isSome(parent)) annotateSpan(parent.value, attributes)
    }))

/**
 * Fails with `error` inside `span`: an error keeps the span it is first failed in, which is what
 * `Cause.pretty` shows of where it came from. Only on failure is the span made current.
 */
export const failIn = <E>(error: E, span: Tracer.Span): Effect.Effect<never, E> =>
  Effect.withParentSpan(Effect.fail(error), span)

/**
 * Every run is a span named after its program(s), with the redacted command line. It wraps the
 * whole helper, status check included, so that a run failing with `ExitError` ends it as failed.
 * The span is given to `body`, not provided to it: providing it as the parent span costs more than
 * a short run's own JavaScript, so only what starts a command (and may run the caller's streams,
 * sinks and log lines) gets it as its parent, and the errors of a run are failed in it (`failIn`).
 */
export const traced = <A, E, R>(command: Command.Command, body: (span: Tracer.Span) => Effect.Effect<A, E, R>) =>
  Effect.useSpan(spanName(command), { attributes: { "command.line": describe(command) } }, body)
