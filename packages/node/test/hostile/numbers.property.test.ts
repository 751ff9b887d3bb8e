/**
 * Random numbers (negative, NaN, ±Infinity, fractional, huge, 2^31 and 2^53 and their neighbours,
 * -0) fed to every numeric, fd and duration parameter of the public API, a few at once, and the
 * command run for real. Every run ends within its bound with a success or a typed error, a
 * value the command refused fails it with `CommandUsageError` before anything runs, and nothing
 * is left: no zombie, no fd.
 */
import type { CommandError, CommandExecutor } from "@effect-command/core"
import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, FastCheck as fc, Option } from "effect"

import { eventually, openFdCount, zombieChildren } from "../support/procs.js"

/** The numbers most likely to be mishandled, next to random ones. */
const special = [
  Number.NaN,
  -0,
  0,
  1,
  2,
  3,
  4,
  7,
  40,
  41,
  255,
  256,
  511,
  512,
  1000,
  1001,
  -1,
  -40,
  -41,
  -1000,
  -1001,
  Infinity,
  -Infinity,
  0.5,
  1.5,
  Number.EPSILON,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
  1e7,
  2 ** 31 - 2,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 31 + 1,
  -(2 ** 31),
  -(2 ** 31) - 1,
  2 ** 32 - 2,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 64
]

const number: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.constantFrom(...special), weight: 3 },
  { arbitrary: fc.integer({ min: -2000, max: 2000 }), weight: 1 },
  { arbitrary: fc.double(), weight: 1 }
)

const integerIn = (min: number, max: number) => (n: number): boolean => Number.isInteger(n) && n >= min && n <= max

/** Effect keeps a fractional millisecond to the nanosecond: a positive duration under half of one is zero. */
const positiveDuration = (n: number): boolean => n === Infinity || (n > 0 && Math.round(n * 1e6) >= 1)

/**
 * A parameter that takes a number: the values it documents as valid, and the errors it may add to
 * a run of valid values. A value outside its domain must fail the run with `CommandUsageError`.
 */
interface Parameter {
  readonly name: string
  readonly apply: (command: Command.Command, n: number) => Command.Command
  readonly valid: (n: number) => boolean
  readonly mayFailWith?: ReadonlyArray<string>
}

const fd = integerIn(0, 2 ** 31 - 1)
const passedFd = integerIn(3, 2 ** 31 - 1)
const limitValue = integerIn(0, 2 ** 53 - 1)
const id = integerIn(0, 2 ** 32 - 2)
// The executor refuses an fd at or above its RLIMIT_NOFILE when it runs the command.
const fdErrors = ["CommandUsageError"]

const parameters: ReadonlyArray<Parameter> = [
  { name: "passFd", apply: (c, n) => Command.passFd(c, n), valid: passedFd, mayFailWith: fdErrors },
  { name: "inputFd", apply: (c, n) => Command.inputFd(c, n, "x"), valid: passedFd, mayFailWith: fdErrors },
  { name: "Input.fd", apply: (c, n) => Command.stdin(c, Command.Input.fd(n)), valid: fd, mayFailWith: fdErrors },
  // stdout is captured by the run; stderr can go to any fd (echo writes nothing there).
  {
    name: "Output.fd for stderr",
    apply: (c, n) => Command.stderr(c, Command.Output.fd(n)),
    valid: fd,
    mayFailWith: fdErrors
  },
  { name: "killGrace", apply: (c, n) => Command.killGrace(c, n), valid: (n) => n >= 0 && n < Infinity },
  {
    name: "timeout",
    apply: (c, n) => Command.timeout(c, n),
    valid: positiveDuration,
    mayFailWith: ["CommandTimeoutError"]
  },
  {
    name: "maxOutput",
    apply: (c, n) => Command.maxOutput(c, n),
    valid: (n) => n === Infinity || limitValue(n),
    mayFailWith: ["OutputLimitError"]
  },
  // The limit holds from exec on: under 4 fds the dynamic loader cannot open libc (exit 127).
  {
    name: "limit NOFILE",
    apply: (c, n) => Command.limit(c, "NOFILE", n),
    valid: limitValue,
    mayFailWith: ["ExitError"]
  },
  { name: "hard limit CORE", apply: (c, n) => Command.limit(c, "CORE", { soft: 0, hard: n }), valid: limitValue },
  {
    name: "soft limit FSIZE",
    apply: (c, n) => Command.limit(c, "FSIZE", { soft: n, hard: "unlimited" }),
    valid: limitValue
  },
  { name: "umask", apply: (c, n) => Command.umask(c, n), valid: integerIn(0, 0o777) },
  { name: "nice", apply: (c, n) => Command.preExec(c, Command.PreExec.nice(n)), valid: integerIn(-40, 40) },
  {
    name: "oomScoreAdjust",
    apply: (c, n) => Command.preExec(c, Command.PreExec.oomScoreAdjust(n)),
    valid: integerIn(-1000, 1000)
  },
  {
    name: "ioPriority",
    apply: (c, n) => Command.preExec(c, Command.PreExec.ioPriority("best-effort", n)),
    valid: integerIn(0, 7)
  },
  { name: "uid", apply: (c, n) => Command.uid(c, n), valid: id },
  { name: "gid", apply: (c, n) => Command.gid(c, n), valid: id },
  { name: "groups", apply: (c, n) => Command.groups(c, [n]), valid: id }
]

interface Scenario {
  readonly settings: ReadonlyArray<readonly [Parameter, number]>
  /** `records` with this many columns instead of `string`. */
  readonly columns: Option.Option<number>
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  settings: fc.array(fc.tuple(fc.constantFrom(...parameters), number), { minLength: 1, maxLength: 3 }),
  columns: fc.option(number, { nil: undefined }).map(Option.fromNullable)
})

/** A run ends by then: nothing here waits on purpose. */
const boundMillis = 10_000

const describeScenario = (s: Scenario): string =>
  [
    ...s.settings.map(([p, n]) => `${p.name}(${Object.is(n, -0) ? "-0" : n})`),
    ...Option.toArray(s.columns).map((n) => `records columns ${n}`)
  ]
    .join(", ")

const run = (s: Scenario): Effect.Effect<Exit.Exit<unknown, unknown>> => {
  const command = s.settings.reduce((c, [p, n]) => p.apply(c, n), Command.make("/bin/echo", "a", "b"))
  const helper: Effect.Effect<unknown, CommandError.CommandError, CommandExecutor.CommandExecutor> =
    Option.isSome(s.columns)
      ? Command.records(command, { separator: " ", columns: s.columns.value })
      : Command.string(command)
  return Effect.exit(Effect.timeout(helper.pipe(Effect.provide(NodeCommandExecutor.layer)), `${boundMillis} millis`))
}

/** The run's error tag, "success", or what else ended it. */
const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return (failure.value as { _tag?: string })._tag ?? String(failure.value)
  return Cause.pretty(exit.cause)
}

describe("random numbers for every numeric parameter", () => {
  it("every run ends within its bound with a success or a typed error, and leaves nothing behind", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const what = describeScenario(s)
        const fdsBefore = openFdCount()
        const invalid = s.settings.some(([p, n]) => !p.valid(n)) ||
          (Option.isSome(s.columns) && !integerIn(1, 2 ** 53 - 1)(s.columns.value))
        const started = Date.now()
        const exit = await Effect.runPromise(run(s))
        const took = Date.now() - started
        const outcome = outcomeOf(exit)
        expect(took, `${what}: ${outcome} after ${took} ms`).toBeLessThan(boundMillis)
        if (invalid) {
          expect(outcome, what).toBe("CommandUsageError")
        } else {
          const allowed = ["success", "SpawnError", ...s.settings.flatMap(([p]) => p.mayFailWith ?? [])]
          expect(allowed, `${what}: ${outcome}`).toContain(outcome)
        }
        if (Exit.isFailure(exit)) {
          const error = Cause.failureOption(exit.cause)
          expect(Option.isSome(error) && error.value instanceof Error && "_tag" in error.value, what).toBe(true)
        }
        expect(await eventually(() => zombieChildren().length === 0), `${what}: a zombie is left`).toBe(true)
        expect(await eventually(() => openFdCount() === fdsBefore), `${what}: an fd is left`).toBe(true)
      }),
      { numRuns: 300 }
    )
  }, 120_000)
})
