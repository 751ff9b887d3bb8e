// File descriptors: the child gets 0, 1, 2 and what you pass it, nothing else.
import assert from "node:assert/strict"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect } from "effect"

// The fds the shell itself holds while it runs `ls` (not the fds of ls).
const fdsOfChild = (cmd: Command.Command) =>
  Effect.map(Command.lines(cmd), (fds) => fds.map(Number).sort((a, b) => a - b))
const listFds = Command.make("sh", "-c", "ls /proc/$$/fd")

const program = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fds-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  yield* Console.log(`this process has ${Fs.readdirSync("/proc/self/fd").length} open fds`)

  // Close-all-fds is the default: nothing leaks, whatever the parent has open.
  assert.deepEqual(yield* fdsOfChild(listFds), [0, 1, 2])
  yield* Console.log("a child sees: 0 1 2")

  // virCommandPassFD(cmd, fd, 0): the same number in the child; the parent keeps its fd.
  const log = Path.join(dir, "shared.log")
  const shared = Fs.openSync(log, "a")
  const writeTo = (fd: number, text: string) => Command.make("bash", "-c", `echo "${text}" >&${fd}`) // dash: fds 0-9 only
  yield* Command.run(writeTo(shared, "from child 1").pipe(Command.passFd(shared)))
  Fs.writeSync(shared, "from parent\n") // still open here
  yield* Console.log(
    `with passFd(${shared}) it sees: ${(yield* fdsOfChild(listFds.pipe(Command.passFd(shared)))).join(" ")}`
  )

  // VIR_COMMAND_PASS_FD_CLOSE_PARENT: the parent's copy is closed once the child has it.
  yield* Command.run(writeTo(shared, "from child 2").pipe(Command.passFd(shared, { closeParent: true })))
  const closed = Effect.try(() => Fs.fstatSync(shared))
  yield* Console.log(
    `after closeParent the parent's fd is ${(yield* Effect.either(closed))._tag === "Left" ? "closed" : "open"}`
  )
  yield* Console.log(`shared.log: ${Fs.readFileSync(log, "utf8").trim().split("\n").join(" / ")}`)

  // virCommandSetSendBuffer: bytes the child reads from an fd number you choose, EOF at the end.
  const config = Command.make("sh", "-c", "sort <&5").pipe(Command.inputFd(5, "zeta\nalpha\n"))
  yield* Console.log(`inputFd(5): ${(yield* Command.lines(config)).join(" ")}`)

  // fds 0-2 are stdio, not passFd: a usage error with its reason.
  const bad = yield* Effect.flip(Command.run(listFds.pipe(Command.passFd(1))))
  yield* Console.log(`passFd(1): ${bad.message}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
