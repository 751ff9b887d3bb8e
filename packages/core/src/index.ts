/**
 * @since 0.1.0
 */

/**
 * Immutable command values, their combinators, rendering and the run helpers.
 *
 * @since 0.1.0
 */
export * as Command from "./Command.js"

/**
 * Tagged errors.
 *
 * @since 0.1.0
 */
export * as CommandError from "./CommandError.js"

/**
 * The executor service and the running-process handle.
 *
 * @since 0.1.0
 */
export * as CommandExecutor from "./CommandExecutor.js"

/**
 * The recording, scripted executor (virCommandSetDryRun).
 *
 * @since 0.1.0
 */
export * as DryRunExecutor from "./DryRunExecutor.js"

/**
 * How a child ended.
 *
 * @since 0.1.0
 */
export * as ExitStatus from "./ExitStatus.js"

/**
 * Signal names.
 *
 * @since 0.1.0
 */
export * as Signal from "./Signal.js"
