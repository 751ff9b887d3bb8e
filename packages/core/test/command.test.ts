import { Command } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Equal, Redacted, Sink, Stream } from "effect"

import { argv, encode, reasons, shown } from "./support.js"

const base = Command.make("/bin/prog")

describe("constructors", () => {
  it("make(program, ...args) keeps every argument as one word", () => {
    const cmd = Command.make("/usr/bin/dnsmasq", "--domain", "local domain", "")
    expect(argv(cmd)).toEqual(["/usr/bin/dnsmasq", "--domain", "local domain", ""])
    expect(reasons(cmd)).toEqual([])
  })

  it("a new command has every default: inherited env, no stdio, no fds, empty setup, SIGTERM with 3 s", () => {
    const cmd = Command.make("true")
    expect(cmd.env).toEqual({ base: "default", entries: [] })
    expect([cmd.cwd, cmd.stdin, cmd.stdout, cmd.stderr]).toEqual([undefined, undefined, undefined, undefined])
    expect(cmd.passFds).toEqual([])
    expect(cmd.inputFds).toEqual([])
    expect(cmd.setup).toEqual({
      limits: [],
      clearCaps: false,
      allowCaps: [],
      processGroup: "new",
      daemonize: false,
      handshake: false,
      preExec: []
    })
    expect(cmd.killPolicy.signal).toBe("SIGTERM")
    expect(Duration.toMillis(cmd.killPolicy.grace)).toBe(3000)
    expect(cmd.problems).toEqual([])
    expect(Command.isCommand(cmd)).toBe(true)
    expect(Command.isCommand({ program: "true" })).toBe(false)
  })

  it("make keeps a Redacted argument Redacted", () => {
    const cmd = Command.make("login", Redacted.make("s3cret"))
    expect(argv(cmd)).toEqual(["login", { redacted: "s3cret" }])
  })

  it("fromArgv takes argv[0] as the program", () => {
    const cmd = Command.fromArgv(["/bin/ls", "-l", Redacted.make("x")])
    expect(argv(cmd)).toEqual(["/bin/ls", "-l", { redacted: "x" }])
    expect(Equal.equals(cmd, Command.make("/bin/ls", "-l", Redacted.make("x")))).toBe(true)
  })

  describe("the tagged template", () => {
    it("splits its text on white space, newlines and tabs included", () => {
      const cmd = Command.make`  git
        log\t--oneline   -n 3 `
      expect(argv(cmd)).toEqual(["git", "log", "--oneline", "-n", "3"])
    })

    it("makes each interpolation exactly one word, white space and shell characters included", () => {
      const file = "my notes; rm -rf ~ | $(x) 'q'"
      const cmd = Command.make`git add -- ${file}`
      expect(argv(cmd)).toEqual(["git", "add", "--", file])
      expect(reasons(cmd)).toEqual([])
    })

    it("glues an interpolation to adjacent text into one word", () => {
      const x = "a b"
      const cmd = Command.make`tool --out=${x} pre${x}post ${x}${x}`
      expect(argv(cmd)).toEqual(["tool", "--out=a b", "prea bpost", "a ba b"])
    })

    it("keeps an empty interpolation as an empty word", () => {
      expect(argv(Command.make`printf %s ${""}`)).toEqual(["printf", "%s", ""])
    })

    it("expands an array interpolation to several words, and an empty array to none", () => {
      const files = ["a b", "c"]
      const none: Array<string> = []
      const cmd = Command.make`rm -f -- ${files} ${none} end`
      expect(argv(cmd)).toEqual(["rm", "-f", "--", "a b", "c", "end"])
    })

    it("makes the whole word Redacted when a Redacted value is interpolated into it", () => {
      const password = Redacted.make("s3cret")
      const cmd = Command.make`login --password=${password} ${[Redacted.make("t0ken"), "plain"]}`
      expect(argv(cmd)).toEqual([
        "login",
        { redacted: "--password=s3cret" },
        { redacted: "t0ken" },
        "plain"
      ])
    })

    it("accepts numbers as words", () => {
      expect(argv(Command.make`head -n ${10} -c${2.5}`)).toEqual(["head", "-n", "10", "-c2.5"])
    })

    it("can interpolate the program itself", () => {
      const program = "/opt/my tools/run"
      expect(argv(Command.make`${program} now`)).toEqual(["/opt/my tools/run", "now"])
    })

    it("is Equal to the same command built with make(program, ...args)", () => {
      const dir = "/tmp/x y"
      expect(Equal.equals(Command.make`ls -l ${dir}`, Command.make("ls", "-l", dir))).toBe(true)
    })
  })
})

describe("arguments", () => {
  it("arg appends one word", () => {
    expect(argv(base.pipe(Command.arg("a b"), Command.arg(Redacted.make("k"))))).toEqual([
      "/bin/prog",
      "a b",
      { redacted: "k" }
    ])
  })

  it("args appends words in order", () => {
    expect(argv(base.pipe(Command.arg("0"), Command.args(["1", "2"]), Command.args([])))).toEqual([
      "/bin/prog",
      "0",
      "1",
      "2"
    ])
  })

  it("argPair appends one name=value word", () => {
    expect(argv(base.pipe(Command.argPair("--conf-file", "/etc/dnsmasq.conf")))).toEqual([
      "/bin/prog",
      "--conf-file=/etc/dnsmasq.conf"
    ])
  })

  it("argPair with a Redacted value gives a Redacted word", () => {
    expect(argv(base.pipe(Command.argPair("--password", Redacted.make("pw"))))).toEqual([
      "/bin/prog",
      { redacted: "--password=pw" }
    ])
  })

  it("combinators return a new command and leave the original unchanged", () => {
    const withArg = base.pipe(Command.arg("x"))
    expect(base.args).toEqual([])
    expect(withArg.args).toEqual(["x"])
  })
})

describe("environment", () => {
  const entries = (cmd: Command.Command) =>
    cmd.env.entries.map((e) => (e._tag === "Set" ? { ...e, value: shown(e.value) } : e))

  it("env sets a value and makes the environment explicit", () => {
    const cmd = base.pipe(Command.env("TERM", "xterm"), Command.env("TOKEN", Redacted.make("t")))
    expect(cmd.env.base).toBe("empty")
    expect(entries(cmd)).toEqual([
      { _tag: "Set", name: "TERM", value: "xterm" },
      { _tag: "Set", name: "TOKEN", value: { redacted: "t" } }
    ])
  })

  it("envString splits NAME=VALUE at the first =", () => {
    const cmd = base.pipe(Command.envString("OPTS=a=b"), Command.envString(Redacted.make("KEY=v")))
    expect(entries(cmd)).toEqual([
      { _tag: "Set", name: "OPTS", value: "a=b" },
      { _tag: "Set", name: "KEY", value: { redacted: "v" } }
    ])
  })

  it("envString accepts an empty value", () => {
    expect(entries(base.pipe(Command.envString("EMPTY=")))).toEqual([{ _tag: "Set", name: "EMPTY", value: "" }])
  })

  it("envPass adds Pass entries and makes the environment explicit", () => {
    const cmd = base.pipe(Command.envPass("DISPLAY", "XAUTHORITY"))
    expect(cmd.env).toEqual({
      base: "empty",
      entries: [{ _tag: "Pass", name: "DISPLAY" }, { _tag: "Pass", name: "XAUTHORITY" }]
    })
  })

  it("envPass of no names still makes the environment explicit", () => {
    expect(base.pipe(Command.envPass()).env).toEqual({ base: "empty", entries: [] })
  })

  it("envPassCommon sets LC_ALL=C, then passes LD_PRELOAD LD_LIBRARY_PATH PATH HOME USER LOGNAME TMPDIR in that order", () => {
    expect(Command.envPassCommon(base).env).toEqual({
      base: "empty",
      entries: [
        { _tag: "Set", name: "LC_ALL", value: "C" },
        ...["LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "HOME", "USER", "LOGNAME", "TMPDIR"].map((name) => ({
          _tag: "Pass",
          name
        }))
      ]
    })
  })

  it("envUnset on a command that inherits keeps inheriting, minus that name", () => {
    expect(base.pipe(Command.envUnset("SECRET")).env).toEqual({
      base: "inherit",
      entries: [{ _tag: "Unset", name: "SECRET" }]
    })
  })

  it("envUnset adds an Unset entry", () => {
    expect(base.pipe(Command.envInherit, Command.envUnset("SECRET")).env).toEqual({
      base: "inherit",
      entries: [{ _tag: "Unset", name: "SECRET" }]
    })
  })

  it("envInherit starts from the parent's environment and keeps the entries set before and after it", () => {
    const cmd = base.pipe(Command.env("A", "1"), Command.envInherit, Command.env("B", "2"))
    expect(cmd.env).toEqual({
      base: "inherit",
      entries: [{ _tag: "Set", name: "A", value: "1" }, { _tag: "Set", name: "B", value: "2" }]
    })
  })

  it("envExtend adds to the parent's environment; a bad name or value is a recorded problem", () => {
    const cmd = base.pipe(Command.env("A", "1"), Command.envExtend({ B: "2", A: "3" }))
    expect(cmd.env).toEqual({
      base: "inherit",
      entries: [{ _tag: "Set", name: "A", value: "3" }, { _tag: "Set", name: "B", value: "2" }]
    })
    expect(Command.resolveEnv(cmd, { PATH: "/bin", B: "0" })).toEqual({ PATH: "/bin", A: "3", B: "2" })
    expect(base.pipe(Command.envExtend({})).env).toEqual({ base: "inherit", entries: [] })
    const bad = base.pipe(Command.envExtend({ "X=Y": "1", Z: "a\0b" }))
    expect(bad.problems.length).toBe(2)
  })

  it("envClear drops every entry and stops inheritance", () => {
    const cmd = base.pipe(Command.envInherit, Command.env("A", "1"), Command.envClear)
    expect(cmd.env).toEqual({ base: "empty", entries: [] })
  })

  it("setting the same name twice replaces the entry in place, keeping its position", () => {
    const cmd = base.pipe(
      Command.env("A", "1"),
      Command.env("B", "2"),
      Command.env("C", "3"),
      Command.envString("A=one"),
      Command.envPass("B")
    )
    expect(entries(cmd)).toEqual([
      { _tag: "Set", name: "A", value: "one" },
      { _tag: "Pass", name: "B" },
      { _tag: "Set", name: "C", value: "3" }
    ])
  })
})

describe("working directory and stdio", () => {
  it("workingDirectory sets cwd", () => {
    expect(base.pipe(Command.workingDirectory("/var/lib")).cwd).toBe("/var/lib")
  })

  it("stdin takes an Input or a shorthand", () => {
    expect(base.pipe(Command.stdin("null")).stdin).toEqual({ _tag: "Null" })
    expect(base.pipe(Command.stdin("inherit")).stdin).toEqual({ _tag: "Inherit" })
    expect(base.pipe(Command.stdin("pipe")).stdin).toEqual({ _tag: "Pipe" })
    expect(base.pipe(Command.stdin(Command.Input.fd(7))).stdin).toEqual({ _tag: "Fd", fd: 7 })
    expect(base.pipe(Command.stdin(Command.Input.file("/etc/hosts"))).stdin).toEqual({
      _tag: "File",
      path: "/etc/hosts"
    })
  })

  it("feed sets stdin to text, bytes or Redacted text", () => {
    expect(base.pipe(Command.feed("hello")).stdin).toEqual({ _tag: "Text", text: "hello" })
    expect(base.pipe(Command.feed(encode("hi"))).stdin).toEqual({ _tag: "Bytes", bytes: encode("hi") })
    const secret = base.pipe(Command.feed(Redacted.make("pw"))).stdin
    expect(secret?._tag === "Text" && shown(secret.text)).toEqual({ redacted: "pw" })
  })

  it("stdout takes an Output or a shorthand", () => {
    expect(base.pipe(Command.stdout("null")).stdout).toEqual({ _tag: "Null" })
    expect(base.pipe(Command.stdout("inherit")).stdout).toEqual({ _tag: "Inherit" })
    expect(base.pipe(Command.stdout("pipe")).stdout).toEqual({ _tag: "Pipe" })
    expect(base.pipe(Command.stdout("capture")).stdout).toEqual({ _tag: "Capture" })
    expect(base.pipe(Command.stdout(Command.Output.fd(5))).stdout).toEqual({ _tag: "Fd", fd: 5 })
  })

  it("stderr takes an ErrorOutput or a shorthand, \"stdout\" being ToStdout", () => {
    expect(base.pipe(Command.stderr("null")).stderr).toEqual({ _tag: "Null" })
    expect(base.pipe(Command.stderr("inherit")).stderr).toEqual({ _tag: "Inherit" })
    expect(base.pipe(Command.stderr("pipe")).stderr).toEqual({ _tag: "Pipe" })
    expect(base.pipe(Command.stderr("capture")).stderr).toEqual({ _tag: "Capture" })
    expect(base.pipe(Command.stderr("stdout")).stderr).toEqual({ _tag: "ToStdout" })
    expect(base.pipe(Command.stderr(Command.Output.toStdout)).stderr).toEqual({ _tag: "ToStdout" })
  })

  it("the Input constructors build each variant", () => {
    const stream = Stream.make(encode("x"))
    expect(Command.Input.null).toEqual({ _tag: "Null" })
    expect(Command.Input.inherit).toEqual({ _tag: "Inherit" })
    expect(Command.Input.pipe).toEqual({ _tag: "Pipe" })
    expect(Command.Input.fd(3)).toEqual({ _tag: "Fd", fd: 3 })
    expect(Command.Input.bytes(encode("b"))).toEqual({ _tag: "Bytes", bytes: encode("b") })
    expect(Command.Input.text("t")).toEqual({ _tag: "Text", text: "t" })
    expect(Command.Input.file("/f")).toEqual({ _tag: "File", path: "/f" })
    const input = Command.Input.stream(stream)
    expect(input._tag === "Stream" && input.stream).toBe(stream)
  })

  it("the Output constructors build each variant, files truncating unless append is asked", () => {
    const sink = Sink.drain
    expect(Command.Output.null).toEqual({ _tag: "Null" })
    expect(Command.Output.inherit).toEqual({ _tag: "Inherit" })
    expect(Command.Output.pipe).toEqual({ _tag: "Pipe" })
    expect(Command.Output.capture).toEqual({ _tag: "Capture" })
    expect(Command.Output.toStdout).toEqual({ _tag: "ToStdout" })
    expect(Command.Output.fd(4)).toEqual({ _tag: "Fd", fd: 4 })
    expect(Command.Output.file("/log")).toEqual({ _tag: "File", path: "/log", append: false })
    expect(Command.Output.file("/log", { append: true })).toEqual({ _tag: "File", path: "/log", append: true })
    const output = Command.Output.sink(sink)
    expect(output._tag === "Sink" && output.sink).toBe(sink)
  })
})

describe("file descriptors", () => {
  it("passFd keeps the fd, closeParent false unless asked", () => {
    const cmd = base.pipe(Command.passFd(3), Command.passFd(7, { closeParent: true }))
    expect(cmd.passFds).toEqual([{ fd: 3, closeParent: false }, { fd: 7, closeParent: true }])
  })

  it("passing the same fd twice keeps the first flags", () => {
    const cmd = base.pipe(Command.passFd(5, { closeParent: true }), Command.passFd(5))
    expect(cmd.passFds).toEqual([{ fd: 5, closeParent: true }])
    expect(reasons(cmd)).toEqual([])
  })

  it("inputFd stores the bytes for the fd, text as UTF-8", () => {
    const cmd = base.pipe(Command.inputFd(3, "héllo"), Command.inputFd(4, new Uint8Array([0, 255])))
    expect(cmd.inputFds).toEqual([
      { fd: 3, bytes: encode("héllo") },
      { fd: 4, bytes: new Uint8Array([0, 255]) }
    ])
  })
})

describe("child setup", () => {
  it("umask sets the mask, 0 included", () => {
    expect(base.pipe(Command.umask(0o027)).setup.umask).toBe(0o027)
    expect(base.pipe(Command.umask(0)).setup.umask).toBe(0)
  })

  it("limit with one value sets soft and hard alike", () => {
    expect(base.pipe(Command.limit("NOFILE", 1024)).setup.limits).toEqual([
      { resource: "NOFILE", soft: 1024, hard: 1024 }
    ])
    expect(base.pipe(Command.limit("CORE", "unlimited")).setup.limits).toEqual([
      { resource: "CORE", soft: "unlimited", hard: "unlimited" }
    ])
  })

  it("limit with soft and hard sets both", () => {
    expect(base.pipe(Command.limit("NPROC", { soft: 10, hard: "unlimited" })).setup.limits).toEqual([
      { resource: "NPROC", soft: 10, hard: "unlimited" }
    ])
  })

  it("limit on the same resource again replaces it", () => {
    const cmd = base.pipe(
      Command.limit("NOFILE", 64),
      Command.limit("CORE", 0),
      Command.limit("NOFILE", { soft: 128, hard: 256 })
    )
    expect(cmd.setup.limits).toEqual([
      { resource: "CORE", soft: 0, hard: 0 },
      { resource: "NOFILE", soft: 128, hard: 256 }
    ])
  })

  it("uid, gid and groups take ids or names", () => {
    const cmd = base.pipe(Command.uid(1000), Command.gid("wheel"), Command.groups([10, "audio"]))
    expect(cmd.setup.uid).toBe(1000)
    expect(cmd.setup.gid).toBe("wheel")
    expect(cmd.setup.groups).toEqual([10, "audio"])
    expect(base.pipe(Command.uid("nobody")).setup.uid).toBe("nobody")
    expect(base.pipe(Command.gid(0)).setup.gid).toBe(0)
  })

  it("clearCaps and allowCap record the capabilities to keep, each once", () => {
    const cmd = base.pipe(
      Command.clearCaps,
      Command.allowCap("CAP_NET_BIND_SERVICE"),
      Command.allowCap("CAP_SYS_NICE"),
      Command.allowCap("CAP_NET_BIND_SERVICE")
    )
    expect(cmd.setup.clearCaps).toBe(true)
    expect(cmd.setup.allowCaps).toEqual(["CAP_NET_BIND_SERVICE", "CAP_SYS_NICE"])
  })

  it("processGroup is new by default and can inherit the parent's", () => {
    expect(base.setup.processGroup).toBe("new")
    expect(base.pipe(Command.processGroup("inherit")).setup.processGroup).toBe("inherit")
    expect(base.pipe(Command.processGroup("inherit"), Command.processGroup("new")).setup.processGroup).toBe("new")
  })

  it("dieWithParent takes a signal or false", () => {
    expect(base.setup.dieWithParent).toBeUndefined()
    expect(base.pipe(Command.dieWithParent("SIGTERM")).setup.dieWithParent).toBe("SIGTERM")
    expect(base.pipe(Command.dieWithParent(false)).setup.dieWithParent).toBe(false)
  })

  it("daemonize sets the flag, and the pid file when given", () => {
    expect(base.pipe(Command.daemonize()).setup).toMatchObject({ daemonize: true })
    expect(base.pipe(Command.daemonize()).setup.pidFile).toBeUndefined()
    expect(base.pipe(Command.daemonize({ pidFile: "/run/d.pid" })).setup).toMatchObject({
      daemonize: true,
      pidFile: "/run/d.pid"
    })
  })

  it("pidFile sets (and replaces) the pid file", () => {
    const cmd = base.pipe(Command.daemonize(), Command.pidFile("/run/a.pid"), Command.pidFile("/run/b.pid"))
    expect(cmd.setup.pidFile).toBe("/run/b.pid")
    expect(reasons(cmd)).toEqual([])
  })

  it("handshake requires a handshake", () => {
    expect(Command.handshake(base).setup.handshake).toBe(true)
  })

  it("preExec appends each PreExec action in order", () => {
    const cmd = base.pipe(
      Command.preExec(Command.PreExec.nice(5)),
      Command.preExec(Command.PreExec.setsid),
      Command.preExec(Command.PreExec.noNewPrivileges),
      Command.preExec(Command.PreExec.oomScoreAdjust(-500)),
      Command.preExec(Command.PreExec.ioPriority("best-effort", 7))
    )
    expect(cmd.setup.preExec).toEqual([
      { _tag: "Nice", increment: 5 },
      { _tag: "Setsid" },
      { _tag: "NoNewPrivileges" },
      { _tag: "OomScoreAdjust", value: -500 },
      { _tag: "IoPriority", class: "best-effort", level: 7 }
    ])
    expect(reasons(cmd)).toEqual([])
  })
})

describe("kill policy", () => {
  it("killSignal sets the first signal", () => {
    expect(base.pipe(Command.killSignal("SIGINT")).killPolicy.signal).toBe("SIGINT")
  })

  it("killGrace accepts any finite DurationInput", () => {
    expect(Duration.toMillis(base.pipe(Command.killGrace("250 millis")).killPolicy.grace)).toBe(250)
    expect(Duration.toMillis(base.pipe(Command.killGrace(Duration.seconds(1))).killPolicy.grace)).toBe(1000)
    expect(Duration.toMillis(base.pipe(Command.killGrace(0)).killPolicy.grace)).toBe(0)
  })
})

describe("dual", () => {
  const secret = Redacted.make("s")
  const cases: ReadonlyArray<readonly [string, Command.Command, Command.Command]> = [
    ["arg", Command.arg(base, "x"), base.pipe(Command.arg("x"))],
    ["args", Command.args(base, ["x", "y"]), base.pipe(Command.args(["x", "y"]))],
    ["argPair", Command.argPair(base, "--n", secret), base.pipe(Command.argPair("--n", secret))],
    ["env", Command.env(base, "A", "B"), base.pipe(Command.env("A", "B"))],
    ["envString", Command.envString(base, "A=B"), base.pipe(Command.envString("A=B"))],
    ["envPass", Command.envPass(base, "A", "B"), base.pipe(Command.envPass("A", "B"))],
    ["envUnset", Command.envUnset(base, "A"), base.pipe(Command.envUnset("A"))],
    ["workingDirectory", Command.workingDirectory(base, "/d"), base.pipe(Command.workingDirectory("/d"))],
    ["stdin", Command.stdin(base, "pipe"), base.pipe(Command.stdin("pipe"))],
    ["feed", Command.feed(base, "in"), base.pipe(Command.feed("in"))],
    ["stdout", Command.stdout(base, "capture"), base.pipe(Command.stdout("capture"))],
    ["stderr", Command.stderr(base, "stdout"), base.pipe(Command.stderr("stdout"))],
    ["passFd", Command.passFd(base, 4), base.pipe(Command.passFd(4))],
    [
      "passFd with options",
      Command.passFd(base, 4, { closeParent: true }),
      base.pipe(Command.passFd(4, { closeParent: true }))
    ],
    ["inputFd", Command.inputFd(base, 3, "x"), base.pipe(Command.inputFd(3, "x"))],
    ["umask", Command.umask(base, 0o22), base.pipe(Command.umask(0o22))],
    ["limit", Command.limit(base, "CORE", 0), base.pipe(Command.limit("CORE", 0))],
    ["uid", Command.uid(base, 1), base.pipe(Command.uid(1))],
    ["gid", Command.gid(base, 1), base.pipe(Command.gid(1))],
    ["groups", Command.groups(base, [1, 2]), base.pipe(Command.groups([1, 2]))],
    ["allowCap", Command.allowCap(base, "CAP_KILL"), base.pipe(Command.allowCap("CAP_KILL"))],
    ["processGroup", Command.processGroup(base, "inherit"), base.pipe(Command.processGroup("inherit"))],
    ["dieWithParent", Command.dieWithParent(base, "SIGHUP"), base.pipe(Command.dieWithParent("SIGHUP"))],
    ["daemonize", Command.daemonize(base), base.pipe(Command.daemonize())],
    [
      "daemonize with a pid file",
      Command.daemonize(base, { pidFile: "/p" }),
      base.pipe(Command.daemonize({ pidFile: "/p" }))
    ],
    ["pidFile", Command.pidFile(Command.daemonize(base), "/p"), base.pipe(Command.daemonize(), Command.pidFile("/p"))],
    ["preExec", Command.preExec(base, Command.PreExec.setsid), base.pipe(Command.preExec(Command.PreExec.setsid))],
    ["killSignal", Command.killSignal(base, "SIGINT"), base.pipe(Command.killSignal("SIGINT"))],
    ["killGrace", Command.killGrace(base, "1 second"), base.pipe(Command.killGrace(Duration.millis(1000)))],
    ["envPassCommon", Command.envPassCommon(base), base.pipe(Command.envPassCommon)],
    ["envInherit", Command.envInherit(base), base.pipe(Command.envInherit)],
    ["envClear", Command.envClear(base), base.pipe(Command.envClear)],
    ["clearCaps", Command.clearCaps(base), base.pipe(Command.clearCaps)],
    ["handshake", Command.handshake(base), base.pipe(Command.handshake)]
  ]

  it.each(cases)("%s gives Equal commands data-first and piped", (_name, dataFirst, piped) => {
    expect(Equal.equals(dataFirst, piped)).toBe(true)
    expect(Equal.equals(dataFirst, base)).toBe(false)
    expect(dataFirst.problems).toEqual([])
  })
})
