// Logging: render a command (toString, toLogLine), keep secrets out, debug logs and spans of runs.
import assert from "node:assert/strict"
import { inspect } from "node:util"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Console, Effect, Either, Logger, LogLevel, Redacted, Tracer } from "effect"

const token = Redacted.make("tok-123")
const dnsmasq = Command.make("/usr/bin/dnsmasq", "--strict-order", "--except-interface", "lo").pipe(
  Command.argPair("--conf-file", "/etc/dnsmasq conf/main.conf"),
  Command.envPassCommon,
  Command.env("TOKEN", token)
)

// Records the spans of the run helpers (an OpenTelemetry tracer would export them instead).
const spans: Array<string> = []
const tracer = Tracer.make({
  context: (f) => f(),
  span: (name, parent, context, links, startTime, kind) => {
    const attributes = new Map<string, unknown>()
    return {
      _tag: "Span",
      name,
      spanId: `${spans.length}`,
      traceId: "docs",
      parent,
      context,
      links,
      kind,
      sampled: true,
      attributes,
      status: { _tag: "Started", startTime },
      attribute: (key, value) => void attributes.set(key, value),
      event: () => {},
      addLinks: () => {},
      end: () => void spans.push(`${name} ${inspect(Object.fromEntries(attributes), { breakLength: Infinity })}`)
    }
  }
})
// Collects debug messages instead of printing them with timestamps.
const logged: Array<string> = []
const logger = Logger.make(({ message }) => void logged.push(String(message)))

const program = Effect.gen(function*() {
  // virCommandToString: shell-quoted, ready to paste; PATH etc. as "$NAME" unless an environment is given.
  yield* Console.log(Either.getOrThrow(Command.toString(dnsmasq)))
  yield* Console.log(Either.getOrThrow(Command.toString(dnsmasq, { linebreaks: true })))
  // virCommandWriteArgLog: the same words, unquoted.
  yield* Console.log(Either.getOrThrow(Command.toLogLine(dnsmasq)))

  // The secret is in no rendering: not JSON, not inspect, not an error message.
  const everything = [JSON.stringify(dnsmasq), inspect(dnsmasq, { depth: 10 }), String(dnsmasq)].join("\n")
  assert.ok(!everything.includes("tok-123"))
  yield* Console.log("JSON.stringify / inspect / String: no secret")

  // Every run logs "About to run ..." and "Result ..." at debug level (secrets blanked even in the
  // child's output) and is a span named after the program with the command line as an attribute.
  const echo = Command.make("sh", "-c", "echo \"token is $TOKEN\"").pipe(Command.env("TOKEN", token))
  const out = yield* Command.string(echo).pipe(Logger.withMinimumLogLevel(LogLevel.Debug), Effect.withTracer(tracer))
  assert.equal(out, "token is tok-123\n") // the child got the real value
  for (const line of logged) yield* Console.log(`debug: ${line}`)
  for (const span of spans) yield* Console.log(`span: ${span}`)
})

Effect.runPromise(
  program.pipe(Effect.provide([NodeCommandExecutor.layer, Logger.replace(Logger.defaultLogger, logger)]))
).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
