/** Small statistics and formatting helpers. */

export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const min = (values: ReadonlyArray<number>): number => values.reduce((a, b) => Math.min(a, b), Infinity)
export const max = (values: ReadonlyArray<number>): number => values.reduce((a, b) => Math.max(a, b), -Infinity)

/** A number with about three significant digits, thousands separated. */
export const fmt = (value: number): string => {
  if (!Number.isFinite(value)) return "–"
  const abs = Math.abs(value)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export const fmtRatio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–")

/** `median (min–max)` of a list. */
export const spread = (values: ReadonlyArray<number>, format: (n: number) => string = fmt): string =>
  `${format(min(values))}–${format(max(values))}`

export const MiB = 1024 * 1024

/**
 * The order of round `by`: rotated by one each round, and reversed every other round, so that no
 * contender always runs right after the same one (whatever a contender leaves behind, the next
 * one pays for).
 */
export const rotate = <A>(items: ReadonlyArray<A>, by: number): Array<A> => {
  const k = by % items.length
  const rotated = [...items.slice(k), ...items.slice(0, k)]
  return by % 2 === 1 ? rotated.reverse() : rotated
}
