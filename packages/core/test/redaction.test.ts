import { inspect } from "node:util"

import { Command, DryRunExecutor, ExitStatus } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"

import { decode, usageError } from "./support.js"

const secrets = [
  "ARG-SECRET-1",
  "PAIR-SECRET-2",
  "TEMPLATE-SECRET-3",
  "ENV-SECRET-4",
  "ENVSTRING-SECRET-5",
  "FEED-SECRET-6"
]

const withSecrets = Command.make`/usr/bin/login --user bob ${Redacted.make(secrets[2]!)}`.pipe(
  Command.arg(Redacted.make(secrets[0]!)),
  Command.argPair("--token", Redacted.make(secrets[1]!)),
  Command.env("PASSWORD", Redacted.make(secrets[3]!)),
  Command.envString(Redacted.make(`API_KEY=${secrets[4]!}`)),
  Command.feed(Redacted.make(secrets[5]!))
)

/** Every way a value can become text. */
const renderings = (value: unknown): ReadonlyArray<string> => [
  JSON.stringify(value),
  String(value),
  inspect(value, { depth: Infinity }),
  ...(value instanceof Error ? [value.message, String(value.stack)] : [])
]

const expectNoSecret = (texts: ReadonlyArray<string>) => {
  for (const text of texts) {
    for (const secret of secrets) expect(text).not.toContain(secret)
  }
}

describe("redaction", () => {
  it("JSON.stringify, String and util.inspect of a command never show a Redacted value", () => {
    const texts = renderings(withSecrets)
    expectNoSecret(texts)
    for (const text of texts) expect(text).toContain("<redacted>")
  })

  it("toString and toLogLine show <redacted> for each Redacted value", () => {
    const expected =
      "env -i PASSWORD=<redacted> API_KEY=<redacted> /usr/bin/login --user bob <redacted> <redacted> <redacted>"
    expect(Command.toString(withSecrets)).toEqual(Either.right(expected))
    expect(Command.toLogLine(withSecrets)).toEqual(Either.right(expected))
    expect(Command.toString(withSecrets, { linebreaks: true }).pipe(Either.getOrThrow)).not.toMatch(/SECRET/)
  })

  it("the values still reach the child: wordValue and resolveEnv give them", () => {
    expect(withSecrets.args.map(Command.wordValue)).toEqual([
      "--user",
      "bob",
      secrets[2],
      secrets[0],
      `--token=${secrets[1]}`
    ])
    const env = Command.resolveEnv(withSecrets, {})
    expect(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, Command.wordValue(v)]))).toEqual({
      PASSWORD: secrets[3],
      API_KEY: secrets[4]
    })
  })

  it("CommandUsageError's message and JSON never show a Redacted value", () => {
    const broken = withSecrets.pipe(Command.passFd(1), Command.envString(Redacted.make("NO-EQUALS-ENVSTRING-SECRET-5")))
    const error = usageError(broken)
    expect(error.reasons).toEqual([
      expect.stringMatching(/passed fd/),
      "the environment string <redacted> has no \"=\""
    ])
    expectNoSecret(renderings(error))
    expect(error.message).toContain("<redacted>")
  })

  it.effect("ExitError's and SignalError's messages and JSON never show a Redacted value", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.flip(Command.run(withSecrets)).pipe(
        Effect.provide(DryRunExecutor.layer(() => ({ status: 2, stderr: "login failed\n" })))
      )
      expect(exit).toMatchObject({ _tag: "ExitError", exitCode: 2, stderrTail: "login failed" })
      expect(exit.message).toContain("<redacted>")
      expectNoSecret(renderings(exit))

      const signal = yield* Effect.flip(Command.run(withSecrets)).pipe(
        Effect.provide(DryRunExecutor.layer(() => ({ status: ExitStatus.signaled("SIGSEGV") })))
      )
      expect(signal._tag).toBe("SignalError")
      expectNoSecret(renderings(signal))
    }))

  it.effect("the dry-run line is redacted while the recorded argv, env and stdin carry the values", () =>
    Effect.gen(function*() {
      yield* Command.run(withSecrets)
      const [entry] = yield* DryRunExecutor.recorded
      expectNoSecret([entry!.line])
      expect(entry!.args.map(Command.wordValue)).toContain(secrets[0])
      expect(Command.wordValue(entry!.env["PASSWORD"]!)).toBe(secrets[3])
      expect(decode(entry!.stdin)).toBe(secrets[5])
    }).pipe(Effect.provide(DryRunExecutor.layer())))
})
