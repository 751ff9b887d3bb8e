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

/**
 * Runs commands on another host over OpenSSH, with remote kill-and-reap: `SshCommandExecutor.layer`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { SshCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * // build-1's host name; run it with Effect.runPromise
 * const program = Effect.provide(Command.string(Command.make("hostname")), SshCommandExecutor.layer({ host: "build-1" }))
 * ```
 *
 * @since 0.3.0
 */
export * as SshCommandExecutor from "./SshCommandExecutor.js"
