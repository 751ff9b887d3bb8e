import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

describe("node smoke", () => {
  it.effect("echo", () =>
    Effect.gen(function*() {
      expect(yield* Command.string(Command.make("echo", "hi"))).toBe("hi\n")
      expect(yield* Command.string(Command.make("cat").pipe(Command.feed("abc")))).toBe("abc")
      const e = yield* Effect.flip(Command.run(Command.make("sh", "-c", "echo bad >&2; exit 3")))
      expect(e._tag).toBe("ExitError")
      expect(e.message).toContain("bad")
      const joined = yield* Command.string(
        Command.make("sh", "-c", "echo 1; echo 2 >&2; echo 3").pipe(Command.stderr("stdout"))
      )
      expect(joined).toBe("1\n2\n3\n")
      const t0 = Date.now()
      const out = yield* Command.string(Command.make("sh", "-c", "sleep 5 & echo hi"))
      expect(out).toBe("hi\n")
      expect(Date.now() - t0).toBeLessThan(3000)
      const nf = yield* Effect.flip(Command.run(Command.make("no-such-program-xyz")))
      expect(nf._tag).toBe("SpawnError")
      console.log(nf.message)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
