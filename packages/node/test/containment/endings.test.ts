/**
 * Containment (a layer with `contain: true`), in this process: every descendant of a command is
 * gone once its run ended, however
 * it tried to escape (support/contain.ts: setsid, a daemon's double fork, a new process group,
 * SIGTERM ignored, 200 forks, stopped) and however the run ended (the target's normal exit, scope
 * close, interruption, `Command.timeout`, `Process.abort`). Each cell checks first that its tree
 * is up (every marked process seen), then, after the ending, that nothing marked is left and that
 * the target and its supervisor were reaped, within the grace (200 ms) + 1 s; once all cells of an
 * ending are over, that no zombie of this process is left. The worker's termination and the
 * parent's death are in outside.test.ts; that the same trees escape uncontained, in contrast.test.ts.
 */
import "../fixtures/ensure-helper.js"

import type { CommandExecutor } from "@effect-command/core"
import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"

import type { Behaviour } from "../support/contain.js"
import {
  behaviours,
  describeProcs,
  GRACE_MS,
  killMarked,
  seen,
  startReady,
  survivorsAfter,
  tree
} from "../support/contain.js"
import { eventually, gone, marker, parentOf, zombieChildren } from "../support/procs.js"

const SETTLE_MS = GRACE_MS + 1_000

/** Containment is opt-in: here through the layer option (status.test.ts uses `Command.contain(true)`). */
const containing = NodeCommandExecutor.layerWith({ contain: true })

interface Cell {
  readonly behaviour: Behaviour
  readonly processes: number
  readonly mark: string
}

/** Every marked process of the cell's tree is up. */
const isUp = ({ mark, processes }: Cell) =>
  Effect.promise(() => seen(mark, processes)).pipe(
    Effect.map((up) => expect(up, `${processes} marked processes up`).toBe(true))
  )

/** Nothing marked left, within the grace + 1 s. */
const noSurvivors = ({ mark }: Cell) =>
  Effect.promise(() => survivorsAfter(mark, SETTLE_MS)).pipe(
    Effect.map((left) => expect(left, "survivors").toEqual([]))
  )

const go = new TextEncoder().encode("go\n")

/** The target and its parent, the supervisor: the cell's own children, to be reaped by its end. */
const own = (process: CommandExecutor.Process): ReadonlyArray<number> => [process.pid, parentOf(process.pid)]

/**
 * How a run ends; what the ending itself must have done is checked in it (the rest after). It
 * returns the pids it knows of the cell's own children.
 */
const endings: ReadonlyArray<{
  readonly ending: string
  readonly behaviours: ReadonlyArray<Behaviour>
  readonly end: (cell: Cell) => Effect.Effect<ReadonlyArray<number>, unknown, CommandExecutor.CommandExecutor>
}> = [
  {
    ending: "the target exits 0: Command.run returns",
    behaviours: ["setsid", "daemon", "pgrp", "noterm", "fork200", "stopped"],
    end: ({ behaviour, mark }) =>
      Effect.map(Command.run(tree(behaviour, "exit", mark)), (result) => {
        expect(result.status).toEqual(ExitStatus.exited(0))
        return []
      })
  },
  {
    ending: "the target exits 0: Process.wait, then scope close",
    behaviours: ["setsid", "daemon", "pgrp", "noterm", "stopped"],
    end: (cell) =>
      Effect.scoped(Effect.gen(function*() {
        const process = yield* startReady(Command.stdin(tree(cell.behaviour, "gate", cell.mark), "pipe"))
        yield* isUp(cell)
        const pids = own(process)
        yield* Stream.run(Stream.make(go), process.stdin)
        expect(yield* process.wait).toEqual(ExitStatus.exited(0))
        return pids
      }))
  },
  {
    ending: "scope close with the target running",
    behaviours: ["setsid", "daemon", "pgrp", "noterm", "fork200", "stopped"],
    end: (cell) =>
      Effect.scoped(Effect.gen(function*() {
        const process = yield* startReady(tree(cell.behaviour, "run", cell.mark))
        yield* isUp(cell)
        return own(process)
      }))
  },
  {
    ending: "Fiber.interrupt of a fiber waiting for the target",
    behaviours: ["setsid", "daemon", "pgrp", "noterm", "stopped"],
    end: (cell) =>
      Effect.gen(function*() {
        const ready = yield* Deferred.make<ReadonlyArray<number>>()
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const process = yield* startReady(tree(cell.behaviour, "run", cell.mark))
          yield* Deferred.succeed(ready, own(process))
          return yield* process.wait
        })))
        const pids = yield* Effect.raceFirst(
          Deferred.await(ready),
          Effect.flatMap(Fiber.await(fiber), (exit) => Effect.dieMessage(`ended before ready: ${String(exit)}`))
        )
        yield* isUp(cell)
        yield* Fiber.interrupt(fiber)
        return pids
      })
  },
  {
    ending: "Command.timeout",
    behaviours: ["setsid", "daemon", "pgrp", "noterm", "stopped"],
    end: (cell) =>
      Effect.scoped(Effect.gen(function*() {
        // Long enough for the tree to come up on a busy machine (the timer starts at the spawn).
        const process = yield* startReady(tree(cell.behaviour, "run", cell.mark).pipe(Command.timeout("2 seconds")))
        yield* isUp(cell)
        const pids = own(process)
        const error = yield* Effect.flip(process.result)
        expect(error._tag).toBe("CommandTimeoutError")
        // Still in the scope: the timeout's kill did it.
        yield* noSurvivors(cell)
        return pids
      }))
  },
  {
    ending: "Process.abort",
    behaviours: ["setsid", "daemon", "pgrp", "noterm", "stopped"],
    end: (cell) =>
      Effect.scoped(Effect.gen(function*() {
        const process = yield* startReady(tree(cell.behaviour, "run", cell.mark))
        yield* isUp(cell)
        const pids = own(process)
        // The noterm target ignores SIGTERM: the grace ends with SIGKILL.
        expect(yield* process.abort).toEqual(ExitStatus.signaled(cell.behaviour === "noterm" ? "SIGKILL" : "SIGTERM"))
        // Still in the scope: abort did it.
        yield* noSurvivors(cell)
        return pids
      }))
  }
]

describe.each(endings)("containment: $ending", ({ behaviours: kinds, end }) => {
  const cases = behaviours.filter(({ behaviour }) => kinds.includes(behaviour))
  describe.concurrent("descendants", () => {
    it.live.each(cases)("$behaviour: none left; the target and its supervisor reaped", ({ behaviour, processes }) => {
      const cell: Cell = { behaviour, processes, mark: marker() }
      return Effect.gen(function*() {
        const pids = yield* end(cell)
        yield* noSurvivors(cell)
        const reaped = yield* Effect.promise(() => eventually(() => pids.every(gone), SETTLE_MS))
        expect(reaped, `not reaped: ${describeProcs(pids.filter((pid) => !gone(pid))).join("; ")}`).toBe(true)
      }).pipe(
        Effect.ensuring(Effect.promise(() => killMarked(cell.mark))),
        Effect.provide(containing)
      )
    }, 30_000)
  })

  // Once every run of the ending is over (while some are in flight, their children may be zombies
  // for a moment: exited, to be reaped by their own run).
  it("no zombie of this process", async () => {
    const reaped = await eventually(() => zombieChildren().length === 0, SETTLE_MS)
    expect(reaped, `zombies: ${describeProcs(zombieChildren()).join("; ")}`).toBe(true)
  })
})
