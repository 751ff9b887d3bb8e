/**
 * stdin, stdout and stderr of the Node executor against the probe: every Input/Output variant,
 * joined and separate buffers, binary data, and no deadlock for any combination of sizes.
 */
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"

import { Command, CommandError, CommandExecutor, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Redacted, Sink, Stream } from "effect"

import { loadEngine } from "../src/internal/engine.js"
import { makeRunPlan } from "../src/internal/run-plan.js"

import { between, betweenBytes, parseReport, pattern, probePath } from "./support/probe.js"
import { eventually, marker, openFdCount, withMarker, zombieChildren } from "./support/procs.js"
import { binary, buf, interleaved, makeTempDir, probe, removeTempDir, text, utf8 } from "./support/run.js"

let dir = ""
beforeAll(() => {
  dir = makeTempDir("ec-io-")
})
afterAll(() => removeTempDir(dir))

let files = 0
/** A new path in the test's temporary directory. */
const tempFile = (content?: string | Uint8Array): string => {
  const path = Path.join(dir, `file-${++files}`)
  if (content !== undefined) Fs.writeFileSync(path, content)
  return path
}

/** Runs with stdout and stderr captured. */
const runCaptured = (command: Command.Command) =>
  Command.run(command.pipe(Command.stdout("capture"), Command.stderr("capture")))

/** The full stdout the probe writes with `--no-report` after reading `data`. */
const echoOut = (data: string) => `BEGIN STDOUT\n${data}END STDOUT\n`
const echoErr = (data: string) => `BEGIN STDERR\n${data}END STDERR\n`

const collectBytes = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toArray(chunks)))

const sha256 = (bytes: Uint8Array) => Crypto.createHash("sha256").update(bytes).digest("hex")

describe("stdin", () => {
  it.live("unspecified (null): the probe reads EOF at once", () =>
    Effect.gen(function*() {
      const { status, stderr, stdout } = yield* runCaptured(probe("--no-report"))
      expect(status).toEqual(ExitStatus.exited(0))
      expect(text(stdout)).toBe(echoOut(""))
      expect(text(stderr)).toBe(echoErr(""))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("explicit null is the same", () =>
    Effect.gen(function*() {
      const { stdout } = yield* runCaptured(probe("--no-report").pipe(Command.stdin("null")))
      expect(text(stdout)).toBe(echoOut(""))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("start leaves unspecified stdio at /dev/null", () =>
    Effect.gen(function*() {
      // Held alive by stdin (nothing written yet): its stdout and stderr must be /dev/null.
      const links = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(probe("--no-report").pipe(Command.stdin("pipe")))
        const links = [1, 2].map((fd) => Fs.readlinkSync(`/proc/${process.pid}/fd/${fd}`))
        yield* Stream.run(Stream.make(utf8("ignored")), process.stdin)
        expect(yield* process.wait).toEqual(ExitStatus.exited(0))
        return links
      }))
      expect(links).toEqual(["/dev/null", "/dev/null"])
      // Held alive by a full stdout pipe: its stdin and stderr must be /dev/null.
      const [stdinLink, stderrLink, out] = yield* Effect.scoped(Effect.gen(function*() {
        const n = 16 * 1024 * 1024
        const process = yield* Command.start(
          probe("--no-report", "--quiet-io", "--write-stdout", String(n)).pipe(Command.stdout("pipe"))
        )
        const stdinLink = Fs.readlinkSync(`/proc/${process.pid}/fd/0`)
        const stderrLink = Fs.readlinkSync(`/proc/${process.pid}/fd/2`)
        const out = yield* collectBytes(process.stdout)
        expect(yield* process.wait).toEqual(ExitStatus.exited(0))
        return [stdinLink, stderrLink, out] as const
      }))
      expect([stdinLink, stderrLink]).toEqual(["/dev/null", "/dev/null"])
      expect(out.toString("latin1") === pattern(16 * 1024 * 1024)).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("fd(n): a parent fd opened with node:fs, left open in the parent", () =>
    Effect.gen(function*() {
      const path = tempFile("from a file\nsecond line\n")
      const fd = Fs.openSync(path, "r")
      try {
        const { stderr, stdout } = yield* runCaptured(probe("--no-report").pipe(Command.stdin(Command.Input.fd(fd))))
        expect(text(stdout)).toBe(echoOut("from a file\nsecond line\n"))
        expect(text(stderr)).toBe(echoErr("from a file\nsecond line\n"))
        expect(Fs.fstatSync(fd).isFile()).toBe(true)
      } finally {
        Fs.closeSync(fd)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("feed text", () =>
    Effect.gen(function*() {
      const { stderr, stdout } = yield* runCaptured(probe("--no-report").pipe(Command.feed("héllo\nwörld")))
      expect(text(stdout)).toBe(echoOut("héllo\nwörld"))
      expect(text(stderr)).toBe(echoErr("héllo\nwörld"))
      const empty = yield* runCaptured(probe("--no-report").pipe(Command.feed("")))
      expect(text(empty.stdout)).toBe(echoOut(""))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("feed bytes", () =>
    Effect.gen(function*() {
      const input = binary(100_003)
      const { stderr, stdout } = yield* runCaptured(probe("--no-report").pipe(Command.feed(input)))
      expect(betweenBytes(stdout, "STDOUT").equals(buf(input))).toBe(true)
      expect(betweenBytes(stderr, "STDERR").equals(buf(input))).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("feed a Redacted text: the child gets the value", () =>
    Effect.gen(function*() {
      const { stdout } = yield* runCaptured(probe("--no-report").pipe(Command.feed(Redacted.make("s3cret\n"))))
      expect(text(stdout)).toBe(echoOut("s3cret\n"))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("Input.stream: every chunk in order, EOF after the last", () =>
    Effect.gen(function*() {
      const chunks = ["a", "", "bc", "d".repeat(70_000), "\n", "end"]
      const input = Stream.fromIterable(chunks).pipe(Stream.map(utf8))
      const { stdout } = yield* runCaptured(probe("--no-report").pipe(Command.stdin(Command.Input.stream(input))))
      expect(text(stdout)).toBe(echoOut(chunks.join("")))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a failing Input.stream fails the run with IoError on stdin, and kills the child", () =>
    Effect.gen(function*() {
      const input = Stream.concat(Stream.make(utf8("partial")), Stream.fail("broken source"))
      const error = yield* Effect.flip(
        runCaptured(probe("--no-report").pipe(Command.stdin(Command.Input.stream(input))))
      )
      expect(error._tag).toBe("IoError")
      if (error._tag !== "IoError") return
      expect(error.stream).toBe("stdin")
      expect(error.cause).toBe("broken source")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("pipe: written through Process.stdin; completing the sink is EOF", () =>
    Effect.gen(function*() {
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          probe("--no-report").pipe(Command.stdin("pipe"), Command.stdout("capture"), Command.stderr("capture"))
        )
        yield* Stream.run(Stream.make(utf8("first "), utf8("second"), binary(5000)), process.stdin)
        return yield* process.result
      }))
      const expected = Buffer.concat([Buffer.from("first second"), buf(binary(5000))])
      expect(result.status).toEqual(ExitStatus.exited(0))
      expect(betweenBytes(result.stdout, "STDOUT").equals(expected)).toBe(true)
      expect(betweenBytes(result.stderr, "STDERR").equals(expected)).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("Input.file", () =>
    Effect.gen(function*() {
      const path = tempFile(buf(binary(70_001)))
      const { stdout } = yield* runCaptured(probe("--no-report").pipe(Command.stdin(Command.Input.file(path))))
      expect(betweenBytes(stdout, "STDOUT").equals(buf(binary(70_001)))).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("stdout", () => {
  it.live("null: nothing is captured, the child still runs", () =>
    Effect.gen(function*() {
      const { stderr, stdout } = yield* Command.run(
        probe("--no-report").pipe(Command.feed("x"), Command.stdout("null"), Command.stderr("capture"))
      )
      expect(stdout.length).toBe(0)
      expect(text(stderr)).toBe(echoErr("x"))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("fd(n): a parent fd opened with node:fs", () =>
    Effect.gen(function*() {
      const path = tempFile()
      const fd = Fs.openSync(path, "w")
      try {
        const { stdout } = yield* Command.run(
          probe("--no-report").pipe(Command.feed("to fd"), Command.stdout(Command.Output.fd(fd)))
        )
        expect(stdout.length).toBe(0)
      } finally {
        Fs.closeSync(fd)
      }
      expect(Fs.readFileSync(path, "utf8")).toBe(echoOut("to fd"))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("capture: the report and the echo, exactly", () =>
    Effect.gen(function*() {
      const { stderr, stdout } = yield* Command.run(
        probe("--readfd", "3", "an arg").pipe(Command.feed("in"), Command.inputFd(3, "fd3"), Command.stdout("capture"))
      )
      const report = parseReport(stdout)
      expect(report.args).toEqual(["--readfd", "3", "an arg"])
      expect(report.fds).toEqual([0, 1, 2, 3])
      expect(report.cwd).toBe(process.cwd())
      expect(between(text(stdout), "STDOUT")).toBe("infd3")
      expect(text(stdout).endsWith("UMASK:" + report.umask + "\n" + echoOut("infd3"))).toBe(true)
      // stderr was not asked for: the run helpers capture only a discarded tail.
      expect(stderr.length).toBe(0)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("pipe: read through Process.stdout", () =>
    Effect.gen(function*() {
      const [out, result] = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          probe("--no-report", "--write-stdout", "1000000").pipe(Command.feed("p"), Command.stdout("pipe"))
        )
        const out = yield* collectBytes(process.stdout)
        return [out, yield* process.result] as const
      }))
      expect(out.toString("latin1") === echoOut("p") + pattern(1_000_000)).toBe(true)
      expect(result.status).toEqual(ExitStatus.exited(0))
      expect(result.stdout.length).toBe(0)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a stream's chunks are the caller's: kept whole while later ones come, each about its own size", () =>
    Effect.gen(function*() {
      const size = 32 * 1024 * 1024 + 3
      const input = Crypto.randomBytes(size)
      const chunks = Chunk.toArray(yield* Stream.runCollect(Command.stream(Command.make("cat", tempFile(input)))))
      expect(sha256(Buffer.concat(chunks))).toBe(sha256(input))
      // No chunk reads into memory another one holds, or holds much more memory than its bytes.
      const held = new Set(chunks.map((chunk) => chunk.buffer))
      expect(held.size).toBe(chunks.length)
      for (const chunk of chunks) expect(chunk.buffer.byteLength).toBeLessThanOrEqual(Math.ceil(chunk.length * 4 / 3))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live.skipIf(process.env.EFFECT_COMMAND_SPAWN === "child_process")(
    "Output.forEach on the native engine: every chunk is read into the same buffer, none allocated",
    () =>
      Effect.gen(function*() {
        const size = 32 * 1024 * 1024 + 3
        const input = Crypto.randomBytes(size)
        const hash = Crypto.createHash("sha256")
        const memory = new Set<ArrayBufferLike>()
        let calls = 0
        yield* Command.run(
          Command.make("cat", tempFile(input)).pipe(
            Command.stdout(Command.Output.forEach((bytes) => {
              calls++
              memory.add(bytes.buffer)
              hash.update(bytes)
            }))
          )
        )
        expect(hash.digest("hex")).toBe(sha256(input))
        expect(calls).toBeGreaterThan(1)
        expect(memory.size).toBe(1)
      }).pipe(Effect.provide(NodeCommandExecutor.layer))
  )

  it.live("a forEach or capture that wants no more closes the pipe: a writer that ignores SIGTERM ends at once, with or without a timeout", () =>
    Effect.gen(function*() {
      const mark = marker()
      const stubborn = Command.make("sh", "-c", "trap '' TERM; exec yes").pipe(
        Command.envInherit,
        Command.env("EC_MARKER", mark),
        Command.killGrace("1 minute")
      )
      const throwing = stubborn.pipe(Command.stdout(Command.Output.forEach(() => {
        throw new Error("full disk")
      })))
      const capped = stubborn.pipe(Command.stdout("capture"), Command.maxOutput(10))
      // The one-go run, and start (which a timeout takes).
      for (const timeout of [undefined, "1 minute"] as const) {
        const timed = timeout === undefined ? (self: Command.Command) => self : Command.timeout(timeout)
        const started = Date.now()
        expect(yield* Effect.flip(Command.run(timed(throwing)))).toMatchObject({ _tag: "IoError", stream: "stdout" })
        expect(yield* Effect.flip(Command.run(timed(capped)))).toMatchObject({ _tag: "OutputLimitError" })
        // Not after the minute of grace: SIGPIPE, as nobody reads the pipe any more.
        expect(Date.now() - started).toBeLessThan(20_000)
      }
      expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0))).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("file: created, or truncated when it exists", () =>
    Effect.gen(function*() {
      const created = Path.join(dir, "created-by-stdout")
      yield* Command.run(probe("--no-report").pipe(Command.feed("new"), Command.stdout(Command.Output.file(created))))
      expect(Fs.readFileSync(created, "utf8")).toBe(echoOut("new"))
      expect(Fs.statSync(created).mode & 0o777).toBe(0o644 & ~process.umask())
      const existing = tempFile("an old content that is much longer than what the probe writes\n".repeat(10))
      yield* Command.run(
        probe("--no-report").pipe(Command.feed("short"), Command.stdout(Command.Output.file(existing)))
      )
      expect(Fs.readFileSync(existing, "utf8")).toBe(echoOut("short"))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("file with append", () =>
    Effect.gen(function*() {
      const path = tempFile("first line\n")
      const cmd = probe("--no-report").pipe(
        Command.feed("x"),
        Command.stdout(Command.Output.file(path, { append: true }))
      )
      yield* Command.run(cmd)
      yield* Command.run(cmd)
      expect(Fs.readFileSync(path, "utf8")).toBe("first line\n" + echoOut("x") + echoOut("x"))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("Output.sink gets every chunk in order, for stdout and stderr", () =>
    Effect.gen(function*() {
      const outChunks: Array<Uint8Array> = []
      const errChunks: Array<Uint8Array> = []
      const { stderr, stdout } = yield* Command.run(
        probe("--no-report", "--write-stdout", "300000", "--write-stderr", "200000").pipe(
          Command.feed("s"),
          Command.stdout(Command.Output.sink(Sink.forEach((c: Uint8Array) => Effect.sync(() => outChunks.push(c))))),
          Command.stderr(Command.Output.sink(Sink.forEach((c: Uint8Array) => Effect.sync(() => errChunks.push(c)))))
        )
      )
      expect(stdout.length).toBe(0)
      expect(stderr.length).toBe(0)
      expect(Buffer.concat(outChunks).toString("latin1") === echoOut("s") + pattern(300_000)).toBe(true)
      expect(Buffer.concat(errChunks).toString("latin1") === echoErr("s") + pattern(200_000)).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("stderr", () => {
  const interleave = probe("--no-report", "--no-stdin", "--quiet-io", "--interleave", "200")

  it.live("joined to captured stdout: exact alternating order", () =>
    Effect.gen(function*() {
      const { stderr, stdout } = yield* Command.run(
        interleave.pipe(Command.stdout("capture"), Command.stderr("stdout"))
      )
      expect(text(stdout)).toBe(interleaved(200))
      expect(stderr.length).toBe(0)
      // The run helpers read the same joined stream.
      expect(yield* Command.string(interleave.pipe(Command.stderr("stdout")))).toBe(interleaved(200))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("joined to piped stdout: exact alternating order on Process.stdout", () =>
    Effect.gen(function*() {
      const [out, err] = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(interleave.pipe(Command.stdout("pipe"), Command.stderr("stdout")))
        const [out, err] = yield* Effect.all([collectBytes(process.stdout), collectBytes(process.stderr)], {
          concurrency: 2
        })
        expect(yield* process.wait).toEqual(ExitStatus.exited(0))
        return [out, err] as const
      }))
      expect(out.toString("utf8")).toBe(interleaved(200))
      expect(err.length).toBe(0)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("joined to a file: exact alternating order", () =>
    Effect.gen(function*() {
      const path = tempFile("old content to be truncated\n".repeat(500))
      yield* Command.run(interleave.pipe(Command.stdout(Command.Output.file(path)), Command.stderr("stdout")))
      expect(Fs.readFileSync(path, "utf8")).toBe(interleaved(200))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("joined to an fd: exact alternating order", () =>
    Effect.gen(function*() {
      const path = tempFile()
      const fd = Fs.openSync(path, "w")
      try {
        yield* Command.run(interleave.pipe(Command.stdout(Command.Output.fd(fd)), Command.stderr("stdout")))
      } finally {
        Fs.closeSync(fd)
      }
      expect(Fs.readFileSync(path, "utf8")).toBe(interleaved(200))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("separate stdout and stderr buffers", () =>
    Effect.gen(function*() {
      const { stderr, stdout } = yield* Command.run(
        probe("--no-report", "--interleave", "3").pipe(
          Command.feed("both"),
          Command.stdout("capture"),
          Command.stderr("capture")
        )
      )
      expect(text(stdout)).toBe(echoOut("both") + "out 0\nout 1\nout 2\n")
      expect(text(stderr)).toBe(echoErr("both") + "err 0\nerr 1\nerr 2\n")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("stderr file and stderr null", () =>
    Effect.gen(function*() {
      const path = tempFile()
      const a = yield* Command.run(
        probe("--no-report").pipe(
          Command.feed("e"),
          Command.stdout("capture"),
          Command.stderr(Command.Output.file(path))
        )
      )
      expect(text(a.stdout)).toBe(echoOut("e"))
      expect(Fs.readFileSync(path, "utf8")).toBe(echoErr("e"))
      const b = yield* Command.run(
        probe("--no-report").pipe(Command.feed("e"), Command.stdout("capture"), Command.stderr("null"))
      )
      expect(text(b.stdout)).toBe(echoOut("e"))
      expect(b.stderr.length).toBe(0)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("binary data", () => {
  it.live("bytes with NUL round-trip exactly through stdin, stdout, stderr and Command.bytes", () =>
    Effect.gen(function*() {
      const input = binary(256 * 1031)
      expect(input.includes(0)).toBe(true)
      const { stderr, stdout } = yield* runCaptured(probe("--no-report").pipe(Command.feed(input)))
      expect(betweenBytes(stdout, "STDOUT").equals(buf(input))).toBe(true)
      expect(betweenBytes(stderr, "STDERR").equals(buf(input))).toBe(true)
      const out = yield* Command.bytes(probe("--no-report").pipe(Command.feed(input)))
      expect(buf(out).equals(Buffer.concat([Buffer.from("BEGIN STDOUT\n"), buf(input), Buffer.from("END STDOUT\n")])))
        .toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("arguments and a Redacted argument reach the child exactly", () =>
    Effect.gen(function*() {
      const words = ["plain", "with space", "", "ünïcödé", "--not-a-flag-after", "'quoted\"", "two\nlines"]
      const out = yield* Command.string(
        Command.make(probePath, "--no-stdin", "--", ...words, Redacted.make("hidden value"))
      )
      expect(parseReport(out).args).toEqual(["--no-stdin", "--", ...words, "hidden value"])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("no deadlock", () => {
  it.live(
    "64 MiB fed to stdin while the probe echoes 64 MiB to stdout and to stderr, both captured",
    () =>
      Effect.gen(function*() {
        const size = 64 * 1024 * 1024
        const input = Crypto.randomBytes(size)
        const { status, stderr, stdout } = yield* runCaptured(probe("--no-report").pipe(Command.feed(input)))
        expect(status).toEqual(ExitStatus.exited(0))
        expect(stdout.length).toBe(size + echoOut("").length)
        expect(stderr.length).toBe(size + echoErr("").length)
        const out = betweenBytes(stdout, "STDOUT")
        const err = betweenBytes(stderr, "STDERR")
        expect(out.length).toBe(size)
        expect(err.length).toBe(size)
        expect(sha256(out)).toBe(sha256(input))
        expect(sha256(err)).toBe(sha256(input))
      }).pipe(Effect.provide(NodeCommandExecutor.layer)),
    120_000
  )

  it.live("stdin, two input fds and both outputs, all large, at once", () =>
    Effect.gen(function*() {
      const mib = 1024 * 1024
      const a = Crypto.randomBytes(8 * mib)
      const b = Crypto.randomBytes(8 * mib)
      const c = Crypto.randomBytes(8 * mib)
      const { stderr, stdout } = yield* runCaptured(
        probe(
          "--no-report",
          "--readfd",
          "3",
          "--readfd",
          "4",
          "--write-stdout",
          String(16 * mib),
          "--write-stderr",
          String(16 * mib)
        ).pipe(
          Command.feed(a),
          Command.inputFd(3, b),
          Command.inputFd(4, c)
        )
      )
      const all = Buffer.concat([a, b, c])
      const out = buf(stdout)
      const err = buf(stderr)
      const outEcho = Buffer.concat([Buffer.from("BEGIN STDOUT\n"), all, Buffer.from("END STDOUT\n")])
      const errEcho = Buffer.concat([Buffer.from("BEGIN STDERR\n"), all, Buffer.from("END STDERR\n")])
      expect(out.length).toBe(outEcho.length + 16 * mib)
      expect(err.length).toBe(errEcho.length + 16 * mib)
      expect(out.subarray(0, outEcho.length).equals(outEcho)).toBe(true)
      expect(err.subarray(0, errEcho.length).equals(errEcho)).toBe(true)
      expect(out.subarray(outEcho.length).toString("latin1") === pattern(16 * mib)).toBe(true)
      expect(err.subarray(errEcho.length).toString("latin1") === pattern(16 * mib)).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)), 120_000)

  it.live("a child that closes stdin early while 100,000 bytes are fed: not an error", () =>
    Effect.gen(function*() {
      const { status, stderr, stdout } = yield* runCaptured(
        probe("--close-stdin", "--no-report").pipe(Command.feed(binary(100_000)))
      )
      expect(status).toEqual(ExitStatus.exited(0))
      // --close-stdin reads nothing: the echo is empty.
      expect(text(stdout)).toBe(echoOut(""))
      expect(text(stderr)).toBe(echoErr(""))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a child that closes stdin early while 32 MiB are fed (the write gets EPIPE): not an error", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(
        probe("--close-stdin", "--no-report", "--exit", "0").pipe(Command.feed(new Uint8Array(32 * 1024 * 1024)))
      )
      expect(out).toBe(echoOut(""))
      const code = yield* Command.exitCode(
        probe("--close-stdin", "--no-report", "--exit", "4").pipe(Command.feed(new Uint8Array(32 * 1024 * 1024)))
      )
      expect(code).toBe(4)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("an endless input stream to a child that closes stdin or never reads it: the feeding stops, the run returns", () =>
    Effect.gen(function*() {
      // Bounded (6 GiB), so that a regression shows as a count, not as a hang of the worker.
      const limit = 100_000
      for (const flag of ["--close-stdin", "--no-stdin"]) {
        let pulled = 0
        const input = Stream.repeatEffect(Effect.sync(() => {
          pulled++
          return new Uint8Array(64 * 1024)
        })).pipe(Stream.take(limit))
        const { status, stdout } = yield* Command.run(
          probe("--no-report", flag).pipe(Command.stdin(Command.Input.stream(input)), Command.stdout("capture"))
        )
        expect(status).toEqual(ExitStatus.exited(0))
        expect(text(stdout)).toBe(echoOut(""))
        expect(pulled).toBeLessThan(1000)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("Process.stdin completes once the child closed its stdin", () =>
    Effect.gen(function*() {
      let pulled = 0
      const input = Stream.repeatEffect(Effect.sync(() => {
        pulled++
        return new Uint8Array(64 * 1024)
      })).pipe(Stream.take(100_000))
      const status = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          probe("--no-report", "--quiet-io", "--close-stdin", "--exit", "2").pipe(Command.stdin("pipe"))
        )
        yield* Stream.run(input, process.stdin)
        return yield* process.wait
      }))
      expect(status).toEqual(ExitStatus.exited(2))
      expect(pulled).toBeLessThan(1000)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a child that exits without reading stdin while it is being fed: not an error", () =>
    Effect.gen(function*() {
      const code = yield* Command.exitCode(
        probe("--no-stdin", "--no-report", "--quiet-io", "--exit", "6").pipe(
          Command.feed(new Uint8Array(32 * 1024 * 1024))
        )
      )
      expect(code).toBe(6)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  // The run helpers run a command fed from memory in one go; with a timeout they start it. Both
  // keep the same promises.
  for (
    const [how, path] of [
      ["run in one go", (command: Command.Command) => command],
      ["started", Command.timeout("1 minute")]
    ] as const
  ) {
    it.live(`fed from memory, ${how}: every byte arrives, in order`, () =>
      Effect.gen(function*() {
        const input = binary(9 * 1024 * 1024 + 7)
        const out = yield* Command.bytes(
          Command.make("cat").pipe(Command.feed(input), Command.maxOutput(Infinity), path)
        )
        expect(sha256(out)).toBe(sha256(input))
        const fds = yield* Command.string(
          Command.make("sh", "-c", "cat <&3; wc -c").pipe(Command.feed(input), Command.inputFd(3, "fd3\n"), path)
        )
        expect(fds).toBe(`fd3\n${input.length}\n`)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))

    it.live(`fed from memory, ${how}: a grandchild that holds stdin unread does not hold the run`, () =>
      Effect.gen(function*() {
        const mark = marker()
        const fds = openFdCount()
        const code = yield* Command.exitCode(
          Command.make("sh", "-c", "sleep 100 >/dev/null 2>&1 & exit 5").pipe(
            Command.envInherit,
            Command.env("EC_MARKER", mark),
            Command.feed(new Uint8Array(32 * 1024 * 1024)),
            path
          )
        )
        expect(code).toBe(5)
        // The grandchild is killed with the group its parent led, once the run ended.
        expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 0))).toBe(true)
        expect(zombieChildren()).toEqual([])
        expect(openFdCount()).toBe(fds)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }

  it.live.skipIf(loadEngine() === null)(
    "an input the engine refuses to write: IoError, the child aborted, no fd or process left",
    () =>
      Effect.gen(function*() {
        const fds = openFdCount()
        const mark = marker()
        // Core lets only real Uint8Arrays through; this RunPlan is handed something else.
        const runPlan = makeRunPlan({
          engine: loadEngine(),
          drainDelay: Duration.seconds(1),
          helper: null,
          helperMissing: "",
          contain: false
        })
        const spawn: CommandExecutor.Spawn = (plan) =>
          Effect.fail(new CommandError.SpawnError({ reason: "PermissionDenied", command: plan.line }))
        const service = CommandExecutor.make(spawn, (plan, io) =>
          runPlan(plan, { ...io, stdin: new Uint16Array(2) as never }))
        const error = yield* Effect.flip(
          Command.string(
            Command.make("sh", "-c", "exec cat").pipe(
              Command.envInherit,
              Command.env("EC_MARKER", mark),
              Command.feed("x")
            )
          ).pipe(Effect.provideService(CommandExecutor.CommandExecutor, service))
        )
        expect(error._tag).toBe("IoError")
        expect((error as CommandError.IoError).stream).toBe("stdin")
        expect(String((error as CommandError.IoError).cause)).toMatch(/TypeError/)
        expect(withMarker("EC_MARKER", mark)).toEqual([])
        expect(zombieChildren()).toEqual([])
        expect(openFdCount()).toBe(fds)
      })
  )

  it.live("large uncaptured output is drained: exitCode and status return", () =>
    Effect.gen(function*() {
      const big = [
        "--no-report",
        "--quiet-io",
        "--no-stdin",
        "--write-stdout",
        String(32 * 1024 * 1024),
        "--write-stderr",
        String(32 * 1024 * 1024)
      ]
      expect(yield* Command.exitCode(probe(...big, "--exit", "3"))).toBe(3)
      expect(yield* Command.status(probe(...big))).toEqual(ExitStatus.exited(0))
      const { stderr, stdout } = yield* Command.run(probe(...big))
      expect(stdout.length).toBe(0)
      expect(stderr.length).toBe(0)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)), 60_000)
})
