/**
 * The Node.js executor for `@effect-command/core`: `NodeCommandExecutor.layer` runs commands as
 * real child processes, with kill-and-reap when their scope closes.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const program = Command.string(Command.make("echo", "hello, world"))
 * Effect.runPromise(Effect.provide(program, NodeCommandExecutor.layer)).then(console.log) // "hello, world\n"
 * ```
 *
 * @since 0.1.0
 */
export * as NodeCommandExecutor from "./NodeCommandExecutor.js"
