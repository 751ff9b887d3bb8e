// Environment: inherited by default, explicit after the first env combinator, secrets redacted.
import assert from "node:assert/strict"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Either, Redacted } from "effect"

// The parent's variables, read when a command RUNS (not when it is built).
process.env.DOCS_SECRET_TOKEN = "parent-only"
process.env.DISPLAY = ":7"

// `env` of the child, as sorted NAME=value lines, without the variables a shell adds itself.
const childEnv = (cmd: Command.Command) =>
  Command.lines(cmd).pipe(Effect.map((lines) => lines.filter((l) => !/^(PWD|SHLVL|_)=/.test(l)).sort()))
const env = Command.make("env")

const program = Effect.gen(function*() {
  // Default: the whole environment of the parent (like virCommand before any customisation).
  const inherited = yield* childEnv(env)
  assert.ok(inherited.includes("DOCS_SECRET_TOKEN=parent-only"))
  yield* Console.log(`default: ${inherited.length} variables, DOCS_SECRET_TOKEN included`)

  // virCommandAddEnvPassCommon: LC_ALL=C plus PATH, HOME, USER, ... when the parent has them.
  const common = yield* childEnv(env.pipe(Command.envPassCommon))
  assert.ok(common.includes("LC_ALL=C") && !common.some((l) => l.startsWith("DOCS_SECRET_TOKEN=")))
  yield* Console.log(`envPassCommon: ${common.map((l) => l.split("=")[0]).join(" ")}`)

  // Pass more by name, set pairs or preformatted strings; a secret value stays out of renderings.
  const custom = env.pipe(
    Command.envPass("DISPLAY", "NOT_SET_IN_PARENT"), // passed only if the parent has it
    Command.env("TERM", "xterm"),
    Command.envString("LANG=C.UTF-8"),
    Command.env("API_KEY", Redacted.make("s3cret"))
  )
  yield* Console.log(`explicit: ${(yield* childEnv(custom)).join(" ")}`)
  yield* Console.log(`rendered: ${Either.getOrThrow(Command.toString(custom))}`)
  yield* Console.log(`resolved: ${Either.getOrThrow(Command.toString(custom, { environment: process.env }))}`)

  // Keep everything but one variable (envUnset on a fresh command keeps inheriting the rest).
  const minus = yield* childEnv(env.pipe(Command.envUnset("DOCS_SECRET_TOKEN")))
  assert.equal(minus.length, inherited.length - 1)
  yield* Console.log(`envUnset: ${minus.length} variables, DOCS_SECRET_TOKEN gone`)

  // Nothing at all.
  yield* Console.log(`envClear: [${(yield* childEnv(env.pipe(Command.envClear))).join(" ")}]`)

  // A bad name is a usage error before anything runs.
  const error = yield* Effect.flip(Command.run(env.pipe(Command.env("BAD=NAME", "x"))))
  yield* Console.log(`${error._tag}: ${error.message}`)
})

Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
