/**
 * Pipelines as values (issue #5): construction, stages and joints, rendering like a shell,
 * usage problems, and pipelines run by the dry-run executor (each stage recorded, each stage's
 * scripted output the next one's stdin) with `set -o pipefail` statuses.
 */
import * as Util from "node:util"

import { Command, CommandError, DryRunExecutor, ExitStatus } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Either, Equal, Fiber, Hash, Redacted, Sink, Stream, TestClock } from "effect"

import { decode, encode, line, reasons } from "./support.js"

const gen = Command.make("gen", "--count", "3")
const sort = Command.make("sort", "-r")
const upper = Command.make("upper")

// =============================================================================================
// construction
// =============================================================================================

describe("construction", () => {
  it("pipeTo links two commands; stages and joints take them apart again", () => {
    const p = Command.pipeTo(gen, sort)
    expect(Command.stages(p)).toHaveLength(2)
    expect(Equal.equals(Command.stages(p)[0]!, gen)).toBe(true)
    expect(Equal.equals(Command.stages(p)[1]!, sort)).toBe(true)
    expect(Command.joints(p)).toEqual(["stdout"])
    // The pipeline is its last stage with the rest upstream.
    expect(p.program).toBe("sort")
    expect(p.upstream?.from).toBe("stdout")
    expect(Equal.equals(p.upstream!.command, gen)).toBe(true)
  })

  it("pipeTo is dual, with the joint as an option", () => {
    expect(Equal.equals(gen.pipe(Command.pipeTo(sort)), Command.pipeTo(gen, sort))).toBe(true)
    expect(Command.joints(gen.pipe(Command.pipeTo(sort, { from: "stderr" })))).toEqual(["stderr"])
    expect(Command.joints(Command.pipeTo(gen, sort, { from: "both" }))).toEqual(["both"])
    expect(Equal.equals(Command.pipeTo(gen, sort, { from: "stdout" }), Command.pipeTo(gen, sort))).toBe(true)
  })

  it("pipeline of n commands has n stages and n - 1 stdout joints; of one command, the command", () => {
    const p = Command.pipeline(gen, sort, upper)
    expect(Command.stages(p).map((s) => s.program)).toEqual(["gen", "sort", "upper"])
    expect(Command.joints(p)).toEqual(["stdout", "stdout"])
    expect(Equal.equals(Command.pipeline(gen), gen)).toBe(true)
    expect(Command.stages(gen)).toEqual([gen])
    expect(Command.joints(gen)).toEqual([])
  })

  it("is associative: (a | b) | c and a | (b | c) are the same value", () => {
    const left = Command.pipeTo(Command.pipeTo(gen, sort), upper)
    const right = Command.pipeTo(gen, Command.pipeTo(sort, upper))
    expect(Equal.equals(left, right)).toBe(true)
    expect(Hash.hash(left)).toBe(Hash.hash(right))
    expect(Equal.equals(left, Command.pipeline(gen, sort, upper))).toBe(true)
    // Joints of a pipeline piped into stay where they were.
    const mixed = Command.pipeTo(gen, Command.pipeTo(sort, upper, { from: "both" }), { from: "stderr" })
    expect(Command.joints(mixed)).toEqual(["stderr", "both"])
  })

  it("equality tells joints, stages and order apart", () => {
    const p = Command.pipeline(gen, sort)
    expect(Equal.equals(p, Command.pipeTo(gen, sort, { from: "both" }))).toBe(false)
    expect(Equal.equals(p, Command.pipeline(sort, gen))).toBe(false)
    expect(Equal.equals(p, sort)).toBe(false)
    expect(Equal.equals(p, Command.pipeline(gen, sort, upper))).toBe(false)
    expect(Equal.equals(p, Command.pipeline(Command.make("gen", "--count", "3"), Command.make("sort", "-r")))).toBe(
      true
    )
  })

  it("stages come out standalone, each with its own settings", () => {
    const p = Command.pipeline(
      gen.pipe(Command.env("A", "1"), Command.workingDirectory("/a")),
      sort.pipe(Command.env("B", "2"), Command.workingDirectory("/b"), Command.killGrace("1 second"))
    )
    const [first, second] = Command.stages(p)
    expect(first!.upstream).toBeUndefined()
    expect(second!.upstream).toBeUndefined()
    expect([first!.cwd, second!.cwd]).toEqual(["/a", "/b"])
    expect(first!.env.entries).toEqual([{ _tag: "Set", name: "A", value: "1" }])
    expect(second!.env.entries).toEqual([{ _tag: "Set", name: "B", value: "2" }])
    expect(Duration.toMillis(second!.killPolicy.grace)).toBe(1000)
    expect(Duration.toMillis(first!.killPolicy.grace)).toBe(3000)
  })

  it("input combinators on a pipeline set its first stage; output and other combinators its last", () => {
    const p = Command.pipeline(gen, sort, upper).pipe(
      Command.feed("in"),
      Command.stdout("capture"),
      Command.stderr("capture"),
      Command.env("LAST", "yes"),
      Command.timeout("5 seconds"),
      Command.maxOutput(10)
    )
    const [first, middle, last] = Command.stages(p)
    expect(first!.stdin).toEqual({ _tag: "Text", text: "in" })
    expect(middle!.stdin).toBeUndefined()
    expect(last!.stdin).toBeUndefined()
    expect(last!.stdout).toEqual({ _tag: "Capture" })
    expect(last!.stderr).toEqual({ _tag: "Capture" })
    expect(last!.env.entries).toEqual([{ _tag: "Set", name: "LAST", value: "yes" }])
    expect(first!.env.entries).toEqual([])
    expect(p.timeout).toEqual(Duration.seconds(5))
    expect(p.maxOutput).toBe(10)
    expect(first!.timeout).toBeUndefined()
    expect(reasons(p)).toEqual([])
  })
})

// =============================================================================================
// rendering
// =============================================================================================

describe("rendering", () => {
  it("joins stages like a shell: `a | b`, `a 2>&1 | b`, `a 2>&1 >/dev/null | b`", () => {
    expect(line(Command.pipeline(gen, sort, upper))).toBe("gen --count 3 | sort -r | upper")
    expect(line(Command.pipeTo(gen, sort, { from: "both" }))).toBe("gen --count 3 2>&1 | sort -r")
    expect(line(Command.pipeTo(gen, sort, { from: "stderr" }))).toBe("gen --count 3 2>&1 >/dev/null | sort -r")
    expect(line(Command.pipeTo(gen, Command.pipeTo(sort, upper, { from: "both" })))).toBe(
      "gen --count 3 | sort -r 2>&1 | upper"
    )
  })

  it("each stage shows its own environment and quoting; Redacted words stay redacted", () => {
    const p = Command.pipeline(
      gen.pipe(Command.env("A", "one two")),
      Command.make("grep", "-e", "a b", Redacted.make("hidden-pattern")).pipe(
        Command.env("TOKEN", Redacted.make("hidden-token"))
      )
    )
    const text = line(p)
    expect(text).toBe("env -i A='one two' gen --count 3 | env -i TOKEN=<redacted> grep -e 'a b' <redacted>")
    expect(Either.getOrThrow(Command.toLogLine(p))).toBe(
      "env -i A=one two gen --count 3 | env -i TOKEN=<redacted> grep -e a b <redacted>"
    )
    for (const shown of [text, String(p), JSON.stringify(p), Util.inspect(p, { depth: Infinity })]) {
      expect(shown).not.toContain("hidden-")
    }
  })

  it("with linebreaks, each stage starts on a line of its own", () => {
    expect(line(Command.pipeline(Command.make("a", "x"), Command.make("b")), { linebreaks: true })).toBe(
      "a \\\nx | \\\nb"
    )
  })

  it("toJSON shows the upstream stage and its joint", () => {
    const json = JSON.parse(JSON.stringify(Command.pipeTo(gen, sort, { from: "both" })))
    expect(json.program).toBe("sort")
    expect(json.upstream.from).toBe("both")
    expect(json.upstream.command.program).toBe("gen")
    expect(json.upstream.command.args).toEqual(["--count", "3"])
  })
})

// =============================================================================================
// problems
// =============================================================================================

describe("problems", () => {
  it("a later stage with its own stdin, named by its number", () => {
    expect(reasons(Command.pipeTo(gen, sort.pipe(Command.stdin("null"))))).toEqual([
      "stage 2: a pipeline stage after the first cannot set its own stdin"
    ])
    expect(reasons(Command.pipeTo(gen, sort.pipe(Command.feed("x"))))).toEqual([
      "stage 2: a pipeline stage after the first cannot set its own stdin"
    ])
    // The head of a pipeline piped into is stage 2, not the pipeline's last stage.
    expect(reasons(Command.pipeTo(gen, Command.pipeTo(sort.pipe(Command.stdin("null")), upper)))).toEqual([
      "stage 2: a pipeline stage after the first cannot set its own stdin"
    ])
  })

  it("a stage whose piped output is already set elsewhere", () => {
    expect(reasons(Command.pipeTo(gen.pipe(Command.stdout("null")), sort))).toEqual([
      "stage 1: a stage that pipes its stdout cannot set stdout"
    ])
    expect(reasons(Command.pipeTo(gen.pipe(Command.stderr("null")), sort, { from: "stderr" }))).toEqual([
      "stage 1: a stage that pipes its stderr cannot set stderr"
    ])
    expect(reasons(Command.pipeTo(gen.pipe(Command.stdout("null"), Command.stderr("stdout")), sort, { from: "both" })))
      .toEqual([
        "stage 1: a stage that pipes its stdout cannot set stdout",
        "stage 1: a stage that pipes its stderr cannot set stderr"
      ])
    // The output that is not piped is the stage's own: a file, null, inherit, an fd; 2>&1 with a stdout joint.
    expect(reasons(Command.pipeTo(gen.pipe(Command.stdout(Command.Output.file("/tmp/x"))), sort, { from: "stderr" })))
      .toEqual([])
    expect(reasons(Command.pipeTo(gen.pipe(Command.stderr("null")), sort))).toEqual([])
    expect(reasons(Command.pipeTo(gen.pipe(Command.stderr("stdout")), sort))).toEqual([])
  })

  it("an earlier stage cannot capture, pipe or sink a stdout it keeps while sending its stderr on", () => {
    for (const output of ["capture", "pipe", Command.Output.forEach(() => {})] as const) {
      expect(reasons(Command.pipeTo(gen.pipe(Command.stdout(output)), sort, { from: "stderr" }))).toEqual([
        "stage 1: only the last stage's stdout can be captured, piped or sent to a sink or a function"
      ])
      // Every stage's stderr can be read: captured by the run helpers, a pipe by start's caller.
      expect(reasons(Command.pipeTo(gen.pipe(Command.stderr(output)), sort))).toEqual([])
    }
    // The last stage's outputs are what the helpers read.
    expect(reasons(Command.pipeline(gen, sort).pipe(Command.stdout("pipe"), Command.stderr("capture")))).toEqual([])
  })

  it("a joint that is no output", () => {
    expect(reasons(Command.pipeTo(gen, sort, { from: "stdin" as never }))).toEqual([
      "stage 2: a pipe reads stdout, stderr or both, not stdin"
    ])
  })

  it("a daemon or a handshake in any stage, set before or after piping", () => {
    expect(reasons(Command.pipeTo(gen.pipe(Command.daemonize()), sort))).toEqual([
      "stage 1: a daemon cannot be a pipeline stage"
    ])
    expect(reasons(Command.pipeTo(gen, sort.pipe(Command.daemonize())))).toEqual([
      "stage 2: a daemon cannot be a pipeline stage"
    ])
    expect(reasons(Command.pipeline(gen, sort).pipe(Command.daemonize()))).toEqual([
      "stage 2: a daemon cannot be a pipeline stage"
    ])
    expect(reasons(Command.pipeline(gen, sort).pipe(Command.handshake))).toEqual([
      "stage 2: a pipeline stage cannot require a start-up handshake"
    ])
  })

  it("each stage's own problems, numbered", () => {
    const p = Command.pipeline(gen.pipe(Command.arg("nul\0")), sort, upper.pipe(Command.passFd(2)))
    expect(reasons(p)).toEqual([
      "stage 1: argument 3 contains a NUL byte",
      "stage 3: a passed fd must be an integer ≥ 3, not 2"
    ])
    expect(Either.isLeft(Command.toString(p))).toBe(true)
  })

  it("timeout and maxOutput values", () => {
    expect(reasons(gen.pipe(Command.timeout("0 millis")))).toEqual([
      expect.stringContaining("the timeout must be a finite, positive duration")
    ])
    expect(reasons(gen.pipe(Command.timeout(Duration.infinity)))).toEqual([])
    expect(gen.pipe(Command.timeout("1 second"), Command.timeout(Duration.infinity)).timeout).toBeUndefined()
    expect(reasons(gen.pipe(Command.maxOutput(-1)))).toEqual([expect.stringContaining("the output limit must be")])
    expect(reasons(gen.pipe(Command.maxOutput(1.5)))).toHaveLength(1)
    expect(reasons(gen.pipe(Command.maxOutput(Number.NaN)))).toHaveLength(1)
    expect(reasons(gen.pipe(Command.maxOutput(0), Command.maxOutput(Infinity), Command.timeout("1 millis")))).toEqual(
      []
    )
    expect(gen.maxOutput).toBe(100 * 1024 * 1024)
    expect(gen.timeout).toBeUndefined()
  })

  it.effect("a pipeline with a problem fails every helper with CommandUsageError before any stage runs", () =>
    Effect.gen(function*() {
      const p = Command.pipeTo(gen, sort.pipe(Command.stdin("null")))
      const error = yield* Effect.flip(Command.run(p))
      expect(error).toBeInstanceOf(CommandError.CommandUsageError)
      expect(error.message).toBe(
        "gen --count 3 | sort -r: invalid command: stage 2: a pipeline stage after the first cannot set its own stdin"
      )
      yield* Effect.flip(Effect.scoped(Command.start(p)))
      expect(yield* DryRunExecutor.recorded).toEqual([])
    }).pipe(Effect.provide(DryRunExecutor.layer())))
})

// =============================================================================================
// dry-run pipelines
// =============================================================================================

/** Scripted programs: gen writes lines, sort sorts its input, upper upper-cases it, fail N exits N. */
const handler: DryRunExecutor.Handler = ({ args, program, stdin }) => {
  const input = decode(stdin)
  switch (program) {
    case "gen":
      return { stdout: "b\na\nc\n", stderr: "gen-err\n" }
    case "sort":
      return { stdout: input.split("\n").filter((l) => l !== "").sort().map((l) => `${l}\n`).join("") }
    case "upper":
      return { stdout: input.toUpperCase(), stderr: "upper-err\n" }
    case "fail":
      return { status: Number(args[0]), stdout: input, stderr: `fail ${String(args[0])}\n` }
    case "killed":
      return { status: ExitStatus.signaled("SIGKILL") }
    case "slow":
      return { delay: "10 seconds", stdout: "late\n" }
    default:
      return { status: 127 }
  }
}

const dryRun = Effect.provide(DryRunExecutor.layer(handler))
const fail = (code: number) => Command.make("fail", String(code))

describe("dry-run pipelines", () => {
  it.effect("records each stage, each reading what the stage before wrote", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(Command.pipeline(gen, Command.make("sort"), upper).pipe(Command.feed("seed")))
      expect(out).toBe("A\nB\nC\n")
      const recorded = yield* DryRunExecutor.recorded
      expect(recorded.map((r) => r.line)).toEqual(["gen --count 3", "sort", "upper"])
      expect(recorded.map((r) => decode(r.stdin))).toEqual(["seed", "b\na\nc\n", "a\nb\nc\n"])
      expect(recorded.every((r) => r.command.upstream === undefined)).toBe(true)
    }).pipe(dryRun))

  it.effect("stderr and both joints feed the next stage the stage's stderr, or stdout then stderr", () =>
    Effect.gen(function*() {
      expect(yield* Command.string(Command.pipeTo(gen, upper, { from: "stderr" }))).toBe("GEN-ERR\n")
      expect(yield* Command.string(Command.pipeTo(gen, upper, { from: "both" }))).toBe("B\nA\nC\nGEN-ERR\n")
    }).pipe(dryRun))

  it.effect("stdout and stderr come from the last stage", () =>
    Effect.gen(function*() {
      const result = yield* Command.run(
        Command.pipeline(gen, upper).pipe(Command.stdout("capture"), Command.stderr("capture"))
      )
      expect(decode(result.stdout)).toBe("B\nA\nC\n")
      expect(decode(result.stderr)).toBe("upper-err\n")
      expect(result.stages).toEqual([ExitStatus.exited(0), ExitStatus.exited(0)])
    }).pipe(dryRun))

  it.effect("pipefail: a failing middle stage fails the run with its code and the 3 statuses", () =>
    Effect.gen(function*() {
      const p = Command.pipeline(gen, fail(3), upper)
      const error = yield* Effect.flip(Command.run(p))
      expect(error).toBeInstanceOf(CommandError.ExitError)
      expect(error).toMatchObject({
        exitCode: 3,
        command: "gen --count 3 | fail 3 | upper",
        stages: [ExitStatus.exited(0), ExitStatus.exited(3), ExitStatus.exited(0)]
      })
      // The stderr tail is the last stage's.
      expect((error as CommandError.ExitError).stderrTail).toBe("upper-err")
      expect(yield* Command.status(p)).toEqual(ExitStatus.exited(3))
      expect(yield* Command.exitCode(p)).toBe(3)
    }).pipe(dryRun))

  it.effect("pipefail: the rightmost failure wins; a signal is a failure too", () =>
    Effect.gen(function*() {
      expect(yield* Effect.flip(Command.run(Command.pipeline(gen, fail(3), fail(5))))).toMatchObject({
        _tag: "ExitError",
        exitCode: 5,
        stages: [ExitStatus.exited(0), ExitStatus.exited(3), ExitStatus.exited(5)]
      })
      expect(yield* Effect.flip(Command.run(Command.pipeline(fail(4), fail(3), upper)))).toMatchObject({
        _tag: "ExitError",
        exitCode: 3
      })
      expect(yield* Effect.flip(Command.run(Command.pipeline(fail(4), Command.make("killed"), upper)))).toMatchObject({
        _tag: "SignalError",
        signal: "SIGKILL",
        stages: [ExitStatus.exited(4), ExitStatus.signaled("SIGKILL"), ExitStatus.exited(0)]
      })
      expect(yield* Effect.flip(Command.run(Command.pipeline(Command.make("killed"), fail(0), fail(2))))).toMatchObject(
        {
          _tag: "ExitError",
          exitCode: 2
        }
      )
    }).pipe(dryRun))

  it.effect("pipefail: every stage succeeding is a success listing every status", () =>
    Effect.gen(function*() {
      const result = yield* Command.run(Command.pipeline(gen, fail(0), upper))
      expect(result.status).toEqual(ExitStatus.exited(0))
      expect(result.stages).toEqual([ExitStatus.exited(0), ExitStatus.exited(0), ExitStatus.exited(0)])
      // A single command lists its one status, and its errors no stages.
      expect((yield* Command.run(gen)).stages).toEqual([ExitStatus.exited(0)])
      expect(((yield* Effect.flip(Command.run(fail(1)))) as CommandError.ExitError).stages).toBeUndefined()
    }).pipe(dryRun))

  it("ExitStatus.pipefail", () => {
    const { exited, pipefail, signaled } = ExitStatus
    expect(pipefail([])).toEqual(exited(0))
    expect(pipefail([exited(0)])).toEqual(exited(0))
    expect(pipefail([exited(1), exited(0)])).toEqual(exited(1))
    expect(pipefail([exited(1), exited(2), exited(0)])).toEqual(exited(2))
    expect(pipefail([signaled("SIGPIPE"), exited(0)])).toEqual(signaled("SIGPIPE"))
    expect(pipefail([exited(7), signaled("SIGTERM")])).toEqual(signaled("SIGTERM"))
  })

  it.effect("stream and lines on a pipeline; a failing stream fails after its output", () =>
    Effect.gen(function*() {
      const p = Command.pipeline(gen, Command.make("sort"))
      expect(yield* Command.lines(p)).toEqual(["a", "b", "c"])
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Command.streamLines(p)))).toEqual(["a", "b", "c"])
      const seen: Array<string> = []
      const error = yield* Effect.flip(
        Stream.runForEach(Command.streamLines(Command.pipeline(gen, fail(6))), (l) =>
          Effect.sync(() => void seen.push(l)))
      )
      expect(seen).toEqual(["b", "a", "c"])
      expect(error).toMatchObject({
        _tag: "ExitError",
        exitCode: 6,
        stages: [ExitStatus.exited(0), ExitStatus.exited(6)]
      })
    }).pipe(dryRun))

  it.effect("start: the first stage reads the pipe, the result lists every stage", () =>
    Effect.gen(function*() {
      const p = Command.pipeline(Command.make("sort"), fail(2)).pipe(Command.stdin("pipe"), Command.stdout("capture"))
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(p)
        yield* Stream.run(Stream.make(encode("z\ny\n")), process.stdin)
        expect(yield* process.waitStages).toEqual([ExitStatus.exited(0), ExitStatus.exited(2)])
        return yield* process.result
      }))
      expect(decode(result.stdout)).toBe("y\nz\n")
      expect(result.status).toEqual(ExitStatus.exited(2))
      expect((yield* DryRunExecutor.recorded).map((r) => decode(r.stdin))).toEqual(["z\ny\n", "y\nz\n"])
    }).pipe(dryRun))

  it.effect("a pipeline's timeout ends every stage and fails with CommandTimeoutError", () =>
    Effect.gen(function*() {
      const p = Command.pipeline(gen, Command.make("slow"), upper).pipe(Command.timeout("1 second"))
      const fiber = yield* Effect.fork(Effect.flip(Command.run(p)))
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(CommandError.CommandTimeoutError)
      expect(error).toMatchObject({ command: "gen --count 3 | slow | upper", timeout: Duration.seconds(1) })
      // The last stage never ran.
      expect((yield* DryRunExecutor.recorded).map((r) => r.program)).toEqual(["gen", "slow"])
      // What every stage wrote to stderr until then (the run helpers' tails), previewed when printed.
      const timedOut = error as CommandError.CommandTimeoutError
      expect(timedOut.stageStderr?.map(decode)).toEqual(["gen-err\n", "", ""])
      expect((timedOut.toJSON() as { stageStderr: unknown }).stageStderr).toEqual([
        "8 bytes: \"gen-err\\n\"",
        "0 bytes",
        "0 bytes"
      ])
      // A single command's has none.
      const single = yield* Effect.fork(
        Effect.flip(Command.run(Command.make("slow").pipe(Command.timeout("1 second"))))
      )
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(single)).not.toHaveProperty("stageStderr")
    }).pipe(dryRun))

  it.effect("a pipeline's captured output past maxOutput fails with OutputLimitError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.string(Command.pipeline(gen, upper).pipe(Command.maxOutput(3))))
      expect(error).toBeInstanceOf(CommandError.OutputLimitError)
      expect(error).toMatchObject({ stream: "stdout", limit: 3, failedStage: 1 })
      expect(error.message).toBe(
        "gen --count 3 | upper: stage 2 (upper) wrote more than 3 bytes to stdout; it was killed"
      )
      expect(decode((error as CommandError.OutputLimitError).output)).toBe("B\nA")
    }).pipe(dryRun))
})

describe("every stage's stderr, dry run", () => {
  it.effect("a failing middle stage: the message names it and quotes its stderr; every stage's tail is kept", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(Command.pipeline(gen, fail(3), upper)))
      expect(error).toBeInstanceOf(CommandError.ExitError)
      expect(error.message).toBe("gen --count 3 | fail 3 | upper: stage 2 (fail): unexpected exit status 3: fail 3")
      expect(error).toMatchObject({
        exitCode: 3,
        failedStage: 1,
        stageStderrTails: ["gen-err", "fail 3", "upper-err"],
        // The pipeline's own stderr is its last stage's.
        stderrTail: "upper-err"
      })
      // Without captures asked for, the result keeps none of them.
      const ok = yield* Command.run(Command.pipeline(gen, fail(0), upper))
      expect(ok.stageStderr.map(decode)).toEqual(["", "", ""])
    }).pipe(dryRun))

  it.effect("a failing last stage and a signal: the stage is named too; a single command's message is as before", () =>
    Effect.gen(function*() {
      const last = yield* Effect.flip(Command.run(Command.pipeline(gen, fail(5))))
      expect(last.message).toBe("gen --count 3 | fail 5: stage 2 (fail): unexpected exit status 5: fail 5")
      const killed = yield* Effect.flip(Command.run(Command.pipeline(Command.make("killed"), upper)))
      expect(killed).toMatchObject({ _tag: "SignalError", failedStage: 0, stageStderrTails: ["", "upper-err"] })
      expect(killed.message).toBe("killed | upper: stage 1 (killed): unexpected fatal signal SIGKILL")
      const single = yield* Effect.flip(Command.run(fail(2)))
      expect(single.message).toBe("fail 2: unexpected exit status 2: fail 2")
      expect(single).not.toHaveProperty("failedStage")
      expect(single).not.toHaveProperty("stageStderrTails")
    }).pipe(dryRun))

  it.effect("a stage that allows SIGPIPE and died of it is not the failed stage", () =>
    Effect.gen(function*() {
      const p = Command.pipeline(fail(4), Command.make("writer").pipe(Command.allowSigpipe), Command.make("head"))
      const error = yield* Effect.flip(Command.run(p))
      expect(error).toMatchObject({ _tag: "ExitError", exitCode: 4, failedStage: 0 })
    }).pipe(Effect.provide(DryRunExecutor.layer(({ args, program }) =>
      program === "writer"
        ? { status: ExitStatus.signaled("SIGPIPE"), stderr: "writer: broken pipe\n" }
        : program === "fail"
        ? { status: Number(args[0]), stderr: "fail\n" }
        : {}
    ))))

  it.effect("a middle stage's stderr captured: its bytes in stageStderr, their end in the error", () =>
    Effect.gen(function*() {
      const p = Command.pipeline(gen, fail(0).pipe(Command.stderr("capture")), upper)
      const result = yield* Command.run(p)
      expect(result.stageStderr.map(decode)).toEqual(["", "fail 0\n", ""])
      expect(decode(result.stderr)).toBe("")
      const failing = Command.pipeline(gen, fail(7).pipe(Command.stderr("capture")), upper)
      expect(yield* Effect.flip(Command.run(failing))).toMatchObject({
        failedStage: 1,
        stageStderrTails: ["gen-err", "fail 7", "upper-err"]
      })
      // The recorded stage shows its stderr lowered to the pipe core reads.
      const recorded = yield* DryRunExecutor.recorded
      expect(recorded[recorded.length - 2]?.command.stderr).toEqual({ _tag: "Pipe" })
    }).pipe(dryRun))

  it.effect("a middle stage's stderr into a sink, and past maxOutput", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const sink = Sink.forEach((bytes: Uint8Array) => Effect.sync(() => void seen.push(decode(bytes))))
      yield* Command.run(Command.pipeline(gen.pipe(Command.stderr(Command.Output.sink(sink))), upper))
      expect(seen).toEqual(["gen-err\n"])
      const error = yield* Effect.flip(
        Command.run(Command.pipeline(gen.pipe(Command.stderr("capture")), upper).pipe(Command.maxOutput(3)))
      )
      expect(error).toMatchObject({ _tag: "OutputLimitError", stream: "stderr", limit: 3, failedStage: 0 })
      expect(error.message).toBe(
        "gen --count 3 | upper: stage 1 (gen) wrote more than 3 bytes to stderr; it was killed"
      )
      expect(decode((error as CommandError.OutputLimitError).output)).toBe("gen")
    }).pipe(dryRun))

  it.effect("start: a middle stage's piped stderr is read through upstreamStderr; the run helpers refuse it", () =>
    Effect.gen(function*() {
      const p = Command.pipeline(gen, fail(0).pipe(Command.stderr("pipe")), upper)
      const said = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(p)
        expect(process.upstreamStderr).toHaveLength(2)
        const [first, middle] = process.upstreamStderr
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(first!))).toEqual([])
        return decode(Chunk.toReadonlyArray(yield* Stream.runCollect(middle!))[0]!)
      }))
      expect(said).toBe("fail 0\n")
      const refused = yield* Effect.flip(Command.run(p))
      expect(refused).toMatchObject({
        _tag: "CommandUsageError",
        reasons: ["run cannot read the piped stderr of stage 2: capture it, or use start"]
      })
    }).pipe(dryRun))

  it.effect("a stage's tail and the message blank a Redacted argument of any stage", () =>
    Effect.gen(function*() {
      const token = Redacted.make("hunter2-secret")
      const p = Command.pipeline(Command.make("login", token), Command.make("fail", "1"))
      const error = yield* Effect.flip(Command.run(p))
      expect(error).toMatchObject({ failedStage: 0, stageStderrTails: ["bad token <redacted>", ""] })
      expect(error.message).toBe(
        "login <redacted> | fail 1: stage 1 (login): unexpected exit status 1: bad token <redacted>"
      )
    }).pipe(Effect.provide(DryRunExecutor.layer(({ args, program }) =>
      program === "login"
        ? { status: 1, stderr: `bad token ${Redacted.value(args[0] as Redacted.Redacted<string>)}\n` }
        : {}
    ))))
})

describe("allowSigpipe", () => {
  /** A dry run where the program named `writer` dies of SIGPIPE and every other stage exits 0. */
  const sigpipe = Effect.provide(
    DryRunExecutor.layer(({ program }) =>
      program === "writer" ? { status: ExitStatus.signaled("SIGPIPE") } : { stdout: "first\n" }
    )
  )
  const writer = Command.make("writer")
  const reader = Command.make("head", "-n", "1")

  it.effect("a stage that allows it and dies of SIGPIPE: the run succeeds, its stage status still says SIGPIPE", () =>
    Effect.gen(function*() {
      const pipeline = writer.pipe(Command.allowSigpipe, Command.pipeTo(reader))
      expect(yield* Command.string(pipeline)).toBe("first\n")
      const result = yield* Command.run(pipeline)
      expect(result.status).toEqual(ExitStatus.exited(0))
      expect(result.stages).toEqual([ExitStatus.signaled("SIGPIPE"), ExitStatus.exited(0)])
    }).pipe(sigpipe))

  it.effect("without it, or on another stage, SIGPIPE fails the run like set -o pipefail", () =>
    Effect.gen(function*() {
      const plain = yield* Effect.flip(Command.run(Command.pipeTo(writer, reader)))
      expect(plain).toMatchObject({ _tag: "SignalError", signal: "SIGPIPE" })
      const elsewhere = yield* Effect.flip(Command.run(Command.pipeTo(writer, reader).pipe(Command.allowSigpipe)))
      expect(elsewhere).toMatchObject({ _tag: "SignalError", signal: "SIGPIPE" })
    }).pipe(sigpipe))

  it.effect("a single command too; another signal is still a failure", () =>
    Effect.gen(function*() {
      expect((yield* Command.run(writer.pipe(Command.allowSigpipe))).status).toEqual(ExitStatus.exited(0))
      const killed = yield* Effect.flip(Command.run(Command.make("x").pipe(Command.allowSigpipe)))
      expect(killed).toMatchObject({ _tag: "SignalError", signal: "SIGTERM" })
    }).pipe(Effect.provide(DryRunExecutor.layer(({ program }) => ({
      status: ExitStatus.signaled(program === "writer" ? "SIGPIPE" : "SIGTERM")
    })))))

  it("is part of the value: equality and JSON", () => {
    expect(Equal.equals(writer.pipe(Command.allowSigpipe), writer)).toBe(false)
    expect(Equal.equals(writer.pipe(Command.allowSigpipe), writer.pipe(Command.allowSigpipe))).toBe(true)
    expect((writer.pipe(Command.allowSigpipe).toJSON() as { allowSigpipe: boolean }).allowSigpipe).toBe(true)
  })
})
