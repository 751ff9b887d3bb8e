/**
 * Kernel-level pipelines (issue #5) on both engines: FIFOs opened by the helper, and socket pairs
 * without it. Pipefail statuses, per-stage env/cwd, stdin to the first stage, output from the
 * last, stderr/both joints, every run helper and `start`, stages that cannot spawn, scope close
 * and interruption, and 256 MiB through two stages.
 */
import { Buffer } from "node:buffer"
import * as Fs from "node:fs"
import * as Path from "node:path"

import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Chunk, Deferred, Effect, Exit, Fiber, Redacted, Stream } from "effect"

import { yesHead } from "./support/executor-cases.js"
import { between, parseReport } from "./support/probe.js"
import { isAlive, marker, withMarker, zombieChildren } from "./support/procs.js"
import {
  binary,
  buf,
  failsCleanly,
  interleaved,
  makeTempDir,
  probe,
  removeTempDir,
  rendered,
  text,
  utf8
} from "./support/run.js"

const engines: ReadonlyArray<readonly [string, Layer.Layer<CommandExecutor.CommandExecutor>]> = [
  ["helper (FIFOs)", NodeCommandExecutor.layer],
  ["no helper (socket pairs)", NodeCommandExecutor.layerWith({ helper: "never" })]
]

const sh = (script: string, ...args: ReadonlyArray<Command.Word>) => Command.make("sh", "-c", script, "sh", ...args)

/** A stage that carries `EC_MARKER=<mark>`, so that /proc tells whether any of it is left. */
const marked = (mark: string) => (cmd: Command.Command) => cmd.pipe(Command.envInherit, Command.env("EC_MARKER", mark))

/** Reads a process's stdout until a line equal to `line` arrives: the stages' own "I got here". */
const waitForLine = (process: CommandExecutor.Process, line: string) =>
  process.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.takeUntil((l) => l === line), Stream.runDrain)

/** A first stage that prints READY (through the pipe) and then waits to be killed. */
const readyThenSleep = (...extra: ReadonlyArray<string>) =>
  probe("--no-report", "--no-stdin", "--quiet-io", ...extra, "--ready", "--sleep-ms", "100000")

const exited = ExitStatus.exited
const signaled = (signal: Parameters<typeof ExitStatus.signaled>[0]) => ExitStatus.signaled(signal)

for (const [engine, layer] of engines) {
  describe(`pipelines, ${engine}`, () => {
    describe("pipefail status", () => {
      const first = sh("printf 'a\\nb\\n'")
      const middle = (code: number) => sh(`cat; exit ${code}`)
      const last = (code: number) => sh(`cat; exit ${code}`)

      // A socket pair's writer gets ECONNRESET when its reader ends with bytes unread: no SIGPIPE.
      it.live.skipIf(engine.includes("socket pairs") && process.env.EFFECT_COMMAND_SPAWN === "child_process")(
        "yes | head -n 1: SIGPIPE fails the run, unless the writer allows it",
        () => yesHead.pipe(Effect.provide(layer))
      )

      it.live("a failing middle stage fails the run with its ExitError listing the 3 statuses", () =>
        Effect.gen(function*() {
          const p = Command.pipeline(first, middle(3), last(0))
          expect(Command.stages(p)).toHaveLength(3)
          const error = yield* Effect.flip(Command.run(p))
          expect(error).toBeInstanceOf(CommandError.ExitError)
          const exit = error as CommandError.ExitError
          expect(exit.exitCode).toBe(3)
          expect(exit.stages).toEqual([exited(0), exited(3), exited(0)])
          expect(exit.command).toBe(rendered(p))
          expect(exit.command.split(" | ")).toHaveLength(3)
          expect(yield* Command.status(p)).toEqual(exited(3))
          expect(yield* Command.exitCode(p)).toBe(3)
          // The last stage still got everything the first wrote.
          const result = yield* Effect.scoped(
            Effect.flatMap(Command.start(p.pipe(Command.stdout("capture"))), (process) => process.result)
          )
          expect(result.stages).toEqual([exited(0), exited(3), exited(0)])
          expect(result.status).toEqual(exited(3))
          expect(text(result.stdout)).toBe("a\nb\n")
          expect(zombieChildren()).toEqual([])
        }).pipe(Effect.provide(layer)))

      it.live("the rightmost failing stage wins", () =>
        Effect.gen(function*() {
          const both = yield* Effect.flip(Command.run(Command.pipeline(first, middle(3), last(5))))
          expect(both).toMatchObject({ _tag: "ExitError", exitCode: 5, stages: [exited(0), exited(3), exited(5)] })
          const left = yield* Effect.flip(
            Command.run(Command.pipeline(sh("cat >/dev/null; exit 4"), middle(3), last(0)))
          )
          expect(left).toMatchObject({ _tag: "ExitError", exitCode: 3, stages: [exited(4), exited(3), exited(0)] })
          const onlyFirst = yield* Effect.flip(Command.run(Command.pipeline(sh("exit 9"), middle(0), last(0))))
          expect(onlyFirst).toMatchObject({ _tag: "ExitError", exitCode: 9, stages: [exited(9), exited(0), exited(0)] })
        }).pipe(Effect.provide(layer)))

      it.live("a middle stage killed by a signal fails with SignalError and the 3 statuses", () =>
        Effect.gen(function*() {
          const p = Command.pipeline(first, sh("cat >/dev/null; kill -USR1 $$"), last(0))
          const error = yield* Effect.flip(Command.run(p))
          expect(error).toBeInstanceOf(CommandError.SignalError)
          expect(error).toMatchObject({ signal: "SIGUSR1", stages: [exited(0), signaled("SIGUSR1"), exited(0)] })
          // A later failure still wins over the signal.
          const later = yield* Effect.flip(
            Command.run(Command.pipeline(first, sh("cat >/dev/null; kill -USR1 $$"), last(2)))
          )
          expect(later).toMatchObject({
            _tag: "ExitError",
            exitCode: 2,
            stages: [exited(0), signaled("SIGUSR1"), exited(2)]
          })
        }).pipe(Effect.provide(layer)))

      it.live("every stage succeeding is a success with every status listed", () =>
        Effect.gen(function*() {
          const result = yield* Command.run(Command.pipeline(first, middle(0), last(0)).pipe(Command.stdout("capture")))
          expect(result.status).toEqual(exited(0))
          expect(result.stages).toEqual([exited(0), exited(0), exited(0)])
          expect(text(result.stdout)).toBe("a\nb\n")
        }).pipe(Effect.provide(layer)))
    })

    describe("stages, input and output", () => {
      it.live("each stage keeps its own environment and working directory", () =>
        Effect.acquireUseRelease(
          Effect.sync(() => [makeTempDir("ec-pipe-a-"), makeTempDir("ec-pipe-b-"), makeTempDir("ec-pipe-c-")] as const),
          ([a, b, c]) =>
            Effect.gen(function*() {
              // Each probe reports itself, then echoes what it read (the reports before it) between markers.
              const p = Command.pipeline(
                probe("--no-stdin").pipe(Command.env("STAGE", "one"), Command.workingDirectory(a)),
                probe().pipe(Command.env("STAGE", "two"), Command.env("ONLY_TWO", "x"), Command.workingDirectory(b)),
                probe().pipe(Command.env("STAGE", "three"), Command.workingDirectory(c))
              )
              const out = yield* Command.string(p)
              const third = parseReport(out)
              const second = parseReport(between(out, "STDOUT"))
              const firstReport = parseReport(between(between(out, "STDOUT"), "STDOUT"))
              expect([firstReport.env, second.env, third.env]).toEqual([
                { STAGE: "one" },
                { STAGE: "two", ONLY_TWO: "x" },
                { STAGE: "three" }
              ])
              expect([firstReport.cwd, second.cwd, third.cwd]).toEqual([a, b, c])
              expect(firstReport.args).toEqual(["--no-stdin"])
            }).pipe(Effect.provide(layer)),
          (dirs) => Effect.sync(() => dirs.forEach(removeTempDir))
        ))

      it.live("stdin feeds the first stage; stdout and stderr come from the last", () =>
        Effect.gen(function*() {
          const p = Command.pipeline(
            sh("echo first-err >&2; tr a-z A-Z"),
            sh("echo middle-err >&2; cat; echo middle-out"),
            sh("echo last-err >&2; cat")
          ).pipe(Command.feed("hello\n"), Command.stdout("capture"), Command.stderr("capture"))
          const result = yield* Command.run(p)
          expect(text(result.stdout)).toBe("HELLO\nmiddle-out\n")
          expect(text(result.stderr)).toBe("last-err\n")
          // `feed` on the pipeline and on its first stage are the same thing.
          const fedFirst = Command.pipeline(sh("tr a-z A-Z").pipe(Command.feed("hello\n")), Command.make("cat"))
          expect(yield* Command.string(fedFirst)).toBe("HELLO\n")
          expect(
            yield* Command.string(Command.pipeline(sh("tr a-z A-Z"), Command.make("cat")).pipe(Command.feed("x\n")))
          ).toBe("X\n")
        }).pipe(Effect.provide(layer)))

      it.live("4 MiB of binary input pass through three stages unchanged, with no deadlock", () =>
        Effect.gen(function*() {
          const input = binary(4 * 1024 * 1024)
          const out = yield* Command.bytes(
            Command.pipeline(Command.make("cat"), Command.make("cat"), Command.make("cat")).pipe(Command.feed(input))
          )
          expect(buf(out).equals(buf(input))).toBe(true)
        }).pipe(Effect.provide(layer)))

      it.live("a stderr joint sends stage 1's stderr on, its stdout where it says", () =>
        Effect.acquireUseRelease(
          Effect.sync(() => makeTempDir("ec-pipe-")),
          (dir) =>
            Effect.gen(function*() {
              const file = Path.join(dir, "out")
              const p = Command.pipeTo(
                sh("echo out; echo err >&2").pipe(Command.stdout(Command.Output.file(file))),
                sh("sed s/^/got-/"),
                { from: "stderr" }
              )
              expect(Command.joints(p)).toEqual(["stderr"])
              expect(yield* Command.string(p)).toBe("got-err\n")
              expect(Fs.readFileSync(file, "utf8")).toBe("out\n")
              // stdout unset: it goes nowhere.
              expect(
                yield* Command.string(
                  Command.pipeTo(sh("echo out; echo err >&2"), Command.make("cat"), { from: "stderr" })
                )
              )
                .toBe("err\n")
            }).pipe(Effect.provide(layer)),
          (dir) => Effect.sync(() => removeTempDir(dir))
        ))

      it.live("a both joint sends stdout and stderr interleaved in the order written", () =>
        Effect.gen(function*() {
          const p = Command.pipeTo(
            probe("--no-report", "--no-stdin", "--quiet-io", "--interleave", "200"),
            Command.make("cat"),
            {
              from: "both"
            }
          )
          expect(Command.joints(p)).toEqual(["both"])
          expect(yield* Command.string(p)).toBe(interleaved(200))
          // In the middle of a longer pipeline too.
          const longer = Command.pipeline(
            Command.make("cat"),
            Command.pipeTo(sh("cat; echo err >&2"), sh("tr a-z A-Z"), { from: "both" })
          ).pipe(Command.feed("in\n"))
          expect(Command.joints(longer)).toEqual(["stdout", "both"])
          expect(yield* Command.string(longer)).toBe("IN\nERR\n")
        }).pipe(Effect.provide(layer)))

      it.live("a stage whose stderr goes to its stdout (2>&1) sends both into a stdout joint", () =>
        Effect.gen(function*() {
          const p = Command.pipeTo(
            probe("--no-report", "--no-stdin", "--quiet-io", "--interleave", "50").pipe(Command.stderr("stdout")),
            Command.make("cat")
          )
          expect(Command.joints(p)).toEqual(["stdout"])
          expect(yield* Command.string(p)).toBe(interleaved(50))
        }).pipe(Effect.provide(layer)))

      it.live("a stage's stdout to a file and stderr to null while the other is piped", () =>
        Effect.acquireUseRelease(
          Effect.sync(() => makeTempDir("ec-pipe-")),
          (dir) =>
            Effect.gen(function*() {
              const file = Path.join(dir, "err")
              const p = Command.pipeline(
                sh("echo out; echo err >&2").pipe(Command.stderr(Command.Output.file(file))),
                sh("cat; echo dropped >&2").pipe(Command.stderr("null")),
                Command.make("cat")
              ).pipe(Command.stderr("capture"))
              const result = yield* Command.run(p.pipe(Command.stdout("capture")))
              expect(text(result.stdout)).toBe("out\n")
              expect(text(result.stderr)).toBe("")
              expect(Fs.readFileSync(file, "utf8")).toBe("err\n")
            }).pipe(Effect.provide(layer)),
          (dir) => Effect.sync(() => removeTempDir(dir))
        ))
    })

    describe("run helpers and start", () => {
      const p = Command.pipeline(sh("printf 'b\\na\\nc\\n'"), Command.make("sort"), Command.make("cat"))

      it.live("run, string, lines, bytes, records, stream and streamLines", () =>
        Effect.gen(function*() {
          const result = yield* Command.run(p.pipe(Command.stdout("capture")))
          expect(text(result.stdout)).toBe("a\nb\nc\n")
          expect(result.stages).toEqual([exited(0), exited(0), exited(0)])
          expect(yield* Command.string(p)).toBe("a\nb\nc\n")
          expect(yield* Command.lines(p)).toEqual(["a", "b", "c"])
          expect(text(yield* Command.bytes(p))).toBe("a\nb\nc\n")
          expect(yield* Command.records(p, { separator: "\n" })).toEqual([["a"], ["b"], ["c"]])
          const chunks = yield* Stream.runCollect(Command.stream(p))
          expect(Chunk.toReadonlyArray(chunks).map(text).join("")).toBe("a\nb\nc\n")
          expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Command.streamLines(p)))).toEqual(["a", "b", "c"])
        }).pipe(Effect.provide(layer)))

      it.live("stream of a failing pipeline emits the output, then fails with pipefail's error", () =>
        Effect.gen(function*() {
          const failing = Command.pipeline(sh("echo one; echo two"), sh("cat; exit 6"), Command.make("cat"))
          const seen: Array<string> = []
          const error = yield* Effect.flip(
            Stream.runForEach(Command.streamLines(failing), (l) => Effect.sync(() => void seen.push(l)))
          )
          expect(seen).toEqual(["one", "two"])
          expect(error).toMatchObject({ _tag: "ExitError", exitCode: 6, stages: [exited(0), exited(6), exited(0)] })
        }).pipe(Effect.provide(layer)))

      it.live("start: write the first stage's stdin, read the last stage's stdout, wait for every stage", () =>
        Effect.gen(function*() {
          const piped = Command.pipeline(Command.make("cat"), sh("tr a-z A-Z"), sh("cat; exit 4")).pipe(
            Command.stdin("pipe"),
            Command.stdout("pipe")
          )
          const { out, result, stages, pid } = yield* Effect.scoped(Effect.gen(function*() {
            const process = yield* Command.start(piped)
            const reader = yield* Effect.fork(Stream.runCollect(process.stdout))
            yield* Stream.run(Stream.make(utf8("hello\n"), utf8("world\n")), process.stdin)
            const chunks = yield* Fiber.join(reader)
            return {
              out: Chunk.toReadonlyArray(chunks).map(text).join(""),
              result: yield* process.result,
              stages: yield* process.waitStages,
              pid: process.pid
            }
          }))
          expect(out).toBe("HELLO\nWORLD\n")
          expect(result.status).toEqual(exited(4))
          expect(result.stages).toEqual([exited(0), exited(0), exited(4)])
          expect(stages).toEqual(result.stages)
          expect(isAlive(pid)).toBe(false)
          expect(zombieChildren()).toEqual([])
        }).pipe(Effect.provide(layer)))
    })

    describe("a stage that cannot spawn", () => {
      it.live("a missing program in the last stage: the right stage's SpawnError, no left stage left running", () =>
        Effect.gen(function*() {
          const mark = marker()
          const p = Command.pipeline(
            sh("exec sleep 100").pipe(marked(mark)),
            Command.make("cat").pipe(marked(mark)),
            Command.make("/nonexistent/ec-no-such-program", "--flag")
          )
          const error = yield* failsCleanly(Command.run(p))
          expect(error).toBeInstanceOf(CommandError.SpawnError)
          expect(error).toMatchObject({ reason: "NotFound", command: "/nonexistent/ec-no-such-program --flag" })
          expect(withMarker("EC_MARKER", mark)).toEqual([])
        }).pipe(Effect.provide(layer)))

      it.live("a missing program in the middle stage: no stage left running", () =>
        Effect.gen(function*() {
          const mark = marker()
          const p = Command.pipeline(
            sh("exec sleep 100").pipe(marked(mark)),
            Command.make("ec-no-such-program-on-path"),
            Command.make("cat").pipe(marked(mark))
          )
          const error = yield* failsCleanly(Command.run(p))
          expect(error).toMatchObject({ _tag: "SpawnError", reason: "NotFound", command: "ec-no-such-program-on-path" })
          expect(withMarker("EC_MARKER", mark)).toEqual([])
        }).pipe(Effect.provide(layer)))

      it.live("a bad working directory in the right stage: no left stage left running", () =>
        Effect.gen(function*() {
          const mark = marker()
          const p = Command.pipeTo(
            sh("exec sleep 100").pipe(marked(mark)),
            Command.make("cat").pipe(Command.workingDirectory("/nonexistent/ec-dir"))
          )
          const error = yield* failsCleanly(Command.run(p))
          expect(error).toMatchObject({ _tag: "SpawnError", reason: "BadWorkingDirectory" })
          expect(withMarker("EC_MARKER", mark)).toEqual([])
        }).pipe(Effect.provide(layer)))

      it.live("an unknown user in the right stage: its SpawnError, no left stage left running", () =>
        Effect.gen(function*() {
          const mark = marker()
          const right = Command.make("cat").pipe(Command.uid("ec-no-such-user"))
          const p = Command.pipeTo(sh("exec sleep 100").pipe(marked(mark)), right)
          const error = yield* failsCleanly(Command.run(p))
          expect(error).toBeInstanceOf(CommandError.SpawnError)
          // With the helper, its getpwnam fails in the child; without, the setting is refused.
          expect(error).toMatchObject(
            engine.startsWith("helper")
              ? { reason: "SetupFailed", stage: "getpwnam", command: "cat" }
              : { reason: "HelperMissing", command: "cat" }
          )
          expect(withMarker("EC_MARKER", mark)).toEqual([])
        }).pipe(Effect.provide(layer)))

      if (engine.startsWith("helper")) {
        it.live("an exec failure of the right stage, after its FIFOs were opened: the left stage is killed", () =>
          Effect.acquireUseRelease(
            Effect.sync(() => makeTempDir("ec-pipe-")),
            (dir) =>
              Effect.gen(function*() {
                // Executable, but no format the kernel knows: execve fails with ENOEXEC once the
                // right stage's helper has opened the FIFO, so the left stage is running by then.
                const bogus = Path.join(dir, "bogus")
                Fs.writeFileSync(bogus, Buffer.from([0, 1, 2, 3, 0, 0, 0, 0]), { mode: 0o755 })
                const mark = marker()
                const p = Command.pipeTo(sh("exec sleep 100").pipe(marked(mark)), Command.make(bogus))
                const error = yield* failsCleanly(Command.run(p))
                expect(error).toMatchObject({ _tag: "SpawnError", stage: "execve", errno: "ENOEXEC", command: bogus })
                expect(withMarker("EC_MARKER", mark)).toEqual([])
              }).pipe(Effect.provide(layer)),
            (dir) => Effect.sync(() => removeTempDir(dir))
          ))
      }
    })

    describe("every stage's stderr", () => {
      it.live("head | gunzip | sha256sum: the error names stage 2 and carries gunzip's complaint", () =>
        Effect.gen(function*() {
          const p = Command.pipeline(
            Command.make("head", "-c", "1000000", "/dev/urandom"),
            Command.make("gunzip"),
            Command.make("sha256sum")
          )
          const error = yield* Effect.flip(Command.run(p))
          expect(error).toMatchObject({ _tag: "ExitError", exitCode: 1, failedStage: 1 })
          expect(error.message).toMatch(
            /^head -c 1000000 \/dev\/urandom \| gunzip \| sha256sum: stage 2 \(gunzip\): unexpected exit status 1: .*not in gzip format$/
          )
          const tails = (error as CommandError.ExitError).stageStderrTails!
          expect(tails).toHaveLength(3)
          expect(tails[1]).toMatch(/not in gzip format$/)
          expect(tails[2]).toBe("")
          expect(zombieChildren()).toEqual([])
        }).pipe(Effect.provide(layer)))

      it.live("a middle stage's stderr captured: its bytes in stageStderr, the data still flows on", () =>
        Effect.gen(function*() {
          const p = Command.pipeline(
            sh("printf 'a\\nb\\n'; echo first-said >&2"),
            sh("cat; echo middle-said >&2").pipe(Command.stderr("capture")),
            Command.make("cat")
          ).pipe(Command.stdout("capture"))
          const result = yield* Command.run(p)
          expect(text(result.stdout)).toBe("a\nb\n")
          // The first stage's stderr was not asked for: the run helpers kept only its tail.
          expect(result.stageStderr.map(text)).toEqual(["", "middle-said\n", ""])
        }).pipe(Effect.provide(layer)))

      it.live("start: a middle stage's piped stderr is read by the caller, beside the last stage's stdout", () =>
        Effect.gen(function*() {
          const p = Command.pipeline(
            sh("echo data"),
            sh("cat; echo progress >&2").pipe(Command.stderr("pipe")),
            Command.make("cat")
          ).pipe(Command.stdout("pipe"))
          const [out, progress] = yield* Effect.scoped(Effect.gen(function*() {
            const process = yield* Command.start(p)
            const read = (stream: Stream.Stream<Uint8Array, CommandError.CommandError>) =>
              Effect.map(Stream.runCollect(stream), (chunks) => text(Buffer.concat(Chunk.toReadonlyArray(chunks))))
            const both = yield* Effect.all([read(process.stdout), read(process.upstreamStderr[1]!)], {
              concurrency: "unbounded"
            })
            expect(yield* process.waitStages).toEqual([exited(0), exited(0), exited(0)])
            return both
          }))
          expect(out).toBe("data\n")
          expect(progress).toBe("progress\n")
        }).pipe(Effect.provide(layer)))

      it.live("a stage writing megabytes to stderr: its tail is bounded and ends with what it wrote last", () =>
        Effect.gen(function*() {
          const noisy = sh(
            "cat >/dev/null; { head -c 3000000 /dev/zero | tr '\\0' e; echo; echo the end; } >&2; exit 2"
          )
          const p = Command.pipeline(sh("head -c 3000000 /dev/zero >&2; echo data"), noisy, Command.make("cat"))
          const error = yield* Effect.flip(Command.run(p))
          expect(error).toMatchObject({ _tag: "ExitError", exitCode: 2, failedStage: 1 })
          const tails = (error as CommandError.ExitError).stageStderrTails!
          expect(tails[0]!.length).toBeLessThanOrEqual(8192)
          expect(tails[1]!.length).toBeLessThanOrEqual(8192)
          expect(tails[1]).toMatch(/e{4000}\nthe end$/)
          expect(error.message).toMatch(/: stage 2 \(sh\): unexpected exit status 2: the end$/)
        }).pipe(Effect.provide(layer)))

      it.live("a Redacted argument a stage prints is blanked in its tail and in the message", () =>
        Effect.gen(function*() {
          const p = Command.pipeline(
            Command.make("true"),
            sh("cat >/dev/null; echo \"token $1 rejected\" >&2; exit 1", Redacted.make("hunter2-secret")),
            Command.make("cat")
          )
          const error = yield* Effect.flip(Command.run(p))
          expect(error).toMatchObject({ _tag: "ExitError", failedStage: 1 })
          expect((error as CommandError.ExitError).stageStderrTails).toEqual(["", "token <redacted> rejected", ""])
          expect(error.message).toMatch(/: stage 2 \(sh\): unexpected exit status 1: token <redacted> rejected$/)
          expect(JSON.stringify(error)).not.toContain("hunter2")
        }).pipe(Effect.provide(layer)))

      it.live("a middle stage's captured stderr past maxOutput: every stage is killed, the error names it", () =>
        Effect.gen(function*() {
          const mark = marker()
          const p = Command.pipeline(
            Command.make("sleep", "100").pipe(marked(mark)),
            sh("while :; do echo noise noise noise >&2; done").pipe(marked(mark), Command.stderr("capture")),
            Command.make("cat").pipe(marked(mark))
          ).pipe(Command.maxOutput(100_000))
          const error = yield* Effect.flip(Command.run(p))
          expect(error).toMatchObject({ _tag: "OutputLimitError", stream: "stderr", limit: 100_000, failedStage: 1 })
          expect((error as CommandError.OutputLimitError).output).toHaveLength(100_000)
          expect(error.message).toMatch(/: stage 2 \(sh\) wrote more than 100000 bytes to stderr; it was killed$/)
          expect(withMarker("EC_MARKER", mark)).toEqual([])
          expect(zombieChildren()).toEqual([])
        }).pipe(Effect.provide(layer)))

      it.live("a middle stage that writes to stderr forever and never exits: the timeout ends the run, nothing is left", () =>
        Effect.gen(function*() {
          const mark = marker()
          const p = Command.pipeline(
            Command.make("sleep", "100").pipe(marked(mark)),
            sh("while :; do echo noise noise noise >&2; done").pipe(marked(mark)),
            Command.make("cat").pipe(marked(mark))
          ).pipe(Command.timeout("500 millis"))
          const error = yield* Effect.flip(Command.run(p))
          expect(error).toBeInstanceOf(CommandError.CommandTimeoutError)
          // What the noisy stage said until then: its last 8 KiB.
          const noise = text((error as CommandError.CommandTimeoutError).stageStderr![1]!)
          expect(noise.length).toBeLessThanOrEqual(8192)
          expect(noise).toMatch(/noise noise noise\n$/)
          expect(withMarker("EC_MARKER", mark)).toEqual([])
          expect(zombieChildren()).toEqual([])
        }).pipe(Effect.provide(layer)))
    })

    describe("stopping a running pipeline", () => {
      it.live("scope close kills and reaps every stage", () =>
        Effect.gen(function*() {
          const mark = marker()
          const p = Command.pipeline(
            readyThenSleep().pipe(marked(mark)),
            Command.make("cat").pipe(marked(mark)),
            Command.make("cat").pipe(marked(mark))
          ).pipe(Command.stdout("pipe"))
          const process = yield* Effect.scoped(Effect.gen(function*() {
            const process = yield* Command.start(p)
            yield* waitForLine(process, "READY")
            expect(withMarker("EC_MARKER", mark)).toHaveLength(3)
            return process
          }))
          expect(withMarker("EC_MARKER", mark)).toEqual([])
          expect(zombieChildren()).toEqual([])
          expect(yield* process.waitStages).toEqual([signaled("SIGTERM"), signaled("SIGTERM"), signaled("SIGTERM")])
        }).pipe(Effect.provide(layer)))

      it.live("interrupting a fiber waiting for a pipeline's result kills and reaps every stage", () =>
        Effect.gen(function*() {
          const mark = marker()
          const p = Command.pipeline(readyThenSleep().pipe(marked(mark)), Command.make("cat").pipe(marked(mark))).pipe(
            Command.stdout("pipe")
          )
          const ready = yield* Deferred.make<void>()
          const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
            const process = yield* Command.start(p)
            yield* waitForLine(process, "READY")
            yield* Deferred.succeed(ready, undefined)
            return yield* process.result
          })))
          yield* Deferred.await(ready)
          expect(withMarker("EC_MARKER", mark)).toHaveLength(2)
          const exit = yield* Fiber.interrupt(fiber)
          expect(Exit.isInterrupted(exit)).toBe(true)
          expect(withMarker("EC_MARKER", mark)).toEqual([])
          expect(zombieChildren()).toEqual([])
        }).pipe(Effect.provide(layer)))

      it.live("Effect.timeout around run of a pipeline kills and reaps every stage", () =>
        Effect.gen(function*() {
          const mark = marker()
          const p = Command.pipeline(
            sh("exec sleep 100").pipe(marked(mark)),
            Command.make("cat").pipe(marked(mark)),
            Command.make("cat").pipe(marked(mark))
          )
          const exit = yield* Effect.exit(Effect.timeout(Command.run(p), "300 millis"))
          expect(exit).toMatchObject({ _tag: "Failure", cause: { _tag: "Fail", error: { _tag: "TimeoutException" } } })
          expect(withMarker("EC_MARKER", mark)).toEqual([])
          expect(zombieChildren()).toEqual([])
        }).pipe(Effect.provide(layer)))

      it.live("a stage that ignores SIGTERM is SIGKILLed after its grace", () =>
        Effect.gen(function*() {
          const mark = marker()
          const p = Command.pipeline(
            readyThenSleep("--ignore-term").pipe(marked(mark), Command.killGrace("300 millis")),
            Command.make("cat").pipe(marked(mark))
          ).pipe(Command.stdout("pipe"))
          let closing = 0
          const process = yield* Effect.scoped(Effect.gen(function*() {
            const process = yield* Command.start(p)
            yield* waitForLine(process, "READY")
            closing = Date.now()
            return process
          }))
          const took = Date.now() - closing
          expect(took).toBeGreaterThanOrEqual(250)
          expect(took).toBeLessThan(300 + 1000)
          expect(yield* process.waitStages).toEqual([signaled("SIGKILL"), signaled("SIGTERM")])
          expect(withMarker("EC_MARKER", mark)).toEqual([])
          expect(zombieChildren()).toEqual([])
        }).pipe(Effect.provide(layer)))
    })

    it.live("256 MiB through `head -c 268435456 /dev/zero | wc -c`", () =>
      Effect.gen(function*() {
        const size = 256 * 1024 * 1024
        const out = yield* Command.string(
          Command.pipeline(Command.make("head", "-c", String(size), "/dev/zero"), Command.make("wc", "-c"))
        )
        expect(out.trim()).toBe(String(size))
      }).pipe(Effect.provide(layer)), 60_000)
  })
}
