/**
 * The layers' options: each one takes effect on both layers (NodeCommandExecutor and
 * PlatformCommandExecutor), durations are honoured however long, options that make no sense fail
 * every command before anything runs, the helper's absence is explained, and importing the package
 * loads and looks for nothing.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

import type { CommandError, CommandExecutor } from "@effect-command/core"
import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { PlatformCommandExecutor } from "@effect-command/node/platform"
import * as PlatformCommand from "@effect/platform/Command"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Duration, Effect } from "effect"

import { helperPath } from "../support/raw-helper.js"
import { evidence, failsCleanly, makeTempDir, removeTempDir, withEnv } from "../support/run.js"

const repoRoot = Path.resolve(import.meta.dirname, "../../../..")
const nativeBuilt = NodeCommandExecutor.engineInUse() === "native"

let dir = ""
beforeAll(() => {
  dir = makeTempDir("ec-layer-")
})
afterAll(() => removeTempDir(dir))

/** The same script through either layer: what it printed. */
type Runner = (options: PlatformCommandExecutor.Options, script: string) => Effect.Effect<string, unknown>

const runners: ReadonlyArray<readonly [string, Runner]> = [
  [
    "NodeCommandExecutor",
    (options, script) =>
      Command.string(Command.make("sh", "-c", script)).pipe(Effect.provide(NodeCommandExecutor.layerWith(options)))
  ],
  [
    "PlatformCommandExecutor",
    (options, script) =>
      PlatformCommand.string(PlatformCommand.make("sh", "-c", script)).pipe(
        Effect.provide(PlatformCommandExecutor.layerWith(options))
      )
  ]
]

/** How the child's stdout is connected, and whether the child leads its own session. */
const probeScript =
  `stdout=$(readlink /proc/$$/fd/1); set -- $(cut -d' ' -f6 /proc/$$/stat); echo "\${stdout%%:*} $([ "$1" = $$ ] && echo session-leader || echo in-parent-session)"`

describe.each(runners)("%s takes every option", (_, run) => {
  it.live("engine: child_process spawns with child_process (the child's stdout is a socket)", () =>
    Effect.gen(function*() {
      expect(yield* run({ engine: "child_process" }, probeScript)).toMatch(/^socket /)
      // The native engine gives real pipes.
      if (nativeBuilt && process.env.EFFECT_COMMAND_SPAWN !== "child_process") {
        expect(yield* run({}, probeScript)).toMatch(/^pipe /)
      }
    }))

  it.live("helper: never spawns without the helper (child_process's child then leads a session)", () =>
    Effect.gen(function*() {
      expect(Fs.existsSync(helperPath)).toBe(true)
      // The helper only sets the process group; child_process alone makes a new session.
      expect(yield* run({ engine: "child_process" }, probeScript)).toBe("socket in-parent-session\n")
      expect(yield* run({ engine: "child_process", helper: "never" }, probeScript)).toBe("socket session-leader\n")
    }))

  it.live("drainDelay: a grandchild holding stdout is cut after the given delay, not the default 1 s", () =>
    Effect.gen(function*() {
      // Within the default delay the grandchild's line would be read.
      const script = "(sleep 0.5; echo late) & echo early"
      expect(yield* run({}, script)).toBe("early\nlate\n")
      expect(yield* run({ drainDelay: "50 millis" }, script)).toBe("early\n")
    }))

  for (const long of ["30 days", Infinity, Duration.infinity, 2 ** 53] as const) {
    it.live(`drainDelay: ${String(long)} is honoured: output written after the child exited is read`, () =>
      Effect.gen(function*() {
        // The child exits at once; its grandchild writes 300 ms later, then closes the pipe.
        expect(yield* run({ drainDelay: long }, "(sleep 0.3; echo late) & echo early")).toBe("early\nlate\n")
      }))
  }
})

describe("options that make no sense fail every command before anything runs", () => {
  const bad: ReadonlyArray<readonly [string, NodeCommandExecutor.Options, string]> = [
    ["drainDelay NaN", { drainDelay: NaN }, "drainDelay must be a duration of zero or more, not NaN"],
    ["drainDelay -1", { drainDelay: -1 }, "not -1"],
    ["drainDelay -Infinity", { drainDelay: -Infinity }, "not -Infinity"],
    ["drainDelay \"-5 seconds\"", { drainDelay: "-5 seconds" }, "not \"-5 seconds\""],
    ["drainDelay \"5 dayz\"", { drainDelay: "5 dayz" as Duration.DurationInput }, "not \"5 dayz\""],
    ["drainDelay [1, NaN]", { drainDelay: [1, NaN] }, "not 1,NaN"],
    ["drainDelay {}", { drainDelay: {} as Duration.DurationInput }, "drainDelay must be"],
    ["engine native", { engine: "native" as "auto" }, "engine must be \"auto\" or \"child_process\", not \"native\""],
    ["helper 5", { helper: 5 as unknown as string }, "helper must be \"auto\", \"never\" or a path, not 5"],
    ["helper \"\"", { helper: "" }, "not \"\""]
  ]
  for (const [name, options, reason] of bad) {
    it.live(`${name}: CommandUsageError naming the option, nothing spawned`, () =>
      Effect.gen(function*() {
        const marker = Path.join(dir, `spawned-${name.replace(/\W+/g, "-")}`)
        const error = yield* failsCleanly(Command.run(evidence(marker))).pipe(
          Effect.provide(NodeCommandExecutor.layerWith(options))
        )
        expect(error._tag).toBe("CommandUsageError")
        expect(error._tag === "CommandUsageError" && error.reasons.join("; ")).toContain(reason)
        const platform = yield* Effect.flip(
          PlatformCommand.exitCode(PlatformCommand.make("sh", "-c", `echo > '${marker}'`))
        ).pipe(
          Effect.provide(PlatformCommandExecutor.layerWith(options))
        )
        expect(platform._tag).toBe("BadArgument")
        expect(platform.message).toContain(reason)
        expect(Fs.existsSync(marker)).toBe(false)
      }))
  }

  it.live("drainDelay 0 is a valid delay: output already written is still read", () =>
    Effect.gen(function*() {
      expect(yield* Command.string(Command.make("sh", "-c", "sleep 20 & echo early"))).toBe("early\n")
    }).pipe(Effect.provide(NodeCommandExecutor.layerWith({ drainDelay: 0 }))))
})

describe("without the helper, the error says why it is missing and what needs it", () => {
  const refused = (layer: Layer.Layer<CommandExecutor.CommandExecutor>, command: Command.Command) =>
    Effect.gen(function*() {
      const error = yield* failsCleanly(Command.run(command)).pipe(Effect.provide(layer))
      expect(error._tag).toBe("SpawnError")
      return error as CommandError.SpawnError
    })

  it.live("helper: never says it was switched off", () =>
    Effect.gen(function*() {
      const error = yield* refused(
        NodeCommandExecutor.layerWith({ helper: "never" }),
        Command.make("true").pipe(Command.umask(0o22))
      )
      expect(error.reason).toBe("HelperMissing")
      expect(error.detail).toBe(
        "the child-side helper is needed for umask, but it is switched off by the layer option `helper: \"never\"`"
      )
    }))

  it.live("a helper path that is not there is named, and the settings are listed as a sentence", () =>
    Effect.gen(function*() {
      const missing = Path.join(dir, "no-helper-here")
      const command = Command.make("true").pipe(Command.umask(0o22), Command.limit("NOFILE", 64), Command.uid(0))
      const error = yield* refused(NodeCommandExecutor.layerWith({ helper: missing }), command)
      expect(error.detail).toBe(
        `the child-side helper is needed for umask, resource limits and credentials, but the layer option \`helper\` names ${missing}, which is not an executable file (ENOENT)`
      )
      const two = yield* refused(
        NodeCommandExecutor.layerWith({ helper: dir }),
        Command.make("true").pipe(Command.umask(0o22), Command.daemonize())
      )
      expect(two.detail).toBe(
        `the child-side helper is needed for umask and daemonize, but the layer option \`helper\` names ${dir}, which is not an executable file (not a file)`
      )
    }))

  it.live("EFFECT_COMMAND_HELPER naming nothing is said so", () =>
    Effect.gen(function*() {
      const missing = Path.join(dir, "env-helper")
      const error = yield* withEnv(
        { EFFECT_COMMAND_HELPER: missing },
        refused(NodeCommandExecutor.layer, Command.make("true").pipe(Command.umask(0o22)))
      )
      expect(error.detail).toBe(
        `the child-side helper is needed for umask, but EFFECT_COMMAND_HELPER names ${missing}, which is not an executable file (ENOENT)`
      )
    }))
})

/** Runs a fixture in a fresh Node process; its stdout, parsed. */
const fixture = (args: ReadonlyArray<string>, prefix: ReadonlyArray<string> = []) =>
  Effect.async<unknown, Error>((resume) => {
    const [file, ...rest] = [...prefix, process.execPath, "--import", "tsx", "--conditions=source", ...args]
    ChildProcess.execFile(
      file!,
      rest,
      { cwd: repoRoot, timeout: 60_000 },
      (error, stdout, stderr) =>
        resume(
          error !== null ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.succeed(JSON.parse(stdout))
        )
    )
  })

describe("layers are built, not imported", () => {
  it.live(
    "importing the package loads no engine and looks for no helper; building the layer does",
    () =>
      Effect.gen(function*() {
        const result = yield* fixture([Path.join(import.meta.dirname, "../fixtures/import-effects.ts")])
        expect(result).toEqual({
          afterImport: { engineMapped: false, helperLooked: false },
          afterBuild: {
            engineMapped: nativeBuilt && process.env.EFFECT_COMMAND_SPAWN !== "child_process",
            helperLooked: true
          }
        })
      }),
    60_000
  )
})

describe("a native engine that does not load", () => {
  it.live("the layer says so once, with why, and runs commands on child_process", () =>
    Effect.gen(function*() {
      const result = yield* fixture([Path.join(import.meta.dirname, "../fixtures/engine-unavailable.ts")])
      expect(result).toEqual({
        codes: [0, 0],
        warnings: [
          "effect-command: the native spawn engine is not used (/nonexistent/engine.node does not exist); children are spawned with node:child_process"
        ],
        engine: "child_process",
        reason: "/nonexistent/engine.node does not exist"
      })
    }), 60_000)
})

describe("spawn errors name the program, not the helper", () => {
  // As an unprivileged user under a low process limit (root ignores RLIMIT_NPROC).
  const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "prlimit", "--nproc=40"]
  const canDrop = process.getuid?.() === 0 && Fs.existsSync("/usr/bin/setpriv") && Fs.existsSync("/usr/bin/prlimit")
  for (const engine of ["child_process", "auto"] as const) {
    it.live.skipIf(!canDrop)(
      `EAGAIN (too many processes) with engine ${engine}: the detail says so, no helper path`,
      () =>
        Effect.gen(function*() {
          const error = (yield* fixture(
            [Path.join(import.meta.dirname, "../fixtures/spawn-eagain.ts"), JSON.stringify({ engine })],
            asNobody
          )) as { _tag: string; errno: string; detail: string; message: string }
          expect(error).toMatchObject({ _tag: "SpawnError", errno: "EAGAIN", command: "sleep 30" })
          expect(error.detail).toContain("too many processes")
          expect(error.message).not.toContain("effect-command-helper")
          expect(error.message).toMatch(/^sleep 30: /)
        }),
      60_000
    )
  }
})
