/**
 * Waits of the kill-and-reap policy, in real time. They must not follow the fiber's Clock: under a
 * TestClock (`it.effect`) a grace period would never end, and a scope's close would hang forever.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** Sleeps `duration` of wall-clock time. */
export const sleep = (duration: Duration.DurationInput): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), Duration.toMillis(duration))
    return Effect.sync(() => clearTimeout(timer))
  })

/** `effect`'s result if it comes within `duration` of wall-clock time, else none (it is interrupted). */
export const timeoutOption = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  duration: Duration.DurationInput
): Effect.Effect<Option.Option<A>, E, R> =>
  // The timer interruptible even in an uninterruptible region (an abort): when `effect` wins, it
  // must not keep the race waiting for the whole duration.
  Effect.raceFirst(Effect.asSome(effect), Effect.as(Effect.interruptible(sleep(duration)), Option.none()))
