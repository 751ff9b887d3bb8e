/** The bench's command line (see main.ts) and the sizes, warm-ups and rounds of every workload. */
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

import { MiB } from "./stats.js"

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(name)
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}

export const quick = flag("--quick")
/** `--cold`: the cold runs only. */
export const coldOnly = flag("--cold")
export const benchDir = fileURLToPath(new URL("..", import.meta.url))
export const repoDir = Path.resolve(benchDir, "../..")
export const outFile = option("--out") !== undefined ?
  Path.resolve(process.cwd(), option("--out")!) :
  quick || flag("--no-write")
  ? undefined
  : Path.join(repoDir, "docs/benchmarks.md")
const only = option("--only")?.split(",").map((s) => s.trim().toUpperCase())

export interface Config {
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
  /** The cold runs of W1 and W2 (W1: one at a time, W2: `concurrency` in flight); `warmup` counts the first spawn. */
  readonly cold: { readonly n: number; readonly concurrency: number; readonly warmup: number; readonly rounds: number }
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
  // What a short-lived program sees: a fresh process per run, at most 20 spawns before the timed ones.
  cold: { n: 500, concurrency: 32, warmup: 20, rounds: 5 },
  timeoutMs: 120_000
}

const tiny: Config = {
  w1: { n: 10, warmup: 2, rounds: 2 },
  w1b: { n: 5, warmup: 1, ballastMiB: 32, ballastWarmup: 1, rounds: 2 },
  w2: { n: 32, concurrency: 8, warmup: 8, rounds: 2 },
  w34: { bytes: 4 * MiB, warmup: 64 * 1024, rounds: 2 },
  w5: { bytes: 4 * MiB, warmup: 64 * 1024, rounds: 2 },
  w6: { bytes: 2 * MiB, warmup: 64 * 1024, rounds: 2 },
  cold: { n: 10, concurrency: 8, warmup: 2, rounds: 2 },
  timeoutMs: 20_000
}

export const config = quick ? tiny : full
export const roundsOption = option("--rounds")
/** A workload's rounds: its own, or all the same with --rounds. */
export const roundsOf = (
  c: { readonly rounds: number }
): number => (roundsOption !== undefined ? Number(roundsOption) : c.rounds)
export const selected = (id: string) => (coldOnly ? id === "COLD" : only === undefined || only.includes(id))
