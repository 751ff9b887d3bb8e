/**
 * The executor behaviours every executor that runs real processes on this machine must share:
 * run by the Node executor's tests and, over a private sshd, by the SSH executor's (whose remote
 * host is this machine, so that leftovers are counted the same way).
 */
import { Command, type CommandError, type CommandExecutor, ExitStatus, type Signal } from "@effect-command/core"
import { describe, expect, type Vitest } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Fs from "node:fs"

import { eventually, marker, withMarker } from "./procs.js"

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** `sh -c script`, marked so that its processes can be counted. */
export const marked = (script: string, mark: string) =>
  Command.make("sh", "-c", script).pipe(Command.envInherit, Command.env("EC_MARKER", mark))

/** Reads a child's stdout up to a line equal to `line`. */
export const waitForLine = (
  child: { readonly stdout: Stream.Stream<Uint8Array, CommandError.CommandError> },
  line: string
) => child.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.takeUntil((l) => l === line), Stream.runDrain)

/** The shared cases, for the executor `it` provides. */
export const executorCases = (
  it: Vitest.MethodsNonLive<CommandExecutor.CommandExecutor, true>,
  options: { readonly childProcessEngine: boolean } = { childProcessEngine: false }
) => {
  describe("running", () => {
    it.effect("runs a command and captures its output", () =>
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

    it.effect("runs in the working directory; a missing one is a SpawnError", () =>
      Effect.gen(function*() {
        const dir = Fs.mkdtempSync("/tmp/ec ssh 'cwd' ")
        expect(yield* Command.string(Command.make("pwd").pipe(Command.workingDirectory(dir)))).toBe(`${dir}\n`)
        Fs.rmSync(dir, { recursive: true })
        const error = yield* Effect.flip(Command.string(Command.make("pwd").pipe(Command.workingDirectory(dir))))
        expect(error).toMatchObject({ _tag: "SpawnError", reason: "BadWorkingDirectory" })
      }))

    it.effect("reads and writes Input.file and Output.file (on the host that runs the command)", () =>
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
    it.effect("maps exit codes exactly, 255 included", () =>
      Effect.gen(function*() {
        for (const code of [0, 1, 3, 127, 128, 254, 255]) {
          expect(yield* Command.status(Command.make("sh", "-c", `exit ${code}`))).toEqual(ExitStatus.exited(code))
        }
        const error = yield* Effect.flip(Command.string(Command.make("sh", "-c", "echo bye >&2; exit 255")))
        expect(error).toMatchObject({ _tag: "ExitError", exitCode: 255 })
      }))

    it.effect("reports a death by signal as that signal", () =>
      Effect.gen(function*() {
        expect(yield* Command.status(Command.make("sh", "-c", "kill -s USR1 $$"))).toEqual(
          ExitStatus.signaled("SIGUSR1")
        )
        const error = yield* Effect.flip(Command.string(Command.make("sh", "-c", "kill -s SEGV $$")))
        expect(error).toMatchObject({ _tag: "SignalError", signal: "SIGSEGV" })
      }))
  })

  // Node's child_process reports a death by a real-time signal as exit 0: that engine is left out.
  it.effect.skipIf(options.childProcessEngine)(
    "reports a death by a real-time signal as SIGRTMIN+n",
    () =>
      Effect.gen(function*() {
        expect(yield* Command.status(Command.make("sh", "-c", "kill -s RTMIN+3 $$"))).toEqual(
          ExitStatus.signaled("SIGRTMIN+3" as Signal.Signal)
        )
      })
  )

  describe("kill-and-reap", () => {
    it.effect("scope close kills the command's whole process group and leaves nothing", () =>
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

    it.effect("interruption kills a group that ignores SIGTERM with SIGKILL after the grace", () =>
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

    it.effect("a timeout kills the group and fails with CommandTimeoutError", () =>
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

    it.effect("kill sends a signal to the group", () =>
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
}
