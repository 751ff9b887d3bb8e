/**
 * Containment when nothing runs the scopes' finalizers: a worker terminated with runs in flight,
 * and the Node parent SIGKILLed. A host (fixtures/contain-host.ts) starts one process tree per
 * behaviour (support/contain.ts), each with its own mark, and reports once all are up; then the
 * test ends the host and checks each behaviour's mark: nothing left within the grace + 1 s of the
 * host's end. In contrast, uncontained (`Command.contain(false)`), a setsid'd descendant outlives
 * either host (and is then killed here).
 */
import "../fixtures/ensure-helper.js"

import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"

import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"

import type { Behaviour } from "../support/contain.js"
import { behaviours, GRACE_MS, killMarked, marked, seen, survivorsAfter } from "../support/contain.js"
import { eventually, marker, zombieChildren } from "../support/procs.js"

const repoRoot = Path.resolve(import.meta.dirname, "../../../..")
const boot = new URL("../fixtures/worker-boot.mjs", import.meta.url)
const host = new URL("../fixtures/contain-host.ts", import.meta.url)
const SETTLE_MS = GRACE_MS + 1_000

type Marks = Partial<Record<Behaviour, string>>

/** What the host runs: contained trees, and uncontained ones (`Command.contain(false)`). */
interface Input {
  readonly marks: Marks
  readonly uncontained: Marks
}

/** The host's report: the targets' pids, or why it failed. */
type Report = { readonly pids: Record<string, number> } | { readonly error: string }

/** A host in a worker; ending it is `worker.terminate()`. */
const inWorker = async (input: Input) => {
  const worker = new Worker(boot, { workerData: { module: host.href, ...input }, execArgv: ["--conditions=source"] })
  const report = await new Promise<Report>((resolve, reject) => {
    worker.once("message", resolve)
    worker.once("error", reject)
    worker.once("exit", (code) => reject(new Error(`the worker exited (${code}) before reporting`)))
  })
  return { report, end: (): Promise<void> => worker.terminate().then(() => undefined) }
}

/** A host in a Node process; ending it is SIGKILL, then its exit event. */
const inProcess = async (input: Input) => {
  const node = ChildProcess.spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=source", fileURLToPath(host), JSON.stringify(input)],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] }
  )
  const exited = new Promise<void>((resolve) => node.once("exit", () => resolve()))
  const report = await new Promise<Report>((resolve, reject) => {
    let text = ""
    node.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8")
      const line = /^\{.*\}$/m.exec(text)
      if (line !== null) resolve(JSON.parse(line[0]) as Report)
    })
    node.once(
      "exit",
      (code, signal) => reject(new Error(`the host exited (${code ?? signal}) before reporting: ${text}`))
    )
  })
  return {
    report,
    end: (): Promise<void> => {
      node.kill("SIGKILL")
      return exited
    }
  }
}

/**
 * Starts a host, checks that each of its trees is up, ends the host: the time it ended and which
 * trees (by mark) were up. Throws when the host did not report.
 */
const hostEnded = async (start: typeof inWorker, input: Input) => {
  const { end, report } = await start(input)
  if ("error" in report) throw new Error(`the host failed: ${report.error}`)
  const up = new Map<string, boolean>()
  for (const marks of [input.marks, input.uncontained]) {
    for (const { behaviour, processes } of behaviours) {
      const mark = marks[behaviour]
      if (mark !== undefined) up.set(mark, await seen(mark, processes))
    }
  }
  await end()
  return { endedAt: Date.now(), up }
}

/** The polling budget left until the grace + 1 s after `endedAt`. */
const budget = (endedAt: number) => Math.max(0, endedAt + SETTLE_MS - Date.now())

const hosts: ReadonlyArray<{ readonly ending: string; readonly start: typeof inWorker }> = [
  { ending: "worker.terminate() with runs in flight", start: inWorker },
  { ending: "the Node parent SIGKILLed", start: inProcess }
]

describe.each(hosts)("containment: $ending", ({ start }) => {
  const input: Input = {
    marks: Object.fromEntries(behaviours.map(({ behaviour }) => [behaviour, marker()])),
    uncontained: { setsid: marker() }
  }
  let ended = { endedAt: 0, up: new Map<string, boolean>() }
  beforeAll(async () => {
    ended = await hostEnded(start, input)
  }, 60_000)
  afterAll(async () => {
    for (const mark of [...Object.values(input.marks), ...Object.values(input.uncontained)]) await killMarked(mark)
  })

  it.each(behaviours)("$behaviour: none left", async ({ behaviour }) => {
    const mark = input.marks[behaviour]!
    expect(ended.up.get(mark), "the tree was up before the end").toBe(true)
    expect(await survivorsAfter(mark, budget(ended.endedAt))).toEqual([])
  })

  // tsx's esbuild, which a worker's loader starts, is left a zombie once its worker is gone.
  it("no zombie of this process (tsx's esbuild aside)", async () => {
    const zombies = () =>
      zombieChildren().filter((pid) => {
        try {
          return Fs.readFileSync(`/proc/${pid}/comm`, "latin1") !== "esbuild\n"
        } catch {
          return false
        }
      })
    expect(await eventually(() => zombies().length === 0, budget(ended.endedAt)), `zombies: ${zombies()}`).toBe(true)
  })

  it("in contrast, uncontained: a setsid'd descendant outlives the host", async () => {
    const mark = input.uncontained.setsid!
    expect(ended.up.get(mark), "the tree was up before the end").toBe(true)
    // The orphan stays: nothing is going to kill it (polled until the grace + 1 s, so that a
    // late kill would show).
    expect(await eventually(() => marked(mark).length === 0, budget(ended.endedAt))).toBe(false)
  })
})
