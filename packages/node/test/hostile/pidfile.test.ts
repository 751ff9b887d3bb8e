/**
 * A daemon's pid file is written only as a regular file at its own name: never through a symlink
 * (one planted in a world-writable directory would make a root daemon truncate its target), and
 * never a directory, a FIFO (whose open must not block) or a device. Anything else is a
 * DaemonError before the daemon runs, and nothing is created or changed.
 */
import { Buffer } from "node:buffer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

import { marker, withMarker } from "../support/procs.js"
import { failsCleanly, makeTempDir, removeTempDir } from "../support/run.js"

const dir = makeTempDir("ec-pidfile-")
// The directory an attacker can write to, as /tmp is.
Fs.chmodSync(dir, 0o1777)
afterAll(() => removeTempDir(dir))

/** Daemonizes `sleep` with `pidFile`: the error it must fail with; no daemon may be left. */
const refused = (pidFile: string) =>
  Effect.gen(function*() {
    const mark = marker()
    const daemon = Command.make("/bin/sleep", "1000").pipe(
      Command.daemonize({ pidFile }),
      Command.envInherit,
      Command.env("EC_MARKER", mark)
    )
    const started = Date.now()
    const error = yield* failsCleanly(Command.run(daemon))
    const left = withMarker("EC_MARKER", mark)
    for (const pid of left) process.kill(pid, "SIGKILL")
    expect(left).toEqual([])
    expect(Date.now() - started).toBeLessThan(2000)
    expect(error._tag).toBe("DaemonError")
    if (error._tag !== "DaemonError") return ""
    expect(error.reason).toBe("PidFileUnwritable")
    expect(error.pidFile).toBe(pidFile)
    return String(error.cause)
  })

describe("a daemon's pid file", () => {
  for (
    const [what, plant, reason] of [
      ["a symlink to a file: refused (ELOOP)", Fs.symlinkSync, "pidfile-open: ELOOP (a symbolic link)"],
      ["a hard link to another file: refused", Fs.linkSync, "pidfile-type: not a regular file of one link"]
    ] as const
  ) {
    it.live(`${what}, the target untouched`, () =>
      Effect.gen(function*() {
        const target = Path.join(dir, `precious-${plant.name}`)
        Fs.writeFileSync(target, "do not truncate me\n")
        const pidFile = Path.join(dir, `${plant.name}.pid`)
        plant(target, pidFile)
        expect(yield* refused(pidFile)).toBe(reason)
        expect(Fs.readFileSync(target, "utf8")).toBe("do not truncate me\n")
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }

  it.live("a dangling symlink: refused, nothing created at its target", () =>
    Effect.gen(function*() {
      const target = Path.join(dir, "nothing-here")
      const pidFile = Path.join(dir, "dangling.pid")
      Fs.symlinkSync(target, pidFile)
      expect(yield* refused(pidFile)).toBe("pidfile-open: ELOOP (a symbolic link)")
      expect(Fs.existsSync(target)).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a directory: refused", () =>
    Effect.gen(function*() {
      const pidFile = Path.join(dir, "a-directory.pid")
      Fs.mkdirSync(pidFile)
      expect(yield* refused(pidFile)).toBe("pidfile-open: EISDIR")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a FIFO without a reader: refused at once, the open does not block", () =>
    Effect.gen(function*() {
      const pidFile = Path.join(dir, "fifo.pid")
      ChildProcess.execFileSync("mkfifo", [pidFile])
      expect(yield* refused(pidFile)).toBe("pidfile-open: ENXIO")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a FIFO with a reader: refused, nothing written to it", () =>
    Effect.gen(function*() {
      const pidFile = Path.join(dir, "read-fifo.pid")
      ChildProcess.execFileSync("mkfifo", [pidFile])
      const reader = Fs.openSync(pidFile, Fs.constants.O_RDONLY | Fs.constants.O_NONBLOCK)
      try {
        expect(yield* refused(pidFile)).toBe("pidfile-type: not a regular file of one link")
        // The helper's open and close came and went: EOF, no pid.
        expect(Fs.readSync(reader, Buffer.alloc(16))).toBe(0)
      } finally {
        Fs.closeSync(reader)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a device: refused, nothing written to it", () =>
    Effect.gen(function*() {
      const pidFile = Path.join(dir, "null.pid")
      Fs.symlinkSync("/dev/null", pidFile)
      expect(yield* refused(pidFile)).toBe("pidfile-open: ELOOP (a symbolic link)")
      expect(yield* refused("/dev/null")).toBe("pidfile-type: not a regular file of one link")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
