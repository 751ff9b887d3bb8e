/** docs/benchmarks.md: how the bench runs, the machine, the goals' verdicts and every workload's table. */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"

import { coldOnly, config, quick, repoDir, roundsOf } from "./config.js"
import * as Contenders from "./contenders.js"
import type { Goal } from "./goals.js"
import type { Workload } from "./results.js"
import { cell, row, rowsOf, table } from "./results.js"
import { fmt, fmtRatio, median } from "./stats.js"

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
export interface Revision {
  readonly head: string
  readonly dirty: boolean
}

export const revision = (): Revision => ({
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

/**
 * Each cold workload next to its steady-state one, a row per contender: medians and the median
 * ratios, each ratio's baseline named in its column.
 */
const coldAndSteady = (results: ReadonlyArray<Workload>): Array<string> => {
  const byId = new Map(results.map((w) => [w.id, w]))
  const out: Array<string> = []
  for (const [coldId, steadyId] of [["W1cold", "W1"], ["W2cold", "W2"]] as const) {
    const cold = byId.get(coldId)
    if (cold === undefined) continue
    const steady = byId.get(steadyId)
    const head = [
      "contender",
      `cold: median ${cold.unit}`,
      `cold: ratio to ${cold.baseline.name}`,
      "cold: first spawn, ms",
      `steady state: median ${cold.unit}`,
      `steady state: ratio to ${steady?.baseline.name ?? "raw node"}`,
      `steady state: ratio to ${steady?.secondBaseline?.name ?? "raw node in a fresh minimal process"}`
    ]
    out.push(`### ${cold.title}`, "", `${cold.higherIsBetter ? "Higher" : "Lower"} is better.`, "")
    out.push(`| ${head.map(cell).join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`)
    for (const r of rowsOf(cold)) {
      const s = steady === undefined ? undefined : row(steady, r.id)
      const cells = [
        r.label,
        fmt(median(r.values)),
        fmtRatio(median(r.ratios)),
        fmt(r.extra.find((e) => e.column.key === "firstMs")?.value ?? NaN),
        fmt(median(s?.values ?? [])),
        fmtRatio(median(s?.ratios ?? [])),
        fmtRatio(median(s?.secondRatios ?? []))
      ]
      out.push(`| ${cells.map(cell).join(" | ")} |`)
    }
    out.push("")
  }
  return out
}

/**
 * Every workload with a C floor, a row each: the medians of raw node, ours and C, and how much of
 * the floor's speed ours reaches (its value over C's, or C's over its own for a time).
 */
const nearTheFloor = (results: ReadonlyArray<Workload>): Array<string> => {
  const withFloor = results.filter((w) => row(w, "c")?.values.length)
  if (withFloor.length === 0) return []
  const ours = [["ours", "helper"], ["ours-direct", "direct"]] as const
  const head = [
    "workload",
    "unit",
    "raw node",
    ...ours.map(([, layer]) => `ours (${layer})`),
    "C floor",
    ...ours.map(([, layer]) => `ours (${layer}): share of C's speed`)
  ]
  const out = [`| ${head.map(cell).join(" | ")} |`, `|${head.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`]
  for (const w of withFloor) {
    const at = (id: string) => median(row(w, id)?.values ?? [])
    const floor = at("c")
    const share = (id: string) => {
      const value = w.higherIsBetter ? at(id) / floor : floor / at(id)
      return Number.isFinite(value) ? `${(100 * value).toFixed(0)}%` : "–"
    }
    const cells = [
      w.title.split(":")[0]!,
      w.unit,
      fmt(at("raw")),
      ...ours.map(([id]) => fmt(at(id))),
      fmt(floor),
      ...ours.map(([id]) => share(id))
    ]
    out.push(`| ${cells.map(cell).join(" | ")} |`)
  }
  return out
}

export const loadAverage = () => Os.loadavg().map((n) => n.toFixed(2)).join(", ")

export const report = (
  results: ReadonlyArray<Workload>,
  goalList: ReadonlyArray<Goal>,
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
    "The cold runs (W1 cold, W2 cold; `pnpm bench --cold` runs only them) measure what a short-lived",
    "program gets: each contender runs in a fresh Node process of its own that loads only that",
    "contender's library (raw node's imports nothing but `node:child_process`), spawns at most",
    `${config.cold.warmup} times before the timed run, and reports its import time and its first spawn's latency. A C`,
    "program (`posix_spawn` + `waitpid`) runs the same spawns: the floor. The byte workloads (W3, W4, W6)",
    "have a C floor too: a C program moving the same bytes through the same kernel pipes. The cold ratios are to raw node's",
    "fresh process of the same round. The steady-state W2 also gives ratios to raw node in a fresh",
    "minimal process: the worker's raw node shares its process with every other contender, and fork()",
    "costs more from a larger process. Each ratio's column names its baseline.",
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
  const { cold, w1, w1b, w2, w34, w5, w6 } = config
  out.push(
    `| rounds | cold W1 and W2 ${roundsOf(cold)}, W1 ${roundsOf(w1)}, W1b ${roundsOf(w1b)}, W2 ${
      roundsOf(w2)
    }, W3 and W4 ${roundsOf(w34)}, W5 ${roundsOf(w5)}, W6 ${roundsOf(w6)} |`
  )
  out.push(`| run time | ${fmt(totalSeconds / 60)} min |`)
  out.push(`| load average (1, 5, 15 min) | before: ${load.before}; after: ${load.after} |`)
  out.push("")
  out.push("Reproduce (from the repository root, after `npx --yes pnpm@10.34.9 install --frozen-lockfile`):", "")
  out.push("```sh", `npx --yes pnpm@10.34.9 bench${quick ? " --quick" : ""}${coldOnly ? " --cold" : ""}`, "```", "")
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
  const side = coldAndSteady(results)
  if (side.length > 0) {
    out.push(
      "## Cold and steady state",
      "",
      `Each contender's cold runs (a fresh process, at most ${config.cold.warmup} spawns before the timed ones) next to`,
      "its steady state (the same workload after thousands of warm-up spawns, in the worker that runs every",
      "contender). The C floor has no steady state of its own: it has nothing to compile.",
      "",
      ...side
    )
  }
  const floor = nearTheFloor(results)
  if (floor.length > 0) {
    out.push(
      "## How close to the floor",
      "",
      "The C floor does each workload's work from a C program, without a runtime: the kernel's cost.",
      "A share of 100% would be as fast as C; medians, from the workloads' own tables below.",
      "",
      ...floor,
      ""
    )
  }
  for (const w of results) {
    out.push(`## ${w.title}`, "")
    out.push(table(w), "")
    for (const n of w.notes) out.push(`${n}`, "")
    out.push(`(${fmt(w.seconds)} s)`, "")
  }
  return out.join("\n")
}
