/**
 * The spawn workloads' loops for the Effect-based contenders, shared by contenders.ts and the cold
 * program (cold.ts). It imports only `effect/Effect`.
 */
import * as Effect from "effect/Effect"

/** An exit code that must be 0. */
export const exitZero = <E, R>(exitCode: Effect.Effect<number, E, R>): Effect.Effect<void, E, R> =>
  Effect.flatMap(exitCode, (code) => code === 0 ? Effect.void : Effect.die(code))

/** `effect`, `n` times, one after the other. */
export const sequential = <E, R>(effect: Effect.Effect<unknown, E, R>, n: number): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* effect
  })

/** `effect`, `n` times, at most `concurrency` at once. */
export const parallel = <E, R>(
  effect: Effect.Effect<unknown, E, R>,
  n: number,
  concurrency: number
): Effect.Effect<void, E, R> => Effect.forEach(Array.from({ length: n }), () => effect, { concurrency, discard: true })
