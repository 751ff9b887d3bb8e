/**
 * What the executor does to a child's whole process group, and how it reports a core dump, seen
 * through the public API while the child is still running (scope close would hide a mistake).
 */
import * as Fs from "node:fs"

import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"

import { eventually as pollUntil, isAlive, marker, withMarker, zombieChildren } from "../support/procs.js"
import { makeTempDir, removeTempDir } from "../support/run.js"

const childProcessEngine = process.env.EFFECT_COMMAND_SPAWN === "child_process"

/** Polls `condition` every 10 ms until it holds or `millis` pass; whether it held. */
const eventually = (condition: () => boolean, millis = 3000): Effect.Effect<boolean> =>
  Effect.promise(() => pollUntil(condition, millis))

const comm = (pid: number): string => {
  try {
    return Fs.readFileSync(`/proc/${pid}/comm`, "latin1").trim()
  } catch {
    return ""
  }
}

const stat = (pid: number): { state: string; pgrp: number } | undefined => {
  try {
    const text = Fs.readFileSync(`/proc/${pid}/stat`, "latin1")
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return { state: fields[0]!, pgrp: Number(fields[2]) }
  } catch {
    return undefined
  }
}

const sh = (script: string, mark: string) =>
  Command.make("sh", "-c", script).pipe(Command.stdout("pipe"), Command.envInherit, Command.env("EC_MARKER", mark))

/** Reads the child's stdout until the line `ready`. */
const ready = (child: CommandExecutor.Process) =>
  child.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.takeUntil((l) => l === "ready"), Stream.runDrain)

/** Kills what a test left running with its marker. */
const killMarked = (mark: string) =>
  Effect.sync(() => {
    for (const pid of withMarker("EC_MARKER", mark)) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
  })

/**
 * A leader that survives SIGTERM (its trap only ends its first `wait`) and a background `sleep`
 * in its group. Returns the sleep's pid once both run.
 */
const leaderAndSleeper = (mark: string) =>
  Effect.gen(function*() {
    const child = yield* Command.start(
      sh("trap : TERM; sleep 30 & echo ready; wait; wait", mark).pipe(Command.killGrace("5 seconds"))
    )
    yield* ready(child)
    // Forked before `ready`, but it may not have exec'd `sleep` yet on a loaded machine.
    const sleeping = () => withMarker("EC_MARKER", mark).find((pid) => comm(pid) === "sleep")
    expect(yield* eventually(() => sleeping() !== undefined), "the background sleep runs").toBe(true)
    return { child, sleeper: sleeping()! }
  })

describe("signals reach the child's whole process group", () => {
  it.live("Process.kill signals a member of the group while the child is alive", () => {
    const mark = marker()
    return Effect.scoped(Effect.gen(function*() {
      const { child, sleeper } = yield* leaderAndSleeper(mark)
      yield* child.kill("SIGTERM")
      expect(yield* eventually(() => !isAlive(sleeper)), "the group's sleep got SIGTERM").toBe(true)
    })).pipe(Effect.ensuring(killMarked(mark)), Effect.provide(NodeCommandExecutor.layer))
  })

  it.live("Process.abort signals every member of the group, not only the child", () => {
    const mark = marker()
    return Effect.scoped(Effect.gen(function*() {
      const { child, sleeper } = yield* leaderAndSleeper(mark)
      const started = Date.now()
      yield* child.abort
      // The sleep dies of the first signal, so the leader's `wait` returns well within the grace.
      expect(Date.now() - started).toBeLessThan(4000)
      expect(yield* eventually(() => !isAlive(sleeper)), "the group's sleep was killed by abort").toBe(true)
    })).pipe(Effect.ensuring(killMarked(mark)), Effect.provide(NodeCommandExecutor.layer))
  })
})

describe("a zombie in the child's group", () => {
  it.live("does not count as alive: closing the scope does not wait the kill grace for it", () => {
    const mark = marker()
    // The subshell forks `sleep 0.1` (a member of the group) and then leaves the group through
    // `setsid`, becoming a `sleep 60` that never reaps it: the member stays a zombie in the group.
    const script = "(sleep 0.1 & exec setsid sleep 60) >/dev/null 2>&1 & echo ready; exec sleep 60"
    return Effect.gen(function*() {
      let closedIn = 0
      yield* Effect.scoped(Effect.gen(function*() {
        const child = yield* Command.start(sh(script, mark).pipe(Command.killGrace("20 seconds")))
        yield* ready(child)
        const zombieInGroup = () =>
          Fs.readdirSync("/proc").some((entry) => {
            const s = /^\d+$/.test(entry) ? stat(Number(entry)) : undefined
            return s !== undefined && s.pgrp === child.pid && s.state === "Z"
          })
        expect(yield* eventually(zombieInGroup), "a zombie in the group").toBe(true)
        // The leader ends at once on SIGTERM; what stays in its group is the zombie alone.
        yield* Effect.addFinalizer(() => Effect.sync(() => void (closedIn = Date.now())))
      }))
      const took = Date.now() - closedIn
      expect(took, `the close took ${took} ms`).toBeLessThan(5000)
    }).pipe(Effect.ensuring(killMarked(mark)), Effect.provide(NodeCommandExecutor.layer))
  }, 60_000)
})

/** Whether the kernel writes a core into the crashing process's working directory here. */
const coresLandInCwd = (() => {
  const pattern = Fs.readFileSync("/proc/sys/kernel/core_pattern", "utf8").trim()
  return !pattern.startsWith("|") && !pattern.includes("/")
})()

describe.skipIf(!coresLandInCwd)("a child that dumps core", () => {
  it.live.each(
    [
      ["SEGV", true],
      ["ABRT", true],
      ["SEGV", false],
      ["ABRT", false]
    ] as const
  )("killed by SIG%s, contain(%s): Command.run reports coreDumped as the engine knows it", ([name, contain]) => {
    const dir = makeTempDir("ec-core-")
    // `ulimit -c unlimited` raises the soft limit up to the hard one; exit 99 if the hard one forbids it.
    const crash = Command.make("sh", "-c", `ulimit -c unlimited || exit 99; kill -${name} $$`).pipe(
      Command.workingDirectory(dir),
      Command.contain(contain)
    )
    return Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(crash))
      if (error instanceof CommandError.ExitError) {
        expect(error.exitCode, "the hard core limit forbids cores").toBe(99)
        return
      }
      expect(error).toBeInstanceOf(CommandError.SignalError)
      const signal = error as CommandError.SignalError
      expect(signal.signal).toBe(`SIG${name}`)
      const written = Fs.readdirSync(dir).some((file) => file.startsWith("core"))
      // Contained, the supervisor reports the exact wait status on either engine; uncontained,
      // Node's child_process does not report WCOREDUMP: that engine says false.
      const exact = contain || !childProcessEngine
      expect(signal.coreDumped).toBe(exact ? written : false)
      if (exact) expect(written, "the kernel wrote a core").toBe(true)
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.ensuring(Effect.sync(() => removeTempDir(dir))), Effect.provide(NodeCommandExecutor.layer))
  })
})
