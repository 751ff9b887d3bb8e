// Arguments: every way to build argv, and proof of the exact words the child receives.
import assert from "node:assert/strict"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Either, Redacted } from "effect"

// The child prints each argument it got in brackets, one per line: no shell ever splits them.
const argv = (cmd: Command.Command) => Command.lines(cmd)
const show = (name: string, cmd: Command.Command) =>
  Effect.gen(function*() {
    const words = yield* argv(cmd)
    yield* Console.log(`${name}: ${words.join(" ")}`)
    return words
  })
const printf = Command.make("printf", "[%s]\\n")

const program = Effect.gen(function*() {
  // virCommandNewArgList / AddArg / AddArgPair / AddArgSet, as combinators.
  const built = printf.pipe(
    Command.arg("--strict-order"),
    Command.argPair("--conf-file", "/etc/my app.conf"), // one word: --conf-file=/etc/my app.conf
    Command.args(["--domain", "localdomain"]),
    Command.arg(`${42}`) // virCommandAddArgFormat: a template literal
  )
  assert.deepEqual(
    yield* show("combinators", built),
    ["[--strict-order]", "[--conf-file=/etc/my app.conf]", "[--domain]", "[localdomain]", "[42]"]
  )

  // virCommandNewArgs: a whole argv, argv[0] is the program.
  yield* show("fromArgv", Command.fromArgv(["printf", "[%s]\\n", "a b", ""]))

  // The tagged template: text is split on white space, each interpolation is ONE word.
  const file = "my notes; rm -rf ~.txt" // harmless: it is never seen by a shell
  const flags = ["-n", "3"]
  const tagged = Command.make`printf ${"[%s]\\n"} --count=${3} ${flags} -- ${file}`
  assert.deepEqual(yield* show("template", tagged), ["[--count=3]", "[-n]", "[3]", "[--]", `[${file}]`])

  // A secret argument reaches the child but never a rendering.
  const login = printf.pipe(Command.argPair("--password", Redacted.make("hunter2")))
  yield* Console.log(`rendered: ${Either.getOrThrow(Command.toString(login))}`)
  assert.deepEqual(yield* argv(login), ["[--password=hunter2]"])

  // Mistakes never throw: they are recorded and reported together, before anything runs.
  const bad = Command.make`echo ${"a"} | wc -l`.pipe(Command.arg("nul\0byte"))
  const error = yield* Effect.flip(Command.run(bad))
  yield* Console.log(`${error._tag}: ${error._tag === "CommandUsageError" ? error.reasons.join(" / ") : ""}`)
})

Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
