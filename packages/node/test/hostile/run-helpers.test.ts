/** The run helpers' own parameters: refused before anything runs. */
import * as Fs from "node:fs"
import * as Path from "node:path"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

import { makeTempDir, removeTempDir } from "../support/run.js"

/** A command that leaves a file behind if it ever runs. */
const evidence = (dir: string) => {
  const file = Path.join(dir, "ran")
  return { file, command: Command.make("/bin/sh", "-c", `echo ran > ${file}`) }
}

describe("run helpers refuse bad parameters before anything runs", () => {
  it.effect("Command.string with an unknown encoding: CommandUsageError naming it, nothing spawned", () =>
    Effect.gen(function*() {
      const dir = makeTempDir("ec-hostile-helpers-")
      const { command, file } = evidence(dir)
      const error = yield* Effect.flip(Command.string(command, "bogus"))
      expect(error._tag).toBe("CommandUsageError")
      expect(error.message).toContain(`unknown text encoding "bogus"`)
      expect(Fs.existsSync(file)).toBe(false)
      removeTempDir(dir)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.effect("Command.string with a known encoding decodes with it", () =>
    Effect.gen(function*() {
      const text = yield* Command.string(Command.make("/bin/printf", "\\351t\\351"), "latin1")
      expect(text).toBe("été")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.effect("Command.records with a separator that is not a string or columns that are not whole: CommandUsageError, nothing spawned", () =>
    Effect.gen(function*() {
      const dir = makeTempDir("ec-hostile-helpers-")
      const { command, file } = evidence(dir)
      for (
        const options of [{ separator: 7 as unknown as string }, { columns: 1.5 }, { columns: 0 }, { columns: NaN }, {
          separator: ""
        }]
      ) {
        const error = yield* Effect.flip(Command.records(command, options))
        expect(error._tag).toBe("CommandUsageError")
      }
      expect(Fs.existsSync(file)).toBe(false)
      removeTempDir(dir)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
