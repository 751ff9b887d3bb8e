/**
 * Waits of the kill-and-reap policy, in real time. They must not follow the fiber's Clock: under a
 * TestClock (`it.effect`) a grace period would never end, and a scope's close would hang forever.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** The longest delay `setTimeout` takes: a longer one fires after 1 ms (TimeoutOverflowWarning). */
const longestTimer = 2 ** 31 - 1

/**
 * Calls `callback` once, `millis` from now, however long that is: a delay past what one
 * `setTimeout` takes is waited for in steps; `Infinity` never fires. Returns the canceller.
 */
export const setTimer = (callback: () => void, millis: number): () => void => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = Date.now() + millis
  const arm = (left: number) => {
    if (left === Infinity) return
    timer = setTimeout(() => {
      const rest = deadline - Date.now()
      if (rest > 0 && left > longestTimer) arm(rest)
      else callback()
    }, Math.min(Math.max(0, left), longestTimer))
  }
  arm(millis)
  return () => clearTimeout(timer)
}

/** Sleeps `duration` of wall-clock time (`Duration.infinity`: forever). */
export const sleep = (duration: Duration.DurationInput): Effect.Effect<void> =>
  Effect.async<void>((resume) => Effect.sync(setTimer(() => resume(Effect.void), Duration.toMillis(duration))))

/** `effect`'s result if it comes within `duration` of wall-clock time, else none (it is interrupted). */
export const timeoutOption = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  duration: Duration.DurationInput
): Effect.Effect<Option.Option<A>, E, R> =>
  // The timer interruptible even in an uninterruptible region (an abort): when `effect` wins, it
  // must not keep the race waiting for the whole duration.
  Effect.raceFirst(Effect.asSome(effect), Effect.as(Effect.interruptible(sleep(duration)), Option.none()))
