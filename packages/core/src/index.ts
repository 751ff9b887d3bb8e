/**
 * The portable core of effect-command: `Command` (immutable command values, their combinators,
 * rendering and the run helpers), `CommandError`, the `CommandExecutor` service, `DryRunExecutor`,
 * `ExitStatus` and `Signal`. Running real processes needs an executor layer, such as
 * `@effect-command/node`'s `NodeCommandExecutor.layer`.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 *
 * const ls = Command.make("ls", "-l").pipe(Command.workingDirectory("/tmp"))
 * ```
 *
 * @since 0.1.0
 */
export * as Command from "./Command.js"

/**
 * Tagged errors.
 *
 * @example
 * ```ts
 * import { Command, CommandError } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.catchIf(
 *   Command.string(Command.make("git", "status")),
 *   (error) => error instanceof CommandError.SpawnError,
 *   () => Effect.succeed("git is not installed")
 * )
 * ```
 *
 * @since 0.1.0
 */
export * as CommandError from "./CommandError.js"

/**
 * The executor service and the running-process handle.
 *
 * @example
 * ```ts
 * import { Command, CommandExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const executor = yield* CommandExecutor.CommandExecutor
 *   return yield* Effect.scoped(Effect.flatMap(executor.start(Command.make("true")), (child) => child.wait))
 * })
 * ```
 *
 * @since 0.1.0
 */
export * as CommandExecutor from "./CommandExecutor.js"

/**
 * The recording, scripted executor (virCommandSetDryRun).
 *
 * @example
 * ```ts
 * import { Command, DryRunExecutor } from "@effect-command/core"
 * import { Effect } from "effect"
 *
 * const program = Command.string(Command.make("hostname"))
 * Effect.runPromise(Effect.provide(program, DryRunExecutor.layer(() => ({ stdout: "test-host\n" })))).then(console.log) // "test-host\n"
 * ```
 *
 * @since 0.1.0
 */
export * as DryRunExecutor from "./DryRunExecutor.js"

/**
 * How a child ended.
 *
 * @example
 * ```ts
 * import { ExitStatus } from "@effect-command/core"
 *
 * console.log(ExitStatus.format(ExitStatus.exited(1))) // exit status 1
 * ```
 *
 * @since 0.1.0
 */
export * as ExitStatus from "./ExitStatus.js"

/**
 * Signal names.
 *
 * @example
 * ```ts
 * import { Signal } from "@effect-command/core"
 *
 * console.log(Signal.fromNumber(15)) // SIGTERM
 * ```
 *
 * @since 0.1.0
 */
export * as Signal from "./Signal.js"
