/**
 * `pnpm bench`: every workload (W1–W6, plus W1b for the native spawn engine, and W1 and W2 cold)
 * side by side against raw `child_process.spawn`, execa 10 and `@effect/platform`'s Command, in
 * interleaved rounds; prints the tables and writes docs/benchmarks.md.
 *
 *   pnpm bench                 the full run (~14 minutes on 2 cores), writes docs/benchmarks.md
 *   pnpm bench --quick         a smoke run with tiny sizes; writes nothing unless --out is given
 *   pnpm bench --cold          the cold runs only (W1 and W2, each contender in a fresh process)
 *   pnpm bench --only W1,W3    some workloads only (COLD W1 W1b W2 W3 W4 W5 W6 SSH)
 *   pnpm bench --rounds N      rounds for every workload (default: 5; W3, W4: 7; W5, W6: 15)
 *   pnpm bench --out FILE      where to write the markdown (default: docs/benchmarks.md)
 *   pnpm bench --no-write      print only
 *
 * The packages are measured as users get them: their built dist/ (the root `pnpm bench` builds them
 * first with `tsc -b`). Every measurement runs in a fresh Node process (worker.ts, with --expose-gc): W1, W1b, W2, W5
 * and W6 run all their contenders in one process, interleaved; W3 and W4 run each contender in a
 * process of its own, so that peak RSS is comparable. The cold runs start a process per contender
 * and run (cold.ts, as plain JavaScript; the C floor, spawn-floor.c), both built by build.ts.
 *
 * config.ts: the options and sizes; workloads.ts: the workloads, each run in worker processes;
 * results.ts: rows and tables; goals.ts: the targets judged; report.ts: docs/benchmarks.md.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

import { benchDir, config, outFile, roundsOption, selected } from "./config.js"
import { goals } from "./goals.js"
import { loadAverage, report, revision } from "./report.js"
import type { Workload } from "./results.js"
import { table } from "./results.js"
import { fmt } from "./stats.js"
import { log, workloads } from "./workloads.js"

const main = async () => {
  const started = Date.now()
  const loadBefore = loadAverage()
  const codeBefore = revision()
  log(`load average: ${loadBefore}`)
  const results: Array<Workload> = []
  const broken: Array<string> = []
  for (const [id, run] of workloads) {
    if (!selected(id)) continue
    let got: ReadonlyArray<Workload>
    try {
      got = await run()
    } catch (e) {
      console.error(`${id} FAILED: ${e instanceof Error ? e.message : String(e)}`)
      broken.push(id)
      continue
    }
    for (const w of got) {
      results.push(w)
      console.log(`\n${w.title} (${fmt(w.seconds)} s)\n\n${table(w)}\n`)
    }
  }
  const byId = new Map(results.map((w) => [w.id, w]))
  const goalList = goals(byId)
  const totalSeconds = (Date.now() - started) / 1000
  const markdown = report(results, goalList, totalSeconds, { before: loadBefore, after: loadAverage() }, {
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
