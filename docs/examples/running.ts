// Running to completion: the run helpers, what each returns, and how each fails.
import assert from "node:assert/strict"

import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Stream } from "effect"

const sh = (script: string) => Command.make("sh", "-c", script)

const program = Effect.gen(function*() {
  // virCommandRun(cmd, NULL): status checked; outputs set to "capture" are in the result.
  const result = yield* Command.run(sh("echo hi").pipe(Command.stdout("capture")))
  yield* Console.log(`run: ${ExitStatus.format(result.status)}, ${result.stdout.length} bytes of stdout`)

  // Shorthands that capture stdout: string, bytes, lines, records (virCommandRunNul).
  yield* Console.log(`string: ${JSON.stringify(yield* Command.string(sh("printf 'a\\nb\\n'")))}`)
  yield* Console.log(`lines: ${JSON.stringify(yield* Command.lines(sh("printf 'a\\r\\nb\\n'")))}`)
  const pairs = yield* Command.records(Command.make("printf", "%s\\0", "k1", "v1", "k2", "v2"), { columns: 2 })
  yield* Console.log(`records: ${JSON.stringify(pairs)}`)

  // Stream stdout as it comes; the exit status is checked after the last chunk.
  const seen: Array<string> = []
  yield* Stream.runForEach(
    Command.streamLines(sh("for i in 1 2 3; do echo $i; done")),
    (line) => Effect.sync(() => seen.push(line))
  )
  yield* Console.log(`streamLines: ${seen.join(" ")}`)

  // virCommandRun(cmd, &status): any exit code is a value (grep: 0 found, 1 not found, 2 error).
  const found = Command.make("grep", "-q", "needle").pipe(Command.feed("haystack\n"))
  yield* Console.log(`exitCode: ${yield* Command.exitCode(found)}`)

  // virCommandRawStatus: how it ended, signals included; never an error because of the child.
  const killed = yield* Command.status(sh("kill -USR1 $$"))
  yield* Console.log(`status: ${ExitStatus.format(killed)}`)

  // Everything else fails with a typed error; catch by tag.
  const describe = (cmd: Command.Command) =>
    Command.string(cmd).pipe(
      Effect.as("ok"),
      Effect.catchTags({
        ExitError: (e) => Effect.succeed(`ExitError ${e.exitCode}, stderr: ${e.stderrTail}`),
        SignalError: (e) => Effect.succeed(`SignalError ${e.signal}`),
        SpawnError: (e) => Effect.succeed(`SpawnError ${e.reason} (${e.errno ?? "?"})`),
        CommandUsageError: (e) => Effect.succeed(`CommandUsageError: ${e.reasons.join("; ")}`)
      })
    )
  yield* Console.log(yield* describe(sh("echo 'bad input' >&2; exit 2")))
  yield* Console.log(yield* describe(sh("kill -KILL $$")))
  yield* Console.log(yield* describe(Command.make("no-such-program-anywhere")))
  yield* Console.log(yield* describe(sh("true").pipe(Command.stdout("inherit"))))
  assert.equal(yield* describe(sh("true")), "ok")
})

Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
