/**
 * A private sshd for the SSH executor's tests: generated host and user keys in a temp dir, a free
 * 127.0.0.1 port, a known_hosts file naming the host key; sshd runs in the foreground as a child of
 * the Node executor and stops with the scope.
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

import { Command, type CommandError } from "@effect-command/core"
import { NodeCommandExecutor, type SshCommandExecutor } from "@effect-command/node"
import { Effect, type Scope, Stream } from "effect"

export const sshdPath = "/usr/sbin/sshd"

/** Why the SSH tests cannot run here, or undefined when they can. */
export const sshdMissing: string | undefined = Fs.existsSync(sshdPath)
  ? undefined
  : `${sshdPath} is not installed (Debian: apt-get install openssh-server)`

const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(address.port)))
  })
})

const keygen = (path: string) =>
  Command.exitCode(Command.make("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path))

/** A running sshd and the executor options that reach it. */
export interface Sshd {
  readonly options: SshCommandExecutor.Options
  readonly port: number
  readonly dir: string
}

/**
 * The remote login shell: the user's own (bash here), or dash, which sshd's `ForceCommand` then
 * runs every command line with, as a login shell would.
 */
export type LoginShell = "bash" | "dash"

export const startSshd = (
  shell: LoginShell,
  maxSessions = 100
): Effect.Effect<Sshd, CommandError.CommandError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "ec-sshd-"))),
      (path) => Effect.sync(() => Fs.rmSync(path, { recursive: true, force: true }))
    )
    const file = (name: string) => Path.join(dir, name)
    yield* keygen(file("host_key"))
    yield* keygen(file("user_key"))
    const port = yield* freePort
    Fs.copyFileSync(file("user_key.pub"), file("authorized_keys"))
    Fs.writeFileSync(file("known_hosts"), `[127.0.0.1]:${port} ${Fs.readFileSync(file("host_key.pub"), "utf8")}`)
    Fs.writeFileSync(
      file("sshd_config"),
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${file("host_key")}`,
        `AuthorizedKeysFile ${file("authorized_keys")}`,
        "PidFile none",
        "StrictModes no",
        "PermitRootLogin yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        `MaxSessions ${maxSessions}`,
        "MaxStartups 100",
        // An empty home: the login shell reads no startup files (this machine's root's .bashrc
        // takes a second), as on a host set up for remote commands.
        `SetEnv HOME=${file("home")}`,
        ...(shell === "dash" ? ["ForceCommand exec /bin/dash -c \"$SSH_ORIGINAL_COMMAND\""] : []),
        ""
      ].join("\n")
    )
    Fs.mkdirSync(file("home"))
    // sshd's privilege separation directory.
    Fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 })
    const sshd = yield* Command.start(
      Command.make(sshdPath, "-D", "-e", "-f", file("sshd_config")).pipe(Command.stderr("pipe"))
    )
    yield* sshd.waitFor(/Server listening on/, { stream: "stderr", timeout: "10 seconds" })
    // Its log goes on: read it, so that sshd never blocks on a full pipe.
    yield* Effect.forkScoped(Stream.runDrain(sshd.stderr))
    const options: SshCommandExecutor.Options = {
      host: "127.0.0.1",
      port,
      identityFile: file("user_key"),
      options: { UserKnownHostsFile: file("known_hosts"), IdentitiesOnly: "yes" }
    }
    return { options, port, dir }
  }).pipe(Effect.provide(NodeCommandExecutor.layer))
