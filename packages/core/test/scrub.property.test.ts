/**
 * No part of a secret shows in an error, the debug log or their renderings, wherever the secret
 * sits in the child's output: across the start of the 8 KiB stderr tail, across the start of the
 * 1 KiB a "Result" log line shows, cut off at either edge by a tail buffer or by the output's end.
 */
import { inspect } from "node:util"

import { Command, DryRunExecutor } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, FastCheck as fc, Logger, LogLevel, Redacted } from "effect"

const tail = 8 * 1024
const logCut = 1024

/** Characters of secrets: none of them is in the filler, the command line or an error's text. */
const secretChars = ["Q", "X", "Z", "J", "K", "é", "日", "😀"]
const fillerChars = [".", "a", "\n", " "]

const encode = (text: string): Uint8Array => new TextEncoder().encode(text)

/** Every fragment of `secret` that must not show: its 4-character pieces, or all of it when shorter. */
const fragments = (secret: string): Array<string> => {
  const chars = [...secret]
  if (chars.length < 4) return [secret]
  return chars.slice(0, chars.length - 3).map((_, i) => chars.slice(i, i + 4).join(""))
}

/** A rendering's stack frames: where the code is (a checkout's random temp path has letters of secrets). */
const stackFrames = /\n\s+at [^\n]*/g

const expectNoFragment = (secret: string, texts: ReadonlyArray<string>) => {
  for (const text of texts.map((text) => text.replace(stackFrames, ""))) {
    for (const fragment of fragments(secret)) {
      const at = text.indexOf(fragment)
      if (at !== -1) {
        throw new Error(
          `${JSON.stringify(fragment)} of the secret shows: …${JSON.stringify(text.slice(at - 40, at + 40))}…`
        )
      }
    }
  }
}

/** `length` bytes of filler. */
const filler = (length: number, seed: number): string => {
  let text = ""
  for (let i = 0; i < length; i++) text += fillerChars[(i * 7 + seed) % fillerChars.length]
  return text
}

/**
 * An output of which the last `cut` bytes are shown: the secret starts `offset` bytes after the
 * start of what is shown (before it when negative), or, with `truncatedTo`, the output ends after
 * that many bytes of the secret.
 */
const placed = (secret: string, cut: number, offset: number, truncatedTo: number | undefined): Uint8Array => {
  const bytes = encode(secret)
  const parts = truncatedTo === undefined
    ? [encode(filler(200, 0)), bytes, encode(filler(cut - offset - bytes.length, 1))]
    : [encode(filler(cut + 50, 0)), bytes.subarray(0, truncatedTo)]
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

const placement = (cut: number) =>
  fc.array(fc.constantFrom(...secretChars), { minLength: 1, maxLength: 24 }).chain((chars) => {
    const secret = chars.join("")
    const length = encode(secret).length
    return fc.record({
      secret: fc.constant(secret),
      // From wholly cut off to wholly shown, every byte of the secret across the cut.
      offset: fc.integer({ min: -length - 2, max: 4 }),
      truncatedTo: fc.option(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { nil: undefined, freq: 4 }),
      captured: fc.boolean(),
      cut: fc.constant(cut)
    })
  })

/** Runs a command with the secret as an argument that exits 1 with `stdout` and `stderr`; returns the error and the log. */
const runFailing = (secret: string, options: { stdout: Uint8Array; stderr: Uint8Array; captured: boolean }) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => void logs.push(inspect(message, { depth: Infinity })))
    const cmd = Command.make("/bin/tool", Redacted.make(secret)).pipe(
      options.captured ? Command.stderr("capture") : (c: Command.Command) => c
    )
    const error = yield* Effect.flip(Command.run(cmd)).pipe(
      Logger.withMinimumLogLevel(LogLevel.Debug),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Effect.provide(DryRunExecutor.layer(() => ({ status: 1, stdout: options.stdout, stderr: options.stderr })))
    )
    return { error, logs }
  })

describe("secrets in output", () => {
  it.effect.prop(
    "no 4-character fragment of a secret shows in an ExitError when it straddles the start of the stderr tail",
    [placement(tail)],
    ([p]) =>
      Effect.gen(function*() {
        const stderr = placed(p.secret, p.cut, p.offset, p.truncatedTo)
        const { error, logs } = yield* runFailing(p.secret, { stdout: new Uint8Array(0), stderr, captured: p.captured })
        expect(error._tag).toBe("ExitError")
        expectNoFragment(p.secret, [
          error.message,
          String(error),
          JSON.stringify(error),
          inspect(error, { depth: Infinity }),
          Cause.pretty(Cause.fail(error)),
          ...("stderrTail" in error ? [error.stderrTail] : []),
          ...logs
        ])
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it.effect.prop(
    "no 4-character fragment of a secret shows in the debug Result line when it straddles the start of the 1 KiB it shows",
    [placement(logCut)],
    ([p]) =>
      Effect.gen(function*() {
        const output = placed(p.secret, p.cut, p.offset, p.truncatedTo)
        const { logs } = yield* runFailing(p.secret, { stdout: output, stderr: output, captured: p.captured })
        expect(logs.some((line) => line.includes("Result"))).toBe(true)
        expectNoFragment(p.secret, logs)
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it.effect("a secret straddling the start of the stderr tail leaves nothing of it in the error", () =>
    Effect.gen(function*() {
      const secret = "QXZJKQXZJKQXZJKQXZJK"
      for (const captured of [false, true]) {
        const { error } = yield* runFailing(secret, {
          stdout: new Uint8Array(0),
          stderr: placed(secret, tail, -8, undefined),
          captured
        })
        expectNoFragment(secret, [error.message, JSON.stringify(error)])
        expect(error).toMatchObject({ _tag: "ExitError", stderrTail: expect.stringMatching(/^<redacted>/) })
      }
    }))

  it.effect("a secret straddling the start of what the Result line shows leaves nothing of it in the log", () =>
    Effect.gen(function*() {
      const secret = "QXZJKQXZJKQXZJKQXZJK"
      const output = placed(secret, logCut, -8, undefined)
      const { logs } = yield* runFailing(secret, { stdout: output, stderr: output, captured: true })
      expectNoFragment(secret, logs)
      expect(logs.join("\n")).toContain("stdout: '<redacted>")
    }))

  it.effect("a secret that does not touch a cut is blanked and the text around it kept", () =>
    Effect.gen(function*() {
      const { error } = yield* runFailing("QXZJ", {
        stdout: new Uint8Array(0),
        stderr: encode("before QXZJ after\n"),
        captured: false
      })
      expect(error).toMatchObject({ _tag: "ExitError", stderrTail: "before <redacted> after" })
    }))

  it.effect("output without secrets is cut at the tail unchanged", () =>
    Effect.gen(function*() {
      const stderr = encode(`${"x".repeat(100)}${"y".repeat(tail)}`)
      const { error } = yield* runFailing("QXZJ", { stdout: new Uint8Array(0), stderr, captured: true })
      expect(error).toMatchObject({ _tag: "ExitError", stderrTail: "y".repeat(tail) })
    }))
})
