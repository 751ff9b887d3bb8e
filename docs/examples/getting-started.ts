// Getting started: build a command as a value, run it, read its output, handle its failure.
import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Either } from "effect"

// A command is an immutable value: program, arguments, environment, stdio, setup. Nothing runs yet.
const greet = Command.make("echo", "hello, world")

const program = Effect.gen(function*() {
  // Rendering is pure: what a shell would need to run the same thing.
  yield* Console.log(`command: ${Either.getOrThrow(Command.toString(greet))}`)

  // Run it and take stdout as a string (virCommandRun + virCommandSetOutputBuffer).
  const out = yield* Command.string(greet)
  yield* Console.log(`stdout: ${out.trimEnd()}`)

  // Feed stdin from memory while the output is read.
  const words = yield* Command.lines(Command.make("sort").pipe(Command.feed("pear\napple\nfig\n")))
  yield* Console.log(`sorted: ${words.join(" ")}`)

  // A non-zero exit is a typed error carrying the end of stderr.
  const failing = Command.make("sh", "-c", "echo 'no space left' >&2; exit 3")
  const error = yield* Effect.flip(Command.run(failing))
  yield* Console.log(`error: ${error._tag} ${error._tag === "ExitError" ? error.exitCode : ""}`)
  yield* Console.log(`message: ${error.message}`)

  // When the exit code is the answer, ask for it: it is then a value, not an error.
  const status = yield* Command.status(failing)
  yield* Console.log(`status: ${ExitStatus.format(status)}`)
})

// The Node executor runs real processes; provide it once, at the edge of the program.
Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
