/** The SSH executor against a private sshd on 127.0.0.1: the remote host is this machine. */
import { Command, type CommandError, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor, SshCommandExecutor } from "@effect-command/node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"

import { eventually, marker, withMarker } from "./support/procs.js"
import { sshdMissing, startSshd } from "./support/sshd.js"

class Sshd extends Context.Tag("test/Sshd")<Sshd, Effect.Effect.Success<typeof startSshd>>() {}

const sshd = Layer.scoped(Sshd, startSshd)
const remote = Layer.provideMerge(
  Layer.unwrapEffect(Effect.map(Sshd, ({ options }) => SshCommandExecutor.layer(options))),
  sshd
)

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** `sh -c script`, marked so that its processes can be counted. */
const marked = (script: string, mark: string) =>
  Command.make("sh", "-c", script).pipe(Command.envInherit, Command.env("EC_MARKER", mark))

const waitForLine = (child: { readonly stdout: Stream.Stream<Uint8Array, CommandError.CommandError> }, line: string) =>
  child.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.takeUntil((l) => l === line), Stream.runDrain)

if (sshdMissing !== undefined) {
  describe("SshCommandExecutor", () => {
    it.skip(`is not tested here: ${sshdMissing}`, () => {})
  })
} else {
  layer(remote, { timeout: "60 seconds", excludeTestServices: true })("SshCommandExecutor", (it) => {
    describe("running", () => {
      it.effect("runs a command on the host and captures its output", () =>
        Effect.gen(function*() {
          expect(yield* Command.string(Command.make("echo", "hello", "world"))).toBe("hello world\n")
          const result = yield* Command.run(
            Command.make("sh", "-c", "echo out; echo err >&2").pipe(
              Command.stdout("capture"),
              Command.stderr("capture")
            )
          )
          expect([decode(result.stdout), decode(result.stderr)]).toEqual(["out\n", "err\n"])
        }))

      it.effect("passes stdin, stdout and stderr bytes unchanged, NUL bytes included", () =>
        Effect.gen(function*() {
          const bytes = new Uint8Array(256 * 1024).map((_, i) => (i * 7919) % 256)
          const out = yield* Command.run(Command.make("cat").pipe(Command.feed(bytes), Command.stdout("capture")))
          expect(Buffer.from(out.stdout).equals(Buffer.from(bytes))).toBe(true)
          const err = yield* Command.run(
            Command.make("sh", "-c", "cat >&2").pipe(Command.feed(bytes), Command.stderr("capture"))
          )
          expect(Buffer.from(err.stderr).equals(Buffer.from(bytes))).toBe(true)
        }))

      it.effect("gives every argv word as it is: spaces, quotes, $, backquotes, newlines, globs", () =>
        Effect.gen(function*() {
          const words = [
            "a b",
            "it's",
            "\"q\"",
            "$HOME",
            "`id`",
            "$(id)",
            "one\ntwo",
            "*",
            "-n",
            "",
            "\\",
            "'",
            ";",
            "&&"
          ]
          const script = "for a; do printf '[%s]' \"$a\"; done"
          const out = yield* Command.string(Command.make("sh", "-c", script, "sh", ...words))
          expect(out).toBe(words.map((word) => `[${word}]`).join(""))
        }))

      it.effect("clears the environment to the command's pairs; envPass takes the local value", () =>
        Effect.gen(function*() {
          process.env.EC_SSH_LOCAL_ONLY = "from here"
          const out = yield* Command.lines(
            Command.make("env").pipe(Command.env("A", "x y $'\"z"), Command.envPass("EC_SSH_LOCAL_ONLY"))
          )
          expect(out.sort()).toEqual(["A=x y $'\"z", "EC_SSH_LOCAL_ONLY=from here"])
        }))

      it.effect("keeps the remote environment with envInherit, with pairs set and names unset", () =>
        Effect.gen(function*() {
          const out = yield* Command.lines(
            Command.make("env").pipe(Command.envInherit, Command.env("B", "1"), Command.envUnset("HOME"))
          )
          expect(out).toContain("B=1")
          expect(out.some((line) => line.startsWith("SSH_CONNECTION="))).toBe(true)
          expect(out.some((line) => line.startsWith("HOME="))).toBe(false)
        }))

      it.effect("runs in the working directory; a missing one is a SpawnError", () =>
        Effect.gen(function*() {
          const dir = Fs.mkdtempSync("/tmp/ec ssh 'cwd' ")
          expect(yield* Command.string(Command.make("pwd").pipe(Command.workingDirectory(dir)))).toBe(`${dir}\n`)
          Fs.rmSync(dir, { recursive: true })
          const error = yield* Effect.flip(Command.string(Command.make("pwd").pipe(Command.workingDirectory(dir))))
          expect(error).toMatchObject({ _tag: "SpawnError", reason: "BadWorkingDirectory" })
        }))

      it.effect("reads and writes Input.file and Output.file on the remote host", () =>
        Effect.gen(function*() {
          const dir = Fs.mkdtempSync("/tmp/ec-ssh-files-")
          Fs.writeFileSync(`${dir}/in`, "input\n")
          yield* Command.run(
            Command.make("cat").pipe(
              Command.stdin(Command.Input.file(`${dir}/in`)),
              Command.stdout(Command.Output.file(`${dir}/out`))
            )
          )
          expect(Fs.readFileSync(`${dir}/out`, "utf8")).toBe("input\n")
          Fs.rmSync(dir, { recursive: true })
        }))
    })

    describe("exit status", () => {
      it.effect("maps remote exit codes exactly, 255 included", () =>
        Effect.gen(function*() {
          for (const code of [0, 1, 3, 127, 128, 254, 255]) {
            expect(yield* Command.status(Command.make("sh", "-c", `exit ${code}`))).toEqual(ExitStatus.exited(code))
          }
          const error = yield* Effect.flip(Command.string(Command.make("sh", "-c", "echo bye >&2; exit 255")))
          expect(error).toMatchObject({ _tag: "ExitError", exitCode: 255 })
        }))

      it.effect("reports a remote death by signal as that signal", () =>
        Effect.gen(function*() {
          expect(yield* Command.status(Command.make("sh", "-c", "kill -s USR1 $$"))).toEqual(
            ExitStatus.signaled("SIGUSR1")
          )
          const error = yield* Effect.flip(Command.string(Command.make("sh", "-c", "kill -s SEGV $$")))
          expect(error).toMatchObject({ _tag: "SignalError", signal: "SIGSEGV" })
        }))

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

      it.effect("refuses pipelines", () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(Command.run(Command.pipeline(Command.make("ls"), Command.make("wc"))))
          expect(error).toMatchObject({ _tag: "CommandUsageError", reasons: [expect.stringMatching(/^a pipeline/)] })
        }))
    })

    describe("kill-and-reap on the remote host", () => {
      it.effect("scope close kills the remote command's whole process group and leaves nothing", () =>
        Effect.gen(function*() {
          const mark = marker()
          const status = yield* Effect.scoped(Effect.gen(function*() {
            const child = yield* Command.start(
              marked("sleep 100 & sleep 100 & echo ready; wait", mark).pipe(Command.stdout("pipe"))
            )
            yield* waitForLine(child, "ready")
            expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 3))).toBe(true)
            return yield* child.abort
          }))
          expect(status).toEqual(ExitStatus.signaled("SIGTERM"))
          expect(withMarker("EC_MARKER", mark)).toEqual([])
        }))

      it.effect("interruption kills a remote group that ignores SIGTERM with SIGKILL after the grace", () =>
        Effect.gen(function*() {
          const mark = marker()
          const script = "trap '' TERM; sleep 100 & echo ready; while :; do sleep 1; done"
          yield* Effect.scoped(Effect.gen(function*() {
            const child = yield* Command.start(
              marked(script, mark).pipe(Command.stdout("pipe"), Command.killGrace("300 millis"))
            )
            yield* waitForLine(child, "ready")
            expect(yield* child.abort).toEqual(ExitStatus.signaled("SIGKILL"))
          }))
          expect(withMarker("EC_MARKER", mark)).toEqual([])
        }))

      it.effect("a timeout kills the remote group and fails with CommandTimeoutError", () =>
        Effect.gen(function*() {
          const mark = marker()
          const cmd = marked("sleep 100 & sleep 100", mark).pipe(
            Command.stdout("capture"),
            Command.timeout("500 millis")
          )
          const error = yield* Effect.flip(Command.run(cmd))
          expect(error._tag).toBe("CommandTimeoutError")
          expect(withMarker("EC_MARKER", mark)).toEqual([])
        }))

      it.effect("after the command exits, what is left of its group is killed as locally", () =>
        Effect.gen(function*() {
          const mark = marker()
          const out = yield* Command.string(marked("sleep 100 & echo done", mark).pipe(Command.stdout("capture")))
          expect(out).toBe("done\n")
          expect(withMarker("EC_MARKER", mark)).toEqual([])
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

      it.effect("a SIGKILLed Node process leaves nothing: no remote command, no local ssh client", () =>
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
            // Node, the connection's ssh, the command's ssh, the remote wrapper, sh and sleep.
            expect(withMarker("EC_MARKER", mark).length).toBeGreaterThanOrEqual(5)
            yield* parent.kill("SIGKILL")
            expect(yield* parent.wait).toEqual(ExitStatus.signaled("SIGKILL"))
          })).pipe(Effect.provide(NodeCommandExecutor.layer))
          expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0, 10_000)))
            .toBe(true)
        }))

      it.effect("kill sends a signal to the remote group", () =>
        Effect.gen(function*() {
          const status = yield* Effect.scoped(Effect.gen(function*() {
            const child = yield* Command.start(
              Command.make("sh", "-c", "echo ready; exec sleep 100").pipe(Command.stdout("pipe"))
            )
            yield* waitForLine(child, "ready")
            yield* child.kill("SIGINT")
            return yield* child.wait
          }))
          expect(status).toEqual(ExitStatus.signaled("SIGINT"))
        }))
    })
  })
}
