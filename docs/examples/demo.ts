// `pnpm demo`: a short tour of effect-command on real processes, printing what happened.
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import { Command, DryRunExecutor } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Either, Redacted, Stream } from "effect"

const section = (title: string) => Console.log(`\n== ${title}`)

// The seed's dnsmasq command, built as a value and rendered without running it.
const dnsmasq = Command.make("/usr/bin/dnsmasq", "--strict-order", "--except-interface", "lo").pipe(
  Command.argPair("--conf-file", "/etc/dnsmasq.conf"),
  Command.args(["--domain", "localdomain"]),
  Command.envPassCommon,
  Command.env("DNSMASQ_SECRET", Redacted.make("hunter2"))
)

const tour = Effect.gen(function*() {
  yield* section("a command is a value: toString quotes like a shell and redacts secrets")
  yield* Console.log(Either.getOrThrow(Command.toString(dnsmasq, { environment: process.env })))
  yield* Console.log(Either.getOrThrow(Command.toString(dnsmasq, { linebreaks: true })))

  yield* section("the seed's runhook example: env passed, input fed, status checked")
  const hook = Command.make("sh", "-c", "echo \"hook $1 $2 got $(wc -c) bytes, LC_ALL=$LC_ALL\"", "hook").pipe(
    Command.args(["vm1", "start"]),
    Command.envPassCommon,
    Command.feed("<domain type='kvm'/>\n")
  )
  yield* Console.log((yield* Command.string(hook)).trimEnd())

  yield* section("a non-zero exit is a typed error carrying the tail of stderr")
  const failed = yield* Effect.flip(Command.run(Command.make("sh", "-c", "echo 'disk full' >&2; exit 3")))
  yield* Console.log(`${failed._tag}: ${failed.message}`)

  yield* section("a missing program: SpawnError naming what was searched")
  const missing = yield* Effect.flip(Command.run(Command.make("no-such-tool")))
  yield* Console.log(`${missing._tag} (${missing._tag === "SpawnError" ? missing.reason : ""})`)

  yield* section("stderr joined to stdout: one pipe, in the order the child wrote")
  const joined = Command.make("sh", "-c", "echo out 1; echo err 2 >&2; echo out 3").pipe(Command.stderr("stdout"))
  yield* Console.log((yield* Command.lines(joined)).join(" | "))

  yield* section("a grandchild holding stdout does not hang string(): the drain delay")
  const started = Date.now()
  const out = yield* Command.string(Command.make("sh", "-c", "sleep 30 & echo parent done"))
  yield* Console.log(`${out.trimEnd()} after ${Date.now() - started} ms (the sleep was killed with the group)`)

  yield* section("a timeout kills the whole tree, even a child that ignores SIGTERM")
  const stubborn = Command.make("sh", "-c", "trap '' TERM; sleep 30 & sleep 30").pipe(Command.killGrace("500 millis"))
  const t0 = Date.now()
  const timedOut = yield* Effect.exit(Effect.timeout(Command.run(stubborn), "300 millis"))
  yield* Console.log(`${timedOut._tag} after ${Date.now() - t0} ms: SIGTERM, 500 ms grace, SIGKILL, reaped`)

  yield* section("a kernel pipeline: the bytes go from head to wc through a pipe, never through Node")
  const counted = yield* Command.string(
    Command.pipeline(Command.make("head", "-c", "67108864", "/dev/zero"), Command.make("wc", "-c"))
  )
  yield* Console.log(`head -c 64MiB /dev/zero | wc -c  =>  ${counted.trim()} bytes`)
  const failing = yield* Effect.flip(Command.run(Command.pipeline(
    Command.make("sh", "-c", "echo data; exit 2"),
    Command.make("cat")
  )))
  yield* Console.log(`pipefail: ${failing.message}`)

  yield* section("a daemon with a locked pid file, then stopped by its pid")
  const dir = yield* Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "demo-daemon-")))
  const pidFile = Path.join(dir, "sleeper.pid")
  yield* Command.run(Command.make("/bin/sleep", "60").pipe(Command.daemonize({ pidFile })))
  const daemonPid = Number(Fs.readFileSync(pidFile, "utf8"))
  yield* Console.log(`run returned; ${pidFile} holds ${daemonPid}, a session leader in / that outlives this program`)
  const again = yield* Effect.flip(Command.run(Command.make("/bin/sleep", "60").pipe(Command.daemonize({ pidFile }))))
  yield* Console.log(`a second daemon on the same pid file: ${again._tag}`)
  process.kill(daemonPid, "SIGTERM")
  Fs.rmSync(dir, { recursive: true, force: true })
  yield* Console.log(`stopped ${daemonPid} with SIGTERM`)

  yield* section("streaming lines as they come")
  yield* Command.streamLines(Command.make("sh", "-c", "for i in 1 2 3; do echo line $i; done")).pipe(
    Stream.runForEach((line) => Console.log(`  got: ${line}`))
  )

  yield* section("a dry run: nothing runs, every command line is recorded")
  const recorded = yield* Effect.gen(function*() {
    yield* Command.run(dnsmasq)
    return yield* DryRunExecutor.recorded
  }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ status: 0 }), { environment: { PATH: "/usr/bin" } })))
  for (const entry of recorded) yield* Console.log(`  would run: ${entry.line}`)
})

Effect.runPromise(tour.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
