// Pre-exec actions and the start-up handshake: what virCommandSetPreExecHook was used for.
import assert from "node:assert/strict"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Stream } from "effect"

const program = Effect.gen(function*() {
  // Declarative steps the helper runs between fork and exec (no JavaScript can run there).
  const report = Command.make(
    "sh",
    "-c",
    [
      "echo nice=$(cut -d' ' -f19 /proc/self/stat)",
      "echo oom_score_adj=$(cat /proc/self/oom_score_adj)",
      "grep NoNewPrivs /proc/self/status | tr -d '\\t'",
      "echo session_leader=$(test $(cut -d' ' -f6 /proc/$$/stat) = $$ && echo yes || echo no)"
    ].join("; ")
  ).pipe(
    Command.preExec(Command.PreExec.nice(5)),
    Command.preExec(Command.PreExec.oomScoreAdjust(500)),
    Command.preExec(Command.PreExec.noNewPrivileges),
    Command.preExec(Command.PreExec.setsid)
  )
  const lines = yield* Command.lines(report)
  yield* Console.log(`pre-exec actions: ${lines.join(" ")}`)
  assert.deepEqual(lines.slice(1), ["oom_score_adj=500", "NoNewPrivs:1", "session_leader=yes"])

  // A value out of range is refused before anything runs (a step failing in the child would be
  // SpawnError { reason: "SetupFailed", stage }, and the program would not run either).
  const bad = yield* Effect.flip(
    Command.run(Command.make("true").pipe(Command.preExec(Command.PreExec.oomScoreAdjust(5000))))
  )
  yield* Console.log(`bad action: ${bad.message}`)

  // The handshake: the child is fully set up, then waits; the parent decides when it may exec.
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "handshake-"))
  const marker = Path.join(dir, "ran")
  const target = Command.make("sh", "-c", "touch \"$1\"; echo started", "sh", marker).pipe(
    Command.handshake,
    Command.stdout("pipe")
  )
  yield* Effect.scoped(Effect.gen(function*() {
    const child = yield* Command.start(target)
    yield* child.handshakeWait // set up (credentials, limits, ...) and waiting before exec
    yield* Console.log(`after handshakeWait, the program has run: ${Fs.existsSync(marker)}`)
    // ... here libvirt would e.g. move the pid into a cgroup or label it ...
    yield* child.handshakeNotify
    const out = yield* child.stdout.pipe(Stream.decodeText(), Stream.mkString)
    yield* Console.log(`after handshakeNotify: ${out.trim()}, ${ExitStatus.format(yield* child.wait)}`)
  })).pipe(Effect.ensuring(Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))))
})

Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
