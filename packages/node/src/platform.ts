/**
 * The `@effect/platform` interop: `PlatformCommandExecutor`, `@effect/platform`'s
 * `CommandExecutor` backed by this package's engine. It has its own entry point
 * (`@effect-command/node/platform`) so that `@effect/platform` stays an optional peer: only a
 * program that imports this needs it.
 *
 * @example
 * ```ts
 * import { Command } from "@effect/platform"
 * import { PlatformCommandExecutor } from "@effect-command/node/platform"
 * import { Effect } from "effect"
 *
 * const program = Command.exitCode(Command.make("sh", "-c", "exit 3"))
 * Effect.runPromise(Effect.provide(program, PlatformCommandExecutor.layer)).then(console.log) // 3
 * ```
 *
 * @since 0.1.0
 */
export * as PlatformCommandExecutor from "./PlatformCommandExecutor.js"
