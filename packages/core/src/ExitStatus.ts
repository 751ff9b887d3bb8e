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
 * @since 0.1.0
 * @category constructors
 */
export const exited = (code: number): ExitStatus => Exited({ code })

/**
 * A signal killed the child.
 *
 * @since 0.1.0
 * @category constructors
 */
export const signaled = (signal: Signal, coreDumped = false): ExitStatus => Signaled({ signal, coreDumped })

/**
 * @since 0.1.0
 * @category refinements
 */
export const isExited = $is("Exited")

/**
 * @since 0.1.0
 * @category refinements
 */
export const isSignaled = $is("Signaled")

/**
 * Pattern match on a status.
 *
 * @since 0.1.0
 * @category pattern matching
 */
export const match = $match

/**
 * True only for `Exited { code: 0 }`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSuccess = (status: ExitStatus): boolean => status._tag === "Exited" && status.code === 0

/**
 * A short human form: `exit status 3` or `fatal signal SIGKILL (core dumped)`, as libvirt words it.
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
 * @since 0.1.0
 * @category combinators
 */
export const pipefail = (stages: ReadonlyArray<ExitStatus>): ExitStatus => {
  for (let i = stages.length - 1; i >= 0; i--) if (!isSuccess(stages[i]!)) return stages[i]!
  return stages[stages.length - 1] ?? exited(0)
}
