/** The targets the report judges: the library's whatever the spawn engine, and the native engine's. */
import type { Row, Workload } from "./results.js"
import { row } from "./results.js"
import { fmt, fmtRatio, max, median } from "./stats.js"

export interface Goal {
  /** Whose target: the library's whatever the engine, or the native spawn engine's. */
  readonly target: "library" | "native engine"
  readonly text: string
  /** The verdict for one of our contenders, or undefined when the workload did not run. */
  readonly judge: (ours: "ours" | "ours-direct") => { readonly met: boolean; readonly value: string } | undefined
}

export const goals = (results: ReadonlyMap<string, Workload>): Array<Goal> => {
  /** A contender's row in a workload's results; undefined when either did not run. */
  const rowIn = (workload: string, id: string) => {
    const w = results.get(workload)
    return w === undefined ? undefined : row(w, id)
  }
  /** Which of a row's ratios: to the workload's baseline, or to its second one. */
  type Ratios = (r: Row) => ReadonlyArray<number>
  const toBaseline: Ratios = (r) => r.ratios
  const toSecond: Ratios = (r) => r.secondRatios
  const ratio = (w: string, id: string, of: Ratios = toBaseline) => {
    const r = rowIn(w, id)
    return r === undefined ? undefined : of(r).length === 0 ? NaN : median(of(r))
  }
  const ratioGoal = (w: string, op: "≤" | "≥", bound: number, of: Ratios = toBaseline) => (ours: string) => {
    const r = ratio(w, ours, of)
    if (r === undefined) return undefined
    if (Number.isNaN(r)) return { met: false, value: "failed" }
    return { met: op === "≤" ? r <= bound : r >= bound, value: fmtRatio(r) }
  }
  /** A goal of a row only the helper layer has (`id`): judged for it, not run for the direct layer. */
  const helperOnly = (judge: (ours: string) => ReturnType<Goal["judge"]>, id: string) => (ours: string) =>
    ours === "ours" ? judge(id) : undefined
  /** Our `start` + `wait` row of W1 and W1b, for the layer of `ours`. */
  const startOf = (ours: "ours" | "ours-direct") => (ours === "ours" ? "ours-start" : "ours-direct-start")
  const both = (...verdicts: Array<{ met: boolean; value: string } | undefined>) =>
    verdicts.some((v) => v === undefined)
      ? undefined
      : { met: verdicts.every((v) => v!.met), value: verdicts.map((v) => v!.value).join(", ") }
  /** Containment's cost: the contained layer's ratio over the default (uncontained) one's. */
  const containment = (w: string, op: "≤" | "≥", bound: number) => (ours: string) => {
    const contained = ratio(w, "ours-contained")
    const uncontained = ratio(w, "ours")
    if (ours !== "ours" || contained === undefined || uncontained === undefined) return undefined
    const r = contained / uncontained
    return Number.isNaN(r)
      ? { met: false, value: "failed" }
      : { met: op === "≤" ? r <= bound : r >= bound, value: fmtRatio(r) }
  }
  return [
    {
      target: "library",
      text: "containment: W1 contained Command.exitCode ≤ 1.25× uncontained (time)",
      judge: containment("W1", "≤", 1.25)
    },
    {
      target: "library",
      text: "containment: W2 contained spawns/s ≥ 0.8× uncontained",
      judge: containment("W2", "≥", 0.8)
    },
    {
      target: "library",
      text: "W1 spawn+wait `/bin/true` (Command.exitCode) ≤ 1.3× raw node",
      judge: ratioGoal("W1", "≤", 1.3)
    },
    { target: "library", text: "W2 32 in flight: spawns/s ≥ 0.8× raw node", judge: ratioGoal("W2", "≥", 0.8) },
    {
      target: "library",
      text: "SSH1 `/bin/true` over ssh (SshCommandExecutor) ≤ 1.2× `ssh -S <control socket>` from a shell",
      judge: ratioGoal("SSH1", "≤", 1.2)
    },
    {
      target: "library",
      text:
        "SSH2 256 MiB of stdout over ssh, read as a `Command.stream`: MiB/s ≥ 0.9× `ssh -S <control socket> … > /dev/null`",
      judge: ratioGoal("SSH2", "≥", 0.9)
    },
    {
      target: "library",
      text:
        "SSH2 256 MiB of stdout over ssh, read with `Output.forEach`: MiB/s ≥ 0.9× `ssh -S <control socket> … > /dev/null`",
      judge: helperOnly(ratioGoal("SSH2", "≥", 0.9), "ours-foreach")
    },
    { target: "library", text: "W3 capture 256 MiB: MiB/s ≥ 1.0× raw node", judge: ratioGoal("W3", "≥", 1.0) },
    {
      target: "library",
      text: "W3 capture 256 MiB: peak RSS growth ≤ execa's",
      judge: (ours) => {
        const r = rowIn("W3", ours)
        const mine = r?.extra[0]?.value
        const execa = rowIn("W3", "execa")?.extra[0]?.value
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
        const of = (id: string) => {
          const r = rowIn("W1b", id)
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
        const r = rowIn("W2", ours)
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
    { target: "native engine", text: "W5 pipeline `head | wc` ≥ 0.9× of `sh -c`", judge: ratioGoal("W5", "≥", 0.9) },
    {
      target: "native engine",
      text: "cold W1 (Command.exitCode, ≤ 20 spawns of warm-up) ≤ 0.55× raw node in a fresh minimal process (time)",
      judge: ratioGoal("W1cold", "≤", 0.55)
    },
    {
      target: "native engine",
      text: "cold W2 32 in flight: spawns/s ≥ 2.5× raw node in a fresh minimal process",
      judge: ratioGoal("W2cold", "≥", 2.5)
    },
    {
      target: "native engine",
      text: "steady-state W2 32 in flight: spawns/s ≥ 2.5× raw node in a fresh minimal process",
      judge: ratioGoal("W2", "≥", 2.5, toSecond)
    },
    { target: "native engine", text: "W4 stream 256 MiB: MiB/s ≥ 1.5× raw node", judge: ratioGoal("W4", "≥", 1.5) },
    {
      target: "native engine",
      text:
        "W4 256 MiB read with `Output.forEach`: MiB/s ≥ 1.5× raw node, in the worker and (both) in a fresh minimal process",
      judge: (ours) =>
        both(
          helperOnly(ratioGoal("W4", "≥", 1.5), "ours-foreach")(ours),
          helperOnly(ratioGoal("W4", "≥", 1.5, toSecond), "ours-foreach-minimal")(ours)
        )
    },
    {
      target: "native engine",
      text: "W6 feed 64 MiB into `wc -c`: MiB/s ≥ 1.3× raw node",
      judge: ratioGoal("W6wc", "≥", 1.3)
    }
  ]
}
