/** The process's own memory figures, from /proc/self/status (Linux). */
import * as Fs from "node:fs"

const field = (name: string): number => {
  const status = Fs.readFileSync("/proc/self/status", "utf8")
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)
  return match === null ? NaN : Number(match[1]) * 1024
}

/** Resident set size now, in bytes. */
export const rss = (): number => field("VmRSS")

/** Peak resident set size since start or the last `resetPeak`, in bytes. */
export const peakRss = (): number => field("VmHWM")

/** Resets the peak RSS to the current RSS (`echo 5 > /proc/self/clear_refs`); false when refused. */
export const resetPeak = (): boolean => {
  try {
    Fs.writeFileSync("/proc/self/clear_refs", "5")
    return true
  } catch {
    return false
  }
}

/** Runs a full GC when Node was started with --expose-gc. */
export const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect !== undefined) {
    collect()
    collect()
  }
}

/**
 * Holds `mib` MiB of Buffers, every page written, so that the parent's page tables are as large
 * as those of a process that really uses that memory (what makes fork() slow).
 */
export const ballast = (mib: number): Array<Buffer> => {
  const chunks: Array<Buffer> = []
  const chunk = 16
  for (let left = mib; left > 0; left -= chunk) {
    const buffer = Buffer.allocUnsafeSlow(Math.min(chunk, left) * 1024 * 1024)
    buffer.fill(0xa5)
    chunks.push(buffer)
  }
  return chunks
}
