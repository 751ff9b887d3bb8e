/**
 * Tests for the probe program itself (test/fixtures/probe.c), driven with
 * node:child_process directly so they do not depend on the executor.
 */
import { Buffer } from "node:buffer"
import type { ChildProcess, SpawnOptions, SpawnSyncOptions } from "node:child_process"
import { spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Writable } from "node:stream"

import { afterEach, describe, expect, it } from "@effect/vitest"

import type { Collected } from "./support/collect.js"
import { collect } from "./support/collect.js"
import { between, betweenBytes, parseReport, pattern, ProbeExit, probePath, withInheritedFds } from "./support/probe.js"

const must = <A>(a: A | null | undefined, what: string): A => {
  if (a === null || a === undefined) throw new Error(`missing ${what}`)
  return a
}

/** spawnSync the probe, output as utf8 text. */
const runSync = (args: ReadonlyArray<string>, options: SpawnSyncOptions = {}) => {
  const r = spawnSync(probePath, args, { maxBuffer: 64 * 1024 * 1024, ...options })
  if (r.error !== undefined) throw r.error
  return { status: r.status, signal: r.signal, pid: r.pid, stdout: String(r.stdout), stderr: String(r.stderr), raw: r }
}

/** Runs `probe args...` through `sh -c script` (the script must `exec "$0" "$@"`). */
const runSh = (script: string, args: ReadonlyArray<string>, options: SpawnSyncOptions = {}) => {
  const r = spawnSync("sh", ["-c", script, probePath, ...args], { maxBuffer: 64 * 1024 * 1024, ...options })
  if (r.error !== undefined) throw r.error
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) }
}

interface Started {
  readonly child: ChildProcess
  /** Throws if stdin is not a pipe. */
  readonly stdin: () => Writable
  readonly stdout: Collected
  readonly stderr: Collected
  readonly exit: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly close: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const running = new Set<ChildProcess>()
const holderMarkers = new Set<string>()

const start = (args: ReadonlyArray<string>, options: SpawnOptions = {}): Started => {
  const child = spawn(probePath, args, { stdio: "pipe", ...options })
  running.add(child)
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject)
    child.once("exit", (code, signal) => resolve({ code, signal }))
  })
  const close = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }))
  })
  return {
    child,
    stdin: () => must(child.stdin, "stdin"),
    stdout: collect(must(child.stdout, "stdout")),
    stderr: collect(must(child.stderr, "stderr")),
    exit,
    close
  }
}

/** Live processes whose environment holds `PROBE_TEST_MARKER=<marker>`. */
const findByMarker = (marker: string): Array<number> => {
  const needle = `PROBE_TEST_MARKER=${marker}`
  const found: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(needle)) found.push(Number(entry))
    } catch {
      // gone, or not ours
    }
  }
  return found
}

const killQuietly = (pid: number) => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // already gone
  }
}

afterEach(() => {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  running.clear()
  for (const marker of holderMarkers) findByMarker(marker).forEach(killQuietly)
  holderMarkers.clear()
})

const tempDir = () => realpathSync(mkdtempSync(join(tmpdir(), "probe-test-")))

describe("probe", () => {
  describe("report", () => {
    it("reports argv, env sorted by name, fds, cwd and process group", () => {
      const cwd = tempDir()
      try {
        const args = ["--no-stdin", "plain", "with space", "", "ünïcödé", "-", "--", "--not-a-flag", "-x"]
        const env = { b: "lower", B: "2", A: "1", _Z: "underscore", EMPTY: "", WITH_EQ: "x=y=z" }
        const r = runSync(args, { env, cwd })
        expect(r.status).toBe(0)
        const report = parseReport(r.stdout)
        expect(report.args).toEqual(args)
        expect(report.env).toEqual(env)
        // byte order: upper case < '_' < lower case
        const envLines = r.stdout.split("\n").filter((l) => l.startsWith("ENV:"))
        expect(envLines).toEqual([
          "ENV:A=1",
          "ENV:B=2",
          "ENV:EMPTY=",
          "ENV:WITH_EQ=x=y=z",
          "ENV:_Z=underscore",
          "ENV:b=lower"
        ])
        expect(report.fds).toEqual(withInheritedFds([0, 1, 2]))
        expect(report.cwd).toBe(cwd)
        expect(report.pgrp).toBe("same")
        expect(report.pgidIsPid).toBe(false)
        expect(report.sidIsPid).toBe(false)
        expect(report.umask).toMatch(/^0[0-7]{3}$/)
        expect(between(r.stdout, "STDOUT")).toBe("")
        expect(between(r.stderr, "STDERR")).toBe("")
      } finally {
        rmSync(cwd, { recursive: true, force: true })
      }
    })

    it("reports an empty environment", () => {
      const r = runSync(["--no-stdin"], { env: {} })
      expect(parseReport(r.stdout).env).toEqual({})
    })

    it("lists exactly the fds it was given, numerically sorted", () => {
      const r = runSync(["--no-stdin"], {
        stdio: [
          "pipe",
          "pipe",
          "pipe",
          "ignore",
          "pipe",
          "ignore",
          "ignore",
          "ignore",
          "ignore",
          "ignore",
          "ignore",
          "pipe"
        ]
      })
      expect(r.status).toBe(0)
      expect(parseReport(r.stdout).fds).toEqual(withInheritedFds([0, 1, 2, 4, 11]))
    })

    it("reports a new session and process group when detached", async () => {
      const p = start(["--no-stdin"], { detached: true })
      const { code } = await p.close
      expect(code).toBe(0)
      const report = parseReport(p.stdout.text())
      expect(report.pgrp).toBe("new")
      expect(report.pgidIsPid).toBe(true)
      expect(report.sidIsPid).toBe(true)
    })

    it("reports the umask it inherited", () => {
      for (const [mask, expected] of [["027", "0027"], ["0", "0000"], ["777", "0777"]] as const) {
        const r = runSh(`umask ${mask}; exec "$0" "$@"`, ["--no-stdin", "--quiet-io"])
        expect(r.status).toBe(0)
        const report = parseReport(r.stdout)
        expect(report.umask).toBe(expected)
        expect(report.args).toEqual(["--no-stdin", "--quiet-io"])
      }
    })

    it("sends the report to stderr, after the PID line, with --report-to-stderr", () => {
      const r = runSync(["--report-to-stderr", "--print-pid-to-stderr"], { input: "in\n" })
      expect(r.status).toBe(0)
      expect(r.stderr.startsWith(`PID:${r.pid}\nARG:--report-to-stderr\n`)).toBe(true)
      expect(parseReport(r.stderr).args).toEqual(["--report-to-stderr", "--print-pid-to-stderr"])
      expect(r.stdout).toBe("BEGIN STDOUT\nin\nEND STDOUT\n")
      expect(between(r.stderr, "STDERR")).toBe("in\n")
    })

    it("prints no report with --no-report", () => {
      const r = runSync(["--no-report"], { input: "x" })
      expect(r.stdout).toBe("BEGIN STDOUT\nxEND STDOUT\n")
      expect(r.stderr).toBe("BEGIN STDERR\nxEND STDERR\n")
    })

    it("parses arguments that contain newlines", () => {
      const r = runSync(["--no-stdin", "two\nlines", "ARG:x\nno prefix"], { env: { MULTI: "a\nb" } })
      const report = parseReport(r.stdout)
      expect(report.args).toEqual(["--no-stdin", "two\nlines", "ARG:x\nno prefix"])
      expect(report.env).toEqual({ MULTI: "a\nb" })
    })
  })

  describe("I/O", () => {
    it("echoes stdin byte-exact on both streams", () => {
      const input = Buffer.alloc(256 * 4099)
      for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 8)) & 0xff
      const r = spawnSync(probePath, ["--no-report"], { input, maxBuffer: 64 * 1024 * 1024 })
      expect(r.status).toBe(0)
      expect(betweenBytes(r.stdout, "STDOUT").equals(input)).toBe(true)
      expect(betweenBytes(r.stderr, "STDERR").equals(input)).toBe(true)
    })

    it("reads stdin then every --readfd, in order, draining them concurrently", async () => {
      const p = start(["--readfd", "3", "--readfd=4"], { stdio: ["pipe", "pipe", "pipe", "pipe", "pipe"] })
      const fd3 = must(p.child.stdio[3], "fd 3") as Writable
      const fd4 = must(p.child.stdio[4], "fd 4") as Writable
      // End them in reverse order: the probe must not block on stdin first.
      fd4.end("four\n")
      fd3.end("three\n")
      p.stdin().end("zero\n")
      const { code, signal } = await p.close
      expect({ code, signal }).toEqual({ code: 0, signal: null })
      const report = parseReport(p.stdout.text())
      expect(report.args).toEqual(["--readfd", "3", "--readfd=4"])
      expect(report.fds).toEqual(withInheritedFds([0, 1, 2, 3, 4]))
      expect(between(p.stdout.text(), "STDOUT")).toBe("zero\nthree\nfour\n")
      expect(between(p.stderr.text(), "STDERR")).toBe("zero\nthree\nfour\n")
    })

    it("drains without echo with --quiet-io", () => {
      const r = runSync(["--no-report", "--quiet-io"], { input: "ignored" })
      expect(r.status).toBe(0)
      expect(r.stdout).toBe("")
      expect(r.stderr).toBe("")
    })

    it("writes exactly --write-stdout / --write-stderr bytes of the pattern", () => {
      const r = runSync([
        "--no-report",
        "--quiet-io",
        "--no-stdin",
        "--write-stdout",
        "3000001",
        "--write-stderr",
        "27"
      ])
      expect(r.status).toBe(0)
      expect(r.stdout.length).toBe(3000001)
      expect(r.stdout === pattern(3000001)).toBe(true)
      expect(r.stderr).toBe("abcdefghijklmnopqrstuvwxyza")
    })

    it("writes the pattern after the echo", () => {
      const r = runSync(["--no-report", "--write-stdout", "3"], { input: "in" })
      expect(r.stdout).toBe("BEGIN STDOUT\ninEND STDOUT\nabc")
    })

    it("keeps --interleave order when stdout and stderr are the same fd", () => {
      const n = 500
      const r = runSh(`exec "$0" "$@" 2>&1`, ["--no-report", "--quiet-io", "--no-stdin", "--interleave", String(n)])
      expect(r.status).toBe(0)
      const expected = Array.from({ length: n }, (_, i) => `out ${i}\nerr ${i}\n`).join("")
      expect(r.stdout).toBe(expected)
    })

    it("splits --interleave lines between the streams when they are separate", () => {
      const r = runSync(["--no-report", "--quiet-io", "--no-stdin", "--interleave", "3"])
      expect(r.stdout).toBe("out 0\nout 1\nout 2\n")
      expect(r.stderr).toBe("err 0\nerr 1\nerr 2\n")
    })

    it("--close-stdin makes writes to its stdin fail with EPIPE", async () => {
      const p = start(["--close-stdin", "--ready", "--no-report", "--quiet-io", "--readfd", "3"], {
        stdio: ["pipe", "pipe", "pipe", "pipe"]
      })
      const fd3 = must(p.child.stdio[3], "fd 3") as Writable
      // READY is written after fd 0 was closed; fd 3 keeps the probe alive meanwhile.
      await p.stdout.until(/READY\n/)
      const failed = new Promise<NodeJS.ErrnoException>((resolve) => p.stdin().once("error", resolve))
      p.stdin().write("x".repeat(1 << 16))
      expect((await failed).code).toBe("EPIPE")
      fd3.end()
      expect(await p.exit).toEqual({ code: 0, signal: null })
    })

    it("does not list fd 0 after --close-stdin", () => {
      const r = runSync(["--close-stdin"])
      expect(parseReport(r.stdout).fds).toEqual(withInheritedFds([1, 2]))
    })
  })

  describe("events and process control", () => {
    it("--ready is written before stdin is read", async () => {
      const p = start(["--ready"])
      await p.stdout.until(/^READY\n/)
      p.stdin().end("late")
      expect(await p.close).toEqual({ code: 0, signal: null })
      expect(p.stdout.text().startsWith("READY\nARG:--ready\n")).toBe(true)
      expect(between(p.stdout.text(), "STDOUT")).toBe("late")
    })

    it("--print-pid-to-stderr announces the pid; --ignore-term survives SIGTERM", async () => {
      const p = start(["--print-pid-to-stderr", "--ignore-term", "--no-report", "--quiet-io"])
      const m = await p.stderr.until(/^PID:(\d+)\n/)
      expect(Number(m[1])).toBe(p.child.pid)
      // The disposition is set before the PID line, so this SIGTERM is discarded.
      expect(p.child.kill("SIGTERM")).toBe(true)
      p.stdin().end()
      expect(await p.exit).toEqual({ code: 0, signal: null })
    })

    it("dies of SIGTERM without --ignore-term", async () => {
      const p = start(["--print-pid-to-stderr", "--no-report", "--quiet-io"])
      await p.stderr.until(/^PID:\d+\n/)
      p.child.kill("SIGTERM")
      expect(await p.exit).toEqual({ code: null, signal: "SIGTERM" })
    })

    it("exits with --exit N", () => {
      for (const n of [0, 1, 42, 255]) {
        expect(runSync(["--no-report", "--no-stdin", "--quiet-io", "--exit", String(n)]).status).toBe(n)
      }
    })

    it("raises --signal by name or number, without dumping core", () => {
      const cwd = tempDir()
      try {
        const cases = [
          ["SIGTERM", "SIGTERM"],
          ["KILL", "SIGKILL"],
          ["9", "SIGKILL"],
          ["SIGSEGV", "SIGSEGV"],
          ["ABRT", "SIGABRT"],
          ["SIGUSR1", "SIGUSR1"]
        ] as const
        for (const [arg, name] of cases) {
          const r = runSync(["--no-report", "--no-stdin", "--quiet-io", "--signal", arg, "--exit", "3"], { cwd })
          expect({ arg, status: r.status, signal: r.signal }).toEqual({ arg, status: null, signal: name })
        }
        expect(readdirSync(cwd)).toEqual([])
      } finally {
        rmSync(cwd, { recursive: true, force: true })
      }
    })

    it("falls through to --exit when the signal's default action is to ignore", () => {
      const r = runSync(["--no-report", "--no-stdin", "--quiet-io", "--signal", "SIGCHLD", "--exit", "5"])
      expect({ status: r.status, signal: r.signal }).toEqual({ status: 5, signal: null })
    })

    it("rejects unknown flags and bad values with 64 before doing anything", () => {
      const bad = [
        ["--bogus"],
        ["-x"],
        ["--exit"],
        ["--exit", "256"],
        ["--exit", "-1"],
        ["--exit=1x"],
        ["--signal", "SIGNOPE"],
        ["--readfd", "3", "--readfd", "3"],
        ["--readfd", "0"],
        ["--quiet-io=yes"],
        ["--write-stdout", "10", "--nope"]
      ]
      for (const args of bad) {
        const r = runSync(args)
        expect({ args, status: r.status }).toEqual({ args, status: ProbeExit.usage })
        expect(r.stdout).toBe("")
        expect(r.stderr).toMatch(/^probe: .+\n$/)
      }
    })

    it("fails with 74 on a --readfd that is not open", () => {
      const r = runSync(["--no-report", "--no-stdin", "--readfd", "9"])
      expect(r.status).toBe(ProbeExit.ioError)
      expect(r.stderr).toContain("fd 9")
    })

    it("--fork-holder leaves stdout open after the probe itself exits", async () => {
      const marker = randomUUID()
      holderMarkers.add(marker)
      const p = start([
        "--fork-holder",
        "60000",
        "--no-report",
        "--quiet-io",
        "--no-stdin",
        "--write-stdout",
        "5",
        "--exit",
        "3"
      ], {
        env: { PROBE_TEST_MARKER: marker },
        stdio: ["ignore", "pipe", "pipe"]
      })
      expect(await p.exit).toEqual({ code: 3, signal: null })
      // The probe is gone (and reaped), but its grandchild still holds stdout/stderr.
      const holders = findByMarker(marker)
      expect(holders).toHaveLength(1)
      expect(holders).not.toContain(p.child.pid)
      expect(p.stdout.ended()).toBe(false)
      expect(p.stderr.ended()).toBe(false)
      for (const pid of holders) process.kill(pid, "SIGKILL")
      // Only now can the pipes reach EOF.
      expect(await p.close).toEqual({ code: 3, signal: null })
      expect(p.stdout.ended()).toBe(true)
      expect(p.stdout.text()).toBe("abcde")
    })
  })
})
