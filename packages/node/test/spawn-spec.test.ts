/**
 * The pure step from a plan's stage to the spec an engine spawns, without spawning anything: the
 * plans come from core through the executor seam, as every executor gets them.
 */
import * as Net from "node:net"

import { Command, CommandError, CommandExecutor } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"

import type { StageLinks } from "../src/internal/joints.js"
import type { SpecInputs } from "../src/internal/spawn-spec.js"
import { spawnSpec } from "../src/internal/spawn-spec.js"

/** The plan core hands an executor for `command`: caught at the seam, nothing spawned. */
const planOf = (command: Command.Command): Effect.Effect<CommandExecutor.SpawnPlan> => {
  let caught: CommandExecutor.SpawnPlan | undefined
  const executor = CommandExecutor.make((plan) => {
    caught = plan
    return Effect.fail(new CommandError.SpawnError({ reason: "Unknown", command: plan.line, cause: "caught" }))
  })
  return Effect.scoped(Command.start(command)).pipe(
    Effect.provideService(CommandExecutor.CommandExecutor, executor),
    Effect.ignore,
    Effect.flatMap(() => Option.fromNullable(caught)),
    Effect.orDie
  )
}

const direct = (links: StageLinks = {}): SpecInputs => ({
  path: "/bin/prog",
  helper: null,
  native: true,
  links,
  files: [],
  joined: undefined,
  env: undefined,
  contained: false
})

const throughHelper: SpecInputs = { ...direct(), helper: "/lib/helper" }

describe("spawnSpec", () => {
  it.effect("a contained spawn: the helper as supervisor, its control pipe and the grace for a parent's death", () =>
    Effect.gen(function*() {
      const [stage] = (yield* planOf(Command.make("prog").pipe(Command.killGrace("1500 millis")))).stages
      const { helperFds, spec } = spawnSpec(stage, { ...throughHelper, contained: true })
      expect(helperFds).toEqual({ status: 3, handshakeReady: undefined, handshakeWait: undefined, control: 6 })
      expect(spec.supervisor).toBe(true)
      expect(spec.deathSignal).toBeUndefined()
      expect(spec.stdio.get(6)).toEqual({ _tag: "Pipe", toChild: true })
      const args = spec.argv.slice(0, spec.argv.indexOf("--"))
      expect(args.slice(args.indexOf("--contain"))).toEqual(["--contain", "6", "--contain-grace", "1500"])
      const long = spawnSpec((yield* planOf(Command.make("prog").pipe(Command.killGrace("30 days")))).stages[0], {
        ...throughHelper,
        contained: true
      })
      expect(long.spec.argv).toContain(String(2 ** 31 - 1))
      expect(spawnSpec(stage, throughHelper).spec.argv).not.toContain("--contain")
    }))

  it.effect("a direct spawn: argv as given, stdio by fd, nothing else open", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(
        Command.make("prog", "a b").pipe(Command.stdout("pipe"), Command.processGroup("new"))
      )
      const { helperFds, spec } = spawnSpec(plan.stages[0], direct())
      expect(helperFds).toBeUndefined()
      expect(spec.path).toBe("/bin/prog")
      expect(spec.argv).toEqual(["prog", "a b"])
      expect(spec.newGroup).toBe(true)
      expect([...spec.stdio]).toEqual([
        [0, { _tag: "Ignore" }],
        [1, { _tag: "Pipe", toChild: false }],
        [2, { _tag: "Ignore" }]
      ])
    }))

  it.effect("the death signal is set without the helper by the native engine only", () =>
    Effect.gen(function*() {
      const [stage] = (yield* planOf(Command.make("prog"))).stages
      expect(spawnSpec(stage, direct()).spec.deathSignal).toBe(9)
      expect(spawnSpec(stage, { ...direct(), native: false }).spec.deathSignal).toBeUndefined()
    }))

  it.effect("2>&1 with an inherited stdout: fd 2 is the parent's fd 1, not its fd 2", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(
        Command.make("prog").pipe(Command.stdout("inherit"), Command.stderr("stdout"))
      )
      const { stdio } = spawnSpec(plan.stages[0], direct()).spec
      expect(stdio.get(1)).toEqual({ _tag: "Inherit" })
      expect(stdio.get(2)).toEqual({ _tag: "Fd", fd: 1 })
    }))

  it.effect("files opened for stdio reach their child fds", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(
        Command.make("prog").pipe(Command.stdin(Command.Input.file("/in")), Command.stdout(Command.Output.file("/out")))
      )
      const { stdio } = spawnSpec(plan.stages[0], { ...direct(), files: [40, 41] }).spec
      expect(stdio.get(0)).toEqual({ _tag: "Fd", fd: 40 })
      expect(stdio.get(1)).toEqual({ _tag: "Fd", fd: 41 })
    }))

  it.effect("the fd plan holds the fds given, whatever their numbers: its size follows their count", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(
        Command.make("prog").pipe(Command.passFd(1_000_000), Command.inputFd(2_000_000, "x"))
      )
      const { stdio } = spawnSpec(plan.stages[0], direct()).spec
      expect(stdio.size).toBe(5)
      expect(stdio.get(1_000_000)).toEqual({ _tag: "Fd", fd: 1_000_000 })
      expect(stdio.get(2_000_000)).toEqual({ _tag: "Pipe", toChild: true })
    }))

  it.effect("through the helper: it is the program, the command follows its options, its status fd is a pipe", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(
        Command.make("prog", "x").pipe(Command.workingDirectory("/tmp"), Command.processGroup("new"))
      )
      const { helperFds, spec } = spawnSpec(plan.stages[0], throughHelper)
      expect(spec.path).toBe("/lib/helper")
      expect(spec.argv[0]).toBe("/lib/helper")
      expect(spec.argv.slice(-3)).toEqual(["/bin/prog", "prog", "x"])
      // The helper does the group and the working directory itself.
      expect(spec.cwd).toBeUndefined()
      expect(spec.newGroup).toBe(false)
      expect(spec.deathSignal).toBeUndefined()
      expect(spec.stdio.get(helperFds!.status)).toEqual({ _tag: "Pipe", toChild: false })
    }))

  it.effect("2>&1 through the helper: the helper's dup2 joins fd 2, the spec leaves it alone", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(
        Command.make("prog").pipe(Command.stdout("pipe"), Command.stderr("stdout"))
      )
      const { spec } = spawnSpec(plan.stages[0], throughHelper)
      expect(spec.stdio.get(1)).toEqual({ _tag: "Pipe", toChild: false })
      expect(spec.stdio.get(2)).toEqual({ _tag: "Ignore" })
      expect(spec.argv).toContain("--stderr-to-stdout")
    }))

  it.effect("2>&1 into a pipe without the helper: fd 2 gets fd 1's pipe on the native engine, a socket pair's end on child_process", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(
        Command.make("prog").pipe(Command.stdout("pipe"), Command.stderr("stdout"))
      )
      const native = spawnSpec(plan.stages[0], direct()).spec
      expect(native.stdio.get(1)).toEqual({ _tag: "Pipe", toChild: false })
      expect(native.stdio.get(2)).toEqual({ _tag: "SameAs", fd: 1 })
      const socket = new Net.Socket()
      const childProcess = spawnSpec(plan.stages[0], { ...direct(), native: false, joined: socket }).spec
      expect(childProcess.stdio.get(1)).toEqual({ _tag: "Socket", socket })
      expect(childProcess.stdio.get(2)).toEqual({ _tag: "Socket", socket })
    }))

  it.effect("joints replace the stage's stdio: a pipe end by fd, a FIFO opened by the helper", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(Command.pipeTo(Command.make("a"), Command.make("b")))
      const [first, second] = plan.stages
      const out = spawnSpec(first, direct({ stdout: { _tag: "Fd", fd: 50 } })).spec
      expect(out.stdio.get(1)).toEqual({ _tag: "Fd", fd: 50 })
      const fifo = spawnSpec(second!, { ...throughHelper, links: { stdin: { _tag: "Fifo", path: "/run/j" } } }).spec
      expect(fifo.stdio.get(0)).toEqual({ _tag: "Ignore" })
      const at = fifo.argv.indexOf("--stdin-fifo")
      expect(fifo.argv[at + 1]).toBe("/run/j")
    }))
})
