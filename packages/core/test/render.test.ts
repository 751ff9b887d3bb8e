import { Command } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted } from "effect"

import { line } from "./support.js"

const logLine = (cmd: Command.Command, options?: Parameters<typeof Command.toLogLine>[1]): string =>
  Either.getOrThrowWith(Command.toLogLine(cmd, options), (error) => error)

/** libvirt's commandtest test16 command. */
const test16 = Command.make("true", "F", "G  H").pipe(Command.env("A", "B"), Command.env("C", "D  E"))

describe("toString", () => {
  it("renders env assignments then argv, quoting what needs it (libvirt test16)", () => {
    expect(Command.toString(test16, { libvirt: true })).toEqual(Either.right("A=B C='D  E' true F 'G  H'"))
  })

  it("renders an environment that starts empty as env -i and its assignments", () => {
    expect(Command.toString(test16)).toEqual(Either.right("env -i A=B C='D  E' true F 'G  H'"))
    expect(line(Command.make("cc").pipe(Command.envClear))).toBe("env -i cc")
  })

  it("renders variables added to an inherited environment as assignments alone, unset ones as env -u", () => {
    expect(line(Command.make("cc").pipe(Command.envExtend({ CC: "clang" })))).toBe("CC=clang cc")
    expect(line(Command.make("make").pipe(Command.envUnset("MAKEFLAGS")))).toBe("env -u MAKEFLAGS make")
    expect(line(Command.make("make").pipe(Command.envUnset("A B"), Command.env("CC", "clang")))).toBe(
      "env -u 'A B' CC=clang make"
    )
  })

  it("puts env in front of a name a shell would not assign, and runs a program containing = through sh", () => {
    const odd = Command.make("p").pipe(Command.envExtend({ "my-var": "1", "a b": "2" }))
    expect(line(odd)).toBe("env my-var=1 'a b'=2 p")
    expect(line(odd, { libvirt: true })).toBe("my-var=1 a b=2 p")
    expect(line(Command.make("./a=b", "c").pipe(Command.env("A", "1")))).toBe(
      "env -i A=1 sh -c 'exec \"$@\"' sh './a=b' c"
    )
  })

  it("does not resolve the program against PATH", () => {
    expect(line(Command.make("true"))).toBe("true")
  })

  it("renders an empty argument as ''", () => {
    expect(line(Command.make("printf", "%s", ""))).toBe("printf %s ''")
  })

  it("renders ' inside a quoted word as '\\''", () => {
    expect(line(Command.make("echo", "it's"))).toBe("echo 'it'\\''s'")
    expect(Command.quote("'")).toBe("''\\'''")
  })

  it.each([..."\r\t\n !\"#$&()*;<>?[\\]^`{|}~"])("quotes a word containing %j", (char) => {
    expect(Command.quote(`a${char}b`)).toBe(`'a${char}b'`)
    expect(Command.quote(char)).toBe(`'${char}'`)
  })

  it.each([..."=%,:/@+-."])("leaves a word containing %j unquoted", (char) => {
    expect(Command.quote(`a${char}b`)).toBe(`a${char}b`)
  })

  it("leaves a word of letters, digits and non-ASCII text unquoted", () => {
    expect(Command.quote("--conf-file=/etc/dnsmasq.conf")).toBe("--conf-file=/etc/dnsmasq.conf")
    expect(Command.quote("héllo_wörld-42")).toBe("héllo_wörld-42")
  })

  it("quotes a program containing = so that a shell does not take it for an assignment", () => {
    expect(line(Command.make("./a=b", "c=d"))).toBe("'./a=b' c=d")
  })

  it("quotes a program named like a shell reserved word", () => {
    expect(line(Command.make("if", "then"))).toBe("'if' then")
    expect(line(Command.make("time", "ls"))).toBe("'time' ls")
    expect(line(Command.make("iffy"))).toBe("iffy")
  })

  it("renders Redacted arguments and env values as <redacted>", () => {
    const cmd = Command.make("login", "--user", "bob", Redacted.make("hunter2")).pipe(
      Command.argPair("--token", Redacted.make("t0k")),
      Command.env("PASSWORD", Redacted.make("pw"))
    )
    expect(line(cmd)).toBe("env -i PASSWORD=<redacted> login --user bob <redacted> <redacted>")
    expect(logLine(cmd)).toBe("env -i PASSWORD=<redacted> login --user bob <redacted> <redacted>")
  })

  it("renders a Pass entry as NAME=\"$NAME\" when no environment is given", () => {
    const cmd = Command.make("xterm").pipe(Command.envPass("DISPLAY"))
    expect(line(cmd)).toBe("env -i DISPLAY=\"$DISPLAY\" xterm")
  })

  it("renders a Pass entry with its value in the given environment, quoted", () => {
    const cmd = Command.make("xterm").pipe(Command.envPass("DISPLAY", "HOME"))
    expect(line(cmd, { environment: { DISPLAY: ":0", HOME: "/home/a b" } })).toBe(
      "env -i DISPLAY=:0 HOME='/home/a b' xterm"
    )
  })

  it("omits a Pass entry the given environment does not have", () => {
    const cmd = Command.make("xterm").pipe(Command.envPass("DISPLAY", "XAUTHORITY"), Command.env("TERM", "xterm"))
    expect(line(cmd, { environment: { XAUTHORITY: undefined } })).toBe("env -i TERM=xterm xterm")
  })

  it("shows neither Unset entries nor the inherited environment with libvirt: true", () => {
    const cmd = Command.make("env").pipe(Command.envInherit, Command.envUnset("SECRET"), Command.env("A", "1"))
    expect(line(cmd, { environment: { SECRET: "s", PATH: "/bin" }, libvirt: true })).toBe("A=1 env")
    expect(line(cmd, { environment: { SECRET: "s", PATH: "/bin" } })).toBe("env -u SECRET A=1 env")
  })

  it("renders env entries in their order, a replaced one at its first position", () => {
    const cmd = Command.make("p").pipe(Command.env("A", "1"), Command.env("B", "2"), Command.env("A", "3"))
    expect(line(cmd)).toBe("env -i A=3 B=2 p")
  })
})

describe("toLogLine", () => {
  it("joins env assignments and argv with spaces, unquoted (libvirt test16)", () => {
    expect(Command.toLogLine(test16, { libvirt: true })).toEqual(Either.right("A=B C=D  E true F G  H"))
    expect(Command.toLogLine(test16)).toEqual(Either.right("env -i A=B C=D  E true F G  H"))
  })

  it("renders a Pass entry as NAME=$NAME, or its value in the given environment", () => {
    const cmd = Command.make("xterm").pipe(Command.envPass("DISPLAY", "XAUTHORITY"))
    expect(logLine(cmd)).toBe("env -i DISPLAY=$DISPLAY XAUTHORITY=$XAUTHORITY xterm")
    expect(logLine(cmd, { environment: { DISPLAY: ":0 1" } })).toBe("env -i DISPLAY=:0 1 xterm")
  })

  it("keeps empty words and quotes as they are", () => {
    expect(logLine(Command.make("echo", "", "it's"))).toBe("echo  it's")
  })
})

describe("toString with linebreaks", () => {
  it("ends each env entry with ` \\` and a newline, and breaks the options as libvirt's newest test26", () => {
    const cmd = Command.make(
      "true",
      "--foo",
      "bar",
      "--oooh",
      "-f",
      "--wizz",
      "eek eek",
      "--m-m-m-multiarg",
      "arg",
      "arg2",
      "-w",
      "-z",
      "-l",
      "--mmm",
      "flash",
      "bang",
      "wallop"
    ).pipe(Command.env("A", "B"), Command.env("C", "D  E"))
    expect(line(cmd, { linebreaks: true, libvirt: true })).toBe(
      [
        "A=B \\",
        "C='D  E' \\",
        "true \\",
        "--foo bar \\",
        "--oooh \\",
        "-f \\",
        "--wizz 'eek eek' \\",
        "--m-m-m-multiarg arg arg2 \\",
        "-w \\",
        "-z \\",
        "-l \\",
        "--mmm flash \\",
        "bang \\",
        "wallop"
      ].join("\n")
    )
  })

  it("breaks before each positional that comes before the first option", () => {
    expect(line(Command.make("cp", "a", "b", "--target-directory", "/d"), { linebreaks: true })).toBe(
      "cp \\\na \\\nb \\\n--target-directory /d"
    )
  })

  it("breaks before every argument when there is no option", () => {
    expect(line(Command.make("echo", "a", "b"), { linebreaks: true })).toBe("echo \\\na \\\nb")
  })

  it("keeps a program without arguments or env on one line", () => {
    expect(line(Command.make("true"), { linebreaks: true })).toBe("true")
  })

  it("keeps a Redacted option value on its option's line", () => {
    expect(line(Command.make("login", "--password", Redacted.make("pw"), "-v"), { linebreaks: true })).toBe(
      "login \\\n--password <redacted> \\\n-v"
    )
  })

  it("puts env entries alone on their lines, Pass entries included", () => {
    const cmd = Command.make("xterm", "-e", "top").pipe(Command.envPass("DISPLAY"), Command.env("TERM", "vt100"))
    expect(line(cmd, { linebreaks: true })).toBe("env -i \\\nDISPLAY=\"$DISPLAY\" \\\nTERM=vt100 \\\nxterm \\\n-e top")
  })
})
