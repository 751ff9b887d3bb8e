/**
 * The child-side setup (issue #4) through the public API: `Command.*` run by
 * `NodeCommandExecutor.layer`, which spawns every command through the helper. Fd hygiene,
 * daemons, capabilities, umask, limits, credentials, pre-exec actions, process groups, stderr
 * joined in the child, death with the parent, the start-up handshake, and a typed error for every
 * failing stage with nothing left running. These tests run as root.
 *
 * No sleep synchronises anything: tests wait for exits, output lines and EOF. Processes that are
 * not our children (daemons, children of a killed Node process) are watched through a pipe or FIFO
 * they hold, whose EOF says they are gone; only the last step from "closed its fds" to "gone from
 * /proc" is a bounded poll.
 */
import "./fixtures/ensure-helper.js"

import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Readable } from "node:stream"

import type { CommandError, CommandExecutor } from "@effect-command/core"
import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"

import type { Collected } from "./support/collect.js"
import { collect } from "./support/collect.js"
import { parseReport, probePath } from "./support/probe.js"
import { eventually, isAlive, marker, withMarker, zombieChildren } from "./support/procs.js"
import { capsOf, helperPath, limitsOf, statField, statusField } from "./support/raw-helper.js"
import { evidence, failsCleanly, interleaved, makeTempDir, probe, removeTempDir } from "./support/run.js"

const repoRoot = Path.resolve(import.meta.dirname, "../../..")
const fixture = (name: string) => Path.join(import.meta.dirname, "fixtures", name)

let dir = ""
beforeAll(() => {
  dir = makeTempDir("ec-setup-")
  // Everyone may traverse it: some targets run as nobody.
  Fs.chmodSync(dir, 0o755)
})
afterAll(() => removeTempDir(dir))

/** Pids that are not our children (daemons, survivors of a killed parent): SIGKILLed after each test. */
const strays = new Set<number>()
const track = (pid: number): number => {
  strays.add(pid)
  return pid
}
/** Node processes the tests started: SIGKILLed after each test if still running. */
const nodes = new Set<ChildProcess.ChildProcess>()
/** Watches to close after each test. */
const cleanups: Array<() => void> = []
afterEach(() => {
  for (const pid of strays) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone already
    }
  }
  strays.clear()
  for (const node of nodes) if (node.exitCode === null && node.signalCode === null) node.kill("SIGKILL")
  nodes.clear()
  for (const cleanup of cleanups.splice(0)) cleanup()
})

let files = 0
const tempPath = (name: string) => Path.join(dir, `${++files}-${name}`)

/** A file with `content` and `mode`. */
const writeFile = (name: string, content: string | Uint8Array, mode: number): string => {
  const path = tempPath(name)
  Fs.writeFileSync(path, content)
  Fs.chmodSync(path, mode)
  return path
}

/** The error as a SpawnError (fails the test otherwise). */
const asSpawnError = (error: CommandError.CommandError): CommandError.SpawnError => {
  if (error._tag !== "SpawnError") throw new Error(`expected a SpawnError, got ${error._tag}: ${error.message}`)
  return error
}

/** Resolves after at most `ms`: true when `promise` settled first. */
const within = (promise: Promise<unknown>, ms: number): Effect.Effect<boolean> =>
  Effect.promise(() =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, ms))
      void promise.then(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  )

/**
 * For processes that are not our children, after they closed their fds (the last thing we can
 * wait for): a bounded poll until /proc no longer shows them alive. Returns those still alive.
 */
const goneBy = (pids: ReadonlyArray<number>, deadline: number): Effect.Effect<Array<number>> =>
  Effect.gen(function*() {
    let alive = pids.filter(isAlive)
    while (alive.length > 0 && Date.now() < deadline) {
      yield* Effect.sleep("5 millis")
      alive = alive.filter(isAlive)
    }
    return alive
  })

/**
 * A FIFO to give a process as one of its stdio fds: EOF on our end says that every process holding
 * the write end has exited (or closed it). `writeFd` is ours until `closeWriter`.
 */
interface Watch {
  readonly path: string
  readonly writeFd: number
  readonly closeWriter: () => void
  readonly read: Collected
}

const watch = (): Watch => {
  const path = tempPath("fifo")
  ChildProcess.execFileSync("mkfifo", ["-m", "0666", path])
  // Non-blocking, or open would wait for a writer; the writer is opened right away.
  const readFd = Fs.openSync(path, Fs.constants.O_RDONLY | Fs.constants.O_NONBLOCK)
  const writeFd = Fs.openSync(path, Fs.constants.O_WRONLY)
  const socket = new Net.Socket({ fd: readFd, readable: true, writable: false })
  let writerOpen = true
  const closeWriter = () => {
    if (!writerOpen) return
    writerOpen = false
    Fs.closeSync(writeFd)
  }
  cleanups.push(() => {
    closeWriter()
    socket.destroy()
  })
  return { path, writeFd, closeWriter, read: collect(socket) }
}

/** Reads a process's stdout until a line equal to `line` arrives. */
const waitForLine = (process: CommandExecutor.Process, line: string) =>
  process.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.takeUntil((l) => l === line), Stream.runDrain)

/** Starts `node --import tsx <fixture> ...args` from the repository root. */
const startNode = (name: string, args: ReadonlyArray<string>, options: ChildProcess.SpawnOptions) => {
  const node = ChildProcess.spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=source", fixture(name), ...args],
    {
      cwd: repoRoot,
      ...options
    }
  )
  nodes.add(node)
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    node.once("error", reject)
    node.once("exit", (code, signal) => resolve({ code, signal }))
  })
  return { node, exit, stdout: collect(node.stdout!) }
}

const readProc = (pid: number, file: string) => Fs.readFileSync(`/proc/${pid}/${file}`, "utf8")

/** /proc/<pid>/fd: fd number -> link target (an fd closed while it is read is left out). */
const fdLinks = (pid: number): Record<number, string> => {
  const links: Record<number, string> = {}
  for (const name of Fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      links[Number(name)] = Fs.readlinkSync(`/proc/${pid}/fd/${name}`)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
    }
  }
  return links
}

/**
 * The fds of a process that has just exec'd, once `settled` holds for them (within 5 s): the dynamic
 * loader of a fresh program opens and closes its libraries' fds for a moment.
 */
const settledFdLinks = (pid: number, settled: (links: Record<number, string>) => boolean) => {
  const deadline = Date.now() + 5_000
  let links = fdLinks(pid)
  while (!settled(links) && Date.now() < deadline) links = fdLinks(pid)
  return links
}

/** The output of `/bin/cat FILE` with `settings`: cat itself is the target, so /proc/self is it. */
const catSelf = (file: string, ...settings: ReadonlyArray<(self: Command.Command) => Command.Command>) =>
  Command.string(
    settings.reduce((command, setting) => setting(command), Command.make("/bin/cat", `/proc/self/${file}`))
  )

const ownStatus = Fs.readFileSync("/proc/self/status", "utf8")
const CAP_SYS_RESOURCE = 24n
const hasCapSysResource = (capsOf(ownStatus).CapEff & (1n << CAP_SYS_RESOURCE)) !== 0n
/** The supplementary groups of /proc/<pid>/status text, sorted ("Groups:" may be empty). */
const groupsOf = (statusText: string): Array<number> =>
  /^Groups:\t(.*)$/m.exec(statusText)![1]!.split(" ").filter((g) => g !== "").map(Number).sort((a, b) => a - b)
const ownLimits = () => limitsOf(Fs.readFileSync("/proc/self/limits", "utf8"))

describe("the executor uses the helper", () => {
  it.live("it is built, and a setting only it can apply works", () =>
    Effect.gen(function*() {
      expect(Fs.existsSync(helperPath)).toBe(true)
      expect(parseReport(yield* Command.string(probe("--no-stdin", "--quiet-io").pipe(Command.umask(0o022)))).umask)
        .toBe("0022")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("fd hygiene", () => {
  // Node marks fds 0 to 15 close-on-exec at startup (uv_disable_stdio_inheritance), and every fd
  // it opens itself; an fd above that range that it inherited stays inheritable, as with
  // `node app.js 40</dev/null`.
  const INHERITED = 40

  it.live(
    "a child sees only 0, 1, 2 (and passed fds), whatever its parent inherited without close-on-exec",
    () =>
      Effect.gen(function*() {
        const path = writeFile("inherited", "inherited\n", 0o644)
        const fd = Fs.openSync(path, "r")
        try {
          // The test's own Node child gets `path` at fd 40, not close-on-exec.
          const stdio: Array<"ignore" | "pipe" | "inherit" | number> = ["ignore", "pipe", "inherit"]
          while (stdio.length < INHERITED) stdio.push("ignore")
          stdio.push(fd)
          const { exit, stdout } = startNode("fd-hygiene.ts", [probePath, String(INHERITED)], { stdio })
          const [status, out] = yield* Effect.promise(() => Promise.all([exit, stdout.end]))
          expect(status).toEqual({ code: 0, signal: null })
          const seen = JSON.parse(out) as {
            inherited: Array<number>
            inheritedTarget: string
            opened: number
            helper: Array<number>
            helperPassed: Array<number>
            helperPassedInherited: Array<number>
            never: Array<number>
          }
          expect(seen.inherited).toContain(INHERITED)
          expect(seen.inheritedTarget).toBe(path)
          expect(seen.helper).toEqual([0, 1, 2])
          expect(seen.helperPassed).toEqual([0, 1, 2, seen.opened])
          expect(seen.helperPassedInherited).toEqual([0, 1, 2, INHERITED])
          // The contrast: spawned by child_process without the helper, the child gets the inherited fd.
          expect(seen.never).toContain(INHERITED)
        } finally {
          Fs.closeSync(fd)
        }
      }),
    60_000
  )

  it.live("in this process too: the probe sees 0, 1, 2 only", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(probe("--no-stdin", "--quiet-io"))
      expect(parseReport(out).fds).toEqual([0, 1, 2])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("daemonize", () => {
  const sleeper = () => Command.make("/bin/sleep", "1000")

  it.live("run returns with the pid file written and locked by the daemon, which runs in / as a session leader and outlives run", () =>
    Effect.gen(function*() {
      const pidFile = tempPath("daemon.pid")
      const stdout = watch()
      const result = yield* Command.run(
        sleeper().pipe(Command.daemonize({ pidFile }), Command.stdout(Command.Output.fd(stdout.writeFd)))
      )
      stdout.closeWriter()
      expect(result.status).toEqual(ExitStatus.exited(0))

      const text = Fs.readFileSync(pidFile, "utf8")
      expect(text).toMatch(/^[1-9]\d*$/)
      const pid = track(Number(text))
      expect(isAlive(pid)).toBe(true)
      expect(Fs.readlinkSync(`/proc/${pid}/exe`)).toBe(Fs.realpathSync("/bin/sleep"))
      expect(Fs.readlinkSync(`/proc/${pid}/cwd`)).toBe("/")
      const stat = readProc(pid, "stat")
      expect(statField(stat, 6)).toBe(String(pid)) // session id: a session leader
      expect(statField(stat, 5)).toBe(String(pid)) // and the leader of its group
      expect(statField(stat, 4)).not.toBe(String(process.pid)) // not our child

      // stdio: /dev/null unless given as an fd; the locked pid file; nothing else.
      const links = settledFdLinks(pid, (links) => Object.keys(links).length === 4)
      const pidFd = Object.keys(links).map(Number).find((fd) => links[fd] === pidFile)
      expect(pidFd).toBeDefined()
      expect(links).toEqual({ 0: "/dev/null", 1: stdout.path, 2: "/dev/null", [pidFd!]: pidFile })
      const ino = Fs.statSync(pidFile).ino
      const lock = new RegExp(`^\\d+: POSIX\\s+ADVISORY\\s+WRITE\\s+${pid}\\s+[0-9a-f]+:[0-9a-f]+:${ino}\\s`, "m")
      expect(Fs.readFileSync("/proc/locks", "utf8")).toMatch(lock)

      // A second daemon with the same pid file: a typed error, nothing left, the file untouched.
      const mark = marker()
      const second = sleeper().pipe(Command.daemonize({ pidFile }), Command.envInherit, Command.env("EC_MARKER", mark))
      const error = yield* failsCleanly(Command.run(second))
      expect(error._tag).toBe("DaemonError")
      if (error._tag !== "DaemonError") return
      expect(error.reason).toBe("PidFileLocked")
      expect(error.pidFile).toBe(pidFile)
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      expect(Fs.readFileSync(pidFile, "utf8")).toBe(text)
      expect(isAlive(pid)).toBe(true)

      // Stopped by pid: EOF on its stdout says it exited.
      process.kill(pid, "SIGTERM")
      expect(yield* within(stdout.read.end, 10_000)).toBe(true)
      expect(yield* goneBy([pid], Date.now() + 5_000)).toEqual([])
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("start + wait in a scope: the daemon (no pid file) outlives the scope", () =>
    Effect.gen(function*() {
      const stderr = watch()
      const cmd = probe("--print-pid-to-stderr", "--no-report", "--no-stdin", "--quiet-io", "--sleep-ms", "1000000")
        .pipe(
          Command.daemonize(),
          Command.stderr(Command.Output.fd(stderr.writeFd))
        )
      const { intermediate, status } = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(cmd)
        return { intermediate: process.pid, status: yield* process.wait }
      }))
      stderr.closeWriter()
      expect(status).toEqual(ExitStatus.exited(0))
      const pid = track(Number((yield* Effect.promise(() => stderr.read.until(/^PID:(\d+)\n/m)))[1]))
      expect(pid).not.toBe(intermediate)
      expect(isAlive(intermediate)).toBe(false)
      expect(isAlive(pid)).toBe(true)
      expect(Fs.readlinkSync(`/proc/${pid}/cwd`)).toBe("/")
      expect(statField(readProc(pid, "stat"), 6)).toBe(String(pid))
      expect(fdLinks(pid)).toEqual({ 0: "/dev/null", 1: "/dev/null", 2: stderr.path })

      process.kill(pid, "SIGKILL")
      expect(yield* within(stderr.read.end, 10_000)).toBe(true)
      expect(yield* goneBy([pid], Date.now() + 5_000)).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a pid file that cannot be created: DaemonError PidFileUnwritable, nothing left", () =>
    Effect.gen(function*() {
      const mark = marker()
      const pidFile = Path.join(dir, "no-such-dir", "daemon.pid")
      const cmd = sleeper().pipe(Command.daemonize({ pidFile }), Command.envInherit, Command.env("EC_MARKER", mark))
      const error = yield* failsCleanly(Command.run(cmd))
      expect(error._tag).toBe("DaemonError")
      if (error._tag !== "DaemonError") return
      expect(error.reason).toBe("PidFileUnwritable")
      expect(error.pidFile).toBe(pidFile)
      expect(error.cause).toBe("pidfile-open: ENOENT")
      expect(withMarker("EC_MARKER", mark)).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a daemon whose exec fails after the intermediate exited 0: the typed error all the same, nothing left", () =>
    Effect.gen(function*() {
      const pidFile = tempPath("failed-daemon.pid")
      const garbage = writeFile("daemon-garbage", "not a program\n", 0o755)
      const mark = marker()
      const cmd = Command.make(garbage).pipe(
        Command.daemonize({ pidFile }),
        Command.envInherit,
        Command.env("EC_MARKER", mark)
      )
      const error = asSpawnError(yield* failsCleanly(Command.run(cmd)))
      expect(error).toMatchObject({ reason: "NotExecutable", stage: "execve", errno: "ENOEXEC" })
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      // The grandchild had written its pid before it failed.
      const pid = track(Number(Fs.readFileSync(pidFile, "utf8")))
      expect(yield* goneBy([pid], Date.now() + 5_000)).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a working directory or captured output with a daemon: CommandUsageError, nothing spawned", () =>
    Effect.gen(function*() {
      const spawned = tempPath("spawned-daemon")
      const daemon = evidence(spawned).pipe(Command.daemonize())
      const withCwd = yield* failsCleanly(Command.run(daemon.pipe(Command.workingDirectory(dir))))
      expect(withCwd._tag).toBe("CommandUsageError")
      expect(withCwd.message).toContain("cannot set a working directory")
      const captured = yield* failsCleanly(Command.run(daemon.pipe(Command.stdout("capture"))))
      expect(captured._tag).toBe("CommandUsageError")
      expect(captured.message).toContain("cannot mix string I/O with a daemon")
      const asString = yield* failsCleanly(Command.string(daemon))
      expect(asString._tag).toBe("CommandUsageError")
      const fed = yield* failsCleanly(Command.run(daemon.pipe(Command.feed("input"))))
      expect(fed._tag).toBe("CommandUsageError")
      expect(Fs.existsSync(spawned)).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("capabilities", () => {
  const NET_BIND_SERVICE = 1n << BigInt(Command.capabilities.CAP_NET_BIND_SERVICE)

  it.live("clearCaps: every set of the child is empty, the bounding set included", () =>
    Effect.gen(function*() {
      const caps = capsOf(yield* catSelf("status", Command.clearCaps))
      expect(caps).toEqual({ CapInh: 0n, CapPrm: 0n, CapEff: 0n, CapBnd: 0n, CapAmb: 0n })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("clearCaps + allowCap: only the allowed capability is left (as root)", () =>
    Effect.gen(function*() {
      const status = yield* catSelf("status", Command.clearCaps, Command.allowCap("CAP_NET_BIND_SERVICE"))
      const caps = capsOf(status)
      expect(caps.CapEff).toBe(NET_BIND_SERVICE)
      expect(caps.CapPrm).toBe(NET_BIND_SERVICE)
      expect(caps.CapBnd).toBe(NET_BIND_SERVICE)
      expect(caps.CapInh).toBe(NET_BIND_SERVICE)
      expect(statusField(status, "Uid")).toBe("0\t0\t0\t0")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("uid nobody + allowCap: the capability stays effective through exec (ambient)", () =>
    Effect.gen(function*() {
      const status = yield* catSelf("status", Command.uid("nobody"), Command.allowCap("CAP_NET_BIND_SERVICE"))
      expect(capsOf(status)).toEqual({
        CapInh: NET_BIND_SERVICE,
        CapPrm: NET_BIND_SERVICE,
        CapEff: NET_BIND_SERVICE,
        CapBnd: NET_BIND_SERVICE,
        CapAmb: NET_BIND_SERVICE
      })
      expect(statusField(status, "Uid")).toBe("65534\t65534\t65534\t65534")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("uid nobody without capability settings: no capabilities, the bounding set as ours", () =>
    Effect.gen(function*() {
      const caps = capsOf(yield* catSelf("status", Command.uid("nobody")))
      expect(caps).toEqual({ CapInh: 0n, CapPrm: 0n, CapEff: 0n, CapBnd: capsOf(ownStatus).CapBnd, CapAmb: 0n })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("umask", () => {
  for (const mask of [0, 0o027, 0o777]) {
    it.live(`umask(0o${mask.toString(8)}) is the child's umask`, () =>
      Effect.gen(function*() {
        const out = yield* Command.string(probe("--no-stdin", "--quiet-io").pipe(Command.umask(mask)))
        expect(parseReport(out).umask).toBe(mask.toString(8).padStart(4, "0"))
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }

  it.live("unset: the parent's umask", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(probe("--no-stdin", "--quiet-io"))
      expect(parseReport(out).umask).toBe(process.umask().toString(8).padStart(4, "0"))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("umask 0 shows in the files the child creates", () =>
    Effect.gen(function*() {
      const path = tempPath("created-with-umask-0")
      yield* Command.run(Command.make("/bin/sh", "-c", ": > \"$1\"", "sh", path).pipe(Command.umask(0)))
      expect(Fs.statSync(path).mode & 0o777).toBe(0o666)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("resource limits", () => {
  /** A value at most our own hard limit, so that no privilege is needed to set it. */
  const capped = (name: string, value: number): number => {
    const hard = ownLimits()[name]![1]
    return hard === "unlimited" ? value : Math.min(value, Number(hard))
  }

  it.live("NOFILE, NPROC, CORE and MEMLOCK, soft and hard, unlimited included", () =>
    Effect.gen(function*() {
      const nofile = { soft: capped("Max open files", 256), hard: capped("Max open files", 512) }
      const nproc = { soft: capped("Max processes", 1000), hard: capped("Max processes", 2000) }
      const memlock = { soft: capped("Max locked memory", 65536), hard: capped("Max locked memory", 131072) }
      // Raising a soft limit to an unlimited hard one needs no privilege.
      const coreUnlimited = ownLimits()["Max core file size"]![1] === "unlimited"
      const core = coreUnlimited ? "unlimited" as const : capped("Max core file size", 4096)
      const limits = limitsOf(
        yield* catSelf(
          "limits",
          Command.limit("NOFILE", nofile),
          Command.limit("NPROC", nproc),
          Command.limit("CORE", core),
          Command.limit("MEMLOCK", memlock)
        )
      )
      expect(limits["Max open files"]).toEqual([String(nofile.soft), String(nofile.hard)])
      expect(limits["Max processes"]).toEqual([String(nproc.soft), String(nproc.hard)])
      expect(limits["Max core file size"]).toEqual([String(core), String(core)])
      expect(limits["Max locked memory"]).toEqual([String(memlock.soft), String(memlock.hard)])
      // Limits not asked for are inherited.
      expect(limits["Max stack size"]).toEqual(ownLimits()["Max stack size"])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  for (
    const [resource, name, flag] of [
      ["NOFILE", "Max open files", "-n"],
      ["NPROC", "Max processes", "-u"],
      ["CORE", "Max core file size", "-c"],
      ["MEMLOCK", "Max locked memory", "-l"]
    ] as const
  ) {
    it.live(`${resource} alone: one value sets soft and hard; bash's ulimit agrees`, () =>
      Effect.gen(function*() {
        const value = capped(name, resource === "MEMLOCK" || resource === "CORE" ? 4 * 1024 * 1024 : 128)
        const limits = limitsOf(yield* catSelf("limits", Command.limit(resource, value)))
        expect(limits[name]).toEqual([String(value), String(value)])
        const shell = yield* Command.string(
          Command.make("/bin/bash", "-c", `ulimit -S ${flag}; ulimit -H ${flag}`).pipe(Command.limit(resource, value))
        )
        // bash's ulimit shows CORE and MEMLOCK in KiB.
        const unit = resource === "CORE" || resource === "MEMLOCK" ? 1024 : 1
        expect(shell).toBe(`${value / unit}\n${value / unit}\n`)
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }

  it.live("a soft limit below an unlimited hard limit", () =>
    Effect.gen(function*() {
      const hard = ownLimits()["Max file size"]![1]
      const value = { soft: 1 << 20, hard: hard === "unlimited" ? "unlimited" as const : Number(hard) }
      const limits = limitsOf(yield* catSelf("limits", Command.limit("FSIZE", value)))
      expect(limits["Max file size"]).toEqual([String(value.soft), String(value.hard)])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("credentials", () => {
  const id = (...settings: ReadonlyArray<(self: Command.Command) => Command.Command>) =>
    Command.string(settings.reduce((command, setting) => setting(command), Command.make("/usr/bin/id")))
  const nobody = "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"

  it.live("uid by name: nobody, its primary group and its groups", () =>
    Effect.gen(function*() {
      expect(yield* id(Command.uid("nobody"))).toBe(nobody)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("uid by number: the same", () =>
    Effect.gen(function*() {
      expect(yield* id(Command.uid(65534))).toBe(nobody)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("uid and gid by name and by number", () =>
    Effect.gen(function*() {
      expect(yield* id(Command.uid("nobody"), Command.gid("nogroup"))).toBe(nobody)
      expect(yield* id(Command.uid(65534), Command.gid(65534))).toBe(nobody)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("gid only: that group, as the only group; the uid is unchanged", () =>
    Effect.gen(function*() {
      expect(yield* id(Command.gid("nogroup"))).toBe("uid=0(root) gid=65534(nogroup) groups=65534(nogroup)\n")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("explicit supplementary groups, by name and number", () =>
    Effect.gen(function*() {
      const status = yield* catSelf(
        "status",
        Command.uid("nobody"),
        Command.gid(100),
        Command.groups(["nogroup", 1234, "users"])
      )
      expect(statusField(status, "Uid")).toBe("65534\t65534\t65534\t65534")
      expect(statusField(status, "Gid")).toBe("100\t100\t100\t100")
      expect(groupsOf(status)).toEqual([100, 1234, 65534])
      expect(yield* id(Command.uid("nobody"), Command.groups([]))).toBe(
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
      )
      expect(groupsOf(yield* catSelf("status", Command.uid("nobody"), Command.groups([])))).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a numeric uid without a passwd entry: our gid, no supplementary groups", () =>
    Effect.gen(function*() {
      const status = yield* catSelf("status", Command.uid(12345))
      expect(statusField(status, "Uid")).toBe("12345\t12345\t12345\t12345")
      expect(statusField(status, "Gid")).toBe("0\t0\t0\t0")
      expect(groupsOf(status)).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("pre-exec actions", () => {
  it.live("nice adds to our nice value, clamped to 19", () =>
    Effect.gen(function*() {
      const ours = Os.getPriority()
      const niceOf = (increment: number) =>
        Effect.map(catSelf("stat", Command.preExec(Command.PreExec.nice(increment))), (stat) =>
          Number(statField(stat, 19)))
      expect(yield* niceOf(5)).toBe(Math.min(19, ours + 5))
      expect(yield* niceOf(40)).toBe(19)
      // Lowering needs CAP_SYS_NICE, which root holds here.
      expect(yield* niceOf(-3)).toBe(Math.max(-20, ours - 3))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("noNewPrivileges", () =>
    Effect.gen(function*() {
      expect(statusField(yield* catSelf("status", Command.preExec(Command.PreExec.noNewPrivileges)), "NoNewPrivs"))
        .toBe("1")
      expect(statusField(yield* catSelf("status"), "NoNewPrivs")).toBe(statusField(ownStatus, "NoNewPrivs"))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("oomScoreAdjust", () =>
    Effect.gen(function*() {
      expect(yield* catSelf("oom_score_adj", Command.preExec(Command.PreExec.oomScoreAdjust(500)))).toBe("500\n")
      expect(yield* catSelf("oom_score_adj", Command.preExec(Command.PreExec.oomScoreAdjust(1000)))).toBe("1000\n")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("ioPriority", () =>
    Effect.gen(function*() {
      const ionice = (ioClass: "best-effort" | "idle", level: number) =>
        Command.string(
          Command.make("/bin/sh", "-c", "exec ionice -p $$").pipe(
            Command.preExec(Command.PreExec.ioPriority(ioClass, level))
          )
        )
      expect(yield* ionice("best-effort", 6)).toBe("best-effort: prio 6\n")
      expect(yield* ionice("idle", 0)).toBe("idle\n")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("several actions, with credentials: all applied", () =>
    Effect.gen(function*() {
      const status = yield* catSelf(
        "status",
        Command.preExec(Command.PreExec.noNewPrivileges),
        Command.preExec(Command.PreExec.oomScoreAdjust(300)),
        Command.uid("nobody")
      )
      expect(statusField(status, "NoNewPrivs")).toBe("1")
      expect(statusField(status, "Uid")).toBe("65534\t65534\t65534\t65534")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("process group and session", () => {
  const report = (...settings: ReadonlyArray<(self: Command.Command) => Command.Command>) =>
    Effect.map(
      Command.string(settings.reduce((command, setting) => setting(command), probe("--no-stdin", "--quiet-io"))),
      (out) => {
        const { pgidIsPid, pgrp, sidIsPid } = parseReport(out)
        return { pgrp, pgidIsPid, sidIsPid }
      }
    )

  it.live("default (processGroup \"new\"): leads a new group in our session", () =>
    Effect.gen(function*() {
      expect(yield* report()).toEqual({ pgrp: "new", pgidIsPid: true, sidIsPid: false })
      expect(yield* report(Command.processGroup("new"))).toEqual({ pgrp: "new", pgidIsPid: true, sidIsPid: false })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("processGroup \"inherit\": stays in our group", () =>
    Effect.gen(function*() {
      expect(yield* report(Command.processGroup("inherit"))).toEqual({
        pgrp: "same",
        pgidIsPid: false,
        sidIsPid: false
      })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("PreExec.setsid: a session leader (and group leader)", () =>
    Effect.gen(function*() {
      expect(yield* report(Command.preExec(Command.PreExec.setsid))).toEqual({
        pgrp: "new",
        pgidIsPid: true,
        sidIsPid: true
      })
      expect(yield* report(Command.preExec(Command.PreExec.setsid), Command.processGroup("inherit"))).toEqual({
        pgrp: "new",
        pgidIsPid: true,
        sidIsPid: true
      })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  // With setsid the child leads its own group even with processGroup("inherit"): scope close
  // signals that group, so what the child left in it goes too.
  for (const mode of ["new", "inherit"] as const) {
    it.live(`scope close kills what a setsid child left in its group (processGroup "${mode}")`, () =>
      Effect.gen(function*() {
        const mark = marker()
        yield* Effect.scoped(Effect.gen(function*() {
          const process = yield* Command.start(
            Command.make("/bin/sh", "-c", "sleep 100 & echo ready; exec sleep 100").pipe(
              Command.stdout("pipe"),
              Command.preExec(Command.PreExec.setsid),
              Command.processGroup(mode),
              Command.envInherit,
              Command.env("EC_MARKER", mark)
            )
          )
          yield* waitForLine(process, "ready")
          // A process in the middle of its exec shows no environment for a moment: poll (bounded).
          expect(yield* Effect.promise(() => eventually(() => withMarker("EC_MARKER", mark).length === 2))).toBe(true)
        }))
        expect(withMarker("EC_MARKER", mark)).toEqual([])
      }).pipe(Effect.provide(NodeCommandExecutor.layer)))
  }
})

describe("stderr joined to stdout in the child", () => {
  const quiet = (...flags: ReadonlyArray<string>) => probe("--no-report", "--no-stdin", "--quiet-io", ...flags)

  it.live("interleaved writes keep their exact order through one pipe", () =>
    Effect.gen(function*() {
      const out = yield* Command.string(quiet("--interleave", "200").pipe(Command.stderr("stdout")))
      expect(out).toBe(interleaved(200))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("into a file: the exact order too", () =>
    Effect.gen(function*() {
      const path = tempPath("joined")
      yield* Command.run(
        quiet("--interleave", "200").pipe(Command.stdout(Command.Output.file(path)), Command.stderr("stdout"))
      )
      expect(Fs.readFileSync(path, "utf8")).toBe(interleaved(200))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("fd 1 and fd 2 of the child are the same kernel object", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          probe("--no-report", "--quiet-io").pipe(
            Command.stdin("pipe"),
            Command.stdout("pipe"),
            Command.stderr("stdout")
          )
        )
        // Only fds 1 and 2: the dynamic loader of the freshly exec'd child opens and closes others.
        const [one, two] = [1, 2].map((fd) => Fs.readlinkSync(`/proc/${process.pid}/fd/${fd}`))
        expect(one).toMatch(/^(pipe|socket):\[\d+\]$/)
        expect(two).toBe(one)
        yield* Stream.run(Stream.empty, process.stdin)
        expect(yield* process.wait).toEqual(ExitStatus.exited(0))
      }))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("death with the parent", () => {
  it.live(
    "children of a SIGKILLed Node process are gone within 1 s; dieWithParent(false) survives",
    () =>
      Effect.gen(function*() {
        const { exit, node, stdout } = startNode("parent-death.ts", [], {
          stdio: ["ignore", "pipe", "inherit", "pipe", "pipe"]
        })
        // Every child that must die holds fd 3 as its stdout, the survivor fd 4: EOF = all gone.
        const dying = collect(node.stdio[3] as Readable)
        const surviving = collect(node.stdio[4] as Readable)
        const line = yield* Effect.promise(() => stdout.until(/^\{.*\}$/m))
        const { pids, survivor } = JSON.parse(line[0]) as { pids: Record<string, number>; survivor: number }
        const children = Object.values(pids)
        for (const pid of [...children, survivor]) track(pid)
        expect(children.length).toBe(5)
        for (const pid of [...children, survivor]) expect(isAlive(pid)).toBe(true)
        // They run under the fixture, not us: its children, or (contained) its supervisors' children.
        for (const pid of children) {
          const parent = statField(readProc(pid, "stat"), 4)
          expect([String(node.pid), statField(readProc(Number(parent), "stat"), 4)]).toContain(String(node.pid))
        }

        node.kill("SIGKILL")
        expect(yield* Effect.promise(() => exit)).toEqual({ code: null, signal: "SIGKILL" })
        const deadline = Date.now() + 1_000
        expect(yield* within(dying.end, deadline - Date.now())).toBe(true)
        // They closed their fds; the last step out of /proc is polled, within the same second.
        const left = yield* goneBy(children, deadline)
        expect(left.map((pid) => Object.keys(pids).find((name) => pids[name] === pid))).toEqual([])

        expect(isAlive(survivor)).toBe(true)
        expect(surviving.ended()).toBe(false)
        process.kill(survivor, "SIGKILL")
        expect(yield* within(surviving.end, 10_000)).toBe(true)
        expect(yield* goneBy([survivor], Date.now() + 5_000)).toEqual([])
      }),
    60_000
  )
})

describe("handshake", () => {
  /** Creates `path` and prints "done" when it runs. */
  const target = (path: string) =>
    Command.make("/bin/sh", "-c", "echo ran > \"$1\"; echo done", "sh", path).pipe(
      Command.handshake,
      Command.stdout("pipe")
    )

  it.live("handshakeWait returns before exec; handshakeNotify lets the target run", () =>
    Effect.gen(function*() {
      const path = tempPath("ran")
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(target(path))
        yield* process.handshakeWait
        // Ready, not exec'd: the process is still the helper, and the target has not run.
        expect(Fs.readlinkSync(`/proc/${process.pid}/exe`)).toBe(helperPath)
        expect(Fs.existsSync(path)).toBe(false)
        yield* process.handshakeNotify
        yield* waitForLine(process, "done")
        expect(yield* process.wait).toEqual(ExitStatus.exited(0))
        expect(Fs.readFileSync(path, "utf8")).toBe("ran\n")
      }))
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("the setup is applied before the handshake: the waiting helper already has the target's credentials", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(
          probe("--no-stdin", "--quiet-io").pipe(Command.handshake, Command.uid("nobody"), Command.stdout("pipe"))
        )
        yield* process.handshakeWait
        expect(statusField(readProc(process.pid, "status"), "Uid")).toBe("65534\t65534\t65534\t65534")
        yield* process.handshakeNotify
        const out = yield* process.stdout.pipe(Stream.decodeText(), Stream.mkString)
        expect(parseReport(out).fds).toEqual([0, 1, 2])
        expect(yield* process.wait).toEqual(ExitStatus.exited(0))
      }))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a scope closed without notify kills the waiting child; the target never ran", () =>
    Effect.gen(function*() {
      const path = tempPath("never-ran")
      const { pid, process } = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(target(path))
        yield* process.handshakeWait
        return { pid: process.pid, process }
      }))
      expect(isAlive(pid)).toBe(false)
      expect(yield* process.wait).toEqual(ExitStatus.signaled("SIGTERM"))
      expect(Fs.existsSync(path)).toBe(false)
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a setup failure before the handshake: handshakeWait fails with the typed error", () =>
    Effect.gen(function*() {
      const path = tempPath("never-ran")
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(target(path).pipe(Command.uid("ec-no-such-user")))
        const error = asSpawnError(yield* Effect.flip(process.handshakeWait))
        expect(error.reason).toBe("SetupFailed")
        expect(error.stage).toBe("getpwnam")
        expect(error.errno).toBe("ENOENT")
        expect(yield* process.wait).toEqual(ExitStatus.exited(125))
      }))
      expect(Fs.existsSync(path)).toBe(false)
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("an exec failure after notify: handshakeNotify fails with the typed error", () =>
    Effect.gen(function*() {
      const program = writeFile("no-shebang", "echo should not run\n", 0o755)
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(Command.make(program).pipe(Command.handshake))
        yield* process.handshakeWait
        const error = asSpawnError(yield* Effect.flip(process.handshakeNotify))
        expect(error.reason).toBe("NotExecutable")
        expect(error.stage).toBe("execve")
        expect(error.errno).toBe("ENOEXEC")
        expect(yield* process.wait).toEqual(ExitStatus.exited(126))
      }))
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("without Command.handshake: handshakeWait and handshakeNotify are usage errors", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Command.start(Command.make("/bin/true"))
        expect((yield* Effect.flip(process.handshakeWait))._tag).toBe("CommandUsageError")
        expect((yield* Effect.flip(process.handshakeNotify))._tag).toBe("CommandUsageError")
      }))
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))
})

describe("each failing stage: its own typed error, nothing left running", () => {
  /** Runs `command` (which would create `spawned`), expects a SpawnError; nothing ran, nothing is left. */
  const fails = (command: (spawned: Command.Command) => Command.Command) =>
    Effect.gen(function*() {
      const spawned = tempPath("spawned")
      const mark = marker()
      const error = asSpawnError(
        yield* failsCleanly(
          Command.run(command(evidence(spawned).pipe(Command.envInherit, Command.env("EC_MARKER", mark))))
        )
      )
      expect(Fs.existsSync(spawned)).toBe(false)
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      return error
    })

  /** Like `fails`, for a program that cannot be exec'd. */
  const execFails = (program: string, ...settings: ReadonlyArray<(self: Command.Command) => Command.Command>) =>
    Effect.gen(function*() {
      const mark = marker()
      const command = settings.reduce(
        (command, setting) => setting(command),
        Command.make(program).pipe(Command.envInherit, Command.env("EC_MARKER", mark))
      )
      const error = asSpawnError(yield* failsCleanly(Command.run(command)))
      expect(withMarker("EC_MARKER", mark)).toEqual([])
      return error
    })

  it.live("unknown user: getpwnam ENOENT", () =>
    Effect.gen(function*() {
      const error = yield* fails(Command.uid("ec-no-such-user"))
      expect(error).toMatchObject({ reason: "SetupFailed", stage: "getpwnam", errno: "ENOENT" })
      expect(error.message).toContain("getpwnam failed: ENOENT")
      expect(error.message).toContain("ec-no-such-user")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("unknown group: getgrnam ENOENT", () =>
    Effect.gen(function*() {
      const error = yield* fails(Command.gid("ec-no-such-group"))
      expect(error).toMatchObject({ reason: "SetupFailed", stage: "getgrnam", errno: "ENOENT" })
      const inGroups = yield* fails(Command.groups(["nogroup", "ec-no-such-group"]))
      expect(inGroups).toMatchObject({ reason: "SetupFailed", stage: "getgrnam", errno: "ENOENT" })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live(
    "a limit above the hard limit, run by a Node process that is not root: setrlimit(NOFILE) EPERM",
    () =>
      Effect.gen(function*() {
        const { exit, stdout } = startNode("rlimit-as-user.ts", [], {
          stdio: ["ignore", "pipe", "inherit"],
          uid: 65534,
          gid: 65534
        })
        const [status, out] = yield* Effect.promise(() => Promise.all([exit, stdout.end]))
        expect(status).toEqual({ code: 0, signal: null })
        const result = JSON.parse(out) as Record<string, unknown>
        expect(result).toMatchObject({
          uid: 65534,
          tag: "SpawnError",
          reason: "SetupFailed",
          stage: "setrlimit(NOFILE)",
          errno: "EPERM"
        })
        expect(result.message).toContain("setrlimit(NOFILE) failed: EPERM")
      }),
    60_000
  )

  // Limits are set before the switch to `uid` (libvirt's order), so with CAP_SYS_RESOURCE the
  // limit would be raised: this container's root lacks it.
  it.live.skipIf(hasCapSysResource)(
    "uid nobody + a limit above our hard limit (no CAP_SYS_RESOURCE): setrlimit(NOFILE) EPERM",
    () =>
      Effect.gen(function*() {
        const hard = Number(ownLimits()["Max open files"]![1])
        const error = yield* fails((c) =>
          c.pipe(Command.uid("nobody"), Command.limit("NOFILE", { soft: hard + 1, hard: hard + 1 }))
        )
        expect(error).toMatchObject({ reason: "SetupFailed", stage: "setrlimit(NOFILE)", errno: "EPERM" })
        expect(error.message).toContain("setrlimit(NOFILE) failed: EPERM")
      }).pipe(Effect.provide(NodeCommandExecutor.layer))
  )

  it.live("a missing working directory: BadWorkingDirectory (checked by the parent)", () =>
    Effect.gen(function*() {
      const cwd = Path.join(dir, "no-such-dir")
      const error = yield* fails(Command.workingDirectory(cwd))
      expect(error).toMatchObject({ reason: "BadWorkingDirectory", stage: "chdir", errno: "ENOENT" })
      expect(error.message).toContain(cwd)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a working directory the target user cannot enter: chdir EACCES from the helper", () =>
    Effect.gen(function*() {
      const cwd = tempPath("private")
      Fs.mkdirSync(cwd, { mode: 0o700 })
      const error = yield* fails((c) => c.pipe(Command.uid("nobody"), Command.workingDirectory(cwd)))
      expect(error).toMatchObject({ reason: "BadWorkingDirectory", stage: "chdir", errno: "EACCES" })
      expect(error.message).toContain("chdir failed: EACCES")
      expect(error.message).toContain(cwd)
      const root = yield* fails((c) => c.pipe(Command.uid("nobody"), Command.workingDirectory("/root")))
      expect(root).toMatchObject({ reason: "BadWorkingDirectory", stage: "chdir", errno: "EACCES" })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a missing absolute program: NotFound ENOENT (checked by the parent)", () =>
    Effect.gen(function*() {
      const error = yield* execFails(Path.join(dir, "no-such-program"))
      expect(error).toMatchObject({ reason: "NotFound", stage: "execve", errno: "ENOENT" })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a script whose interpreter is missing: execve ENOENT from the helper", () =>
    Effect.gen(function*() {
      const program = writeFile("bad-interpreter", "#!/no/such/interpreter\n", 0o755)
      const error = yield* execFails(program)
      expect(error).toMatchObject({ reason: "NotFound", stage: "execve", errno: "ENOENT" })
      expect(error.message).toContain("execve failed: ENOENT")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a file without execute permission: PermissionDenied EACCES (checked by the parent)", () =>
    Effect.gen(function*() {
      const program = writeFile("not-executable", "#!/bin/sh\necho should not run\n", 0o644)
      const error = yield* execFails(program)
      expect(error).toMatchObject({ reason: "PermissionDenied", stage: "execve", errno: "EACCES" })
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("a program the target user may not execute: execve EACCES from the helper", () =>
    Effect.gen(function*() {
      const program = writeFile("root-only", "#!/bin/sh\necho should not run\n", 0o700)
      const error = yield* execFails(program, Command.uid("nobody"))
      expect(error).toMatchObject({ reason: "PermissionDenied", stage: "execve", errno: "EACCES" })
      expect(error.message).toContain("execve failed: EACCES")
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  it.live("an executable with garbage content: NotExecutable ENOEXEC, no /bin/sh fallback", () =>
    Effect.gen(function*() {
      const garbage = writeFile("garbage", new Uint8Array([0, 1, 2, 3, 0xff, 0xfe, 0x7f, 0x45, 0x4c, 0x46, 10]), 0o755)
      const error = yield* execFails(garbage)
      expect(error).toMatchObject({ reason: "NotExecutable", stage: "execve", errno: "ENOEXEC" })
      expect(error.message).toContain("execve failed: ENOEXEC")

      // A shell script without "#!": the helper execs it with execve, which refuses it ...
      const ran = tempPath("ran-by-sh")
      const script = writeFile("no-shebang", `echo ran > ${ran}\n`, 0o755)
      expect(yield* execFails(script)).toMatchObject({ reason: "NotExecutable", stage: "execve", errno: "ENOEXEC" })
      expect(Fs.existsSync(ran)).toBe(false)
      // ... and so does child_process without the helper, whose libuv would run it with /bin/sh.
      const direct = yield* Effect.flip(
        Command.exitCode(Command.make(script)).pipe(
          Effect.provide(NodeCommandExecutor.layerWith({ helper: "never", engine: "child_process" }))
        )
      )
      expect(direct).toMatchObject({ reason: "NotExecutable", stage: "execve", errno: "ENOEXEC" })
      expect(Fs.existsSync(ran)).toBe(false)
    }).pipe(Effect.provide(NodeCommandExecutor.layer)))

  // Pre-exec actions run as the parent's user, before the switch of credentials; lowering the
  // OOM score adjustment below its minimum needs CAP_SYS_RESOURCE, which this container's root lacks.
  it.live.skipIf(hasCapSysResource)(
    "a pre-exec action that fails stops the exec: oom_score_adj EACCES",
    () =>
      Effect.gen(function*() {
        const error = yield* fails(Command.preExec(Command.PreExec.oomScoreAdjust(-500)))
        expect(error).toMatchObject({ reason: "SetupFailed", stage: "oom_score_adj", errno: "EACCES" })
        expect(error.message).toContain("oom_score_adj failed: EACCES")
      }).pipe(Effect.provide(NodeCommandExecutor.layer))
  )
})
