/**
 * Fd numbers a caller may give (`passFd`, `inputFd`): any number, up to 2**31 and beyond. One at
 * or above the fd limit is refused before anything runs; below it, the spawn costs what the
 * number of fds costs, not what their numbers are (no array as long as the highest fd). The
 * child_process engine takes an array as long as the highest fd, so it refuses fds above 1024.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

import type { CommandError } from "@effect-command/core"
import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

import { evidence, failsCleanly, makeTempDir, probe, removeTempDir } from "../support/run.js"

const native = NodeCommandExecutor.engineInUse() === "native"

/** RLIMIT_NOFILE as children start with it (Node raised the soft limit to the hard one). */
const limit = Number(/^Max open files\s+(\d+)/m.exec(Fs.readFileSync("/proc/self/limits", "latin1"))![1])

/** The highest fd the child_process engine gives a child. */
const childProcessBound = 1024

const usageReasons = (error: CommandError.CommandError): string => {
  expect(error._tag).toBe("CommandUsageError")
  return error._tag === "CommandUsageError" ? error.reasons.join("\n") : ""
}

/** Runs `effect` and fails the test when it took a second or more. */
const fast = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const result = yield* effect
    expect(Date.now() - started).toBeLessThan(1000)
    return result
  })

describe("fd numbers", () => {
  const tooHigh = [2 ** 31, 2 ** 31 - 1, 1e7, limit]
  for (const fd of tooHigh) {
    for (const [how, give] of [["inputFd", Command.inputFd(fd, "x")], ["passFd", Command.passFd(fd)]] as const) {
      it.live(`${how}(${fd}), at or above the fd limit: a CommandUsageError naming the fd, at once, nothing runs`, () =>
        Effect.gen(function*() {
          const dir = makeTempDir("ec-fds-")
          const ran = Path.join(dir, "ran")
          try {
            const error = yield* fast(failsCleanly(Command.run(evidence(ran).pipe(give))))
            const reasons = usageReasons(error)
            expect(reasons).toContain(String(fd))
            expect(Fs.existsSync(ran)).toBe(false)
          } finally {
            removeTempDir(dir)
          }
        }).pipe(Effect.provide(NodeCommandExecutor.layer)))
    }
  }

  it.live("the refusal names the fd limit", () =>
    Effect.gen(function*() {
      const error = yield* failsCleanly(Command.run(Command.make("true").pipe(Command.inputFd(limit, "x"))))
      expect(usageReasons(error)).toContain(`RLIMIT_NOFILE ${limit}`)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  /** The probe reading `fds` (given with inputFd, each its own number as text): what it read. */
  const readAll = (fds: ReadonlyArray<number>, extra: (command: Command.Command) => Command.Command = (c) => c) => {
    let command = probe("--no-report", "--no-stdin", ...fds.flatMap((fd) => ["--readfd", String(fd)]))
    for (const fd of fds) command = command.pipe(Command.inputFd(fd, `<${fd}>`))
    return Command.string(extra(command))
  }

  it.live("an input fd just below the fd limit reaches the child at its number, fast (native engine)", () =>
    Effect.gen(function*() {
      const fd = limit - 1
      if (!native) {
        const error = yield* failsCleanly(readAll([fd]))
        expect(usageReasons(error)).toContain(`fd ${fd} is above ${childProcessBound}`)
        return
      }
      const out = yield* fast(readAll([fd]))
      expect(out).toContain(`<${fd}>`)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("scattered fds up to the limit, with the helper's own fds: each child fd gets its own bytes", () =>
    Effect.gen(function*() {
      const fds = native ? [3, 4, 1000, Math.floor(limit / 2), limit - 2, limit - 1] : [3, 4, 500, childProcessBound]
      // A umask needs the setup helper (on both engines): its status fd must find a free number too.
      for (const extra of [(c: Command.Command) => c, Command.umask(0o022)]) {
        const out = yield* fast(readAll(fds, extra))
        expect(out).toBe(`BEGIN STDOUT\n${fds.map((fd) => `<${fd}>`).join("")}END STDOUT\n`)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a passed fd that is not open, with stderr joined to stdout: a SpawnError, and nothing made for the join is left open", () =>
    Effect.gen(function*() {
      const free = Fs.openSync("/dev/null", "r")
      Fs.closeSync(free)
      const runs = [
        (c: Command.Command) => Effect.asVoid(Command.run(c)),
        (c: Command.Command) => Effect.scoped(Effect.asVoid(Command.start(c)))
      ]
      for (const run of runs) {
        const error = yield* failsCleanly(
          run(Command.make("true").pipe(Command.passFd(free), Command.stderr("stdout")))
        )
        expect(error._tag === "SpawnError" && error.stage).toBe("passFd")
      }
      // Without the helper, child_process joins them through a socket pair made first.
    }).pipe(Effect.provide(NodeCommandExecutor.layerWith({ helper: "never" }))))

  it.live.skipIf(native)(
    "child_process: fd 1025 is refused with a CommandUsageError naming the bound, 1024 works",
    () =>
      Effect.gen(function*() {
        const error = yield* failsCleanly(readAll([childProcessBound + 1]))
        expect(usageReasons(error)).toContain(`above ${childProcessBound}`)
        expect(yield* readAll([childProcessBound])).toContain(`<${childProcessBound}>`)
      }).pipe(Effect.provide(NodeCommandExecutor.layer))
  )
})
