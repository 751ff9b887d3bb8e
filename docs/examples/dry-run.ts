// Dry runs (virCommandSetDryRun): record every command and script the answers; nothing runs.
import assert from "node:assert/strict"

import { Command, DryRunExecutor, ExitStatus } from "@effect-command/core"
import { Console, Effect, Redacted } from "effect"

// Code under test: create a bridge unless it exists (it would need root and change the network).
const ensureBridge = (name: string) =>
  Effect.gen(function*() {
    const exists = (yield* Command.exitCode(Command.make("ip", "link", "show", name))) === 0
    if (exists) return "already there"
    yield* Command.run(Command.make("ip", "link", "add", name, "type", "bridge").pipe(Command.envPassCommon))
    yield* Command.run(Command.make("ip", "link", "set", name, "up"))
    return "created"
  })

// The handler plays the programs: `ip link show` says "does not exist" unless the name is br0.
const layer = DryRunExecutor.layer(
  ({ args }) => args[1] === "show" && args[2] !== "br0" ? { status: 1, stderr: "Device does not exist.\n" } : {},
  { environment: { PATH: "/usr/sbin:/usr/bin", HOME: "/root" } } // the "parent" environment
)

const program = Effect.gen(function*() {
  yield* Console.log(`br0: ${yield* ensureBridge("br0")}`)
  yield* Console.log(`virbr1: ${yield* ensureBridge("virbr1")}`)
  for (const { line } of yield* DryRunExecutor.recorded) yield* Console.log(`  ran: ${line}`)

  // Everything else works too: stdin is recorded, output scripted, signals and delays simulated.
  const fed = yield* Effect.gen(function*() {
    const out = yield* Command.string(Command.make("base64").pipe(Command.feed(Redacted.make("secret"))))
    const status = yield* Command.status(Command.make("crash"))
    const [first] = yield* DryRunExecutor.recorded
    return { out, status, stdin: new TextDecoder().decode(first?.stdin) }
  }).pipe(
    Effect.provide(DryRunExecutor.layer(({ program }) =>
      program === "crash"
        ? { status: ExitStatus.signaled("SIGSEGV", true), delay: "10 millis" }
        : { stdout: "c2VjcmV0\n" }
    ))
  )
  assert.equal(fed.stdin, "secret")
  yield* Console.log(
    `scripted: ${fed.out.trim()}, ${ExitStatus.format(fed.status)}, stdin seen: ${fed.stdin.length} bytes`
  )
})

Effect.runPromise(program.pipe(Effect.provide(layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
