/**
 * How a child process ended: the `waitpid` status as a tagged union (virCommandRawStatus).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

import type { Signal } from "./Signal.js"

/**
 * `Exited` when the child called `exit(code)`; `Signaled` when a signal killed it.
 *
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * const describe = (status: ExitStatus.ExitStatus): string =>
 *   status._tag === "Exited" ? `code ${status.code}` : `killed by ${status.signal}`
 * console.log(describe(ExitStatus.exited(3))) // code 3
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ExitStatus = Data.TaggedEnum<{
  Exited: { readonly code: number }
  Signaled: { readonly signal: Signal; readonly coreDumped: boolean }
}>

const { $is, $match, Exited, Signaled } = Data.taggedEnum<ExitStatus>()

/**
 * The child exited normally with this code (0–255).
 *
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * console.log(ExitStatus.format(ExitStatus.exited(3))) // exit status 3
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const exited = (code: number): ExitStatus => Exited({ code })

/**
 * A signal killed the child.
 *
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * console.log(ExitStatus.format(ExitStatus.signaled("SIGSEGV", true))) // fatal signal SIGSEGV (core dumped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const signaled = (signal: Signal, coreDumped = false): ExitStatus => Signaled({ signal, coreDumped })

/**
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * const status = ExitStatus.exited(1)
 * if (ExitStatus.isExited(status)) console.log(status.code) // 1
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isExited = $is("Exited")

/**
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * const status = ExitStatus.signaled("SIGKILL")
 * if (ExitStatus.isSignaled(status)) console.log(status.signal) // SIGKILL
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isSignaled = $is("Signaled")

/**
 * Pattern match on a status.
 *
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * const describe = ExitStatus.match({
 *   Exited: ({ code }) => `code ${code}`,
 *   Signaled: ({ signal }) => `signal ${signal}`
 * })
 * console.log(describe(ExitStatus.signaled("SIGTERM"))) // signal SIGTERM
 * ```
 *
 * @since 0.1.0
 * @category pattern matching
 */
export const match = $match

/**
 * True only for `Exited { code: 0 }`.
 *
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * console.log(ExitStatus.isSuccess(ExitStatus.exited(0)), ExitStatus.isSuccess(ExitStatus.exited(1))) // true false
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSuccess = (status: ExitStatus): boolean => status._tag === "Exited" && status.code === 0

/**
 * A short human form: `exit status 3` or `fatal signal SIGKILL (core dumped)`, as libvirt words it.
 *
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * console.log(ExitStatus.format(ExitStatus.exited(0))) // exit status 0
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const format = (status: ExitStatus): string =>
  status._tag === "Exited"
    ? `exit status ${status.code}`
    : `fatal signal ${status.signal}${status.coreDumped ? " (core dumped)" : ""}`

/**
 * A pipeline's status, as `set -o pipefail` computes it: the rightmost unsuccessful stage's
 * status, or the last stage's when every stage succeeded.
 *
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * const stages = [ExitStatus.exited(2), ExitStatus.exited(0)] // e.g. grep failed, sort succeeded
 * console.log(ExitStatus.format(ExitStatus.pipefail(stages))) // exit status 2
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const pipefail = (stages: ReadonlyArray<ExitStatus>): ExitStatus => {
  for (let i = stages.length - 1; i >= 0; i--) if (!isSuccess(stages[i]!)) return stages[i]!
  return stages[stages.length - 1] ?? exited(0)
}
