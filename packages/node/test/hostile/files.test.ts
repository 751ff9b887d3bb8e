/**
 * The files a command's stdio is opened on: a FIFO would block the open until a peer comes,
 * freezing the whole process, timers and timeouts included. It is refused at once instead.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

import { Command, CommandError } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

import { openFdCount } from "../support/procs.js"
import { makeTempDir, removeTempDir } from "../support/run.js"

let dir = ""
let fifo = ""
beforeAll(() => {
  dir = makeTempDir("ec-hostile-files-")
  fifo = Path.join(dir, "fifo")
  expect(spawnSync("mkfifo", [fifo]).status).toBe(0)
})
afterAll(() => removeTempDir(dir))

const layer = NodeCommandExecutor.layer

describe("a FIFO as a stdio file", () => {
  const cases = [
    ["Input.file", () => Command.make("cat").pipe(Command.stdin(Command.Input.file(fifo)))],
    ["Output.file", () => Command.make("echo", "x").pipe(Command.stdout(Command.Output.file(fifo)))],
    [
      "Output.file with append",
      () => Command.make("echo", "x").pipe(Command.stderr(Command.Output.file(fifo, { append: true })))
    ]
  ] as const
  for (const [what, command] of cases) {
    it.live(`${what} on a FIFO without a peer: a SpawnError at once, the event loop never blocked, no fd left`, () =>
      Effect.gen(function*() {
        const fdsBefore = openFdCount()
        let ticks = 0
        const ticker = setInterval(() => ticks++, 5)
        const started = Date.now()
        const error = yield* Effect.flip(Command.run(command()))
        clearInterval(ticker)
        expect(Date.now() - started).toBeLessThan(1000)
        expect(error).toBeInstanceOf(CommandError.SpawnError)
        expect(error).toMatchObject({ errno: "ENXIO", stage: expect.stringMatching(/^open\(/) })
        expect(error.message).toContain("FIFO")
        expect(openFdCount()).toBe(fdsBefore)
        void ticks
      }).pipe(Effect.provide(layer)))
  }
})

describe("other files", () => {
  it.live("a character device as stdin (/dev/zero) is read by the child in blocking mode", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(
        Command.make("head", "-c", "5").pipe(Command.stdin(Command.Input.file("/dev/zero")))
      )
      expect(out).toBe("\0\0\0\0\0")
    }).pipe(Effect.provide(layer)))

  it.live("a symlink to a regular file is followed, as a shell redirection would", () =>
    Effect.gen(function*() {
      const target = Path.join(dir, "target")
      Fs.writeFileSync(target, "through the link\n")
      const link = Path.join(dir, "link")
      Fs.rmSync(link, { force: true })
      Fs.symlinkSync(target, link)
      expect(yield* Command.string(Command.make("cat").pipe(Command.stdin(Command.Input.file(link))))).toBe(
        "through the link\n"
      )
    }).pipe(Effect.provide(layer)))

  it.live("a directory as output: a SpawnError naming EISDIR", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(Command.make("echo").pipe(Command.stdout(Command.Output.file(dir)))))
      expect(error).toMatchObject({ _tag: "SpawnError", errno: "EISDIR" })
    }).pipe(Effect.provide(layer)))
})
