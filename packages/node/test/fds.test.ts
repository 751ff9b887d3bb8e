/**
 * Passed fds (virCommandPassFD) and input fds fed from memory (virCommandSetSendBuffer).
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"

import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"

import { between, betweenBytes, parseReport } from "./support/probe.js"
import { openFdCount, zombieChildren } from "./support/procs.js"
import { binary, buf, evidence, makeTempDir, probe, removeTempDir, text } from "./support/run.js"

let dir = ""
beforeAll(() => {
  dir = makeTempDir("ec-fds-")
})
afterAll(() => removeTempDir(dir))

let files = 0
/** A file with `content`, opened read-only: its fd. */
const openWith = (content: string | Uint8Array): number => {
  const path = Path.join(dir, `file-${++files}`)
  Fs.writeFileSync(path, content)
  return Fs.openSync(path, "r")
}

const closeQuietly = (fd: number) => {
  try {
    Fs.closeSync(fd)
  } catch {
    // closed by the executor
  }
}

/** `fstat(fd)`'s errno, or the file's identity when it is open. */
const fdState = (fd: number): string => {
  try {
    const stat = Fs.fstatSync(fd)
    return `open ${stat.dev}:${stat.ino}`
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? "unknown"
  }
}

/** An fd number this process does not have open. */
const unusedFd = (): number => {
  const open = new Set(Fs.readdirSync("/proc/self/fd").map(Number))
  let fd = 900
  while (open.has(fd)) fd++
  return fd
}

describe("passFd", () => {
  it.live("the child sees the fd at the same number and can read it", () =>
    Effect.gen(function*() {
      const fd = openWith("passed content\n")
      try {
        expect(fd).toBeGreaterThan(2)
        const out = yield* Command.string(probe("--readfd", String(fd)).pipe(Command.passFd(fd)))
        const report = parseReport(out)
        expect(report.fds).toEqual([0, 1, 2, fd])
        expect(between(out, "STDOUT")).toBe("passed content\n")
      } finally {
        closeQuietly(fd)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("two passed fds, with a gap between them", () =>
    Effect.gen(function*() {
      const a = openWith("A")
      const filler = Array.from({ length: 3 }, () => openWith("filler"))
      const b = openWith("B")
      try {
        const out = yield* Command.string(
          probe("--readfd", String(b), "--readfd", String(a)).pipe(Command.passFd(a), Command.passFd(b))
        )
        expect(parseReport(out).fds).toEqual([0, 1, 2, a, b])
        expect(between(out, "STDOUT")).toBe("BA")
      } finally {
        for (const fd of [a, b, ...filler]) closeQuietly(fd)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("closeParent: the parent's fd is closed after the run; one passed without it stays open", () =>
    Effect.gen(function*() {
      const closed = openWith("closed in the parent")
      const kept = openWith("kept in the parent")
      const keptBefore = fdState(kept)
      try {
        const out = yield* Command.string(
          probe("--readfd", String(closed), "--readfd", String(kept)).pipe(
            Command.passFd(closed, { closeParent: true }),
            Command.passFd(kept)
          )
        )
        expect(parseReport(out).fds).toEqual([0, 1, 2, closed, kept])
        expect(between(out, "STDOUT")).toBe("closed in the parentkept in the parent")
        expect(fdState(closed)).toBe("EBADF")
        expect(fdState(kept)).toBe(keptBefore)
      } finally {
        closeQuietly(closed)
        closeQuietly(kept)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("closeParent with start: closed once the child was spawned, while it runs", () =>
    Effect.gen(function*() {
      const fd = openWith("x")
      try {
        yield* Effect.scoped(Effect.gen(function*() {
          const process = yield* Command.start(
            probe("--no-report", "--quiet-io").pipe(Command.stdin("pipe"), Command.passFd(fd, { closeParent: true }))
          )
          // The child holds it (blocked on stdin), the parent no longer does.
          expect(Fs.readlinkSync(`/proc/${process.pid}/fd/${fd}`)).toBe(Path.join(dir, `file-${files}`))
          expect(fdState(fd)).toBe("EBADF")
          yield* Stream.run(Stream.empty, process.stdin)
          expect(yield* process.wait).toEqual(ExitStatus.exited(0))
        }))
      } finally {
        closeQuietly(fd)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("closeParent also closes the fd when the spawn fails", () =>
    Effect.gen(function*() {
      const failing = [
        ["NotFound", Command.make(Path.join(dir, "no-such-program"))],
        ["BadWorkingDirectory", probe().pipe(Command.workingDirectory(Path.join(dir, "no-such-dir")))],
        ["SetupFailed", probe().pipe(Command.uid("no-such-user-ec"))],
        ["NotFound", probe().pipe(Command.stdin(Command.Input.file(Path.join(dir, "no-such-input"))))]
      ] as const
      for (const [reason, command] of failing) {
        const fd = openWith("x")
        try {
          const error = yield* Effect.flip(Command.run(command.pipe(Command.passFd(fd, { closeParent: true }))))
          expect(error._tag === "SpawnError" && error.reason).toBe(reason)
          expect(fdState(fd)).toBe("EBADF")
        } finally {
          closeQuietly(fd)
        }
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a passed fd that is not open: SpawnError, nothing spawned, nothing leaked", () =>
    Effect.gen(function*() {
      const marker = Path.join(dir, "spawned-with-bad-fd")
      const missing = unusedFd()
      const closeParent = openWith("closed even though the spawn failed")
      try {
        const fdsBefore = openFdCount()
        const error = yield* Effect.flip(Command.run(
          evidence(marker).pipe(Command.passFd(closeParent, { closeParent: true }), Command.passFd(missing))
        ))
        expect(zombieChildren()).toEqual([])
        // Only the closeParent fd is gone.
        expect(openFdCount()).toBe(fdsBefore - 1)
        expect(error._tag).toBe("SpawnError")
        if (error._tag !== "SpawnError") return
        expect(error.errno).toBe("EBADF")
        expect(error.stage).toBe("passFd")
        expect(error.message).toContain(`fd ${missing}`)
        expect(Fs.existsSync(marker)).toBe(false)
        expect(fdState(closeParent)).toBe("EBADF")
      } finally {
        closeQuietly(closeParent)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("inputFd", () => {
  it.live("the child reads exactly the bytes at the fd, then EOF", () =>
    Effect.gen(function*() {
      const bytes = binary(300_007)
      const { status, stdout } = yield* Command.run(
        probe("--readfd", "3").pipe(Command.inputFd(3, bytes), Command.stdout("capture"))
      )
      expect(status).toEqual(ExitStatus.exited(0))
      expect(parseReport(stdout).fds).toEqual([0, 1, 2, 3])
      expect(betweenBytes(stdout, "STDOUT").equals(buf(bytes))).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("an empty input fd is EOF at once", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(probe("--no-report", "--readfd", "5").pipe(Command.inputFd(5, "")))
      expect(out).toBe("BEGIN STDOUT\nEND STDOUT\n")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("two input fds at once, with a gap; each gets its own bytes", () =>
    Effect.gen(function*() {
      const three = Crypto.randomBytes(2 * 1024 * 1024)
      const seven = Crypto.randomBytes(3 * 1024 * 1024)
      const { stderr, stdout } = yield* Command.run(
        probe("--readfd", "7", "--readfd", "3").pipe(
          Command.inputFd(3, three),
          Command.inputFd(7, seven),
          Command.stdout("capture"),
          Command.stderr("capture")
        )
      )
      expect(parseReport(stdout).fds).toEqual([0, 1, 2, 3, 7])
      const expected = Buffer.concat([seven, three])
      expect(betweenBytes(stdout, "STDOUT").equals(expected)).toBe(true)
      expect(betweenBytes(stderr, "STDERR").equals(expected)).toBe(true)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("combined with a stdin feed and a passed fd", () =>
    Effect.gen(function*() {
      const passed = openWith("P")
      try {
        const out = yield* Command.string(
          probe("--no-report", "--readfd", "3", "--readfd", "4", "--readfd", String(passed)).pipe(
            Command.feed("S"),
            Command.inputFd(4, "U"),
            Command.inputFd(3, "T"),
            Command.passFd(passed, { closeParent: true })
          )
        )
        expect(out).toBe("BEGIN STDOUT\nSTUPEND STDOUT\n")
        expect(fdState(passed)).toBe("EBADF")
      } finally {
        closeQuietly(passed)
      }
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("an input fd the child never reads is not an error", () =>
    Effect.gen(function*() {
      const { status, stdout } = yield* Command.run(
        probe("--no-report").pipe(Command.inputFd(3, new Uint8Array(16 * 1024 * 1024)), Command.stdout("capture"))
      )
      expect(status).toEqual(ExitStatus.exited(0))
      expect(text(stdout)).toBe("BEGIN STDOUT\nEND STDOUT\n")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})
