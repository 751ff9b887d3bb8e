/** What main.ts asks a worker process to do, and what the worker answers. */

export type Job =
  | {
    readonly kind: "rounds"
    readonly workload: "W1" | "W1b" | "W2" | "W5" | "W6wc" | "W6cat"
    readonly rounds: number
    /** Spawns per run (W1, W1b, W2). */
    readonly n: number
    /** In flight (W2). */
    readonly concurrency: number
    /** Bytes fed (W6) or piped (W5). */
    readonly bytes: number
    /** The warm-up run's size (spawns or bytes), before the ballast is allocated. */
    readonly warmup: number
    /** MiB of Buffers the worker holds while it measures (W1b). */
    readonly ballastMiB: number
    /** A second, short warm-up run (spawns) with the ballast held (W1b). */
    readonly ballastWarmup: number
    /** A run taking longer fails (and its contender sits out the later rounds). */
    readonly timeoutMs: number
  }
  | {
    readonly kind: "single"
    readonly workload: "W3" | "W4"
    readonly contender: string
    readonly round: number
    readonly bytes: number
    readonly warmup: number
    readonly timeoutMs: number
  }

/**
 * What a cold run (cold.ts, or the C floor) does in a fresh process of its own: import one
 * contender's library, spawn once, warm up, then the timed run of W1 (`concurrency` 1) or W2.
 */
export interface ColdJob {
  readonly contender: string
  readonly round: number
  /** Spawns in the timed run. */
  readonly n: number
  /** In flight: 1 runs the spawns one after the other (W1). */
  readonly concurrency: number
  /** Spawns before the timed run, the first one included (W4: bytes of the warm-up stream). */
  readonly warmup: number
  /**
   * W4 instead of spawns: stream this many bytes of `head -c` stdout, keeping nothing, after one
   * warm-up stream of `warmup` bytes (`n` and `concurrency` are not used).
   */
  readonly bytes?: number
}

export interface Sample {
  readonly round: number
  readonly contender: string
  /** The workload's unit: µs/spawn, spawns/s or MiB/s; NaN when the run failed. */
  readonly value: number
  /** Why the run failed (the contender threw). */
  readonly error?: string
  readonly extra: Readonly<Record<string, number>>
}

export interface JobResult {
  readonly samples: ReadonlyArray<Sample>
  readonly info: Readonly<Record<string, number>>
}

export const RESULT_PREFIX = "@@result "
