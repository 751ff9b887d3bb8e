// Pipelines: stages joined by kernel pipes, run as one command, failing like `set -o pipefail`.
import assert from "node:assert/strict"

import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Either } from "effect"

const program = Effect.gen(function*() {
  // a | b | c: the bytes go from child to child, never through Node. Input feeds the first stage,
  // output comes from the last; every run helper works on a pipeline.
  const words = Command.pipeline(
    Command.make("tr", "-s", " ", "\\n").pipe(Command.feed("b a c a b a\n")),
    Command.make("sort"),
    Command.make("uniq", "-c"),
    Command.make("sort", "-rn")
  )
  yield* Console.log(`rendered: ${Either.getOrThrow(Command.toString(words))}`)
  const counts = (yield* Command.lines(words)).map((line) => line.trim().replace(/\s+/, "×"))
  assert.deepEqual(counts, ["3×a", "2×b", "1×c"])
  yield* Console.log(`counts: ${counts.join(" ")}`)

  // pipeTo with `from`: send a stage's stderr (or both) instead of its stdout.
  const errors = Command.make("sh", "-c", "echo out; echo err >&2").pipe(
    Command.pipeTo(Command.make("tr", "a-z", "A-Z"), { from: "stderr" })
  )
  yield* Console.log(`${Either.getOrThrow(Command.toString(errors))} -> ${(yield* Command.string(errors)).trim()}`)

  // pipefail: a failing early stage fails the pipeline, with every stage's status.
  const broken = Command.pipeline(Command.make("sh", "-c", "echo data; exit 3"), Command.make("cat"))
  const error = yield* Effect.flip(Command.run(broken))
  if (error._tag === "ExitError") {
    yield* Console.log(
      `pipefail: ExitError ${error.exitCode}; stages: ${error.stages?.map(ExitStatus.format).join(", ")}`
    )
  }
  // ...and as values: run the status helper, or read RunResult.stages.
  const result = yield* Command.status(broken)
  yield* Console.log(`status: ${ExitStatus.format(result)}`)
  const ok = yield* Command.run(Command.pipeline(Command.make("echo", "x"), Command.make("cat")))
  yield* Console.log(`stages of a good run: ${ok.stages.map(ExitStatus.format).join(", ")}`)

  // As with bash's pipefail, a stage killed by SIGPIPE because a later one stopped reading is a
  // failure: `yes | head` ends with SIGPIPE. Ask for the status (or catch SignalError) there.
  const head = Command.pipeline(Command.make("yes"), Command.make("head", "-n", "2"))
  yield* Console.log(
    `${Command.stages(head).map((s) => s.program).join(" | ")}: ${ExitStatus.format(yield* Command.status(head))}`
  )
  const sigpipe = yield* Effect.flip(Command.run(head))
  yield* Console.log(`run of it: ${sigpipe._tag}`)

  // Every stage's stderr is kept: the error names the stage that failed and quotes what it said,
  // here gunzip's complaint, not the last stage's (empty) stderr.
  const sum = Command.pipeline(
    Command.make("head", "-c", "100000", "/dev/urandom"),
    Command.make("gunzip"),
    Command.make("sha256sum")
  )
  const bad = yield* Effect.flip(Command.run(sum))
  assert.equal(bad._tag, "ExitError")
  if (bad._tag === "ExitError") {
    assert.equal(bad.failedStage, 1)
    assert.match(bad.stageStderrTails?.[1] ?? "", /not in gzip format/)
  }
  yield* Console.log(bad.message) // …: stage 2 (gunzip): unexpected exit status 1: gzip: stdin: not in gzip format

  // A stage's stderr can be captured like a single command's: RunResult.stageStderr, beside stages.
  const noisy = Command.pipeline(
    Command.make("sh", "-c", "echo data; echo 'warning: old format' >&2").pipe(Command.stderr("capture")),
    Command.make("cat")
  )
  const said = new TextDecoder().decode((yield* Command.run(noisy)).stageStderr[0])
  assert.equal(said, "warning: old format\n")
  yield* Console.log(`stage 1 said: ${said.trim()}`)
})

Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
