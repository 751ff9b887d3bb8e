import { Command, CommandExecutor, DryRunExecutor, ExitStatus } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  Clock,
  Deferred,
  Effect,
  Either,
  Fiber,
  Logger,
  LogLevel,
  Option,
  Redacted,
  Ref,
  Sink,
  Stream,
  TestClock
} from "effect"

import { decode, encode } from "./support.js"

const cmd = Command.make("/bin/tool", "--flag", Redacted.make("hidden"))

/** Provides a dry-run executor whose every command answers `response`. */
const answering = (response: DryRunExecutor.Response) => Effect.provide(DryRunExecutor.layer(() => response))

describe("run", () => {
  it.effect("refuses pipes that only start's caller could serve, and spawns nothing", () =>
    Effect.gen(function*() {
      const piped = cmd.pipe(Command.stdin("pipe"), Command.stderr("pipe"))
      const helpers: ReadonlyArray<
        (
          c: Command.Command
        ) => Effect.Effect<
          unknown,
          { readonly _tag: string; readonly message: string },
          CommandExecutor.CommandExecutor
        >
      > = [
        Command.run,
        Command.exitCode,
        Command.status,
        Command.string,
        Command.lines
      ]
      for (const helper of helpers) {
        const error = yield* Effect.flip(helper(piped))
        expect(error._tag).toBe("CommandUsageError")
        expect(error.message).toContain("cannot write a piped stdin")
        expect(error.message).toContain("cannot read a piped stderr")
      }
      const streamed = yield* Effect.flip(Stream.runDrain(Command.stream(cmd.pipe(Command.stdin("pipe")))))
      expect(streamed.message).toContain("stream cannot write a piped stdin")
      expect(yield* DryRunExecutor.recorded).toEqual([])
    }).pipe(answering({})))

  it.effect("names the helper that could not take stdout", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.lines(cmd.pipe(Command.stdout("inherit"))))
      expect(error.message).toContain(`lines reads stdout, but stdout is set to "inherit"`)
      const filed = yield* Effect.flip(Command.string(cmd.pipe(Command.stdout(Command.Output.file("/tmp/out")))))
      expect(filed.message).toContain(`string reads stdout, but stdout is set to Output.file("/tmp/out")`)
      const fd = yield* Effect.flip(Command.bytes(cmd.pipe(Command.stdout(Command.Output.fd(7)))))
      expect(fd.message).toContain("bytes reads stdout, but stdout is set to Output.fd(7)")
    }).pipe(answering({})))

  it.effect("a failed run that captured stdout carries its tail too, secrets blanked", () =>
    Effect.gen(function*() {
      const captured = yield* Effect.flip(Command.string(cmd))
      expect(captured._tag === "ExitError" && captured.stdoutTail).toBe("partial: <redacted>")
      expect(captured._tag === "ExitError" && captured.stderrTail).toBe("oops")
      const uncaptured = yield* Effect.flip(Command.run(cmd))
      expect(uncaptured._tag === "ExitError" && "stdoutTail" in uncaptured).toBe(false)
      // With 2>&1 the joined output is the stderr tail already.
      const joined = yield* Effect.flip(Command.string(cmd.pipe(Command.stderr("stdout"))))
      expect(joined._tag === "ExitError" && "stdoutTail" in joined).toBe(false)
    }).pipe(answering({ status: 3, stdout: "\npartial: hidden\n", stderr: "oops\n" })))

  it.effect("an error's stderr tail starts at its first line that is not blank and ends at its last", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(cmd))
      expect(error._tag === "ExitError" && error.stderrTail).toBe("  error: bad input\nsee --help")
    }).pipe(answering({ status: 2, stderr: "\n \n\t\n  error: bad input\nsee --help\n\n  " })))

  it.effect("returns the exit status, and no output unless asked to capture it", () =>
    Effect.gen(function*() {
      const result = yield* Command.run(cmd)
      expect(result.status).toEqual(ExitStatus.exited(0))
      expect(decode(result.stdout)).toBe("")
      expect(decode(result.stderr)).toBe("")
    }).pipe(answering({ stdout: "out", stderr: "err" })))

  it.effect("returns stdout and stderr set to \"capture\"", () =>
    Effect.gen(function*() {
      const both = yield* Command.run(cmd.pipe(Command.stdout("capture"), Command.stderr("capture")))
      expect([decode(both.stdout), decode(both.stderr)]).toEqual(["out", "err"])
      const onlyErr = yield* Command.run(cmd.pipe(Command.stderr("capture")))
      expect([decode(onlyErr.stdout), decode(onlyErr.stderr)]).toEqual(["", "err"])
    }).pipe(answering({ stdout: "out", stderr: "err" })))

  it.effect("fails with ExitError carrying the exit code, the stderr tail and the redacted command line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(cmd))
      expect(error).toMatchObject({
        _tag: "ExitError",
        exitCode: 3,
        stderrTail: "no such file",
        command: "/bin/tool --flag <redacted>"
      })
      expect(error.message).toBe("/bin/tool --flag <redacted>: unexpected exit status 3: no such file")
    }).pipe(answering({ status: 3, stdout: "partial", stderr: "no such file\n" })))

  it.effect("keeps only the last 8 KiB of stderr in ExitError", () =>
    Effect.gen(function*() {
      const stderr = "a".repeat(5000) + "b".repeat(5000) + "END"
      const layer = DryRunExecutor.layer(() => ({ status: 1, stderr }))
      for (const command of [cmd, cmd.pipe(Command.stderr("capture"))]) {
        const error = yield* Effect.flip(Command.run(command)).pipe(Effect.provide(layer))
        expect(error._tag).toBe("ExitError")
        if (error._tag === "ExitError") {
          expect(error.stderrTail).toHaveLength(8192)
          expect(error.stderrTail).toBe(stderr.slice(-8192))
        }
      }
    }))

  it.effect("has an empty stderr tail when stderr went elsewhere", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(cmd.pipe(Command.stderr("null"))))
      expect(error).toMatchObject({ _tag: "ExitError", exitCode: 1, stderrTail: "" })
      expect(error.message).toBe("/bin/tool --flag <redacted>: unexpected exit status 1")
    }).pipe(answering({ status: 1, stderr: "lost" })))

  it.effect("fails with SignalError when the child is killed by a signal", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(cmd))
      expect(error).toMatchObject({
        _tag: "SignalError",
        signal: "SIGSEGV",
        coreDumped: true,
        stderrTail: "segfault",
        command: "/bin/tool --flag <redacted>"
      })
      expect(error.message).toContain("unexpected fatal signal SIGSEGV (core dumped): segfault")
    }).pipe(answering({ status: ExitStatus.signaled("SIGSEGV", true), stderr: "segfault" })))

  it.effect("merges stderr into stdout when stderr is \"stdout\"", () =>
    Effect.gen(function*() {
      const result = yield* Command.run(cmd.pipe(Command.stdout("capture"), Command.stderr("stdout")))
      expect(decode(result.stdout)).toBe("out\nerr\n")
      expect(decode(result.stderr)).toBe("")
    }).pipe(answering({ stdout: "out\n", stderr: "err\n" })))

  it.effect("takes the error's stderr tail from stdout when stderr is merged into it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(cmd.pipe(Command.stderr("stdout"))))
      expect(error).toMatchObject({ _tag: "ExitError", stderrTail: "out\nerr" })
    }).pipe(answering({ status: 4, stdout: "out\n", stderr: "err\n" })))

  it.effect("sends every output chunk to an Output.sink", () =>
    Effect.gen(function*() {
      const out = yield* Ref.make("")
      const err = yield* Ref.make("")
      const into = (ref: Ref.Ref<string>) =>
        Command.Output.sink(Sink.forEach((bytes: Uint8Array) => Ref.update(ref, (s) => s + decode(bytes))))
      const result = yield* Command.run(cmd.pipe(Command.stdout(into(out)), Command.stderr(into(err))))
      expect([yield* Ref.get(out), yield* Ref.get(err)]).toEqual(["to the sink", "errors"])
      expect(decode(result.stdout)).toBe("")
    }).pipe(answering({ stdout: "to the sink", stderr: "errors" })))

  it.effect("leaves a daemon's unspecified outputs at /dev/null instead of capturing them", () =>
    Effect.gen(function*() {
      yield* Command.run(cmd).pipe(Logger.withMinimumLogLevel(LogLevel.Debug))
      yield* Command.run(cmd.pipe(Command.daemonize({ pidFile: "/run/tool.pid" }))).pipe(
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
      const [plain, daemon] = yield* DryRunExecutor.recorded
      expect([plain?.command.stdout, plain?.command.stderr]).toEqual([{ _tag: "Pipe" }, { _tag: "Pipe" }])
      expect([daemon?.command.stdout, daemon?.command.stderr]).toEqual([{ _tag: "Null" }, { _tag: "Null" }])
    }).pipe(Effect.provide(DryRunExecutor.layer())))

  it.effect("reads an unspecified stdout only for the debug log (or when stderr joins it); stderr always, for errors", () =>
    Effect.gen(function*() {
      yield* Command.run(cmd)
      yield* Command.run(cmd.pipe(Command.stderr("stdout")))
      yield* Command.run(cmd).pipe(Logger.withMinimumLogLevel(LogLevel.Debug))
      const [quiet, joined, debug] = yield* DryRunExecutor.recorded
      expect([quiet?.command.stdout, quiet?.command.stderr]).toEqual([{ _tag: "Null" }, { _tag: "Pipe" }])
      expect([joined?.command.stdout, joined?.command.stderr]).toEqual([{ _tag: "Pipe" }, { _tag: "ToStdout" }])
      expect([debug?.command.stdout, debug?.command.stderr]).toEqual([{ _tag: "Pipe" }, { _tag: "Pipe" }])
    }).pipe(Effect.provide(DryRunExecutor.layer())))
})

describe("exitCode and status", () => {
  it.effect("exitCode returns a non-zero exit code instead of failing", () =>
    Effect.gen(function*() {
      expect(yield* Command.exitCode(cmd)).toBe(3)
    }).pipe(answering({ status: 3 })))

  it.effect("exitCode still fails with SignalError on a signal", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.exitCode(cmd))
      expect(error).toMatchObject({ _tag: "SignalError", signal: "SIGKILL", coreDumped: false })
    }).pipe(answering({ status: ExitStatus.signaled("SIGKILL") })))

  it.effect("status returns how the child ended and never fails because of it", () =>
    Effect.gen(function*() {
      const statuses = [ExitStatus.exited(0), ExitStatus.exited(255), ExitStatus.signaled("SIGABRT", true)]
      for (const status of statuses) {
        const got = yield* Command.status(cmd).pipe(answering({ status, stderr: "x" }))
        expect(got).toEqual(status)
      }
    }))
})

describe("stdout helpers", () => {
  it.effect("string returns stdout as UTF-8 text", () =>
    Effect.gen(function*() {
      expect(yield* Command.string(cmd)).toBe("héllo wörld\n")
    }).pipe(answering({ stdout: "héllo wörld\n" })))

  it.effect("string decodes another encoding when asked", () =>
    Effect.gen(function*() {
      expect(yield* Command.string(cmd, "latin1")).toBe("é")
      expect(yield* Command.string(cmd, "utf-16le")).not.toBe("é")
    }).pipe(answering({ stdout: new Uint8Array([0xe9]) })))

  it.effect("bytes returns stdout exactly, NUL and invalid UTF-8 included", () =>
    Effect.gen(function*() {
      expect(yield* Command.bytes(cmd)).toEqual(new Uint8Array([0, 255, 10, 0xc3]))
    }).pipe(answering({ stdout: new Uint8Array([0, 255, 10, 0xc3]) })))

  it.effect("string and bytes fail like run on a non-zero exit", () =>
    Effect.gen(function*() {
      expect(yield* Effect.flip(Command.string(cmd))).toMatchObject({ _tag: "ExitError", exitCode: 2 })
      expect(yield* Effect.flip(Command.bytes(cmd))).toMatchObject({ _tag: "ExitError", exitCode: 2 })
      expect(yield* Effect.flip(Command.lines(cmd))).toMatchObject({ _tag: "ExitError", exitCode: 2 })
      expect(yield* Effect.flip(Command.records(cmd))).toMatchObject({ _tag: "ExitError", exitCode: 2 })
    }).pipe(answering({ status: 2, stdout: "some output" })))

  it.effect("a stdout helper fails with CommandUsageError when stdout is set elsewhere", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.string(cmd.pipe(Command.stdout("null"))))
      expect(error).toMatchObject({
        _tag: "CommandUsageError",
        reasons: [expect.stringMatching(/reads stdout, but stdout is set to "null"/)]
      })
      const streamed = yield* Effect.flip(Stream.runDrain(Command.stream(cmd.pipe(Command.stdout("capture")))))
      expect(streamed._tag).toBe("CommandUsageError")
      expect(yield* DryRunExecutor.recorded).toEqual([])
    }).pipe(Effect.provide(DryRunExecutor.layer())))

  it.effect("a stdout helper accepts a stdout already set to what it uses", () =>
    Effect.gen(function*() {
      expect(yield* Command.string(cmd.pipe(Command.stdout("capture")))).toBe("x")
    }).pipe(answering({ stdout: "x" })))

  it.effect("lines splits on \\n and \\r\\n, without a last empty line", () =>
    Effect.gen(function*() {
      expect(yield* Command.lines(cmd)).toEqual(["one", "two", "", "four"])
    }).pipe(answering({ stdout: "one\r\ntwo\n\nfour\n" })))

  it.effect("lines keeps a last line without a newline", () =>
    Effect.gen(function*() {
      expect(yield* Command.lines(cmd)).toEqual(["a", "b"])
    }).pipe(answering({ stdout: "a\nb" })))

  it.effect("lines of empty output is no line", () =>
    Effect.gen(function*() {
      expect(yield* Command.lines(cmd)).toEqual([])
    }).pipe(answering({})))

  it.effect("records splits on NUL, one column by default", () =>
    Effect.gen(function*() {
      expect(yield* Command.records(cmd)).toEqual([["a"], ["b c"], [""]])
    }).pipe(answering({ stdout: "a\0b c\0\0" })))

  it.effect("records groups tokens by columns and keeps a partial last group", () =>
    Effect.gen(function*() {
      expect(yield* Command.records(cmd, { columns: 3 })).toEqual([["1", "2", "3"], ["4", "5", "6"], ["7"]])
    }).pipe(answering({ stdout: "1\x002\x003\x004\x005\x006\x007\0" })))

  it.effect("records takes another separator", () =>
    Effect.gen(function*() {
      expect(yield* Command.records(cmd, { separator: "\n", columns: 2 })).toEqual([["k1", "v1"], ["k2", "v2"]])
    }).pipe(answering({ stdout: "k1\nv1\nk2\nv2\n" })))

  it.effect("records of empty output is no record", () =>
    Effect.gen(function*() {
      expect(yield* Command.records(cmd, { columns: 2 })).toEqual([])
    }).pipe(answering({})))

  it.effect("records rejects zero columns or an empty separator with CommandUsageError", () =>
    Effect.gen(function*() {
      expect(yield* Effect.flip(Command.records(cmd, { columns: 0 }))).toMatchObject({ _tag: "CommandUsageError" })
      expect(yield* Effect.flip(Command.records(cmd, { separator: "" }))).toMatchObject({ _tag: "CommandUsageError" })
      expect(yield* DryRunExecutor.recorded).toEqual([])
    }).pipe(Effect.provide(DryRunExecutor.layer())))

  it.effect("stream emits stdout's bytes", () =>
    Effect.gen(function*() {
      const chunks = yield* Stream.runCollect(Command.stream(cmd))
      expect(decode(Chunk.toReadonlyArray(chunks).reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array())))
        .toBe(
          "streamed\n"
        )
    }).pipe(answering({ stdout: "streamed\n" })))

  it.effect("streamLines emits stdout's lines", () =>
    Effect.gen(function*() {
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Command.streamLines(cmd)))).toEqual(["a", "b", "c"])
    }).pipe(answering({ stdout: "a\r\nb\nc\n" })))

  it.effect("stream and streamLines fail with ExitError after the data when the exit is non-zero", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const error = yield* Command.stream(cmd).pipe(
        Stream.runForEach((bytes) => Effect.sync(() => void seen.push(decode(bytes)))),
        Effect.flip
      )
      expect(seen.join("")).toBe("line 1\nline 2\n")
      expect(error).toMatchObject({ _tag: "ExitError", exitCode: 5, stderrTail: "broken" })

      const lines: Array<string> = []
      const lineError = yield* Command.streamLines(cmd).pipe(
        Stream.runForEach((l) => Effect.sync(() => void lines.push(l))),
        Effect.flip
      )
      expect(lines).toEqual(["line 1", "line 2"])
      expect(lineError).toMatchObject({ _tag: "ExitError", exitCode: 5 })
    }).pipe(answering({ status: 5, stdout: "line 1\nline 2\n", stderr: "broken\n" })))

  it.effect("stream fails with SignalError on a signal", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Stream.runDrain(Command.stream(cmd)))
      expect(error).toMatchObject({ _tag: "SignalError", signal: "SIGPIPE" })
    }).pipe(answering({ status: ExitStatus.signaled("SIGPIPE") })))
})

describe("stdin", () => {
  it.effect("feed's text, bytes and Redacted text reach the child's stdin", () =>
    Effect.gen(function*() {
      yield* Command.run(cmd.pipe(Command.feed("text ✓")))
      yield* Command.run(cmd.pipe(Command.feed(new Uint8Array([0, 1, 255]))))
      yield* Command.run(cmd.pipe(Command.feed(Redacted.make("secret input"))))
      yield* Command.run(cmd)
      const stdins = (yield* DryRunExecutor.recorded).map((r) => r.stdin)
      expect(stdins).toEqual([encode("text ✓"), new Uint8Array([0, 1, 255]), encode("secret input"), new Uint8Array()])
    }).pipe(Effect.provide(DryRunExecutor.layer())))

  it.effect("Input.stream feeds every chunk of the stream", () =>
    Effect.gen(function*() {
      const input = Stream.make("a", "b", "c").pipe(Stream.map(encode))
      yield* Command.run(cmd.pipe(Command.stdin(Command.Input.stream(input))))
      const [entry] = yield* DryRunExecutor.recorded
      expect(decode(entry?.stdin)).toBe("abc")
    }).pipe(Effect.provide(DryRunExecutor.layer())))

  it.effect("a failing input stream fails the run with IoError", () =>
    Effect.gen(function*() {
      const input = Stream.concat(Stream.make(encode("a")), Stream.fail("disk gone"))
      const error = yield* Effect.flip(Command.run(cmd.pipe(Command.stdin(Command.Input.stream(input)))))
      expect(error).toMatchObject({
        _tag: "IoError",
        stream: "stdin",
        cause: "disk gone",
        command: "/bin/tool --flag <redacted>"
      })
    }).pipe(Effect.provide(DryRunExecutor.layer())))

  it.effect("stdin \"pipe\" is written through Process.stdin", () =>
    Effect.gen(function*() {
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(cmd.pipe(Command.stdin("pipe"), Command.stdout("capture")))
        yield* Stream.run(Stream.make(encode("by "), encode("hand")), process.stdin)
        return yield* process.result
      }))
      expect(decode(result.stdout)).toBe("echo: by hand")
    }).pipe(Effect.provide(DryRunExecutor.layer((r) => ({ stdout: `echo: ${decode(r.stdin)}` })))))
})

describe("start", () => {
  it.effect("gives a Process whose result has the status and the captured outputs", () =>
    Effect.gen(function*() {
      const result = yield* Effect.scoped(
        Effect.flatMap(Command.start(cmd.pipe(Command.stdout("capture"))), (process) => process.result)
      )
      expect(result.status).toEqual(ExitStatus.exited(7))
      expect(decode(result.stdout)).toBe("out")
      expect(decode(result.stderr)).toBe("")
    }).pipe(answering({ status: 7, stdout: "out", stderr: "err" })))

  it.effect("result and wait may be awaited more than once", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(cmd.pipe(Command.stderr("capture")))
        const first = yield* process.result
        expect(yield* process.result).toBe(first)
        expect(yield* process.wait).toEqual(ExitStatus.exited(0))
        expect(decode(first.stderr)).toBe("err")
      }))
    }).pipe(answering({ stderr: "err" })))

  it.effect("stdout \"pipe\" is read through Process.stdout", () =>
    Effect.gen(function*() {
      const text = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(cmd.pipe(Command.stdout("pipe")))
        return yield* Stream.runFold(process.stdout, "", (acc, bytes) => acc + decode(bytes))
      }))
      expect(text).toBe("piped")
    }).pipe(answering({ stdout: "piped" })))

  it.effect("abort stops the child with the kill policy's signal", () =>
    Effect.gen(function*() {
      const status = yield* Effect.scoped(
        Effect.flatMap(Command.start(cmd.pipe(Command.killSignal("SIGINT"))), (process) => process.abort)
      )
      expect(status).toEqual(ExitStatus.signaled("SIGINT"))
    }).pipe(answering({ delay: "1 hour" })))

  it.effect("kill sends the signal, and wait reports it", () =>
    Effect.gen(function*() {
      const status = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(cmd)
        yield* process.kill("SIGUSR1")
        return yield* process.wait
      }))
      expect(status).toEqual(ExitStatus.signaled("SIGUSR1"))
    }).pipe(answering({ delay: "1 hour" })))
})

describe("timing and concurrency", () => {
  it.effect("the scripted child exits after its delay", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Command.run(cmd))
      yield* TestClock.adjust("4 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toEqual(ExitStatus.exited(0))
    }).pipe(answering({ delay: "5 seconds" })))

  it.effect("Effect.timeout interrupts a run, and the scripted child with it", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      const layer = DryRunExecutor.layer(() =>
        Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
      )
      const fiber = yield* Effect.fork(Command.run(cmd).pipe(Effect.timeout("1 second"), Effect.provide(layer)))
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error._tag).toBe("TimeoutException")
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))

  it.effect("Effect.timeout interrupts a delayed run before the delay ends", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Command.run(cmd).pipe(Effect.timeoutOption("2 seconds")))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toEqual(Option.none())
      expect(yield* DryRunExecutor.recorded).toHaveLength(1)
    }).pipe(answering({ delay: "1 hour" })))

  it.effect("the same command value runs twice in a row, and twice at once", () =>
    Effect.gen(function*() {
      const startedAt: Array<number> = []
      const layer = DryRunExecutor.layer(() =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          startedAt.push(now)
          return { stdout: "ok", delay: "1 second" }
        })
      )
      const fed = cmd.pipe(Command.feed("again"), Command.stdout("capture"))
      const fiber = yield* Effect.fork(
        Effect.gen(function*() {
          const first = yield* Command.run(fed)
          const second = yield* Command.run(fed)
          const together = yield* Effect.all([Command.run(fed), Command.run(fed)], { concurrency: "unbounded" })
          return { results: [first, second, ...together], recorded: yield* DryRunExecutor.recorded }
        }).pipe(Effect.provide(layer))
      )
      yield* TestClock.adjust("3 seconds")
      const { recorded, results } = yield* Fiber.join(fiber)
      expect(results.map((r) => decode(r.stdout))).toEqual(["ok", "ok", "ok", "ok"])
      expect(startedAt).toEqual([0, 1000, 2000, 2000])
      expect(recorded.map((r) => [r.line, decode(r.stdin)])).toEqual(
        Array(4).fill(["/bin/tool --flag <redacted>", "again"])
      )
    }))

  it.effect("processes started at once get distinct pids", () =>
    Effect.gen(function*() {
      const pids = yield* Effect.scoped(
        Effect.all([Command.start(cmd), Command.start(cmd)], { concurrency: "unbounded" }).pipe(
          Effect.map((ps) => ps.map((p) => p.pid))
        )
      )
      expect(new Set(pids).size).toBe(2)
    }).pipe(Effect.provide(DryRunExecutor.layer())))
})

describe("the executor's output capture (CommandExecutor.make over a scripted spawn)", () => {
  /** A spawn whose child writes `stderr` in the given chunks and exits with `code`. */
  const chunkedSpawn = (stderr: ReadonlyArray<string>, code: number): CommandExecutor.Spawn => (command) =>
    Effect.succeed({
      pid: 1,
      stdin: Sink.drain,
      stdout: Stream.empty,
      stderr: command.stderr?._tag === "Pipe" ? Stream.fromIterable(stderr.map(encode)) : Stream.empty,
      upstreamStderr: [],
      wait: Effect.succeed(ExitStatus.exited(code)),
      waitStages: Effect.succeed([ExitStatus.exited(code)]),
      kill: () => Effect.void,
      abort: Effect.succeed(ExitStatus.exited(code)),
      detach: Effect.succeed({
        pid: 1,
        wait: Effect.succeed(ExitStatus.exited(code)),
        abort: Effect.succeed(ExitStatus.exited(code))
      }),
      handshakeWait: Effect.void,
      handshakeNotify: Effect.void
    })

  const withSpawn = (spawn: CommandExecutor.Spawn) =>
    Effect.provideService(CommandExecutor.CommandExecutor, CommandExecutor.make(spawn))

  it.effect("keeps the last 8 KiB of an unspecified stderr arriving in many chunks", () =>
    Effect.gen(function*() {
      const chunks = Array.from({ length: 40 }, (_, i) => String.fromCharCode(65 + (i % 26)).repeat(300 + i))
      const error = yield* Effect.flip(Command.run(cmd)).pipe(withSpawn(chunkedSpawn(chunks, 1)))
      expect(error._tag).toBe("ExitError")
      if (error._tag === "ExitError") expect(error.stderrTail).toBe(chunks.join("").slice(-8192))
    }))

  it.effect("captures all of a stderr set to \"capture\", however long", () =>
    Effect.gen(function*() {
      const chunks = Array.from({ length: 40 }, (_, i) => `${i}`.repeat(500))
      const result = yield* Command.run(cmd.pipe(Command.stderr("capture"))).pipe(withSpawn(chunkedSpawn(chunks, 0)))
      expect(decode(result.stderr)).toBe(chunks.join(""))
    }))

  it.effect("validates the command before calling spawn", () =>
    Effect.gen(function*() {
      let spawned = 0
      const spawn: CommandExecutor.Spawn = (command) => {
        spawned++
        return chunkedSpawn([], 0)(command)
      }
      const error = yield* Effect.flip(Command.run(cmd.pipe(Command.passFd(2)))).pipe(withSpawn(spawn))
      expect(error._tag).toBe("CommandUsageError")
      expect(spawned).toBe(0)
    }))
})

describe("commands only start can drive", () => {
  it.effect("a handshake needs start: the run helpers refuse it before anything runs", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(Command.make("/bin/tool").pipe(Command.handshake)))
      expect(error._tag).toBe("CommandUsageError")
      expect(error.message).toContain("run cannot complete a handshake")
      expect(yield* DryRunExecutor.recorded).toEqual([])
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({})))))

  it("a daemon cannot die with its parent", () => {
    const cmd = Command.make("/bin/tool").pipe(Command.daemonize(), Command.dieWithParent("SIGTERM"))
    const error = Either.getLeft(Command.validate(cmd))
    expect(Option.map(error, (e) => e.reasons)).toEqual(
      Option.some(["a daemon outlives its parent: it cannot die with it"])
    )
  })
})
