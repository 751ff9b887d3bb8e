/**
 * The timer probe: a 1 ms `setInterval` that records the longest stretch between two of its
 * firings (and from the start to the first one, and from the last one to the stop). While the
 * event loop is blocked — by fork() in `child_process.spawn`, for instance — it does not fire;
 * `monitorEventLoopDelay` samples the same thing coarsely and under-reports short, frequent stalls.
 */
import { performance } from "node:perf_hooks"

export interface TimerProbe {
  /** Stops the probe; returns the longest stretch without a firing, in milliseconds. */
  readonly stop: () => number
}

export const startTimerProbe = (): TimerProbe => {
  let last = performance.now()
  let longest = 0
  const timer = setInterval(() => {
    const now = performance.now()
    if (now - last > longest) longest = now - last
    last = now
  }, 1)
  return {
    stop: () => {
      clearInterval(timer)
      const now = performance.now()
      return Math.max(longest, now - last)
    }
  }
}
