/** What a contained command's processes used, in RunResult: the whole tree's CPU time and peak RSS. */
import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"

/** A shell loop that keeps a CPU busy for a moment, in a child of the target (waited for by it). */
const busy = Command.make("sh", "-c", "sh -c 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done'; true")

describe("resource usage", () => {
  it.effect("a contained run reports the CPU time and peak RSS of its processes; a pipeline its stages' together", () =>
    Effect.gen(function*() {
      const { usage } = yield* Command.run(busy.pipe(Command.contain(true)))
      expect(usage).toBeDefined()
      const cpu = Duration.sum(usage!.userTime, usage!.systemTime)
      expect(Duration.toMillis(cpu)).toBeGreaterThan(10)
      // sh's own resident set, at least (a few hundred KiB), in bytes.
      expect(usage!.maxRss).toBeGreaterThan(100 * 1024)

      const piped = yield* Command.run(
        busy.pipe(Command.contain(true), Command.pipeTo(busy.pipe(Command.contain(true))))
      )
      expect(Duration.toMillis(Duration.sum(piped.usage!.userTime, piped.usage!.systemTime))).toBeGreaterThan(
        Duration.toMillis(cpu) / 2
      )
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.effect("uncontained, or a pipeline with an uncontained stage: unknown", () =>
    Effect.gen(function*() {
      expect((yield* Command.run(Command.make("true"))).usage).toBeUndefined()
      const mixed = yield* Command.run(
        Command.make("true").pipe(Command.contain(true), Command.pipeTo(Command.make("true")))
      )
      expect(mixed.usage).toBeUndefined()
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
