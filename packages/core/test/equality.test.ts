import { Command } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Equal, Hash, HashSet, Redacted, Stream } from "effect"

import { encode } from "./support.js"

/** A command using every field, built anew on each call from fresh values. */
const full = (): Command.Command =>
  Command.make`/usr/sbin/daemon --conf=${"/etc/d.conf"} ${["-v", Redacted.make("key")]}`.pipe(
    Command.argPair("--token", Redacted.make("t0k")),
    Command.envPassCommon,
    Command.env("SECRET", Redacted.make("s")),
    Command.envString("A=1"),
    Command.workingDirectory("/srv"),
    Command.feed(encode("input bytes")),
    Command.stdout(Command.Output.file("/var/log/d.log", { append: true })),
    Command.stderr("stdout"),
    Command.passFd(5, { closeParent: true })
  ).pipe(
    Command.inputFd(3, new Uint8Array([1, 2, 3])),
    Command.umask(0o22),
    Command.limit("NOFILE", { soft: 1024, hard: 4096 }),
    Command.uid("daemon"),
    Command.gid(2),
    Command.groups([3, "audio"]),
    Command.clearCaps,
    Command.allowCap("CAP_NET_BIND_SERVICE"),
    Command.processGroup("inherit"),
    Command.dieWithParent("SIGTERM"),
    Command.handshake,
    Command.preExec(Command.PreExec.ioPriority("idle", 0)),
    Command.killSignal("SIGINT"),
    Command.killGrace(Duration.millis(1500))
  )

const expectEqual = (a: Command.Command, b: Command.Command) => {
  expect(Equal.equals(a, b)).toBe(true)
  expect(Equal.equals(b, a)).toBe(true)
  expect(Hash.hash(a)).toBe(Hash.hash(b))
}

describe("Equal and Hash", () => {
  it("two separately built equal commands are Equal and hash alike", () => {
    expectEqual(full(), full())
  })

  it("equal Uint8Array inputs, Redacted values with the same content and equal Durations compare equal", () => {
    const build = (bytes: Uint8Array, secret: string, grace: Duration.DurationInput) =>
      Command.make("p", Redacted.make(secret)).pipe(Command.feed(bytes), Command.killGrace(grace))
    expectEqual(
      build(encode("abc"), "pw", "1 second"),
      build(new Uint8Array([97, 98, 99]), "pw", Duration.millis(1000))
    )
  })

  it("commands sharing the same stream and sink values are Equal", () => {
    const stream = Stream.make(encode("x"))
    const build = () => Command.make("p").pipe(Command.stdin(Command.Input.stream(stream)))
    expectEqual(build(), build())
  })

  const sample = (options: { readonly program?: string; readonly bytes?: string; readonly secret?: string } = {}) =>
    Command.make(options.program ?? "p").pipe(
      Command.feed(encode(options.bytes ?? "abc")),
      Command.env("K", Redacted.make(options.secret ?? "secret"))
    )

  it.each<readonly [string, Command.Command]>([
    ["one more argument", sample().pipe(Command.arg("x"))],
    ["input bytes of the same length", sample({ bytes: "abd" })],
    ["a Redacted secret of the same length", sample({ secret: "secreT" })],
    ["the program", sample({ program: "q" })],
    ["the kill grace", sample().pipe(Command.killGrace("2 seconds"))],
    ["the env base", sample().pipe(Command.envInherit)],
    ["a recorded problem", sample().pipe(Command.passFd(1))],
    ["stdout", sample().pipe(Command.stdout("capture"))],
    ["the child setup", sample().pipe(Command.umask(0o77))]
  ])("commands that differ by %s are not Equal", (_name, other) => {
    expect(Equal.equals(sample(), sample())).toBe(true)
    expect(Equal.equals(sample(), other)).toBe(false)
  })

  it("a Redacted word is not Equal to the plain string of the same text", () => {
    expect(Equal.equals(Command.make("p", "s"), Command.make("p", Redacted.make("s")))).toBe(false)
  })

  it("input fds with different bytes are not Equal", () => {
    expect(
      Equal.equals(Command.make("p").pipe(Command.inputFd(3, "a")), Command.make("p").pipe(Command.inputFd(3, "b")))
    ).toBe(false)
  })

  it("commands built from different stream values are not Equal", () => {
    const build = () => Command.make("p").pipe(Command.stdin(Command.Input.stream(Stream.make(encode("x")))))
    expect(Equal.equals(build(), build())).toBe(false)
  })

  it("a command is not Equal to a plain object with its fields", () => {
    const cmd = Command.make("p")
    expect(Equal.equals(cmd, { ...cmd })).toBe(false)
  })

  it("commands are usable as HashSet members", () => {
    const set = HashSet.make(full(), full(), Command.make("a"), Command.make("a"), Command.make("b"))
    expect(HashSet.size(set)).toBe(3)
    expect(HashSet.has(set, full())).toBe(true)
    expect(HashSet.has(set, Command.make("c"))).toBe(false)
  })

  it("a command's hash does not leak into the commands derived from it", () => {
    const a = Command.make("p")
    Hash.hash(a)
    expectEqual(a.pipe(Command.arg("x")), Command.make("p", "x"))
  })
})
