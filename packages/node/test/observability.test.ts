/**
 * Observability (issue #5) on both engines: every run helper is a span named after its
 * program(s) with the redacted command line, pid, exit status and bytes in/out; debug logs say
 * "About to run …" and "Result …"; and no Redacted value (argument, environment value, fed text)
 * ever shows in a span, a log line, an error or any rendering of a command or an error.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Util from "node:util"

import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import type { Context, Exit, Layer } from "effect"
import { Cause, Effect, Either, Inspectable, Logger, LogLevel, Option, Redacted, Stream, Tracer } from "effect"

import { makeTempDir, probe, removeTempDir, rendered, text } from "./support/run.js"

const engines: ReadonlyArray<readonly [string, Layer.Layer<CommandExecutor.CommandExecutor>]> = [
  ["helper", NodeCommandExecutor.layer],
  ["no helper", NodeCommandExecutor.layerWith({ helper: "never" })]
]

// ---------------------------------------------------------------------------------------------
// a recording tracer and logger
// ---------------------------------------------------------------------------------------------

class RecordingSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId: string
  readonly traceId: string
  readonly sampled = true
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly events: Array<readonly [string, bigint, Record<string, unknown>]> = []
  readonly links: Array<Tracer.SpanLink>
  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind,
    id: number
  ) {
    this.status = { _tag: "Started", startTime }
    this.traceId = Option.match(parent, { onNone: () => `trace-${id}`, onSome: (p) => p.traceId })
    this.spanId = `span-${id}`
    this.links = [...links]
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.events.push([name, startTime, attributes ?? {}])
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }
}

interface LogEntry {
  readonly level: string
  readonly message: string
  /** The whole entry as logfmt and JSON: message, annotations, spans, cause. */
  readonly formatted: ReadonlyArray<string>
}

const recorder = () => {
  const spans: Array<RecordingSpan> = []
  const logs: Array<LogEntry> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span = new RecordingSpan(name, parent, context, links, startTime, kind, spans.length)
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  const logger = Logger.make<unknown, void>((options) => {
    const parts = Array.isArray(options.message) ? options.message : [options.message]
    logs.push({
      level: options.logLevel.label,
      message: parts.map((part) => (typeof part === "string" ? part : Inspectable.format(part))).join(" "),
      formatted: [Logger.logfmtLogger.log(options), Logger.jsonLogger.log(options)]
    })
  })
  const observe = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    effect.pipe(
      Logger.withMinimumLogLevel(LogLevel.Debug),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Effect.withTracer(tracer)
    )
  return { spans, logs, observe }
}

const inspect = (u: unknown) => [
  Util.inspect(u, { depth: Infinity, maxArrayLength: Infinity, maxStringLength: Infinity }),
  Util.inspect(u, { depth: Infinity, maxArrayLength: Infinity, maxStringLength: Infinity, showHidden: true })
]

/** Every rendering of an error (or any value) a program might print or ship. */
const renderings = (u: unknown): Array<string> => {
  const out = [...inspect(u), String(u), Inspectable.format(u), JSON.stringify(u) ?? ""]
  if (u instanceof Error) out.push(u.message, u.toString(), u.stack ?? "")
  return out
}

/** Every rendering of a command. */
const commandRenderings = (cmd: Command.Command): Array<string> => [
  ...renderings(cmd),
  ...renderings(Command.stages(cmd)),
  ...inspect(Command.toString(cmd)),
  ...inspect(Command.toString(cmd, { linebreaks: true })),
  ...inspect(Command.toLogLine(cmd)),
  ...inspect(Command.validate(cmd))
]

const spanRenderings = (span: RecordingSpan): Array<string> => [
  span.name,
  ...inspect(Object.fromEntries(span.attributes)),
  ...inspect(span.events),
  ...(span.status._tag === "Ended" ? inspect(span.status.exit) : [])
]

const logRenderings = (entry: LogEntry): Array<string> => [entry.message, ...entry.formatted]

/** The places, among `texts`, where one of `secrets` shows. */
const leaks = (texts: ReadonlyArray<string>, secrets: ReadonlyArray<string>): Array<string> =>
  texts.flatMap((t) => secrets.filter((s) => t.includes(s)).map((s) => `${s} in ${t.slice(0, 300)}`))

// ---------------------------------------------------------------------------------------------
// spans and debug logs
// ---------------------------------------------------------------------------------------------

const spansNamed = (spans: ReadonlyArray<RecordingSpan>, name: string) => spans.filter((s) => s.name === name)

const debugLines = (logs: ReadonlyArray<LogEntry>) => logs.filter((l) => l.level === "DEBUG").map((l) => l.message)

for (const [engine, layer] of engines) {
  describe(`spans and debug logs, ${engine}`, () => {
    it.live("a run is a span named after the program with line, pid, exit status and bytes in/out", () => {
      const { spans, logs, observe } = recorder()
      // Reads 6 bytes, echoes them on both outputs between markers: 2 × (6 + 13 + 11) bytes out.
      const cmd = probe("--no-report").pipe(Command.feed("hello\n"), Command.stdout("capture"))
      return Effect.gen(function*() {
        const result = yield* Command.run(cmd)
        const [span] = spansNamed(spans, "probe")
        expect(spans.map((s) => s.name)).toEqual(["probe"])
        expect(span!.attributes.get("command.line")).toBe(rendered(cmd))
        expect(span!.attributes.get("process.pid")).toEqual(expect.any(Number))
        expect(span!.attributes.get("process.pid")).toBeGreaterThan(0)
        expect(span!.attributes.get("process.exit_status")).toBe("exit status 0")
        expect(span!.attributes.get("command.bytes_in")).toBe(6)
        const stdout = "BEGIN STDOUT\nhello\nEND STDOUT\n"
        expect(text(result.stdout)).toBe(stdout)
        expect(span!.attributes.get("command.bytes_out")).toBe(2 * stdout.length)
        expect(span!.status._tag).toBe("Ended")
        if (span!.status._tag === "Ended") {
          expect(span!.status.endTime).toBeGreaterThan(span!.status.startTime)
          expect(span!.status.exit._tag).toBe("Success")
        }
        expect(debugLines(logs)).toEqual([
          `About to run ${rendered(cmd)}`,
          `Result exit status 0, stdout: '${stdout}' stderr: 'BEGIN STDERR\nhello\nEND STDERR\n'`
        ])
      }).pipe(observe, Effect.provide(layer))
    })

    it.live("every run helper is a span with the program's name, inside the caller's span", () => {
      const { spans, observe } = recorder()
      const cmd = Command.make("/bin/echo", "a")
      const helpers: ReadonlyArray<Effect.Effect<unknown, CommandError.CommandError, CommandExecutor.CommandExecutor>> =
        [
          Command.run(cmd),
          Command.status(cmd),
          Command.exitCode(cmd),
          Command.string(cmd),
          Command.lines(cmd),
          Command.bytes(cmd),
          Command.records(cmd),
          Stream.runDrain(Command.stream(cmd)),
          Stream.runDrain(Command.streamLines(cmd))
        ]
      return Effect.gen(function*() {
        yield* Effect.withSpan(Effect.all(helpers, { discard: true }), "caller")
        const caller = spansNamed(spans, "caller")[0]!
        const runs = spansNamed(spans, "echo")
        expect(runs).toHaveLength(helpers.length)
        for (const span of runs) {
          expect(Option.map(span.parent, (p) => p.spanId)).toEqual(Option.some(caller.spanId))
          expect(span.attributes.get("command.line")).toBe("/bin/echo a")
          expect(span.attributes.get("process.pid")).toBeGreaterThan(0)
          expect(span.attributes.get("process.exit_status")).toBe("exit status 0")
          expect(span.attributes.get("command.bytes_in")).toBe(0)
          expect(span.attributes.get("command.bytes_out")).toBe(2)
          expect(span.status._tag).toBe("Ended")
        }
      }).pipe(observe, Effect.provide(layer))
    })

    it.live("what a started run does runs in the run's span: the caller's input stream's spans are its children", () => {
      const { spans, observe } = recorder()
      const input = Stream.fromEffect(Effect.withSpan(Effect.succeed(new TextEncoder().encode("x\n")), "input"))
      const cmd = Command.make("cat").pipe(Command.stdin(Command.Input.stream(input)), Command.stdout("capture"))
      return Effect.gen(function*() {
        expect(text((yield* Command.run(cmd)).stdout)).toBe("x\n")
        const [run] = spansNamed(spans, "cat")
        const [read] = spansNamed(spans, "input")
        expect(Option.map(read!.parent, (p) => p.spanId)).toEqual(Option.some(run!.spanId))
        expect(run!.attributes.get("process.pid")).toBeGreaterThan(0)
      }).pipe(observe, Effect.provide(layer))
    })

    it.live("a run's errors show its span where they came from, whoever made them (exit status, spawn, output limit)", () =>
      Effect.gen(function*() {
        const failures: ReadonlyArray<
          readonly [Effect.Effect<unknown, CommandError.CommandError, CommandExecutor.CommandExecutor>, string]
        > = [
          [Command.run(Command.make("false")), "false"],
          [Command.exitCode(Command.make("sh", "-c", "kill -TERM $$")), "sh"],
          [Command.string(Command.make("/no/such/dir/program")), "program"],
          [Command.string(Command.make("head", "-c", "100", "/dev/zero").pipe(Command.maxOutput(10))), "head"]
        ]
        for (const [run, name] of failures) {
          const exit = yield* Effect.exit(Effect.withSpan(run, "caller"))
          expect(exit._tag).toBe("Failure")
          if (exit._tag === "Failure") {
            const shown = Cause.pretty(exit.cause)
            expect(shown, name).toContain(`at ${name}`)
            expect(shown.indexOf(`at ${name}`), name).toBeLessThan(shown.indexOf("at caller"))
          }
        }
      }).pipe(Effect.provide(layer)))

    it.live("a stream's span ends with the stream: failed when the command fails, and after its last chunk", () => {
      const { spans, observe } = recorder()
      const cmd = Command.make("sh", "-c", "echo out; exit 3")
      return Effect.gen(function*() {
        const seen: Array<string> = []
        const error = yield* Effect.flip(Stream.runForEach(Command.streamLines(cmd), (line) =>
          Effect.sync(() => {
            seen.push(line)
            // Still open while its chunks are handed on.
            expect(spansNamed(spans, "sh").map((span) => span.status._tag)).toEqual(["Started"])
          })))
        expect(seen).toEqual(["out"])
        expect(error).toMatchObject({ _tag: "ExitError", exitCode: 3 })
        const [span] = spansNamed(spans, "sh")
        expect(span!.attributes.get("process.exit_status")).toBe("exit status 3")
        expect(span!.attributes.get("command.bytes_out")).toBe(4)
        expect(span!.status._tag === "Ended" && span!.status.exit._tag).toBe("Failure")
      }).pipe(observe, Effect.provide(layer))
    })

    it.live("a pipeline's span is named after every stage's program; a failure ends it with the error", () => {
      const { spans, logs, observe } = recorder()
      const p = Command.pipeline(
        Command.make("/bin/echo", "hi"),
        Command.make("sh", "-c", "cat; exit 2"),
        Command.make("cat")
      )
      return Effect.gen(function*() {
        const error = yield* Effect.flip(Command.run(p))
        expect(error).toMatchObject({ _tag: "ExitError", exitCode: 2 })
        const [span] = spansNamed(spans, "echo | sh | cat")
        expect(span!.attributes.get("command.line")).toBe("/bin/echo hi | sh -c 'cat; exit 2' | cat")
        expect(span!.attributes.get("process.exit_status")).toBe("exit status 2")
        expect(span!.attributes.get("command.bytes_out")).toBe(3)
        expect(span!.status._tag === "Ended" && span!.status.exit._tag).toBe("Failure")
        expect(debugLines(logs)).toEqual([
          "About to run /bin/echo hi | sh -c 'cat; exit 2' | cat",
          "Result exit status 2, stdout: 'hi\n' stderr: ''"
        ])
      }).pipe(observe, Effect.provide(layer))
    })

    it.live("the Result line shows at most 1 KiB of each output: the end of it", () => {
      const { logs, observe } = recorder()
      const cmd = probe("--no-report", "--no-stdin", "--quiet-io", "--write-stdout", "5000")
      return Effect.gen(function*() {
        yield* Command.run(cmd)
        const result = debugLines(logs).find((l) => l.startsWith("Result "))!
        const stdout = /stdout: '([a-z]*)'/.exec(result)![1]!
        expect(stdout.length).toBe(1024)
        expect(stdout).toBe("abcdefghijklmnopqrstuvwxyz".repeat(200).slice(5000 - 1024, 5000))
      }).pipe(observe, Effect.provide(layer))
    })
  })

  // -------------------------------------------------------------------------------------------
  // the secret-grep test
  // -------------------------------------------------------------------------------------------

  describe(`Redacted values never show, ${engine}`, () => {
    const argSecret = "hunter2-argument-7Qx"
    const envSecret = "hunter2-envvalue-9Kd"
    const fedSecret = "hunter2-fedtext-3Wm"
    const secrets = [argSecret, envSecret, fedSecret]

    /** `sh -c SCRIPT <argSecret>` with SECRET=<envSecret> and <fedSecret> on stdin. */
    const secretive = (script: string) =>
      Command.make("sh", "-c", script, Redacted.make(argSecret)).pipe(
        Command.envInherit,
        Command.env("SECRET", Redacted.make(envSecret)),
        Command.feed(Redacted.make(fedSecret))
      )

    /** Runs `effect` to its failure under a recording tracer and logger; grep all of it for the secrets. */
    const grepAll = <A>(
      cmd: Command.Command,
      effect: Effect.Effect<A, CommandError.CommandError, CommandExecutor.CommandExecutor>
    ) => {
      const { spans, logs, observe } = recorder()
      return Effect.gen(function*() {
        const exit = yield* Effect.exit(observe(effect))
        expect(exit._tag).toBe("Failure")
        if (exit._tag !== "Failure") throw new Error("expected a failure")
        const error = Option.getOrThrow(Cause.failureOption(exit.cause))
        const texts = [
          ...renderings(error),
          ...renderings(exit),
          Cause.pretty(exit.cause),
          ...commandRenderings(cmd),
          ...spans.flatMap(spanRenderings),
          ...logs.flatMap(logRenderings)
        ]
        expect(leaks(texts, secrets)).toEqual([])
        // The command line, as the error and the span show it, names the redacted values.
        expect(error.command).toContain("<redacted>")
        return { error, spans, logs }
      })
    }

    it.live("a failing run whose stderr echoes every secret", () =>
      Effect.gen(function*() {
        const cmd = secretive(`cat >&2; echo >&2; echo "$0 $SECRET" >&2; echo "out $0 $SECRET"; exit 3`)
        expect(rendered(cmd)).toMatch(/SECRET=<redacted> .*sh -c .* <redacted>$/)
        const { error, logs, spans } = yield* grepAll(cmd, Command.run(cmd))
        expect(error).toBeInstanceOf(CommandError.ExitError)
        const exitError = error as CommandError.ExitError
        expect(exitError.exitCode).toBe(3)
        expect(exitError.stderrTail).toBe("<redacted>\n<redacted> <redacted>")
        // The span and the two debug lines are there, secrets blanked.
        const [span] = spansNamed(spans, "sh")
        expect(span!.attributes.get("command.line")).toBe(rendered(cmd))
        expect(span!.attributes.get("process.pid")).toBeGreaterThan(0)
        expect(span!.attributes.get("process.exit_status")).toBe("exit status 3")
        expect(span!.attributes.get("command.bytes_in")).toBe(fedSecret.length)
        const out = `out ${argSecret} ${envSecret}\n`
        const err = `${fedSecret}\n${argSecret} ${envSecret}\n`
        expect(span!.attributes.get("command.bytes_out")).toBe(out.length + err.length)
        expect(debugLines(logs)).toEqual([
          `About to run ${rendered(cmd)}`,
          "Result exit status 3, stdout: 'out <redacted> <redacted>\n' stderr: '<redacted>\n<redacted> <redacted>\n'"
        ])
      }).pipe(Effect.provide(layer)))

    it.live("the same with stdout and stderr captured by the caller", () =>
      Effect.gen(function*() {
        const cmd = secretive(`cat >&2; echo "$0 $SECRET"; exit 3`).pipe(
          Command.stdout("capture"),
          Command.stderr("capture")
        )
        const { error } = yield* grepAll(cmd, Command.run(cmd))
        expect(error).toMatchObject({ _tag: "ExitError", stderrTail: "<redacted>" })
      }).pipe(Effect.provide(layer)))

    it.live("a timeout: the captured partial output is the caller's, an uncaptured one's tail is scrubbed, nothing renders a secret", () =>
      Effect.gen(function*() {
        const cmd = secretive(`cat >&2; echo "$0 $SECRET"; echo "$SECRET $0" >&2; exec sleep 100`).pipe(
          Command.stdout("capture"),
          Command.timeout("500 millis"),
          Command.killGrace("200 millis")
        )
        const { error, logs } = yield* grepAll(cmd, Command.run(cmd))
        expect(error).toBeInstanceOf(CommandError.CommandTimeoutError)
        const timeout = error as CommandError.CommandTimeoutError
        // The captured raw bytes hold the secrets (so the checks above had something to find) ...
        expect(text(timeout.stdout)).toBe(`${argSecret} ${envSecret}\n`)
        // ... the tail kept of an unspecified stderr is the library's own: its secrets are blanked.
        expect(text(timeout.stderr)).toBe("<redacted><redacted> <redacted>\n")
        expect(debugLines(logs)).toEqual([
          `About to run ${rendered(cmd)}`,
          "Result fatal signal SIGTERM, stdout: '<redacted> <redacted>\n' stderr: '<redacted><redacted> <redacted>\n'"
        ])
      }).pipe(Effect.provide(layer)))

    it.live("a usage error, with problems about the redacted words themselves", () =>
      Effect.gen(function*() {
        const cmd = secretive("exit 0").pipe(
          Command.arg(Redacted.make(`nul\0${argSecret}`)),
          Command.envString(Redacted.make(`NO-EQUALS-SIGN-${envSecret}`)),
          Command.env("NUL_VALUE", Redacted.make(`${envSecret}\0`)),
          Command.passFd(1)
        )
        const { error, logs } = yield* grepAll(cmd, Command.run(cmd))
        expect(error).toBeInstanceOf(CommandError.CommandUsageError)
        expect((error as CommandError.CommandUsageError).reasons).toHaveLength(4)
        expect(debugLines(logs)).toEqual([])
        // Rendering the command fails the same way, without the secrets.
        expect(leaks(inspect(Either.flip(Command.toString(cmd))), secrets)).toEqual([])
      }).pipe(Effect.provide(layer)))

    it.live("a spawn failure (a script whose interpreter is missing)", () =>
      Effect.acquireUseRelease(
        Effect.sync(() => makeTempDir("ec-secret-")),
        (dir) =>
          Effect.gen(function*() {
            const script = Path.join(dir, "script")
            Fs.writeFileSync(script, "#!/nonexistent/ec-interpreter\n", { mode: 0o755 })
            const cmd = Command.make(script, Redacted.make(argSecret)).pipe(
              Command.env("SECRET", Redacted.make(envSecret)),
              Command.feed(Redacted.make(fedSecret))
            )
            const { error } = yield* grepAll(cmd, Command.run(cmd))
            expect(error).toMatchObject({ _tag: "SpawnError", reason: "NotFound" })
          }),
        (dir) => Effect.sync(() => removeTempDir(dir))
      ).pipe(Effect.provide(layer)))

    it.live("a failing pipeline whose stages echo the secrets of every stage", () =>
      Effect.gen(function*() {
        const p = Command.pipeline(
          Command.make("sh", "-c", `echo "$0"; cat`, Redacted.make(argSecret)).pipe(
            Command.feed(Redacted.make(fedSecret))
          ),
          Command.pipeTo(
            Command.make("sh", "-c", `cat >&2; echo "$SECRET" >&2; exit 4`).pipe(
              Command.envInherit,
              Command.env("SECRET", Redacted.make(envSecret))
            ),
            Command.make("cat"),
            { from: "both" }
          )
        )
        expect(Command.joints(p)).toEqual(["stdout", "both"])
        const { error, spans } = yield* grepAll(p, Command.run(p))
        expect(error).toMatchObject({ _tag: "ExitError", exitCode: 4 })
        expect((error as CommandError.ExitError).stages).toHaveLength(3)
        expect(spansNamed(spans, "sh | sh | cat")).toHaveLength(1)
      }).pipe(Effect.provide(layer)))

    it.live("a successful run's span and logs, and the command itself, do not show them either", () => {
      const { spans, logs, observe } = recorder()
      const cmd = secretive(`cat; echo " $0 $SECRET"; echo "$SECRET" >&2`)
      return Effect.gen(function*() {
        const out = yield* observe(Command.string(cmd))
        expect(out).toBe(`${fedSecret} ${argSecret} ${envSecret}\n`)
        const texts = [...commandRenderings(cmd), ...spans.flatMap(spanRenderings), ...logs.flatMap(logRenderings)]
        expect(leaks(texts, secrets)).toEqual([])
        expect(debugLines(logs)).toHaveLength(2)
      }).pipe(Effect.provide(layer))
    })
  })
}
