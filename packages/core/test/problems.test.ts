import { Command, type CommandError, type CommandExecutor, DryRunExecutor } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted, Sink, Stream } from "effect"

import { encode, reasons, usageError } from "./support.js"

const base = Command.make("/bin/prog")

/** One way to misuse the API, and the reason it must report. */
type Case = readonly [name: string, build: () => Command.Command, reason: RegExp]

const problemCases: ReadonlyArray<Case> = [
  // NUL bytes and empty strings
  ["a NUL byte in the program", () => Command.make("/bin/a\0b"), /program contains a NUL byte/],
  ["a NUL byte in an argument of make", () => Command.make("p", "ok", "a\0b"), /argument 2 contains a NUL byte/],
  [
    "a NUL byte in an argument of arg",
    () => base.pipe(Command.arg("x"), Command.arg("\0")),
    /argument 2 contains a NUL byte/
  ],
  ["a NUL byte in an argument of args", () => base.pipe(Command.args(["x", "y\0"])), /argument 2 contains a NUL byte/],
  [
    "a NUL byte in a Redacted argument",
    () => base.pipe(Command.arg(Redacted.make("s\0"))),
    /argument 1 contains a NUL byte/
  ],
  ["a NUL byte in argPair's value", () => base.pipe(Command.argPair("--n", "a\0")), /argument 1 contains a NUL byte/],
  ["a NUL byte in fromArgv's words", () => Command.fromArgv(["p", "\0"]), /argument 1 contains a NUL byte/],
  ["a NUL byte in a template's literal text", () => Command.make`prog a\0b`, /argument 1 contains a NUL byte/],
  ["a NUL byte in an env name", () => base.pipe(Command.env("A\0B", "v")), /name contains a NUL byte/],
  ["a NUL byte in an env value", () => base.pipe(Command.env("A", "v\0")), /value of A contains a NUL byte/],
  ["a NUL byte in an envString value", () => base.pipe(Command.envString("A=\0")), /value of A contains a NUL byte/],
  [
    "a NUL byte in the working directory",
    () => base.pipe(Command.workingDirectory("/tmp\0")),
    /working directory contains a NUL byte/
  ],
  ["an empty program", () => Command.make(""), /program is empty/],
  ["an empty argv", () => Command.fromArgv([]), /program is empty/],
  ["an empty template", () => Command.make` `, /program is empty/],
  ["a Redacted program", () => Command.fromArgv([Redacted.make("/bin/x")]), /program cannot be Redacted/],
  ["a Redacted program in a template", () => Command.make`${Redacted.make("/bin/x")} a`, /program cannot be Redacted/],
  ["an empty working directory", () => base.pipe(Command.workingDirectory("")), /working directory is empty/],
  // environment
  ["an empty env name", () => base.pipe(Command.env("", "v")), /name is empty/],
  ["an env name containing =", () => base.pipe(Command.env("A=B", "v")), /name "A=B" contains "="/],
  ["an envString with an empty name", () => base.pipe(Command.envString("=v")), /name is empty/],
  ["an envString without =", () => base.pipe(Command.envString("TERM")), /environment string "TERM" has no "="/],
  ["an empty name passed", () => base.pipe(Command.envPass("")), /name is empty/],
  ["an env name containing = unset", () => base.pipe(Command.envUnset("A=")), /contains "="/],
  // fds
  ["passFd of stdin", () => base.pipe(Command.passFd(0)), /passed fd must be an integer ≥ 3, not 0/],
  ["passFd of stderr", () => base.pipe(Command.passFd(2)), /passed fd must be an integer ≥ 3, not 2/],
  ["passFd of a negative fd", () => base.pipe(Command.passFd(-1)), /passed fd must be an integer ≥ 3, not -1/],
  ["passFd of a non-integer", () => base.pipe(Command.passFd(3.5)), /passed fd must be an integer ≥ 3, not 3.5/],
  ["inputFd of fd 2", () => base.pipe(Command.inputFd(2, "x")), /input fd must be an integer ≥ 3, not 2/],
  [
    "inputFd of the same fd twice",
    () => base.pipe(Command.inputFd(3, "a"), Command.inputFd(3, "b")),
    /fd 3 is given twice/
  ],
  ["inputFd of a passed fd", () => base.pipe(Command.passFd(3), Command.inputFd(3, "b")), /fd 3 is given twice/],
  ["passFd of an input fd", () => base.pipe(Command.inputFd(3, "a"), Command.passFd(3)), /fd 3 is already an input fd/],
  // stdio
  ["stdin set twice", () => base.pipe(Command.stdin("null"), Command.stdin("inherit")), /input given twice/],
  ["feed after stdin", () => base.pipe(Command.stdin("pipe"), Command.feed("x")), /input given twice/],
  ["feed twice", () => base.pipe(Command.feed("x"), Command.feed(encode("y"))), /input given twice/],
  [
    "feed of a Proxy of bytes (instanceof says Uint8Array, it has no bytes to write)",
    () => base.pipe(Command.feed(new Proxy(encode("x"), {}))),
    /the bytes for stdin must be a Uint8Array, not an object/
  ],
  [
    "stdin of bytes that are not a Uint8Array",
    () => base.pipe(Command.stdin({ _tag: "Bytes", bytes: new Uint16Array(2) as never })),
    /the bytes for stdin must be a Uint8Array/
  ],
  [
    "stdin of text that is not a string",
    () => base.pipe(Command.stdin({ _tag: "Text", text: 42 as never })),
    /the text for stdin must be a string or a Redacted string, not 42/
  ],
  [
    "inputFd of a Proxy of bytes",
    () => base.pipe(Command.inputFd(3, new Proxy(encode("x"), {}))),
    /the data for input fd 3 must be a string or bytes, not an object/
  ],
  ["stdout set twice", () => base.pipe(Command.stdout("capture"), Command.stdout("null")), /stdout is set twice/],
  ["stderr set twice", () => base.pipe(Command.stderr("stdout"), Command.stderr("capture")), /stderr is set twice/],
  [
    "stdin from a negative fd",
    () => base.pipe(Command.stdin(Command.Input.fd(-1))),
    /fd for stdin must be an integer ≥ 0/
  ],
  [
    "stdout to a non-integer fd",
    () => base.pipe(Command.stdout(Command.Output.fd(1.5))),
    /fd for stdout must be an integer ≥ 0/
  ],
  [
    "stderr to a forEach without a function",
    () => base.pipe(Command.stderr(Command.Output.forEach("print" as never))),
    /the function for stderr must be a function, not "print"/
  ],
  [
    "stderr to an empty file name",
    () => base.pipe(Command.stderr(Command.Output.file(""))),
    /file for stderr is empty/
  ],
  [
    "stdin from a file name with a NUL byte",
    () => base.pipe(Command.stdin(Command.Input.file("/a\0"))),
    /file for stdin contains a NUL byte/
  ],
  [
    "the working directory set twice",
    () => base.pipe(Command.workingDirectory("/a"), Command.workingDirectory("/b")),
    /working directory is set twice/
  ],
  // daemons
  [
    "a pid file without daemonize",
    () => base.pipe(Command.pidFile("/run/x.pid")),
    /pid file requires a daemonized command/
  ],
  ["an empty pid file", () => base.pipe(Command.daemonize({ pidFile: "" })), /pid file is empty/],
  [
    "a daemon with a working directory",
    () => base.pipe(Command.workingDirectory("/srv"), Command.daemonize()),
    /daemonized command always runs in \/ and cannot set a working directory/
  ],
  [
    "a working directory set on a daemon",
    () => base.pipe(Command.daemonize(), Command.workingDirectory("/srv")),
    /cannot set a working directory/
  ],
  [
    "a daemon with captured stdout",
    () => base.pipe(Command.daemonize(), Command.stdout("capture")),
    /cannot mix string I\/O with a daemon/
  ],
  [
    "a daemon with captured stderr",
    () => base.pipe(Command.daemonize(), Command.stderr("capture")),
    /cannot mix string I\/O with a daemon/
  ],
  [
    "a daemon with piped stdout",
    () => base.pipe(Command.daemonize(), Command.stdout("pipe")),
    /cannot mix string I\/O with a daemon/
  ],
  [
    "a daemon with stdout to a sink",
    () => base.pipe(Command.daemonize(), Command.stdout(Command.Output.sink(Sink.drain))),
    /cannot mix string I\/O with a daemon/
  ],
  [
    "a daemon with stdout to a function",
    () => base.pipe(Command.daemonize(), Command.stdout(Command.Output.forEach(() => {}))),
    /cannot mix string I\/O with a daemon/
  ],
  [
    "a daemon fed text",
    () => base.pipe(Command.feed("x"), Command.daemonize()),
    /cannot mix string I\/O with a daemon/
  ],
  [
    "a daemon fed bytes",
    () => base.pipe(Command.feed(encode("x")), Command.daemonize()),
    /cannot mix string I\/O with a daemon/
  ],
  [
    "a daemon fed a stream",
    () => base.pipe(Command.stdin(Command.Input.stream(Stream.empty)), Command.daemonize()),
    /cannot mix string I\/O with a daemon/
  ],
  [
    "a daemon with piped stdin",
    () => base.pipe(Command.stdin("pipe"), Command.daemonize()),
    /cannot mix string I\/O with a daemon/
  ],
  [
    "a daemon with an input fd",
    () => base.pipe(Command.inputFd(3, "x"), Command.daemonize()),
    /cannot mix string I\/O with a daemon/
  ],
  // child setup
  ["a negative umask", () => base.pipe(Command.umask(-1)), /umask must be an integer from 0 to 0o777, not -1/],
  ["a umask above 0o777", () => base.pipe(Command.umask(0o1000)), /umask must be an integer from 0 to 0o777, not 512/],
  ["a non-integer umask", () => base.pipe(Command.umask(0.5)), /umask must be an integer/],
  [
    "a negative limit",
    () => base.pipe(Command.limit("NOFILE", -1)),
    /limit NOFILE must be "unlimited" or an integer ≥ 0, not -1/
  ],
  [
    "a non-integer limit",
    () => base.pipe(Command.limit("CPU", 1.5)),
    /limit CPU must be "unlimited" or an integer ≥ 0, not 1.5/
  ],
  [
    "a negative hard limit",
    () => base.pipe(Command.limit("CPU", { soft: 1, hard: -2 })),
    /limit CPU must be .* not -2/
  ],
  [
    "a soft limit above the hard limit",
    () => base.pipe(Command.limit("NOFILE", { soft: 10, hard: 5 })),
    /soft limit NOFILE exceeds its hard limit/
  ],
  [
    "an unlimited soft limit under a finite hard limit",
    () => base.pipe(Command.limit("AS", { soft: "unlimited", hard: 5 })),
    /soft limit AS exceeds its hard limit/
  ],
  ["an unknown resource", () => base.pipe(Command.limit("BOGUS" as never, 1)), /unknown resource limit "BOGUS"/],
  ["a negative uid", () => base.pipe(Command.uid(-1)), /user must be an id ≥ 0, not -1/],
  ["a non-integer uid", () => base.pipe(Command.uid(1.5)), /user must be an id ≥ 0/],
  [
    "a uid of 2^32 - 1 (the kernel's 'unchanged')",
    () => base.pipe(Command.uid(2 ** 32 - 1)),
    /user must be an id ≤ 4294967294 \(4294967295 means "unchanged"\), not 4294967295/
  ],
  ["an empty user name", () => base.pipe(Command.uid("")), /user name "" is not valid/],
  ["a user name with a colon", () => base.pipe(Command.uid("a:b")), /user name "a:b" is not valid/],
  ["a negative gid", () => base.pipe(Command.gid(-5)), /group must be an id ≥ 0, not -5/],
  ["a group name with a NUL byte", () => base.pipe(Command.gid("wh\0eel")), /group name .* is not valid/],
  [
    "a bad supplementary group",
    () => base.pipe(Command.groups([1, -1])),
    /supplementary group must be an id ≥ 0, not -1/
  ],
  ["an unknown capability", () => base.pipe(Command.allowCap("CAP_FLY" as never)), /unknown capability "CAP_FLY"/],
  [
    "an unknown process group mode",
    () => base.pipe(Command.processGroup("own" as never)),
    /process group must be "new" or "inherit"/
  ],
  [
    "an unknown die-with-parent signal",
    () => base.pipe(Command.dieWithParent("SIGNOPE" as never)),
    /unknown signal "SIGNOPE"/
  ],
  [
    "the handshake required twice",
    () => base.pipe(Command.handshake, Command.handshake),
    /handshake is required twice/
  ],
  [
    "a nice increment above 40",
    () => base.pipe(Command.preExec(Command.PreExec.nice(41))),
    /nice increment must be an integer from -40 to 40, not 41/
  ],
  [
    "a nice increment below -40",
    () => base.pipe(Command.preExec(Command.PreExec.nice(-41))),
    /nice increment .* not -41/
  ],
  [
    "a non-integer nice increment",
    () => base.pipe(Command.preExec(Command.PreExec.nice(0.5))),
    /nice increment .* not 0.5/
  ],
  [
    "an OOM score above 1000",
    () => base.pipe(Command.preExec(Command.PreExec.oomScoreAdjust(1001))),
    /OOM score adjustment must be an integer from -1000 to 1000, not 1001/
  ],
  [
    "an OOM score below -1000",
    () => base.pipe(Command.preExec(Command.PreExec.oomScoreAdjust(-1001))),
    /OOM score adjustment .* not -1001/
  ],
  [
    "an I/O priority level above 7",
    () => base.pipe(Command.preExec(Command.PreExec.ioPriority("idle", 8))),
    /I\/O priority must be a class/
  ],
  [
    "a negative I/O priority level",
    () => base.pipe(Command.preExec(Command.PreExec.ioPriority("realtime", -1))),
    /I\/O priority must be a class/
  ],
  [
    "an unknown I/O priority class",
    () => base.pipe(Command.preExec(Command.PreExec.ioPriority("urgent" as never, 1))),
    /I\/O priority must be a class/
  ],
  // kill policy
  ["an unknown kill signal", () => base.pipe(Command.killSignal("TERM" as never)), /unknown signal "TERM"/],
  [
    "an infinite kill grace",
    () => base.pipe(Command.killGrace(Infinity)),
    /kill grace must be a finite duration ≥ 0, not Infinity/
  ],
  [
    "a kill grace that is no duration",
    () => base.pipe(Command.killGrace("soon" as never)),
    /kill grace must be a finite duration ≥ 0, not "soon"/
  ],
  // templates
  [
    "an array glued to text in a template",
    () => Command.make`cp --files=${["a", "b"]} /d`,
    /interpolated array 1 must stand alone/
  ],
  [
    "an array glued to following text in a template",
    () => Command.make`cp ${["a", "b"]}.bak`,
    /interpolated array 1 must stand alone/
  ],
  [
    "a boolean interpolated into a template",
    () => Command.make`prog ${true as never}`,
    /interpolated value 1 is a boolean, not a string/
  ],
  [
    "null interpolated into a template",
    () => Command.make`prog ${null as never}`,
    /interpolated value 1 is a null, not a string/
  ],
  [
    "a number inside an interpolated array",
    () => Command.make`prog ${[1] as never}`,
    /interpolated array 1 contains a number/
  ]
]

const shellCases: ReadonlyArray<readonly [string, () => Command.Command]> = [
  ["|", () => Command.make`ls | wc -l`],
  [";", () => Command.make`echo a; rm -rf /`],
  ["$", () => Command.make`echo $(whoami)`],
  [">", () => Command.make`echo hi > /tmp/out`],
  ["<", () => Command.make`sort < in`],
  ["&", () => Command.make`sleep 1 &`],
  ["'", () => Command.make`echo 'quoted words'`],
  ["\"", () => Command.make`echo "quoted words"`],
  ["`", () => Command.make`echo \`date\``],
  ["\\", () => Command.make`echo a\\ b`],
  ["*", () => Command.make`ls *.txt`],
  ["?", () => Command.make`ls file?`],
  ["[", () => Command.make`ls [ab]`],
  ["~", () => Command.make`cd ~`],
  ["#", () => Command.make`echo # comment`],
  ["!", () => Command.make`! true`],
  ["{", () => Command.make`echo {a,b}`],
  ["(", () => Command.make`prog (sub)`]
]

describe("usage problems", () => {
  it.each(problemCases)("%s is recorded as a usage problem, without throwing", (_name, build, reason) => {
    let cmd: Command.Command | undefined
    expect(() => (cmd = build())).not.toThrow()
    expect(cmd && Command.isCommand(cmd)).toBe(true)
    expect(reasons(cmd!)).toEqual([expect.stringMatching(reason)])
  })

  it.each(shellCases)("shell syntax %s in a template's literal text is a usage problem", (char, build) => {
    expect(reasons(build())).toEqual([
      `the template's literal text contains the shell character ${JSON.stringify(char)}; ` +
      "no shell runs here: pass that text as an interpolated value"
    ])
  })

  it("a template with an invalid escape sequence reports its backslash instead of throwing", () => {
    let cmd: Command.Command | undefined
    expect(() => (cmd = Command.make`ls C:\users\x`)).not.toThrow()
    expect(reasons(cmd!)).toEqual([expect.stringMatching(/shell character "\\\\"/)])
  })

  it("shell characters in an interpolated value are not a problem", () => {
    expect(reasons(Command.make`echo ${"a | b; $(c) > 'd' \"e\" `f` \\ * ~"}`)).toEqual([])
  })

  it("the characters = % , : / @ + - . in a template's literal text are not shell syntax", () => {
    expect(reasons(Command.make`dd if=/dev/zero bs=1% a,b host:/p user@h +x -y ./z`)).toEqual([])
  })

  describe("a command with several problems", () => {
    const broken = Command.make("/bin/a\0b").pipe(
      Command.env("", "x"),
      Command.passFd(1),
      Command.feed("first"),
      Command.feed("second"),
      Command.umask(0o1000),
      Command.pidFile("/run/p.pid")
    )
    const all = [
      expect.stringMatching(/program contains a NUL byte/),
      expect.stringMatching(/environment variable name is empty/),
      expect.stringMatching(/passed fd must be an integer ≥ 3, not 1/),
      expect.stringMatching(/input given twice/),
      expect.stringMatching(/umask must be an integer from 0 to 0o777/),
      expect.stringMatching(/pid file requires a daemonized command/)
    ]

    it("validate returns Left(CommandUsageError) listing every problem", () => {
      const error = usageError(broken)
      expect(error._tag).toBe("CommandUsageError")
      expect(error.reasons).toEqual(all)
      expect(error.message).toContain("umask must be an integer")
      expect(error.message).toContain("input given twice")
      expect(error.command).toContain("/bin/a\\0b")
    })

    it("toString and toLogLine fail with the same reasons", () => {
      for (
        const rendered of [
          Command.toString(broken),
          Command.toString(broken, { linebreaks: true }),
          Command.toLogLine(broken)
        ]
      ) {
        expect(Either.isLeft(rendered)).toBe(true)
        if (Either.isLeft(rendered)) expect(rendered.left.reasons).toEqual(all)
      }
    })

    it("validate returns Right of the command itself when nothing is wrong", () => {
      const fine = Command.make("true")
      expect(Command.validate(fine)).toEqual(Either.right(fine))
    })

    const helpers: ReadonlyArray<
      readonly [
        string,
        (cmd: Command.Command) => Effect.Effect<unknown, CommandError.CommandError, CommandExecutor.CommandExecutor>
      ]
    > = [
      ["run", Command.run],
      ["exitCode", Command.exitCode],
      ["status", Command.status],
      ["string", (cmd) => Command.string(cmd)],
      ["bytes", Command.bytes],
      ["lines", Command.lines],
      ["records", (cmd) => Command.records(cmd)],
      ["stream", (cmd) => Stream.runDrain(Command.stream(cmd))],
      ["streamLines", (cmd) => Stream.runDrain(Command.streamLines(cmd))],
      ["start", (cmd) => Effect.scoped(Command.start(cmd))]
    ]

    it.effect.each(helpers)(
      "%s fails with CommandUsageError and spawns nothing",
      ([_name, helper]) =>
        Effect.gen(function*() {
          let handlerCalls = 0
          const error = yield* helper(broken).pipe(
            Effect.flip,
            Effect.provide(DryRunExecutor.layer(() => {
              handlerCalls++
              return {}
            }))
          )
          expect(error).toMatchObject({ _tag: "CommandUsageError", reasons: all })
          expect(handlerCalls).toBe(0)
        })
    )

    it.effect("nothing is recorded by the dry-run executor", () =>
      Effect.gen(function*() {
        yield* Effect.flip(Command.run(broken))
        expect(yield* DryRunExecutor.recorded).toEqual([])
      }).pipe(Effect.provide(DryRunExecutor.layer())))
  })
})
