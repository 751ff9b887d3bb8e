// Privileges and limits: capabilities, credentials, resource limits and umask, applied in the child.
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import { Command, DryRunExecutor } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Either } from "effect"

// Capabilities and credentials need root. As root this runs for real; otherwise it is a dry run.
const root = process.getuid?.() === 0
const executor = root
  ? NodeCommandExecutor.layer
  : DryRunExecutor.layer(({ line }) => ({ stdout: `(dry run) ${line}\n` }))
const say = (label: string, cmd: Command.Command) =>
  Effect.flatMap(
    Command.string(cmd),
    (out) => Console.log(`${label}: ${out.trim().split("\n").map((l) => l.replace(/\s+/g, " ")).join(" | ")}`)
  )

const program = Effect.gen(function*() {
  // virCommandClearCaps + virCommandAllowCap: every set emptied but for the allowed capability.
  const caps = Command.make("grep", "-E", "^Cap(Prm|Eff|Bnd)", "/proc/self/status")
  yield* say(
    "clearCaps + allowCap(CAP_NET_BIND_SERVICE)",
    caps.pipe(Command.clearCaps, Command.allowCap("CAP_NET_BIND_SERVICE"))
  )

  // virCommandSetUID / SetGID: names are resolved when the command runs; groups follow the user.
  yield* say("uid(nobody)", Command.make("id").pipe(Command.uid("nobody")))
  yield* say(
    "uid(65534) + gid + groups",
    Command.make("id").pipe(Command.uid(65534), Command.gid(65534), Command.groups([]))
  )

  // An unknown user: a typed error naming the failing step, and nothing runs.
  const unknown = yield* Effect.either(Command.run(Command.make("id").pipe(Command.uid("no-such-user-here"))))
  if (Either.isLeft(unknown)) yield* Console.log(`unknown user: ${unknown.left.message}`)
}).pipe(Effect.provide(executor))

// Limits and umask need no privilege: they run for real.
const unprivileged = Effect.gen(function*() {
  // virCommandSetMaxFiles / SetMaxCoreSize / SetMaxProcesses: any RLIMIT_*, soft and hard.
  const limits = Command.make(
    "sh",
    "-c",
    "echo nofile=$(ulimit -n) core=$(ulimit -c) fsize_blocks=$(ulimit -S -f)/$(ulimit -H -f)"
  )
  yield* say(
    "limits",
    limits.pipe(
      Command.limit("NOFILE", 64),
      Command.limit("CORE", 0),
      Command.limit("FSIZE", { soft: 1 << 20, hard: "unlimited" })
    )
  )

  // virCommandSetUmask (0 can be set too): the mode of a file the child creates.
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "umask-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  const create = Command.make("sh", "-c", "umask; touch new-file; stat -c %a new-file").pipe(
    Command.workingDirectory(dir)
  )
  yield* say("umask(0o027)", create.pipe(Command.umask(0o027)))
}).pipe(Effect.scoped, Effect.provide(NodeCommandExecutor.layer))

Effect.runPromise(Effect.zipRight(program, unprivileged)).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
