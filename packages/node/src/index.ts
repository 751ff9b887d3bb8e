/**
 * @since 0.1.0
 */

/**
 * The Node.js executor layer.
 *
 * @since 0.1.0
 */
export * as NodeCommandExecutor from "./NodeCommandExecutor.js"

/**
 * `@effect/platform`'s `CommandExecutor` backed by this package's engine.
 *
 * @since 0.1.0
 */
export * as PlatformCommandExecutor from "./PlatformCommandExecutor.js"
