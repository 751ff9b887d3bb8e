/**
 * The Node.js executor: runs commands as real child processes.
 *
 * Every child starts in a new process group. When its scope closes (or its fiber is interrupted,
 * or `abort` is called) the group gets the command's kill signal (default SIGTERM), then, after
 * the grace period (default 3 s), SIGKILL; the finalizer returns only once the child was reaped,
 * every pipe end in the parent is closed and every feeding fiber is interrupted. Members of the
 * group that outlive the child are signalled the same way.
 *
 * Output is read until EOF. A grandchild that inherited stdout can keep the pipe open after the
 * child exited: once the child exited, reads wait for more bytes at most `drainDelay` (default
 * 1 s) in total, then the pipe is closed and what was read so far is returned (Go's `WaitDelay`).
 * Bytes already available are always read, so the child's own output is complete.
 *
 * @since 0.1.0
 */
import { CommandExecutor } from "@effect-command/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

import { engineUnavailableReason as reasonEngineUnavailable, loadEngine } from "./internal/engine.js"
import { engineOf, executorFor, warnIfEngineUnavailable } from "./internal/options.js"

/**
 * @example
 * ```ts
 * import { NodeCommandExecutor } from "@effect-command/node"
 *
 * const options: NodeCommandExecutor.Options = { drainDelay: "5 seconds", helper: "never" }
 * const layer = NodeCommandExecutor.layerWith(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How long, in total, reads may wait for EOF after the child exited. Default: 1 second. Any
   * length is honoured; `Infinity` waits for EOF without a bound. Negative, NaN or not a duration:
   * every command fails with a `CommandUsageError`.
   */
  readonly drainDelay?: Duration.DurationInput
  /**
   * The child-side setup helper: `"auto"` (default) uses the one the package built (or the path
   * in `EFFECT_COMMAND_HELPER`) when it exists on Linux; `"never"` spawns without it,
   * refusing every setting that needs the helper; a path uses that binary. It is
   * looked for when the layer is built; without it, a command that needs it fails with
   * `SpawnError { reason: "HelperMissing" }` saying why it is missing.
   */
  readonly helper?: "auto" | "never" | (string & {})
  /**
   * How children are spawned: `"auto"` (default) uses the native engine the package built
   * (a vfork-like clone that sets the process group, death signal, fds and working directory itself,
   * so the helper runs only for other settings; real pipes; exits through pidfds: spawn cost
   * independent of the parent's memory, the event loop not blocked by forks) when it loads, else
   * `node:child_process`;
   * `"child_process"` forces the latter. The `EFFECT_COMMAND_SPAWN` environment variable
   * (`native` or `child_process`) overrides `"auto"`.
   */
  readonly engine?: "auto" | "child_process"
  /**
   * Containment of the layer's commands (see `Command.contain`): `true` runs every command under
   * a small supervisor (the helper, staying as the child's parent) wherever the helper runs, so
   * that every process a command starts, at any depth, ends with its run, even when the Node
   * process is SIGKILLed. `false` (default): only the child and its process group are killed and
   * reaped; a command can still ask for containment with `Command.contain(true)`, or opt out of
   * the layer's with `Command.contain(false)`. Daemons are never contained.
   */
  readonly contain?: boolean
}

/**
 * Why the native spawn engine does not load here (not built for this platform, a kernel without
 * pidfds, …), or undefined when it loads. A layer that wanted it (`engine: "auto"`) also says this
 * once, as a warning in the log, when it is built.
 *
 * @example
 * ```ts
 * import { NodeCommandExecutor } from "@effect-command/node"
 *
 * const why = NodeCommandExecutor.engineUnavailableReason()
 * console.log(why === undefined ? "native engine" : `child_process: ${why}`)
 * ```
 *
 * @since 0.1.0
 * @category engines
 */
export const engineUnavailableReason = (): string | undefined =>
  loadEngine() === null ? reasonEngineUnavailable() : undefined

/**
 * Which spawn engine a layer with these options uses: `"native"` or `"child_process"`.
 *
 * @example
 * ```ts
 * import { NodeCommandExecutor } from "@effect-command/node"
 *
 * console.log(NodeCommandExecutor.engineInUse({ engine: "child_process" })) // child_process
 * console.log(NodeCommandExecutor.engineInUse()) // native once the engine is built (or installed prebuilt)
 * ```
 *
 * @since 0.1.0
 * @category engines
 */
export const engineInUse = (options: Options = {}): "native" | "child_process" =>
  engineOf(options) !== null ? "native" : "child_process"

/**
 * A `CommandExecutor` with the given options. Nothing is loaded or looked for until the layer is
 * built: then the native engine is loaded and the helper found. Options that make no sense (a
 * negative or NaN `drainDelay`, an unknown `engine`) make every command of the layer fail with a
 * `CommandUsageError` naming the option, before anything runs.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const layer = NodeCommandExecutor.layerWith({ drainDelay: "100 millis" })
 * const program = Command.string(Command.make("sh", "-c", "sleep 30 & echo started"))
 * Effect.runPromise(Effect.provide(program, layer)).then(console.log) // "started\n" after 0.1 s; the sleep is killed
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<CommandExecutor.CommandExecutor> =>
  Layer.effect(
    CommandExecutor.CommandExecutor,
    Effect.zipRight(
      warnIfEngineUnavailable(options),
      Effect.sync(() => executorFor(options))
    )
  )

/**
 * A `CommandExecutor` with the default options.
 *
 * @example
 * ```ts
 * import { Command } from "@effect-command/core"
 * import { NodeCommandExecutor } from "@effect-command/node"
 * import { Effect } from "effect"
 *
 * const program = Command.lines(Command.make("echo", "hello"))
 * Effect.runPromise(Effect.provide(program, NodeCommandExecutor.layer)).then(console.log) // [ 'hello' ]
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<CommandExecutor.CommandExecutor> = layerWith({})
