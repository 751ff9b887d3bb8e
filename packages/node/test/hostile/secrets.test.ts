/**
 * A Redacted argument that the child echoes to stderr, straddling the start of the stderr tail an
 * error keeps: no piece of it shows in the error, its message, its JSON or `Cause.pretty`.
 */
import { Command, CommandError } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Redacted } from "effect"

/** The stderr tail an error keeps, in bytes. */
const tail = 8 * 1024

const secret = "JKQXZJKQXZJKQXZJKQXZ-s3cret"

/** Every piece of the secret of 4 characters or more. */
const fragments = (s: string): Array<string> => {
  const out: Array<string> = []
  for (let length = 4; length <= s.length; length++) {
    for (let at = 0; at + length <= s.length; at++) out.push(s.slice(at, at + length))
  }
  return out
}

describe("a secret straddling the cut of the stderr tail", () => {
  for (const shift of [1, 4, 12, secret.length - 4, secret.length - 1]) {
    it.live(`with ${shift} of its characters inside the tail: no fragment of it in the ExitError`, () =>
      Effect.gen(function*() {
        // printf writes the secret then `shift` characters later the tail begins: pad so that
        // exactly `shift` characters of the secret fall inside the last 8 KiB.
        const after = tail - shift
        const command = Command.make(
          "/bin/sh",
          "-c",
          `printf '%s' "$1" >&2; head -c ${after} /dev/zero | tr '\\0' x >&2; exit 1`,
          "sh",
          Redacted.make(secret)
        )
        const error = yield* Effect.flip(Command.run(command))
        expect(error).toBeInstanceOf(CommandError.ExitError)
        const shown = [
          error.message,
          String(error),
          JSON.stringify(error),
          Cause.pretty(Cause.fail(error)),
          error instanceof CommandError.ExitError ? error.stderrTail : ""
        ].join("\n")
        for (const fragment of fragments(secret)) expect(shown).not.toContain(fragment)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }
})
