/**
 * The child's environment, exactly as the command's policy says, with the parent's environment
 * read when the command runs (not when it is built).
 */
import * as Path from "node:path"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"

import { parseReport, probePath } from "./support/probe.js"
import { parentEnv, probe, rendered, withEnv } from "./support/run.js"

/** The environment the probe reports for `command`. */
const childEnv = (command: Command.Command) => Effect.map(Command.string(command), (out) => parseReport(out).env)

const report = probe("--no-stdin", "--quiet-io")

describe("environment", () => {
  it.live("default: the child inherits the parent's whole process.env", () =>
    Effect.gen(function*() {
      const env = yield* childEnv(report)
      expect(env).toEqual(parentEnv())
      expect(Object.keys(env).length).toBeGreaterThan(3)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("envPassCommon: LC_ALL=C plus only those common variables the parent has", () =>
    withEnv(
      {
        // Some set, some unset, whatever the machine has.
        TMPDIR: "/tmp/ec-env-test",
        LD_LIBRARY_PATH: undefined,
        LD_PRELOAD: undefined,
        LOGNAME: "ec-logname",
        EC_NOT_COMMON: "dropped"
      },
      Effect.gen(function*() {
        const env = yield* childEnv(report.pipe(Command.envPassCommon))
        const expected: Record<string, string> = { LC_ALL: "C" }
        for (const name of ["LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "HOME", "USER", "LOGNAME", "TMPDIR"]) {
          const value = process.env[name]
          if (value !== undefined) expected[name] = value
        }
        expect(env).toEqual(expected)
        expect(env.TMPDIR).toBe("/tmp/ec-env-test")
        expect(env.LOGNAME).toBe("ec-logname")
        expect(env.PATH).toBe(process.env.PATH)
        expect("LD_PRELOAD" in env).toBe(false)
        expect("LD_LIBRARY_PATH" in env).toBe(false)
      })
    ).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("envPassCommon with every common variable set", () =>
    withEnv(
      {
        LD_PRELOAD: "",
        LD_LIBRARY_PATH: "/ec/lib",
        HOME: "/ec/home",
        USER: "ec-user",
        LOGNAME: "ec-logname",
        TMPDIR: "/ec/tmp"
      },
      Effect.gen(function*() {
        const env = yield* childEnv(report.pipe(Command.envPassCommon))
        expect(env).toEqual({
          LC_ALL: "C",
          LD_PRELOAD: "",
          LD_LIBRARY_PATH: "/ec/lib",
          PATH: process.env.PATH,
          HOME: "/ec/home",
          USER: "ec-user",
          LOGNAME: "ec-logname",
          TMPDIR: "/ec/tmp"
        })
      })
    ).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("env and envString: exactly those entries, a name set twice replaced", () =>
    Effect.gen(function*() {
      const env = yield* childEnv(
        report.pipe(
          Command.env("A", "1"),
          Command.envString("B=x=y"),
          Command.env("EMPTY", ""),
          Command.env("MULTI", "line one\nline two"),
          Command.env("A", "replaced"),
          Command.envString("C=ünï")
        )
      )
      expect(env).toEqual({ A: "replaced", B: "x=y", EMPTY: "", MULTI: "line one\nline two", C: "ünï" })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("envPass of a set and an unset variable", () =>
    withEnv(
      { EC_SET: "set value", EC_UNSET: undefined },
      Effect.gen(function*() {
        const env = yield* childEnv(report.pipe(Command.envPass("EC_SET", "EC_UNSET"), Command.env("OWN", "1")))
        expect(env).toEqual({ EC_SET: "set value", OWN: "1" })
      })
    ).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("envInherit + env + envUnset: the parent's environment with the entries applied on top", () =>
    withEnv(
      { EC_INHERITED: "kept", EC_OVERRIDDEN: "old", EC_REMOVED: "gone" },
      Effect.gen(function*() {
        const env = yield* childEnv(
          report.pipe(
            Command.env("EC_NEW", "new"),
            Command.envInherit,
            Command.env("EC_OVERRIDDEN", "new"),
            Command.envUnset("EC_REMOVED"),
            Command.envUnset("EC_NEVER_SET")
          )
        )
        const expected = parentEnv()
        delete expected.EC_REMOVED
        expect(env).toEqual({ ...expected, EC_NEW: "new", EC_OVERRIDDEN: "new" })
        expect(env.EC_INHERITED).toBe("kept")
      })
    ).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("envClear after envInherit: empty again", () =>
    Effect.gen(function*() {
      const env = yield* childEnv(
        report.pipe(Command.envInherit, Command.env("X", "1"), Command.envClear, Command.env("Y", "2"))
      )
      expect(env).toEqual({ Y: "2" })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a Redacted value reaches the child, but not the rendered command", () =>
    Effect.gen(function*() {
      const cmd = report.pipe(
        Command.env("SECRET", Redacted.make("s3cret value")),
        Command.envString(Redacted.make("TOKEN=t0k"))
      )
      const env = yield* childEnv(cmd)
      expect(env).toEqual({ SECRET: "s3cret value", TOKEN: "t0k" })
      expect(rendered(cmd)).toBe(`env -i SECRET=<redacted> TOKEN=<redacted> ${probePath} --no-stdin --quiet-io`)
      // An error shows the redacted line too.
      const error = yield* Effect.flip(Command.run(cmd.pipe(Command.arg("--exit"), Command.arg("3"))))
      expect(error.message).not.toContain("s3cret")
      expect(error.message).not.toContain("t0k")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("the parent's environment is read when the command runs, not when it is built", () =>
    Effect.gen(function*() {
      const inheriting = report
      const passing = report.pipe(Command.envPass("EC_LATE"))
      const common = report.pipe(Command.envPassCommon)
      yield* withEnv(
        { EC_LATE: "late value", TMPDIR: "/ec/late-tmp" },
        Effect.gen(function*() {
          expect((yield* childEnv(inheriting)).EC_LATE).toBe("late value")
          expect(yield* childEnv(passing)).toEqual({ EC_LATE: "late value" })
          expect((yield* childEnv(common)).TMPDIR).toBe("/ec/late-tmp")
        })
      )
      yield* withEnv(
        { EC_LATE: undefined },
        Effect.gen(function*() {
          expect("EC_LATE" in (yield* childEnv(inheriting))).toBe(false)
          expect(yield* childEnv(passing)).toEqual({})
        })
      )
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a bare program name is searched in the parent's PATH when the command runs", () =>
    Effect.gen(function*() {
      const bare = Command.make(Path.basename(probePath), "--no-stdin", "--quiet-io")
      const before = yield* Effect.flip(Command.string(bare))
      expect(before._tag === "SpawnError" && before.reason).toBe("NotFound")
      const path = `${Path.dirname(probePath)}:${process.env.PATH ?? ""}`
      const out = yield* withEnv({ PATH: path }, Command.string(bare))
      const got = parseReport(out)
      expect(got.env.PATH).toBe(path)
      expect(got.args).toEqual(["--no-stdin", "--quiet-io"])
      // The child's own PATH does not matter for the search, only the parent's.
      const childPath = yield* Effect.flip(Command.string(bare.pipe(Command.env("PATH", Path.dirname(probePath)))))
      expect(childPath._tag === "SpawnError" && childPath.reason).toBe("NotFound")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
