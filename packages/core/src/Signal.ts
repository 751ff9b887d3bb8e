/**
 * POSIX signal names, as Linux and Node spell them.
 *
 * @since 0.1.0
 */

/**
 * Every signal a kill policy, `Process.kill` or `dieWithParent` can name.
 *
 * @example
 * ```ts
 * import { Command, type Signal } from "@effect-command/core"
 *
 * const stop: Signal.Signal = "SIGINT"
 * const postgres = Command.make("postgres").pipe(Command.killSignal(stop))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Signal = (typeof signals)[number]

/**
 * Linux signal numbers by name (x86-64, arm64 and every architecture Node runs on share these).
 *
 * @example
 * ```ts
 * import { Signal } from "@effect-command/core"
 *
 * console.log(Signal.numbers.SIGKILL, Signal.numbers.SIGTERM) // 9 15
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const numbers = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31
} as const

/**
 * All signal names, in number order.
 *
 * @example
 * ```ts
 * import { Signal } from "@effect-command/core"
 *
 * console.log(Signal.signals.length, Signal.signals[0]) // 31 SIGHUP
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const signals = Object.keys(numbers) as ReadonlyArray<keyof typeof numbers>

/**
 * Whether a string names a signal.
 *
 * @example
 * ```ts
 * import { Signal } from "@effect-command/core"
 *
 * console.log(Signal.isSignal("SIGHUP"), Signal.isSignal("HUP")) // true false
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isSignal = (u: unknown): u is Signal => typeof u === "string" && Object.hasOwn(numbers, u)

/**
 * The name of a signal number, or `undefined` for a number Linux does not define (real-time signals
 * have no name here).
 *
 * @example
 * ```ts
 * import { Signal } from "@effect-command/core"
 *
 * console.log(Signal.fromNumber(9), Signal.fromNumber(64)) // SIGKILL undefined
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromNumber = (n: number): Signal | undefined => signals.find((name) => numbers[name] === n)
