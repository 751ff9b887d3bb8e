/**
 * How a command fails: exit codes and signals (ExitError, SignalError, exitCode, status), every
 * spawn failure with its own reason, usage errors, and settings that need the child-side helper.
 * Every spawn failure leaves no child and no fd behind.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

import type { CommandError, CommandExecutor } from "@effect-command/core"
import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Redacted, Stream } from "effect"

import { pattern, probePath } from "./support/probe.js"
import {
  evidence,
  expectHeadline,
  failsCleanly,
  interleaved,
  makeTempDir,
  probe,
  removeTempDir,
  rendered
} from "./support/run.js"

const repoRoot = Path.resolve(import.meta.dirname, "../../..")

let dir = ""
beforeAll(() => {
  dir = makeTempDir("ec-errors-")
})
afterAll(() => removeTempDir(dir))

/** The probe doing no I/O of its own, with these extra flags. */
const quiet = (...flags: ReadonlyArray<Command.Word>) => probe("--no-report", "--quiet-io", "--no-stdin", ...flags)

/** The error as a SpawnError (fails the test otherwise). */
const asSpawnError = (error: CommandError.CommandError): CommandError.SpawnError => {
  expect(error._tag).toBe("SpawnError")
  if (error._tag !== "SpawnError") throw new Error(`expected a SpawnError, got ${error._tag}: ${error.message}`)
  return error
}

describe("exit status", () => {
  it.live("a non-zero exit fails run with ExitError: code, the last 8 KiB of stderr, the command line", () =>
    Effect.gen(function*() {
      const cmd = quiet("--write-stderr", "20000", "--exit", "3")
      const error = yield* Effect.flip(Command.run(cmd))
      expect(error._tag).toBe("ExitError")
      if (error._tag !== "ExitError") return
      expect(error.exitCode).toBe(3)
      expect(error.stderrTail.length).toBe(8192)
      expect(error.stderrTail).toBe(pattern(20000).slice(-8192))
      expect(error.command).toBe(rendered(cmd))
      expect(error.command).toBe(`${probePath} --no-report --quiet-io --no-stdin --write-stderr 20000 --exit 3`)
      // The message shows the tail's last line, cut at 100 characters.
      expectHeadline(error.message, {
        program: probePath,
        what: "unexpected exit status 3",
        tail: `${error.stderrTail.slice(0, 99)}…`
      })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("stderr shorter than the tail is kept whole; captured stderr is used for the tail too", () =>
    Effect.gen(function*() {
      const short = yield* Effect.flip(Command.run(quiet("--write-stderr", "100", "--exit", "1")))
      expect(short._tag === "ExitError" && short.stderrTail).toBe(pattern(100))
      const captured = yield* Effect.flip(
        Command.run(quiet("--write-stderr", "9000", "--exit", "2").pipe(Command.stderr("capture")))
      )
      expect(captured._tag === "ExitError" && captured.stderrTail).toBe(pattern(9000).slice(-8192))
      // The full report went to stderr: its tail ends with the echo, trailing newline trimmed.
      const echo = yield* Effect.flip(
        Command.run(probe("--no-report", "--exit", "4").pipe(Command.feed("last words\n")))
      )
      expect(echo._tag === "ExitError" && echo.stderrTail).toBe("BEGIN STDERR\nlast words\nEND STDERR")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("stderr joined to stdout: the tail is the joined stream's", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Command.run(quiet("--interleave", "3", "--exit", "2").pipe(Command.stderr("stdout")))
      )
      expect(error._tag === "ExitError" && error.stderrTail).toBe(interleaved(3).trimEnd())
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("stderr sent to a file or to null: the tail is empty", () =>
    Effect.gen(function*() {
      const path = Path.join(dir, "stderr-file")
      const toFile = yield* Effect.flip(
        Command.run(quiet("--write-stderr", "10", "--exit", "5").pipe(Command.stderr(Command.Output.file(path))))
      )
      expect(toFile._tag === "ExitError" && toFile.stderrTail).toBe("")
      expect(Fs.readFileSync(path, "utf8")).toBe(pattern(10))
      const toNull = yield* Effect.flip(
        Command.run(quiet("--write-stderr", "10", "--exit", "5").pipe(Command.stderr("null")))
      )
      expect(toNull._tag === "ExitError" && toNull.stderrTail).toBe("")
      expectHeadline(toNull.message, { program: probePath, what: "unexpected exit status 5" })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a Redacted argument is shown as <redacted> in the error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(quiet("--exit", "1", Redacted.make("password123"))))
      expect(error._tag === "ExitError" && error.command).toBe(
        `${probePath} --no-report --quiet-io --no-stdin --exit 1 <redacted>`
      )
      expect(error.message).not.toContain("password123")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  for (const signal of ["SIGKILL", "SIGTERM", "SIGSEGV"] as const) {
    it.live(`a child killed by ${signal} fails run with SignalError`, () =>
      Effect.gen(function*() {
        const cmd = quiet("--write-stderr", "26", "--signal", signal.slice(3))
        const error = yield* Effect.flip(Command.run(cmd))
        expect(error._tag).toBe("SignalError")
        if (error._tag !== "SignalError") return
        expect(error.signal).toBe(signal)
        expect(error.coreDumped).toBe(false)
        expect(error.stderrTail).toBe(pattern(26))
        expect(error.command).toBe(rendered(cmd))
        expectHeadline(error.message, {
          program: probePath,
          what: `unexpected fatal signal ${signal}`,
          tail: pattern(26)
        })
        // exitCode fails the same way; status returns it.
        const viaExitCode = yield* Effect.flip(Command.exitCode(cmd))
        expect(viaExitCode._tag === "SignalError" && viaExitCode.signal).toBe(signal)
        expect(yield* Command.status(cmd)).toEqual(ExitStatus.signaled(signal))
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }

  it.live("exitCode returns the code, whatever it is", () =>
    Effect.gen(function*() {
      for (const code of [0, 1, 3, 127, 255]) {
        expect(yield* Command.exitCode(quiet("--exit", String(code)))).toBe(code)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("status returns the ExitStatus for an exit and for a signal", () =>
    Effect.gen(function*() {
      expect(yield* Command.status(quiet())).toEqual(ExitStatus.exited(0))
      expect(yield* Command.status(quiet("--exit", "7"))).toEqual(ExitStatus.exited(7))
      expect(yield* Command.status(quiet("--signal", "TERM"))).toEqual(ExitStatus.signaled("SIGTERM"))
      expect(yield* Command.status(quiet("--signal", "USR1"))).toEqual(ExitStatus.signaled("SIGUSR1"))
      const ok = yield* Command.run(quiet())
      expect(ok.status).toEqual(ExitStatus.exited(0))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("string and streamLines fail like run, after the output", () =>
    Effect.gen(function*() {
      const cmd = quiet("--interleave", "3", "--exit", "2")
      const error = yield* Effect.flip(Command.string(cmd))
      expect(error._tag === "ExitError" && error.stderrTail).toBe("err 0\nerr 1\nerr 2")
      const items = Chunk.toArray(yield* Stream.runCollect(Stream.either(Command.streamLines(cmd))))
      expect(items.slice(0, 3)).toEqual(["out 0", "out 1", "out 2"].map(Either.right))
      expect(items.length).toBe(4)
      const last = items[3]!
      expect(Either.isLeft(last) && last.left._tag === "ExitError" && last.left.exitCode).toBe(2)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("spawn errors", () => {
  it.live("a bare name not on PATH: NotFound, the detail names the PATH searched, the message its start", () =>
    Effect.gen(function*() {
      const name = `ec-no-such-program-${process.pid}`
      const error = asSpawnError(yield* failsCleanly(Command.run(Command.make(name, "arg"))))
      expect(error.reason).toBe("NotFound")
      expect(error.errno).toBe("ENOENT")
      expect(error.command).toBe(`${name} arg`)
      expect(error.detail).toBe(`${name} is not in PATH=${process.env.PATH}`)
      expect(error.message).toContain(`(${name} is not in PATH=${process.env.PATH!.slice(0, 20)}`)
      expect(error.message.startsWith(`${name} arg: NotFound`)).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a missing absolute path, or relative path: NotFound", () =>
    Effect.gen(function*() {
      const missing = Path.join(dir, "missing-program")
      const absolute = asSpawnError(yield* failsCleanly(Command.run(Command.make(missing))))
      expect(absolute.reason).toBe("NotFound")
      expect(absolute.errno).toBe("ENOENT")
      expect(absolute.message).toContain(missing)
      const relative = asSpawnError(
        yield* failsCleanly(Command.run(Command.make("./missing-program").pipe(Command.workingDirectory(dir))))
      )
      expect(relative.reason).toBe("NotFound")
      expect(relative.message).toContain(missing)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a failed exec is the same error alone and beside a running child", () =>
    // Alone, the native engine spawns on the loop; beside another of its children, on its thread pool.
    Effect.gen(function*() {
      const missing = Path.join(dir, "missing-beside")
      const alone = asSpawnError(yield* failsCleanly(Command.run(Command.make(missing))))
      const beside = yield* Effect.scoped(Effect.gen(function*() {
        yield* Command.start(Command.make("sleep", "100"))
        return asSpawnError(yield* Effect.flip(Command.run(Command.make(missing))))
      }))
      expect(alone.reason).toBe("NotFound")
      expect({ ...beside }).toEqual({ ...alone })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a directory as the program: NotExecutable", () =>
    Effect.gen(function*() {
      const error = asSpawnError(yield* failsCleanly(Command.run(Command.make(dir))))
      expect(error.reason).toBe("NotExecutable")
      expect(error.message).toContain(dir)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a file without execute permission: PermissionDenied", () =>
    Effect.gen(function*() {
      const path = Path.join(dir, "not-executable.sh")
      Fs.writeFileSync(path, "#!/bin/sh\necho should not run\n", { mode: 0o644 })
      const error = asSpawnError(yield* failsCleanly(Command.run(Command.make(path))))
      expect(error.reason).toBe("PermissionDenied")
      expect(error.errno).toBe("EACCES")
      expect(error.message).toContain(path)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a missing working directory: BadWorkingDirectory, nothing spawned", () =>
    Effect.gen(function*() {
      const marker = Path.join(dir, "spawned-in-missing-cwd")
      const cwd = Path.join(dir, "no-such-dir")
      const error = asSpawnError(yield* failsCleanly(Command.run(evidence(marker).pipe(Command.workingDirectory(cwd)))))
      expect(error.reason).toBe("BadWorkingDirectory")
      expect(error.errno).toBe("ENOENT")
      expect(error.message).toContain(cwd)
      expect(Fs.existsSync(marker)).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a file as the working directory: BadWorkingDirectory, nothing spawned", () =>
    Effect.gen(function*() {
      const marker = Path.join(dir, "spawned-in-file-cwd")
      const cwd = Path.join(dir, "a-file")
      Fs.writeFileSync(cwd, "")
      const error = asSpawnError(yield* failsCleanly(Command.run(evidence(marker).pipe(Command.workingDirectory(cwd)))))
      expect(error.reason).toBe("BadWorkingDirectory")
      expect(error.errno).toBe("ENOTDIR")
      expect(error.message).toContain(cwd)
      expect(Fs.existsSync(marker)).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("arguments beyond the kernel's limit (E2BIG): ArgumentListTooLong, nothing spawned", () =>
    Effect.gen(function*() {
      const marker = Path.join(dir, "spawned-with-huge-argv")
      // Linux: one string ≤ 128 KiB, all of them ≤ a quarter of the stack limit (2 MiB by default).
      const big = Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(100 * 1024, "x"))
      const error = asSpawnError(yield* failsCleanly(Command.run(evidence(marker).pipe(Command.args(big)))))
      expect(error.reason).toBe("ArgumentListTooLong")
      expect(error.errno).toBe("E2BIG")
      expect(Fs.existsSync(marker)).toBe(false)
      // The environment counts too.
      const env = big.reduce((cmd, value, i) => Command.env(cmd, `EC_BIG_${i}`, value), evidence(marker))
      const viaEnv = asSpawnError(yield* failsCleanly(Command.run(env)))
      expect(viaEnv.reason).toBe("ArgumentListTooLong")
      expect(Fs.existsSync(marker)).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("no fd left for the pipes (EMFILE): TooManyOpenFiles, no fd leaked, no crash", () =>
    Effect.gen(function*() {
      // In a separate Node process, under a low fd limit, filled up to the limit.
      const fixture = Path.join(import.meta.dirname, "fixtures/emfile.ts")
      const { code, stderr, stdout } = yield* Effect.async<{ code: number | null; stdout: string; stderr: string }>(
        (resume) => {
          ChildProcess.execFile(
            "/bin/sh",
            [
              "-c",
              "ulimit -n 1024 && exec \"$@\"",
              "sh",
              process.execPath,
              "--import",
              "tsx",
              "--conditions=source",
              fixture,
              probePath
            ],
            { cwd: repoRoot },
            (error, stdout, stderr) =>
              resume(Effect.succeed({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }))
          )
        }
      )
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
      const result = JSON.parse(stdout) as {
        filled: number
        failed: { tag: string; reason?: string; message?: string }
        fdsBefore: number
        fdsAfter: number
        zombies: number
        again: { stdout?: string; error?: string }
      }
      expect(result.filled).toBeGreaterThan(900)
      expect(result.failed.tag).toBe("SpawnError")
      expect(result.failed.reason).toBe("TooManyOpenFiles")
      expect(result.failed.message).toContain("EMFILE")
      expect(result.fdsAfter).toBe(result.fdsBefore)
      expect(result.zombies).toBe(0)
      expect(result.again).toEqual({ stdout: "BEGIN STDOUT\nxEND STDOUT\n" })
    }), 60_000)

  it.live("a file for stdout that cannot be opened: SpawnError, the files already opened are closed", () =>
    Effect.gen(function*() {
      const marker = Path.join(dir, "spawned-with-bad-stdout")
      const input = Path.join(dir, "input-file")
      Fs.writeFileSync(input, "in")
      const output = Path.join(dir, "no-such-dir", "out")
      const error = asSpawnError(
        yield* failsCleanly(Command.run(
          evidence(marker).pipe(Command.stdin(Command.Input.file(input)), Command.stdout(Command.Output.file(output)))
        ))
      )
      expect(error.reason).toBe("NotFound")
      expect(error.errno).toBe("ENOENT")
      expect(error.stage).toBe("open(stdout)")
      expect(error.message).toContain(output)
      expect(Fs.existsSync(marker)).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a stdio fd that is not open: SpawnError EBADF, nothing spawned, nothing leaked", () =>
    Effect.gen(function*() {
      const open = new Set(Fs.readdirSync("/proc/self/fd").map(Number))
      let fd = 900
      while (open.has(fd)) fd++
      const marker = Path.join(dir, "spawned-with-bad-stdio-fd")
      for (
        const cmd of [
          evidence(marker).pipe(Command.stdin(Command.Input.fd(fd))),
          evidence(marker).pipe(Command.feed("fed"), Command.stdout(Command.Output.fd(fd))),
          evidence(marker).pipe(Command.stdout("capture"), Command.stderr(Command.Output.fd(fd)))
        ]
      ) {
        const error = asSpawnError(yield* failsCleanly(Command.run(cmd)))
        expect(error.errno).toBe("EBADF")
        expect(Fs.existsSync(marker)).toBe(false)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a usage problem: CommandUsageError with every reason, nothing spawned", () =>
    Effect.gen(function*() {
      const marker = Path.join(dir, "spawned-despite-usage-error")
      const cmd = evidence(marker).pipe(
        Command.arg("nul\0byte"),
        Command.env("BAD=NAME", "x"),
        Command.stdin("null"),
        Command.feed("twice")
      )
      const error = yield* failsCleanly(Command.run(cmd))
      expect(error._tag).toBe("CommandUsageError")
      if (error._tag !== "CommandUsageError") return
      expect(error.reasons).toEqual([
        expect.stringContaining("argument 5 contains a NUL byte"),
        expect.stringContaining(`"BAD=NAME"`),
        expect.stringContaining("input given twice")
      ])
      expect(Fs.existsSync(marker)).toBe(false)
      // start refuses it the same way.
      const viaStart = yield* failsCleanly(Effect.scoped(Command.start(cmd)))
      expect(viaStart._tag).toBe("CommandUsageError")
      expect(Fs.existsSync(marker)).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

// Settings only the child-side helper can apply (issue #4). Until it lands they are refused, not
// ignored; these assertions change when it does.
describe("without the helper, settings that need it are refused", () => {
  const withoutHelper = NodeCommandExecutor.layerWith({ helper: "never" })
  const native = NodeCommandExecutor.engineInUse({ helper: "never" }) === "native"
  const settings: ReadonlyArray<readonly [string, (self: Command.Command) => Command.Command, string]> = [
    ["umask", Command.umask(0o077), "umask"],
    ["limit", Command.limit("NOFILE", 64), "resource limits"],
    ["uid", Command.uid(0), "credentials"],
    ["gid", Command.gid(0), "credentials"],
    ["clearCaps", Command.clearCaps, "capabilities"],
    ["allowCap", Command.allowCap("CAP_NET_ADMIN"), "capabilities"],
    ["daemonize", Command.daemonize(), "daemonize"],
    ["handshake", Command.handshake, "handshake"],
    ["preExec", Command.preExec(Command.PreExec.noNewPrivileges), "pre-exec actions"],
    // The native engine sets the death signal itself.
    ...(native ? [] : [["dieWithParent(SIGTERM)", Command.dieWithParent("SIGTERM"), "dieWithParent"] as const])
  ]
  for (const [name, setting, detail] of settings) {
    it.live(`${name}: SpawnError HelperMissing, nothing spawned`, () =>
      Effect.gen(function*() {
        const marker = Path.join(dir, `spawned-with-${name.replace(/\W/g, "-")}`)
        const cmd = setting(evidence(marker))
        // A handshake needs start: the run helpers refuse it before any executor sees it.
        const error = asSpawnError(
          yield* failsCleanly<unknown, CommandExecutor.CommandExecutor>(
            name === "handshake" ? Effect.scoped(Command.start(cmd)) : Command.run(cmd)
          )
        )
        expect(error.reason).toBe("HelperMissing")
        expect(error.detail).toContain(detail)
        expect(error.detail).toContain("switched off by the layer option `helper: \"never\"`")
        const viaStart = asSpawnError(yield* failsCleanly(Effect.scoped(Command.start(cmd))))
        expect(viaStart.reason).toBe("HelperMissing")
        expect(Fs.existsSync(marker)).toBe(false)
      }).pipe(Effect.provide(withoutHelper)))
  }

  it.live("dieWithParent(false) needs no helper", () =>
    Effect.gen(function*() {
      expect(yield* Command.exitCode(quiet("--exit", "9").pipe(Command.dieWithParent(false)))).toBe(9)
    }).pipe(Effect.provide(withoutHelper)))

  it.live.skipIf(!native)("dieWithParent(SIGTERM) needs no helper on the native engine", () =>
    Effect.gen(function*() {
      expect(yield* Command.exitCode(quiet("--exit", "9").pipe(Command.dieWithParent("SIGTERM")))).toBe(9)
    }).pipe(Effect.provide(withoutHelper)))
})
