/**
 * Tests for effect-command-helper (native/helper.c + native/setup.c), driven
 * directly with node:child_process: the helper's status fd is stdio index 3,
 * the target is usually the probe (test/fixtures/probe.c) or a /bin/sh or
 * /bin/cat that prints what the probe does not (/proc/self/status, limits).
 *
 * Every failure must arrive as exactly one "<stage> <errno>\n" record on the
 * status fd with exit code 125 (126/127 for execve); every success as EOF on
 * the status fd without a byte.  These tests run as root.
 */
import { Buffer } from "node:buffer"
import type { ChildProcess } from "node:child_process"
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs"
import { constants, tmpdir } from "node:os"
import { join } from "node:path"
import type { Readable } from "node:stream"

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "@effect/vitest"

import { collect } from "./support/collect.js"
import { parseReport, probePath } from "./support/probe.js"
import { isAlive } from "./support/procs.js"
import {
  buildHelper,
  capsOf,
  helperPath,
  killLeftovers,
  limitsOf,
  nativeSources,
  runHelper,
  startHelper,
  statField,
  statusField,
  track
} from "./support/raw-helper.js"

const E = constants.errno
const EXIT_SETUP = 125

/** `-- probe probe ARGS...`: the probe as the target, argv[0] "probe". */
const probe = (...args: Array<string>) => ["--", probePath, "probe", ...args]
/** The probe's report and nothing else. */
const quietProbe = (...args: Array<string>) => probe("--no-stdin", "--quiet-io", ...args)
/** `-- /bin/sh sh -c SCRIPT` */
const sh = (script: string) => ["--", "/bin/sh", "sh", "-c", script]
/** `-- /bin/cat cat FILE`: cat itself is the target, so /proc/self is the target. */
const cat = (file: string) => ["--", "/bin/cat", "cat", file]

const ownStatus = readFileSync("/proc/self/status", "utf8")
const capLastCap = Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"))
const ownCaps = capsOf(ownStatus)
const CAP_NET_BIND_SERVICE = 10n
/** A capability this process does not hold (CAP_SYS_RESOURCE in some containers), if any. */
const missingCap = Array.from({ length: capLastCap + 1 }, (_, i) => BigInt(i)).find((c) =>
  (ownCaps.CapPrm & (1n << c)) === 0n
)
const ownNofileHard = Number(limitsOf(readFileSync("/proc/self/limits", "utf8"))["Max open files"]![1])

const tempDirs: Array<string> = []
const tempDir = () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "ec-helper-test-")))
  tempDirs.push(dir)
  return dir
}

/** A copy of the helper built with -DEC_FORCE_PROC_FD_SCAN: closes fds by listing /proc/self/fd. */
let procScanHelper = ""

beforeAll(() => {
  buildHelper()
  const dir = tempDir()
  procScanHelper = join(dir, "helper-proc-scan")
  const cc = spawnSync("cc", [
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-DEC_FORCE_PROC_FD_SCAN",
    "-o",
    procScanHelper,
    ...nativeSources
  ], {
    encoding: "utf8"
  })
  if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`)
})

afterEach(() => {
  killLeftovers()
})

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

/** Expects a clean start: exit `code`, no status record. */
const expectExec = (r: { code: number | null; signal: string | null; status: string; stderr: string }, code = 0) => {
  expect({ code: r.code, signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({
    code,
    signal: null,
    status: "",
    stderr: ""
  })
}

/** Expects one failure record and the exit code that goes with it. */
const expectFailure = (
  r: { code: number | null; signal: string | null; status: string },
  record: string,
  code = EXIT_SETUP
) => {
  expect({ status: r.status, code: r.code, signal: r.signal }).toEqual({ status: `${record}\n`, code, signal: null })
}

/**
 * Runs `helper --status-fd 3 --keep-fd 4 OUTER... -- helper --status-fd 4 INNER...`: the inner
 * helper runs with less privilege (as set up by OUTER) and reports on fd 4.
 */
const runNested = async (outer: ReadonlyArray<string>, inner: ReadonlyArray<string>) => {
  const p = startHelper([
    "--keep-fd",
    "4",
    ...outer,
    "--",
    helperPath,
    "effect-command-helper",
    "--status-fd",
    "4",
    ...inner
  ], {
    extraStdio: ["pipe"]
  })
  const innerStatus = collect(p.fd(4))
  const [exit, outerStatus, status, stdout, stderr] = await Promise.all([
    p.exit,
    p.status.end,
    innerStatus.end,
    p.stdout.end,
    p.stderr.end
  ])
  expect(outerStatus).toBe("") // the outer helper exec'd the inner one
  return { ...exit, status, stdout, stderr }
}

/** The inner helper as nobody: no capabilities at all. */
const runAsNobody = (inner: ReadonlyArray<string>) => runNested(["--uid", "nobody"], inner)

describe("effect-command-helper", () => {
  describe("exec in place", () => {
    it("execs the target with its argv and environment, same pid, status fd at EOF", async () => {
      const r = await runHelper(probe("--no-stdin", "--quiet-io", "--print-pid-to-stderr", "a b", ""), {
        env: { ONLY: "this" }
      })
      expect({ code: r.code, status: r.status }).toEqual({ code: 0, status: "" })
      expect(r.stderr).toBe(`PID:${r.pid}\n`)
      const report = parseReport(r.stdout)
      expect(report.args).toEqual(["--no-stdin", "--quiet-io", "--print-pid-to-stderr", "a b", ""])
      expect(report.env).toEqual({ ONLY: "this" })
      expect(report.fds).toEqual([0, 1, 2]) // the status fd was close-on-exec
    })

    it("passes argv[0] as given", async () => {
      const r = await runHelper(["--", "/bin/sh", "custom-name", "-c", "printf %s \"$0\""])
      expectExec(r)
      expect(r.stdout).toBe("custom-name")
    })

    it("reports ENOENT from execve with exit 127", async () => {
      const r = await runHelper(["--", "/nonexistent/program", "x"])
      expectFailure(r, `execve ${E.ENOENT}`, 127)
    })

    it("reports EACCES from execve with exit 126 (no execute bit, or a directory)", async () => {
      const file = join(tempDir(), "not-executable")
      writeFileSync(file, "#!/bin/sh\nexit 0\n", { mode: 0o644 })
      expectFailure(await runHelper(["--", file, "x"]), `execve ${E.EACCES}`, 126)
      expectFailure(await runHelper(["--", "/tmp", "x"]), `execve ${E.EACCES}`, 126)
    })

    it("reports ENOEXEC from execve with exit 126", async () => {
      const file = join(tempDir(), "garbage")
      writeFileSync(file, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]), { mode: 0o755 })
      expectFailure(await runHelper(["--", file, "x"]), `execve ${E.ENOEXEC}`, 126)
    })
  })

  describe("1. umask", () => {
    it("sets the umask, 0 included; leaves it alone without --umask", async () => {
      const inherited =
        parseReport(spawnSync(probePath, ["--no-stdin", "--quiet-io"], { encoding: "utf8" }).stdout).umask
      for (
        const [mask, expected] of [["027", "0027"], ["0", "0000"], ["777", "0777"], [undefined, inherited]] as const
      ) {
        const r = await runHelper([...(mask === undefined ? [] : ["--umask", mask]), ...quietProbe()])
        expectExec(r)
        expect({ mask, umask: parseReport(r.stdout).umask }).toEqual({ mask, umask: expected })
      }
    })
  })

  describe("2. close fds", () => {
    it("closes an fd given to the helper unless --keep-fd names it", async () => {
      const without = await runHelper(quietProbe(), { extraStdio: ["ignore", "pipe"] })
      expectExec(without)
      expect(parseReport(without.stdout).fds).toEqual([0, 1, 2])
      const kept = await runHelper(["--keep-fd", "5", ...quietProbe()], { extraStdio: ["ignore", "pipe"] })
      expectExec(kept)
      expect(parseReport(kept.stdout).fds).toEqual([0, 1, 2, 5])
    })

    it("keeps exactly the listed fds, closing the gaps between them", async () => {
      const extraStdio = Array.from({ length: 8 }, () => "pipe" as const) // fds 4..11
      for (const binary of [undefined, procScanHelper]) {
        const r = await runHelper(["--keep-fd", "9", "--keep-fd", "5", "--keep-fd", "7", ...quietProbe()], {
          extraStdio,
          ...(binary !== undefined ? { binary } : {})
        })
        expectExec(r)
        expect({ binary, fds: parseReport(r.stdout).fds }).toEqual({ binary, fds: [0, 1, 2, 5, 7, 9] })
      }
    })

    it("closes fds that the parent itself inherited without close-on-exec", async () => {
      // sh opens 7 and 9 without O_CLOEXEC, as a shell does for `node app.js 7</dev/null`.
      const script = "exec \"$@\" 7</dev/null 9</dev/null"
      const plain = spawnSync("sh", ["-c", script, "sh", probePath, "--no-stdin", "--quiet-io"], { encoding: "utf8" })
      expect(parseReport(plain.stdout).fds).toEqual(expect.arrayContaining([7, 9])) // what leaks today
      for (const binary of [helperPath, procScanHelper]) {
        const p = spawn("sh", ["-c", script, "sh", binary, "--status-fd", "3", "--keep-fd", "9", ...quietProbe()], {
          stdio: ["ignore", "pipe", "pipe", "pipe"]
        })
        const [stdout, status] = await Promise.all([collect(p.stdout!).end, collect(p.stdio[3] as Readable).end])
        expect(status).toBe("")
        expect({ binary, fds: parseReport(stdout).fds }).toEqual({ binary, fds: [0, 1, 2, 9] })
      }
    })

    it("fails with stage keep-fd when a kept fd is not open", async () => {
      expectFailure(await runHelper(["--keep-fd", "9", ...quietProbe()]), `keep-fd ${E.EBADF}`)
    })

    it("fails with stage cloexec when a handshake fd is not open", async () => {
      expectFailure(
        await runHelper(["--handshake-ready", "8", "--handshake-wait", "9", ...quietProbe()]),
        `cloexec ${E.EBADF}`
      )
    })
  })

  describe("2b. stderr to stdout", () => {
    it("makes fd 2 the same file as fd 1, so interleaved writes keep their order", async () => {
      const n = 300
      const r = await runHelper([
        "--stderr-to-stdout",
        ...probe("--no-report", "--quiet-io", "--no-stdin", "--interleave", String(n))
      ])
      expectExec(r)
      expect(r.stdout).toBe(Array.from({ length: n }, (_, i) => `out ${i}\nerr ${i}\n`).join(""))
      const apart = await runHelper(probe("--no-report", "--quiet-io", "--no-stdin", "--interleave", "2"))
      expect([apart.stdout, apart.stderr]).toEqual(["out 0\nout 1\n", "err 0\nerr 1\n"])
    })

    it("fails with stage dup2 when stdout is closed", async () => {
      const p = spawn("sh", [
        "-c",
        "exec \"$@\" >&-",
        "sh",
        helperPath,
        "--status-fd",
        "3",
        "--stderr-to-stdout",
        ...quietProbe()
      ], {
        stdio: ["ignore", "pipe", "pipe", "pipe"]
      })
      const code = new Promise<number | null>((resolve) => p.once("exit", resolve))
      expect(await collect(p.stdio[3] as Readable).end).toBe(`dup2 ${E.EBADF}\n`)
      expect(await code).toBe(EXIT_SETUP)
    })
  })

  describe("3. process group", () => {
    it("puts the target in a new process group by default, in our session", async () => {
      const r = await runHelper(quietProbe())
      expectExec(r)
      const report = parseReport(r.stdout)
      expect([report.pgrp, report.pgidIsPid, report.sidIsPid]).toEqual(["new", true, false])
    })

    it("stays in our process group with --pgid inherit", async () => {
      const r = await runHelper(["--pgid", "inherit", ...quietProbe()])
      expectExec(r)
      const report = parseReport(r.stdout)
      expect([report.pgrp, report.pgidIsPid, report.sidIsPid]).toEqual(["same", false, false])
    })

    it("--setsid makes a new session (and group) instead", async () => {
      for (const pgid of ["new", "inherit"]) {
        const r = await runHelper(["--pgid", pgid, "--setsid", ...quietProbe()])
        expectExec(r)
        const report = parseReport(r.stdout)
        expect({ pgid, ids: [report.pgrp, report.pgidIsPid, report.sidIsPid] }).toEqual({
          pgid,
          ids: ["new", true, true]
        })
      }
    })
  })

  describe("4. die with parent", () => {
    // A Node parent that starts the probe through the helper and passes our pipe on as fd 4 (so
    // its end tells us the probe is gone); it prints nothing itself: READY and PID come from the probe.
    const parentScript = `
      const { spawn } = require("node:child_process")
      const [helper, probe, mode] = process.argv.slice(1)
      const setup = mode === "none" ? [] : ["--pdeathsig", "9", "--parent-pid", String(process.pid)]
      if (mode === "nobody") setup.push("--uid", "nobody")
      const c = spawn(helper, ["--status-fd", "3", ...setup, "--keep-fd", "4", "--", probe, "probe",
        "--print-pid-to-stderr", "--ready", "--no-report", "--quiet-io", "--no-stdin", "--sleep-ms", "600000"],
        { stdio: ["ignore", "inherit", "inherit", "pipe", 4] })
      c.stdio[3].on("data", (d) => process.stderr.write("STATUS:" + d))
    `

    const startParent = async (mode: "pdeathsig" | "nobody" | "none") => {
      const parent: ChildProcess = spawn(process.execPath, ["-e", parentScript, helperPath, probePath, mode], {
        stdio: ["ignore", "pipe", "pipe", "ignore", "pipe"]
      })
      const parentPid = track(parent.pid!)
      const exited = new Promise<void>((resolve) => parent.once("exit", () => resolve()))
      const stdout = collect(parent.stdout!)
      const stderr = collect(parent.stderr!)
      const held = collect(parent.stdio[4] as Readable)
      await stdout.until(/READY\n/)
      const pid = track(Number((await stderr.until(/PID:(\d+)\n/))[1]))
      expect(statField(readFileSync(`/proc/${pid}/stat`, "latin1"), 4)).toBe(String(parentPid))
      return { parent, pid, exited, held, stderr }
    }

    for (const mode of ["pdeathsig", "nobody"] as const) {
      it(`kills the target when its parent is SIGKILLed${mode === "nobody" ? " (re-armed after --uid nobody)" : ""}`, async () => {
        const { exited, held, parent, pid, stderr } = await startParent(mode)
        parent.kill("SIGKILL")
        await exited
        await held.end // the target was the last holder of fd 4
        await vi.waitFor(() => expect(isAlive(pid)).toBe(false), { timeout: 1000, interval: 10 })
        expect(stderr.text()).not.toContain("STATUS:")
      })
    }

    it("without --pdeathsig the target outlives its parent (control)", async () => {
      const { exited, held, parent, pid } = await startParent("none")
      parent.kill("SIGKILL")
      await exited
      expect(isAlive(pid)).toBe(true)
      expect(held.ended()).toBe(false)
      process.kill(pid, "SIGKILL")
      await held.end
    })

    it("sends the signal itself when the parent is already gone (getppid() differs)", async () => {
      // Our pid is the real parent; claiming pid 1 is what a child reparented to init would see.
      expect(process.pid).not.toBe(1)
      const r = await runHelper(["--pdeathsig", "15", "--parent-pid", "1", ...quietProbe()])
      expect({ code: r.code, signal: r.signal, status: r.status, stdout: r.stdout }).toEqual({
        code: null,
        signal: "SIGTERM",
        status: "",
        stdout: ""
      })
    })
  })

  describe("5. daemonize", () => {
    const locksHeldBy = (pid: number, inode: number) =>
      readFileSync("/proc/locks", "utf8")
        .split("\n")
        .filter((l) => new RegExp(`\\bPOSIX\\s+ADVISORY\\s+WRITE\\s+${pid}\\s+[0-9a-f]+:[0-9a-f]+:${inode}\\s`).test(l))

    it("writes and locks the pidfile before the helper exits; the daemon is a session leader in /", async () => {
      const dir = tempDir()
      const pidfile = join(dir, "daemon.pid")
      const p = startHelper([
        "--daemonize",
        "--pidfile",
        pidfile,
        "--umask",
        "022",
        ...quietProbe("--sleep-ms", "600000")
      ], { cwd: dir })
      expect(await p.exit).toEqual({ code: 0, signal: null })
      // The intermediate has exited: the pidfile is there, written, locked.
      const text = readFileSync(pidfile, "utf8")
      expect(text).toMatch(/^\d+$/)
      const pid = track(Number(text))
      expect(pid).not.toBe(p.pid)
      expect(statSync(pidfile).mode & 0o777).toBe(0o644)
      expect(locksHeldBy(pid, statSync(pidfile).ino)).toHaveLength(1)

      await p.stdout.until(/UMASK:\d+\n/)
      const report = parseReport(p.stdout.text())
      expect(report.cwd).toBe("/")
      expect([report.sidIsPid, report.pgidIsPid]).toEqual([true, true])
      // 0, 1, 2 and the locked pidfile, kept open into the daemon.
      expect(report.fds).toHaveLength(4)
      expect(readlinkSync(`/proc/${pid}/fd/${report.fds[3]}`)).toBe(pidfile)
      expect(await p.status.end).toBe("") // EOF when the daemon exec'd

      // A second daemon on the same pidfile: the grandchild finds the lock taken.
      const second = await runHelper(["--daemonize", "--pidfile", pidfile, ...quietProbe()])
      expect(second.code).toBe(EXIT_SETUP)
      expect(second.status).toMatch(new RegExp(`^pidfile-lock (${E.EAGAIN}|${E.EACCES})\n$`))
      expect(readFileSync(pidfile, "utf8")).toBe(String(pid))

      // Stopped by pid; its stdout is ours, so its end is the daemon's end.
      process.kill(pid, "SIGKILL")
      await p.stdout.end
      await vi.waitFor(() => expect(isAlive(pid)).toBe(false), { timeout: 1000, interval: 10 })
    })

    it("daemonizes without a pidfile", async () => {
      const p = startHelper([
        "--daemonize",
        ...probe("--no-stdin", "--quiet-io", "--print-pid-to-stderr", "--sleep-ms", "600000")
      ])
      expect(await p.exit).toEqual({ code: 0, signal: null })
      const pid = track(Number((await p.stderr.until(/PID:(\d+)\n/))[1]))
      await p.stdout.until(/UMASK:\d+\n/)
      const report = parseReport(p.stdout.text())
      expect([report.cwd, report.sidIsPid, report.fds]).toEqual(["/", true, [0, 1, 2]])
      process.kill(pid, "SIGKILL")
      await p.stdout.end
    })

    it("fails with pidfile-open when the pidfile cannot be created (the intermediate exits 125)", async () => {
      const r = await runHelper(["--daemonize", "--pidfile", "/nonexistent/dir/pid", ...quietProbe()])
      expectFailure(r, `pidfile-open ${E.ENOENT}`)
    })

    it("reports a failure after the intermediate exited on the status fd", async () => {
      // chdir comes after the fork: the helper's own exit says 0, the status fd says why.
      const r = await runHelper(["--daemonize", "--cwd", "/nonexistent", ...quietProbe()])
      expectFailure(r, `chdir ${E.ENOENT}`, 0)
    })
  })

  describe("6. rlimits", () => {
    it("sets NOFILE, NPROC, CORE, MEMLOCK and others by name", async () => {
      const r = await runHelper([
        "--rlimit",
        "NOFILE:100:200",
        "--rlimit",
        "NPROC:300:400",
        "--rlimit",
        "CORE:0:1024",
        "--rlimit",
        "MEMLOCK:65536:65536",
        "--rlimit",
        "FSIZE:1048576:unlimited",
        "--rlimit",
        "SIGPENDING:50:60",
        "--rlimit",
        "MSGQUEUE:8192:8192",
        ...cat("/proc/self/limits")
      ])
      expectExec(r)
      const limits = limitsOf(r.stdout)
      expect(limits["Max open files"]).toEqual(["100", "200"])
      expect(limits["Max processes"]).toEqual(["300", "400"])
      expect(limits["Max core file size"]).toEqual(["0", "1024"])
      expect(limits["Max locked memory"]).toEqual(["65536", "65536"])
      expect(limits["Max file size"]).toEqual(["1048576", "unlimited"])
      expect(limits["Max pending signals"]).toEqual(["50", "60"])
      expect(limits["Max msgqueue size"]).toEqual(["8192", "8192"])
    })

    it("shows in the shell's ulimit", async () => {
      const r = await runHelper(["--rlimit", "NOFILE:123:456", ...sh("ulimit -n; ulimit -Hn")])
      expectExec(r)
      expect(r.stdout).toBe("123\n456\n")
    })

    it("fails with setrlimit(NAME) and the errno", async () => {
      expectFailure(await runHelper(["--rlimit", "NOFILE:300:200", ...quietProbe()]), `setrlimit(NOFILE) ${E.EINVAL}`)
    })

    it("fails with setrlimit(NOFILE) EPERM raising the hard limit as a user", async () => {
      const r = await runAsNobody(["--rlimit", `NOFILE:100:${ownNofileHard + 1}`, ...quietProbe()])
      expectFailure(r, `setrlimit(NOFILE) ${E.EPERM}`)
    })
  })

  describe("7. pre-exec actions", () => {
    it("adds to the nice value like nice(1), clamped; actions applied in the order given", async () => {
      const own = Number(statField(readFileSync("/proc/self/stat", "latin1"), 19))
      const clamp = (n: number) => Math.min(19, Math.max(-20, n))
      const cases = [
        [["--nice", "7"], clamp(own + 7)],
        [["--nice", "-3"], clamp(own - 3)],
        [["--nice", "3", "--nice", "5"], clamp(own + 8)],
        // Clamping makes the order visible: 19 - 5, or (own - 5) + 30 -> 19.
        [["--nice", "30", "--nice", "-5"], 14],
        [["--nice", "-5", "--nice", "30"], 19]
      ] as const
      for (const [args, nice] of cases) {
        const r = await runHelper([...args, ...cat("/proc/self/stat")])
        expectExec(r)
        expect({ args, nice: statField(r.stdout, 19) }).toEqual({ args, nice: String(nice) })
      }
    })

    it("sets no-new-privileges", async () => {
      const on = await runHelper(["--no-new-privs", ...cat("/proc/self/status")])
      expectExec(on)
      expect(statusField(on.stdout, "NoNewPrivs")).toBe("1")
      const off = await runHelper(cat("/proc/self/status"))
      expect(statusField(off.stdout, "NoNewPrivs")).toBe("0")
    })

    it("sets oom_score_adj; the kernel's EINVAL is stage oom_score_adj", async () => {
      const r = await runHelper(["--oom-score-adj", "321", ...cat("/proc/self/oom_score_adj")])
      expectExec(r)
      expect(r.stdout).toBe("321\n")
      expectFailure(await runHelper(["--oom-score-adj", "5000", ...quietProbe()]), `oom_score_adj ${E.EINVAL}`)
    })

    it("sets the I/O priority", async () => {
      for (
        const [spec, shown] of [["idle:0", "idle"], ["best-effort:3", "best-effort: prio 3"], [
          "realtime:2",
          "realtime: prio 2"
        ]]
      ) {
        const r = await runHelper(["--ioprio", spec!, "--", "/usr/bin/ionice", "ionice"])
        expectExec(r)
        expect({ spec, shown: r.stdout.trim() }).toEqual({ spec, shown })
      }
    })

    it("fails with nice / ioprio_set EACCES/EPERM without privilege", async () => {
      expectFailure(await runAsNobody(["--nice", "-5", ...quietProbe()]), `nice ${E.EACCES}`)
      expectFailure(await runAsNobody(["--ioprio", "realtime:0", ...quietProbe()]), `ioprio_set ${E.EPERM}`)
    })
  })

  describe("8. credentials", () => {
    const ids = sh("id; grep -E '^(Uid|Gid|Groups):' /proc/self/status")

    it("switches to a user by name or number, with its primary group and groups", async () => {
      for (const uid of ["nobody", "65534"]) {
        const r = await runHelper(["--uid", uid, ...ids])
        expectExec(r)
        expect(r.stdout.split("\n")[0]).toBe("uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)")
        expect(statusField(r.stdout, "Uid")).toBe("65534\t65534\t65534\t65534")
        expect(statusField(r.stdout, "Gid")).toBe("65534\t65534\t65534\t65534")
        expect(statusField(r.stdout, "Groups")).toBe("65534")
      }
    })

    it("a numeric uid without a passwd entry keeps the gid and gets no supplementary groups", async () => {
      const r = await runHelper(["--uid", "4242", ...ids])
      expectExec(r)
      expect(statusField(r.stdout, "Uid")).toBe("4242\t4242\t4242\t4242")
      expect(statusField(r.stdout, "Gid")).toBe("0\t0\t0\t0")
      expect(statusField(r.stdout, "Groups")).toBe("")
    })

    it("takes --gid and --groups as given", async () => {
      const cases = [
        [["--uid", "nobody", "--gid", "daemon"], "65534", "1", "1 65534"], // the user's groups plus --gid
        [["--uid", "nobody", "--groups", ""], "65534", "65534", ""],
        [["--uid", "nobody", "--groups", "users,7,daemon"], "65534", "65534", "1 7 100"],
        [["--gid", "nogroup"], "0", "65534", "65534"] // only --gid: just that group, as libvirt
      ] as const
      for (const [args, uid, gid, groups] of cases) {
        const r = await runHelper([...args, ...ids])
        expectExec(r)
        const got = {
          uid: statusField(r.stdout, "Uid").split("\t")[0],
          gid: statusField(r.stdout, "Gid").split("\t")[0],
          groups: statusField(r.stdout, "Groups").split(" ").filter((g) => g !== "").sort((a, b) =>
            Number(a) - Number(b)
          ).join(" ")
        }
        expect({ args, ...got }).toEqual({ args, uid, gid, groups })
      }
    })

    it("fails with getpwnam / getgrnam ENOENT for unknown names", async () => {
      expectFailure(await runHelper(["--uid", "no-such-user-ec", ...quietProbe()]), `getpwnam ${E.ENOENT}`)
      expectFailure(await runHelper(["--gid", "no-such-group-ec", ...quietProbe()]), `getgrnam ${E.ENOENT}`)
      expectFailure(await runHelper(["--groups", "nogroup,no-such-group-ec", ...quietProbe()]), `getgrnam ${E.ENOENT}`)
    })

    it("fails with setgroups / setresuid EPERM without privilege", async () => {
      expectFailure(await runAsNobody(["--groups", "", ...quietProbe()]), `setgroups ${E.EPERM}`)
      expectFailure(await runAsNobody(["--uid", "0", ...quietProbe()]), `setgroups ${E.EPERM}`)
      // Root with CAP_SETGID (6) only: the groups change, the uid cannot.
      const r = await runNested(["--allow-cap", "6"], ["--uid", "4242", ...quietProbe()])
      expectFailure(r, `setresuid ${E.EPERM}`)
    })
  })

  describe("9. capabilities", () => {
    const bit = (n: bigint) => 1n << n

    it("--clear-caps empties every set, the bounding set included", async () => {
      const r = await runHelper(["--clear-caps", ...cat("/proc/self/status")])
      expectExec(r)
      expect(capsOf(r.stdout)).toEqual({ CapInh: 0n, CapPrm: 0n, CapEff: 0n, CapBnd: 0n, CapAmb: 0n })
    })

    it("--allow-cap keeps just that capability (root)", async () => {
      const r = await runHelper([
        "--clear-caps",
        "--allow-cap",
        String(CAP_NET_BIND_SERVICE),
        ...cat("/proc/self/status")
      ])
      expectExec(r)
      const only = bit(CAP_NET_BIND_SERVICE)
      expect(capsOf(r.stdout)).toEqual({ CapInh: only, CapPrm: only, CapEff: only, CapBnd: only, CapAmb: only })
    })

    it("--allow-cap survives the switch to a non-root uid (ambient)", async () => {
      const r = await runHelper([
        "--uid",
        "nobody",
        "--allow-cap",
        String(CAP_NET_BIND_SERVICE),
        ...sh("grep Cap /proc/self/status; id -u")
      ])
      expectExec(r)
      const only = bit(CAP_NET_BIND_SERVICE)
      expect(capsOf(r.stdout)).toEqual({ CapInh: only, CapPrm: only, CapEff: only, CapBnd: only, CapAmb: only })
      expect(r.stdout.endsWith("65534\n")).toBe(true)
    })

    it("without capability options, a switch to nobody leaves no capabilities but the bounding set", async () => {
      const r = await runHelper(["--uid", "nobody", ...cat("/proc/self/status")])
      expectExec(r)
      expect(capsOf(r.stdout)).toEqual({ CapInh: 0n, CapPrm: 0n, CapEff: 0n, CapBnd: ownCaps.CapBnd, CapAmb: 0n })
    })

    it("as a user without CAP_SETPCAP, --clear-caps leaves the bounding set (as libvirt)", async () => {
      const r = await runAsNobody(["--clear-caps", ...cat("/proc/self/status")])
      expect({ code: r.code, status: r.status }).toEqual({ code: 0, status: "" })
      expect(capsOf(r.stdout)).toEqual({ CapInh: 0n, CapPrm: 0n, CapEff: 0n, CapBnd: ownCaps.CapBnd, CapAmb: 0n })
    })

    it.runIf(missingCap !== undefined)("fails with capset EPERM for a capability we do not hold", async () => {
      expectFailure(await runHelper(["--allow-cap", String(missingCap), ...quietProbe()]), `capset ${E.EPERM}`)
    })
  })

  describe("10. cwd", () => {
    it("changes to the directory", async () => {
      const dir = tempDir()
      const r = await runHelper(["--cwd", dir, ...quietProbe()])
      expectExec(r)
      expect(parseReport(r.stdout).cwd).toBe(dir)
    })

    it("fails with chdir ENOENT", async () => {
      expectFailure(await runHelper(["--cwd", "/nonexistent/dir", ...quietProbe()]), `chdir ${E.ENOENT}`)
    })

    it.runIf((statSync("/root").mode & 0o005) === 0)(
      "changes directory after the uid switch (EACCES as nobody)",
      async () => {
        expectFailure(await runHelper(["--uid", "nobody", "--cwd", "/root", ...quietProbe()]), `chdir ${E.EACCES}`)
      }
    )
  })

  describe("11. handshake", () => {
    const handshake = () =>
      startHelper(["--handshake-ready", "4", "--handshake-wait", "5", ...quietProbe()], {
        extraStdio: ["pipe", "pipe"]
      })

    it("signals ready before exec and execs on '1'", async () => {
      const p = handshake()
      const ready = collect(p.fd(4))
      await ready.until(/^1$/)
      // Still the helper, blocked before exec: nothing from the target yet.
      expect(readlinkSync(`/proc/${p.pid}/exe`)).toBe(realpathSync(helperPath))
      expect(p.stdout.text()).toBe("")
      p.fd(5).write("1")
      expect(await p.exit).toEqual({ code: 0, signal: null })
      expect(await p.status.end).toBe("")
      expect(parseReport(await p.stdout.end).fds).toEqual([0, 1, 2]) // the handshake fds were close-on-exec
    })

    it("aborts with handshake EPIPE when the parent closes its end", async () => {
      const p = handshake()
      await collect(p.fd(4)).until(/^1$/)
      p.fd(5).end()
      expect(await p.exit).toEqual({ code: EXIT_SETUP, signal: null })
      expect(await p.status.end).toBe(`handshake ${E.EPIPE}\n`)
      expect(await p.stdout.end).toBe("")
    })

    it("aborts with handshake EPROTO on another byte", async () => {
      const p = handshake()
      await collect(p.fd(4)).until(/^1$/)
      p.fd(5).write("0")
      expect(await p.exit).toEqual({ code: EXIT_SETUP, signal: null })
      expect(await p.status.end).toBe(`handshake ${E.EPROTO}\n`)
    })
  })

  describe("arguments", () => {
    const target = ["--", "/bin/true", "true"]
    const bad: ReadonlyArray<ReadonlyArray<string>> = [
      ["--bogus", ...target],
      ["--", "/bin/true"],
      [],
      ["--umask", "0778", ...target],
      ["--umask", "1000", ...target],
      ["--umask", "022", "--umask", "022", ...target],
      ["--keep-fd", "x", ...target],
      ["--keep-fd", "3", ...target],
      ["--keep-fd", " 5", ...target],
      ["--rlimit", "NOPE:1:1", ...target],
      ["--rlimit", "NOFILE:1", ...target],
      ["--rlimit", "NOFILE:1:-2", ...target],
      ["--nice", "41", ...target],
      ["--ioprio", "fast:1", ...target],
      ["--ioprio", "idle:8", ...target],
      ["--pgid", "other", ...target],
      ["--pidfile", "/tmp/x", ...target],
      ["--pdeathsig", "9", ...target],
      ["--daemonize", "--pdeathsig", "9", "--parent-pid", "1", ...target],
      ["--handshake-ready", "4", ...target],
      ["--allow-cap", String(capLastCap + 1), ...target],
      ["--uid", "4294967295", ...target],
      ["--groups", "nogroup,,daemon", ...target],
      ["--contain", "3", ...target],
      ["--contain-grace", "100", ...target],
      ["--contain", "4", "--daemonize", ...target],
      ["--cwd"]
    ]

    it("rejects bad arguments with usage EINVAL, a message on stderr, exit 125", async () => {
      for (const args of bad) {
        const r = await runHelper(args)
        expect({ args, code: r.code, status: r.status, stdout: r.stdout }).toEqual({
          args,
          code: EXIT_SETUP,
          status: `usage ${E.EINVAL}\n`,
          stdout: ""
        })
        expect(r.stderr).toMatch(/^effect-command-helper: .+\n$/)
      }
    })

    it("without a usable --status-fd, says so on stderr and exits 125", () => {
      for (const args of [["--", "/bin/true", "true"], ["--status-fd", "9", "--", "/bin/true", "true"]]) {
        const r = spawnSync(helperPath, args, { encoding: "utf8" })
        expect({ args, status: r.status, stderr: r.stderr }).toEqual({
          args,
          status: EXIT_SETUP,
          stderr: "effect-command-helper: --status-fd N (an open fd >= 3) is required\n"
        })
      }
    })
  })

  describe("containment (--contain)", () => {
    /** The helper as supervisor, its control pipe at fd 4 (our end: `control`). */
    const supervised = (script: string, extra: ReadonlyArray<string> = []) => {
      const p = startHelper([
        "--contain",
        "4",
        "--pdeathsig",
        "9",
        "--parent-pid",
        String(process.pid),
        ...extra,
        ...sh(script)
      ], {
        extraStdio: ["pipe"]
      })
      return { ...p, control: p.fd(4) }
    }
    const lines = (status: string) => status.trimEnd().split("\n")

    it("reports the target's pid, its exec and its exact wait status; exits 0 once nothing is left", async () => {
      const p = supervised("echo $$; exit 3")
      const [exit, status, stdout] = await Promise.all([p.exit, p.status.end, p.stdout.end])
      const [pid, exec, wait, usage] = lines(status)
      expect(pid).toBe(`pid ${stdout.trim()}`)
      expect(Number(stdout.trim())).not.toBe(p.pid)
      expect([exec, wait]).toEqual(["exec", `status ${3 << 8} last`])
      expect(usage).toMatch(/^usage \d+ \d+ \d+$/)
      expect(exit).toEqual({ code: 0, signal: null })
    })

    it("relays the target's setup failure record", async () => {
      const p = startHelper(["--contain", "4", "--", "/nonexistent", "x"], { extraStdio: ["pipe"] })
      const status = lines(await p.status.end)
      expect(status[1]).toBe(`execve ${E.ENOENT}`)
      expect(status[2]).toBe(`status ${127 << 8} last`)
    })

    /** A target that ignores SIGTERM, with a setsid'd grandchild; their pids once both run. */
    const tree = async () => {
      const p = supervised("setsid sleep 300 & echo $!; trap '' TERM; echo ready; exec sleep 300")
      const out = await p.stdout.until(/(\d+)\nready\n/)
      const pid = Number(lines(await p.status.until(/exec\n/).then((m) => m.input))[0]!.split(" ")[1])
      return { p, target: track(pid), grandchild: track(Number(out[1])) }
    }

    it("a tree byte signals every process, a setsid'd one too; SIGKILL repeats until the tree is gone", async () => {
      const { grandchild, p, target } = await tree()
      p.control.write(Buffer.of(128 + 15))
      await vi.waitFor(() => expect(isAlive(grandchild)).toBe(false))
      expect(isAlive(target)).toBe(true) // it ignores SIGTERM
      p.control.write(Buffer.of(128 + 9))
      expect(lines(await p.status.end)[2]).toBe("status 9 last")
      expect(await p.exit).toEqual({ code: 0, signal: null })
    })

    it("a signal byte reaches the target alone", async () => {
      const { grandchild, p, target } = await tree()
      p.control.write(Buffer.of(9))
      await p.status.until(/status 9\n/)
      expect(isAlive(target)).toBe(false)
      expect(isAlive(grandchild)).toBe(true) // until the tree is ended
      p.control.end()
      await p.exit
      expect(isAlive(grandchild)).toBe(false)
    })

    it("the end of the control pipe (the parent died) gives the whole tree the death signal", async () => {
      const { grandchild, p, target } = await tree()
      p.control.end()
      expect(await p.exit).toEqual({ code: 0, signal: null })
      expect([isAlive(target), isAlive(grandchild)]).toEqual([false, false])
    })

    it("SIGTERM to the supervisor (a worker's teardown) SIGKILLs the tree", async () => {
      const { grandchild, p, target } = await tree()
      p.child.kill("SIGTERM")
      expect(await p.exit).toEqual({ code: 0, signal: null })
      expect([isAlive(target), isAlive(grandchild)]).toEqual([false, false])
    })
  })

  describe("build", () => {
    it("the build script skips an up-to-date binary", () => {
      const before = statSync(helperPath).mtimeMs
      buildHelper()
      expect(statSync(helperPath).mtimeMs).toBe(before)
    })

    const valgrind = spawnSync("valgrind", ["--version"]).status === 0
    it.runIf(valgrind)("runs clean under valgrind", async () => {
      const vg = ["valgrind", "-q", "--error-exitcode=99", "--trace-children=no", "--vgdb=no"]
      const run = (args: ReadonlyArray<string>) => {
        const p = spawn(vg[0]!, [...vg.slice(1), helperPath, "--status-fd", "3", ...args], {
          stdio: ["ignore", "pipe", "pipe", "pipe"]
        })
        const code = new Promise<number | null>((resolve) => p.once("exit", resolve))
        return Promise.all([code, collect(p.stdio[3] as Readable).end, collect(p.stdout!).end, collect(p.stderr!).end])
      }
      // Every step up to exec (NOFILE aside: valgrind refuses to change that hard limit).
      const [code, status, stdout, stderr] = await run([
        "--umask",
        "022",
        "--rlimit",
        "NPROC:100:200",
        "--nice",
        "3",
        "--oom-score-adj",
        "100",
        "--ioprio",
        "best-effort:4",
        "--no-new-privs",
        "--uid",
        "nobody",
        "--allow-cap",
        "10",
        "--cwd",
        "/tmp",
        "--",
        "/bin/true",
        "true"
      ])
      expect({ code, status, stdout, stderr }).toEqual({ code: 0, status: "", stdout: "", stderr: "" })
      // A failure path, where valgrind sees the helper exit.
      const [code2, status2, , stderr2] = await run(["--uid", "no-such-user-ec", "--", "/bin/true", "true"])
      expect({ code2, status2, stderr2 }).toEqual({
        code2: EXIT_SETUP,
        status2: `getpwnam ${E.ENOENT}\n`,
        stderr2: "effect-command-helper: unknown user 'no-such-user-ec'\n"
      })
    })
  })
})

describe("effect-command-helper: 2b. FIFO stdio for pipelines", () => {
  type Stage = ReturnType<typeof startHelper>
  const MiB10 = 10 * 1024 * 1024

  /** Absolute path of a program (the helper does no PATH search). */
  const bin = (name: string): string => {
    const r = spawnSync("/bin/sh", ["-c", `command -v ${name}`], { encoding: "utf8" })
    if (r.status !== 0) throw new Error(`${name} not found`)
    return r.stdout.trim()
  }
  const [head, wc, cat, yes, seq] = ["head", "wc", "cat", "yes", "seq"].map(bin) as [
    string,
    string,
    string,
    string,
    string
  ]

  const exists = (path: string) => statSync(path, { throwIfNoEntry: false }) !== undefined
  const readProc = (path: string) => {
    try {
      return readFileSync(path, "utf8").trim()
    } catch {
      return ""
    }
  }

  /**
   * Resolves once `pid` sleeps in open(2) of a FIFO waiting for the other side: the kernel's
   * wait_for_partner (or, where wchan is hidden, asleep with `fifo` created). A condition polled
   * on /proc, not a timer: the stage started first really waits when the second one starts.
   */
  const blockedInFifoOpen = async (pid: number, fifo: string) => {
    for (;;) {
      const wchan = readProc(`/proc/${pid}/wchan`)
      if (wchan === "wait_for_partner") return
      if (wchan === "0" && exists(fifo) && statField(readProc(`/proc/${pid}/stat`), 3) === "S") return
      if (!isAlive(pid)) throw new Error(`${pid} exited before it waited in the FIFO open`)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  }

  /** Exit, status record, stdout and stderr of a stage, all at their end. */
  const finished = async (p: Stage) => {
    const [exit, status, stdout, stderr] = await Promise.all([p.exit, p.status.end, p.stdout.end, p.stderr.end])
    return { ...exit, status, stdout, stderr }
  }

  for (const first of ["reader", "writer"] as const) {
    it(`joins two stages started ${first} first: 10 MiB of zeros reach wc -c, the FIFO (0600) is gone`, async () => {
      const fifo = join(tempDir(), "pipe")
      const start = {
        // The umask of the target does not apply to the FIFO.
        writer: (umask: Array<string>) =>
          startHelper([...umask, "--stdout-fifo", fifo, "--", head, "head", "-c", String(MiB10), "/dev/zero"]),
        reader: (umask: Array<string>) => startHelper([...umask, "--stdin-fifo", fifo, "--", wc, "wc", "-c"])
      }
      const a = start[first](["--umask", "0777"])
      await blockedInFifoOpen(a.pid, fifo)
      const st = statSync(fifo)
      expect({ fifo: st.isFIFO(), mode: st.mode & 0o777 }).toEqual({ fifo: true, mode: 0o600 })
      const b = start[first === "reader" ? "writer" : "reader"]([])
      const [writer, reader] = first === "writer" ? [a, b] : [b, a]
      // Both exec'd (EOF on the status fds without a record): the reader unlinked the FIFO before.
      expect(await Promise.all([writer.status.end, reader.status.end])).toEqual(["", ""])
      expect(exists(fifo)).toBe(false)
      const [w, r] = await Promise.all([finished(writer), finished(reader)])
      expectExec(w)
      expect(w.stdout).toBe("") // fd 1 went to the FIFO: our pipe got EOF at the dup2
      expectExec(r)
      expect(r.stdout.trim()).toBe(String(MiB10))
    })
  }

  it("gives both stages the same FIFO (unlinked) on fd 1 and fd 0, and no other fd", async () => {
    const fifo = join(tempDir(), "pipe")
    // $(...) runs in a subshell, but $$ is still the stage's shell: its own fd 0 or 1.
    const ident = (fd: number) => `stat -L -c '%F %d:%i' /proc/$$/fd/${fd}`
    const reader = startHelper([
      "--stdin-fifo",
      fifo,
      ...sh(`id=$(${ident(0)}); echo "$id" >&2; exec "$0" probe`),
      probePath
    ])
    const writer = startHelper(["--stdout-fifo", fifo, ...sh(`id=$(${ident(1)}); echo "$id" >&2; echo through`)])
    const [w, r] = await Promise.all([finished(writer), finished(reader)])
    expect({ code: w.code, status: w.status, stdout: w.stdout }).toEqual({ code: 0, status: "", stdout: "" })
    expect({ code: r.code, status: r.status }).toEqual({ code: 0, status: "" })
    const [readerId, ...probeStderr] = r.stderr.split("\n")
    expect(readerId).toMatch(/^fifo \d+:\d+$/)
    expect(w.stderr).toBe(`${readerId}\n`)
    expect(probeStderr.join("\n")).toBe("BEGIN STDERR\nthrough\nEND STDERR\n")
    expect(parseReport(r.stdout).fds).toEqual([0, 1, 2])
    expect(r.stdout).toContain("BEGIN STDOUT\nthrough\nEND STDOUT\n")
    expect(exists(fifo)).toBe(false)
  })

  it("chains three stages: seq -> cat (--stdin-fifo and --stdout-fifo) -> cat", async () => {
    const dir = tempDir()
    const [p1, p2] = [join(dir, "p1"), join(dir, "p2")]
    const n = 100_000
    // The middle stage first, then the reader: both wait in open(2) until the writer comes.
    const middle = startHelper(["--stdin-fifo", p1, "--stdout-fifo", p2, "--", cat, "cat"])
    await blockedInFifoOpen(middle.pid, p1)
    const reader = startHelper(["--stdin-fifo", p2, "--", cat, "cat"])
    await blockedInFifoOpen(reader.pid, p2)
    const writer = startHelper(["--stdout-fifo", p1, "--", seq, "seq", String(n)])
    const [w, m, r] = await Promise.all([finished(writer), finished(middle), finished(reader)])
    for (const stage of [w, m, r]) expectExec(stage)
    expect(r.stdout).toBe(Array.from({ length: n }, (_, i) => `${i + 1}\n`).join(""))
    expect([exists(p1), exists(p2)]).toEqual([false, false])
  })

  for (const joined of [["--stderr-to-stdout"], ["--stderr-fifo", "SAME"]]) {
    it(`joins stderr to the stdout FIFO with ${joined[0]}: the reader sees the exact interleaving`, async () => {
      const fifo = join(tempDir(), "pipe")
      const n = 100
      const writer = startHelper([
        "--stdout-fifo",
        fifo,
        ...joined.map((a) => (a === "SAME" ? fifo : a)),
        ...probe("--no-report", "--quiet-io", "--no-stdin", "--interleave", String(n))
      ])
      const reader = startHelper(["--stdin-fifo", fifo, "--", cat, "cat"])
      const [w, r] = await Promise.all([finished(writer), finished(reader)])
      expectExec(w)
      expect(w.stdout).toBe("")
      expectExec(r)
      expect(r.stdout).toBe(Array.from({ length: n }, (_, i) => `out ${i}\nerr ${i}\n`).join(""))
    })
  }

  it("kills the writer with SIGPIPE when the reader exits early (yes | head -n 1)", async () => {
    const fifo = join(tempDir(), "pipe")
    const writer = startHelper(["--stdout-fifo", fifo, "--", yes, "yes"])
    const reader = startHelper(["--stdin-fifo", fifo, "--", head, "head", "-n", "1"])
    const [w, r] = await Promise.all([finished(writer), finished(reader)])
    expectExec(r)
    expect(r.stdout).toBe("y\n")
    expect({ code: w.code, signal: w.signal, status: w.status, stdout: w.stdout, stderr: w.stderr }).toEqual({
      code: null,
      signal: "SIGPIPE",
      status: "",
      stdout: "",
      stderr: ""
    })
  })

  it("fails with stage mkfifo in a missing directory, before exec and without waiting", async () => {
    const fifo = join(tempDir(), "missing", "pipe")
    for (const opt of ["--stdin-fifo", "--stdout-fifo", "--stderr-fifo"]) {
      const r = await runHelper([opt, fifo, ...quietProbe()])
      expectFailure(r, `mkfifo ${E.ENOENT}`)
      expect({ opt, stdout: r.stdout }).toEqual({ opt, stdout: "" })
    }
  })

  it("fails with fifo-open for a directory, and with mkfifo EEXIST for a file that is no FIFO (left in place)", async () => {
    const dir = tempDir()
    expectFailure(await runHelper(["--stdout-fifo", dir, ...quietProbe()]), `fifo-open ${E.EISDIR}`)
    const file = join(dir, "plain")
    writeFileSync(file, "keep")
    for (const opt of ["--stdin-fifo", "--stdout-fifo"]) {
      expectFailure(await runHelper([opt, file, ...quietProbe()]), `mkfifo ${E.EEXIST}`)
    }
    expect(readFileSync(file, "utf8")).toBe("keep")
  })

  it("rejects contradictory or empty FIFO options with usage EINVAL", async () => {
    const target = ["--", "/bin/true", "true"]
    const bad = [
      ["--stdin-fifo", "", ...target],
      ["--stdout-fifo", "/x/a", "--stdout-fifo", "/x/b", ...target],
      ["--stderr-fifo", "/x/a", "--stderr-to-stdout", ...target],
      ["--stdin-fifo", "/x/a", "--stdout-fifo", "/x/a", ...target],
      ["--stdin-fifo", "/x/a", "--stderr-fifo", "/x/a", ...target],
      ["--stdin-fifo"]
    ]
    for (const args of bad) {
      const r = await runHelper(args)
      expect({ args, code: r.code, status: r.status }).toEqual({
        args,
        code: EXIT_SETUP,
        status: `usage ${E.EINVAL}\n`
      })
    }
  })

  const valgrind = spawnSync("valgrind", ["--version"]).status === 0
  it.runIf(valgrind)("runs a middle stage clean under valgrind", async () => {
    const dir = tempDir()
    const [p1, p2] = [join(dir, "p1"), join(dir, "p2")]
    const vg = spawn(
      "valgrind",
      [
        "-q",
        "--error-exitcode=99",
        "--trace-children=no",
        "--vgdb=no",
        helperPath,
        "--status-fd",
        "3",
        "--stdin-fifo",
        p1,
        "--stdout-fifo",
        p2,
        "--",
        cat,
        "cat"
      ],
      { stdio: ["ignore", "pipe", "pipe", "pipe"] }
    )
    track(vg.pid!)
    const vgExit = new Promise<number | null>((resolve) => vg.once("exit", resolve))
    const vgOut = [collect(vg.stdio[3] as Readable).end, collect(vg.stdout!).end, collect(vg.stderr!).end]
    const writer = startHelper(["--stdout-fifo", p1, "--", seq, "seq", "1000"])
    const reader = startHelper(["--stdin-fifo", p2, "--", cat, "cat"])
    const [w, r, code, [status, stdout, stderr]] = await Promise.all([
      finished(writer),
      finished(reader),
      vgExit,
      Promise.all(vgOut)
    ])
    expect({ code, status, stdout, stderr }).toEqual({ code: 0, status: "", stdout: "", stderr: "" })
    expectExec(w)
    expectExec(r)
    expect(r.stdout).toBe(Array.from({ length: 1000 }, (_, i) => `${i + 1}\n`).join(""))
  })
})
