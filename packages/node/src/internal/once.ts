/**
 * A value that comes once — a child's exit, the helper's report, a spawn's outcome — and the
 * effect that waits for it. A `Deferred` would do, but an Effect 3 Deferred copies the Effect
 * prototype's fields into each instance (about 2 KB), and every spawn needs three: they were a
 * sixth of what a spawn allocated.
 */
import * as Effect from "effect/Effect"

export interface Once<A> {
  /** Gives the value; only the first call counts. */
  readonly done: (value: A) => void
  /** Waits for the value; interrupted, it stops waiting (and keeps nothing). */
  readonly wait: Effect.Effect<A>
}

export const once = <A>(): Once<A> => {
  let came = false
  let value: A
  let waiters: Array<(value: A) => void> = []
  const done = (a: A) => {
    if (came) return
    came = true
    value = a
    const called = waiters
    waiters = []
    for (const waiter of called) waiter(a)
  }
  const wait = Effect.suspend(() =>
    came ? Effect.succeed(value) : Effect.async<A>((resume) => {
      const waiter = (a: A) => resume(Effect.succeed(a))
      waiters.push(waiter)
      return Effect.sync(() => {
        const at = waiters.indexOf(waiter)
        if (at >= 0) waiters.splice(at, 1)
      })
    })
  )
  return { done, wait }
}

const nothing: Once<unknown> = { done: () => {}, wait: Effect.never }

/** A `Once` that never comes, shared (its `done` does nothing): a start without the helper's report. */
export const never = <A>(): Once<A> => nothing as Once<A>
