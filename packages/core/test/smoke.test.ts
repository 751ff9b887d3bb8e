import { Command, DryRunExecutor } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"

describe("smoke", () => {
  it("renders libvirt's test16 line", () => {
    const cmd = Command.make("true", "F", "G  H").pipe(Command.env("A", "B"), Command.env("C", "D  E"))
    expect(Command.toString(cmd)).toEqual(Either.right("A=B C='D  E' true F 'G  H'"))
    expect(Command.toLogLine(cmd)).toEqual(Either.right("A=B C=D  E true F G  H"))
  })
  it.effect("runs through the dry-run executor", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(Command.make`/bin/echo hello ${Redacted.make("secret")}`.pipe(Command.feed("in")))
      expect(out).toBe("scripted")
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.line).toBe("/bin/echo hello <redacted>")
      expect(new TextDecoder().decode(entry?.stdin)).toBe("in")
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ stdout: "scripted" })))))
  it.effect("fails with ExitError", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(Command.run(Command.make("x")))
      expect(err._tag).toBe("ExitError")
      expect(err.message).toContain("oops")
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ status: 3, stderr: "oops\n" })))))
})
