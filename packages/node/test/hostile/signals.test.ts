/**
 * `Process.kill` takes a signal name. Anything else a JavaScript caller may pass (an unknown name,
 * a number, signal 0, a prototype key) fails with a CommandUsageError before anything is signalled.
 */
import type { CommandExecutor, Signal } from "@effect-command/core"
import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"

import { isAlive } from "../support/procs.js"

/** A child that traps every catchable signal (so a stray one would show) and says when it is ready. */
const patient = Command.make(
  "sh",
  "-c",
  "trap 'echo got-signal' HUP INT QUIT USR1 USR2 TERM ALRM CONT; echo ready; while :; do sleep 0.05; done"
).pipe(Command.stdout("pipe"), Command.killSignal("SIGKILL"))

const waitReady = (process: CommandExecutor.Process) =>
  process.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.takeUntil((l) => l === "ready"), Stream.runDrain)

const bogus: ReadonlyArray<unknown> = [
  "SIGBOGUS",
  "sigterm",
  "TERM",
  "",
  " SIGTERM",
  "SIGRTMIN",
  "constructor",
  "__proto__",
  "toString",
  0,
  9,
  15,
  -1,
  NaN,
  Infinity,
  2 ** 31,
  2 ** 53,
  1.5,
  null
]

describe("Process.kill refuses what is not a signal name", () => {
  it.live("each bogus signal fails with CommandUsageError naming it, and the child got nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const process = yield* Command.start(patient)
      yield* waitReady(process)
      for (const value of bogus) {
        const error = yield* Effect.flip(process.kill(value as Signal.Signal))
        expect(error._tag).toBe("CommandUsageError")
        expect(error._tag === "CommandUsageError" && error.reasons).toEqual([
          `unknown signal ${
            typeof value === "string" ? JSON.stringify(value) : String(value)
          }: give a name such as "SIGTERM"`
        ])
      }
      expect(isAlive(process.pid)).toBe(true)
      // Nothing was sent: the child's next output is the end, after a real SIGKILL.
      yield* process.kill("SIGKILL")
      expect(yield* process.wait).toEqual(ExitStatus.signaled("SIGKILL"))
      const rest = yield* Stream.runCollect(Stream.decodeText(process.stdout))
      expect([...rest].join("")).toBe("")
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a pipeline's kill with a bogus signal signals no stage", () =>
    Effect.scoped(Effect.gen(function*() {
      const process = yield* Command.start(Command.pipeTo(Command.make("sleep", "30"), patient))
      yield* waitReady(process)
      const error = yield* Effect.flip(process.kill("SIGNOPE" as Signal.Signal))
      expect(error._tag).toBe("CommandUsageError")
      expect(isAlive(process.pid)).toBe(true)
      yield* process.kill("SIGKILL")
      const stages = yield* process.waitStages
      expect(stages).toEqual([ExitStatus.signaled("SIGKILL"), ExitStatus.signaled("SIGKILL")])
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a signal name is still sent: SIGUSR1 reaches the child", () =>
    Effect.scoped(Effect.gen(function*() {
      const process = yield* Command.start(patient)
      yield* waitReady(process)
      yield* process.kill("SIGUSR1")
      const line = yield* process.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runHead)
      expect(line._tag === "Some" && line.value).toBe("got-signal")
    })).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
