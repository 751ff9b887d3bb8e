// Remote execution: the same Command values run on another host over OpenSSH, with remote
// kill-and-reap. So that it needs no other machine, the example starts a throwaway sshd on
// 127.0.0.1 (Debian: openssh-server) with generated keys, and connects to it as the current user.
import assert from "node:assert/strict"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor, SshCommandExecutor } from "@effect-command/node"
import { Console, Effect, Either } from "effect"

/** A free port on 127.0.0.1. */
const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** sshd on 127.0.0.1 for this program's lifetime; the options that reach it. */
const throwawaySshd = Effect.gen(function*() {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "remote-example-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
  const at = (name: string) => Path.join(dir, name)
  for (const key of ["host", "user"]) {
    yield* Command.exitCode(Command.make("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", at(key)))
  }
  const port = yield* freePort
  Fs.copyFileSync(at("user.pub"), at("authorized_keys"))
  const hostKey = Fs.readFileSync(at("host.pub"), "utf8")
  Fs.writeFileSync(at("known_hosts"), `[127.0.0.1]:${port} ${hostKey}[localhost]:${port} ${hostKey}`)
  Fs.mkdirSync(at("home"))
  Fs.writeFileSync(
    at("sshd_config"),
    `Port ${port}\nListenAddress 127.0.0.1\nHostKey ${at("host")}\nAuthorizedKeysFile ${at("authorized_keys")}\n` +
      // An empty HOME: the login shell reads no startup files (they would run before every command).
      `PidFile none\nStrictModes no\nPermitRootLogin yes\nUsePAM no\nSetEnv HOME=${at("home")}\n`
  )
  Fs.mkdirSync("/run/sshd", { recursive: true })
  const sshd = yield* Command.start(
    Command.make("/usr/sbin/sshd", "-D", "-e", "-f", at("sshd_config")).pipe(Command.stderr("pipe"))
  )
  yield* sshd.waitFor(/Server listening/, { stream: "stderr", timeout: "10 seconds" })
  return (host: string): SshCommandExecutor.Options => ({
    host,
    port,
    user: Os.userInfo().username,
    identityFile: at("user"),
    options: { UserKnownHostsFile: at("known_hosts"), IdentitiesOnly: "yes" }
  })
}).pipe(Effect.provide(NodeCommandExecutor.layer))

/** Everything here runs on the host the layer connects to. */
const onTheHost = Effect.gen(function*() {
  // argv is quoted for the remote shell exactly once: every word arrives as it is.
  const words = Command.make("printf", "[%s]", "it's", "$HOME", "a b", "*")
  yield* Console.log(`argv: ${yield* Command.string(words)}`)

  // envPass takes the value from *this* process; the command's environment is otherwise cleared.
  process.env.DEPLOY_TAG = "v1.2.3"
  const env = yield* Command.lines(Command.make("env").pipe(Command.envPass("DEPLOY_TAG"), Command.env("LANG", "C")))
  yield* Console.log(`env: ${env.sort().join(" ")}`)

  // A pipeline runs on the host, its bytes going from stage to stage there; pipefail as locally.
  const sorted = yield* Command.lines(Command.pipeline(Command.make("printf", "pear\\nfig\\n"), Command.make("sort")))
  const failing = yield* Command.run(Command.pipeline(Command.make("sh", "-c", "exit 3"), Command.make("cat"))).pipe(
    Effect.flip,
    Effect.map((
      error
    ) => (error._tag === "ExitError" ? `${error._tag} ${error.exitCode} at stage ${error.failedStage}` : ""))
  )
  yield* Console.log(`pipeline: ${sorted.join(" ")}; ${failing}`)

  // Statuses map exactly: the remote command's exit 255 is its own, not a connection failure.
  const exit = yield* Effect.flip(Command.string(Command.make("sh", "-c", "exit 255")))
  yield* Console.log(`exit 255: ${exit._tag} ${exit._tag === "ExitError" ? exit.exitCode : ""}`)
  const signal = yield* Command.status(Command.make("sh", "-c", "kill -s TERM $$"))
  yield* Console.log(`signal: ${ExitStatus.format(signal)}`)

  // Remote kill-and-reap: closing the scope kills the command's whole remote process group
  // (the kill signal, the grace, SIGKILL), not just the local ssh client.
  const sleeper = yield* Effect.scoped(Effect.gen(function*() {
    const child = yield* Command.start(
      Command.make("sh", "-c", "sleep 1000 & echo $!; wait").pipe(Command.stdout("pipe"), Command.killGrace("1 second"))
    )
    const [pid] = yield* child.waitFor(/^\d+$/m)
    return pid
  }))
  // Running, or at least not a zombie waiting for init to reap it.
  const running = Command.make("grep", "-Eqs", "^State:[[:space:]]+[^Z]", `/proc/${sleeper}/status`)
  const alive = yield* Command.exitCode(running)
  yield* Console.log(`after the scope: the remote sleep is ${alive === 0 ? "running" : "gone"}`)

  // What needs the local child-side helper is refused before anything runs, naming it.
  const refused = yield* Effect.flip(Command.run(Command.make("ls").pipe(Command.limit("NOFILE", 64))))
  yield* Console.log(`refused: ${refused._tag}`)
})

const program = Effect.scoped(Effect.gen(function*() {
  const options = yield* throwawaySshd
  yield* Effect.provide(onTheHost, SshCommandExecutor.layer(options("127.0.0.1")))

  // A host that cannot be reached: ConnectionError, with ssh's reason.
  const unreachable = { ...options("127.0.0.1"), port: 1 }
  const error = yield* Effect.flip(
    Effect.provide(Command.string(Command.make("true")), SshCommandExecutor.layer(unreachable))
  )
  yield* Console.log(`unreachable: ${error._tag} ${error._tag === "ConnectionError" ? error.reason : ""}`)

  // Fan-out: one program on many hosts, 2 at a time; a failing host does not stop the others.
  const hosts = [options("127.0.0.1"), options("localhost"), unreachable]
  const results = yield* SshCommandExecutor.fanOut(hosts, Command.string(Command.make("echo", "up")), {
    concurrency: 2
  })
  const summary = results.map(({ host, options, result }) =>
    `${host}:${options.port}=${Either.isRight(result) ? result.right.trim() : result.left._tag}`
  )
  assert.equal(results.filter(({ result }) => Either.isRight(result)).length, 2)
  yield* Console.log(`fanOut: ${summary.map((line) => line.replace(/:\d{2,}=/, ":<port>=")).join(" ")}`)
}))

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
