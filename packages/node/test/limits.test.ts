/**
 * Timeouts and output limits (issue #5) on both engines: `Command.timeout` kills with the kill
 * policy, reaps and fails with the partial output; `Effect.timeout` around any helper kills and
 * reaps; `Command.maxOutput` kills and reaps a child that writes too much to a captured stream
 * and keeps exactly the first `limit` bytes; capturing 256 MiB costs about 256 MiB of memory.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Chunk, Duration, Effect, Sink, Stream } from "effect"

import { pattern, probePath } from "./support/probe.js"
import { isAlive, marker, withMarker, zombieChildren } from "./support/procs.js"
import { expectHeadline, probe, rendered, text } from "./support/run.js"

const repoRoot = Path.resolve(import.meta.dirname, "../../..")

const engines: ReadonlyArray<readonly [string, "helper" | "never", Layer.Layer<CommandExecutor.CommandExecutor>]> = [
  ["helper", "helper", NodeCommandExecutor.layer],
  ["no helper", "never", NodeCommandExecutor.layerWith({ helper: "never" })]
]

const MiB = 1024 * 1024

const marked = (mark: string) => (cmd: Command.Command) => cmd.pipe(Command.envInherit, Command.env("EC_MARKER", mark))

/** Everything of a run is gone: no process with the marker, no zombie child. */
const nothingLeft = (mark: string) => {
  expect(withMarker("EC_MARKER", mark)).toEqual([])
  expect(zombieChildren()).toEqual([])
}

const pidIn = (stderr: Uint8Array): number => {
  const m = /^PID:(\d+)\n/.exec(text(stderr))
  if (m === null) throw new Error(`no PID line in ${JSON.stringify(text(stderr))}`)
  return Number(m[1])
}

const asTimeout = (error: CommandError.CommandError): CommandError.CommandTimeoutError => {
  expect(error).toBeInstanceOf(CommandError.CommandTimeoutError)
  return error as CommandError.CommandTimeoutError
}

const asLimit = (error: CommandError.CommandError): CommandError.OutputLimitError => {
  expect(error).toBeInstanceOf(CommandError.OutputLimitError)
  return error as CommandError.OutputLimitError
}

/** A quiet probe that ignores SIGTERM and, after `flags`, sleeps for 100 s. */
const stubborn = (...flags: ReadonlyArray<string>) =>
  probe("--no-report", "--no-stdin", "--quiet-io", "--ignore-term", ...flags, "--sleep-ms", "100000")

for (const [engine, , layer] of engines) {
  describe(`Command.timeout, ${engine}`, () => {
    it.live("a TERM-ignoring child ends within grace + 1 s with CommandTimeoutError and the partial output", () =>
      Effect.gen(function*() {
        const mark = marker()
        const cmd = stubborn("--print-pid-to-stderr", "--ready")
          .pipe(
            marked(mark),
            Command.timeout("300 millis"),
            Command.killGrace("300 millis"),
            Command.stdout("capture"),
            Command.stderr("capture")
          )
        const started = Date.now()
        const error = asTimeout(yield* Effect.flip(Command.run(cmd)))
        const took = Date.now() - started
        expect(took).toBeGreaterThanOrEqual(550) // the timeout, then the whole grace: SIGTERM is ignored
        expect(took).toBeLessThan(300 + 300 + 1000)
        expect(text(error.stdout)).toBe("READY\n")
        const pid = pidIn(error.stderr)
        expect(isAlive(pid)).toBe(false)
        expect(Duration.toMillis(error.timeout)).toBe(300)
        expect(error.command).toBe(rendered(cmd))
        expectHeadline(error.message, { program: probePath, what: "timed out after 300ms" })
        nothingLeft(mark)
      }).pipe(Effect.provide(layer)))

    it.live("sh ignoring TERM: the whole group is SIGKILLed; the run helpers' default tails carry the partial output", () =>
      Effect.gen(function*() {
        const mark = marker()
        const cmd = Command.make(
          "sh",
          "-c",
          "trap '' TERM; echo partial-out; echo partial-err >&2; while :; do sleep 1; done"
        ).pipe(
          marked(mark),
          Command.timeout("300 millis"),
          Command.killGrace("300 millis")
        )
        const started = Date.now()
        const error = asTimeout(yield* Effect.flip(Command.string(cmd)))
        expect(Date.now() - started).toBeLessThan(300 + 300 + 1000)
        expect(text(error.stdout)).toBe("partial-out\n")
        expect(text(error.stderr)).toBe("partial-err\n")
        nothingLeft(mark)
      }).pipe(Effect.provide(layer)))

    it.live("a child that finishes in time is not affected", () =>
      Effect.gen(function*() {
        const started = Date.now()
        expect(yield* Command.string(Command.make("sh", "-c", "echo hi").pipe(Command.timeout("20 seconds")))).toBe(
          "hi\n"
        )
        expect(Date.now() - started).toBeLessThan(10_000)
        const failing = yield* Effect.flip(
          Command.run(Command.make("sh", "-c", "exit 3").pipe(Command.timeout("20 seconds")))
        )
        expect(failing).toMatchObject({ _tag: "ExitError", exitCode: 3 })
      }).pipe(Effect.provide(layer)))

    it.live("start: the result fails with CommandTimeoutError, the child was killed with the policy's signal", () =>
      Effect.gen(function*() {
        const mark = marker()
        const cmd = probe("--no-report", "--no-stdin", "--quiet-io", "--ready", "--sleep-ms", "100000").pipe(
          marked(mark),
          Command.timeout("200 millis"),
          Command.killSignal("SIGINT"),
          Command.stdout("capture")
        )
        const [error, status] = yield* Effect.scoped(Effect.gen(function*() {
          const process = yield* Command.start(cmd)
          return [yield* Effect.flip(process.result), yield* process.wait] as const
        }))
        expect(asTimeout(error).stdout).toEqual(new TextEncoder().encode("READY\n"))
        expect(status).toEqual(ExitStatus.signaled("SIGINT"))
        nothingLeft(mark)
      }).pipe(Effect.provide(layer)))

    it.live("a pipeline's timeout kills and reaps every stage", () =>
      Effect.gen(function*() {
        const mark = marker()
        const p = Command.pipeline(
          stubborn("--ready").pipe(
            marked(mark),
            Command.killGrace("300 millis")
          ),
          Command.make("cat").pipe(marked(mark))
        ).pipe(Command.timeout("300 millis"), Command.stdout("capture"))
        const started = Date.now()
        const error = asTimeout(yield* Effect.flip(Command.run(p)))
        expect(Date.now() - started).toBeLessThan(300 + 300 + 1000)
        expect(text(error.stdout)).toBe("READY\n")
        nothingLeft(mark)
      }).pipe(Effect.provide(layer)))
  })

  describe(`Effect.timeout around a helper, ${engine}`, () => {
    type Helper = (
      cmd: Command.Command
    ) => Effect.Effect<unknown, CommandError.CommandError, CommandExecutor.CommandExecutor>
    const helpers: ReadonlyArray<readonly [string, Helper]> = [
      ["run", Command.run],
      ["status", Command.status],
      ["exitCode", Command.exitCode],
      ["string", (cmd) => Command.string(cmd)],
      ["lines", Command.lines],
      ["bytes", Command.bytes],
      ["records", (cmd) => Command.records(cmd)],
      ["stream", (cmd) => Stream.runDrain(Command.stream(cmd))],
      ["streamLines", (cmd) => Stream.runCollect(Command.streamLines(cmd))],
      ["start + result", (cmd) => Effect.scoped(Effect.flatMap(Command.start(cmd), (p) => p.result))]
    ]
    for (const [name, helper] of helpers) {
      it.live(`${name}: the child is killed and reaped`, () =>
        Effect.gen(function*() {
          const mark = marker()
          let pid = 0
          // The child's pid, from its stderr, proves that it ran before the timeout.
          const pidSink = Sink.forEach((bytes: Uint8Array) =>
            Effect.sync(() => {
              const m = /PID:(\d+)/.exec(text(bytes))
              if (m !== null) pid = Number(m[1])
            })
          )
          const cmd = probe("--no-report", "--no-stdin", "--print-pid-to-stderr", "--sleep-ms", "100000").pipe(
            marked(mark),
            Command.stderr(Command.Output.sink(pidSink))
          )
          const exit = yield* Effect.exit(Effect.timeout(helper(cmd), "500 millis"))
          expect(exit).toMatchObject({ _tag: "Failure", cause: { _tag: "Fail", error: { _tag: "TimeoutException" } } })
          expect(pid).toBeGreaterThan(0)
          expect(isAlive(pid)).toBe(false)
          nothingLeft(mark)
        }).pipe(Effect.provide(layer)))
    }
  })

  describe(`Command.maxOutput, ${engine}`, () => {
    for (const stream of ["stdout", "stderr"] as const) {
      const write = stream === "stdout" ? "--write-stdout" : "--write-stderr"

      it.live(`a captured ${stream} past the limit: killed, reaped, OutputLimitError with exactly the first bytes`, () =>
        Effect.gen(function*() {
          const mark = marker()
          // Writes 200 KB (more than a pipe holds) and would then sleep for 100 s.
          const cmd = probe("--no-report", "--no-stdin", "--quiet-io", write, "200000", "--sleep-ms", "100000").pipe(
            marked(mark),
            Command.maxOutput(1000),
            Command.stdout("capture"),
            Command.stderr("capture")
          )
          const started = Date.now()
          const error = asLimit(yield* Effect.flip(Command.run(cmd)))
          expect(Date.now() - started).toBeLessThan(3000) // killed, not waited for
          expect(error.stream).toBe(stream)
          expect(error.limit).toBe(1000)
          expect(error.output.length).toBe(1000)
          expect(text(error.output)).toBe(pattern(1000))
          expect(error.command).toBe(rendered(cmd))
          expectHeadline(error.message, {
            program: probePath,
            what: `wrote more than 1000 bytes to ${stream}; it was killed`
          })
          nothingLeft(mark)
        }).pipe(Effect.provide(layer)))

      it.live(`${stream}: one byte over the limit from a child that exits 0 still fails; the limit itself is fine`, () =>
        Effect.gen(function*() {
          const run = (n: number) =>
            Command.run(
              probe("--no-report", "--no-stdin", "--quiet-io", write, String(n)).pipe(
                Command.maxOutput(4096),
                Command.stdout("capture"),
                Command.stderr("capture")
              )
            )
          const over = asLimit(yield* Effect.flip(run(4097)))
          expect(over).toMatchObject({ stream, limit: 4096 })
          expect(text(over.output)).toBe(pattern(4096))
          for (const n of [0, 4095, 4096]) {
            const result = yield* run(n)
            expect(text(result[stream])).toBe(pattern(n))
          }
        }).pipe(Effect.provide(layer)))
    }

    it.live("a TERM-ignoring child past the limit is SIGKILLed after the grace", () =>
      Effect.gen(function*() {
        const mark = marker()
        const cmd = stubborn("--write-stdout", "200000")
          .pipe(marked(mark), Command.maxOutput(10), Command.killGrace("200 millis"), Command.stdout("capture"))
        const started = Date.now()
        const error = asLimit(yield* Effect.flip(Command.run(cmd)))
        expect(Date.now() - started).toBeLessThan(200 + 1000)
        expect(text(error.output)).toBe(pattern(10))
        nothingLeft(mark)
      }).pipe(Effect.provide(layer)))

    it.live("maxOutput(0): any captured byte fails, none is fine", () =>
      Effect.gen(function*() {
        const error = asLimit(yield* Effect.flip(Command.string(Command.make("echo", "x").pipe(Command.maxOutput(0)))))
        expect(error).toMatchObject({ stream: "stdout", limit: 0 })
        expect(error.output.length).toBe(0)
        expect(yield* Command.string(Command.make("true").pipe(Command.maxOutput(0)))).toBe("")
      }).pipe(Effect.provide(layer)))

    it.live("the helpers that capture stdout obey it; `yes` is stopped", () =>
      Effect.gen(function*() {
        const mark = marker()
        const yes = Command.make("yes").pipe(marked(mark), Command.maxOutput(4096))
        const helpers: ReadonlyArray<
          (cmd: Command.Command) => Effect.Effect<unknown, CommandError.CommandError, CommandExecutor.CommandExecutor>
        > = [
          Command.string,
          Command.bytes,
          Command.lines
        ]
        for (const helper of helpers) {
          const error = asLimit(yield* Effect.flip(helper(yes)))
          expect(text(error.output)).toBe("y\n".repeat(2048))
        }
        nothingLeft(mark)
      }).pipe(Effect.provide(layer)))

    it.live("a pipeline's captured output past the limit kills and reaps every stage", () =>
      Effect.gen(function*() {
        const mark = marker()
        const p = Command.pipeline(Command.make("yes").pipe(marked(mark)), Command.make("cat").pipe(marked(mark))).pipe(
          Command.maxOutput(4096)
        )
        const error = asLimit(yield* Effect.flip(Command.string(p)))
        expect(error).toMatchObject({ stream: "stdout", limit: 4096 })
        expect(text(error.output)).toBe("y\n".repeat(2048))
        nothingLeft(mark)
      }).pipe(Effect.provide(layer)))

    it.live("outputs that are not captured are not limited", () =>
      Effect.gen(function*() {
        // Unspecified: the run helpers keep an 8 KiB tail, whatever the limit.
        const result = yield* Command.run(
          probe("--no-report", "--no-stdin", "--quiet-io", "--write-stdout", "100000", "--write-stderr", "100000").pipe(
            Command.maxOutput(10)
          )
        )
        expect(result.status).toEqual(ExitStatus.exited(0))
        // A sink gets everything.
        let seen = 0
        yield* Command.run(
          probe("--no-report", "--no-stdin", "--quiet-io", "--write-stdout", "100000").pipe(
            Command.maxOutput(10),
            Command.stdout(
              Command.Output.sink(Sink.forEach((b: Uint8Array) => Effect.sync(() => void (seen += b.length))))
            )
          )
        )
        expect(seen).toBe(100000)
        // So does a stream.
        const chunks = yield* Stream.runCollect(
          Command.stream(
            probe("--no-report", "--no-stdin", "--quiet-io", "--write-stdout", "100000").pipe(Command.maxOutput(10))
          )
        )
        expect(Chunk.reduce(chunks, 0, (n, b) => n + b.length)).toBe(100000)
      }).pipe(Effect.provide(layer)))

    it.live("the default limit is 100 MiB; Infinity disables it", () =>
      Effect.gen(function*() {
        const zeros = (n: number) => Command.make("head", "-c", String(n), "/dev/zero")
        expect(zeros(1).maxOutput).toBe(100 * MiB)
        expect((yield* Command.bytes(zeros(100 * MiB))).length).toBe(100 * MiB)
        const error = asLimit(yield* Effect.flip(Command.bytes(zeros(100 * MiB + 1))))
        expect(error.limit).toBe(100 * MiB)
        expect(error.output.length).toBe(100 * MiB)
        expect((yield* Command.bytes(zeros(150 * MiB).pipe(Command.maxOutput(Infinity)))).length).toBe(150 * MiB)
      }).pipe(Effect.provide(layer)), 60_000)
  })
}

describe("capture memory", () => {
  for (const [engine, option] of engines) {
    it.live(
      `${engine}: capturing 256 MiB grows peak RSS by at most 1.3 × 256 MiB (fresh Node process)`,
      () =>
        Effect.gen(function*() {
          const size = 256 * MiB
          const node = ChildProcess.spawn(
            process.execPath,
            [
              "--import",
              "tsx",
              "--conditions=source",
              Path.join(import.meta.dirname, "fixtures/capture-rss.ts"),
              String(size),
              option
            ],
            { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }
          )
          let stdout = ""
          let stderr = ""
          node.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
          node.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
          const code = yield* Effect.async<number | null>((resume) => {
            node.once("close", (c) => resume(Effect.succeed(c)))
          })
          expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
          const report = JSON.parse(stdout) as {
            length: number
            nonZero: number
            rssBefore: number
            hwmBefore: number
            hwmAfter: number
            peakReset: boolean
          }
          expect(report.length).toBe(size)
          expect(report.nonZero).toBe(0)
          const growth = report.hwmAfter - report.hwmBefore
          const ratio = growth / size
          console.log(
            `capture memory (${engine}): VmHWM ${(report.hwmBefore / MiB).toFixed(1)} -> ${
              (report.hwmAfter / MiB).toFixed(1)
            } MiB, ` +
              `growth ${(growth / MiB).toFixed(1)} MiB = ${
                ratio.toFixed(3)
              } × 256 MiB (peak reset: ${report.peakReset})`
          )
          expect(ratio).toBeLessThanOrEqual(1.3)
        }),
      120_000
    )
  }
})
