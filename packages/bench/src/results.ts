/** A workload's samples as rows and a markdown table: medians, min–max, ratios to the baseline of the same round. */
import type { Sample } from "./protocol.js"
import { fmt, fmtRatio, max, median, min } from "./stats.js"

export interface Column {
  readonly key: string
  readonly label: string
  /** How to summarise the column over rounds. */
  readonly summary: "median" | "max"
}

export interface Workload {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly higherIsBetter: boolean
  /** The contender the ratios are to. */
  readonly baseline: { readonly id: string; readonly name: string }
  /** A second contender to give ratios to (one of `labels`), in a column of its own. */
  readonly secondBaseline?: { readonly id: string; readonly name: string }
  readonly labels: ReadonlyMap<string, string>
  readonly samples: ReadonlyArray<Sample>
  readonly columns: ReadonlyArray<Column>
  readonly notes: ReadonlyArray<string>
  readonly seconds: number
}

export interface Row {
  readonly id: string
  readonly label: string
  /** The successful runs' values. */
  readonly values: ReadonlyArray<number>
  readonly failures: ReadonlyArray<string>
  readonly ratios: ReadonlyArray<number>
  /** The ratios to the second baseline (none without one). */
  readonly secondRatios: ReadonlyArray<number>
  readonly extra: ReadonlyArray<
    { readonly column: Column; readonly value: number; readonly all: ReadonlyArray<number> }
  >
}

export const rowsOf = (w: Workload): Array<Row> =>
  [...w.labels].map(([id, label]) => {
    const all = w.samples.filter((s) => s.contender === id)
    const mine = all.filter((s) => s.error === undefined)
    const ratiosTo = (baseline: string | undefined) =>
      mine.flatMap((s) => {
        const base = w.samples.find((r) => r.contender === baseline && r.round === s.round && r.error === undefined)
        return base === undefined ? [] : [s.value / base.value]
      })
    return {
      id,
      label,
      values: mine.map((s) => s.value),
      failures: all.flatMap((s) => (s.error === undefined ? [] : [s.error])),
      ratios: ratiosTo(w.baseline.id),
      secondRatios: ratiosTo(w.secondBaseline?.id),
      extra: w.columns.map((column) => {
        const all = mine.map((s) => s.extra[column.key] ?? NaN).filter((n) => !Number.isNaN(n))
        return { column, value: column.summary === "median" ? median(all) : max(all), all }
      })
    }
  })

export const row = (w: Workload, id: string): Row | undefined => rowsOf(w).find((r) => r.id === id)

/** A markdown table cell: `|` must be escaped, even inside backticks. */
export const cell = (text: string): string => text.replaceAll("|", "\\|")

/** `median (min–max)` of ratios. */
const ratioCell = (ratios: ReadonlyArray<number>) =>
  ratios.length === 0 ? "–" : `${fmtRatio(median(ratios))} (${fmtRatio(min(ratios))}–${fmtRatio(max(ratios))})`

export const table = (w: Workload): string => {
  const better = w.higherIsBetter ? "higher" : "lower"
  const second = w.secondBaseline
  const head = [
    "contender",
    `median ${w.unit}`,
    "min–max",
    `ratio to ${w.baseline.name} (${better} is better): median, min–max`,
    ...(second === undefined ? [] : [`ratio to ${second.name}: median, min–max`]),
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
        r.id === w.baseline.id ? "1.00× (baseline)" : ratioCell(r.ratios),
        ...(second === undefined ? [] : [r.id === second.id ? "1.00× (baseline)" : ratioCell(r.secondRatios)]),
        ...r.extra.map((e) => (e.all.length === 0 ? "–" : `${fmt(e.value)} (${fmt(min(e.all))}–${fmt(max(e.all))})`))
      ]
      lines.push(`| ${cells.map(cell).join(" | ")} |`)
    }
    if (r.failures.length > 0) failures.push(`- ${r.label} failed ${r.failures.length}×: \`${r.failures[0]}\``)
  }
  return [...lines, ...(failures.length > 0 ? ["", ...failures] : [])].join("\n")
}
