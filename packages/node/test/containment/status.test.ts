/**
 * Containment (`Command.contain(true)`) changes nothing the caller sees: `Process.pid` is the
 * target's, exit codes, signals and `coreDumped` are what they are uncontained, and so are the run
 * helpers' errors. Only the tree differs: the target's parent is the supervisor, a child of this
 * process. A pipeline's stages are each contained: a setsid'd grandchild of a middle stage is
 * gone after the run (and outlives it uncontained).
 */
import "../fixtures/ensure-helper.js"

import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import type { Signal } from "@effect-command/core"
import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

import { GRACE_MS, killMarked, MARK, marked, survivorsAfter } from "../support/contain.js"
import { eventually, marker, parentOf } from "../support/procs.js"

const SETTLE_MS = GRACE_MS + 1_000
const contained = Command.contain(true)
const uncontained = Command.contain(false)

// Core files land in the working directory (kernel.core_pattern "core"): a directory of our own.
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ec-contain-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

const sh = (script: string) => Command.make("sh", "-c", script).pipe(Command.workingDirectory(dir))

/** How a command ends, started and waited for. */
const statusOf = (command: Command.Command) => Effect.scoped(Effect.flatMap(Command.start(command), (p) => p.wait))

/** What the run helper's error says (or "ok"), the fields that depend on the status. */
const runOutcome = (command: Command.Command) =>
  Effect.map(Effect.either(Command.run(command)), (either) => {
    if (either._tag === "Right") return { ok: ExitStatus.format(either.right.status) }
    const error = either.left
    switch (error._tag) {
      case "ExitError":
        return { _tag: error._tag, exitCode: error.exitCode, stderrTail: error.stderrTail }
      case "SignalError":
        return { _tag: error._tag, signal: error.signal, coreDumped: error.coreDumped, stderrTail: error.stderrTail }
      default:
        return { _tag: error._tag, message: error.message }
    }
  })

/**
 * Each script with its exact status. Contained, on either engine, a run reports exactly that:
 * the supervisor forwards the target's wait status. Uncontained, node:child_process does not know
 * everything (`knownToChildProcess: false`): Node does not tell whether a core was dumped, and
 * reports no signal for a real-time one.
 */
const statuses: ReadonlyArray<
  {
    readonly script: string
    readonly expected: ExitStatus.ExitStatus
    readonly knownToChildProcess?: false
  }
> = [
  { script: "exit 0", expected: ExitStatus.exited(0) },
  { script: "echo oops >&2; exit 3", expected: ExitStatus.exited(3) },
  { script: "exit 255", expected: ExitStatus.exited(255) },
  { script: "kill -TERM $$", expected: ExitStatus.signaled("SIGTERM") },
  { script: "kill -KILL $$", expected: ExitStatus.signaled("SIGKILL") },
  { script: "ulimit -c 0; kill -SEGV $$", expected: ExitStatus.signaled("SIGSEGV", false) },
  {
    script: "ulimit -c unlimited; kill -SEGV $$",
    expected: ExitStatus.signaled("SIGSEGV", true),
    knownToChildProcess: false
  },
  // numbers with two names in os.constants.signals (6: SIGABRT, SIGIOT; 29: SIGIO, SIGPOLL)
  {
    script: "ulimit -c 0; kill -ABRT $$",
    expected: ExitStatus.signaled("SIGABRT")
  },
  {
    script: "kill -IO $$",
    expected: ExitStatus.signaled("SIGIO")
  },
  // a real-time signal (40: SIGRTMIN+6 with glibc's SIGRTMIN, 34), as the native engine names it
  {
    script: "kill -40 $$",
    expected: ExitStatus.signaled("SIGRTMIN+6" as Signal.Signal),
    knownToChildProcess: false
  }
]

const statusCell = (
  { expected, knownToChildProcess, script }: (typeof statuses)[number]
) =>
  Effect.gen(function*() {
    expect(yield* statusOf(sh(script).pipe(contained)), "contained").toEqual(expected)
    if (NodeCommandExecutor.engineInUse() === "native" || knownToChildProcess !== false) {
      expect(yield* statusOf(sh(script).pipe(uncontained)), "uncontained").toEqual(expected)
      expect(yield* runOutcome(sh(script).pipe(contained)), "Command.run").toEqual(
        yield* runOutcome(sh(script).pipe(uncontained))
      )
    }
  }).pipe(Effect.provide(NodeCommandExecutor.layer))

describe.concurrent("containment: statuses as uncontained", () => {
  for (const cell of statuses) {
    it.live(`sh -c '${cell.script}'`, () => statusCell(cell))
  }

  it.live("Command.run: `exit 3` is ExitError 3, `kill -SEGV $$` SignalError SIGSEGV", () =>
    Effect.gen(function*() {
      expect(yield* runOutcome(sh("echo oops >&2; exit 3").pipe(contained))).toEqual({
        _tag: "ExitError",
        exitCode: 3,
        stderrTail: "oops"
      })
      const segv = yield* runOutcome(sh("kill -SEGV $$").pipe(contained))
      expect(segv).toMatchObject({ _tag: "SignalError", signal: "SIGSEGV" })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("containment: the process", () => {
  it.live("Process.pid is the target's; its parent is a supervisor, a child of this process", () =>
    Effect.gen(function*() {
      const run = (command: Command.Command) =>
        Effect.scoped(Effect.gen(function*() {
          const process = yield* Command.start(Command.stdout(command, "pipe"))
          const match = yield* process.waitFor(/^(\d+)$/m)
          const parent = parentOf(process.pid)
          return { pid: process.pid, said: Number(match[1]), parent, grandparent: parentOf(parent) }
        }))
      const inside = yield* run(sh("echo $$; exec sleep 300").pipe(contained))
      expect(inside.said).toBe(inside.pid)
      expect(inside.parent).not.toBe(process.pid)
      expect(inside.grandparent).toBe(process.pid)
      const plain = yield* run(sh("echo $$; exec sleep 300").pipe(uncontained))
      expect(plain.said).toBe(plain.pid)
      expect(plain.parent).toBe(process.pid)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

/** The stages, each marked with the short grace, `adjust` applied. */
const stages = (
  mark: string,
  adjust: (command: Command.Command) => Command.Command,
  [first, ...rest]: readonly [Command.Command, ...Array<Command.Command>]
): [Command.Command, ...Array<Command.Command>] => {
  const each = (stage: Command.Command) =>
    adjust(stage.pipe(Command.envExtend({ [MARK]: mark }), Command.killGrace(`${GRACE_MS} millis`)))
  return [each(first), ...rest.map(each)]
}

/** `echo a | sh -c 'setsid sleep 300 … & cat' | cat`, every stage marked; `adjust` applies to each. */
const pipeline = (mark: string, adjust: (command: Command.Command) => Command.Command) =>
  Command.pipeline(
    ...stages(mark, adjust, [
      Command.make("echo", "a"),
      Command.make("sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & cat"),
      Command.make("cat")
    ])
  )

describe.concurrent("containment: pipelines", () => {
  it.live("each stage is contained: a setsid'd grandchild of the middle stage is gone after the run", () => {
    const mark = marker()
    return Effect.gen(function*() {
      expect(yield* Command.string(pipeline(mark, contained))).toBe("a\n")
      expect(yield* Effect.promise(() => survivorsAfter(mark, SETTLE_MS))).toEqual([])
    }).pipe(Effect.ensuring(Effect.promise(() => killMarked(mark))), Effect.provide(NodeCommandExecutor.layer))
  })

  it.live("in contrast, uncontained stages: it outlives the run", () => {
    const mark = marker()
    return Effect.gen(function*() {
      expect(yield* Command.string(pipeline(mark, uncontained))).toBe("a\n")
      expect(yield* Effect.promise(() => eventually(() => marked(mark).length === 0, SETTLE_MS))).toBe(false)
    }).pipe(Effect.ensuring(Effect.promise(() => killMarked(mark))), Effect.provide(NodeCommandExecutor.layer))
  })

  it.live("a pipeline's scope closed while its stages run: nothing left", () => {
    const mark = marker()
    return Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          Command.pipeline(...stages(mark, contained, [
            Command.make("sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo ready; exec sleep 300"),
            Command.make("sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & exec cat")
          ])).pipe(Command.stdout("pipe"))
        )
        yield* process.waitFor(/^ready$/m)
        // both stages and both grandchildren
        expect(yield* Effect.promise(() => eventually(() => marked(mark).length >= 4))).toBe(true)
      }))
      expect(yield* Effect.promise(() => survivorsAfter(mark, SETTLE_MS))).toEqual([])
    }).pipe(Effect.ensuring(Effect.promise(() => killMarked(mark))), Effect.provide(NodeCommandExecutor.layer))
  })
})
