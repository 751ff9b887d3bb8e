/**
 * The spawn path's light Deferred (a child's exit, the helper's report, a spawn's outcome): every
 * waiter gets the first value, whenever it came, and an interrupted waiter leaves the others be.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"

import { never, once } from "../src/internal/once.js"

describe("once", () => {
  it.effect("waiters before and after it came get the first value; later ones are ignored", () =>
    Effect.gen(function*() {
      const value = once<number>()
      const early = yield* Effect.fork(value.wait)
      yield* Effect.yieldNow()
      value.done(1)
      value.done(2)
      expect(yield* Fiber.join(early)).toBe(1)
      expect(yield* value.wait).toBe(1)
    }))

  it.effect("an interrupted waiter stops waiting; the ones before and after it still get the value", () =>
    Effect.gen(function*() {
      const value = once<string>()
      const [first, second, third] = yield* Effect.all(
        [Effect.fork(value.wait), Effect.fork(value.wait), Effect.fork(value.wait)]
      )
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(second)
      value.done("exit")
      expect(yield* Fiber.join(first)).toBe("exit")
      expect(yield* Fiber.join(third)).toBe("exit")
      expect((yield* Fiber.await(second))._tag).toBe("Failure")
    }))

  it.effect("never comes, whatever is given to it", () =>
    Effect.gen(function*() {
      const nothing = never<string>()
      nothing.done("report")
      const waiting = yield* Effect.fork(nothing.wait)
      yield* Effect.yieldNow()
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
    }))
})
