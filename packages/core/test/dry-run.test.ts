import { Command, DryRunExecutor } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Equal, Exit } from "effect"

import { decode } from "./support.js"

/** The parent environment the dry-run executor pretends to have. */
const environment = {
  PATH: "/usr/sbin:/usr/bin",
  HOME: "/root",
  USER: "root",
  LOGNAME: "root",
  LANG: "en_US.UTF-8",
  HOSTNAME: "build-host",
  DISPLAY: ":0",
  TMPDIR: undefined
}

const envValues = (env: Readonly<Record<string, Command.Word>>) =>
  Object.entries(env).map(([name, value]) => [name, Command.wordValue(value)])

describe("the seed's dnsmasq example", () => {
  // virCommandNew, AddArg, AddArgPair, AddArgSet, AddArgList, AddEnvPassCommon, AddEnvPass ×2,
  // AddEnvPair, AddEnvString, as in docs/kbase/internals/command.rst.
  const dnsmasq = Command.make("/usr/bin/dnsmasq").pipe(
    Command.arg("-strict-order"),
    Command.argPair("--conf-file", "/etc/dnsmasq.conf"),
    Command.args(["--strict-order", "--except-interface", "lo"]),
    Command.args(["--domain", "localdomain"]),
    Command.envPassCommon,
    Command.envPass("DISPLAY"),
    Command.envPass("XAUTHORITY"),
    Command.env("TERM", "xterm"),
    Command.envString("TERM=xterm")
  )

  it.effect("records the command line with the passed variables the parent has", () =>
    Effect.gen(function*() {
      yield* Command.run(dnsmasq)
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.line).toBe(
        "LC_ALL=C PATH=/usr/sbin:/usr/bin HOME=/root USER=root LOGNAME=root DISPLAY=:0 TERM=xterm " +
          "/usr/bin/dnsmasq -strict-order --conf-file=/etc/dnsmasq.conf --strict-order --except-interface lo " +
          "--domain localdomain"
      )
      expect(entry?.program).toBe("/usr/bin/dnsmasq")
      expect(entry?.args).toEqual([
        "-strict-order",
        "--conf-file=/etc/dnsmasq.conf",
        "--strict-order",
        "--except-interface",
        "lo",
        "--domain",
        "localdomain"
      ])
      expect(entry?.cwd).toBeUndefined()
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({}), { environment }))))

  it.effect("gives the child LC_ALL=C, the common variables, DISPLAY and TERM once, in order, and nothing else", () =>
    Effect.gen(function*() {
      yield* Command.run(dnsmasq)
      const [entry] = yield* DryRunExecutor.recorded
      expect(envValues(entry!.env)).toEqual([
        ["LC_ALL", "C"],
        ["PATH", "/usr/sbin:/usr/bin"],
        ["HOME", "/root"],
        ["USER", "root"],
        ["LOGNAME", "root"],
        ["DISPLAY", ":0"],
        ["TERM", "xterm"]
      ])
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({}), { environment }))))

  it.effect("records the line with libvirt's linebreaks when the layer asks for them", () =>
    Effect.gen(function*() {
      yield* Command.run(dnsmasq)
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.line).toBe(
        [
          "LC_ALL=C \\",
          "PATH=/usr/sbin:/usr/bin \\",
          "HOME=/root \\",
          "USER=root \\",
          "LOGNAME=root \\",
          "DISPLAY=:0 \\",
          "TERM=xterm \\",
          "/usr/bin/dnsmasq \\",
          "-strict-order \\",
          "--conf-file=/etc/dnsmasq.conf \\",
          "--strict-order \\",
          "--except-interface lo \\",
          "--domain localdomain"
        ].join("\n")
      )
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({}), { environment, linebreaks: true }))))

  it("builds the same command at once with make, fromArgv or the template (virCommandNewArgs, NewArgList)", () => {
    const argv = ["/usr/bin/dnsmasq", "--strict-order", "--except-interface", "lo", "--domain", "localdomain"]
    const stepwise = Command.make("/usr/bin/dnsmasq").pipe(
      Command.args(["--strict-order", "--except-interface", "lo"]),
      Command.args(["--domain", "localdomain"])
    )
    expect(Equal.equals(Command.fromArgv(argv), stepwise)).toBe(true)
    expect(Equal.equals(Command.make(argv[0]!, ...argv.slice(1)), stepwise)).toBe(true)
    expect(Equal.equals(Command.make`/usr/bin/dnsmasq ${argv.slice(1)}`, stepwise)).toBe(true)
  })
})

describe("the seed's runhook example", () => {
  const runhook = (drvstr: string, id: string, opstr: string, subopstr: string, extra: string, input: string) =>
    Command.run(
      Command.make(`/etc/libvirt/hooks/${drvstr}`).pipe(
        Command.envPassCommon,
        Command.args([id, opstr, subopstr, extra]),
        Command.feed(input)
      )
    )
  const domainXml = "<domain type='kvm'>\n  <name>vm 1</name>\n</domain>\n"

  it.effect("runs the hook with its four arguments, a minimal environment and the XML on stdin", () =>
    Effect.gen(function*() {
      const result = yield* runhook("qemu", "vm 1", "started", "begin", "-", domainXml)
      expect(result.status).toEqual({ _tag: "Exited", code: 0 })
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.line).toBe(
        "LC_ALL=C PATH=/usr/sbin:/usr/bin HOME=/root USER=root LOGNAME=root /etc/libvirt/hooks/qemu 'vm 1' started begin -"
      )
      expect(envValues(entry!.env)).toEqual([
        ["LC_ALL", "C"],
        ["PATH", "/usr/sbin:/usr/bin"],
        ["HOME", "/root"],
        ["USER", "root"],
        ["LOGNAME", "root"]
      ])
      expect(decode(entry?.stdin)).toBe(domainXml)
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({}), { environment }))))

  it.effect("reports a failing hook as ExitError with the hook's stderr", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runhook("network", "default", "plugged", "begin", "-", "<network/>"))
      expect(error).toMatchObject({
        _tag: "ExitError",
        exitCode: 1,
        stderrTail: "refusing to plug",
        // Errors are rendered without the parent's environment: passed variables stay references.
        command: "LC_ALL=C LD_PRELOAD=\"$LD_PRELOAD\" LD_LIBRARY_PATH=\"$LD_LIBRARY_PATH\" PATH=\"$PATH\" " +
          "HOME=\"$HOME\" USER=\"$USER\" LOGNAME=\"$LOGNAME\" TMPDIR=\"$TMPDIR\" " +
          "/etc/libvirt/hooks/network default plugged begin -"
      })
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({ status: 1, stderr: "refusing to plug\n" }), { environment }))))
})

describe("environment resolution", () => {
  const probe = Command.make("/usr/bin/env")

  it.effect("a command that never touched its environment inherits the whole parent environment", () =>
    Effect.gen(function*() {
      yield* Command.run(probe)
      const [entry] = yield* DryRunExecutor.recorded
      expect(envValues(entry!.env)).toEqual(Object.entries(environment).filter(([, v]) => v !== undefined))
      expect(entry?.line).toBe("/usr/bin/env")
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({}), { environment }))))

  it.effect("the layer's parent environment is empty by default", () =>
    Effect.gen(function*() {
      yield* Command.run(probe.pipe(Command.envPass("PATH")))
      yield* Command.run(probe)
      const recorded = yield* DryRunExecutor.recorded
      expect(recorded.map((r) => r.env)).toEqual([{}, {}])
      expect(recorded[0]?.line).toBe("/usr/bin/env")
    }).pipe(Effect.provide(DryRunExecutor.layer())))

  it.effect("after env() the child gets exactly the variables set", () =>
    Effect.gen(function*() {
      yield* Command.run(probe.pipe(Command.env("A", "1"), Command.env("B", "")))
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.env).toEqual({ A: "1", B: "" })
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({}), { environment }))))

  it.effect("envPass of a variable the parent lacks still makes the environment explicit", () =>
    Effect.gen(function*() {
      yield* Command.run(probe.pipe(Command.envPass("XAUTHORITY", "TMPDIR")))
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.env).toEqual({})
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({}), { environment }))))

  it.effect("envInherit with envUnset and env gives the parent's environment minus and plus those", () =>
    Effect.gen(function*() {
      yield* Command.run(
        probe.pipe(Command.env("EXTRA", "x"), Command.envInherit, Command.envUnset("DISPLAY"), Command.env("LANG", "C"))
      )
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.env).toEqual({
        PATH: "/usr/sbin:/usr/bin",
        HOME: "/root",
        USER: "root",
        LOGNAME: "root",
        LANG: "C",
        HOSTNAME: "build-host",
        EXTRA: "x"
      })
      expect(entry?.line).toBe("EXTRA=x LANG=C /usr/bin/env")
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({}), { environment }))))

  it.effect("envClear after envInherit gives an empty environment", () =>
    Effect.gen(function*() {
      yield* Command.run(probe.pipe(Command.envInherit, Command.envClear))
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.env).toEqual({})
    }).pipe(Effect.provide(DryRunExecutor.layer(() => ({}), { environment }))))
})

describe("the dry-run executor", () => {
  it.effect("answers like its JSDoc example says", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(Command.make("/usr/bin/dnsmasq", "--strict-order"))
      const [entry] = yield* DryRunExecutor.recorded
      expect([out, entry?.line]).toEqual(["ran with 1 args\n", "/usr/bin/dnsmasq --strict-order"])
    }).pipe(Effect.provide(DryRunExecutor.layer(({ args }) => ({ stdout: `ran with ${args.length} args\n` })))))

  it.effect("records the working directory", () =>
    Effect.gen(function*() {
      yield* Command.run(Command.make("ls").pipe(Command.workingDirectory("/var/tmp")))
      const [entry] = yield* DryRunExecutor.recorded
      expect(entry?.cwd).toBe("/var/tmp")
    }).pipe(Effect.provide(DryRunExecutor.layer())))

  it.effect("passes the recorded command to the handler, which may answer with an Effect", () =>
    Effect.gen(function*() {
      const out = yield* Command.lines(Command.make("uname", "-r"))
      expect(out).toEqual(["uname -r"])
    }).pipe(Effect.provide(DryRunExecutor.layer((r) => Effect.succeed({ stdout: `${r.line}\n` })))))

  it.effect("records commands oldest first, each layer with its own log", () =>
    Effect.gen(function*() {
      yield* Command.run(Command.make("first"))
      yield* Command.run(Command.make("second"))
      expect((yield* DryRunExecutor.recorded).map((r) => r.line)).toEqual(["first", "second"])
    }).pipe(Effect.provide(DryRunExecutor.layer())))

  it.effect("handshakeWait and handshakeNotify succeed only for a command that requires the handshake", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(Command.handshake(Command.make("qemu")))
        yield* process.handshakeWait
        yield* process.handshakeNotify
        const plain = yield* Command.start(Command.make("qemu"))
        expect(yield* Effect.flip(plain.handshakeWait)).toMatchObject({ _tag: "CommandUsageError" })
        expect(yield* Effect.flip(plain.handshakeNotify)).toMatchObject({ _tag: "CommandUsageError" })
      }))
    }).pipe(Effect.provide(DryRunExecutor.layer())))
})

describe("a handler that does not answer normally", () => {
  const cases = [
    ["throws", () => {
      throw new Error("handler threw")
    }],
    ["dies", () => Effect.die(new Error("handler died"))],
    ["is interrupted", () => Effect.interrupt]
  ] as const
  for (const [how, handler] of cases) {
    it.effect(`a handler that ${how}: the run ends (never hangs)`, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          Command.run(Command.make("echo", "x")).pipe(Effect.provide(DryRunExecutor.layer(handler)))
        )
        expect(Exit.isFailure(exit)).toBe(true)
      }))
  }
})

describe("the log", () => {
  it.effect("records every command in order; each read is a snapshot that later runs leave as it was", () =>
    Effect.gen(function*() {
      yield* Command.run(Command.make("first"))
      const early = yield* DryRunExecutor.recorded
      for (let i = 0; i < 2000; i++) yield* Command.run(Command.make("n", String(i)))
      const all = yield* DryRunExecutor.recorded
      expect(early.map((entry) => entry.program)).toEqual(["first"])
      expect(all.length).toBe(2001)
      expect(all.slice(1).map((entry) => entry.args[0])).toEqual(Array.from({ length: 2000 }, (_, i) => String(i))) // A caller that changes what it was given changes nothing recorded.
      ;(all as Array<unknown>).length = 0
      expect((yield* DryRunExecutor.recorded).length).toBe(2001)
    }).pipe(Effect.provide(DryRunExecutor.layer())))
})
