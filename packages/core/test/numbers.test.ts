import { Command, DryRunExecutor, ExitStatus } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, TestClock } from "effect"

import { sleep } from "../src/internal/sleep.js"
import { reasons } from "./support.js"

const base = Command.make("/bin/prog")

/** Every hostile number, by the name a failing test shows. */
const hostile = {
  NaN: Number.NaN,
  "-1": -1,
  "-Infinity": -Infinity,
  Infinity,
  "1.5": 1.5,
  "2^31": 2 ** 31,
  "2^53 - 1": 2 ** 53 - 1,
  "2^53": 2 ** 53,
  "2^53 + 2": 2 ** 53 + 2
} as const

type Hostile = keyof typeof hostile

/** A numeric parameter, the values it accepts among `hostile` and the edge values it must accept. */
interface NumberCase {
  readonly name: string
  readonly set: (n: number) => Command.Command
  readonly accepted: ReadonlyArray<Hostile>
  readonly edges: ReadonlyArray<number>
  readonly reason: RegExp
}

const numberCases: ReadonlyArray<NumberCase> = [
  {
    name: "passFd",
    set: (n) => Command.passFd(base, n),
    accepted: [],
    edges: [3, 2 ** 31 - 1],
    reason: /passed fd must be/
  },
  {
    name: "inputFd",
    set: (n) => Command.inputFd(base, n, "x"),
    accepted: [],
    edges: [3, 2 ** 31 - 1],
    reason: /input fd must be/
  },
  {
    name: "Input.fd",
    set: (n) => Command.stdin(base, Command.Input.fd(n)),
    accepted: [],
    edges: [0, -0, 2 ** 31 - 1],
    reason: /fd for stdin must be/
  },
  {
    name: "Output.fd for stdout",
    set: (n) => Command.stdout(base, Command.Output.fd(n)),
    accepted: [],
    edges: [0, 2 ** 31 - 1],
    reason: /fd for stdout must be/
  },
  {
    name: "Output.fd for stderr",
    set: (n) => Command.stderr(base, Command.Output.fd(n)),
    accepted: [],
    edges: [0, 2 ** 31 - 1],
    reason: /fd for stderr must be/
  },
  { name: "umask", set: (n) => Command.umask(base, n), accepted: [], edges: [0, 0o777], reason: /umask must be/ },
  {
    name: "limit",
    set: (n) => Command.limit(base, "NOFILE", n),
    accepted: ["2^31", "2^53 - 1"],
    edges: [0, -0],
    reason: /limit NOFILE must be/
  },
  {
    name: "a hard limit",
    set: (n) => Command.limit(base, "CPU", { soft: 0, hard: n }),
    accepted: ["2^31", "2^53 - 1"],
    edges: [0],
    reason: /limit CPU must be/
  },
  {
    name: "uid",
    set: (n) => Command.uid(base, n),
    accepted: ["2^31"],
    edges: [0, 2 ** 32 - 2],
    reason: /user must be an id/
  },
  {
    name: "gid",
    set: (n) => Command.gid(base, n),
    accepted: ["2^31"],
    edges: [0, 2 ** 32 - 2],
    reason: /group must be an id/
  },
  {
    name: "groups",
    set: (n) => Command.groups(base, [0, n]),
    accepted: ["2^31"],
    edges: [0, 2 ** 32 - 2],
    reason: /supplementary group must be an id/
  },
  {
    name: "nice",
    set: (n) => Command.preExec(base, Command.PreExec.nice(n)),
    accepted: ["-1"],
    edges: [-40, 40],
    reason: /nice increment must be/
  },
  {
    name: "oomScoreAdjust",
    set: (n) => Command.preExec(base, Command.PreExec.oomScoreAdjust(n)),
    accepted: ["-1"],
    edges: [-1000, 1000],
    reason: /OOM score adjustment must be/
  },
  {
    name: "ioPriority",
    set: (n) => Command.preExec(base, Command.PreExec.ioPriority("idle", n)),
    accepted: [],
    edges: [0, 7],
    reason: /I\/O priority must be/
  },
  {
    name: "maxOutput",
    set: (n) => Command.maxOutput(base, n),
    accepted: ["Infinity", "2^31", "2^53 - 1"],
    edges: [0],
    reason: /output limit must be/
  },
  {
    name: "killGrace",
    set: (n) => Command.killGrace(base, n),
    accepted: ["1.5", "2^31", "2^53 - 1", "2^53", "2^53 + 2"],
    edges: [0, -0],
    reason: /kill grace must be a finite duration ≥ 0/
  },
  {
    name: "timeout",
    set: (n) => Command.timeout(base, n),
    accepted: ["Infinity", "1.5", "2^31", "2^53 - 1", "2^53", "2^53 + 2"],
    edges: [1],
    reason: /timeout must be a finite, positive duration or Infinity/
  }
]

const display = (n: number): string => Object.is(n, -0) ? "0" : String(n)

describe("every number the API takes", () => {
  describe.each(numberCases)("$name", ({ accepted, edges, reason, set }) => {
    it.each(Object.keys(hostile) as Array<Hostile>)("%s is honoured or refused with a reason naming it", (name) => {
      let cmd: Command.Command | undefined
      expect(() => (cmd = set(hostile[name]))).not.toThrow()
      if (accepted.includes(name)) expect(reasons(cmd!)).toEqual([])
      else expect(reasons(cmd!)).toEqual([expect.stringMatching(reason)])
      if (!accepted.includes(name)) expect(reasons(cmd!)[0]).toMatch(new RegExp(`not .*${display(hostile[name])}$`))
    })

    it("accepts its edge values", () => {
      for (const n of edges) expect(reasons(set(n))).toEqual([])
    })
  })

  it("an fd above 2^31 - 1 is refused: fds are C ints", () => {
    expect(reasons(Command.passFd(base, 2 ** 31))).toEqual([
      "a passed fd must be at most 2147483647 (fds are C ints), not 2147483648"
    ])
  })

  it("values of the wrong type are refused, never thrown", () => {
    const wrong: ReadonlyArray<unknown> = [null, undefined, "5", 5n, Symbol("s"), {}]
    for (const value of wrong) {
      const v = value as never
      for (
        const cmd of [
          Command.passFd(base, v),
          Command.inputFd(base, v, "x"),
          Command.inputFd(base, 3, typeof value === "string" ? (5 as never) : v),
          Command.stdin(base, v),
          Command.stdout(base, v),
          Command.stderr(base, v),
          Command.stdin(base, Command.Input.fd(v)),
          Command.umask(base, v),
          Command.limit(base, "NOFILE", v),
          Command.uid(base, typeof value === "string" ? (1.5 as never) : v),
          Command.groups(base, v),
          Command.preExec(base, v),
          Command.preExec(base, Command.PreExec.nice(v)),
          Command.killSignal(base, v),
          Command.killGrace(base, typeof value === "bigint" ? (-1n as never) : v),
          Command.timeout(base, typeof value === "bigint" ? (0n as never) : v),
          Command.maxOutput(base, v)
        ]
      ) {
        expect(reasons(cmd).length).toBeGreaterThan(0)
      }
    }
  })

  it("a refused stdio value is not kept: the command still renders and inspects", () => {
    const cmd = Command.stdin(base, null as never)
    expect(cmd.stdin).toBeUndefined()
    expect(() => JSON.stringify(cmd)).not.toThrow()
  })

  it("a negative or NaN duration is refused, not read as zero", () => {
    for (const input of [-1, Number.NaN, -1n, "-5 seconds", [1, -5], [-1, 0], [Number.NaN, 0]]) {
      expect(reasons(Command.killGrace(base, input as Duration.DurationInput))).toEqual([
        expect.stringMatching(/kill grace must be a finite duration ≥ 0/)
      ])
      expect(reasons(Command.timeout(base, input as Duration.DurationInput))).toEqual([
        expect.stringMatching(/timeout must be a finite, positive duration/)
      ])
    }
  })

  it("killGrace(0) kills at once after the signal; a grace of 30 days is kept as written", () => {
    expect(Command.killGrace(base, 0).killPolicy.grace).toEqual(Duration.zero)
    expect(Duration.toMillis(Command.killGrace(base, "30 days").killPolicy.grace)).toBe(30 * 86_400_000)
  })

  it("timeout(Infinity) means no timeout, also after one was set", () => {
    expect(Command.timeout(base, Infinity).timeout).toBeUndefined()
    expect(Command.timeout(Command.timeout(base, "5 seconds"), Duration.infinity).timeout).toBeUndefined()
    expect(Duration.toMillis(Command.timeout(base, "30 days").timeout!)).toBe(30 * 86_400_000)
  })

  it("a limit of more than 2^53 - 1 cannot be written exactly and is refused", () => {
    expect(reasons(Command.limit(base, "AS", 2 ** 53))).toEqual([
      `the limit AS must be at most 2^53-1 (or "unlimited"), not ${2 ** 53}`
    ])
  })

  it("more than 65536 supplementary groups is refused (NGROUPS_MAX)", () => {
    expect(reasons(Command.groups(base, Array.from({ length: 65536 }, (_, i) => i)))).toEqual([])
    expect(reasons(Command.groups(base, Array.from({ length: 65537 }, (_, i) => i)))).toEqual([
      "at most 65536 supplementary groups can be set, not 65537"
    ])
  })
})

describe("a sleep longer than a timer takes", () => {
  const day = 86_400_000

  it.effect("a 30-day sleep ends after 30 days of the fiber's Clock, not before", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(sleep("30 days"))
      yield* TestClock.adjust(30 * day - 1)
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust(1)
      yield* Fiber.join(fiber)
    }))

  it.effect("a 1000-day sleep, many timers long, ends when the clock gets there", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(sleep("1000 days"))
      yield* TestClock.adjust(999 * day)
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust(day)
      yield* Fiber.join(fiber)
    }))

  it.effect("an infinite sleep never ends", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(sleep(Duration.infinity))
      yield* TestClock.adjust(10_000 * 365 * day)
      expect(fiber.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("asks the Clock for no timer longer than 2^31 - 1 ms, which it would never fire", () =>
    Effect.gen(function*() {
      // A clock that records each timer asked of it and lets its time pass at once.
      const timers: Array<number> = []
      let now = 0
      const clock: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => now,
        currentTimeMillis: Effect.sync(() => now),
        unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
        currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
        sleep: (duration) =>
          Effect.sync(() => void (timers.push(Duration.toMillis(duration)), now += Duration.toMillis(duration)))
      }
      yield* Effect.withClock(sleep("30 days"), clock)
      expect(timers.length).toBeGreaterThan(1)
      expect(Math.max(...timers)).toBeLessThanOrEqual(2 ** 31 - 1)
      expect(now).toBe(30 * day)
    }))

  it.live("a short sleep takes its time on the live clock", () =>
    Effect.gen(function*() {
      const started = Date.now()
      yield* sleep(20)
      expect(Date.now() - started).toBeGreaterThanOrEqual(19)
    }))
})

describe("the dry-run executor's scripted numbers", () => {
  const run = (response: DryRunExecutor.Response) =>
    Command.exitCode(base).pipe(Effect.provide(DryRunExecutor.layer(() => response)))

  it.effect.each([256, -1, 1.5, Number.NaN, Infinity])(
    "an exit code of %s fails the run with a usage error",
    (code) =>
      Effect.gen(function*() {
        for (const status of [code, ExitStatus.exited(code)]) {
          const error = yield* Effect.flip(run({ status }))
          expect(error).toMatchObject({
            _tag: "CommandUsageError",
            reasons: [
              `the dry-run handler scripted the exit code ${String(code)}; an exit code is an integer from 0 to 255`
            ]
          })
        }
      })
  )

  it.effect("exit codes 0 and 255 are scripted as they are", () =>
    Effect.gen(function*() {
      expect(yield* run({ status: 0 })).toBe(0)
      expect(yield* run({ status: 255 })).toBe(255)
    }))

  it.effect("an unknown signal or a negative delay fails the run with a usage error", () =>
    Effect.gen(function*() {
      expect(yield* Effect.flip(run({ status: ExitStatus.signaled("SIGNOPE" as never) }))).toMatchObject({
        _tag: "CommandUsageError",
        reasons: [`the dry-run handler scripted a death by the unknown signal "SIGNOPE"`]
      })
      for (const delay of [-1, Number.NaN, "-3 seconds" as Duration.DurationInput]) {
        expect(yield* Effect.flip(run({ delay }))).toMatchObject({ _tag: "CommandUsageError" })
      }
    }))

  it.effect("a 30-day delay ends after 30 days of the TestClock", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(run({ delay: "30 days", status: 3 }))
      yield* TestClock.adjust("30 days")
      expect(yield* Fiber.join(fiber)).toBe(3)
    }))

  it.effect("an infinite delay runs until it is interrupted", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(run({ delay: Infinity }))
      yield* TestClock.adjust("10000 days")
      expect(fiber.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(fiber)
    }))
})
