/**
 * The SSH executor against a private sshd on 127.0.0.1 (the remote host is this machine): the
 * executor behaviours shared with the Node executor, with bash and with dash as the remote login
 * shell, then what only a remote run has.
 */
import { Command, type CommandError, ExitStatus, type Signal } from "@effect-command/core"
import { NodeCommandExecutor, SshCommandExecutor } from "@effect-command/node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Either, Layer, Option, Stream, SubscriptionRef } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import { executorCases, marked, waitForLine } from "./support/executor-cases.js"
import { childrenOf, commandLine, eventually, marker, withCommandLine, withMarker } from "./support/procs.js"
import { type LoginShell, sshdMissing, startSshd } from "./support/sshd.js"

class Sshd extends Context.Tag("test/Sshd")<Sshd, Effect.Effect.Success<ReturnType<typeof startSshd>>>() {}

const remote = (shell: LoginShell) =>
  Layer.provideMerge(
    Layer.unwrapEffect(Effect.map(Sshd, ({ options }) => SshCommandExecutor.layer(options))),
    Layer.scoped(Sshd, startSshd(shell))
  )
const options = { timeout: "60 seconds", excludeTestServices: true } as const

/**
 * What remote runs left in the connections' directories on this host (the remote shell's TMPDIR
 * is unset): the FIFO (or its stand-in)
 * of an earlier stage's stderr is named `<nonce>.<stage>`.
 */
const leftovers = (): ReadonlyArray<string> => [
  ...Fs.readdirSync("/tmp").filter((dir) => dir.startsWith("effect-command-ssh.")).flatMap((dir) => {
    const path = Path.join("/tmp", dir)
    return Fs.readdirSync(path).filter((name) => /^[0-9a-f]{24}\.\d+(\.pid|\.over)?$/.test(name)).map((name) =>
      `${path}/${name}`
    )
  }),
  // A FIFO's reader still waiting on the host.
  ...withCommandLine(/mkfifo -m 600 -- '\/tmp\/effect-command-ssh\./).map((pid) => `reader process ${pid}`)
]

/** For each connection's directory on this host, how many registrations of ended runs it holds. */
const endedRegistrations = (): ReadonlyArray<number> =>
  Fs.readdirSync("/tmp").filter((dir) => dir.startsWith("effect-command-ssh.")).map((dir) =>
    Fs.readdirSync(Path.join("/tmp", dir)).filter((name) => {
      if (!/^[0-9a-f]{24}\.pid$/.test(name)) return false
      try {
        return Fs.readFileSync(Path.join("/tmp", dir, name), "utf8") === "-\n"
      } catch {
        return false
      }
    }).length
  )

/**
 * A directory holding `ssh`: a client that runs `script` (with `$last`, the remote command) before
 * it becomes the system's.
 */
const sshClient = (script: string): string => {
  const dir = Fs.mkdtempSync("/tmp/ec-ssh-client-")
  Fs.writeFileSync(`${dir}/ssh`, `#!/bin/sh\nfor last; do :; done\n${script}\nexec ssh "$@"\n`, { mode: 0o755 })
  return dir
}

/** The case proving which shell runs the wrapper: the command's parent. */
const runsUnder = (shell: LoginShell) =>
  Effect.gen(function*() {
    expect(yield* Command.string(Command.make("sh", "-c", "cat /proc/$PPID/comm"))).toBe(`${shell}\n`)
  })

layer(NodeCommandExecutor.layer, options)(
  "the Node executor",
  (it) => executorCases(it, { childProcessEngine: process.env.EFFECT_COMMAND_SPAWN === "child_process" })
)

if (sshdMissing !== undefined) {
  describe("SshCommandExecutor", () => {
    it.skip(`is not tested here: ${sshdMissing}`, () => {})
  })
} else {
  layer(remote("dash"), options)("SshCommandExecutor, dash as the login shell", (it) => {
    it.effect("the command line is read by dash", () => runsUnder("dash"))
    executorCases(it, { leftovers })
  })

  layer(remote("bash"), options)("SshCommandExecutor, bash as the login shell", (it) => {
    it.effect("the command line is read by bash", () => runsUnder("bash"))
    executorCases(it, { leftovers })

    describe("running", () => {
      it.effect("a command starts no ssh client of its own: the helper asks the connection for its session", () =>
        Effect.gen(function*() {
          const mark = marker()
          yield* Effect.scoped(Effect.gen(function*() {
            const child = yield* Command.start(marked("echo ready; exec sleep 1000", mark).pipe(Command.stdout("pipe")))
            yield* waitForLine(child, "ready")
            const local = childrenOf(process.pid).map(commandLine)
            expect(local.filter((line) => line.includes("ControlMaster=no"))).toEqual([])
            expect(local.filter((line) => / --ssh-mux \S+ /.test(line)).length).toBe(1)
          }))
          expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0))).toBe(true)
        }))

      it.effect.skipIf(process.env.EFFECT_COMMAND_SPAWN === "child_process")(
        "a capture or Output.forEach reads the client's pipe lent: every chunk in the same memory, none allocated",
        () =>
          Effect.gen(function*() {
            const memory = new Set<ArrayBufferLike>()
            let bytes = 0
            let calls = 0
            yield* Command.run(
              Command.make("head", "-c", String(16 << 20), "/dev/zero").pipe(
                Command.stdout(Command.Output.forEach((chunk) => {
                  calls++
                  bytes += chunk.length
                  memory.add(chunk.buffer)
                }))
              )
            )
            expect(bytes).toBe(16 << 20)
            expect(calls).toBeGreaterThan(1)
            // The local pipe's reads go into one buffer; the bytes that came before forEach was
            // attached (while the remote start was awaited) are a copy each.
            expect(memory.size).toBeLessThanOrEqual(1 + 8)
            const captured = yield* Command.bytes(Command.make("head", "-c", String(4 << 20), "/dev/zero"))
            expect(captured.length).toBe(4 << 20)
          })
      )

      it.effect("keeps the remote environment with envInherit, with pairs set and names unset", () =>
        Effect.gen(function*() {
          const out = yield* Command.lines(
            Command.make("env").pipe(Command.envInherit, Command.env("B", "1"), Command.envUnset("HOME"))
          )
          expect(out).toContain("B=1")
          expect(out.some((line) => line.startsWith("SSH_CONNECTION="))).toBe(true)
          expect(out.some((line) => line.startsWith("HOME="))).toBe(false)
        }))
    })

    describe("exit status", () => {
      it.effect("fails to connect to a port nobody listens on with ConnectionError and ssh's reason", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          const closed = SshCommandExecutor.layer({ ...options, port: 1 })
          const error = yield* Effect.flip(Effect.provide(Command.string(Command.make("true")), closed))
          expect(error).toMatchObject({ _tag: "ConnectionError", reason: "ConnectFailed", host: "127.0.0.1" })
          expect((error as CommandError.ConnectionError).detail).toMatch(/Connection refused/)
        }))

      it.effect("fails when authentication is refused with ConnectionError", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          const stranger = SshCommandExecutor.layer({ ...options, identityFile: "/dev/null", user: "nobody" })
          const error = yield* Effect.flip(Effect.provide(Command.string(Command.make("true")), stranger))
          expect(error).toMatchObject({ _tag: "ConnectionError", reason: "ConnectFailed" })
          expect((error as CommandError.ConnectionError).detail).toMatch(/Permission denied/)
        }))
    })

    describe("remote failures", () => {
      it.effect("a missing remote program is the remote shell's exit 127, with its message", () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(Command.string(Command.make("no-such-program-ec")))
          expect(error).toMatchObject({ _tag: "ExitError", exitCode: 127 })
          expect((error as CommandError.ExitError).stderrTail).toMatch(/no-such-program-ec/)
        }))

      it.effect("a connection lost under a running command fails it with ConnectionLost; nothing is left", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          const mark = marker()
          const masters = () => childrenOf(process.pid).filter((pid) => commandLine(pid).includes("ControlMaster=yes"))
          const before = masters()
          const error = yield* Effect.scoped(Effect.gen(function*() {
            const child = yield* Command.start(marked("echo ready; exec sleep 1000", mark).pipe(Command.stdout("pipe")))
            yield* waitForLine(child, "ready")
            const [master] = masters().filter((pid) => !before.includes(pid))
            process.kill(master!, "SIGKILL")
            const lost = yield* Effect.flip(child.wait)
            // The next command does not open a connection of its own behind the layer's back.
            const next = yield* Effect.flip(Command.string(Command.make("echo", "reconnected")))
            return [lost, next] as const
          })).pipe(Effect.provide(SshCommandExecutor.layer(options)))
          expect(error[0]).toMatchObject({ _tag: "ConnectionError", reason: "ConnectionLost", host: "127.0.0.1" })
          expect(error[1]).toMatchObject({ _tag: "ConnectionError" })
          expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0))).toBe(true)
        }))
    })

    describe("hostile input", () => {
      it.effect("working directories as chdir takes them: '-' is a directory, 'link/..' is physical", () =>
        Effect.gen(function*() {
          // sshd starts a session in the user's home from the password database.
          const home = Os.userInfo().homedir
          const dash = Path.join(home, "-")
          const made = !Fs.existsSync(dash)
          if (made) Fs.mkdirSync(dash)
          const target = Fs.mkdtempSync("/tmp/ec-ssh-phys-")
          Fs.mkdirSync(Path.join(target, "a"))
          Fs.mkdirSync(Path.join(target, "b", "inner"), { recursive: true })
          Fs.symlinkSync(Path.join(target, "b", "inner"), Path.join(target, "a", "link"))
          const pwd = (cwd: string) => Command.string(Command.make("pwd", "-P").pipe(Command.workingDirectory(cwd)))
          expect(yield* pwd("-")).toBe(`${Fs.realpathSync(dash)}\n`)
          // chdir("a/link/..") is the parent of link's target (b), not of link (a).
          expect(yield* pwd(Path.join(target, "a", "link") + "/..")).toBe(`${Fs.realpathSync(target)}/b\n`)
          if (made) Fs.rmdirSync(dash)
          Fs.rmSync(target, { recursive: true })
        }))

      it.effect("a program whose name starts with '-' runs, with a cleared environment too", () =>
        Effect.gen(function*() {
          const dir = Fs.mkdtempSync("/tmp/ec-ssh-dash-")
          Fs.writeFileSync(`${dir}/-u`, "#!/bin/sh\necho ran\n", { mode: 0o755 })
          expect(yield* Command.string(Command.make("-u").pipe(Command.env("PATH", dir)))).toBe("ran\n")
          expect(yield* Command.string(Command.make("-u").pipe(Command.envClear, Command.env("PATH", dir)))).toBe(
            "ran\n"
          )
          // With no pair to end env's options, the name is still the program: not found (127), not
          // env's "invalid option" (125).
          expect(yield* Command.exitCode(Command.make("-u").pipe(Command.envClear, Command.stderr("null")))).toBe(127)
          Fs.rmSync(dir, { recursive: true })
        }))

      it.effect("kill refuses what is not a signal's name (nothing reaches the remote shell); after the exit it is a no-op", () =>
        Effect.gen(function*() {
          const trace = `/tmp/ec-ssh-kill-${marker()}`
          yield* Effect.scoped(Effect.gen(function*() {
            const child = yield* Command.start(
              Command.make("sh", "-c", "echo ready; exec sleep 100").pipe(Command.stdout("pipe"))
            )
            yield* waitForLine(child, "ready")
            const error = yield* Effect.flip(child.kill(`SIGTERM -- 0; touch ${trace}; :` as Signal.Signal))
            expect(error._tag).toBe("CommandUsageError")
            yield* child.kill("SIGTERM")
            expect(yield* child.wait).toEqual(ExitStatus.signaled("SIGTERM"))
            // Gone: the group's number may be reused, and nothing is sent to it any more.
            yield* child.kill("SIGKILL")
          }))
          expect(Fs.existsSync(trace)).toBe(false)
        }))

      it.effect("a command line too long for the remote shell is refused before anything runs", () =>
        Effect.gen(function*() {
          const count = Command.make("sh", "-c", "printf %s \"$1\" | wc -c", "sh")
          expect(yield* Command.string(count.pipe(Command.args(["x".repeat(100_000)])))).toBe("100000\n")
          for (const args of [["x".repeat(140_000)], Array.from({ length: 20_000 }, (_, i) => `a${i}`)]) {
            const error = yield* Effect.flip(Command.string(count.pipe(Command.args(args))))
            expect(error).toMatchObject({
              _tag: "CommandUsageError",
              reasons: [expect.stringMatching(/^the remote command line would be \d+ bytes/)]
            })
          }
        }))
    })

    describe("options", () => {
      it.effect("refuses bad options, naming each, before any ssh runs", () =>
        Effect.gen(function*() {
          const dir = Fs.mkdtempSync("/tmp/ec-ssh-options-")
          // An "ssh" that leaves a trace if it ever runs.
          Fs.writeFileSync(`${dir}/ssh`, `#!/bin/sh\ntouch ${dir}/ran\n`, { mode: 0o755 })
          const bad: ReadonlyArray<SshCommandExecutor.Options> = [
            { host: "" },
            { host: "-oProxyCommand=touch /tmp/x" },
            { host: "a b" },
            { host: "h\n" },
            ...[0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 65536, 2 ** 31, 2 ** 53].map((port) => ({
              host: "127.0.0.1",
              port
            })),
            ...[0, 2, 2.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53].map((maxSessions) => ({
              host: "127.0.0.1",
              maxSessions
            })),
            { host: "127.0.0.1", user: "" },
            { host: "127.0.0.1", identityFile: "a\0b" },
            { host: "127.0.0.1", options: { ControlPath: "/tmp/elsewhere" } },
            { host: "127.0.0.1", options: { batchMode: "no" } },
            { host: "127.0.0.1", options: { "Bad Name": "1" } },
            { host: "127.0.0.1", options: { ConnectTimeout: "5\nProxyCommand touch /tmp/x" } }
          ]
          for (const options of bad) {
            const error = yield* Effect.flip(
              Effect.provide(
                Command.string(Command.make("true")),
                SshCommandExecutor.layer({ ...options, ssh: `${dir}/ssh` })
              )
            )
            expect(error._tag).toBe("CommandUsageError")
            expect((error as CommandError.CommandUsageError).reasons.length).toBe(1)
          }
          expect(Fs.existsSync(`${dir}/ran`)).toBe(false)
          Fs.rmSync(dir, { recursive: true })
        }))
    })

    describe("sessions", () => {
      it.effect("commands wait for a session rather than be refused past sshd's MaxSessions", () =>
        Effect.gen(function*() {
          const small = yield* startSshd("bash", 4)
          const run = Command.string(Command.make("sh", "-c", "sleep 0.3; echo ok"))
          const runs = Effect.all(Array.from({ length: 6 }, () => Effect.either(run)), { concurrency: "unbounded" })
          // Told the truth, the layer queues them: all run.
          const told = yield* runs.pipe(Effect.provide(SshCommandExecutor.layer({ ...small.options, maxSessions: 4 })))
          expect(told).toEqual(Array(6).fill(Either.right("ok\n")))
          // Told too many, sshd refuses some: the limit is real.
          const lied = yield* runs.pipe(Effect.provide(SshCommandExecutor.layer({ ...small.options, maxSessions: 40 })))
          expect(lied.some(Either.isLeft)).toBe(true)
        }).pipe(Effect.scoped))

      it.effect("a pipeline needing more sessions than the layer allows is refused before anything runs", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          const stages = Array.from({ length: 4 }, () => Command.make("cat"))
          const error = yield* Effect.flip(
            Command.string(Command.pipeline(stages[0]!, ...stages.slice(1))).pipe(
              Effect.provide(SshCommandExecutor.layer({ ...options, maxSessions: 4 }))
            )
          )
          expect(error).toMatchObject({
            _tag: "CommandUsageError",
            reasons: [expect.stringMatching(/needs 4 ssh sessions/)]
          })
        }))
    })

    describe("fanOut", () => {
      it.effect("gives every host's result in order; an unreachable host does not stop the others", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          const hosts = [options, { ...options, port: 1 }, options]
          const results = yield* SshCommandExecutor.fanOut(hosts, Command.string(Command.make("echo", "up")))
          expect(results.map((r) => r.host)).toEqual(["127.0.0.1", "127.0.0.1", "127.0.0.1"])
          expect(results.map((r) => r.result._tag)).toEqual(["Right", "Left", "Right"])
          expect(results[0]!.result).toEqual(Either.right("up\n"))
          expect(Either.getLeft(results[1]!.result)).toMatchObject(
            Option.some({ _tag: "ConnectionError", reason: "ConnectFailed" })
          )
        }))

      it.effect("with failFast, the first failure fails the run", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          const error = yield* Effect.flip(
            SshCommandExecutor.fanOut([options, { ...options, port: 1 }], Command.string(Command.make("true")), {
              failFast: true
            })
          )
          expect(error).toMatchObject({ _tag: "ConnectionError", reason: "ConnectFailed" })
        }))

      it.effect("runs at most `concurrency` hosts at a time", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          const hosts = [options, options, options, options, options]
          // Each host's program, once connected, waits for a second one running beside it (or for
          // the last host): with a bound of 2 they meet in pairs; without one, more would meet.
          const state = yield* SubscriptionRef.make({ running: 0, arrived: 0, most: 0 })
          const meet = state.changes.pipe(
            Stream.takeUntil(({ arrived, running }) => running >= 2 || arrived === hosts.length),
            Stream.runDrain
          )
          const program = Effect.acquireUseRelease(
            SubscriptionRef.update(state, (s) => ({
              running: s.running + 1,
              arrived: s.arrived + 1,
              most: Math.max(s.most, s.running + 1)
            })),
            () => Effect.zipRight(meet, Command.exitCode(Command.make("true"))),
            () => SubscriptionRef.update(state, (s) => ({ ...s, running: s.running - 1 }))
          )
          const results = yield* SshCommandExecutor.fanOut(hosts, program, { concurrency: 2 })
          expect(results.map((r) => r.result)).toEqual(Array(5).fill(Either.right(0)))
          expect((yield* SubscriptionRef.get(state)).most).toBe(2)
        }))

      it.effect("refuses a concurrency that is not a positive integer before contacting any host", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          for (const concurrency of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
            const error = yield* Effect.flip(
              SshCommandExecutor.fanOut([{ ...options, port: 1 }], Command.string(Command.make("true")), {
                concurrency
              })
            )
            expect(error._tag).toBe("CommandUsageError")
          }
        }))
    })

    describe("refused settings", () => {
      it.effect("refuses settings that need the child-side helper, naming them, before anything runs", () =>
        Effect.gen(function*() {
          const file = `/tmp/ec-ssh-refused-${marker()}`
          const cmd = Command.make("touch", file).pipe(Command.limit("NOFILE", 64), Command.umask(0o077))
          const error = yield* Effect.flip(Command.run(cmd))
          expect(error._tag).toBe("CommandUsageError")
          const reasons = (error as CommandError.CommandUsageError).reasons.join("\n")
          expect(reasons).toMatch(/^limit /m)
          expect(reasons).toMatch(/^umask /m)
          expect(Fs.existsSync(file)).toBe(false)
        }))

      it.effect("refuses a pipeline's settings by stage, and stages with different kill signals", () =>
        Effect.gen(function*() {
          const p = Command.pipeline(
            Command.make("ls").pipe(Command.umask(0o077)),
            Command.make("wc").pipe(Command.killSignal("SIGINT"))
          )
          const error = yield* Effect.flip(Command.run(p))
          expect(error).toMatchObject({
            _tag: "CommandUsageError",
            reasons: [expect.stringMatching(/^stage 1: umask /), expect.stringMatching(/one kill signal/)]
          })
        }))
    })

    describe("pipelines", () => {
      it.effect("a stage's stderr reader that fails stops the run, which fails with an IoError naming it", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          // An ssh client that refuses the readers of a stage's stderr (their remote command first
          // registers itself in a .pid file) and runs every other session.
          const dir = sshClient(`case "$last" in *".pid' || exit 1"*) echo refused >&2; exit 255;; esac`)
          const mark = marker()
          const p = Command.pipeline(Command.make("echo", "data"), marked("cat; exec sleep 100", mark))
          const error = yield* Effect.flip(
            Command.string(p).pipe(Effect.provide(SshCommandExecutor.layer({ ...options, ssh: `${dir}/ssh` })))
          )
          expect(error).toMatchObject({ _tag: "IoError", stream: "stage 1 stderr" })
          expect(error.message).toMatch(/refused$/)
          expect(withMarker("EC_MARKER", mark)).toEqual([])
          Fs.rmSync(dir, { recursive: true })
        }))
    })

    describe("the host's registry", () => {
      it.effect("the registrations of ended runs are swept: a long-lived layer does not pile them up", () =>
        Effect.gen(function*() {
          yield* Effect.repeatN(Command.exitCode(Command.make("true")), 129)
          // Without the sweep: 130 or more in this layer's directory.
          expect(endedRegistrations().length).toBeGreaterThan(0)
          expect(Math.max(...endedRegistrations())).toBeLessThan(64)
        }))
    })

    describe("kill-and-reap on the remote host", () => {
      it.effect("a detached remote command runs on after its scope; its wait gives its status", () =>
        Effect.gen(function*() {
          const mark = marker()
          const detached = yield* Effect.scoped(Effect.gen(function*() {
            const child = yield* Command.start(
              marked("echo ready; read line; sleep 0.5; exit 3", mark).pipe(
                Command.stdout("pipe"),
                Command.stdin("pipe")
              )
            )
            yield* waitForLine(child, "ready")
            return yield* child.detach
          }))
          // Running after the scope closed, stdin at EOF.
          expect(withMarker("EC_MARKER", mark).length).toBeGreaterThan(0)
          expect(yield* detached.wait).toEqual(ExitStatus.exited(3))
          expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0))).toBe(true)
        }))

      it.effect("a run aborted before its session opened is not started when the session opens later", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          // An ssh client whose command sessions open late and out of the run's reach (in a session
          // of their own, after the local client is gone); it says when such a session ended.
          const dir = sshClient(
            `case "$last" in *setsid*) setsid sh -c 'sleep 0.5; ssh "$@"; : >"\${0%/ssh}/ended"' "$0" "$@" ` +
              `</dev/null >/dev/null 2>&1 & exit 0;; esac`
          )
          const mark = marker()
          // The layer outlives the late session: its end would stop the command anyway.
          yield* Effect.gen(function*() {
            const error = yield* Effect.flip(Command.string(marked("exec sleep 1000", mark)))
            expect(error._tag).toBe("SpawnError")
            // The session opened, its wrapper found the word not to start, and ended.
            expect(yield* Effect.promise(() => eventually(() => Fs.existsSync(`${dir}/ended`), 10_000))).toBe(true)
            expect(withMarker("EC_MARKER", mark)).toEqual([])
          }).pipe(Effect.provide(SshCommandExecutor.layer({ ...options, ssh: `${dir}/ssh` })))
          Fs.rmSync(dir, { recursive: true })
        }))

      it.effect("closing the layer kills a detached remote command: nothing outlives the connection", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          const mark = marker()
          yield* Effect.scoped(Effect.gen(function*() {
            const child = yield* Command.start(marked("echo ready; exec sleep 1000", mark).pipe(Command.stdout("pipe")))
            yield* waitForLine(child, "ready")
            expect(withMarker("EC_MARKER", mark).length).toBe(1)
            yield* child.detach
          })).pipe(Effect.provide(SshCommandExecutor.layer(options)))
          expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0))).toBe(true)
        }))

      it.effect("a SIGKILLed Node process leaves nothing: no remote command, no local client", () =>
        Effect.gen(function*() {
          const { options } = yield* Sshd
          const mark = marker()
          const fixture = Path.join(import.meta.dirname, "fixtures", "ssh-parent.ts")
          const node = Command.make(
            process.execPath,
            "--import",
            "tsx",
            "--conditions=source",
            fixture,
            JSON.stringify(options)
          ).pipe(
            Command.envInherit,
            Command.env("EC_MARKER", mark),
            Command.workingDirectory(Path.resolve(import.meta.dirname, "../../..")),
            // In our own group: what is left of the fixture's group is not killed for it.
            Command.processGroup("inherit"),
            Command.stdout("pipe")
          )
          yield* Effect.scoped(Effect.gen(function*() {
            const parent = yield* Command.start(node)
            yield* waitForLine(parent, "ready")
            // Node, the connection's ssh, the command's mux client, the remote wrapper, sh and sleep.
            expect(withMarker("EC_MARKER", mark).length).toBeGreaterThanOrEqual(5)
            yield* parent.kill("SIGKILL")
            expect(yield* parent.wait).toEqual(ExitStatus.signaled("SIGKILL"))
          })).pipe(Effect.provide(NodeCommandExecutor.layer))
          expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0, 10_000)))
            .toBe(true)
        }))
    })
  })
}
