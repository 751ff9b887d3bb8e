// Working directory: the parent's by default, or one you set; a missing one is a typed error.
import assert from "node:assert/strict"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect } from "effect"

const program = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "cwd-")))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  Fs.writeFileSync(Path.join(dir, "notes.txt"), "hello from the temp dir\n")

  // Default: the parent's working directory.
  const here = (yield* Command.string(Command.make("pwd"))).trim()
  assert.equal(here, process.cwd())
  yield* Console.log("default: the parent's directory")

  // virCommandSetWorkingDirectory: relative paths in arguments are relative to it.
  const inDir = Command.make("cat", "notes.txt").pipe(Command.workingDirectory(dir))
  yield* Console.log(`cat notes.txt in the temp dir: ${(yield* Command.string(inDir)).trim()}`)
  // ...but the program itself is found through the parent's PATH, not relative to it.
  const pwd = (yield* Command.string(Command.make("pwd").pipe(Command.workingDirectory(dir)))).trim()
  assert.equal(pwd, dir)

  // A directory that does not exist: SpawnError BadWorkingDirectory, nothing ran.
  const missing = Command.make("pwd").pipe(Command.workingDirectory(Path.join(dir, "missing")))
  const error = yield* Effect.flip(Command.run(missing))
  yield* Console.log(`missing directory: ${error._tag} ${error._tag === "SpawnError" ? error.reason : ""}`)

  // Set twice, or on a daemon (which always runs in /): refused before anything runs.
  const twice = yield* Effect.flip(Command.run(inDir.pipe(Command.workingDirectory("/"))))
  yield* Console.log(`set twice: ${twice.message}`)
  const daemon = yield* Effect.flip(Command.run(inDir.pipe(Command.daemonize())))
  yield* Console.log(`daemon with a directory: ${daemon.message}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
