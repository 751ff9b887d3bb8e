/**
 * One fresh Node process per job (started by main.ts with --expose-gc), so that the parent's size
 * — what fork() costs — and its memory figures are the job's own:
 *
 * - `rounds`: every contender of a workload, in interleaved rounds (each round runs every
 *   contender once, the order rotating from round to round).
 * - `single`: one measured run of one contender after a small warm-up, for peak-RSS figures.
 *
 * The result is printed as one `@@result ` line of JSON on stdout; progress goes to stderr.
 */
import * as Fs from "node:fs"
import { performance } from "node:perf_hooks"

import type { Contender } from "./contenders.js"
import * as Contenders from "./contenders.js"
import * as Memory from "./memory.js"
import { startTimerProbe } from "./probe.js"
import type { Job, JobResult, Sample } from "./protocol.js"
import { RESULT_PREFIX } from "./protocol.js"
import { MiB, rotate } from "./stats.js"

/** This process's children (any state), from /proc. */
const children = (): Array<string> => {
  const found: Array<string> = []
  for (const entry of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = Fs.readFileSync(`/proc/${entry}/stat`, "latin1")
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === process.pid) found.push(entry)
    } catch {
      // gone
    }
  }
  return found
}

/** Children that live as long as this process (tsx's esbuild service): not a contender's. */
const resident = new Set(children())

/** The longest gap between 1 ms timer ticks over `ms`: how busy the loop still is. */
const loopGap = (ms: number): Promise<number> =>
  new Promise((resolve) => {
    let last = performance.now()
    let worst = 0
    const started = last
    const tick = setInterval(() => {
      const now = performance.now()
      worst = Math.max(worst, now - last)
      last = now
      if (now - started >= ms) {
        clearInterval(tick)
        resolve(worst)
      }
    }, 1)
  })

/**
 * Before a run (at most 2 s): the previous contender's children gone and its leftover work in
 * this process done (the loop keeps a 1 ms timer within 5 ms for 30 ms), so the next contender
 * does not pay for them.
 */
const settle = async (): Promise<void> => {
  const deadline = Date.now() + 2000
  while (children().some((pid) => !resident.has(pid)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  while (Date.now() < deadline && (await loopGap(30)) > 5) {
    // still busy
  }
}

const log = (line: string) => process.stderr.write(`  ${line}\n`)

const TIMED_OUT = "timed out"

/**
 * Runs `f` for at most `timeoutMs`; a failure is the first line of its message, so that one
 * broken (or hanging) contender does not stop the rest.
 */
const attempt = async (f: () => Promise<void>, timeoutMs: number): Promise<string | undefined> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([
      f(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${TIMED_OUT} after ${timeoutMs / 1000} s`)), timeoutMs)
      })
    ])
    return undefined
  } catch (e) {
    const text = e instanceof Error ? (e.name === "Error" ? e.message : `${e.name}: ${e.message}`) : String(e)
    return text.split("\n")[0]!.slice(0, 200)
  } finally {
    clearTimeout(timer)
  }
}

interface RoundsOptions<Args> {
  readonly args: Args
  /** Each contender first runs once with these. */
  readonly warmupArgs: Args
  /** Then the ballast (if any) is allocated, and each contender runs once more with these. */
  readonly ballastWarmupArgs?: Args
  /** One run's wall time as the sample's value. */
  readonly measure: (seconds: number) => number
  /** One run's parent CPU time (user + system, ms) in the `cpu` column's unit. */
  readonly perCpu: (ms: number) => number
  /** Run the timer probe during each run. */
  readonly probe?: boolean
  /**
   * A full GC before each run, so that nobody pays for the previous contender's garbage. Only
   * for the byte workloads: a forced full GC also throws away optimized code (V8 deoptimizes
   * code whose weakly held objects it collected), and a JS-heavy contender then spent its
   * spawn run recompiling (ours, 3 × 2,000 spawns at 32 in flight with a GC before each: 1,950
   * TurboFan compilations instead of 880, and 15–20% fewer spawns/s). The spawn workloads leave
   * little garbage.
   */
  readonly collectBefore: boolean
}

/** Runs `contenders` in interleaved rounds. */
const rounds = async <Args extends ReadonlyArray<unknown>>(
  job: Extract<Job, { kind: "rounds" }>,
  contenders: ReadonlyArray<Contender<Args>>,
  { args, ballastWarmupArgs, collectBefore, measure, perCpu, probe = false, warmupArgs }: RoundsOptions<Args>
): Promise<{ readonly samples: Array<Sample>; readonly rssBefore: number; readonly ballast: number }> => {
  // A contender that hung once would hang every round: it sits out the rest.
  const hung = new Map<string, string>()
  const warmUp = async (warmArgs: Args) => {
    for (const c of contenders) {
      if (hung.has(c.id)) continue
      const error = await attempt(() => c.run(...warmArgs), job.timeoutMs)
      if (error !== undefined) log(`${job.workload} warm-up of ${c.id} FAILED: ${error}`)
      if (error?.startsWith(TIMED_OUT)) hung.set(c.id, `warm-up ${error}`)
    }
  }
  await warmUp(warmupArgs)
  const held = job.ballastMiB > 0 ? Memory.ballast(job.ballastMiB) : []
  if (ballastWarmupArgs !== undefined) await warmUp(ballastWarmupArgs)
  if (collectBefore) Memory.gc()
  const rssBefore = Memory.rss()
  const samples: Array<Sample> = []
  for (let round = 0; round < job.rounds; round++) {
    const line: Array<string> = []
    for (const c of rotate(contenders, round)) {
      const skip = hung.get(c.id)
      if (skip !== undefined) {
        samples.push({ round, contender: c.id, value: NaN, error: skip, extra: {} })
        line.push(`${c.id} SKIPPED (${skip})`)
        continue
      }
      await settle()
      if (collectBefore) Memory.gc()
      const timer = probe ? startTimerProbe() : undefined
      const cpu = process.cpuUsage()
      const start = performance.now()
      const error = await attempt(() => c.run(...args), job.timeoutMs)
      const seconds = (performance.now() - start) / 1000
      const cpuUsed = process.cpuUsage(cpu)
      const stall = timer?.stop()
      if (error !== undefined) {
        if (error.startsWith(TIMED_OUT)) hung.set(c.id, `earlier run ${error}`)
        samples.push({ round, contender: c.id, value: NaN, error, extra: {} })
        line.push(`${c.id} FAILED: ${error}`)
        continue
      }
      const value = measure(seconds)
      const cpuValue = perCpu((cpuUsed.user + cpuUsed.system) / 1000)
      samples.push({
        round,
        contender: c.id,
        value,
        extra: { cpu: cpuValue, ...(stall === undefined ? {} : { stallMs: stall }) }
      })
      line.push(`${c.id} ${value.toFixed(1)}${stall === undefined ? "" : ` (stall ${stall.toFixed(0)} ms)`}`)
    }
    log(`${job.workload} round ${round + 1}/${job.rounds}: ${line.join(", ")}`)
  }
  return { samples, rssBefore, ballast: held.reduce((n, b) => n + b.length, 0) }
}

const runRounds = async (job: Extract<Job, { kind: "rounds" }>): Promise<JobResult> => {
  const perSpawn = (ms: number) => (ms * 1000) / job.n
  const ran = await (() => {
    switch (job.workload) {
      case "W1":
      case "W1b":
        return rounds(job, Contenders.w1, {
          args: [job.n],
          warmupArgs: [job.warmup],
          ...(job.ballastWarmup > 0 ? { ballastWarmupArgs: [job.ballastWarmup] } : {}),
          measure: (s) => (s * 1e6) / job.n,
          perCpu: perSpawn,
          collectBefore: false
        })
      case "W2":
        return rounds(job, Contenders.w2, {
          args: [job.n, job.concurrency],
          warmupArgs: [job.warmup, job.concurrency],
          measure: (s) => job.n / s,
          perCpu: perSpawn,
          probe: true,
          collectBefore: false
        })
      case "W5":
        return rounds(job, Contenders.w5, {
          args: [job.bytes],
          warmupArgs: [job.warmup],
          measure: (s) => job.bytes / MiB / s,
          perCpu: (ms) => ms,
          collectBefore: true
        })
      case "W6wc":
      case "W6cat": {
        const contenders = job.workload === "W6wc" ? Contenders.w6wc : Contenders.w6cat
        return rounds(job, contenders, {
          args: [new Uint8Array(job.bytes).fill(0x61)],
          warmupArgs: [new Uint8Array(job.warmup).fill(0x61)],
          measure: (s) => job.bytes / MiB / s,
          perCpu: (ms) => ms,
          collectBefore: true
        })
      }
    }
  })()
  return { samples: ran.samples, info: { parentRssMiB: ran.rssBefore / MiB, ballastMiB: ran.ballast / MiB } }
}

const runSingle = async (job: Extract<Job, { kind: "single" }>): Promise<JobResult> => {
  const contenders = job.workload === "W3" ? Contenders.w3 : Contenders.w4
  const contender = contenders.find((c) => c.id === job.contender)
  if (contender === undefined) throw new Error(`no contender ${job.contender} in ${job.workload}`)
  const warmupError = await attempt(() => contender.run(job.warmup), job.timeoutMs)
  Memory.gc()
  const peakReset = Memory.resetPeak()
  const before = Memory.rss()
  const cpu = process.cpuUsage()
  const start = performance.now()
  const error = warmupError ?? await attempt(() => contender.run(job.bytes), job.timeoutMs)
  const seconds = (performance.now() - start) / 1000
  const cpuUsed = process.cpuUsage(cpu)
  const peak = Memory.peakRss()
  if (error !== undefined) {
    return { samples: [{ round: job.round, contender: contender.id, value: NaN, error, extra: {} }], info: {} }
  }
  return {
    samples: [{
      round: job.round,
      contender: contender.id,
      value: job.bytes / MiB / seconds,
      extra: {
        rssGrowthMiB: (peak - before) / MiB,
        rssBeforeMiB: before / MiB,
        cpu: (cpuUsed.user + cpuUsed.system) / 1000
      }
    }],
    info: { peakReset: peakReset ? 1 : 0 }
  }
}

const main = async () => {
  const job = JSON.parse(process.argv[2] ?? "") as Job
  const result = job.kind === "rounds" ? await runRounds(job) : await runSingle(job)
  // A run that timed out may still hold children and fibers: exit rather than wait for them.
  await Promise.race([Contenders.dispose(), new Promise((resolve) => setTimeout(resolve, 2000))])
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`, () => process.exit(0))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
