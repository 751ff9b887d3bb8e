// Running asynchronously: start, talk to the child, wait, kill, abort, detach; nothing leaks.
import assert from "node:assert/strict"
import * as Fs from "node:fs"

import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Fiber, Stream } from "effect"

const alive = (pid: number) => Fs.existsSync(`/proc/${pid}`)
const firstLine = (stdout: Stream.Stream<Uint8Array, unknown>) =>
  stdout.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.runHead,
    Effect.map((line) => line._tag === "Some" ? line.value : "")
  )

const program = Effect.gen(function*() {
  // virCommandRunAsync + virCommandWait: a conversation with `sed` over pipes, in a scope.
  yield* Effect.scoped(Effect.gen(function*() {
    const sed = yield* Command.start(
      Command.make("sed", "-u", "s/^/echo: /").pipe(Command.stdin("pipe"), Command.stdout("pipe"))
    )
    yield* Console.log(`started sed, pid ${sed.pid}`)
    const reply = yield* Effect.fork(firstLine(sed.stdout))
    yield* Stream.run(Stream.make("hello\n").pipe(Stream.encodeText), sed.stdin) // completing the sink closes stdin
    yield* Console.log(`reply: ${yield* Fiber.join(reply)}`)
    yield* Console.log(`wait: ${ExitStatus.format(yield* sed.wait)}`)
  }))

  // Process.kill sends a signal to the child's process group; wait reports how it ended.
  const sleeper = Command.make("sleep", "30")
  const killed = yield* Effect.scoped(
    Effect.flatMap(Command.start(sleeper), (p) => Effect.zipRight(p.kill("SIGINT"), p.wait))
  )
  yield* Console.log(`kill(SIGINT): ${ExitStatus.format(killed)}`)

  // virCommandAbort with escalation: SIGTERM is ignored, so after the grace comes SIGKILL.
  const stubborn = Command.make("sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done").pipe(
    Command.stdout("pipe"),
    Command.killGrace("200 millis")
  )
  const aborted = yield* Effect.scoped(Effect.gen(function*() {
    const p = yield* Command.start(stubborn)
    yield* firstLine(p.stdout) // it has set its trap
    return yield* p.abort
  }))
  yield* Console.log(`abort: ${ExitStatus.format(aborted)}`)

  // Closing the scope kills and reaps the child: leaving the scope with it running is safe.
  const pid = yield* Effect.scoped(Effect.map(Command.start(sleeper), (p) => p.pid))
  assert.ok(!alive(pid))
  yield* Console.log("scope closed: the child is gone")

  // detach (virCommandRunAsync with a pid pointer): the child outlives the scope; abort it later.
  const detached = yield* Effect.scoped(Effect.flatMap(Command.start(sleeper), (p) => p.detach))
  assert.ok(alive(detached.pid))
  yield* Console.log(`detached: alive after its scope; abort: ${ExitStatus.format(yield* detached.abort)}`)
})

Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
