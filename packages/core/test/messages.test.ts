/** Every error's message is one line a person reads, of bounded length; the fields keep the facts. */
import { Command, CommandError, DryRunExecutor, ExitStatus } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, FastCheck as fc, Redacted } from "effect"

/** The messages of every error class made from these facts. */
const messages = (
  command: string,
  text: string,
  reasons: ReadonlyArray<string>
): Array<CommandError.CommandError> => {
  const bytes = new TextEncoder().encode(text)
  const status = { stderrTail: text, stdoutTail: text, command }
  // A pipeline's: the failed stage is named by its program, which may be any word of the line.
  const stages = {
    ...status,
    stages: [ExitStatus.exited(1), ExitStatus.exited(0)],
    stageStderrTails: [text, ""],
    failedStage: 0
  }
  return [
    new CommandError.CommandUsageError({ reasons, command }),
    new CommandError.SpawnError({ reason: "NotFound", errno: "ENOENT", stage: text, detail: text, command }),
    new CommandError.SpawnError({ reason: "Unknown", command }),
    new CommandError.ExitError({ exitCode: 1, ...status }),
    new CommandError.SignalError({ signal: "SIGSEGV", coreDumped: true, ...status }),
    new CommandError.ExitError({ exitCode: 1, ...stages }),
    new CommandError.SignalError({
      signal: "SIGSEGV",
      coreDumped: true,
      ...stages,
      failedStage: 1,
      command: `${command} | ${command}`
    }),
    new CommandError.CommandTimeoutError({ timeout: Duration.seconds(5), stdout: bytes, stderr: bytes, command }),
    new CommandError.OutputLimitError({ stream: "stdout", limit: 10, output: bytes, command }),
    new CommandError.OutputLimitError({ stream: "stderr", limit: 10, output: bytes, failedStage: 0, command }),
    new CommandError.DaemonError({ reason: "PidFileLocked", pidFile: text, command }),
    new CommandError.ReadinessError({ reason: "Ended", pattern: text, stream: "stdout", output: text, command }),
    new CommandError.IoError({ stream: "stdin", command, cause: new Error(text) }),
    new CommandError.RecordsError({ columns: 2, fields: 1, records: 3, command }),
    new CommandError.ConnectionError({ reason: "ConnectFailed", host: text, detail: text, command })
  ]
}

const lineBreaks = /[\n\r\u0085\u2028\u2029]/

const expectReadable = (message: string) => {
  expect(message).not.toMatch(lineBreaks)
  expect(message.length).toBeLessThanOrEqual(300)
}

const rendered = (cmd: Command.Command): string => {
  const line = Command.toString(cmd)
  if (line._tag === "Left") throw line.left
  return line.right
}

/** A parent environment as a big machine has: a long PATH and many variables. */
const bigParent: Record<string, string> = {
  PATH: Array.from({ length: 40 }, (_, i) => `/opt/tool-${i}/bin`).join(":"),
  LD_PRELOAD: "/usr/lib/libjemalloc.so.2",
  LD_LIBRARY_PATH: "/opt/a/lib:/opt/b/lib",
  HOME: "/home/alice",
  TMPDIR: "/tmp"
}

describe("error messages", () => {
  it("are one line of at most 300 characters, whatever the command, the output and the reasons", () => {
    const text = fc.string({ unit: "binary", maxLength: 3000 })
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "binary", maxLength: 400 }), { minLength: 1, maxLength: 40 }),
        fc.dictionary(fc.stringMatching(/^[A-Z_]{1,12}$/), fc.string({ unit: "binary", maxLength: 700 })),
        text,
        fc.array(text, { maxLength: 5 }),
        (argv, env, output, reasons) => {
          const cmd = Command.make(argv[0]!.replaceAll("\0", ""), ...argv.slice(1).map((a) => a.replaceAll("\0", "")))
            .pipe(
              Command.envPassCommon,
              (c) => Object.entries(env).reduce((acc, [n, v]) => Command.env(acc, n, v.replaceAll("\0", "")), c)
            )
          const line = Command.toString(cmd, { environment: bigParent })
          const command = line._tag === "Right" ? line.right : argv.join(" ")
          for (const error of messages(command, output, reasons)) expectReadable(error.message)
        }
      ),
      { numRuns: 200 }
    )
  })

  it("leave out envPassCommon's assignments: the program and its arguments come first", () => {
    const cmd = Command.make("iptables", "-L").pipe(Command.envPassCommon, Command.env("TOKEN", Redacted.make("t")))
    const command = rendered(cmd)
    expect(command).toBe(
      "env -i LC_ALL=C LD_PRELOAD=\"$LD_PRELOAD\" LD_LIBRARY_PATH=\"$LD_LIBRARY_PATH\" PATH=\"$PATH\" HOME=\"$HOME\" " +
        "USER=\"$USER\" LOGNAME=\"$LOGNAME\" TMPDIR=\"$TMPDIR\" TOKEN=<redacted> iptables -L"
    )
    const error = new CommandError.ExitError({ exitCode: 1, stderrTail: "", command })
    expect(error.message).toBe("iptables -L: unexpected exit status 1")
    expect(error.command).toBe(command)
  })

  it("leave out env -u and assignments of every pipeline stage", () => {
    const cmd = Command.pipeTo(
      Command.make("gen").pipe(Command.envUnset("X"), Command.env("A", "1")),
      Command.make("sort", "-r").pipe(Command.env("LC_ALL", "C"))
    )
    const command = rendered(cmd)
    expect(command).toBe("env -u X A=1 gen | env -i LC_ALL=C sort -r")
    expect(
      new CommandError.CommandTimeoutError({
        timeout: Duration.seconds(1),
        stdout: new Uint8Array(),
        stderr: new Uint8Array(),
        command
      }).message
    )
      .toBe("gen | sort -r: timed out after 1s")
  })

  it("a long argument list loses its middle: the program, the first and the last arguments stay", () => {
    const files = Array.from({ length: 500 }, (_, i) => `/srv/data/file-${i}.txt`)
    const command = rendered(Command.make("rsync", "-a", ...files, "/backup/"))
    const error = new CommandError.ExitError({ exitCode: 23, stderrTail: "", command })
    expect(error.message).toMatch(/^rsync -a \/srv\/data\/file-0\.txt .*….* \/backup\/: unexpected exit status 23$/)
    expect(error.message.length).toBeLessThanOrEqual(300)
    expect(error.command).toBe(command)
  })

  it("a NotFound shows the start and the end of the PATH searched; detail keeps all of it", () => {
    const detail = `frobnicate is not in PATH=${bigParent.PATH}`
    expect(detail.length).toBeGreaterThan(600)
    const error = new CommandError.SpawnError({
      reason: "NotFound",
      errno: "ENOENT",
      stage: "execve",
      detail,
      command: "frobnicate --now"
    })
    expect(error.message).toMatch(
      /^frobnicate --now: NotFound: execve failed: ENOENT \(frobnicate is not in PATH=\/opt\/tool-0\/bin:.*….*\/opt\/tool-39\/bin\)$/
    )
    expectReadable(error.message)
    expect(error.detail).toBe(detail)
  })

  const stderr = "a".repeat(9000) + "\n" + "warning: something\n".repeat(500) + "error: " + "x".repeat(200) + "\n\n  \n"

  it.effect("an ExitError shows the last non-blank line of 8 KiB of stderr, cut; stderrTail keeps the tail", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.run(Command.make("build", "--all")))
      expect(error._tag).toBe("ExitError")
      if (error._tag !== "ExitError") return
      expect(error.stderrTail.endsWith(`warning: something\nerror: ${"x".repeat(200)}`)).toBe(true)
      expect(error.stderrTail.length).toBeGreaterThan(8000)
      expect(error.message).toBe(`build --all: unexpected exit status 2: error: ${"x".repeat(92)}…`)
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ status: 2, stderr })))))

  it("line breaks and control characters in the command or the output are escapes", () => {
    const command = rendered(Command.make("printf", "a\nb\tc"))
    const error = new CommandError.SignalError({
      signal: "SIGKILL",
      coreDumped: false,
      stderrTail: "first\nlast\r\u001b[31mred\u2028",
      command
    })
    expect(error.message).toBe("printf 'a\\nb\\tc': unexpected fatal signal SIGKILL: last\\r\\u001b[31mred")
  })

  it("secrets stay blanked: the message is made from the redacted line and tail", () =>
    Effect.runPromise(
      Effect.gen(function*() {
        const cmd = Command.make("login", Redacted.make("hunter22")).pipe(Command.env("PW", Redacted.make("s3cret99")))
        const error = yield* Effect.flip(Command.run(cmd))
        expect(error.message).toBe("login <redacted>: unexpected exit status 1: bad password <redacted>")
      }).pipe(
        Effect.provide(
          DryRunExecutor.layer(() => ({ status: ExitStatus.exited(1), stderr: "bad password s3cret99\n" }))
        )
      )
    ))
})

describe("records with strict", () => {
  const pairs = Command.make("list-pairs")

  it.effect("types each record as a tuple and returns whole records", () =>
    Effect.gen(function*() {
      const rows = yield* Command.records(pairs, { columns: 2, strict: true })
      const names: Array<string> = rows.map(([name, value]) => `${name}=${value}`)
      expect(names).toEqual(["a=1", "b=2"])
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ stdout: "a\x001\x00b\x002\x00" })))))

  it.effect("fails with RecordsError on a short last record; without strict it is kept", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Command.records(pairs, { columns: 2, strict: true }))
      expect(error).toMatchObject({ _tag: "RecordsError", columns: 2, fields: 1, records: 1, command: "list-pairs" })
      expect(error.message).toBe("list-pairs: output ends with a record of 1 of 2 fields, after 1 whole ones")
      expect(yield* Command.records(pairs, { columns: 2 })).toEqual([["a", "1"], ["b"]])
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ stdout: "a\x001\x00b\x00" })))))

  it.effect("of empty output is no record", () =>
    Effect.gen(function*() {
      expect(yield* Command.records(pairs, { columns: 3, strict: true })).toEqual([])
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ stdout: "" })))))
})
