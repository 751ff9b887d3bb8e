/**
 * The `@effect/platform` interop, on its own entry point (`@effect-command/node/platform`) so
 * that `@effect/platform` stays an optional peer: only a program that imports this needs it.
 *
 * @since 0.1.0
 */

/**
 * `@effect/platform`'s `CommandExecutor` backed by this package's engine.
 *
 * @since 0.1.0
 */
export * as PlatformCommandExecutor from "./PlatformCommandExecutor.js"
