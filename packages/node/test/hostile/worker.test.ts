/**
 * A worker terminated from outside runs no more JS: its commands get no scope closing. They are
 * killed and reaped all the same, like at a closed scope: the whole process group SIGKILLed, no
 * zombie left in this process. A detached contained command dies with its worker too (its death
 * signal), unless it says `dieWithParent(false)`: then it is left running, and reaped once it ends.
 * A detached uncontained one is left running on the native engine.
 */
import "../fixtures/ensure-helper.js"

import * as Fs from "node:fs"
import { Worker } from "node:worker_threads"

import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"

import { gone, isAlive, marker, openFdCount, openFds, parentOf, withMarker } from "../support/procs.js"

const boot = new URL("../fixtures/worker-boot.mjs", import.meta.url)
const module = new URL("../fixtures/worker-command.ts", import.meta.url).href

/** The command's `sleep` processes (tsx's own helper process in the worker has the marker too). */
const sleepers = (value: string) =>
  withMarker("EC_MARKER", value).filter((pid) => {
    try {
      return Fs.readFileSync(`/proc/${pid}/comm`, "latin1") === "sleep\n"
    } catch {
      return false
    }
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** Polls `condition` until it holds; false when `ms` passed first. */
const within = async (ms: number, condition: () => boolean): Promise<boolean> => {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) return false
    await sleep(10)
  }
  return true
}

/** A worker running `argv` with EC_MARKER set (the engine: this project's EFFECT_COMMAND_SPAWN). */
const startWorker = async (
  argv: ReadonlyArray<string>,
  detach: boolean,
  { contain = false, dieWithParent = true, runHelper = false }: {
    readonly contain?: boolean
    readonly dieWithParent?: boolean
    readonly runHelper?: boolean
  } = {}
) => {
  const value = marker()
  const worker = new Worker(boot, {
    workerData: { module, argv, detach, contain, dieWithParent, runHelper },
    env: { ...process.env, EC_MARKER: value },
    execArgv: ["--conditions=source"]
  })
  const failed = new Promise<never>((_, reject) => worker.once("error", reject))
  const pid = await Promise.race([new Promise<number>((resolve) => worker.once("message", resolve)), failed])
  return { worker, pid, value }
}

// The command's own pids are checked, not every zombie of this process: tsx's esbuild, which the
// worker's loader starts with child_process, is such a zombie once its worker is gone.
describe("a terminated worker", () => {
  it("kills the process group of its running command and reaps it: nothing left within 2 s", async () => {
    const { pid, value, worker } = await startWorker(["/bin/sh", "-c", "sleep 30 & exec sleep 30"], false)
    expect(await within(10_000, () => sleepers(value).length === 2)).toBe(true)
    const group = sleepers(value)
    expect(group).toContain(pid)
    await worker.terminate()
    expect(await within(2_000, () => group.every(gone))).toBe(true)
  }, 30_000)

  it(
    "kills and reaps the process group of a command a run helper runs (in one go, its outputs read by the engine)",
    async () => {
      const { value, worker } = await startWorker(["/bin/sh", "-c", "sleep 30 & exec sleep 30"], false, {
        runHelper: true
      })
      expect(await within(10_000, () => sleepers(value).length === 2)).toBe(true)
      const group = sleepers(value)
      await worker.terminate()
      expect(await within(2_000, () => group.every(gone))).toBe(true)
    },
    30_000
  )

  it("leaves a detached uncontained command alone, and reaps it once it ends", async () => {
    const { pid, value, worker } = await startWorker(["/bin/sleep", "30"], true)
    expect(await within(10_000, () => sleepers(value).length === 1)).toBe(true)
    await worker.terminate()
    // child_process children of a worker die with the worker's thread (the helper's parent-death
    // signal, set before the detach); the native engine's outlive it.
    if (NodeCommandExecutor.engineInUse() === "native") expect(isAlive(pid)).toBe(true)
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // ESRCH: it died with the worker's thread already
    }
    expect(await within(2_000, () => gone(pid))).toBe(true)
  }, 30_000)

  it(
    "ends a detached contained command with its worker (its death signal), and reaps it and its supervisor",
    async () => {
      const { pid, value, worker } = await startWorker(["/bin/sleep", "30"], true, { contain: true })
      expect(await within(10_000, () => sleepers(value).length === 1)).toBe(true)
      const parent = parentOf(pid)
      expect(parent, "contained: the parent is its supervisor").not.toBe(process.pid)
      await worker.terminate()
      expect(await within(2_000, () => gone(pid) && gone(parent))).toBe(true)
    },
    30_000
  )

  it(
    "leaves a detached contained command that says dieWithParent(false) running, and reaps it once it ends",
    async () => {
      const { pid, value, worker } = await startWorker(["/bin/sleep", "30"], true, {
        contain: true,
        dieWithParent: false
      })
      expect(await within(10_000, () => sleepers(value).length === 1)).toBe(true)
      const parent = parentOf(pid)
      expect(parent, "contained: the parent is its supervisor").not.toBe(process.pid)
      await worker.terminate()
      expect(isAlive(pid)).toBe(true)
      process.kill(pid, "SIGKILL")
      expect(await within(2_000, () => gone(pid) && gone(parent))).toBe(true)
    },
    30_000
  )

  // On child_process a worker terminated between a spawn and the next statement leaves that child
  // unknown to the engine: only the native engine's spawn is one step.
  it.skipIf(process.env.EFFECT_COMMAND_SPAWN === "child_process")(
    "terminated at any moment of its runs (fed, captured, streamed, a pipeline): no fd of theirs left in this process, no warning, nothing running",
    async () => {
      const value = marker()
      const fds = openFdCount()
      const fdsBefore = openFds()
      for (let i = 0; i < 24; i++) {
        const worker = new Worker(boot, {
          workerData: { module: new URL("../fixtures/worker-runs.ts", import.meta.url).href },
          env: { ...process.env, EC_MARKER: value },
          execArgv: ["--conditions=source"],
          stderr: true
        })
        let stderr = ""
        worker.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
        const failed = new Promise<never>((_, reject) => worker.once("error", reject))
        await Promise.race([new Promise((resolve) => worker.once("message", resolve)), failed])
        // A random moment of the runs: spawning, feeding, reading, or waiting.
        await sleep(Math.random() * 40)
        await worker.terminate()
        expect(stderr).not.toMatch(/closed but not opened|Warning/)
      }
      const settled = await within(2_000, () => openFdCount() === fds)
      const before = new Set(fdsBefore)
      expect(settled, `left open: ${openFds().filter((fd) => !before.has(fd)).join(", ")}`).toBe(true)
      expect(await within(2_000, () => sleepers(value).length === 0)).toBe(true)
    },
    120_000
  )
})
