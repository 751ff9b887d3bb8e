/** Durations past what one timer takes (2^31-1 ms, about 24.8 days) are honoured, not cut to 1 ms. */
import { Command, CommandError } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

import { text } from "../support/run.js"

/**
 * A shell that, on SIGTERM, takes 300 ms to write its last words and exit: a grace cut short
 * (SIGKILL at once) loses them.
 */
const slowToDie = Command.make(
  "/bin/sh",
  "-c",
  "trap 'sleep 0.3; echo last words; exit 0' TERM; echo ready; while :; do sleep 0.05; done"
)

describe("long durations are honoured", () => {
  for (const grace of ["30 days", 2 ** 31, 2 ** 53] as const) {
    it.live(`killGrace(${JSON.stringify(grace)}): the child gets its grace after the kill signal, not SIGKILL after 1 ms`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Command.run(
            slowToDie.pipe(Command.killGrace(grace), Command.timeout("300 millis"), Command.stdout("capture"))
          )
        )
        expect(error).toBeInstanceOf(CommandError.CommandTimeoutError)
        if (!(error instanceof CommandError.CommandTimeoutError)) return
        expect(text(error.stdout)).toBe("ready\nlast words\n")
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }

  it.live("timeout(\"30 days\") does not fire early: the run ends with the child", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(
        Command.make("/bin/sh", "-c", "sleep 0.2; echo done").pipe(Command.timeout("30 days"))
      )
      expect(out).toBe("done\n")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
