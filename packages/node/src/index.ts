/**
 * @since 0.1.0
 */

/**
 * The Node.js executor layer.
 *
 * @since 0.1.0
 */
export * as NodeCommandExecutor from "./NodeCommandExecutor.js"
