import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

import type { CommandExecutor } from "@effect-command/core"
import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Random, Stream } from "effect"

import { eventually, isAlive, marker, openFdCount, withMarker, zombieChildren } from "./support/procs.js"

const repoRoot = Path.resolve(import.meta.dirname, "../../..")

/** Reads a process's stdout until a line equal to `line` arrives: the child's own "I got here". */
const waitForLine = (process: CommandExecutor.Process, line: string) =>
  process.stdout.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.takeUntil((l) => l === line),
    Stream.runDrain
  )

const sh = (script: string, mark?: string) => {
  const cmd = Command.make("sh", "-c", script).pipe(Command.stdout("pipe"))
  return mark === undefined ? cmd : cmd.pipe(Command.envInherit, Command.env("EC_MARKER", mark))
}

describe("kill-and-reap", () => {
  it.live("SIGKILLs a child that ignores SIGTERM after the grace, and reaps it", () =>
    Effect.gen(function*() {
      const cmd = sh("trap '' TERM; echo ready; while :; do sleep 1; done").pipe(Command.killGrace("300 millis"))
      const { pid, status } = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(cmd)
        yield* waitForLine(process, "ready")
        return { pid: process.pid, status: yield* process.abort }
      }))
      expect(status).toEqual(ExitStatus.signaled("SIGKILL"))
      expect(isAlive(pid)).toBe(false)
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("scope close ends a running child with SIGTERM and returns after it was reaped", () =>
    Effect.gen(function*() {
      let pid = 0
      let process: CommandExecutor.Process | undefined
      yield* Effect.scoped(Effect.gen(function*() {
        process = yield* Command.start(sh("echo ready; exec sleep 100"))
        pid = process.pid
        yield* waitForLine(process, "ready")
      }))
      expect(isAlive(pid)).toBe(false)
      expect(yield* process!.wait).toEqual(ExitStatus.signaled("SIGTERM"))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("leaves nothing of `sh -c 'sleep 100 & sleep 100'` behind after scope close", () =>
    Effect.gen(function*() {
      const mark = marker()
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(sh("sleep 100 & echo ready; sleep 100", mark))
        yield* waitForLine(process, "ready")
        // A process in the middle of its exec shows no environment for a moment: poll (bounded).
        expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length >= 2))).toBe(true)
      }))
      expect(withMarker("EC_MARKER", mark)).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("Process.kill reaches the process group the child leads: a member it started goes too", () =>
    Effect.gen(function*() {
      const { gone, status } = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(sh("sleep 100 & echo $!; wait"))
        const [line] = yield* process.stdout.pipe(
          Stream.decodeText(),
          Stream.splitLines,
          Stream.take(1),
          Stream.runCollect
        )
        yield* process.kill("SIGTERM")
        const status = yield* process.wait
        // Before the scope's own kill of the group's remnants: only Process.kill could have ended it.
        const member = Number(line)
        return { status, gone: yield* Effect.promise(() => eventually(() => !isAlive(member))) }
      }))
      expect(status).toEqual(ExitStatus.signaled("SIGTERM"))
      expect(gone).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("kills group members left behind by a child that exited 0", () =>
    Effect.gen(function*() {
      const mark = marker()
      const cmd = Command.make("sh", "-c", "sleep 100 >/dev/null 2>&1 & echo done").pipe(
        Command.envInherit,
        Command.env("EC_MARKER", mark)
      )
      const out = yield* Command.string(cmd)
      expect(out).toBe("done\n")
      expect(withMarker("EC_MARKER", mark)).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  // it.effect runs on a TestClock that never moves by itself: the grace periods are wall-clock time.
  it.effect(
    "under a TestClock: the grace ends, a child and a group member ignoring SIGTERM are SIGKILLed",
    () =>
      Effect.gen(function*() {
        const mark = marker()
        const cmd = sh("trap '' TERM; sleep 100 & echo ready; while :; do sleep 1; done", mark).pipe(
          Command.killGrace("200 millis")
        )
        const status = yield* Effect.scoped(Effect.gen(function*() {
          const process = yield* Command.start(cmd)
          yield* waitForLine(process, "ready")
          return yield* process.abort
        }))
        expect(status).toEqual(ExitStatus.signaled("SIGKILL"))
        expect(withMarker("EC_MARKER", mark)).toEqual([])
        // A run whose child left a member behind in its group.
        const other = marker()
        const out = yield* Command.string(
          Command.make("sh", "-c", "trap '' TERM; sleep 100 >/dev/null 2>&1 & echo done").pipe(
            Command.envInherit,
            Command.env("EC_MARKER", other),
            Command.killGrace("200 millis")
          )
        )
        expect(out).toBe("done\n")
        expect(withMarker("EC_MARKER", other)).toEqual([])
      }).pipe(Effect.provide(NodeCommandExecutor.layer)),
    20_000
  )

  it.live("Effect.timeout around run kills and reaps the child", () =>
    Effect.gen(function*() {
      const mark = marker()
      const exit = yield* Effect.exit(Effect.timeout(Command.run(sh("exec sleep 100", mark)), "200 millis"))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a detached child outlives its scope and can be aborted later", () =>
    Effect.gen(function*() {
      const detached = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(sh("echo ready; exec sleep 100"))
        yield* waitForLine(process, "ready")
        return yield* process.detach
      }))
      expect(isAlive(detached.pid)).toBe(true)
      expect(yield* detached.abort).toEqual(ExitStatus.signaled("SIGTERM"))
      expect(isAlive(detached.pid)).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a detached child can be waited for after its scope closed", () =>
    Effect.gen(function*() {
      const detached = yield* Effect.scoped(
        Effect.flatMap(Command.start(sh("read line; exit 7").pipe(Command.stdin("pipe"))), (p) =>
          Effect.zipLeft(p.detach, Stream.run(Stream.make(new TextEncoder().encode("go\n")), p.stdin)))
      )
      expect(yield* detached.wait).toEqual(ExitStatus.exited(7))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live(
    "200 runs interrupted at random moments, started or run in one go, leave no zombie, no process and no fd",
    () =>
      Effect.gen(function*() {
        const mark = marker()
        const fdsBefore = openFdCount()
        const scripts = [
          "exec sleep 100",
          "head -c 200000 /dev/zero; sleep 0.05",
          "echo out; echo err >&2; exit 3",
          "sleep 100 & sleep 100",
          "cat"
        ]
        yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) =>
            Effect.gen(function*() {
              const delay = yield* Random.nextIntBetween(0, 60)
              const base = Command.make("sh", "-c", scripts[i % scripts.length]!).pipe(
                Command.envInherit,
                Command.env("EC_MARKER", mark),
                Command.killGrace("1 second")
              )
              // A third is fed from a stream (a started run), the rest are fed from memory or capture
              // stdout (run in one go).
              const cmd = i % 3 === 0
                ? Command.stdin(base, Command.Input.stream(Stream.make(new TextEncoder().encode("some input\n"))))
                : i % 3 === 1
                ? Command.feed(base, "some input\n".repeat(100_000))
                : Command.stdout(base, "capture")
              yield* Effect.exit(Effect.timeout(Command.run(cmd), `${delay} millis`))
            }),
          { concurrency: 8, discard: true }
        )
        expect(withMarker("EC_MARKER", mark)).toEqual([])
        expect(zombieChildren()).toEqual([])
        expect(openFdCount()).toBe(fdsBefore)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)),
    60_000
  )

  it.live("interrupting a fiber blocked in waiting for the result kills the child", () =>
    Effect.gen(function*() {
      const ready = yield* Deferred.make<number>()
      const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(sh("echo ready; exec sleep 100"))
        yield* waitForLine(process, "ready")
        yield* Deferred.succeed(ready, process.pid)
        return yield* process.result
      })))
      const pid = yield* Deferred.await(ready)
      yield* Fiber.interrupt(fiber)
      expect(isAlive(pid)).toBe(false)
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it.live(
      `a NodeRuntime.runMain program that gets ${signal} ends with every child reaped`,
      () =>
        Effect.gen(function*() {
          const mark = marker()
          const node = ChildProcess.spawn(
            process.execPath,
            ["--import", "tsx", "--conditions=source", Path.join(import.meta.dirname, "fixtures/run-main.ts")],
            { cwd: repoRoot, env: { ...process.env, EC_MARKER: mark }, stdio: ["ignore", "pipe", "inherit"] }
          )
          yield* Effect.async<void>((resume) => {
            node.stdout!.on("data", (chunk: Buffer) => {
              if (chunk.toString().includes("started")) resume(Effect.void)
            })
          })
          // Node, sh and the background sleep. A process in the middle of its exec shows an empty
          // environ for a moment: look again until all three are seen (bounded).
          const deadline = Date.now() + 5_000
          while (withMarker("EC_MARKER", mark).length < 3 && Date.now() < deadline) yield* Effect.sleep("5 millis")
          expect(withMarker("EC_MARKER", mark).length).toBeGreaterThanOrEqual(3)
          node.kill(signal)
          yield* Effect.async<void>((resume) => {
            if (node.exitCode !== null || node.signalCode !== null) resume(Effect.void)
            else node.once("exit", () => resume(Effect.void))
          })
          expect(withMarker("EC_MARKER", mark)).toEqual([])
        }),
      30_000
    )
  }
})
