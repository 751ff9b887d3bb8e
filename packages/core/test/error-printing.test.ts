/**
 * Errors that carry output print it as a person reads it: a length and a short preview with the
 * command's secrets blanked, never an array of numbers and never a secret.
 */
import * as Util from "node:util"

import { Command, CommandError, DryRunExecutor } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"

import { decode, encode } from "./support.js"

const secret = "s3cret-Xy9"
const server = Command.make("server", "--token", Redacted.make(secret)).pipe(Command.maxOutput(19))

describe("errors with output", () => {
  it.effect("the output's length and first bytes, secrets blanked, in JSON and console.log; the field as it came", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.string(server))
      expect(error._tag === "OutputLimitError" && decode(error.output)).toBe(`token ${secret} ok`)
      expect(JSON.parse(JSON.stringify(error)).output).toBe(`19 bytes: "token <redacted> ok"`)
      const shown = Util.inspect(error)
      expect(shown).toContain("OutputLimitError: server --token <redacted>: wrote more than 19 bytes")
      expect(shown).toContain(`19 bytes: \\"token <redacted> ok\\"`)
      expect(shown).not.toContain(secret)
      expect(shown).not.toMatch(/\b116, 111, 107\b/) // "tok" as numbers
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ stdout: `token ${secret} ok and more` })))))

  it.effect("the preview is cut at 64 bytes", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.string(server.pipe(Command.maxOutput(100))))
      expect(JSON.parse(JSON.stringify(error)).output).toBe(`100 bytes: "${"x".repeat(64)}"…`)
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ stdout: "x".repeat(200) })))))

  it("an error made elsewhere has no secrets to blank: only the length is printed", () => {
    const made = new CommandError.OutputLimitError({
      stream: "stdout",
      limit: 4,
      output: encode("abcd"),
      command: "yes"
    })
    expect(JSON.parse(JSON.stringify(made)).output).toBe("4 bytes")
    expect(Util.inspect(made)).not.toContain("abcd")
    expect(made.output).toEqual(encode("abcd"))
    const timedOut = new CommandError.CommandTimeoutError({
      timeout: Duration.millis(1),
      stdout: encode("abc"),
      stderr: new Uint8Array(0),
      command: "x"
    })
    expect(JSON.parse(JSON.stringify(timedOut))).toMatchObject({ stdout: "3 bytes", stderr: "0 bytes" })
  })
})
