/**
 * An input stream that does not end normally (it fails, dies or is interrupted) must not look
 * like a complete input: the run fails and the child is killed without ever seeing EOF.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

import { Command, CommandError } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Stream } from "effect"

import { marker, openFdCount, withMarker, zombieChildren } from "../support/procs.js"
import { makeTempDir, removeTempDir, utf8 } from "../support/run.js"

let dir = ""
beforeAll(() => {
  dir = makeTempDir("ec-input-")
})
afterAll(() => removeTempDir(dir))

let files = 0
const tempPath = () => Path.join(dir, `out-${++files}`)

/**
 * `cat` into `path`, then `path.eof` once cat saw EOF: the evidence that the child took its
 * input as complete. Both ignore SIGTERM, so that an EOF sent before the kill has the whole
 * grace to show. Marked, to find survivors.
 */
const catInto = (path: string, mark: string, input: Stream.Stream<Uint8Array, unknown>) =>
  Command.make("/bin/sh", "-c", "trap \"\" TERM; cat > \"$1\" && echo eof > \"$1.eof\"", "sh", path).pipe(
    Command.envInherit,
    Command.env("EC_MARKER", mark),
    Command.killGrace("300 millis"),
    Command.stdin(Command.Input.stream(input))
  )

const sawEof = (path: string) => Fs.existsSync(`${path}.eof`)

const interruptedFiber = Effect.flatMap(
  Effect.fork(Effect.never),
  (fiber) => Effect.zipRight(Fiber.interrupt(fiber), Fiber.join(fiber))
)

const endings: ReadonlyArray<readonly [string, Stream.Stream<Uint8Array, unknown>, (cause: unknown) => void]> = [
  ["fails", Stream.fail("broken source"), (cause) => expect(cause).toBe("broken source")],
  [
    "dies",
    Stream.die(new Error("defect in source")),
    (cause) => expect((cause as Error).message).toBe("defect in source")
  ],
  ["is interrupted", Stream.fromEffect(Effect.interrupt), (cause) => expect(cause).toBeInstanceOf(Error)],
  ["joins an interrupted fiber", Stream.fromEffect(interruptedFiber), (cause) => expect(cause).toBeInstanceOf(Error)]
]

describe("an input stream that does not end normally", () => {
  for (const [how, ending, checkCause] of endings) {
    it.live(`an input stream that ${how} after some bytes fails the run with IoError on stdin, and the child never sees EOF`, () =>
      Effect.gen(function*() {
        const mark = marker()
        const path = tempPath()
        const fdsBefore = openFdCount()
        const input = Stream.concat(Stream.make(utf8("partial ")), ending)
        const exit = yield* Effect.exit(Command.string(catInto(path, mark, input)))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isSuccess(exit)) return
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(error).toBeInstanceOf(CommandError.IoError)
        if (!(error instanceof CommandError.IoError)) return
        expect(error.stream).toBe("stdin")
        checkCause(error.cause)
        expect(sawEof(path)).toBe(false)
        expect(withMarker("EC_MARKER", mark)).toEqual([])
        expect(zombieChildren()).toEqual([])
        expect(openFdCount()).toBe(fdsBefore)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }

  it.live("an input stream that completes still ends with EOF: the child gets all of it", () =>
    Effect.gen(function*() {
      const mark = marker()
      const path = tempPath()
      yield* Command.run(catInto(path, mark, Stream.make(utf8("all "), utf8("of it"))))
      expect(Fs.readFileSync(path, "utf8")).toBe("all of it")
      expect(sawEof(path)).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("interrupting a run while its input is fed kills the child before it sees EOF", () =>
    Effect.gen(function*() {
      const mark = marker()
      const path = tempPath()
      const input = Stream.concat(Stream.make(utf8("partial ")), Stream.never)
      const exit = yield* Effect.exit(Effect.timeout(Command.run(catInto(path, mark, input)), "300 millis"))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(sawEof(path)).toBe(false)
      expect(Fs.readFileSync(path, "utf8")).toBe("partial ")
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("an input stream that never ends is bounded by Command.timeout", () =>
    Effect.gen(function*() {
      const mark = marker()
      const path = tempPath()
      const input = Stream.concat(Stream.make(utf8("partial ")), Stream.never)
      const started = Date.now()
      const error = yield* Effect.flip(Command.run(catInto(path, mark, input).pipe(Command.timeout("300 millis"))))
      expect(error).toBeInstanceOf(CommandError.CommandTimeoutError)
      expect(Date.now() - started).toBeLessThan(300 + 300 + 3000)
      expect(sawEof(path)).toBe(false)
      expect(withMarker("EC_MARKER", mark)).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
