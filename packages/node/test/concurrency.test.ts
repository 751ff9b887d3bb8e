/**
 * A command is a description: the same value runs any number of times, concurrently too. A
 * grandchild holding the output does not hang the run helpers (drain delay). Process groups.
 */
import { Buffer } from "node:buffer"

import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"

import { between, parseReport, probePath } from "./support/probe.js"
import { marker, withMarker, zombieChildren } from "./support/procs.js"
import { binary, buf, interleaved, probe, text } from "./support/run.js"

describe("the same command value, many runs", () => {
  const command = probe("--readfd", "3", "an argument", "--write-stderr", "1000").pipe(
    Command.feed(binary(100_000)),
    Command.inputFd(3, "from fd 3"),
    Command.env("ONLY", "this"),
    Command.stdout("capture"),
    Command.stderr("capture")
  )
  const expectedEcho = Buffer.concat([buf(binary(100_000)), Buffer.from("from fd 3")])

  const summary = (
    result: { readonly status: ExitStatus.ExitStatus; readonly stdout: Uint8Array; readonly stderr: Uint8Array }
  ) => ({
    status: result.status,
    stdout: buf(result.stdout).toString("base64"),
    stderr: buf(result.stderr).toString("base64")
  })

  it.live("20 runs concurrently and 20 sequentially give the same results", () =>
    Effect.gen(function*() {
      const first = yield* Command.run(command)
      const report = parseReport(first.stdout)
      expect(report.args).toEqual(["--readfd", "3", "an argument", "--write-stderr", "1000"])
      expect(report.env).toEqual({ ONLY: "this" })
      expect(report.fds).toEqual([0, 1, 2, 3])
      expect(Buffer.from(between(buf(first.stdout).toString("latin1"), "STDOUT"), "latin1").equals(expectedEcho)).toBe(
        true
      )
      const sequential = yield* Effect.forEach(Array.from({ length: 20 }), () => Command.run(command))
      const concurrent = yield* Effect.forEach(Array.from({ length: 20 }), () => Command.run(command), {
        concurrency: "unbounded"
      })
      const expected = summary(first)
      for (const result of [...sequential, ...concurrent]) expect(summary(result)).toEqual(expected)
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("20 concurrent runs with stderr joined to stdout each keep their own exact order", () =>
    Effect.gen(function*() {
      const joined = probe("--no-report", "--no-stdin", "--quiet-io", "--interleave", "300").pipe(
        Command.stderr("stdout")
      )
      const outputs = yield* Effect.forEach(Array.from({ length: 20 }), () => Command.string(joined), {
        concurrency: "unbounded"
      })
      for (const out of outputs) expect(out).toBe(interleaved(300))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("20 concurrent starts with piped stdin and stdout", () =>
    Effect.gen(function*() {
      const piped = probe("--no-report").pipe(Command.stdin("pipe"), Command.stdout("pipe"))
      const outputs = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) =>
          Effect.scoped(Effect.gen(function*() {
            const process = yield* Command.start(piped)
            const [, out] = yield* Effect.all([
              Stream.run(Stream.make(new TextEncoder().encode(`child ${i}\n`)), process.stdin),
              Stream.runCollect(process.stdout)
            ], { concurrency: 2 })
            expect(yield* process.wait).toEqual(ExitStatus.exited(0))
            return Buffer.concat(Chunk.toArray(out)).toString("utf8")
          })),
        { concurrency: "unbounded" }
      )
      outputs.forEach((out, i) => expect(out).toBe(`BEGIN STDOUT\nchild ${i}\nEND STDOUT\n`))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("a grandchild holding stdout", () => {
  const drainDelay = NodeCommandExecutor.layerWith({ drainDelay: "200 millis" })

  it.live("string returns the output about the drain delay after the child exited; the holder is killed", () =>
    Effect.gen(function*() {
      const mark = marker()
      const cmd = probe("--fork-holder", "5000").pipe(Command.envInherit, Command.env("EC_MARKER", mark))
      const started = Date.now()
      const out = yield* Command.string(cmd)
      const elapsed = Date.now() - started
      expect(elapsed).toBeGreaterThanOrEqual(190)
      expect(elapsed).toBeLessThan(2500)
      const report = parseReport(out)
      expect(report.args).toEqual(["--fork-holder", "5000"])
      expect(report.env.EC_MARKER).toBe(mark)
      expect(between(out, "STDOUT")).toBe("")
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(drainDelay)))

  it.live("run with stdout and stderr captured: both drained within the delay", () =>
    Effect.gen(function*() {
      const mark = marker()
      const cmd = probe("--no-report", "--fork-holder", "5000", "--write-stdout", "5", "--write-stderr", "3").pipe(
        Command.envInherit,
        Command.env("EC_MARKER", mark),
        Command.feed("in"),
        Command.stdout("capture"),
        Command.stderr("capture")
      )
      const started = Date.now()
      const { status, stderr, stdout } = yield* Command.run(cmd)
      expect(Date.now() - started).toBeLessThan(2500)
      expect(status).toEqual(ExitStatus.exited(0))
      expect(text(stdout)).toBe("BEGIN STDOUT\ninEND STDOUT\nabcde")
      expect(text(stderr)).toBe("BEGIN STDERR\ninEND STDERR\nabc")
      expect(withMarker("EC_MARKER", mark)).toEqual([])
    }).pipe(Effect.provide(drainDelay)))

  it.live("a grandchild that keeps writing cannot hold the reader past the delay", () =>
    Effect.gen(function*() {
      const mark = marker()
      const cmd = Command.make("sh", "-c", "(while :; do echo tick; sleep 0.05; done) & echo parent-done").pipe(
        Command.envInherit,
        Command.env("EC_MARKER", mark)
      )
      const started = Date.now()
      // Bounded, so that a regression fails instead of hanging.
      const out = yield* Command.string(cmd).pipe(
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("hung") })
      )
      expect(Date.now() - started).toBeLessThan(2500)
      const lines = out.trimEnd().split("\n")
      expect(lines).toContain("parent-done")
      for (const line of lines) expect(line).toMatch(/^(parent-done|tick)$/)
      expect(withMarker("EC_MARKER", mark)).toEqual([])
    }).pipe(Effect.provide(drainDelay)))

  it.live("a failing child with a holder: ExitError with the tail, promptly", () =>
    Effect.gen(function*() {
      const mark = marker()
      const cmd = probe("--no-report", "--quiet-io", "--fork-holder", "5000", "--write-stderr", "10", "--exit", "3")
        .pipe(
          Command.envInherit,
          Command.env("EC_MARKER", mark)
        )
      const started = Date.now()
      const error = yield* Effect.flip(Command.run(cmd))
      expect(Date.now() - started).toBeLessThan(2500)
      expect(error._tag === "ExitError" && error.stderrTail).toBe("abcdefghij")
      expect(withMarker("EC_MARKER", mark)).toEqual([])
    }).pipe(Effect.provide(drainDelay)))
})

describe("process group", () => {
  it.live("a default child leads its own process group", () =>
    Effect.gen(function*() {
      const report = parseReport(yield* Command.string(probe("--no-stdin", "--quiet-io")))
      expect(report.pgrp).toBe("new")
      expect(report.pgidIsPid).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("processGroup(\"inherit\"): the child stays in the parent's group", () =>
    Effect.gen(function*() {
      const report = parseReport(
        yield* Command.string(probe("--no-stdin", "--quiet-io").pipe(Command.processGroup("inherit")))
      )
      expect(report.pgrp).toBe("same")
      expect(report.pgidIsPid).toBe(false)
      expect(report.sidIsPid).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("the working directory is the parent's unless set", () =>
    Effect.gen(function*() {
      expect(parseReport(yield* Command.string(probe("--no-stdin", "--quiet-io"))).cwd).toBe(process.cwd())
      const dir = "/"
      const report = parseReport(
        yield* Command.string(probe("--no-stdin", "--quiet-io").pipe(Command.workingDirectory(dir)))
      )
      expect(report.cwd).toBe(dir)
      expect(probePath.startsWith("/")).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("children that exit before their output is read", () => {
  // Node reads the EOF of an exited child's pipes on its own (flushStdio). A reader that missed
  // it would wait out the whole drain delay: here a minute, far past the test's timeout.
  const patient = NodeCommandExecutor.layerWith({ drainDelay: "1 minute" })
  for (
    const [name, layer] of [["with the helper", patient], [
      "without the helper",
      NodeCommandExecutor.layerWith({ drainDelay: "1 minute", helper: "never" })
    ]] as const
  ) {
    it.live(
      `${name}: 100 fast runs each return their output at EOF, without waiting for the drain delay`,
      () =>
        Effect.gen(function*() {
          for (let i = 0; i < 100; i++) {
            expect(yield* Command.exitCode(Command.make("/bin/true"))).toBe(0)
            expect(yield* Command.string(Command.make("/bin/echo", String(i)))).toBe(`${i}\n`)
          }
        }).pipe(Effect.provide(layer)),
      20_000
    )
  }
})
