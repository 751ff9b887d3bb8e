/** Names a command carries to the child: ids and environment variables, taken literally or refused. */
import { Command, CommandError } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

describe("group and user names", () => {
  for (const name of ["daemon,0", "root:x", "a b", "-g", "tab\there", "line\nbreak"]) {
    it.live(`groups([${JSON.stringify(name)}]), gid and uid of it: CommandUsageError before anything runs (a comma would add root's group)`, () =>
      Effect.gen(function*() {
        for (
          const command of [
            Command.make("id", "-G").pipe(Command.uid(65534), Command.gid(65534), Command.groups([name])),
            Command.make("id", "-G").pipe(Command.gid(name)),
            Command.make("id", "-G").pipe(Command.uid(name))
          ]
        ) {
          const error = yield* Effect.flip(Command.string(command))
          expect(error).toBeInstanceOf(CommandError.CommandUsageError)
        }
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }
})

describe("environment names that are Object.prototype's", () => {
  for (const name of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
    it.live(`envPass(${JSON.stringify(name)}) passes nothing when the parent has no such variable`, () =>
      Effect.gen(function*() {
        const out = yield* Command.string(Command.make("/usr/bin/env").pipe(Command.envClear, Command.envPass(name)))
        expect(out).toBe("")
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))

    it.live(`env(${JSON.stringify(name)}, "v") reaches the child like any other variable`, () =>
      Effect.gen(function*() {
        const out = yield* Command.string(Command.make("/usr/bin/env").pipe(Command.envClear, Command.env(name, "v")))
        expect(out).toBe(`${name}=v\n`)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }
})
