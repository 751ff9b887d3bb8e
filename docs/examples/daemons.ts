// Daemons: double fork, a pid file written and locked before run returns, stopped by pid.
import assert from "node:assert/strict"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect } from "effect"

// Alive: in /proc and not a zombie (state is the field after the parenthesised program name).
const alive = (pid: number) => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat[stat.lastIndexOf(")") + 2] !== "Z"
  } catch {
    return false
  }
}

const program = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "daemons-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  const pidFile = Path.join(dir, "sleeper.pid")
  const daemon = Command.make("sleep", "60").pipe(Command.daemonize({ pidFile }))

  // run waits for the intermediate process only; the daemon lives on, in its own session, in "/".
  const result = yield* Command.run(daemon)
  const pid = Number(Fs.readFileSync(pidFile, "utf8"))
  // Whatever happens next, do not leave it running.
  yield* Effect.addFinalizer(() => Effect.sync(() => alive(pid) && process.kill(pid, "SIGKILL")))
  assert.ok(alive(pid))
  yield* Console.log(`run: ${ExitStatus.format(result.status)} (the intermediate process); the daemon is alive`)
  yield* Console.log(`daemon cwd: ${Fs.readlinkSync(`/proc/${pid}/cwd`)}`)

  // The pid file stays locked by the daemon: a second copy fails with a typed error.
  const again = yield* Effect.flip(Command.run(daemon))
  assert.equal(again._tag, "DaemonError")
  yield* Console.log(`second start: ${again._tag} ${again._tag === "DaemonError" ? again.reason : ""}`)

  // In-memory I/O or a working directory make no sense for a daemon: refused before spawning.
  const refused = yield* Effect.flip(Command.string(daemon))
  yield* Console.log(`string(daemon): ${refused._tag}`)

  // Stop it by pid (the daemon is not our child: nothing reaps it for us; poll until it is gone).
  process.kill(pid, "SIGTERM")
  for (let i = 0; alive(pid) && i < 500; i++) yield* Effect.sleep("10 millis")
  assert.ok(!alive(pid))
  yield* Console.log("daemon stopped")
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
