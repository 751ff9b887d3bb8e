/**
 * PlatformCommandExecutor: @effect/platform's own `Command` API on our engine, compared with the
 * stock executor of `NodeContext.layer` (@effect/platform-node 0.108).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

import { DryRunExecutor } from "@effect-command/core"
import { PlatformCommandExecutor } from "@effect-command/node/platform"
import type { CommandExecutor } from "@effect/platform"
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import type { PlatformError } from "@effect/platform/Error"
import { isPlatformError } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Sink, Stream } from "effect"

import { probePath } from "./support/probe.js"
import { eventually, isAlive, marker, withMarker, zombieChildren } from "./support/procs.js"
import { makeTempDir, removeTempDir } from "./support/run.js"

const ours = PlatformCommandExecutor.layer
const stock = NodeContext.layer

const MiB = 1024 * 1024

/** The probe writing 1 MiB to stdout, then 1 MiB to stderr. */
const chatty = Command.make(
  probePath,
  "--no-report",
  "--no-stdin",
  "--quiet-io",
  "--write-stdout",
  String(MiB),
  "--write-stderr",
  String(MiB)
)

/** A shell script whose processes carry the marker `EC_MARKER=mark` in their environment. */
const marked = (script: string, mark: string) => Command.make("sh", "-c", script).pipe(Command.env({ EC_MARKER: mark }))

/** Reads a process's stdout until the line `line`: the child's own "I got here". */
const waitForLine = (process: CommandExecutor.Process, line: string) =>
  process.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.takeUntil((l) => l === line), Stream.runDrain)

/** Kills what a stock-executor run left behind, so a contrast does not leak into other tests. */
const killMarked = (mark: string) =>
  Effect.sync(() => {
    for (const pid of withMarker("EC_MARKER", mark)) process.kill(pid, "SIGKILL")
  })

const failure = <A, R>(effect: Effect.Effect<A, PlatformError, R>) =>
  Effect.flip(effect).pipe(Effect.orDieWith((value) => new Error(`expected a failure, got ${String(value)}`)))

/** The fields a caller matches on. */
const shape = (error: PlatformError) => ({
  _tag: error._tag,
  reason: error._tag === "SystemError" ? error.reason : undefined,
  module: error.module,
  method: error.method,
  pathOrDescriptor: error._tag === "SystemError" ? error.pathOrDescriptor : undefined
})

/** A probe that ignores SIGTERM, says READY, then sleeps for a minute. */
const ignoring = Command.make(probePath, "--ignore-term", "--ready", "--no-report", "--no-stdin", "--sleep-ms", "60000")

describe("PlatformCommandExecutor", () => {
  it.live("Command.exitCode on a chatty child completes; on the stock executor it hangs", () =>
    Effect.gen(function*() {
      const onStock = yield* Command.exitCode(chatty).pipe(Effect.timeoutOption("2 seconds"), Effect.provide(stock))
      expect(onStock).toEqual(Option.none())
      expect(yield* Command.exitCode(chatty).pipe(Effect.provide(ours))).toBe(0)
      expect(zombieChildren()).toEqual([])
    }))

  it.live("Command.string reads stdout while stderr is drained (chatty stderr hangs the stock executor)", () =>
    Effect.gen(function*() {
      const onStock = yield* Command.string(chatty).pipe(Effect.timeoutOption("2 seconds"), Effect.provide(stock))
      expect(onStock).toEqual(Option.none())
      const out = yield* Command.string(chatty).pipe(Effect.provide(ours))
      expect(out.length).toBe(MiB)
      expect(out.startsWith("abcdefghijklmnopqrstuvwxyzabc")).toBe(true)
      const lines = yield* Command.lines(chatty).pipe(Effect.provide(ours))
      expect(lines.join("").length).toBe(MiB)
    }))

  it.live("Command.string of `sleep 30 & echo hi` returns after the drain delay and kills the sleep", () =>
    Effect.gen(function*() {
      const mark = marker()
      const started = Date.now()
      const out = yield* Command.string(marked("sleep 30 & echo hi", mark)).pipe(Effect.provide(ours))
      expect(out).toBe("hi\n")
      expect(Date.now() - started).toBeLessThan(5_000)
      expect(withMarker("EC_MARKER", mark)).toEqual([])
    }))

  it.live("closing the scope of a process that ignores SIGTERM ends it with SIGKILL after killGrace", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const process = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(ignoring)
        yield* waitForLine(process, "READY")
        expect(yield* process.isRunning).toBe(true)
        return process
      }))
      // The finalizer returned: the probe was SIGKILLed and reaped, long before its 60 s sleep.
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(isAlive(process.pid)).toBe(false)
      expect(zombieChildren()).toEqual([])
      const error = yield* failure(process.exitCode)
      expect(error).toMatchObject({
        _tag: "SystemError",
        reason: "Unknown",
        module: "Command",
        method: "exitCode",
        description: "Process interrupted due to receipt of signal: SIGKILL"
      })
      expect(yield* process.isRunning).toBe(false)
    }).pipe(Effect.provide(PlatformCommandExecutor.layerWith({ killGrace: "200 millis" }))))

  it.live("Process.kill escalates to SIGKILL after killGrace and returns once the child was reaped", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(ignoring)
        yield* waitForLine(process, "READY")
        yield* process.kill()
        expect(isAlive(process.pid)).toBe(false)
        expect(yield* process.isRunning).toBe(false)
        const error = yield* failure(process.exitCode)
        expect(error._tag === "SystemError" && error.description).toBe(
          "Process interrupted due to receipt of signal: SIGKILL"
        )
        // A signal Linux does not have is refused.
        expect(shape(yield* failure(process.kill("SIGLOST")))).toMatchObject({ _tag: "BadArgument", method: "kill" })
        // Killing an exited process is a no-op.
        yield* process.kill("SIGTERM")
      }))
    }).pipe(Effect.provide(PlatformCommandExecutor.layerWith({ killGrace: "200 millis" }))))

  it.live("Process.kill with a signal the child obeys needs no escalation", () =>
    Effect.gen(function*() {
      const status = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          Command.make(probePath, "--ready", "--no-report", "--no-stdin", "--sleep-ms", "60000")
        )
        yield* waitForLine(process, "READY")
        yield* process.kill("SIGINT")
        return yield* Effect.either(process.exitCode)
      }))
      expect(status._tag === "Left" && status.left._tag === "SystemError" && status.left.description).toBe(
        "Process interrupted due to receipt of signal: SIGINT"
      )
    }).pipe(Effect.provide(ours)))

  it.live("the layer's killSignal is what a scope close sends first", () =>
    Effect.gen(function*() {
      const process = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          Command.make(probePath, "--ready", "--no-report", "--no-stdin", "--sleep-ms", "60000")
        )
        yield* waitForLine(process, "READY")
        return process
      }))
      const error = yield* failure(process.exitCode)
      expect(error._tag === "SystemError" && error.description).toBe(
        "Process interrupted due to receipt of signal: SIGINT"
      )
    }).pipe(Effect.provide(PlatformCommandExecutor.layerWith({ killSignal: "SIGINT" }))))

  it.live("interrupting a helper or ending its stream early kills and reaps the child", () =>
    Effect.gen(function*() {
      const mark = marker()
      const timedOut = yield* Command.exitCode(marked("exec sleep 100", mark)).pipe(Effect.timeoutOption("100 millis"))
      expect(timedOut).toEqual(Option.none())
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      const first = yield* Stream.runCollect(Stream.take(Command.streamLines(marked("exec yes", mark)), 3))
      expect(Chunk.toArray(first)).toEqual(["y", "y", "y"])
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(ours)))

  it.live("group members left behind by a child that exited 0 are killed (the stock executor leaves them)", () =>
    Effect.gen(function*() {
      const script = "sleep 100 >/dev/null 2>&1 & echo done"
      const mark = marker()
      expect(yield* Command.exitCode(marked(script, mark)).pipe(Effect.provide(ours))).toBe(0)
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      expect(yield* Command.string(marked(script, mark)).pipe(Effect.provide(ours))).toBe("done\n")
      expect(withMarker("EC_MARKER", mark)).toEqual([])

      const stockMark = marker()
      yield* Effect.ensuring(
        Effect.gen(function*() {
          // (exitCode: the stock executor's finalizer sees the exit; after `string` it may not have yet.)
          expect(yield* Command.exitCode(marked(script, stockMark)).pipe(Effect.provide(stock))).toBe(0)
          expect(withMarker("EC_MARKER", stockMark).length).toBe(1)
        }),
        killMarked(stockMark)
      )
    }))

  it.live("env, cwd, feed, stdin, lines, streamLines, stream, exit codes, shell, sinks, pipes: like the stock executor", () =>
    Effect.gen(function*() {
      const dir = makeTempDir("platform-interop-")
      const cases = Effect.all({
        envExtends: Command.string(
          Command.make("/bin/sh", "-c", "printf '%s|%s' \"$EC_A\" \"$PATH\"").pipe(Command.env({ EC_A: "one" }))
        ),
        envReplaced: Command.lines(
          Command.make("/usr/bin/env").pipe(Command.env({ EC_A: "one", EC_B: "two" }, { extendEnv: false }))
        ).pipe(Effect.map((lines) => lines.sort())),
        envOverrides: Command.string(
          Command.make("/bin/sh", "-c", "printf %s \"$HOME\"").pipe(Command.env({ HOME: "/nowhere" }))
        ),
        cwd: Command.string(Command.make("pwd").pipe(Command.workingDirectory(dir))),
        feed: Command.string(Command.make("cat").pipe(Command.feed("hello\nworld\n"))),
        stdinStream: Command.string(
          Command.make("wc", "-c").pipe(Command.stdin(Stream.make(new Uint8Array(1000), new Uint8Array(24))))
        ),
        lines: Command.lines(Command.make("printf", "a\\nb\\r\\nc")),
        streamLines: Stream.runCollect(Command.streamLines(Command.make("printf", "x\\ny\\n"))).pipe(
          Effect.map(Chunk.toArray)
        ),
        stream: Stream.runCollect(Command.stream(Command.make("printf", "xyz"))).pipe(
          Effect.map((chunks) => new TextDecoder().decode(Buffer.concat(Chunk.toArray(chunks))))
        ),
        exitCode: Command.exitCode(Command.make("sh", "-c", "exit 3")),
        nonZeroString: Command.string(Command.make("sh", "-c", "echo hi; exit 3")),
        shell: Command.string(Command.make("echo", "$0", "a   b", "'c  d'").pipe(Command.runInShell(true))),
        shellNamed: Command.string(Command.make("echo", "$0").pipe(Command.runInShell("/bin/sh"))),
        stdoutSink: Command.string(
          Command.make("printf", "abc").pipe(
            Command.stdout(
              Sink.map(
                Sink.collectAll<Uint8Array>(),
                (chunks) => new Uint8Array(Buffer.concat(Chunk.toArray(chunks)).reverse())
              )
            )
          )
        ),
        pipeline: Command.string(
          Command.make("printf", "b\\na\\nc\\n").pipe(
            Command.pipeTo(Command.make("sort")),
            Command.pipeTo(Command.make("head", "-n", "2"))
          )
        ),
        pipelineFeed: Command.string(
          Command.make("cat").pipe(Command.pipeTo(Command.make("tr", "a-z", "A-Z")), Command.feed("shout\n"))
        ),
        started: Effect.scoped(Effect.gen(function*() {
          const process = yield* Command.start(Command.make("cat"))
          yield* Stream.run(
            Stream.make(new TextEncoder().encode("one "), new TextEncoder().encode("two")),
            process.stdin
          )
          const out = yield* Stream.runCollect(process.stdout)
          return [new TextDecoder().decode(Buffer.concat(Chunk.toArray(out))), yield* process.exitCode] as const
        })),
        startedStderr: Effect.scoped(Effect.gen(function*() {
          const process = yield* Command.start(Command.make("sh", "-c", "echo oops >&2; exit 4"))
          const err = yield* Stream.runCollect(Stream.decodeText(process.stderr))
          return [Chunk.join(err, ""), yield* process.exitCode] as const
        }))
      })
      const [onStock, onOurs] = yield* Effect.ensuring(
        Effect.all([Effect.provide(cases, stock), Effect.provide(cases, ours)]),
        Effect.sync(() => removeTempDir(dir))
      )
      expect(onOurs).toEqual(onStock)
      expect(onOurs).toEqual({
        envExtends: `one|${process.env.PATH}`,
        envReplaced: ["EC_A=one", "EC_B=two"],
        envOverrides: "/nowhere",
        cwd: `${dir}\n`,
        feed: "hello\nworld\n",
        stdinStream: "1024\n",
        lines: ["a", "b", "c"],
        streamLines: ["x", "y"],
        stream: "xyz",
        exitCode: 3,
        nonZeroString: "hi\n",
        shell: "/bin/sh a b c  d\n",
        shellNamed: "/bin/sh\n",
        stdoutSink: "cba",
        pipeline: "a\nb\n",
        pipelineFeed: "SHOUT\n",
        started: ["one two", 0],
        startedStderr: ["oops\n", 4]
      })
    }))

  it.live("a run helper closes a stdin left as \"pipe\" (the stock executor leaves it open and hangs)", () =>
    Effect.gen(function*() {
      expect(yield* Command.string(Command.make("cat")).pipe(Effect.provide(ours))).toBe("")
      const onStock = yield* Command.string(Command.make("cat")).pipe(
        Effect.timeoutOption("500 millis"),
        Effect.provide(stock)
      )
      expect(onStock).toEqual(Option.none())
    }))

  it.live("a pipeline's kill and scope close end every stage", () =>
    Effect.gen(function*() {
      const mark = marker()
      const pipeline = marked("echo ready; exec sleep 100", mark).pipe(
        Command.pipeTo(marked("cat; exec sleep 100", mark))
      )
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(pipeline)
        yield* waitForLine(process, "ready")
        // A process in the middle of its exec shows no environment for a moment: poll (bounded).
        expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length >= 2))).toBe(true)
      }))
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(ours)))

  it.live("a spawn failure is a SystemError like the stock executor's", () =>
    Effect.gen(function*() {
      const dir = makeTempDir("platform-interop-")
      const script = Path.join(dir, "not-executable")
      Fs.writeFileSync(script, "#!/bin/sh\necho hi\n", { mode: 0o644 })
      const commands = {
        missingAbsolute: Command.make("/nonexistent/program", "arg"),
        missingBare: Command.make("effect-command-no-such-program"),
        notExecutable: Command.make(script),
        directory: Command.make(dir)
      }
      const run = Effect.forEach(Object.values(commands), (command) =>
        Effect.map(failure(Command.string(command)), (error) => ({
          ...shape(error),
          syscall: error._tag === "SystemError" ? error.syscall : undefined,
          description: error.description
        })))
      const [onStock, onOurs] = yield* Effect.ensuring(
        Effect.all([Effect.provide(run, stock), Effect.provide(run, ours)]),
        Effect.sync(() =>
          removeTempDir(dir)
        )
      )
      expect(onOurs).toEqual(onStock)
      expect(onOurs.map((e) => e.reason)).toEqual(["NotFound", "NotFound", "PermissionDenied", "PermissionDenied"])
      expect(onOurs[0]).toEqual({
        _tag: "SystemError",
        reason: "NotFound",
        module: "Command",
        method: "spawn",
        pathOrDescriptor: "/nonexistent/program arg",
        syscall: "spawn /nonexistent/program",
        description: "spawn /nonexistent/program ENOENT"
      })
      const error = yield* failure(Command.exitCode(commands.missingAbsolute)).pipe(Effect.provide(ours))
      expect(isPlatformError(error)).toBe(true)
      expect(error.message).toContain("NotFound: Command.spawn (/nonexistent/program arg)")
    }))

  it.live("a missing working directory is FileSystem.access's NotFound, as on the stock executor", () =>
    Effect.gen(function*() {
      const run = Effect.map(
        failure(Command.exitCode(Command.make("pwd").pipe(Command.workingDirectory("/nonexistent/dir")))),
        (error) => ({
          ...shape(error),
          syscall: error._tag === "SystemError" ? error.syscall : undefined,
          description: error.description
        })
      )
      const [onStock, onOurs] = yield* Effect.all([Effect.provide(run, stock), Effect.provide(run, ours)])
      expect(onOurs).toEqual(onStock)
      expect(onOurs).toEqual({
        _tag: "SystemError",
        reason: "NotFound",
        module: "FileSystem",
        method: "access",
        pathOrDescriptor: "/nonexistent/dir",
        syscall: "access",
        description: "ENOENT: no such file or directory, access '/nonexistent/dir'"
      })
    }))

  it.live("a command we cannot build is a BadArgument", () =>
    Effect.gen(function*() {
      const nul = yield* failure(Command.exitCode(Command.make("echo", "a\0b")))
      expect(shape(nul)).toMatchObject({ _tag: "BadArgument", module: "Command", method: "spawn" })
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(ours)))

  it.live("a death by signal fails exitCode like the stock executor", () =>
    Effect.gen(function*() {
      const run = Effect.map(failure(Command.exitCode(Command.make("sh", "-c", "kill -9 $$"))), (error) => ({
        ...shape(error),
        description: error.description
      }))
      const [onStock, onOurs] = yield* Effect.all([Effect.provide(run, stock), Effect.provide(run, ours)])
      expect(onOurs).toEqual(onStock)
      expect(onOurs.description).toBe("Process interrupted due to receipt of signal: SIGKILL")
    }))

  it.live("layerFromExecutor runs platform commands on any @effect-command executor (here: dry run)", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(Command.make("git", "status", "--short").pipe(Command.env({ GIT_DIR: "/x" })))
      expect(out).toBe("M file\n")
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.program).toBe("git")
      expect(entry?.args).toEqual(["status", "--short"])
      expect(entry?.env).toMatchObject({ GIT_DIR: "/x" })
    }).pipe(
      Effect.provide(
        PlatformCommandExecutor.layerFromExecutor().pipe(
          Layer.provideMerge(DryRunExecutor.layer(() => ({ stdout: "M file\n" })))
        )
      )
    ))
})
