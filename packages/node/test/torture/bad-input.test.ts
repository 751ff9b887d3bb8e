/**
 * Torture, part 3: a table of bad inputs, each run through `Command.run` and `Command.start` on
 * both engines (the setup helper, and `helper: "never"`). Every row must fail with its typed
 * error (CommandUsageError with its reason, SpawnError with its reason / errno / stage,
 * DaemonError), spawn nothing and leak nothing:
 *
 * - nothing spawned: the command would create an evidence file if it ran, and it carries a marker
 *   variable; afterwards the file does not exist and no live process carries the marker. (For
 *   the rows the helper refuses in the child, unknown user or group and an unwritable pid file,
 *   the helper itself ran and was reaped; the target never did.)
 * - nothing leaked: no zombie child, as many open fds as before the run.
 */
import "../fixtures/ensure-helper.js"

import * as Fs from "node:fs"
import * as Path from "node:path"

import type { CommandError, CommandExecutor } from "@effect-command/core"
import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"

import { marker, openFdCount, withMarker, zombieChildren } from "../support/procs.js"
import { helperPath } from "../support/raw-helper.js"
import { makeTempDir, removeTempDir } from "../support/run.js"

const MARK = "EC_TORTURE_MARK"

let dir = ""
beforeAll(() => {
  dir = makeTempDir("ec-torture-bad-input-")
})
afterAll(() => removeTempDir(dir))

/** The typed error a row must fail with. */
type Expected =
  | { readonly _tag: "CommandUsageError"; readonly reason: string }
  | {
    readonly _tag: "SpawnError"
    readonly reason: CommandError.SpawnErrorReason
    readonly errno?: string
    readonly stage?: string
  }
  | { readonly _tag: "DaemonError"; readonly reason: CommandError.DaemonError["reason"] }

const usage = (reason: string): Expected => ({ _tag: "CommandUsageError", reason })
const spawnError = (reason: CommandError.SpawnErrorReason, errno?: string, stage?: string): Expected => ({
  _tag: "SpawnError",
  reason,
  ...(errno !== undefined ? { errno } : {}),
  ...(stage !== undefined ? { stage } : {})
})
/** What the engine without the helper says about a setting only the helper can apply. */
const helperMissing = spawnError("HelperMissing", undefined, "setup")

interface Context {
  /** Where the command would write if it ran. */
  readonly evidencePath: string
  readonly mark: string
}

interface Row {
  readonly name: string
  /** `evidence`: `/bin/sh -c 'echo spawned > "$1"' sh <evidencePath>` carrying the marker. */
  readonly command: (evidence: Command.Command, context: Context) => Command.Command
  readonly expected: Expected
  /** When the engine without the helper fails differently. */
  readonly never?: Expected
}

/** An fd number this process does not have open. */
const closedFd = (): number => {
  const open = new Set(Fs.readdirSync("/proc/self/fd").map(Number))
  let fd = 900
  while (open.has(fd)) fd++
  return fd
}

/** 40 words of 100 KiB: beyond Linux's limit on argv plus environment (a quarter of 8 MiB of stack). */
const big = Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(100 * 1024, "x"))

/** A program that would create the evidence file, with this path. */
const program = (path: string, { evidencePath, mark }: Context) =>
  Command.make(path, evidencePath).pipe(Command.env(MARK, mark))

const rows: ReadonlyArray<Row> = [
  // --- NUL bytes
  {
    name: "NUL byte in the program",
    command: (_, c) => program("/bin/sh\0-x", c),
    expected: usage("the program contains a NUL byte")
  },
  {
    name: "NUL byte in an argument",
    command: (e) => Command.arg(e, "a\0b"),
    expected: usage("argument 5 contains a NUL byte")
  },
  {
    name: "NUL byte in a Redacted argument",
    command: (e) => Command.arg(e, Redacted.make("se\0cret")),
    expected: usage("argument 5 contains a NUL byte")
  },
  {
    name: "NUL byte in an environment value",
    command: (e) => Command.env(e, "EC_X", "a\0b"),
    expected: usage("the value of EC_X contains a NUL byte")
  },
  {
    name: "NUL byte in an environment name",
    command: (e) => Command.env(e, "EC\0X", "1"),
    expected: usage("an environment variable name contains a NUL byte")
  },
  {
    name: "NUL byte in the working directory",
    command: (e) => Command.workingDirectory(e, "/tmp\0x"),
    expected: usage("the working directory contains a NUL byte")
  },
  // --- environment names
  {
    name: "environment name with '='",
    command: (e) => Command.env(e, "EC=X", "1"),
    expected: usage(`the environment variable name "EC=X" contains "="`)
  },
  {
    name: "empty environment name",
    command: (e) => Command.env(e, "", "1"),
    expected: usage("an environment variable name is empty")
  },
  {
    name: "envString without '='",
    command: (e) => Command.envString(e, "EC_NO_EQUALS"),
    expected: usage(`the environment string "EC_NO_EQUALS" has no "="`)
  },
  // --- fds
  {
    name: "passFd 0",
    command: (e) => Command.passFd(e, 0),
    expected: usage("a passed fd must be an integer ≥ 3, not 0")
  },
  {
    name: "passFd 1",
    command: (e) => Command.passFd(e, 1),
    expected: usage("a passed fd must be an integer ≥ 3, not 1")
  },
  {
    name: "passFd 2",
    command: (e) => Command.passFd(e, 2),
    expected: usage("a passed fd must be an integer ≥ 3, not 2")
  },
  {
    name: "passFd negative",
    command: (e) => Command.passFd(e, -4),
    expected: usage("a passed fd must be an integer ≥ 3, not -4")
  },
  {
    name: "passFd not an integer",
    command: (e) => Command.passFd(e, 3.5),
    expected: usage("a passed fd must be an integer ≥ 3, not 3.5")
  },
  {
    name: "inputFd 1",
    command: (e) => Command.inputFd(e, 1, "x"),
    expected: usage("an input fd must be an integer ≥ 3, not 1")
  },
  {
    name: "stdout to a negative fd",
    command: (e) => Command.stdout(e, Command.Output.fd(-1)),
    expected: usage("the fd for stdout must be an integer ≥ 0, not -1")
  },
  {
    name: "passFd of an fd that is not open",
    command: (e) => Command.passFd(e, closedFd()),
    expected: spawnError("Unknown", "EBADF", "passFd")
  },
  {
    name: "passFd of an fd that is not open, with stderr joined to a piped stdout",
    command: (e) => e.pipe(Command.passFd(closedFd()), Command.stderr("stdout")),
    expected: spawnError("Unknown", "EBADF", "passFd")
  },
  {
    name: "passFd of an fd closed after the command was built",
    command: (e) => {
      const fd = Fs.openSync("/dev/null", "r")
      const cmd = Command.passFd(e, fd)
      Fs.closeSync(fd)
      return cmd
    },
    expected: spawnError("Unknown", "EBADF", "passFd")
  },
  {
    name: "stdin from an fd that is not open",
    command: (e) => Command.stdin(e, Command.Input.fd(closedFd())),
    expected: spawnError("Unknown", "EBADF")
  },
  // --- given twice
  {
    name: "stdin given twice",
    command: (e) => e.pipe(Command.stdin("null"), Command.feed("x")),
    expected: usage("input given twice")
  },
  {
    name: "inputFd given twice",
    command: (e) => e.pipe(Command.inputFd(5, "a"), Command.inputFd(5, "b")),
    expected: usage("fd 5 is given twice")
  },
  // --- the program
  { name: "empty program", command: (_, c) => program("", c), expected: usage("the program is empty") },
  {
    name: "missing program (bare name)",
    command: (_, c) => program(`ec-torture-no-such-program-${process.pid}`, c),
    expected: spawnError("NotFound", "ENOENT", "execve")
  },
  {
    name: "missing program (absolute path)",
    command: (_, c) => program(Path.join(dir, "no-such-program"), c),
    expected: spawnError("NotFound", "ENOENT", "execve")
  },
  {
    name: "a directory as the program",
    command: (_, c) => program(dir, c),
    expected: spawnError("NotExecutable", "EACCES", "execve")
  },
  {
    name: "a file without execute permission",
    command: (_, c) => {
      const path = Path.join(dir, "not-executable.sh")
      Fs.writeFileSync(path, "#!/bin/sh\necho spawned > \"$1\"\n", { mode: 0o644 })
      return program(path, c)
    },
    expected: spawnError("PermissionDenied", "EACCES", "execve")
  },
  // --- working directory
  {
    name: "missing working directory",
    command: (e) => Command.workingDirectory(e, Path.join(dir, "no-such-dir")),
    expected: spawnError("BadWorkingDirectory", "ENOENT", "chdir")
  },
  {
    name: "a file as the working directory",
    command: (e) => {
      const path = Path.join(dir, "a-file")
      Fs.writeFileSync(path, "")
      return Command.workingDirectory(e, path)
    },
    expected: spawnError("BadWorkingDirectory", "ENOTDIR", "chdir")
  },
  // --- the kernel's limit
  {
    name: "too many arguments (E2BIG)",
    command: (e) => Command.args(e, big),
    expected: spawnError("ArgumentListTooLong", "E2BIG")
  },
  {
    name: "huge environment (E2BIG)",
    command: (e) => big.reduce((cmd, value, i) => Command.env(cmd, `EC_BIG_${i}`, value), e),
    expected: spawnError("ArgumentListTooLong", "E2BIG")
  },
  // --- credentials and setup
  {
    name: "unknown user name",
    command: (e) => Command.uid(e, `ecnouser${process.pid}`),
    expected: spawnError("SetupFailed", "ENOENT", "getpwnam"),
    never: helperMissing
  },
  {
    name: "unknown group name",
    command: (e) => Command.gid(e, `ecnogroup${process.pid}`),
    expected: spawnError("SetupFailed", "ENOENT", "getgrnam"),
    never: helperMissing
  },
  { name: "negative uid", command: (e) => Command.uid(e, -1), expected: usage("the user must be an id ≥ 0, not -1") },
  {
    name: "group name with ':'",
    command: (e) => Command.gid(e, "a:b"),
    expected: usage(`the group name "a:b" is not valid`)
  },
  {
    name: "rlimit soft above hard",
    command: (e) => Command.limit(e, "NOFILE", { soft: 200, hard: 100 }),
    expected: usage("the soft limit NOFILE exceeds its hard limit")
  },
  {
    name: "unknown capability",
    command: (e) => Command.allowCap(e, "CAP_NO_SUCH_THING" as Command.Capability),
    expected: usage(`unknown capability "CAP_NO_SUCH_THING"`)
  },
  {
    name: "umask above 0o777",
    command: (e) => Command.umask(e, 0o1000),
    expected: usage("the umask must be an integer from 0 to 0o777, not 512")
  },
  {
    name: "nice increment out of range",
    command: (e) => Command.preExec(e, Command.PreExec.nice(100)),
    expected: usage("the nice increment must be an integer from -40 to 40")
  },
  // --- daemons
  {
    name: "daemonize with a working directory",
    command: (e) => e.pipe(Command.daemonize(), Command.workingDirectory("/tmp")),
    expected: usage("a daemonized command always runs in / and cannot set a working directory")
  },
  {
    name: "pid file without daemonize",
    command: (e) => Command.pidFile(e, Path.join(dir, "x.pid")),
    expected: usage("creation of a pid file requires a daemonized command")
  },
  {
    name: "pid file in a missing directory",
    command: (e) => Command.daemonize(e, { pidFile: Path.join(dir, "no-such-dir", "x.pid") }),
    expected: { _tag: "DaemonError", reason: "PidFileUnwritable" },
    never: helperMissing
  },
  // --- limits and signals
  {
    name: "timeout 0",
    command: (e) => Command.timeout(e, Duration.zero),
    expected: usage("the timeout must be a finite, positive duration")
  },
  {
    name: "maxOutput -1",
    command: (e) => Command.maxOutput(e, -1),
    expected: usage("the output limit must be a whole number of bytes ≥ 0 or Infinity, not -1")
  },
  {
    name: "unknown kill signal",
    command: (e) => Command.killSignal(e, "SIGNOPE" as never),
    expected: usage(`unknown signal "SIGNOPE"`)
  },
  {
    name: "unknown death signal",
    command: (e) => Command.dieWithParent(e, "SIGNOPE" as never),
    expected: usage(`unknown signal "SIGNOPE"`)
  },
  {
    name: "infinite kill grace",
    command: (e) => Command.killGrace(e, Duration.infinity),
    expected: usage("the kill grace must be a finite duration")
  }
]

/** What is wrong with `error` for `expected`, or undefined. */
const mismatch = (error: CommandError.CommandError, expected: Expected): string | undefined => {
  if (error._tag !== expected._tag) return `${error._tag} (${error.message}), expected ${expected._tag}`
  switch (expected._tag) {
    case "CommandUsageError": {
      const reasons = (error as CommandError.CommandUsageError).reasons
      return reasons.some((r) => r.includes(expected.reason))
        ? undefined
        : `reasons ${JSON.stringify(reasons)} lack ${JSON.stringify(expected.reason)}`
    }
    case "SpawnError": {
      const e = error as CommandError.SpawnError
      const got = { reason: e.reason, errno: e.errno, stage: e.stage }
      const want = { reason: expected.reason, errno: expected.errno ?? e.errno, stage: expected.stage ?? e.stage }
      return JSON.stringify(got) === JSON.stringify(want)
        ? undefined
        : `${JSON.stringify(got)}, expected ${JSON.stringify(want)} (${e.message})`
    }
    case "DaemonError": {
      const e = error as CommandError.DaemonError
      return e.reason === expected.reason ? undefined : `DaemonError ${e.reason}, expected ${expected.reason}`
    }
  }
}

const engines = [
  ["helper", NodeCommandExecutor.layerWith({ helper: helperPath })],
  ["never", NodeCommandExecutor.layerWith({ helper: "never" })]
] as const

describe(`torture: ${rows.length} bad inputs, each a typed error with nothing spawned and nothing leaked`, () => {
  it("the helper is built", () => {
    expect(Fs.existsSync(helperPath)).toBe(true)
  })

  for (const [engine, layer] of engines) {
    describe(engine, () => {
      for (const [i, row] of rows.entries()) {
        it.live(row.name, () =>
          Effect.gen(function*() {
            const context: Context = { evidencePath: Path.join(dir, `evidence-${engine}-${i}`), mark: marker() }
            const evidence = Command.make("/bin/sh", "-c", "echo spawned > \"$1\"", "sh", context.evidencePath).pipe(
              Command.env(MARK, context.mark)
            )
            const expected = engine === "never" && row.never !== undefined ? row.never : row.expected
            for (const via of ["run", "start"] as const) {
              const command = row.command(evidence, context)
              const fdsBefore = openFdCount()
              const attempt: Effect.Effect<unknown, CommandError.CommandError, CommandExecutor.CommandExecutor> =
                via === "run" ? Command.run(command) : Effect.scoped(Command.start(command))
              const error = yield* Effect.flip(attempt).pipe(
                Effect.orDieWith((value) => new Error(`${via}: expected a failure, got ${JSON.stringify(value)}`))
              )
              expect(mismatch(error, expected), via).toBeUndefined()
              expect(Fs.existsSync(context.evidencePath), `${via}: the command ran`).toBe(false)
              expect(withMarker(MARK, context.mark), `${via}: processes carrying the marker`).toEqual([])
              expect(zombieChildren(), `${via}: zombies`).toEqual([])
              expect(openFdCount(), `${via}: open fds`).toBe(fdsBefore)
            }
          }).pipe(Effect.provide(layer)))
      }
    })
  }
})
