/**
 * The executor behaviours every executor that runs real processes on this machine must share:
 * run by the Node executor's tests and, over a private sshd, by the SSH executor's (whose remote
 * host is this machine, so that leftovers are counted the same way).
 */
import { Command, type CommandError, type CommandExecutor, ExitStatus, type Signal } from "@effect-command/core"
import { describe, expect, type Vitest } from "@effect/vitest"
import { Effect, Sink, Stream } from "effect"
import * as Fs from "node:fs"

import { eventually, marker, openFdCount, withMarker, zombieChildren } from "./procs.js"

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** `sh -c script`, marked so that its processes can be counted. */
export const marked = (script: string, mark: string) =>
  Command.make("sh", "-c", script).pipe(Command.envInherit, Command.env("EC_MARKER", mark))

/** Reads a child's stdout up to a line equal to `line`. */
export const waitForLine = (
  child: { readonly stdout: Stream.Stream<Uint8Array, CommandError.CommandError> },
  line: string
) => child.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.takeUntil((l) => l === line), Stream.runDrain)

const sh = (script: string) => Command.make("sh", "-c", script)

/** `yes | head -n 1`: SIGPIPE fails the run, unless the writer allows it (then its status is still SIGPIPE). */
export const yesHead = Effect.gen(function*() {
  const head = Command.make("head", "-n", "1")
  const plain = yield* Effect.flip(Command.string(Command.pipeTo(Command.make("yes"), head)))
  expect(plain).toMatchObject({ _tag: "SignalError", signal: "SIGPIPE" })
  const allowed = Command.make("yes").pipe(Command.allowSigpipe, Command.pipeTo(head))
  expect(yield* Command.string(allowed)).toBe("y\n")
  expect((yield* Command.run(allowed)).stages).toEqual([ExitStatus.signaled("SIGPIPE"), ExitStatus.exited(0)])
})

/**
 * The shared cases, for the executor `it` provides. `leftovers` names what an executor left behind
 * after a run (none by default); `childProcessEngine` leaves out what Node's child_process cannot
 * report.
 */
export const executorCases = (
  it: Vitest.MethodsNonLive<CommandExecutor.CommandExecutor, true>,
  options: {
    readonly childProcessEngine?: boolean
    readonly leftovers?: () => ReadonlyArray<string>
  } = {}
) => {
  const leftovers = options.leftovers ?? (() => [])
  /** Nothing of the run is left: no marked process, no zombie, no fd, nothing of the executor's. */
  const nothingLeft = (mark: string, fdsBefore: number) =>
    Effect.gen(function*() {
      expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0))).toBe(true)
      // Reaped, as the marked processes are gone: the last exit may still be on its way to the
      // loop on a loaded machine (a zombie never reaped fails all the same).
      expect(yield* Effect.promise(() => eventually(() => zombieChildren().length === 0))).toBe(true)
      // Closed: at once as a rule; a loaded machine has taken seconds (a leak never closes).
      expect(yield* Effect.promise(() => eventually(() => openFdCount() === fdsBefore, 10_000))).toBe(true)
      expect(leftovers()).toEqual([])
    })
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

    it.effect("Output.forEach is handed every byte of stdout and stderr, in order; nothing is captured", () =>
      Effect.gen(function*() {
        const bytes = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 7919 + (i >> 16)) % 256)
        const dir = Fs.mkdtempSync("/tmp/ec-foreach-")
        Fs.writeFileSync(`${dir}/bytes`, bytes)
        // Through the run helpers' one-go run, and through start (which a timeout takes).
        for (const timeout of [undefined, "1 minute"] as const) {
          const out: Array<Uint8Array> = []
          const err: Array<Uint8Array> = []
          const both = Command.make("sh", "-c", "cat \"$0\" & cat \"$0\" >&2; wait", `${dir}/bytes`).pipe(
            // Copies: the bytes are lent.
            Command.stdout(Command.Output.forEach((chunk) => void out.push(chunk.slice()))),
            Command.stderr(Command.Output.forEach((chunk) => void err.push(chunk.slice()))),
            timeout === undefined ? (self) => self : Command.timeout(timeout)
          )
          const result = yield* Command.run(both)
          expect([result.status, result.stdout.length, result.stderr.length]).toEqual([ExitStatus.exited(0), 0, 0])
          expect(Buffer.concat(out).equals(bytes)).toBe(true)
          expect(Buffer.concat(err).equals(bytes)).toBe(true)
        }
        Fs.rmSync(dir, { recursive: true })
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
  it.effect.skipIf(options.childProcessEngine === true)(
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

  describe("user streams and sinks that do not end normally", () => {
    const endings: ReadonlyArray<readonly [string, Effect.Effect<never, unknown>, (cause: unknown) => void]> = [
      ["fails", Effect.fail("broken"), (cause) => expect(cause).toBe("broken")],
      ["dies", Effect.die(new Error("defect")), (cause) => expect((cause as Error).message).toBe("defect")]
    ]
    it.effect("a stream of an endless writer taken in part ends at once; nothing is left", () =>
      Effect.gen(function*() {
        const mark = marker()
        const fdsBefore = openFdCount()
        const started = Date.now()
        const taken = yield* Stream.runCollect(Stream.take(Command.stream(marked("exec yes", mark)), 1))
        expect(taken.length).toBe(1)
        expect(Date.now() - started).toBeLessThan(2500)
        yield* nothingLeft(mark, fdsBefore)
      }))

    for (const [how, ending, checkCause] of endings) {
      it.effect(`an input stream that ${how} after some bytes fails the run with IoError on stdin; no EOF reached the command`, () =>
        Effect.gen(function*() {
          const mark = marker()
          const dir = Fs.mkdtempSync("/tmp/ec-input-")
          const fdsBefore = openFdCount()
          // cat's EOF would leave `eof`: the evidence that the truncated input was taken as whole.
          const cat = marked(`trap '' TERM; cat >"$0/in" && : >"$0/eof"`, mark).pipe(
            Command.arg(dir),
            Command.killGrace("300 millis"),
            Command.stdin(
              Command.Input.stream(Stream.concat(Stream.make(new Uint8Array([1, 2, 3])), Stream.fromEffect(ending)))
            )
          )
          const error = yield* Effect.flip(Command.string(cat))
          expect(error).toMatchObject({ _tag: "IoError", stream: "stdin" })
          checkCause((error as CommandError.IoError).cause)
          expect(Fs.existsSync(`${dir}/eof`)).toBe(false)
          yield* nothingLeft(mark, fdsBefore)
          Fs.rmSync(dir, { recursive: true })
        }))

      it.effect(`a stdout sink that ${how} on an endless writer fails the run with IoError on stdout; nothing is left`, () =>
        Effect.gen(function*() {
          const mark = marker()
          const fdsBefore = openFdCount()
          const yes = marked("exec yes", mark).pipe(
            Command.stdout(Command.Output.sink(Sink.forEach(() => ending))),
            Command.stderr("capture")
          )
          const started = Date.now()
          const error = yield* Effect.flip(Command.run(yes))
          // At once: not after a grace spent waiting for a status stuck behind unread output.
          expect(Date.now() - started).toBeLessThan(2500)
          expect(error).toMatchObject({ _tag: "IoError", stream: "stdout" })
          checkCause((error as CommandError.IoError).cause)
          yield* nothingLeft(mark, fdsBefore)
        }))
    }
  })

  describe("Output.forEach functions that fail", () => {
    const failures: ReadonlyArray<readonly [string, (bytes: Uint8Array) => void, (cause: unknown) => void]> = [
      ["throws", () => {
        throw new Error("full disk")
      }, (cause) => expect((cause as Error).message).toBe("full disk")],
      // An async function: nothing would wait for it, and its rejection must not go unhandled.
      ["returns a promise", async () => {
        throw new Error("async")
      }, (cause) => expect(String(cause)).toMatch(/returned a promise: it must be synchronous/)],
      // In an Effect program, a natural mistake: nothing would run the Effect.
      [
        "returns an Effect",
        () => Effect.void as never,
        (cause) => expect(String(cause)).toMatch(/returned an Effect: use Output.sink for effects/)
      ]
    ]
    for (const [how, f, checkCause] of failures) {
      for (const timeout of [undefined, "1 minute"] as const) {
        it.effect(`a function that ${how} on an endless writer fails the run with IoError at once${timeout === undefined ? "" : " (with a timeout)"}; nothing is left`, () =>
          Effect.gen(function*() {
            const mark = marker()
            const fdsBefore = openFdCount()
            let calls = 0
            const yes = marked("exec yes", mark).pipe(
              Command.stdout(Command.Output.forEach((bytes) => {
                calls++
                return f(bytes)
              })),
              timeout === undefined ? (self) => self : Command.timeout(timeout)
            )
            const started = Date.now()
            const error = yield* Effect.flip(Command.run(yes))
            expect(Date.now() - started).toBeLessThan(2500)
            expect(error).toMatchObject({ _tag: "IoError", stream: "stdout" })
            checkCause((error as CommandError.IoError).cause)
            // Once it failed it is not called again.
            expect(calls).toBe(1)
            yield* nothingLeft(mark, fdsBefore)
          }))
      }
    }

    it.effect("a function given to stdout and stderr is not called again by either once it failed", () =>
      Effect.gen(function*() {
        const mark = marker()
        for (const timeout of [undefined, "1 minute"] as const) {
          let calls = 0
          const f = Command.Output.forEach(() => {
            calls++
            throw new Error("stop")
          })
          const both = marked("yes err >&2 & exec yes out", mark).pipe(
            Command.stdout(f),
            Command.stderr(f),
            timeout === undefined ? (self) => self : Command.timeout(timeout)
          )
          const error = yield* Effect.flip(Command.run(both))
          expect(error).toMatchObject({ _tag: "IoError" })
          expect((error as CommandError.IoError).cause).toMatchObject({ message: "stop" })
          expect(calls).toBe(1)
        }
        expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0))).toBe(true)
      }))

    it.effect("a function that throws while the kill grace outlasts the timeout: the run fails with its IoError, not a timeout", () =>
      Effect.gen(function*() {
        const mark = marker()
        const stubborn = marked("trap '' TERM; exec yes", mark).pipe(
          Command.stdout(Command.Output.forEach(() => {
            throw new Error("full disk")
          })),
          Command.killGrace("1500 millis"),
          Command.timeout("300 millis")
        )
        const error = yield* Effect.flip(Command.run(stubborn))
        expect(error).toMatchObject({ _tag: "IoError", stream: "stdout" })
        expect((error as CommandError.IoError).cause).toMatchObject({ message: "full disk" })
        expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0))).toBe(true)
      }))
  })

  describe("pipelines", () => {
    it.effect("bytes go through every stage; every stage's status; pipefail's status", () =>
      Effect.gen(function*() {
        const bytes = new Uint8Array(256 * 1024).map((_, i) => (i * 7919) % 256)
        const through = yield* Command.bytes(
          Command.pipeline(Command.make("cat"), Command.make("cat"), Command.make("cat")).pipe(Command.feed(bytes))
        )
        expect(Buffer.from(through).equals(Buffer.from(bytes))).toBe(true)
        const ok = yield* Command.run(
          Command.pipeline(sh("printf 'a\\nb\\n'"), sh("cat"), sh("tr a-z A-Z")).pipe(Command.stdout("capture"))
        )
        expect([ok.status, ok.stages, decode(ok.stdout)]).toEqual([
          ExitStatus.exited(0),
          [ExitStatus.exited(0), ExitStatus.exited(0), ExitStatus.exited(0)],
          "A\nB\n"
        ])
        const rightmost = yield* Effect.flip(Command.run(Command.pipeline(sh("exit 4"), sh("cat; exit 3"), sh("cat"))))
        expect(rightmost).toMatchObject({
          exitCode: 3,
          stages: [ExitStatus.exited(4), ExitStatus.exited(3), ExitStatus.exited(0)]
        })
        const signaled = yield* Effect.flip(Command.run(Command.pipeline(sh("kill -s USR1 $$"), sh("cat"))))
        expect(signaled).toMatchObject({
          signal: "SIGUSR1",
          stages: [ExitStatus.signaled("SIGUSR1"), ExitStatus.exited(0)]
        })
        expect(leftovers()).toEqual([])
      }))

    it.effect("a failing middle stage fails the run with an ExitError naming it and its stderr", () =>
      Effect.gen(function*() {
        const p = Command.pipeline(sh("echo data"), sh("cat >/dev/null; echo 'middle broke' >&2; exit 3"), sh("cat"))
        const error = yield* Effect.flip(Command.run(p))
        expect(error).toMatchObject({
          _tag: "ExitError",
          exitCode: 3,
          failedStage: 1,
          stages: [ExitStatus.exited(0), ExitStatus.exited(3), ExitStatus.exited(0)]
        })
        expect(error.message).toMatch(/: stage 2 \(sh\): unexpected exit status 3: middle broke$/)
      }))

    it.effect("joints: stdout, 2>&1 and stderr alone; each earlier stage's stderr in stageStderr", () =>
      Effect.gen(function*() {
        const both = Command.pipeTo(sh("echo out; echo err >&2"), Command.make("sort"), { from: "both" })
        expect(yield* Command.string(both)).toBe("err\nout\n")
        const errOnly = Command.pipeTo(sh("echo out; echo err >&2"), sh("sed s/^/got-/"), { from: "stderr" })
        expect(yield* Command.string(errOnly)).toBe("got-err\n")
        const toStdout = Command.pipeTo(
          sh("echo out; echo err >&2").pipe(Command.stderr("stdout")),
          Command.make("sort")
        )
        expect(yield* Command.string(toStdout)).toBe("err\nout\n")
        const result = yield* Command.run(
          Command.pipeline(
            sh("echo a; echo first >&2").pipe(Command.stderr("capture")),
            sh("cat; echo second >&2").pipe(Command.stderr("capture")),
            sh("cat; echo third >&2")
          ).pipe(Command.stdout("capture"), Command.stderr("capture"))
        )
        expect(decode(result.stdout)).toBe("a\n")
        expect(result.stageStderr.map(decode)).toEqual(["first\n", "second\n", "third\n"])
        // An earlier stage's stderr not asked for, to null, and to a file.
        const dir = Fs.mkdtempSync("/tmp/ec-pipe-err-")
        const quiet = yield* Command.run(
          Command.pipeline(
            sh("echo a; echo dropped >&2").pipe(Command.stderr("null")),
            sh("cat; echo filed >&2").pipe(Command.stderr(Command.Output.file(`${dir}/err`))),
            sh("cat; echo unasked >&2")
          ).pipe(Command.stdout("capture"))
        )
        expect(decode(quiet.stdout)).toBe("a\n")
        expect(Fs.readFileSync(`${dir}/err`, "utf8")).toBe("filed\n")
        Fs.rmSync(dir, { recursive: true })
        // Megabytes of an earlier stage's stderr, read while the data flows on.
        const loud = yield* Command.run(
          Command.pipeline(
            sh("head -c 3000000 /dev/zero >&2; echo done").pipe(Command.stderr("capture")),
            Command.make("cat")
          ).pipe(Command.stdout("capture"))
        )
        expect([loud.stageStderr[0]!.length, decode(loud.stdout)]).toEqual([3000000, "done\n"])
        expect(leftovers()).toEqual([])
      }))

    it.effect("each stage has its own environment and working directory; a missing one is a SpawnError", () =>
      Effect.gen(function*() {
        const a = Fs.mkdtempSync("/tmp/ec pipe 'a' ")
        const b = Fs.mkdtempSync("/tmp/ec-pipe-b-")
        const out = yield* Command.lines(
          Command.pipeline(
            sh("pwd; echo \"$S$T\"").pipe(Command.env("S", "one"), Command.workingDirectory(a)),
            sh("cat; pwd; echo \"$S$T\"").pipe(
              Command.env("S", "two"),
              Command.env("T", "!"),
              Command.workingDirectory(b)
            )
          )
        )
        expect(out).toEqual([a, "one", b, "two!"])
        Fs.rmSync(b, { recursive: true })
        const error = yield* Effect.flip(
          Command.string(
            Command.pipeline(
              sh("echo x").pipe(Command.workingDirectory(a)),
              sh("cat").pipe(Command.workingDirectory(b))
            )
          )
        )
        expect(error).toMatchObject({ _tag: "SpawnError", reason: "BadWorkingDirectory" })
        expect(leftovers()).toEqual([])
        Fs.rmSync(a, { recursive: true })
      }))

    it.effect("yes | head -n 1: SIGPIPE fails the run, unless the writer allows it", () => yesHead)

    it.effect("scope close kills every stage, SIGKILL after the grace for one ignoring SIGTERM", () =>
      Effect.gen(function*() {
        const mark = marker()
        const p = Command.pipeline(
          marked("trap '' TERM; echo ready; echo progress >&2; while :; do sleep 1; done", mark).pipe(
            Command.stderr("pipe"),
            Command.killGrace("300 millis")
          ),
          marked("cat", mark).pipe(Command.killGrace("300 millis")),
          marked("trap '' TERM; cat", mark).pipe(Command.killGrace("300 millis"))
        ).pipe(Command.stdout("pipe"))
        const [child, progress] = yield* Effect.scoped(Effect.gen(function*() {
          const child = yield* Command.start(p)
          yield* waitForLine(child, "ready")
          const progress = yield* child.upstreamStderr[0]!.pipe(Stream.decodeText(), Stream.take(1), Stream.runCollect)
          expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length >= 3))).toBe(true)
          return [child, progress] as const
        }))
        expect([...progress].join("")).toBe("progress\n")
        // The last stage ended when its input did; pipefail's status is the middle one's.
        expect(yield* child.waitStages).toEqual([
          ExitStatus.signaled("SIGKILL"),
          ExitStatus.signaled("SIGTERM"),
          ExitStatus.exited(0)
        ])
        expect(yield* child.wait).toEqual(ExitStatus.signaled("SIGTERM"))
        expect(withMarker("EC_MARKER", mark)).toEqual([])
        expect(leftovers()).toEqual([])
      }))

    it.effect("a timeout kills every stage and fails with CommandTimeoutError", () =>
      Effect.gen(function*() {
        const mark = marker()
        const p = Command.pipeline(
          marked("trap '' TERM; sleep 100 & echo started >&2; while :; do sleep 1; done", mark).pipe(
            Command.killGrace("300 millis")
          ),
          marked("trap '' TERM; cat", mark).pipe(Command.killGrace("300 millis"))
        ).pipe(Command.timeout("1 second"))
        const error = yield* Effect.flip(Command.run(p))
        expect(error._tag).toBe("CommandTimeoutError")
        expect(withMarker("EC_MARKER", mark)).toEqual([])
        expect(leftovers()).toEqual([])
      }))
  })
}
