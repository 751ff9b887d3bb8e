// Timeouts and cleanup of whole process trees; the drain delay for grandchildren holding stdout.
import assert from "node:assert/strict"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect } from "effect"

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const t0 = Date.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: Date.now() - t0 }
  })

const program = Effect.gen(function*() {
  // Command.timeout: kill policy (SIGTERM, grace, SIGKILL) on the whole group, reap, then a typed
  // error carrying what the child wrote before. The grandchild `sleep` goes with it.
  const slow = Command.make("sh", "-c", "echo partial; sleep 30 & sleep 30").pipe(
    Command.timeout("1 second"),
    Command.stdout("capture")
  )
  const error = yield* Effect.flip(Command.run(slow))
  assert.equal(error._tag, "CommandTimeoutError")
  if (error._tag === "CommandTimeoutError") {
    yield* Console.log(`${error.message}; output so far: ${new TextDecoder().decode(error.stdout).trim()}`)
  }

  // A child ignoring SIGTERM gets SIGKILL after the grace period.
  const stubborn = Command.make("sh", "-c", "trap '' TERM; sleep 30").pipe(
    Command.timeout("200 millis"),
    Command.killGrace("300 millis")
  )
  const { ms } = yield* elapsed(Command.run(stubborn))
  assert.ok(ms < 10_000) // 200 ms + 300 ms, plus start-up: not the 30 s of the sleep
  yield* Console.log("ignores SIGTERM: killed after timeout + grace, not after the 30 s sleep")

  // Effect.timeout (or any interruption) around a run helper also kills and reaps, without the details.
  const interrupted = yield* Effect.timeout(Command.run(Command.make("sleep", "30")), "200 millis").pipe(Effect.flip)
  yield* Console.log(`Effect.timeout: ${interrupted._tag}`)

  // A grandchild that keeps stdout open cannot hang a run: once the child exited, reads wait for
  // EOF at most the drain delay (default 1 s; 100 ms here), then the rest of the group is killed.
  const holder = Command.make("sh", "-c", "sleep 30 & echo child done")
  const drained = yield* elapsed(
    Command.string(holder).pipe(Effect.provide(NodeCommandExecutor.layerWith({ drainDelay: "100 millis" })))
  )
  assert.ok(drained.ms < 10_000 && drained.exit._tag === "Success")
  yield* Console.log(
    `drain delay: ${drained.exit._tag === "Success" ? drained.exit.value.trim() : ""}, not after the 30 s sleep`
  )
})

Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
