// stdin, stdout and stderr: buffers in memory, files, sinks, functions and streams; joined outputs; limits.
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Chunk, Console, Effect, Sink, Stream } from "effect"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

const program = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "stdio-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  // virCommandSetInputBuffer + SetOutputBuffer + SetErrorBuffer: feed and capture, concurrently,
  // so no size deadlocks. Binary is fine: here 1 MiB with NUL bytes goes through `cat` and back.
  const big = new Uint8Array(1 << 20).map((_, i) => i % 251)
  const echoed = yield* Command.bytes(Command.make("cat").pipe(Command.feed(big)))
  assert.deepEqual(echoed, big)
  yield* Console.log(`fed and captured ${echoed.length} bytes through cat`)

  const both = Command.make("sh", "-c", "echo to-out; echo to-err >&2").pipe(
    Command.stdout("capture"),
    Command.stderr("capture")
  )
  const result = yield* Command.run(both)
  yield* Console.log(`stdout=${JSON.stringify(text(result.stdout))} stderr=${JSON.stringify(text(result.stderr))}`)

  // The same buffer for both: one pipe, in the order the child wrote (2>&1).
  const joined = Command.make("sh", "-c", "echo one; echo two >&2; echo three").pipe(Command.stderr("stdout"))
  yield* Console.log(`joined: ${(yield* Command.lines(joined)).join(",")}`)

  // Files: stdin from one, stdout appended to another; the child gets the fds, no byte passes Node.
  const input = Path.join(dir, "in.txt")
  const output = Path.join(dir, "out.txt")
  Fs.writeFileSync(input, "b\na\n")
  const sortFile = Command.make("sort").pipe(Command.stdin(Command.Input.file(input)))
  yield* Command.run(sortFile.pipe(Command.stdout(Command.Output.file(output, { append: true }))))
  yield* Command.run(Command.make("echo", "end").pipe(Command.stdout(Command.Output.file(output, { append: true }))))
  yield* Console.log(`out.txt: ${Fs.readFileSync(output, "utf8").trim().split("\n").join(",")}`)

  // Streams in, sinks out: stdin from an Effect Stream, stdout into an Effect Sink.
  const upper = Command.make("tr", "a-z", "A-Z").pipe(
    Command.stdin(Command.Input.stream(Stream.make("stream ", "of ", "chunks").pipe(Stream.encodeText))),
    Command.stdout(Command.Output.sink(
      Sink.collectAll<Uint8Array>().pipe(
        Sink.mapEffect((chunks) => Console.log(`sink got: ${Chunk.toArray(chunks).map(text).join("")}`))
      )
    ))
  )
  yield* Command.run(upper)

  // A large output read as it comes, into a plain function: each chunk is lent (copy what you
  // keep), so 64 MiB are hashed without being held anywhere.
  const hash = createHash("sha256")
  yield* Command.run(
    Command.make("head", "-c", String(64 << 20), "/dev/zero").pipe(
      Command.stdout(Command.Output.forEach((bytes) => hash.update(bytes)))
    )
  )
  const expected = createHash("sha256").update(new Uint8Array(64 << 20)).digest("hex")
  yield* Console.log(`forEach: sha256 of 64 MiB of zeros ${hash.digest("hex") === expected ? "matches" : "differs"}`)

  // Captured output is bounded (default 100 MiB): past maxOutput the child is killed, typed error.
  const chatty = Command.make("yes").pipe(Command.maxOutput(64 * 1024))
  const limit = yield* Effect.flip(Command.string(chatty))
  yield* Console.log(`maxOutput: ${limit._tag} ${limit._tag === "OutputLimitError" ? limit.output.length : ""}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeCommandExecutor.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
