/**
 * A sink given with `Command.Output.sink` that fails, dies, is interrupted or never consumes must
 * not hold the run: the child is aborted at once and the run fails with IoError, or, under
 * `Command.timeout`, with CommandTimeoutError within the timeout and the kill grace.
 */
import { Command, CommandError } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Sink } from "effect"

import { marker, openFdCount, withMarker, zombieChildren } from "../support/procs.js"
import { text } from "../support/run.js"

const marked = (mark: string, script: string) =>
  Command.make("/bin/sh", "-c", script).pipe(Command.envInherit, Command.env("EC_MARKER", mark))

/** `script` writing to `name`, which goes to `sink`. */
const into = (
  name: "stdout" | "stderr",
  mark: string,
  script: string,
  sink: Sink.Sink<unknown, Uint8Array, unknown, unknown>
) =>
  marked(mark, name === "stdout" ? script : `exec 1>&2; ${script}`).pipe(
    name === "stdout" ? Command.stdout(Command.Output.sink(sink)) : Command.stderr(Command.Output.sink(sink))
  )

/** Runs `effect` and returns its exit and how long it took, in ms. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const exit = yield* Effect.exit(effect)
    return { exit, took: Date.now() - started }
  })

const ioErrorOf = <A>(exit: Exit.Exit<A, CommandError.CommandError>): CommandError.IoError => {
  expect(Exit.isFailure(exit)).toBe(true)
  const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
  expect(error).toBeInstanceOf(CommandError.IoError)
  return error as CommandError.IoError
}

/** Nothing of the run is left: no marked process, no zombie, no fd. */
const nothingLeft = (mark: string, fdsBefore: number) => {
  expect(withMarker("EC_MARKER", mark)).toEqual([])
  expect(zombieChildren()).toEqual([])
  expect(openFdCount()).toBe(fdsBefore)
}

const endings: ReadonlyArray<readonly [string, Effect.Effect<never, unknown>, (cause: unknown) => void]> = [
  ["fails", Effect.fail("boom"), (cause) => expect(cause).toBe("boom")],
  ["dies", Effect.die(new Error("defect in sink")), (cause) => expect((cause as Error).message).toBe("defect in sink")],
  ["is interrupted", Effect.interrupt, (cause) => expect(cause).toBeInstanceOf(Error)]
]

for (const name of ["stdout", "stderr"] as const) {
  describe(`a ${name} sink that does not end normally`, () => {
    for (const [how, ending, checkCause] of endings) {
      it.live(`a ${name} sink that ${how} on an endless writer fails the run at once with IoError on ${name}`, () =>
        Effect.gen(function*() {
          const mark = marker()
          const fdsBefore = openFdCount()
          const { exit, took } = yield* timed(Command.run(into(name, mark, "exec yes", Sink.forEach(() => ending))))
          const error = ioErrorOf(exit)
          expect(error.stream).toBe(name)
          checkCause(error.cause)
          expect(took).toBeLessThan(3500)
          nothingLeft(mark, fdsBefore)
        }).pipe(Effect.provide(NodeCommandExecutor.layer)))
    }

    it.live(`a failing ${name} sink aborts a child that would go on for seconds, at once`, () =>
      Effect.gen(function*() {
        const mark = marker()
        const fdsBefore = openFdCount()
        const { exit, took } = yield* timed(
          Command.run(into(name, mark, "echo hi; sleep 5", Sink.forEach(() => Effect.fail("boom"))))
        )
        expect(ioErrorOf(exit).cause).toBe("boom")
        expect(took).toBeLessThan(3500)
        nothingLeft(mark, fdsBefore)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))

    it.live(`a ${name} sink that never consumes is bounded by Command.timeout`, () =>
      Effect.gen(function*() {
        const mark = marker()
        const fdsBefore = openFdCount()
        const cmd = into(name, mark, "exec yes", Sink.forEach(() => Effect.never)).pipe(Command.timeout("300 millis"))
        const { exit, took } = yield* timed(Effect.timeout(Command.run(cmd), "10 seconds"))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : exit).toBeInstanceOf(
          CommandError.CommandTimeoutError
        )
        expect(took).toBeLessThan(300 + 3000 + 1000)
        nothingLeft(mark, fdsBefore)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))

    it.live(`a ${name} sink that never finishes after the child exited is bounded by Command.timeout`, () =>
      Effect.gen(function*() {
        const mark = marker()
        const fdsBefore = openFdCount()
        const never = Sink.forEach(() => Effect.void).pipe(Sink.zipRight(Sink.fromEffect(Effect.never)))
        const cmd = into(name, mark, "echo hi", never).pipe(Command.timeout("300 millis"))
        const { exit, took } = yield* timed(Effect.timeout(Command.run(cmd), "10 seconds"))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : exit).toBeInstanceOf(
          CommandError.CommandTimeoutError
        )
        expect(took).toBeLessThan(300 + 2500)
        nothingLeft(mark, fdsBefore)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))

    it.live(`a ${name} sink that stops early lets the child finish: the rest is discarded`, () =>
      Effect.gen(function*() {
        const mark = marker()
        const cmd = into(name, mark, "head -c 8000000 /dev/zero", Sink.head()).pipe(
          Command.timeout("20 seconds")
        )
        const { exit, took } = yield* timed(Command.run(cmd))
        expect(exit._tag).toBe("Success")
        expect(took).toBeLessThan(5000)
        nothingLeft(mark, openFdCount())
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))

    it.live(`a ${name} sink that consumes everything still gets every byte`, () =>
      Effect.gen(function*() {
        const mark = marker()
        let seen = ""
        const sink = Sink.forEach((bytes: Uint8Array) => Effect.sync(() => void (seen += text(bytes))))
        yield* Command.run(into(name, mark, "echo one; echo two", sink))
        expect(seen).toBe("one\ntwo\n")
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  })
}
