/**
 * `pnpm bench`: every workload (W1–W6, plus W1b for the native spawn engine) side by side against raw
 * `child_process.spawn`, execa 10 and `@effect/platform`'s Command, in interleaved rounds; prints
 * the tables and writes docs/benchmarks.md.
 *
 *   pnpm bench                 the full run (~12 minutes on 2 cores), writes docs/benchmarks.md
 *   pnpm bench --quick         a smoke run with tiny sizes; writes nothing unless --out is given
 *   pnpm bench --only W1,W3    some workloads only (W1 W1b W2 W3 W4 W5 W6)
 *   pnpm bench --rounds N      rounds for every workload (default: 5; W3, W4: 7; W5, W6: 15)
 *   pnpm bench --out FILE      where to write the markdown (default: docs/benchmarks.md)
 *   pnpm bench --no-write      print only
 *
 * The packages are measured as users get them: their built dist/ (the root `pnpm bench` builds them
 * first with `tsc -b`). Every measurement runs in a fresh Node process (worker.ts, with --expose-gc): W1, W1b, W2, W5
 * and W6 run all their contenders in one process, interleaved; W3 and W4 run each contender in a
 * process of its own, so that peak RSS is comparable.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

import { Command } from "@effect-command/core"

import * as Contenders from "./contenders.js"
import type { Job, JobResult, Sample } from "./protocol.js"
import { RESULT_PREFIX } from "./protocol.js"
import { fmt, fmtRatio, max, median, MiB, min } from "./stats.js"

// ---------------------------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------------------------

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(name)
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}

const quick = flag("--quick")
const benchDir = fileURLToPath(new URL("..", import.meta.url))
const repoDir = Path.resolve(benchDir, "../..")
const outFile = option("--out") !== undefined ?
  Path.resolve(process.cwd(), option("--out")!) :
  quick || flag("--no-write")
  ? undefined
  : Path.join(repoDir, "docs/benchmarks.md")
const only = option("--only")?.split(",").map((s) => s.trim().toUpperCase())

interface Config {
  readonly w1: { readonly n: number; readonly warmup: number; readonly rounds: number }
  readonly w1b: {
    readonly n: number
    readonly warmup: number
    readonly ballastMiB: number
    readonly ballastWarmup: number
    readonly rounds: number
  }
  readonly w2: { readonly n: number; readonly concurrency: number; readonly warmup: number; readonly rounds: number }
  readonly w34: { readonly bytes: number; readonly warmup: number; readonly rounds: number }
  readonly w5: { readonly bytes: number; readonly warmup: number; readonly rounds: number }
  readonly w6: { readonly bytes: number; readonly warmup: number; readonly rounds: number }
  /** A single run (one contender, one round) that takes longer fails; its contender sits out later rounds. */
  readonly timeoutMs: number
}

const full: Config = {
  // Rounds: 5 for the spawn workloads. The byte workloads' runs are short (W5: about 0.2 s, W6:
  // tens of ms) and swing by a third from round to round on this machine, so that a median of 5
  // moved by 15% between runs of the same code: they run more.
  // The spawn workloads warm up to V8's steady state: a JS-heavy contender (Effect's runtime and
  // ours) is still being compiled by TurboFan for its first ~3,000 spawns, and ran up to twice as
  // slow meanwhile. With 20 (W2: 32) warm-up spawns the bench measured that, not the spawn.
  w1: { n: 500, warmup: 2000, rounds: 5 },
  // Raw node needs ~24 ms per spawn from a 400 MiB parent: 100 spawns a run.
  // The long warm-up runs before the ballast is allocated (2,000 forks of a 400 MiB parent would
  // take minutes), then 20 spawns with it.
  w1b: { n: 100, warmup: 2000, ballastMiB: 400, ballastWarmup: 20, rounds: 5 },
  w2: { n: 500, concurrency: 32, warmup: 3000, rounds: 5 },
  // A fresh process per run: about 10 s a round.
  w34: { bytes: 256 * MiB, warmup: MiB, rounds: 7 },
  w5: { bytes: 256 * MiB, warmup: MiB, rounds: 15 },
  w6: { bytes: 64 * MiB, warmup: MiB, rounds: 15 },
  timeoutMs: 120_000
}

const tiny: Config = {
  w1: { n: 10, warmup: 2, rounds: 2 },
  w1b: { n: 5, warmup: 1, ballastMiB: 32, ballastWarmup: 1, rounds: 2 },
  w2: { n: 32, concurrency: 8, warmup: 8, rounds: 2 },
  w34: { bytes: 4 * MiB, warmup: 64 * 1024, rounds: 2 },
  w5: { bytes: 4 * MiB, warmup: 64 * 1024, rounds: 2 },
  w6: { bytes: 2 * MiB, warmup: 64 * 1024, rounds: 2 },
  timeoutMs: 20_000
}

const config = quick ? tiny : full
const roundsOption = option("--rounds")
/** A workload's rounds: its own, or all the same with --rounds. */
const roundsOf = (
  c: { readonly rounds: number }
): number => (roundsOption !== undefined ? Number(roundsOption) : c.rounds)
const selected = (id: string) => only === undefined || only.includes(id)

// ---------------------------------------------------------------------------------------------
// running workers
// ---------------------------------------------------------------------------------------------

const runWorker = (job: Job): Promise<JobResult> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      [...process.execArgv, "--expose-gc", fileURLToPath(new URL("worker.ts", import.meta.url)), JSON.stringify(job)],
      { cwd: benchDir, stdio: ["ignore", "pipe", "inherit"] }
    )
    // A worker stuck outside the runs it times itself (it should not happen): give up on it.
    const watchdog = setTimeout(() => child.kill("SIGKILL"), config.timeoutMs * 15)
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s
    })
    child.once("error", reject)
    child.once("close", (code, signal) => {
      clearTimeout(watchdog)
      const line = out.split("\n").find((l) => l.startsWith(RESULT_PREFIX))
      if (code !== 0 || line === undefined) {
        return reject(new Error(`worker for ${job.workload} failed (${signal ?? code}):\n${out}`))
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as JobResult)
    })
  })

// ---------------------------------------------------------------------------------------------
// results
// ---------------------------------------------------------------------------------------------

interface Column {
  readonly key: string
  readonly label: string
  /** How to summarise the column over rounds. */
  readonly summary: "median" | "max"
}

interface Workload {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly higherIsBetter: boolean
  /** The contender the ratios are to. */
  readonly baseline: { readonly id: string; readonly name: string }
  readonly labels: ReadonlyMap<string, string>
  readonly samples: ReadonlyArray<Sample>
  readonly columns: ReadonlyArray<Column>
  readonly notes: ReadonlyArray<string>
  readonly seconds: number
}

interface Row {
  readonly id: string
  readonly label: string
  /** The successful runs' values. */
  readonly values: ReadonlyArray<number>
  readonly failures: ReadonlyArray<string>
  readonly ratios: ReadonlyArray<number>
  readonly extra: ReadonlyArray<
    { readonly column: Column; readonly value: number; readonly all: ReadonlyArray<number> }
  >
}

const rowsOf = (w: Workload): Array<Row> =>
  [...w.labels].map(([id, label]) => {
    const all = w.samples.filter((s) => s.contender === id)
    const mine = all.filter((s) => s.error === undefined)
    const ratios = mine.flatMap((s) => {
      const base = w.samples.find((r) => r.contender === w.baseline.id && r.round === s.round && r.error === undefined)
      return base === undefined ? [] : [s.value / base.value]
    })
    return {
      id,
      label,
      values: mine.map((s) => s.value),
      failures: all.flatMap((s) => (s.error === undefined ? [] : [s.error])),
      ratios,
      extra: w.columns.map((column) => {
        const all = mine.map((s) => s.extra[column.key] ?? NaN).filter((n) => !Number.isNaN(n))
        return { column, value: column.summary === "median" ? median(all) : max(all), all }
      })
    }
  })

const row = (w: Workload, id: string): Row | undefined => rowsOf(w).find((r) => r.id === id)

/** A markdown table cell: `|` must be escaped, even inside backticks. */
const cell = (text: string): string => text.replaceAll("|", "\\|")

const table = (w: Workload): string => {
  const head = [
    "contender",
    `median ${w.unit}`,
    "min–max",
    `ratio to ${w.baseline.name} (${w.higherIsBetter ? "higher" : "lower"} is better): median, min–max`,
    ...w.columns.map((c) => c.label)
  ]
  const lines = [`| ${head.map(cell).join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`]
  const failures: Array<string> = []
  for (const r of rowsOf(w)) {
    if (r.values.length === 0) {
      lines.push(`| ${[r.label, "failed", ...head.slice(2).map(() => "–")].map(cell).join(" | ")} |`)
    } else {
      const cells = [
        r.label + (r.failures.length > 0 ? ` (${r.failures.length} run(s) failed)` : ""),
        fmt(median(r.values)),
        `${fmt(min(r.values))}–${fmt(max(r.values))}`,
        r.id === w.baseline.id
          ? "1.00× (baseline)"
          : `${fmtRatio(median(r.ratios))} (${fmtRatio(min(r.ratios))}–${fmtRatio(max(r.ratios))})`,
        ...r.extra.map((e) => `${fmt(e.value)} (${fmt(min(e.all))}–${fmt(max(e.all))})`)
      ]
      lines.push(`| ${cells.map(cell).join(" | ")} |`)
    }
    if (r.failures.length > 0) failures.push(`- ${r.label} failed ${r.failures.length}×: \`${r.failures[0]}\``)
  }
  return [...lines, ...(failures.length > 0 ? ["", ...failures] : [])].join("\n")
}

// ---------------------------------------------------------------------------------------------
// the workloads
// ---------------------------------------------------------------------------------------------

const RAW = { id: "raw", name: "raw node" }

/** The measuring process's own CPU time (user + system): less sensitive to other load than wall time. */
const CPU_PER_SPAWN: Column = { key: "cpu", label: "parent CPU µs/spawn: median (min–max)", summary: "median" }
const CPU_MS: Column = { key: "cpu", label: "parent CPU ms per run: median (min–max)", summary: "median" }

/** W5 needs `Command.pipeline`. */
const pipelineApi = typeof (Command as { pipeline?: unknown }).pipeline === "function"

const labels = (list: ReadonlyArray<{ readonly id: string; readonly label: string }>) =>
  new Map(list.map((c) => [c.id, c.label]))

const log = (line: string) => process.stderr.write(`${line}\n`)

const timed = async <A>(f: () => Promise<A>): Promise<[A, number]> => {
  const start = Date.now()
  const a = await f()
  return [a, (Date.now() - start) / 1000]
}

type RoundsJob = Extract<Job, { kind: "rounds" }>

const roundsJob = (
  workload: RoundsJob["workload"],
  fields: Partial<RoundsJob> & { readonly rounds: number }
): RoundsJob => ({
  kind: "rounds",
  workload,
  n: 0,
  concurrency: 1,
  bytes: 0,
  warmup: 0,
  ballastMiB: 0,
  ballastWarmup: 0,
  timeoutMs: config.timeoutMs,
  ...fields,
  rounds: roundsOf(fields)
})

const runW1 = async (): Promise<Workload> => {
  log(`W1: spawn+wait /bin/true, sequential, n=${config.w1.n}, ${roundsOf(config.w1)} rounds`)
  const [result, seconds] = await timed(() => runWorker(roundsJob("W1", config.w1)))
  return {
    id: "W1",
    title: `W1: spawn+wait \`/bin/true\`, sequential, n=${config.w1.n} per run`,
    unit: "µs/spawn",
    higherIsBetter: false,
    baseline: RAW,
    labels: labels(Contenders.w1),
    samples: result.samples,
    columns: [CPU_PER_SPAWN],
    notes: [
      `The measuring process's RSS before the runs: ${fmt(result.info.parentRssMiB ?? NaN)} MiB.`,
      `Each contender warms up with ${config.w1.warmup} spawns first.`
    ],
    seconds
  }
}

const runW1b = async (): Promise<Workload> => {
  const c = config.w1b
  log(`W1b: W1 with the parent holding ${c.ballastMiB} MiB of Buffers, n=${c.n}, ${roundsOf(c)} rounds`)
  const [result, seconds] = await timed(() => runWorker(roundsJob("W1b", c)))
  return {
    id: "W1b",
    title: `W1b: W1 with the parent holding ${c.ballastMiB} MiB of Buffers (written), n=${c.n} per run`,
    unit: "µs/spawn",
    higherIsBetter: false,
    baseline: RAW,
    labels: labels(Contenders.w1),
    samples: result.samples,
    columns: [CPU_PER_SPAWN],
    notes: [
      `The measuring process's RSS before the runs, ballast included: ${fmt(result.info.parentRssMiB ?? NaN)} MiB.`,
      `n is ${c.n} (W1: ${config.w1.n}) to keep the whole run near 12 minutes: fork() from this parent costs tens of ms.`,
      `Each contender warms up with ${c.warmup} spawns before the ballast is allocated (W1: ${config.w1.warmup}), then with ${c.ballastWarmup} more with it.`
    ],
    seconds
  }
}

const runW2 = async (): Promise<Workload> => {
  const c = config.w2
  log(`W2: ${c.n} × /bin/true, ${c.concurrency} in flight, ${roundsOf(c)} rounds`)
  const [result, seconds] = await timed(() => runWorker(roundsJob("W2", c)))
  return {
    id: "W2",
    title: `W2: ${c.n} × \`/bin/true\`, ${c.concurrency} in flight`,
    unit: "spawns/s",
    higherIsBetter: true,
    baseline: RAW,
    labels: labels(Contenders.w2),
    samples: result.samples,
    columns: [{ key: "stallMs", label: "longest timer stall, ms: median (min–max)", summary: "median" }, CPU_PER_SPAWN],
    notes: [
      "Timer stall: the longest stretch in which a 1 ms `setInterval` did not fire during the run (timer probe, src/probe.ts).",
      `Each contender warms up with ${c.warmup} spawns first (${c.concurrency} in flight).`
    ],
    seconds
  }
}

const runSingles = async (
  workload: "W3" | "W4",
  list: ReadonlyArray<{ readonly id: string; readonly label: string }>
): Promise<[Array<Sample>, number]> =>
  timed(async () => {
    const samples: Array<Sample> = []
    const rounds = roundsOf(config.w34)
    for (let round = 0; round < rounds; round++) {
      const order = [...list.slice(round % list.length), ...list.slice(0, round % list.length)]
      const line: Array<string> = []
      for (const c of order) {
        const result = await runWorker({
          kind: "single",
          workload,
          contender: c.id,
          round,
          bytes: config.w34.bytes,
          warmup: config.w34.warmup,
          timeoutMs: config.timeoutMs
        })
        samples.push(...result.samples)
        const s = result.samples[0]!
        line.push(
          s.error !== undefined
            ? `${c.id} FAILED: ${s.error}`
            : `${c.id} ${s.value.toFixed(0)} MiB/s +${(s.extra.rssGrowthMiB ?? NaN).toFixed(0)} MiB`
        )
      }
      log(`  ${workload} round ${round + 1}/${rounds}: ${line.join(", ")}`)
    }
    return samples
  })

const sizeLabel = (bytes: number) => (bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / 1024} KiB`)

const runW3 = async (): Promise<Workload> => {
  log(`W3: capture ${sizeLabel(config.w34.bytes)} of stdout, ${roundsOf(config.w34)} rounds, a fresh process per run`)
  const [samples, seconds] = await runSingles("W3", Contenders.w3)
  return {
    id: "W3",
    title: `W3: capture ${sizeLabel(config.w34.bytes)} of \`head -c ${config.w34.bytes} /dev/zero\` as bytes`,
    unit: "MiB/s",
    higherIsBetter: true,
    baseline: RAW,
    labels: labels(Contenders.w3),
    samples,
    columns: [{ key: "rssGrowthMiB", label: "peak RSS growth, MiB: median (min–max)", summary: "median" }, CPU_MS],
    notes: [
      "Each run in a fresh Node process after a 1 MiB warm-up run of the same contender; peak RSS growth is VmHWM after the run minus VmRSS before it (the peak reset through /proc/self/clear_refs)."
    ],
    seconds
  }
}

const runW4 = async (): Promise<Workload> => {
  log(
    `W4: stream ${sizeLabel(config.w34.bytes)} of stdout, keep nothing, ${
      roundsOf(config.w34)
    } rounds, a fresh process per run`
  )
  const [samples, seconds] = await runSingles("W4", Contenders.w4)
  return {
    id: "W4",
    title: `W4: stream ${sizeLabel(config.w34.bytes)} of \`head -c ${config.w34.bytes} /dev/zero\`, keep nothing`,
    unit: "MiB/s",
    higherIsBetter: true,
    baseline: RAW,
    labels: labels(Contenders.w4),
    samples,
    columns: [{ key: "rssGrowthMiB", label: "peak RSS growth, MiB: median (min–max)", summary: "median" }, CPU_MS],
    notes: ["Run like W3: each run in a fresh Node process."],
    seconds
  }
}

const runW5 = async (): Promise<Workload> => {
  const c = config.w5
  const pipe = `head -c ${c.bytes} /dev/zero | wc -c`
  log(`W5: ${pipe} as a pipeline, ${roundsOf(c)} rounds`)
  const [result, seconds] = await timed(() => runWorker(roundsJob("W5", c)))
  return {
    id: "W5",
    title: `W5: \`${pipe}\` (${sizeLabel(c.bytes)}) as a pipeline vs \`sh -c\``,
    unit: "MiB/s",
    higherIsBetter: true,
    baseline: { id: "sh", name: "`sh -c`" },
    labels: labels(Contenders.w5),
    samples: result.samples,
    columns: [CPU_MS],
    notes: [
      "Ours and raw node join the two children with one kernel pipe (raw node: the socket pair Node made for head's stdout, passed to wc as its stdin); execa and @effect/platform copy every byte through Node streams. The raw-node row's ratio is to `sh -c` too."
    ],
    seconds
  }
}

const runW6 = async (which: "W6wc" | "W6cat"): Promise<Workload> => {
  const c = config.w6
  const what = which === "W6wc" ? "into `wc -c`" : "into `cat`, capturing its output"
  log(`${which}: feed ${sizeLabel(c.bytes)} ${what.replaceAll("`", "")}, ${roundsOf(c)} rounds`)
  const [result, seconds] = await timed(() => runWorker(roundsJob(which, c)))
  return {
    id: which,
    title: `${which === "W6wc" ? "W6a" : "W6b"}: feed ${sizeLabel(c.bytes)} ${what}`,
    unit: "MiB/s",
    higherIsBetter: true,
    baseline: RAW,
    labels: labels(which === "W6wc" ? Contenders.w6wc : Contenders.w6cat),
    samples: result.samples,
    columns: [CPU_MS],
    notes: [],
    seconds
  }
}

// ---------------------------------------------------------------------------------------------
// goals: the library's targets, and the native spawn engine's
// ---------------------------------------------------------------------------------------------

interface Goal {
  /** Whose target: the library's whatever the engine, or the native spawn engine's. */
  readonly target: "library" | "native engine"
  readonly text: string
  /** The verdict for one of our contenders, or undefined when the workload did not run. */
  readonly judge: (ours: "ours" | "ours-direct") => { readonly met: boolean; readonly value: string } | undefined
}

const goals = (results: ReadonlyMap<string, Workload>): Array<Goal> => {
  const ratio = (w: string, id: string) => {
    const wl = results.get(w)
    const r = wl === undefined ? undefined : row(wl, id)
    return r === undefined ? undefined : r.ratios.length === 0 ? NaN : median(r.ratios)
  }
  const ratioGoal = (w: string, op: "≤" | "≥", bound: number) => (ours: string) => {
    const r = ratio(w, ours)
    if (r === undefined) return undefined
    if (Number.isNaN(r)) return { met: false, value: "failed" }
    return { met: op === "≤" ? r <= bound : r >= bound, value: fmtRatio(r) }
  }
  /** Our `start` + `wait` row of W1 and W1b, for the layer of `ours`. */
  const startOf = (ours: "ours" | "ours-direct") => (ours === "ours" ? "ours-start" : "ours-direct-start")
  const both = (...verdicts: Array<{ met: boolean; value: string } | undefined>) =>
    verdicts.some((v) => v === undefined)
      ? undefined
      : { met: verdicts.every((v) => v!.met), value: verdicts.map((v) => v!.value).join(", ") }
  return [
    {
      target: "library",
      text: "W1 spawn+wait `/bin/true` (Command.exitCode) ≤ 1.3× raw node",
      judge: ratioGoal("W1", "≤", 1.3)
    },
    { target: "library", text: "W2 32 in flight: spawns/s ≥ 0.8× raw node", judge: ratioGoal("W2", "≥", 0.8) },
    { target: "library", text: "W3 capture 256 MiB: MiB/s ≥ 1.0× raw node", judge: ratioGoal("W3", "≥", 1.0) },
    {
      target: "library",
      text: "W3 capture 256 MiB: peak RSS growth ≤ execa's",
      judge: (ours) => {
        const w = results.get("W3")
        const r = w === undefined ? undefined : row(w, ours)
        const mine = r?.extra[0]?.value
        const execa = w === undefined ? undefined : row(w, "execa")?.extra[0]?.value
        if (mine === undefined || execa === undefined) return undefined
        if (r!.values.length === 0) return { met: false, value: "failed" }
        return { met: mine <= execa, value: `${fmt(mine)} vs ${fmt(execa)} MiB` }
      }
    },
    { target: "library", text: "W4 stream 256 MiB: MiB/s ≥ 0.95× raw node", judge: ratioGoal("W4", "≥", 0.95) },
    { target: "library", text: "W5 `head | wc` pipeline ≥ 0.9× of `sh -c`", judge: ratioGoal("W5", "≥", 0.9) },
    {
      target: "library",
      text: "W6 feed 64 MiB into `wc -c` and into `cat` (capturing): MiB/s ≥ 0.9× raw node",
      judge: (ours) => both(ratioGoal("W6wc", "≥", 0.9)(ours), ratioGoal("W6cat", "≥", 0.9)(ours))
    },
    {
      target: "native engine",
      text:
        "W1 spawn+wait ≤ 0.4× raw node (`start` + `wait`, stdio null, like raw's spawn with stdio \"ignore\"; `Command.exitCode` after the semicolon)",
      judge: (ours) => {
        const spawnWait = ratioGoal("W1", "≤", 0.4)(startOf(ours))
        const exitCode = ratioGoal("W1", "≤", 0.4)(ours)
        return spawnWait === undefined || exitCode === undefined
          ? undefined
          : { met: spawnWait.met, value: `${spawnWait.value}; ${exitCode.value}` }
      }
    },
    {
      target: "native engine",
      text:
        "W1b (400 MiB parent): ≤ 1.5 ms per spawn and ≥ 10× faster than raw node (ratio ≤ 0.1×) (`start` + `wait`; `Command.exitCode`)",
      judge: (ours) => {
        const w = results.get("W1b")
        const of = (id: string) => {
          const r = w === undefined ? undefined : row(w, id)
          if (r === undefined) return undefined
          if (r.values.length === 0) return { met: false, value: "failed" }
          const us = median(r.values)
          const rt = median(r.ratios)
          return { met: us <= 1500 && rt <= 0.1, value: `${fmt(us / 1000)} ms, ${fmtRatio(rt)}` }
        }
        const spawnWait = of(startOf(ours))
        const exitCode = of(ours)
        return spawnWait === undefined || exitCode === undefined
          ? undefined
          : { met: spawnWait.met, value: `${spawnWait.value}; ${exitCode.value}` }
      }
    },
    { target: "native engine", text: "W2 32 in flight: spawns/s ≥ 3× raw node", judge: ratioGoal("W2", "≥", 3) },
    {
      target: "native engine",
      text: "W2: longest 1 ms timer stall < 50 ms (worst round)",
      judge: (ours) => {
        const w = results.get("W2")
        const r = w === undefined ? undefined : row(w, ours)
        if (r === undefined) return undefined
        if (r.values.length === 0) return { met: false, value: "failed" }
        const worst = max(r.extra[0]!.all)
        return { met: worst < 50, value: `${fmt(worst)} ms` }
      }
    },
    {
      target: "native engine",
      text: "W3/W4 capture and stream 256 MiB: MiB/s ≥ 1.3× raw node",
      judge: (ours) => both(ratioGoal("W3", "≥", 1.3)(ours), ratioGoal("W4", "≥", 1.3)(ours))
    },
    { target: "native engine", text: "W5 pipeline `head | wc` ≥ 0.9× of `sh -c`", judge: ratioGoal("W5", "≥", 0.9) }
  ]
}

// ---------------------------------------------------------------------------------------------
// machine info and the report
// ---------------------------------------------------------------------------------------------

const machine = (measured: { readonly before: Revision; readonly after: Revision }): Array<[string, string]> => {
  let cpu = Os.cpus()[0]?.model ?? "unknown"
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(Fs.readFileSync("/proc/cpuinfo", "utf8"))
    if (m !== null) cpu = m[1]!.trim()
  } catch {
    // not Linux
  }
  const helper = Contenders.helperBinary()
  return [
    ["CPU", cpu],
    ["cores", String(Os.cpus().length)],
    ["memory", `${(Os.totalmem() / 1024 ** 3).toFixed(1)} GiB`],
    ["Node", process.version],
    ["kernel", `${Os.type()} ${Os.release()} ${Os.arch()}`],
    [
      "setup helper",
      helper === null
        ? "not built: \"ours (helper)\" spawns directly too"
        : "built (packages/node/build/effect-command-helper)"
    ],
    ["spawn engine", `default layer: ${Contenders.engines.helper}; \`helper: "never"\`: ${Contenders.engines.direct}`],
    ["code measured", `${describeRevision(measured.before, measured.after)} (each package's built dist/)`]
  ]
}

const git = (...args: Array<string>): string =>
  ChildProcess.spawnSync("git", args, { cwd: repoDir, encoding: "utf8" }).stdout?.trim() ?? ""

/** What was measured: HEAD, and whether packages/core or packages/node had uncommitted changes. */
interface Revision {
  readonly head: string
  readonly dirty: boolean
}

const revision = (): Revision => ({
  head: git("rev-parse", "--short", "HEAD"),
  dirty: git("status", "--porcelain", "--", "packages/core", "packages/node") !== ""
})

const describeRevision = (before: Revision, after: Revision): string => {
  if (before.head === "") return "unknown (not a git checkout)"
  const dirty = (r: Revision) => (r.dirty ? " plus uncommitted changes in packages/core or packages/node" : "")
  if (before.head === after.head && before.dirty === after.dirty) return `${before.head}${dirty(before)}`
  const sameCode = !before.dirty && !after.dirty &&
    ChildProcess.spawnSync(
        "git",
        ["diff", "--quiet", before.head, after.head, "--", "packages/core", "packages/node"],
        {
          cwd: repoDir
        }
      ).status === 0
  return sameCode
    ? `${before.head} (HEAD moved to ${after.head} during the run, without changes to packages/core or packages/node)`
    : `${before.head}${dirty(before)} at the start, ${after.head}${
      dirty(after)
    } at the end (the code changed during the run)`
}

const loadAverage = () => Os.loadavg().map((n) => n.toFixed(2)).join(", ")

const report = (
  results: ReadonlyArray<Workload>,
  goalList: ReadonlyArray<Goal>,
  w5Note: string | undefined,
  totalSeconds: number,
  load: { readonly before: string; readonly after: string },
  code: { readonly before: Revision; readonly after: Revision },
  broken: ReadonlyArray<string>
): string => {
  const date = new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC"
  const out: Array<string> = []
  out.push("# Benchmarks", "")
  out.push(
    "Generated by `packages/bench` (`pnpm bench`); do not edit by hand — rerun it. Every workload runs our",
    "executor side by side with raw `child_process.spawn`, execa 10 and `@effect/platform` 0.97's `Command`",
    "(with `NodeContext.layer`) in one invocation, in interleaved rounds (each round runs every contender",
    "once, the order rotating from round to round and reversed every other round, so that no contender",
    "always follows the same one; before each run the previous contender's children are waited for,",
    "then, for the byte workloads, a full GC). Each table gives the median over the rounds, the",
    "min–max, and the ratio to raw node **from the same round** (median and min–max of those ratios).",
    "",
    "Before its rounds every contender warms up. For the spawn workloads (W1, W1b, W2) that is",
    "thousands of spawns: V8 keeps compiling the JS-heavy contenders' code (Effect's runtime, ours,",
    "execa's) for about their first 3,000 spawns, and they run up to twice as slow meanwhile. The",
    "tables show each library's steady state; a program that spawns only a few hundred times in all",
    "sees the slower figures (W2 at 32 in flight: about 600 spawns/s for ours, not 1,000). There is no",
    "forced GC before a spawn workload's runs: V8 then deoptimizes much of the optimized code, and the",
    "JS-heavy contenders spent their runs recompiling it.",
    "",
    "\"ours (helper, …)\" is `NodeCommandExecutor.layer`, which spawns through the C setup helper when it",
    "is built; \"ours (direct, …)\" is `NodeCommandExecutor.layerWith({ helper: \"never\" })`, which spawns",
    "the program itself. The word after the comma is the spawn engine the layer uses: `native` (the",
    "native spawn engine, when it is built) or `child_process` (Node's fork-based spawn). The",
    "spawn workloads (W1, W1b, W2) also run the default layer with `engine: \"child_process\"`. Every",
    "contender checks its result (exit code, byte count).",
    "",
    "\"Parent CPU\" is the measuring process's own user + system CPU time during the run",
    "(`process.cpuUsage()`); fork() runs in the parent, so it includes copying the page tables. It is",
    "less sensitive than wall time to other load on the machine.",
    ""
  )
  out.push("## Machine and run", "")
  out.push("| | |", "|---|---|")
  for (const [k, v] of machine(code)) out.push(`| ${k} | ${cell(v)} |`)
  out.push(`| date | ${date} |`)
  const { w1, w1b, w2, w34, w5, w6 } = config
  out.push(
    `| rounds | W1 ${roundsOf(w1)}, W1b ${roundsOf(w1b)}, W2 ${roundsOf(w2)}, W3 and W4 ${roundsOf(w34)}, W5 ${
      roundsOf(w5)
    }, W6 ${roundsOf(w6)} |`
  )
  out.push(`| run time | ${fmt(totalSeconds / 60)} min |`)
  out.push(`| load average (1, 5, 15 min) | before: ${load.before}; after: ${load.after} |`)
  out.push("")
  out.push("Reproduce (from the repository root, after `npx --yes pnpm@10.34.9 install --frozen-lockfile`):", "")
  out.push("```sh", `npx --yes pnpm@10.34.9 bench${quick ? " --quick" : ""}`, "```", "")
  if (quick) out.push("**This was a `--quick` smoke run with tiny sizes: the numbers mean nothing.**", "")
  if (broken.length > 0) out.push(`**Could not run (the worker failed): ${broken.join(", ")}.**`, "")
  out.push("## Goals", "")
  out.push(
    "The library's targets apply whichever spawn engine a layer uses; the native engine's targets are",
    "what the native spawn engine adds where it is in use (engine in use: helper layer",
    `${Contenders.engines.helper}, direct layer ${Contenders.engines.direct}).`,
    ""
  )
  out.push(
    `| target for | goal | ours (helper, ${Contenders.engines.helper}) | ours (direct, ${Contenders.engines.direct}) |`,
    "|---|---|---|---|"
  )
  for (const g of goalList) {
    const verdict = (ours: "ours" | "ours-direct") => {
      const v = g.judge(ours)
      return v === undefined ? "not run" : `${v.met ? "met" : "**missed**"}: ${v.value}`
    }
    out.push(`| ${g.target} | ${cell(g.text)} | ${verdict("ours")} | ${verdict("ours-direct")} |`)
  }
  out.push("")
  for (const w of results) {
    out.push(`## ${w.title}`, "")
    out.push(table(w), "")
    for (const n of w.notes) out.push(`${n}`, "")
    out.push(`(${fmt(w.seconds)} s)`, "")
  }
  if (w5Note !== undefined) out.push("## W5: `head -c 256MiB /dev/zero | wc -c` pipeline vs `sh -c`", "", w5Note, "")
  return out.join("\n")
}

// ---------------------------------------------------------------------------------------------

const main = async () => {
  const started = Date.now()
  const loadBefore = loadAverage()
  const codeBefore = revision()
  log(`load average: ${loadBefore}`)
  const results: Array<Workload> = []
  const plan: Array<[string, () => Promise<Workload | Array<Workload>>]> = [
    ["W1", runW1],
    ["W1B", runW1b],
    ["W2", runW2],
    ["W3", runW3],
    ["W4", runW4],
    ["W5", async () => (pipelineApi ? [await runW5()] : [])],
    ["W6", async () => [await runW6("W6wc"), await runW6("W6cat")]]
  ]
  const broken: Array<string> = []
  for (const [id, run] of plan) {
    if (!selected(id)) continue
    let got: Workload | Array<Workload>
    try {
      got = await run()
    } catch (e) {
      console.error(`${id} FAILED: ${e instanceof Error ? e.message : String(e)}`)
      broken.push(id)
      continue
    }
    for (const w of Array.isArray(got) ? got : [got]) {
      results.push(w)
      console.log(`\n${w.title} (${fmt(w.seconds)} s)\n\n${table(w)}\n`)
    }
  }
  const w5Note = pipelineApi || !selected("W5") ? undefined : "W5 skipped: no pipeline API yet"
  if (w5Note !== undefined) console.log(w5Note)
  const byId = new Map(results.map((w) => [w.id, w]))
  const goalList = goals(byId)
  const totalSeconds = (Date.now() - started) / 1000
  const markdown = report(results, goalList, w5Note, totalSeconds, { before: loadBefore, after: loadAverage() }, {
    before: codeBefore,
    after: revision()
  }, broken)
  const goalSection = markdown.slice(markdown.indexOf("## Goals"), markdown.indexOf("\n## W"))
  console.log(`\n${goalSection}`)
  Fs.mkdirSync(Path.join(benchDir, "build"), { recursive: true })
  Fs.writeFileSync(
    Path.join(benchDir, "build/results.json"),
    JSON.stringify({ config, roundsOption, results }, null, 2)
  )
  if (outFile !== undefined) {
    Fs.writeFileSync(outFile, markdown)
    console.log(`wrote ${Path.relative(process.cwd(), outFile)}`)
  }
  console.log(`total ${fmt(totalSeconds / 60)} min`)
  if (broken.length > 0) {
    console.error(`workloads that could not run: ${broken.join(", ")}`)
    process.exitCode = 1
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
