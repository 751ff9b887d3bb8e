/**
 * The native spawn engine (native/engine.c -> build/engine.node), driven directly through its
 * typed loader (src/internal/engine.ts): spawn and exit statuses, pipes, fd placement and
 * hygiene, cwd/env/argv, exec failures, signal state in the child, process groups, kill through
 * the pidfd, coexistence with child_process, async context, ref/unref, and teardown of a worker
 * with running children. The file is skipped (with the compiler's output) only when the addon
 * cannot be built here, and never in CI (CI set): there it fails; a build that does not load fails.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { Buffer } from "node:buffer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"

import { afterAll, describe, expect, it, onTestFinished } from "@effect/vitest"

import type { Engine, EngineChild, EngineExit, EngineSpawnSpec } from "../src/internal/engine.js"
import {
  ENGINE_ABI,
  enginePath,
  engineUnavailableReason,
  loadEngine,
  StdioClosed,
  StdioDevNull
} from "../src/internal/engine.js"
import { between, inheritableFds, parseReport, probePath } from "./support/probe.js"
import { isAlive, marker, openFdCount, withMarker, zombieChildren } from "./support/procs.js"
import { buildScriptPath } from "./support/raw-helper.js"

const S = Os.constants.signals
const E = Os.constants.errno

// ------------------------------------------------------------------ build (before anything else)

const engineSource = fileURLToPath(new URL("../native/engine.c", import.meta.url))
const mtimeMs = (path: string) => (Fs.existsSync(path) ? Fs.statSync(path).mtimeMs : -1)
const build = ChildProcess.spawnSync(process.execPath, [buildScriptPath], { encoding: "utf8" })
/** Why the addon is not there, when it could not be built: the only reason to skip this file. */
const notBuilt = mtimeMs(enginePath) < mtimeMs(engineSource)
  ? `the native engine cannot be built here (build-native.mjs: ${
    build.error?.message ?? `exit ${build.status}`
  }):\n${build.stdout}${build.stderr}`
  : undefined
// In CI a machine without the engine must not pass green: there it fails instead of skipping.
if (notBuilt !== undefined && process.env.CI !== undefined && process.env.CI !== "") throw new Error(notBuilt)
if (notBuilt !== undefined) console.warn(`engine.test.ts: SKIPPED, ${notBuilt}`)

/** What subprocesses and workers load: the same build as `loadEngine` (EFFECT_COMMAND_ENGINE can name another). */
const addonPath = process.env.EFFECT_COMMAND_ENGINE ?? enginePath

/** The loaded engine; a build that does not load fails every test. */
const engine = (): Engine => {
  const loaded = loadEngine()
  if (loaded === null) throw new Error(`the native engine was built but does not load: ${engineUnavailableReason()}`)
  return loaded
}

// ------------------------------------------------------------------ helpers

const baseEnv = ["PATH=/usr/bin:/bin", "LC_ALL=C"]

interface Started {
  readonly child: EngineChild
  readonly exit: Promise<EngineExit>
}

/** A spec for these tests: `stdio` dense, index = the child's fd (the engine takes pairs). */
type TestSpec = Omit<Partial<EngineSpawnSpec>, "stdio"> & { readonly stdio?: ReadonlyArray<number> }

/** A dense stdio array as the engine's [childFd, source] pairs. */
const pairs = (dense: ReadonlyArray<number>): Array<[number, number]> => dense.map((source, fd) => [fd, source])

const start = (path: string, args: ReadonlyArray<string>, options: TestSpec = {}): Started => {
  let resolve!: (exit: EngineExit) => void
  const exit = new Promise<EngineExit>((r) => (resolve = r))
  const child = engine().spawn({
    path,
    argv: options.argv ?? [Path.basename(path), ...args],
    envp: options.envp === undefined ? baseEnv : options.envp,
    cwd: options.cwd ?? null,
    stdio: pairs(options.stdio ?? [StdioDevNull, StdioDevNull, StdioDevNull]),
    newGroup: options.newGroup ?? false,
    ...(options.newSession !== undefined ? { newSession: options.newSession } : {}),
    ...(options.deathSignal !== undefined ? { deathSignal: options.deathSignal } : {})
  }, resolve)
  return { child, exit }
}

const sh = (script: string, options: TestSpec = {}, ...args: Array<string>) =>
  start("/bin/sh", ["-c", script, "sh", ...args], options)

/** Everything readable from `fd` (a pipe's read end, now owned by the socket) until EOF. */
const readAll = (fd: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const socket = new Net.Socket({ fd, readable: true, writable: false })
    const chunks: Array<Buffer> = []
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("error", reject)
    socket.on("end", () => {
      socket.destroy()
      resolve(Buffer.concat(chunks))
    })
  })

/** A pipe; `readAll` of its read end starts at once, the write end is for the child. */
const outputPipe = () => {
  const [r, w] = engine().makePipe()
  return { w, text: readAll(r).then((b) => b.toString("utf8")) }
}

/** Runs a program with stdout (and stderr, with `both`) to one pipe: its exit and output. */
const run = async (path: string, args: ReadonlyArray<string>, options: TestSpec & { both?: boolean } = {}) => {
  const out = outputPipe()
  let started: Started
  try {
    started = start(path, args, {
      ...options,
      stdio: options.stdio ?? [StdioDevNull, out.w, options.both ? out.w : StdioDevNull]
    })
  } finally {
    Fs.closeSync(out.w)
  }
  const [exit, stdout] = await Promise.all([started.exit, out.text])
  return { exit, stdout, pid: started.child.pid }
}

const runProbe = (args: ReadonlyArray<string>, options: TestSpec = {}) =>
  run(probePath, ["--no-stdin", "--quiet-io", ...args], options)

const exited = (code: number): EngineExit => ({ code, signal: null, coreDumped: false })
const killedBy = (signal: NodeJS.Signals, coreDumped = false): EngineExit => ({ code: null, signal, coreDumped })

const tempDirs: Array<string> = []
const tempDir = () => {
  const dir = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "ec-engine-test-")))
  tempDirs.push(dir)
  return dir
}
const writeFile = (name: string, content: string | Buffer, mode: number) => {
  const path = Path.join(tempDir(), name)
  Fs.writeFileSync(path, content, { mode })
  Fs.chmodSync(path, mode)
  return path
}

/** Node started on a script that loads the engine (with an fd limit, soft and hard); its exit and stdout. */
const node = (
  script: string,
  options: ChildProcess.SpawnOptions = {},
  fdLimit?: number,
  flags: ReadonlyArray<string> = []
) => {
  const args = [...flags, "-e", script, addonPath, probePath]
  const child = fdLimit === undefined
    ? ChildProcess.spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], ...options })
    : ChildProcess.spawn("/bin/sh", ["-c", `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
      ...options
    })
  const chunks: Array<Buffer> = []
  child.stdout!.on("data", (chunk: Buffer) => chunks.push(chunk))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>(
    (resolve, reject) => {
      child.once("error", reject)
      child.once("close", (code, signal) => resolve({ code, signal, stdout: Buffer.concat(chunks).toString("utf8") }))
    }
  )
  return { child, exit }
}
/** Prelude of those scripts: `engine`, `probe`, and `spawn(path, argv, extra, onExit)`. */
const prelude = `
const engine = require(process.argv[1]);
const probe = process.argv[2];
const spawn = (path, argv, extra, onExit) => engine.spawn(
  { path, argv, envp: ["PATH=/usr/bin:/bin"], cwd: null, newGroup: false, ...extra,
    stdio: (extra?.stdio ?? [-1, 1, 2]).map((source, fd) => [fd, source]) }, onExit ?? (() => {}));
`

const comm = (pid: number): string => {
  try {
    return Fs.readFileSync(`/proc/${pid}/comm`, "latin1").trim()
  } catch {
    return "?"
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const until = async (what: string, condition: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

afterAll(() => {
  for (const dir of tempDirs) Fs.rmSync(dir, { recursive: true, force: true })
})

// ------------------------------------------------------------------ tests

describe.skipIf(notBuilt !== undefined)("native engine", () => {
  it("loads, with the API version the loader expects", () => {
    const e = engine()
    expect(typeof e.spawn).toBe("function")
    expect(typeof e.makePipe).toBe("function")
    expect(typeof e.spawnAsync).toBe("function")
    expect(e.abi).toBe(ENGINE_ABI)
  })

  it("makeSocketPair(): two connected fds, close-on-exec (a child sees neither unless given it)", async () => {
    const [ours, theirs] = engine().makeSocketPair()
    const { exit } = start("/bin/sh", ["-c", "cat; ls /proc/self/fd"], { stdio: [theirs, StdioDevNull, StdioDevNull] })
    Fs.closeSync(theirs)
    const socket = new Net.Socket({ fd: ours, readable: false, writable: true })
    socket.end("through the socket\n")
    expect(await exit).toEqual(exited(0))
    const [read, write] = engine().makePipe()
    const listing = start("/bin/sh", ["-c", "ls /proc/self/fd"], { stdio: [StdioDevNull, write, StdioDevNull] })
    Fs.closeSync(write)
    const fds = (await readAll(read)).toString().trim().split("\n").map(Number)
    expect(await listing.exit).toEqual(exited(0))
    expect(fds.filter((fd) => fd > 3)).toEqual([])
  })

  it("environ() is process.env on the main thread, writes and deletes included", () => {
    const name = `EC_ENVIRON_${marker()}`
    process.env[name] = "a value = with signs"
    try {
      expect(engine().environ()).toContain(`${name}=a value = with signs`)
      expect(engine().environ().filter((entry) => !entry.startsWith(`${name}=`)).length).toBe(
        Object.keys(process.env).length - 1
      )
    } finally {
      delete process.env[name]
    }
    expect(engine().environ().some((entry) => entry.startsWith(`${name}=`))).toBe(false)
  })

  describe("spawnAsync (the spawn on a thread-pool thread)", () => {
    const startAsync = (path: string, argv: ReadonlyArray<string>, stdio: ReadonlyArray<number>) => {
      let onExit!: (exit: EngineExit) => void
      const exit = new Promise<EngineExit>((resolve) => (onExit = resolve))
      const spawned = new Promise<EngineChild>((resolve, reject) =>
        engine().spawnAsync(
          { path, argv, envp: baseEnv, cwd: null, stdio: pairs(stdio), newGroup: false },
          (error, child) => (error !== null ? reject(error) : resolve(child!)),
          onExit
        )
      )
      return { spawned, exit }
    }

    it("calls back with the child later, from the loop; the exit comes as with spawn", async () => {
      let calledBack = false
      const { exit, spawned } = startAsync("/bin/sh", ["sh", "-c", "exit 7"], [
        StdioDevNull,
        StdioDevNull,
        StdioDevNull
      ])
      void spawned.then(() => (calledBack = true))
      expect(calledBack).toBe(false)
      const child = await spawned
      expect(child.pid).toBeGreaterThan(0)
      expect(await exit).toEqual(exited(7))
    })

    it("the spec's fds are read when the thread spawns: a pipe given as stdout carries the output", async () => {
      const [read, write] = engine().makePipe()
      const { spawned, exit } = startAsync("/bin/sh", ["sh", "-c", "echo from the thread"], [
        StdioDevNull,
        write,
        StdioDevNull
      ])
      await spawned
      Fs.closeSync(write)
      expect((await readAll(read)).toString()).toBe("from the thread\n")
      expect(await exit).toEqual(exited(0))
    })

    it("exec failures come to onSpawn as errno errors; bad specs throw at once", async () => {
      const missing = startAsync("/nonexistent/program", ["x"], [StdioDevNull, StdioDevNull, StdioDevNull]).spawned
      await expect(missing).rejects.toMatchObject({ code: "ENOENT", syscall: "execve", path: "/nonexistent/program" })
      const notExecutable = startAsync(engineSource, ["x"], [StdioDevNull, StdioDevNull, StdioDevNull]).spawned
      await expect(notExecutable).rejects.toMatchObject({ code: "EACCES" })
      expect(() =>
        engine().spawnAsync(
          { path: "/bin/true", argv: ["a\0b"], envp: [], cwd: null, stdio: [], newGroup: false },
          () => {},
          () => {}
        )
      )
        .toThrow(TypeError)
      expect(() =>
        engine().spawnAsync(
          { path: "/bin/true", argv: [], envp: [], cwd: null, stdio: [], newGroup: false },
          null as never,
          () => {}
        )
      )
        .toThrow(TypeError)
      expect(zombieChildren()).toEqual([])
    })

    it("a worker terminated while its spawns are in flight leaves no process behind", async () => {
      const value = marker()
      const worker = new Worker(
        `
const { parentPort, workerData } = require("node:worker_threads");
const engine = require(workerData.enginePath);
for (let i = 0; i < 40; i++) {
  engine.spawnAsync({ path: "/bin/sleep", argv: ["sleep", "1000"], envp: [workerData.marker], cwd: null,
    stdio: [[0, -1], [1, -1], [2, -1]], newGroup: false }, () => {}, () => {});
}
parentPort.postMessage("queued");
`,
        { eval: true, workerData: { enginePath: addonPath, marker: `EC_ENGINE_TEST=${value}` } }
      )
      const exited = new Promise<number>((resolve) => worker.once("exit", resolve))
      worker.on("error", () => {})
      await new Promise((resolve) => worker.once("message", resolve))
      await worker.terminate()
      await exited
      expect(withMarker("EC_ENGINE_TEST", value)).toEqual([])
      await until("no zombies", () => zombieChildren().length === 0, 5_000)
    })
  })

  describe("exit statuses", () => {
    it("/bin/true exits 0", async () => {
      const { child, exit } = start("/bin/true", [])
      expect(child.pid).toBeGreaterThan(0)
      expect(await exit).toEqual(exited(0))
    })

    it("exit codes", async () => {
      const codes = [1, 2, 42, 127, 255]
      const exits = await Promise.all(codes.map((code) => sh(`exit ${code}`).exit))
      expect(exits).toEqual(codes.map(exited))
    })

    it("kill with SIGTERM and SIGKILL: the signal by name; kill after the exit returns false", async () => {
      for (const signal of ["SIGTERM", "SIGKILL", "SIGINT", "SIGHUP"] as const) {
        const { child, exit } = start("/bin/sleep", ["1000"])
        expect(child.kill(0)).toBe(true)
        expect(child.kill(S[signal])).toBe(true)
        expect(await exit).toEqual(killedBy(signal))
        expect(child.kill(S.SIGKILL)).toBe(false)
        expect(child.kill(0)).toBe(false)
      }
    })

    it("kill(signal, true): the group the child leads while it is unreaped, else the child alone; false once reaped", async () => {
      // A member of the child's group holds the pipe: EOF comes only once the group kill reached it.
      const [r, w] = engine().makePipe()
      let leader: Started
      try {
        leader = sh("sleep 1000 & echo ready; wait", { newGroup: true, stdio: [StdioDevNull, w, StdioDevNull] })
      } finally {
        Fs.closeSync(w)
      }
      onTestFinished(() => void engine().signalProcess(-leader.child.pid, S.SIGKILL))
      const delivered: Array<boolean> = []
      const output = new Promise<string>((resolve) => {
        const socket = new Net.Socket({ fd: r, readable: true, writable: false })
        let text = ""
        socket.on("data", (chunk: Buffer) => {
          text += chunk.toString()
          if (text === "ready\n") delivered.push(leader.child.kill(S.SIGTERM, true))
        })
        socket.on("end", () => {
          socket.destroy()
          resolve(text)
        })
      })
      expect(await leader.exit).toEqual(killedBy("SIGTERM"))
      expect(await output).toBe("ready\n")
      expect(delivered).toEqual([true])
      // Reaped: its pid (and group id) may be someone else's now. Nothing is sent, nothing thrown.
      expect(leader.child.kill(S.SIGTERM, true)).toBe(false)
      expect(leader.child.kill(0, true)).toBe(false)

      // A child that leads no group: the signal goes to it alone (never to our own group).
      const alone = start("/bin/sleep", ["1000"])
      expect(alone.child.kill(S.SIGTERM, true)).toBe(true)
      expect(await alone.exit).toEqual(killedBy("SIGTERM"))
    })

    it("a signal the child raises itself", async () => {
      expect(await sh("kill -USR1 $$").exit).toEqual(killedBy("SIGUSR1"))
      expect(await start(probePath, ["--no-stdin", "--quiet-io", "--no-report", "--signal", "ABRT"]).exit).toEqual(
        killedBy("SIGABRT")
      )
    })

    it("kill with a number that is no signal throws a TypeError and sends nothing (2**32 + 9 is not SIGKILL)", async () => {
      const { child, exit } = start("/bin/sleep", ["1000"])
      for (const bad of [12345, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32 + S.SIGKILL!, 2 ** 53]) {
        expect(() => child.kill(bad)).toThrow(TypeError)
      }
      expect(isAlive(child.pid)).toBe(true)
      child.kill(S.SIGKILL)
      await exit
    })

    it("coreDumped: false without a core, true when the kernel wrote one", async () => {
      const cwd = tempDir()
      expect(await sh("ulimit -c 0; kill -SEGV $$", { cwd }).exit).toEqual(killedBy("SIGSEGV", false))
      const withCore = await sh("ulimit -c unlimited 2>/dev/null || exit 99; kill -SEGV $$", { cwd }).exit
      // Cores are possible when the hard limit allows them and the pattern is a plain file name
      // in the cwd (a pipe or another directory may or may not take the dump).
      const pattern = Fs.readFileSync("/proc/sys/kernel/core_pattern", "utf8").trim()
      if (withCore.code === 99 || pattern.startsWith("|") || pattern.includes("/")) {
        console.warn(
          `engine.test.ts: core dumps are not certain here (core_pattern ${
            JSON.stringify(pattern)
          }); coreDumped=true not asserted`
        )
        if (withCore.code !== 99) expect(withCore.signal).toBe("SIGSEGV")
      } else {
        expect(withCore).toEqual(killedBy("SIGSEGV", true))
        expect(Fs.readdirSync(cwd).some((f) => f.startsWith("core"))).toBe(true)
      }
    })
  })

  describe("pipes", () => {
    it("makePipe: two close-on-exec fds", () => {
      const [r, w] = engine().makePipe()
      try {
        for (const fd of [r, w]) {
          const flags = /^flags:\s*([0-7]+)$/m.exec(Fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!
          expect(parseInt(flags, 8) & 0o2000000).not.toBe(0)
        }
        expect(Fs.readlinkSync(`/proc/self/fd/${r}`)).toBe(Fs.readlinkSync(`/proc/self/fd/${w}`))
        expect(Fs.readlinkSync(`/proc/self/fd/${r}`)).toMatch(/^pipe:/)
      } finally {
        Fs.closeSync(r)
        Fs.closeSync(w)
      }
    })

    it("makePipe(capacity): a bigger kernel buffer", async () => {
      const size = 1024 * 1024
      const [r, w] = engine().makePipe(size)
      let started: Started
      try {
        started = start("/usr/bin/head", ["-c", String(size), "/dev/zero"], { stdio: [StdioDevNull, w, StdioDevNull] })
      } finally {
        Fs.closeSync(w)
      }
      // The child can write it all and exit before anything is read (64 KiB would block it).
      const exit = await Promise.race([started.exit, sleep(10_000).then(() => "blocked" as const)])
      const bytes = await readAll(r)
      expect(exit).toEqual(exited(0))
      expect(bytes.length).toBe(size)
      expect(() => engine().makePipe(-1)).toThrow(TypeError)
    })

    it("64 MiB of stdout through a real pipe, read by a net.Socket", async () => {
      const size = 64 * 1024 * 1024
      const [r, w] = engine().makePipe()
      const t0 = performance.now()
      let started: Started
      try {
        started = start("/usr/bin/head", ["-c", String(size), "/dev/zero"], { stdio: [StdioDevNull, w, StdioDevNull] })
      } finally {
        Fs.closeSync(w)
      }
      let received = 0
      let nonZero = 0
      const zeros = Buffer.alloc(1024 * 1024)
      await new Promise<void>((resolve, reject) => {
        const socket = new Net.Socket({ fd: r, readable: true, writable: false })
        socket.on("data", (chunk: Buffer) => {
          received += chunk.length
          for (let at = 0; at < chunk.length; at += zeros.length) {
            const part = chunk.subarray(at, at + zeros.length)
            if (!part.equals(zeros.subarray(0, part.length))) nonZero++
          }
        })
        socket.on("error", reject)
        socket.on("end", () => {
          socket.destroy()
          resolve()
        })
      })
      expect(await started.exit).toEqual(exited(0))
      const ms = performance.now() - t0
      expect(received).toBe(size)
      expect(nonZero).toBe(0)
      console.log(
        `engine.test.ts: 64 MiB through the pipe in ${ms.toFixed(0)} ms (${(64 / (ms / 1000)).toFixed(0)} MiB/s)`
      )
    })

    it("stdout and stderr to the same pipe", async () => {
      const { exit, stdout } = await run("/bin/sh", ["-c", "echo out; echo err >&2; echo out2"], { both: true })
      expect(exit).toEqual(exited(0))
      expect(stdout).toBe("out\nerr\nout2\n")
    })

    it("stdin from a pipe", async () => {
      const [r, w] = engine().makePipe()
      const out = outputPipe()
      let started: Started
      try {
        started = start("/bin/cat", [], { stdio: [r, out.w, StdioDevNull] })
      } finally {
        Fs.closeSync(r)
        Fs.closeSync(out.w)
      }
      const input = new Net.Socket({ fd: w, readable: false, writable: true })
      input.end("hello through stdin\n")
      expect(await started.exit).toEqual(exited(0))
      expect(await out.text).toBe("hello through stdin\n")
    })

    it("SIGPIPE is default in the child: writing to a closed pipe kills it", async () => {
      // Node ignores SIGPIPE; a child that inherited that would see EPIPE and go on.
      expect(
        BigInt(`0x${/^SigIgn:\s*([0-9a-f]+)$/m.exec(Fs.readFileSync("/proc/self/status", "utf8"))![1]}`) &
          (1n << BigInt(S.SIGPIPE - 1))
      )
        .not.toBe(0n)
      const [r, w] = engine().makePipe()
      Fs.closeSync(r)
      let started: Started
      try {
        started = start("/usr/bin/yes", [], { stdio: [StdioDevNull, w, StdioDevNull] })
      } finally {
        Fs.closeSync(w)
      }
      expect(await started.exit).toEqual(killedBy("SIGPIPE"))
    })

    it("no signal is ignored or blocked in the child", async () => {
      const { exit, stdout } = await run("/bin/cat", ["/proc/self/status"])
      expect(exit).toEqual(exited(0))
      expect(/^SigIgn:\s*(\w+)$/m.exec(stdout)![1]).toMatch(/^0+$/)
      expect(/^SigBlk:\s*(\w+)$/m.exec(stdout)![1]).toMatch(/^0+$/)
    })
  })

  describe("readPipe (a child's output read on the loop, no Node stream)", () => {
    /** Spawns `args` with stdout on a pipe whose read end is returned (the write end closed). */
    const piped = (path: string, args: ReadonlyArray<string>) => {
      const [r, w] = engine().makePipe()
      try {
        return { r, started: start(path, args, { stdio: [StdioDevNull, w, StdioDevNull] }) }
      } finally {
        Fs.closeSync(w)
      }
    }
    const isOpen = (fd: number) => Fs.existsSync(`/proc/self/fd/${fd}`)

    it("reads to EOF: every byte, in lent views of one shared buffer, then onEnd(0) with the fd closed", async () => {
      const size = 3 * 1024 * 1024 + 17
      const { r, started } = piped("/usr/bin/head", ["-c", String(size), "/dev/urandom"])
      const chunks: Array<Buffer> = []
      const buffers = new Set<ArrayBufferLike>()
      const ended = await new Promise<number>((resolve) => {
        engine().readPipe(r, (bytes) => {
          buffers.add(bytes.buffer)
          chunks.push(Buffer.from(bytes)) // a copy: the view is only lent
          return true
        }, resolve)
      })
      expect(ended).toBe(0)
      expect(await started.exit).toEqual(exited(0))
      expect(Buffer.concat(chunks).length).toBe(size)
      expect(buffers.size).toBe(1)
      expect(isOpen(r)).toBe(false)
    })

    it("onData returning false stops reading: the fd is closed, no onEnd, the writer gets SIGPIPE", async () => {
      const { r, started } = piped("/usr/bin/yes", [])
      let ends = 0
      let calls = 0
      await new Promise<void>((resolve) => {
        engine().readPipe(r, () => {
          calls++
          resolve()
          return false
        }, () => void ends++)
      })
      expect(await started.exit).toEqual(killedBy("SIGPIPE"))
      expect([calls, ends, isOpen(r)]).toEqual([1, 0, false])
    })

    it("close() before any bytes: no callback comes, the fd is closed", async () => {
      const { r, started } = piped("/bin/sh", ["-c", "echo late"])
      let calls = 0
      const reader = engine().readPipe(r, () => (calls++, true), () => void calls++)
      reader.close()
      reader.close()
      expect(isOpen(r)).toBe(false)
      // Its write comes to a closed pipe: it dies of SIGPIPE or (a slow shell) exits 0 first.
      expect([exited(0), killedBy("SIGPIPE")]).toContainEqual(await started.exit)
      // A poll phase of the loop after the exit: nothing was watching the fd any more.
      await new Promise(setImmediate)
      expect(calls).toBe(0)
    })

    it("refuses what is not an fd and two functions with a TypeError; an fd it was given is closed", () => {
      const [r, w] = engine().makePipe()
      try {
        for (const fd of [-1, NaN, Infinity, 1.5, 2 ** 31, 2 ** 53, "3"]) {
          expect(() => engine().readPipe(fd as number, () => true, () => {})).toThrow(TypeError)
        }
        expect(isOpen(r)).toBe(true)
        expect(() => engine().readPipe(r, undefined as never, () => {})).toThrow(TypeError)
        expect(isOpen(r)).toBe(false)
      } finally {
        Fs.closeSync(w)
      }
    })
  })

  describe("writePipe (bytes written into a child's input on the loop, no Node stream)", () => {
    /** Spawns `args` with stdin on a socket pair whose other end is returned, stdout on a pipe read to its end. */
    const fed = (path: string, args: ReadonlyArray<string>) => {
      const [ours, theirs] = engine().makeSocketPair()
      const [r, w] = engine().makePipe()
      try {
        const started = start(path, args, { stdio: [theirs!, w, StdioDevNull] })
        const output = new Promise<Buffer>((resolve) => {
          const chunks: Array<Buffer> = []
          engine().readPipe(r, (bytes) => (chunks.push(Buffer.from(bytes)), true), () => resolve(Buffer.concat(chunks)))
        })
        return { fd: ours!, started, output }
      } finally {
        Fs.closeSync(theirs!)
        Fs.closeSync(w)
      }
    }
    const isOpen = (fd: number) => Fs.existsSync(`/proc/self/fd/${fd}`)
    const write = (fd: number, bytes: Uint8Array) =>
      new Promise<number>((resolve) => void engine().writePipe(fd, bytes, resolve))

    it("writes every byte, then closes the fd (the child's EOF) and calls onEnd(0)", async () => {
      const bytes = new Uint8Array(9 * 1024 * 1024 + 7).map((_, i) => i % 251)
      const { fd, output, started } = fed("/bin/cat", [])
      expect(await write(fd, bytes)).toBe(0)
      expect(isOpen(fd)).toBe(false)
      expect(Buffer.compare(await output, Buffer.from(bytes))).toBe(0)
      expect(await started.exit).toEqual(exited(0))
    })

    it("empty bytes: EOF at once", async () => {
      const { fd, output, started } = fed("/usr/bin/wc", ["-c"])
      expect(await write(fd, new Uint8Array(0))).toBe(0)
      expect((await output).toString().trim()).toBe("0")
      expect(await started.exit).toEqual(exited(0))
    })

    it("a child that closes its input early: onEnd(EPIPE), no SIGPIPE here", async () => {
      const { fd, output, started } = fed("/usr/bin/head", ["-c", "3"])
      expect(await write(fd, new Uint8Array(8 * 1024 * 1024).fill(65))).toBe(Os.constants.errno.EPIPE)
      expect((await output).toString()).toBe("AAA")
      expect(await started.exit).toEqual(exited(0))
      expect(isOpen(fd)).toBe(false)
    })

    it("bytes whose buffer is transferred away meanwhile: onEnd(EFAULT), nothing read from freed memory", async () => {
      const bytes = new Uint8Array(8 * 1024 * 1024).fill(66)
      const { fd, output, started } = fed("/usr/bin/wc", ["-c"])
      // Nothing is written before the loop's next turn: by then the bytes are gone.
      const ended = write(fd, bytes)
      structuredClone(bytes.buffer, { transfer: [bytes.buffer] })
      expect(await ended).toBe(Os.constants.errno.EFAULT)
      expect((await output).toString().trim()).toBe("0")
      expect(await started.exit).toEqual(exited(0))
    })

    it("bytes whose buffer grows meanwhile: the bytes given are written; shrunk: onEnd(EFAULT)", async () => {
      const size = 8 * 1024 * 1024
      const Growable = SharedArrayBuffer as unknown as new(size: number, options: { maxByteLength: number }) => {
        grow(size: number): void
      }
      const growable = new Growable(size, { maxByteLength: 2 * size })
      const grown = fed("/usr/bin/wc", ["-c"])
      const growing = write(grown.fd, new Uint8Array(growable as never))
      growable.grow(2 * size)
      expect(await growing).toBe(0)
      expect((await grown.output).toString().trim()).toBe(String(size))
      expect(await grown.started.exit).toEqual(exited(0))
      const Resizable = ArrayBuffer as unknown as new(
        size: number,
        options: { maxByteLength: number }
      ) => ArrayBuffer & {
        resize(size: number): void
      }
      const resizable = new Resizable(size, { maxByteLength: size })
      const shrunk = fed("/usr/bin/wc", ["-c"])
      const shrinking = write(shrunk.fd, new Uint8Array(resizable))
      resizable.resize(1)
      expect(await shrinking).toBe(Os.constants.errno.EFAULT)
      expect(await shrunk.started.exit).toEqual(exited(0))
    })

    it("a reader that never reads does not stall the loop: close() stops, no callback, the fd closed", async () => {
      const { fd, started } = fed("/bin/sleep", ["100"])
      let calls = 0
      const writer = engine().writePipe(fd, new Uint8Array(64 * 1024 * 1024), () => void calls++)
      // Timers still fire while the socket is full.
      await new Promise((resolve) => setTimeout(resolve, 20))
      writer.close()
      writer.close()
      expect(isOpen(fd)).toBe(false)
      started.child.kill(9)
      expect(await started.exit).toEqual(killedBy("SIGKILL"))
      await new Promise(setImmediate)
      expect(calls).toBe(0)
    })

    it("refuses what is not an fd, a Uint8Array and a function with a TypeError; an fd it was given is closed", () => {
      for (const fd of [-1, NaN, Infinity, 1.5, 2 ** 31, 2 ** 53, "3"]) {
        expect(() => engine().writePipe(fd as number, new Uint8Array(1), () => {})).toThrow(TypeError)
      }
      const bad = ["text", new Uint16Array(2), new DataView(new ArrayBuffer(2)), new Proxy(new Uint8Array(2), {}), null]
      for (const bytes of bad) {
        const [r, w] = engine().makePipe()
        expect(() => engine().writePipe(w, bytes as never, () => {})).toThrow(TypeError)
        expect(isOpen(w)).toBe(false)
        Fs.closeSync(r)
      }
      const [r, w] = engine().makePipe()
      expect(() => engine().writePipe(w, new Uint8Array(1), undefined as never)).toThrow(TypeError)
      expect(isOpen(w)).toBe(false)
      Fs.closeSync(r)
    })
  })

  describe("fds", () => {
    it("the child sees 0, 1, 2 only, whatever this process holds", async () => {
      const extra = Fs.openSync(probePath, "r")
      try {
        const { exit, stdout } = await runProbe([])
        expect(exit).toEqual(exited(0))
        expect(parseReport(stdout).fds).toEqual([0, 1, 2])
        // Fds without close-on-exec in this process (if any) are not inherited either.
        const inherited = inheritableFds()
        expect(parseReport(stdout).fds.filter((fd) => inherited.includes(fd) && fd > 2)).toEqual([])
      } finally {
        Fs.closeSync(extra)
      }
    })

    it("the child sees 0, 1, 2 only, even when its parent inherited an fd without close-on-exec", async () => {
      // Node started with a file at fd 40, not close-on-exec there (like `node app.js 40<file`).
      const INHERITED = 40
      const file = writeFile("inherited", "inherited\n", 0o644)
      const fd = Fs.openSync(file, "r")
      try {
        const stdio: Array<"ignore" | "pipe" | "inherit" | number> = ["ignore", "pipe", "inherit"]
        while (stdio.length < INHERITED) stdio.push("ignore")
        stdio.push(fd)
        const { exit } = node(
          `${prelude}
const flags = parseInt(/^flags:\\s*([0-7]+)$/m.exec(require("fs").readFileSync("/proc/self/fdinfo/${INHERITED}", "utf8"))[1], 8);
require("fs").writeSync(1, "INHERITED_CLOEXEC:" + ((flags & 0o2000000) !== 0) + "\\n");
spawn(probe, ["probe", "--no-stdin", "--quiet-io"], {}, () =>
  spawn(probe, ["probe", "--no-stdin", "--quiet-io"], { stdio: [-1, 1, 2, ...Array(${
            INHERITED - 3
          }).fill(-2), ${INHERITED}] }));`,
          { stdio }
        )
        const { code, stdout } = await exit
        expect(code).toBe(0)
        expect(stdout).toContain("INHERITED_CLOEXEC:false\n")
        const reports = stdout.split("INHERITED_CLOEXEC:false\n")[1]!.split(/(?=ARG:--no-stdin\n)/)
        expect(reports.map((r) => parseReport(r).fds)).toEqual([[0, 1, 2], [0, 1, 2, INHERITED]])
      } finally {
        Fs.closeSync(fd)
      }
    })

    it("a passed fd keeps its number (stdio[i] === i), the ones between are closed", async () => {
      const content = "the passed file\n"
      const fd = Fs.openSync(writeFile("passed", content, 0o644), "r")
      try {
        const out = outputPipe()
        const stdio = [StdioDevNull, out.w, StdioDevNull, ...Array<number>(fd - 3).fill(StdioClosed), fd]
        let started: Started
        try {
          started = start(probePath, ["--no-stdin", "--readfd", String(fd)], { stdio })
        } finally {
          Fs.closeSync(out.w)
        }
        expect(await started.exit).toEqual(exited(0))
        const stdout = await out.text
        expect(parseReport(stdout).fds).toEqual([0, 1, 2, fd])
        expect(between(stdout, "STDOUT")).toBe(content)
      } finally {
        Fs.closeSync(fd)
      }
    })

    it("an fd passed at another number; /dev/null for -1", async () => {
      const [r, w] = engine().makePipe()
      const out = outputPipe()
      let started: Started
      try {
        started = start(probePath, ["--no-stdin", "--readfd", "3"], {
          stdio: [StdioDevNull, out.w, StdioDevNull, r, StdioDevNull]
        })
      } finally {
        Fs.closeSync(r)
        Fs.closeSync(out.w)
      }
      Fs.writeSync(w, "through fd 3\n")
      Fs.closeSync(w)
      expect(await started.exit).toEqual(exited(0))
      const stdout = await out.text
      expect(parseReport(stdout).fds).toEqual([0, 1, 2, 3, 4])
      expect(between(stdout, "STDOUT")).toBe("through fd 3\n")
    })

    it("sources that are also targets: swaps, cycles, shared sources, /dev/null over a source", async () => {
      const pipes = [0, 1, 2, 3].map(() => outputPipe())
      const [a, b, c, d] = pipes.map((p) => p.w) as [number, number, number, number]
      const n = Math.max(a, b, c, d) + 3
      const stdio = Array<number>(n).fill(StdioClosed)
      stdio[0] = StdioDevNull
      stdio[1] = StdioDevNull
      stdio[2] = StdioDevNull
      stdio[a] = b // a <-> b swapped
      stdio[b] = a
      stdio[c] = d // c gets d, d gets /dev/null, and n-1 gets c (c is a target too)
      stdio[d] = StdioDevNull
      stdio[n - 1] = c
      stdio[n - 2] = d // d at two numbers: n-2 and (via c) c
      // Each target fd writes its own number; readlink shows what /dev/null became.
      const script =
        `for fd in "$@"; do echo "$fd" > /proc/self/fd/$fd; done; readlink /proc/self/fd/${d} > /proc/self/fd/${a}`
      let started: Started
      try {
        started = sh(script, { stdio }, String(a), String(b), String(c), String(n - 1), String(n - 2))
      } finally {
        for (const fd of [a, b, c, d]) Fs.closeSync(fd)
      }
      expect(await started.exit).toEqual(exited(0))
      const [ta, tb, tc, td] = await Promise.all(pipes.map((p) => p.text))
      expect(ta).toBe(`${b}\n`) // child fd b got parent fd a
      expect(tb).toBe(`${a}\n/dev/null\n`) // child fd a got parent fd b
      expect(tc).toBe(`${n - 1}\n`)
      expect(td).toBe(`${c}\n${n - 2}\n`)
    })

    it("a bad source fd fails with EBADF, and nothing is left", async () => {
      const free = Array.from({ length: 100 }, (_, i) => 900 + i).find((fd) => !Fs.existsSync(`/proc/self/fd/${fd}`))!
      const before = openFdCount()
      expect(() => start("/bin/true", [], { stdio: [StdioDevNull, free, StdioDevNull] }))
        .toThrow(expect.objectContaining({ code: "EBADF", errno: -E.EBADF, syscall: "dup2" }))
      expect(openFdCount()).toBe(before)
      expect(zombieChildren()).toEqual([])
    })

    /** Spawns with raw [childFd, source] pairs (the engine's own format). */
    const spawnPairs = (args: ReadonlyArray<string>, stdio: ReadonlyArray<readonly [number, number]>): Started => {
      let resolve!: (exit: EngineExit) => void
      const exit = new Promise<EngineExit>((r) => (resolve = r))
      const child = engine().spawn({
        path: probePath,
        argv: ["probe", ...args],
        envp: baseEnv,
        cwd: null,
        stdio,
        newGroup: false
      }, resolve)
      return { child, exit }
    }
    const fdLimit = Number(/^Max open files\s+(\d+)/m.exec(Fs.readFileSync("/proc/self/limits", "latin1"))![1])

    it("the pairs are sparse: a child fd just below the fd limit, in any order, at the cost of any other", async () => {
      const [r, w] = engine().makePipe()
      const out = outputPipe()
      const high = fdLimit - 1
      let started: Started
      const before = Date.now()
      try {
        started = spawnPairs(["--no-stdin", "--readfd", String(high)], [[high, r], [2, StdioDevNull], [1, out.w], [
          0,
          StdioDevNull
        ]])
      } finally {
        Fs.closeSync(r)
        Fs.closeSync(out.w)
      }
      Fs.writeSync(w, "far up\n")
      Fs.closeSync(w)
      expect(await started.exit).toEqual(exited(0))
      expect(Date.now() - before).toBeLessThan(1000)
      const stdout = await out.text
      expect(parseReport(stdout).fds).toEqual([0, 1, 2, high])
      expect(between(stdout, "STDOUT")).toBe("far up\n")
    })

    it("a source that is another pair's target is read before that target is replaced, at any numbers", async () => {
      const [r, w] = engine().makePipe()
      const out = outputPipe()
      const high = fdLimit - 1
      let started: Started
      try {
        // Child fd r gets /dev/null, child fd `high` the pipe that is fd r in the parent.
        started = spawnPairs(["--no-stdin", "--readfd", String(r), "--readfd", String(high)], [
          [0, StdioDevNull],
          [1, out.w],
          [2, StdioDevNull],
          [r, StdioDevNull],
          [high, r]
        ])
      } finally {
        Fs.closeSync(r)
        Fs.closeSync(out.w)
      }
      Fs.writeSync(w, "through the copy\n")
      Fs.closeSync(w)
      expect(await started.exit).toEqual(exited(0))
      const stdout = await out.text
      expect(parseReport(stdout).fds).toEqual([0, 1, 2, r, high])
      expect(between(stdout, "STDOUT")).toBe("through the copy\n")
    })

    it("a child fd at or above the fd limit (up to 2**31 - 1) fails with EBADF at once, nothing left", async () => {
      const before = openFdCount()
      for (const fd of [fdLimit, 1e7, 2 ** 31 - 1]) {
        const started = Date.now()
        expect(() => spawnPairs([], [[0, StdioDevNull], [fd, 1]]))
          .toThrow(expect.objectContaining({ code: "EBADF", syscall: "dup2" }))
        expect(Date.now() - started).toBeLessThan(1000)
      }
      expect(openFdCount()).toBe(before)
      expect(zombieChildren()).toEqual([])
    })

    it("bad pairs are TypeErrors before anything runs: a child fd twice, a number that is no fd, no pair", () => {
      const bad: Array<unknown> = [
        [[1, 1], [1, 2]],
        [[-1, 1]],
        [[1.5, 1]],
        [[NaN, 1]],
        [[2 ** 31, 1]],
        [[Infinity, 1]],
        [[1, -3]],
        [[1, 2 ** 31]],
        [[1]],
        [[1, 1, 1]],
        [1, 1],
        [null]
      ]
      for (const stdio of bad) {
        expect(() => spawnPairs([], stdio as never)).toThrow(TypeError)
      }
      expect(zombieChildren()).toEqual([])
    })

    it("every pidfd is closed by the time onExit runs", async () => {
      const before = openFdCount()
      await Promise.all(Array.from({ length: 50 }, () => start("/bin/true", []).exit))
      expect(openFdCount()).toBe(before)
    })
  })

  describe("what the child gets", () => {
    it("cwd", async () => {
      const dir = tempDir()
      const { exit, stdout } = await runProbe([], { cwd: dir })
      expect(exit).toEqual(exited(0))
      expect(parseReport(stdout).cwd).toBe(dir)
      const { stdout: inherited } = await runProbe([])
      expect(parseReport(inherited).cwd).toBe(process.cwd())
    })

    it("env exactly as given", async () => {
      const envp = ["A=1", "EMPTY=", "SPACES=x  y", "NEWLINE=one\ntwo", "UNICODE=é✓", "Z=last"]
      const { stdout } = await runProbe([], { envp })
      expect(parseReport(stdout).env).toEqual({
        A: "1",
        EMPTY: "",
        SPACES: "x  y",
        NEWLINE: "one\ntwo",
        UNICODE: "é✓",
        Z: "last"
      })
      expect(parseReport((await runProbe([], { envp: [] })).stdout).env).toEqual({})
    })

    it("argv exactly as given, argv[0] included", async () => {
      const args = ["plain", "", "with space", "quote\"s", "ü✓", "--flag=x"]
      const { stdout } = await runProbe(["--", ...args])
      expect(parseReport(stdout).args).toEqual(["--no-stdin", "--quiet-io", "--", ...args])
      const named = await run("/bin/sh", [], { argv: ["my-name", "-c", "echo \"$0\""] })
      expect(named.stdout).toBe("my-name\n")
    })

    it("a new process group with newGroup, a new session with newSession", async () => {
      const same = parseReport((await runProbe([])).stdout)
      expect([same.pgrp, same.pgidIsPid, same.sidIsPid]).toEqual(["same", false, false])
      const group = parseReport((await runProbe([], { newGroup: true })).stdout)
      expect([group.pgrp, group.pgidIsPid, group.sidIsPid]).toEqual(["new", true, false])
      const session = parseReport((await runProbe([], { newSession: true, newGroup: true })).stdout)
      expect([session.pgrp, session.pgidIsPid, session.sidIsPid]).toEqual(["new", true, true])
    })
  })

  it("signalProcess answers kill(2)'s errno instead of throwing; 0 and -1 are refused", async () => {
    const E = Os.constants.errno
    const { child, exit } = start("/bin/sleep", ["100"], { newGroup: true })
    expect(engine().signalProcess(child.pid, 0)).toBe(0)
    expect(engine().signalProcess(-child.pid, 0)).toBe(0)
    expect(engine().signalProcess(-child.pid, Os.constants.signals.SIGTERM)).toBe(0)
    expect(await exit).toMatchObject({ code: null, signal: "SIGTERM" })
    expect(engine().signalProcess(-child.pid, 0)).toBe(E.ESRCH)
    for (const [pid, signal] of [[0, 0], [-1, 0], [child.pid, -1], [child.pid, 65], [1.5, 0]]) {
      expect(() => engine().signalProcess(pid!, signal!)).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" })
      )
    }
  })

  describe("set up in the child: environment and death signal", () => {
    it("envp null: this process's environment, as process.env holds it at the spawn", async () => {
      const name = `EC_ENVP_${marker()}`
      process.env[name] = "set = now"
      try {
        const env = parseReport((await runProbe([], { envp: null })).stdout).env as Record<string, string>
        expect(env[name]).toBe("set = now")
        expect(Object.keys(env).length).toBe(Object.keys(process.env).length)
      } finally {
        delete process.env[name]
      }
    })

    it("deathSignal: the child gets it when its parent dies; without one it outlives the parent", async () => {
      const { child, exit } = node(`${prelude}
const sleeper = (extra) => spawn(probe, ["probe", "--no-report", "--quiet-io", "--no-stdin", "--sleep-ms", "600000"], { stdio: [-1, -1, -1], ...extra }).pid;
console.log(JSON.stringify({ dies: sleeper({ deathSignal: 15 }), stays: sleeper({}) }));
setInterval(() => {}, 1000);`)
      let line: { dies: number; stays: number } | undefined
      child.stdout!.on(
        "data",
        (chunk: Buffer) => (line ??= JSON.parse(chunk.toString("utf8")) as { dies: number; stays: number })
      )
      await until("the pids", () => line !== undefined)
      const { dies, stays } = line!
      try {
        expect([isAlive(dies), isAlive(stays)]).toEqual([true, true])
        child.kill("SIGKILL")
        expect(await exit).toMatchObject({ signal: "SIGKILL" })
        await until("the death signal", () => !isAlive(dies), 1000)
        expect(isAlive(stays)).toBe(true)
      } finally {
        for (const pid of [dies, stays]) if (isAlive(pid)) process.kill(pid, "SIGKILL")
      }
    })

    it("a bad deathSignal throws at once", () => {
      for (const deathSignal of [0, -1, 65, 1.5]) {
        expect(() => start("/bin/true", [], { deathSignal })).toThrow(
          expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" })
        )
      }
    })
  })

  describe("exec failures are thrown, and nothing is left", () => {
    const expectThrow = (path: string, code: string, errno: number) => {
      const before = openFdCount()
      let error: NodeJS.ErrnoException | undefined
      try {
        start(path, [])
      } catch (e) {
        error = e as NodeJS.ErrnoException
      }
      expect(error).toBeInstanceOf(Error)
      expect(error).toMatchObject({ code, errno: -errno, syscall: "execve", path })
      expect(error!.message).toContain(code)
      expect(openFdCount()).toBe(before)
      expect(zombieChildren()).toEqual([])
    }

    it("ENOENT", () => expectThrow("/nonexistent/program", "ENOENT", E.ENOENT))
    it("EACCES: not executable (even for root), or a directory", () => {
      expectThrow(writeFile("not-executable", "#!/bin/sh\nexit 0\n", 0o644), "EACCES", E.EACCES)
      expectThrow(tempDir(), "EACCES", E.EACCES)
    })
    it("ENOEXEC: executable, but not a program", () =>
      expectThrow(writeFile("garbage", "just text\n", 0o755), "ENOEXEC", E.ENOEXEC))
    it("ENOTDIR", () => expectThrow(`${writeFile("file", "", 0o644)}/x`, "ENOTDIR", E.ENOTDIR))
    it("ENOENT for a missing cwd", () => {
      expect(() => start("/bin/true", [], { cwd: "/nonexistent/dir" })).toThrow(
        expect.objectContaining({ code: "ENOENT" })
      )
    })

    it("out of fds after the child started (pidfd_open: EMFILE): it is killed and reaped, the error thrown", async () => {
      const value = marker()
      // A Node at its fd limit, soft and hard (Node raises the soft one to the hard one at start).
      const { code, stdout } = await node(
        `${prelude}
const fs = require("fs");
const held = [];
for (;;) { try { held.push(fs.openSync("/dev/null", "r")); } catch (e) { if (e.code !== "EMFILE") throw e; break; } }
let error;
try { spawn("/bin/sleep", ["sleep", "1000"], { envp: [${
          JSON.stringify(`EC_ENGINE_TEST=${value}`)
        }], stdio: [-1, -1, -1] }); } catch (e) { error = e; }
for (const fd of held) fs.closeSync(fd);
const zombies = fs.readdirSync("/proc").filter((p) => /^\\d+$/.test(p)).filter((p) => {
  try { const s = fs.readFileSync("/proc/" + p + "/stat", "latin1").split(") ")[1].split(" "); return s[0] === "Z" && Number(s[1]) === process.pid; } catch { return false; }
});
console.log(JSON.stringify({ code: error && error.code, syscall: error && error.syscall, zombies: zombies.length }));`,
        {},
        64
      ).exit
      expect(code).toBe(0)
      expect(JSON.parse(stdout)).toEqual({ code: "EMFILE", syscall: "pidfd_open", zombies: 0 })
      expect(withMarker("EC_ENGINE_TEST", value)).toEqual([])
    })

    it("children whose handles were garbage-collected still report their exit", async () => {
      const { code, stdout } = await node(
        `${prelude}
let exits = 0;
for (let i = 0; i < 100; i++) spawn("/bin/sh", ["sh", "-c", "sleep 0.2; exit 7"], { stdio: [-1, -1, -1] }, (e) => { if (e.code === 7) exits++; });
const churn = setInterval(() => { globalThis.gc(); }, 10);
process.on("exit", () => console.log(exits));
setTimeout(() => clearInterval(churn), 300);`,
        {},
        undefined,
        ["--expose-gc"]
      ).exit
      expect(code).toBe(0)
      expect(stdout).toBe("100\n")
    })

    it("bad arguments are TypeErrors", () => {
      expect(() => start("/bin/true", ["a\0b"])).toThrow(TypeError)
      expect(() => start("/bin/true", [], { stdio: [0, 1.5, 2] })).toThrow(TypeError)
      expect(() => start("/bin/true", [], { stdio: [0, -3, 2] })).toThrow(TypeError)
      expect(() =>
        engine().spawn({ path: "/bin/true", argv: [], envp: [], cwd: null, stdio: [], newGroup: false }, null as never)
      )
        .toThrow(TypeError)
      const { child } = start("/bin/true", [])
      const kill = child.kill
      expect(() => kill(9)).toThrow(TypeError)
    })
  })

  describe("in the event loop", () => {
    it("onExit runs in the async context of the spawn", async () => {
      const als = new AsyncLocalStorage<string>()
      const store = await als.run("the store", () =>
        new Promise<string | undefined>((resolve) => {
          engine().spawn({
            path: "/bin/true",
            argv: ["true"],
            envp: [],
            cwd: null,
            stdio: [[0, -1], [1, -1], [2, -1]],
            newGroup: false
          }, () => resolve(als.getStore()))
        }))
      expect(store).toBe("the store")
    })

    it("an exception thrown by onExit is an uncaught exception", async () => {
      const { code, stdout } = await node(`${prelude}
process.on("uncaughtException", (e) => console.log("caught: " + e.message));
spawn("/bin/true", ["true"], {}, () => { throw new Error("boom") });`).exit
      expect(code).toBe(0)
      expect(stdout).toBe("caught: boom\n")
    })

    it("a running child keeps the process alive; an unref'd one does not (and is left running)", async () => {
      const t0 = Date.now()
      const kept = await node(`${prelude}
spawn("/bin/sleep", ["sleep", "0.5"], {}, (e) => console.log(JSON.stringify(e)));`).exit
      expect(kept.stdout).toBe(`{"code":0,"signal":null,"coreDumped":false}\n`)
      expect(Date.now() - t0).toBeGreaterThanOrEqual(450)

      const released = await node(`${prelude}
const child = spawn("/bin/sleep", ["sleep", "30"], { stdio: [-1, -1, -1] }, () => console.log("never"));
child.unref();
console.log(child.pid);`).exit
      expect(released.code).toBe(0)
      const pid = Number(released.stdout)
      try {
        expect(isAlive(pid)).toBe(true)
      } finally {
        process.kill(pid, "SIGKILL")
      }

      const reRefd = await node(`${prelude}
const child = spawn("/bin/sleep", ["sleep", "0.3"], {}, (e) => console.log(e.code));
child.unref();
child.ref();`).exit
      expect(reRefd.stdout).toBe("0\n")
    })

    it("side by side with child_process: 300 + 300 children, some killed, all statuses right, no zombies", async () => {
      const N = 300
      type Outcome = { code: number | null; signal: string | null }
      const expected: Array<Outcome> = []
      const addon: Array<Promise<Outcome>> = []
      const viaNode: Array<Promise<Outcome>> = []
      for (let i = 0; i < N; i++) {
        const killed = i % 5 === 0 ? (i % 10 === 0 ? "SIGKILL" : "SIGTERM") : null
        expected.push(killed !== null ? { code: null, signal: killed } : { code: i % 256, signal: null })
        // The addon's child.
        if (killed !== null) {
          const { child, exit } = start("/bin/sleep", ["30"])
          setTimeout(() => child.kill(S[killed]), 20 + (i % 7) * 10)
          addon.push(exit.then(({ code, signal }) => ({ code, signal })))
        } else {
          addon.push(sh(`exit ${i % 256}`).exit.then(({ code, signal }) => ({ code, signal })))
        }
        // child_process's child.
        const cp = killed !== null
          ? ChildProcess.spawn("/bin/sleep", ["30"], { stdio: "ignore" })
          : ChildProcess.spawn("/bin/sh", ["-c", `exit ${i % 256}`], { stdio: "ignore" })
        if (killed !== null) setTimeout(() => cp.kill(killed), 20 + (i % 7) * 10)
        viaNode.push(
          new Promise((resolve, reject) => {
            cp.once("error", reject)
            cp.once("exit", (code, signal) => resolve({ code, signal }))
          })
        )
      }
      const [fromAddon, fromNode] = await Promise.all([Promise.all(addon), Promise.all(viaNode)])
      expect(fromAddon).toEqual(expected)
      expect(fromNode).toEqual(expected)
      await until("no zombies", () => zombieChildren().length === 0, 5_000)
    }, 120_000)
  })

  describe("worker threads", () => {
    const workerScript = `
const { parentPort, workerData } = require("node:worker_threads");
const engine = require(workerData.enginePath);
const pids = [];
for (let i = 0; i < 5; i++) {
  const child = engine.spawn({ path: "/bin/sleep", argv: ["sleep", "1000"], envp: [workerData.marker], cwd: null,
    stdio: [[0, -1], [1, -1], [2, -1]], newGroup: i % 2 === 0 }, () => {});
  pids.push(child.pid);
}
// One that already exited and was reaped, one whose exit is pending in the loop.
engine.spawn({ path: "/bin/true", argv: ["true"], envp: [], cwd: null, stdio: [[0, -1], [1, -1], [2, -1]], newGroup: false }, () =>
  parentPort.postMessage(pids));
parentPort.on("message", () => process.exit(3));
`
    const runWorker = async (exitItself: boolean) => {
      const value = marker()
      const worker = new Worker(workerScript, {
        eval: true,
        workerData: { enginePath: addonPath, marker: `EC_ENGINE_TEST=${value}`, exit: exitItself }
      })
      const exited = new Promise<number>((resolve) => worker.once("exit", resolve))
      worker.on("error", () => {})
      const pids = await new Promise<Array<number>>((resolve) => worker.once("message", resolve))
      expect(pids).toHaveLength(5)
      await until("the children to run", () => withMarker("EC_ENGINE_TEST", value).length === 5)
      if (exitItself) worker.postMessage("exit")
      else await worker.terminate()
      const code = await exited
      // Killed and reaped by the time the worker is gone: no live process, no zombie of its own.
      expect(withMarker("EC_ENGINE_TEST", value)).toEqual([])
      for (const pid of pids) expect(Fs.existsSync(`/proc/${pid}`)).toBe(false)
      // Other zombies of this process (a child of another worker, between its exit and its
      // reaping) must be gone soon, named if not.
      await until(
        `no zombie children (${zombieChildren().map((pid) => `${pid} ${comm(pid)}`).join(", ")})`,
        () => zombieChildren().length === 0,
        5_000
      )
      return code
    }

    it("worker.terminate() with running children: this process goes on, the children are gone", async () => {
      await runWorker(false)
      // The main thread's engine still works.
      expect(await start("/bin/true", []).exit).toEqual(exited(0))
    })

    it("a worker that exits by itself with running children", async () => {
      expect(await runWorker(true)).toBe(3)
    })

    it("an unref'd child outlives its worker and is reaped when it ends", async () => {
      const worker = new Worker(
        `
const { parentPort, workerData } = require("node:worker_threads");
const engine = require(workerData.enginePath);
const child = engine.spawn({ path: "/bin/sleep", argv: ["sleep", "1000"], envp: [], cwd: null, stdio: [[0, -1], [1, -1], [2, -1]], newGroup: false }, () => {});
child.unref();
parentPort.postMessage(child.pid);
setInterval(() => {}, 1000);
`,
        { eval: true, workerData: { enginePath: addonPath } }
      )
      const exited = new Promise<number>((resolve) => worker.once("exit", resolve))
      const pid = await new Promise<number>((resolve) => worker.once("message", resolve))
      await worker.terminate()
      await exited
      expect(isAlive(pid)).toBe(true)
      process.kill(pid, "SIGKILL")
      // No zombie left behind: something still waits for it although its worker is gone.
      await until("the detached child to be reaped", () => !Fs.existsSync(`/proc/${pid}`), 5_000)
      expect(zombieChildren()).toEqual([])
    })

    it("several workers at once, and children in the main thread meanwhile", async () => {
      const main = start("/bin/sleep", ["1000"])
      await Promise.all([runWorker(false), runWorker(false), runWorker(true)])
      expect(main.child.kill(S.SIGTERM)).toBe(true)
      expect(await main.exit).toEqual(killedBy("SIGTERM"))
    })
  })
})
