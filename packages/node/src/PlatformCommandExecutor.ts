/**
 * `@effect/platform`'s `CommandExecutor` backed by this package's engine: existing
 * `@effect/platform` `Command` values (`Command.string`, `exitCode`, `lines`, `stream`,
 * `streamLines`, `start`) gain kill-and-reap with SIGKILL escalation and drained helpers, without
 * code changes — provide this layer instead of `NodeContext.layer`'s executor.
 *
 * ```ts
 * import { Command } from "@effect/platform"
 * import { PlatformCommandExecutor } from "@effect-command/node/platform"
 * import { Effect } from "effect"
 *
 * const program = Command.string(Command.make("git", "status", "--short"))
 * Effect.runPromise(Effect.provide(program, PlatformCommandExecutor.layer))
 * ```
 *
 * What changes against the stock executor (`@effect/platform-node` 0.108):
 *
 * - **Kill and reap.** Every command runs in its own process group. Closing the scope of a running
 *   process (or interrupting a helper) sends `killSignal` (default SIGTERM) to the group, waits up
 *   to `killGrace` (default 3 s), then SIGKILLs the group and returns once the child was reaped.
 *   Members of the group that outlive the child are signalled the same way, also after an exit
 *   with code 0 (the stock executor leaves them running). The stock executor sends SIGTERM and
 *   waits for the exit without a bound. Platform commands have no field for the grace: set it for
 *   every command with the layer option `killGrace` (and `killSignal`).
 * - **`Process.kill(signal)`** sends the signal to the group, waits up to `killGrace` for the exit,
 *   then SIGKILLs; it returns once the child was reaped. Killing an exited process is a no-op.
 * - **Drained helpers.** `exitCode` reads and discards stdout and stderr; `string`, `lines`,
 *   `stream` and `streamLines` read and discard stderr: a chatty child can no longer block on a
 *   full pipe (the stock `exitCode` hangs once a child writes more than the pipe plus Node's
 *   buffer hold, a few hundred KiB at most). Output reads wait
 *   for EOF at most `drainDelay` (default 1 s) after the child exited, so
 *   `sh -c 'sleep 30 & echo hi'` gives `"hi\n"` after about a second, and the `sleep` is killed.
 *   A helper owns the child's stdin: a stdin left as `"pipe"` (the platform default) is closed at
 *   once (EOF) instead of staying open forever, so `Command.string(Command.make("cat"))` returns
 *   `""` where the stock executor hangs.
 * - **Input streams** (`Command.stdin(stream)`, `Command.feed`) are fed by a fiber of the
 *   process's scope, not a daemon fiber. A failing input stream aborts the child.
 * - **Errors.** A spawn failure is a `SystemError` with module `"Command"`, method `"spawn"`,
 *   `pathOrDescriptor` the stock executor's `"cmd a b | cmd2 c"`, reason from the errno like the
 *   stock one (`NotFound`, `PermissionDenied`, `BadResource`, …), `description` our error's
 *   message, `syscall` the failing step (`"execve"`, `"chdir"`) and `cause` our `SpawnError`. A
 *   missing working directory is `NotFound` with method `"spawn"` (stock: module `"FileSystem"`,
 *   method `"access"`). A command we cannot run as built (a NUL byte in an argument, an `=` in an
 *   environment name) is a `BadArgument` listing the reasons (stock: a defect). `exitCode` of a
 *   child killed by a signal fails like the stock one: `SystemError` reason `"Unknown"`, method
 *   `"exitCode"`, description `"Process interrupted due to receipt of signal: SIGKILL"`.
 *
 * Translation of a `StandardCommand`: `command` and `args` as argv (a bare name is searched in the
 * parent's `PATH`); `runInShell(true)` runs `/bin/sh -c "<command> <args joined by spaces>"`
 * exactly as Node's `shell` option does (a string names the shell); `env` with `extendEnv: true`
 * (the platform default) is the parent's environment with the overrides on top, with
 * `extendEnv: false` only the given variables; `workingDirectory`; stdin `"pipe"`, `"inherit"` or
 * a stream; stdout and stderr `"pipe"`, `"inherit"` or a `Sink`, which transduces the process's
 * stream as in the stock executor (for stderr too, where the stock executor ignores it). The
 * `uid`/`gid` fields, which no platform combinator sets and the stock executor ignores, are
 * ignored too: use `@effect-command/core`'s `Command.uid`.
 *
 * Pipelines (`Command.pipeTo`) are flattened and every stage is started at once in the caller's
 * scope, each stage's stdout streamed through this process into the next stage's stdin. The
 * returned process is the last stage's (pid, exit code: no pipefail, stdout, stderr), except
 * `stdin`, which writes to the first stage (the stock executor's writes to the last stage, which
 * is already fed by the pipeline). `kill` kills every stage. Earlier stages' stderr goes to
 * /dev/null unless set to `"inherit"` (the stock executor leaves it piped and unread).
 *
 * `@effect/platform` is an optional peer dependency: this module only loads it when one of its
 * layers is built.
 *
 * @since 0.1.0
 */
import type { CommandExecutor, Signal } from "@effect-command/core"
import type * as PlatformExecutor from "@effect/platform/CommandExecutor"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

import type * as NodeCommandExecutor from "./NodeCommandExecutor.js"

/**
 * How processes of platform commands are stopped.
 *
 * @example
 * ```ts
 * import { PlatformCommandExecutor } from "@effect-command/node/platform"
 *
 * const kill: PlatformCommandExecutor.KillOptions = { killSignal: "SIGINT", killGrace: "10 seconds" }
 * const layer = PlatformCommandExecutor.layerWith(kill)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface KillOptions {
  /**
   * How long a process has to exit after `killSignal` (on scope close, interruption and
   * `Process.kill`) before its process group gets SIGKILL. Default: 3 seconds.
   */
  readonly killGrace?: Duration.DurationInput
  /**
   * The first signal sent when a scope closes or a helper is interrupted. Default: SIGTERM. An
   * unknown signal, like a `killGrace` that is not a duration, makes every command fail with
   * `BadArgument` before anything runs.
   */
  readonly killSignal?: Signal.Signal
}

/**
 * The kill options plus every option of the Node executor (`drainDelay`, `helper`, `engine`), which
 * `layerWith` passes on to the Node executor it builds.
 *
 * @example
 * ```ts
 * import { PlatformCommandExecutor } from "@effect-command/node/platform"
 *
 * const options: PlatformCommandExecutor.Options = { killGrace: "10 seconds", drainDelay: "2 seconds", engine: "child_process" }
 * const layer = PlatformCommandExecutor.layerWith(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends KillOptions, NodeCommandExecutor.Options {}

const internal = Effect.orDieWith(
  Effect.tryPromise(() => import("./internal/platform.js")),
  (cause) =>
    new Error("@effect-command/node's PlatformCommandExecutor needs @effect/platform (^0.97.2) installed", { cause })
)

/**
 * `@effect/platform`'s `CommandExecutor` on a Node executor built with these options.
 *
 * @example
 * ```ts
 * import { Command } from "@effect/platform"
 * import { PlatformCommandExecutor } from "@effect-command/node/platform"
 * import { Effect } from "effect"
 *
 * const layer = PlatformCommandExecutor.layerWith({ killGrace: "1 second" })
 * const program = Command.string(Command.make("echo", "hi"))
 * Effect.runPromise(Effect.provide(program, layer)).then(console.log) // "hi\n"
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<PlatformExecutor.CommandExecutor> =>
  Layer.unwrapEffect(Effect.map(internal, (platform) => platform.layerWith(options)))

/**
 * `@effect/platform`'s `CommandExecutor` on a Node executor with the default options: SIGTERM,
 * 3 seconds of grace, then SIGKILL; 1 second of drain delay.
 *
 * @example
 * ```ts
 * import { Command } from "@effect/platform"
 * import { PlatformCommandExecutor } from "@effect-command/node/platform"
 * import { Effect } from "effect"
 *
 * const program = Command.lines(Command.make("printf", "a\\nb\\n"))
 * Effect.runPromise(Effect.provide(program, PlatformCommandExecutor.layer)).then(console.log) // [ 'a', 'b' ]
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<PlatformExecutor.CommandExecutor> = layerWith({})

/**
 * `@effect/platform`'s `CommandExecutor` on the `@effect-command/core` executor in the context:
 * yours, a configured Node one, or `DryRunExecutor` to dry-run platform commands.
 *
 * @example
 * ```ts
 * import { Command } from "@effect/platform"
 * import { DryRunExecutor } from "@effect-command/core"
 * import { PlatformCommandExecutor } from "@effect-command/node/platform"
 * import { Effect, Layer } from "effect"
 *
 * const dryRun = DryRunExecutor.layer(() => ({ stdout: "main\n" }))
 * const layer = PlatformCommandExecutor.layerFromExecutor().pipe(Layer.provide(dryRun))
 * const program = Command.string(Command.make("git", "branch", "--show-current"))
 * Effect.runPromise(Effect.provide(program, layer)).then(console.log) // "main\n"
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromExecutor = (
  options: KillOptions = {}
): Layer.Layer<PlatformExecutor.CommandExecutor, never, CommandExecutor.CommandExecutor> =>
  Layer.unwrapEffect(Effect.map(internal, (platform) => platform.layerFromExecutor(options)))
