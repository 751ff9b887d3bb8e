import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * The longest delay one timer takes. Effect's Clock treats a longer sleep as infinite (it never
 * wakes) and Node's `setTimeout` fires it after 1 ms.
 */
const longestTimer = 2 ** 31 - 1

/**
 * `Effect.sleep` on the fiber's Clock that honours any finite duration, however long, by sleeping
 * in steps no timer refuses; each step measures what is left, so a TestClock moved past the end
 * wakes it. An infinite duration never ends.
 */
export const sleep = (duration: Duration.DurationInput): Effect.Effect<void> => {
  const millis = Duration.toMillis(duration)
  if (millis <= longestTimer) return Effect.sleep(duration)
  if (millis === Infinity) return Effect.never
  const until = (deadline: number): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const left = deadline - now
      if (left <= 0) return Effect.void
      return left <= longestTimer
        ? Effect.sleep(Duration.millis(left))
        : Effect.zipRight(Effect.sleep(Duration.millis(longestTimer)), Effect.suspend(() => until(deadline)))
    })
  return Effect.flatMap(Clock.currentTimeMillis, (now) => until(now + millis))
}
