// The effect-command side of docs/migrating.md: common execa and @effect/platform idioms, translated.
import assert from "node:assert/strict"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect } from "effect"

process.env.FROM_PARENT = "yes"

const program = Effect.gen(function*() {
  // execa`echo ${name}` → stdout without its final newline (execa strips it, we do not).
  const name = "a b"
  const out = (yield* Command.string(Command.make`echo ${name}`)).trimEnd()
  yield* Console.log(`string: ${JSON.stringify(out)}`)

  // execa(..., {reject: false}) / platform's Command.exitCode → the status is the value.
  const code = yield* Command.exitCode(Command.make("sh", "-c", "exit 4"))
  yield* Console.log(`exitCode: ${code}`)

  // platform's Command.string ignores the exit code; ours fails. Recover explicitly if you must.
  const lenient = yield* Command.string(Command.make("sh", "-c", "echo partial; exit 1")).pipe(
    Effect.catchTag("ExitError", () => Effect.succeed("(failed, ignored)"))
  )
  yield* Console.log(`lenient: ${lenient}`)

  // execa {env: {A: "1"}} extends process.env; here the first env combinator starts EMPTY.
  const onlyA = yield* Command.lines(Command.make("env").pipe(Command.env("A", "1")))
  const extended = yield* Command.lines(Command.make("env").pipe(Command.envInherit, Command.env("A", "1")))
  assert.deepEqual(onlyA, ["A=1"])
  assert.ok(extended.includes("FROM_PARENT=yes") && extended.includes("A=1"))
  yield* Console.log(`env: only A=1 without envInherit; ${extended.length} variables with it`)

  // execa {input}, {all: true}: feed, and stderr joined to stdout in one pipe (exact order).
  const all = yield* Command.string(
    Command.make("sh", "-c", "cat; echo err >&2").pipe(Command.feed("in\n"), Command.stderr("stdout"))
  )
  yield* Console.log(`all: ${JSON.stringify(all)}`)

  // {shell: true} / Command.runInShell(true): no shell unless you name one.
  const viaShell = yield* Command.string(Command.make("sh", "-c", "echo $((6 * 7))"))
  yield* Console.log(`sh -c: ${viaShell.trim()}`)

  // {timeout, killSignal, forceKillAfterDelay} → timeout, killSignal, killGrace (whole group).
  const slow = Command.make("sleep", "10").pipe(
    Command.timeout("100 millis"),
    Command.killSignal("SIGINT"),
    Command.killGrace("1 second")
  )
  const timedOut = yield* Effect.flip(Command.run(slow))
  yield* Console.log(`timeout: ${timedOut._tag}`)
})

Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
