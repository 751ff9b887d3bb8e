/**
 * Torture, part 2: the parent is SIGKILLed with 50 children running.
 *
 * A Node fixture (fixtures/torture-parent.ts) starts 50 long-running probes that die with their
 * parent (PR_SET_PDEATHSIG SIGKILL, the default): set by the native engine in the child it clones
 * (mode "engine"), or by the setup helper (mode "helper", a umask makes the helper run), and
 * prints their pids; the test SIGKILLs it and waits for its exit event. The kernel queues each
 * child's death signal while the parent exits, before the parent can be reaped, so at the exit
 * event every child is gone or has SIGKILL pending; the last step, leaving /proc, is a bounded
 * poll: all 50 must be gone within 1 s.
 *
 * The contrast, with `dieWithParent(false)` (mode "none", no death signal): at the exit event all
 * 50 are alive with no SIGKILL pending, i.e. they would outlive the parent. The test then kills them.
 */
import "../fixtures/ensure-helper.js"

import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

import { probePath } from "../support/probe.js"
import { isAlive, marker, parentOf, withMarker } from "../support/procs.js"

const repoRoot = Path.resolve(import.meta.dirname, "../../../..")
const fixture = Path.join(import.meta.dirname, "../fixtures/torture-parent.ts")
const MARK = "EC_TORTURE_MARK"
const CHILDREN = 50

/** Every marker a test used: whatever still carries one is SIGKILLed after each test. */
const marks = new Set<string>()
afterEach(() => {
  for (const mark of marks) {
    for (const pid of withMarker(MARK, mark)) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // gone already
      }
    }
  }
  marks.clear()
})

const readOr = (path: string): string | undefined => {
  try {
    return Fs.readFileSync(path, "latin1")
  } catch {
    return undefined
  }
}

/** Whether SIGKILL is pending for `pid` (per thread or process-wide); true when it is gone. */
const killPending = (pid: number): boolean => {
  const status = readOr(`/proc/${pid}/status`)
  if (status === undefined) return true
  const mask = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, "m").exec(status)?.[1] ?? "0"}`)
  return ((mask("SigPnd") | mask("ShdPnd")) & (1n << 8n)) !== 0n
}

/** Who sets the children's death signal: see fixtures/torture-parent.ts. */
type Mode = "engine" | "helper" | "none"

/** The fixture, SIGKILLed when the test's scope closes if it still runs. */
const startParent = (mode: Mode, mark: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      marks.add(mark)
      return ChildProcess.spawn(
        process.execPath,
        ["--import", "tsx", "--conditions=source", fixture, mode, String(CHILDREN), probePath, mark],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] }
      )
    }),
    (node) =>
      Effect.sync(() => {
        if (node.exitCode === null && node.signalCode === null) node.kill("SIGKILL")
      })
  )

/** The pids the fixture prints, once it started every child. */
const pidsOf = (node: ChildProcess.ChildProcess) =>
  Effect.async<Array<number>, Error>((resume) => {
    let text = ""
    const onData = (chunk: Buffer) => {
      text += chunk.toString("utf8")
      const line = /^\{.*\}$/m.exec(text)
      if (line === null) return
      node.stdout!.off("data", onData)
      resume(Effect.succeed((JSON.parse(line[0]) as { pids: Array<number> }).pids))
    }
    node.stdout!.on("data", onData)
    node.once("exit", (code, signal) =>
      resume(Effect.fail(new Error(`the fixture exited (${code ?? signal}) before printing pids: ${text}`))))
  })

const exitOf = (node: ChildProcess.ChildProcess) =>
  Effect.async<{ code: number | null; signal: NodeJS.Signals | null }>((resume) => {
    if (node.exitCode !== null || node.signalCode !== null) {
      resume(Effect.succeed({ code: node.exitCode, signal: node.signalCode }))
    } else node.once("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
  })

/** Bounded liveness poll: the pids still alive at `deadline` (or none, as soon as all are gone). */
const aliveAt = (pids: ReadonlyArray<number>, deadline: number) =>
  Effect.gen(function*() {
    let left = pids.filter(isAlive)
    while (left.length > 0 && Date.now() < deadline) {
      yield* Effect.sleep("5 millis")
      left = left.filter(isAlive)
    }
    return left
  })

/** Starts the fixture, checks its 50 children, SIGKILLs it and waits for its exit event. */
const killParentWithChildren = (mode: Mode, mark: string) =>
  Effect.gen(function*() {
    const node = yield* startParent(mode, mark)
    const pids = yield* pidsOf(node)
    expect(pids.length).toBe(CHILDREN)
    expect(new Set(pids).size).toBe(CHILDREN)
    expect(withMarker(MARK, mark).sort((a, b) => a - b)).toEqual([...pids].sort((a, b) => a - b))
    for (const pid of pids) expect(parentOf(pid)).toBe(node.pid)
    node.kill("SIGKILL")
    expect(yield* exitOf(node)).toEqual({ code: null, signal: "SIGKILL" })
    return { pids, diedAt: Date.now() }
  })

describe("torture: the parent is SIGKILLed with 50 children running", () => {
  for (const mode of ["engine", "helper"] as const) {
    it.live(
      `death signal set by the ${mode === "engine" ? "native engine" : "setup helper"}: all 50 are gone within 1 s`,
      () =>
        Effect.scoped(Effect.gen(function*() {
          const mark = marker()
          const { diedAt, pids } = yield* killParentWithChildren(mode, mark)
          // Queued during the parent's exit, before its exit event: each child is dying or gone.
          expect(pids.filter((pid) => isAlive(pid) && !killPending(pid))).toEqual([])
          const left = yield* aliveAt(pids, diedAt + 1_000)
          const ms = Date.now() - diedAt
          console.log(
            `parent death (${mode}): ${
              CHILDREN - left.length
            }/${CHILDREN} children gone ${ms} ms after the parent's exit event`
          )
          expect(left, `still alive ${ms} ms after the parent died`).toEqual([])
          expect(withMarker(MARK, mark)).toEqual([])
        })),
      60_000
    )
  }

  it.live(
    "the contrast, dieWithParent(false) (no death signal): all 50 outlive the parent",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const mark = marker()
        const { pids } = yield* killParentWithChildren("none", mark)
        // A death signal would have been queued by now (see above): none was, none will be.
        expect(pids.filter((pid) => !isAlive(pid) || killPending(pid))).toEqual([])
        expect(withMarker(MARK, mark).length).toBe(CHILDREN)
        // Orphans now: not the test's children, so kill them and poll until they are gone.
        for (const pid of pids) process.kill(pid, "SIGKILL")
        expect(yield* aliveAt(pids, Date.now() + 5_000)).toEqual([])
        expect(withMarker(MARK, mark)).toEqual([])
      })),
    60_000
  )
})
