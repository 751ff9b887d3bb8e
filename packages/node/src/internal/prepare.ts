/**
 * What a stage needs from the parent before it is spawned: the files of its stdio opened, the
 * socket pair of a `2>&1` into a pipe, its passed fds checked, its environment resolved; then its
 * spec (spawn-spec.ts). Whatever was opened is closed again if a step fails.
 */
import type * as Net from "node:net"
import { isMainThread } from "node:worker_threads"

import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError } from "@effect-command/core"
import * as Effect from "effect/Effect"

import type { Engine } from "./engine.js"
import { checkPassedFd, closeAll, openFile } from "./fds.js"
import type * as Helper from "./helper.js"
import type { StageLinks } from "./joints.js"
import { socketPair } from "./socketpair.js"
import { spawnSpec } from "./spawn-spec.js"
import type { SpawnSpec } from "./spawn.js"

export interface Prepared {
  readonly spec: SpawnSpec
  /** Fds the parent opened for the child (files) or must close after the spawn (closeParent). */
  readonly closeAfterSpawn: ReadonlyArray<number>
  /** Our end of the stdout+stderr socket pair, for `stderr: "stdout"` with a piped stdout. */
  readonly joined: Net.Socket | undefined
  /** The child's end, closed in the parent after the spawn. */
  readonly joinedChildEnd: Net.Socket | undefined
  /** The helper's status and handshake fds in the child, when the helper is used. */
  readonly helperFds: Helper.HelperFds | undefined
}

/**
 * The parent's environment now (env policies are applied at run time). Reading `process.env` whole
 * costs a getenv per variable; on the main thread the engine reads the same environment at once.
 */
const parentEnvironment = (engine: Engine | null): Readonly<Record<string, string | undefined>> => {
  if (engine === null || !isMainThread) return process.env
  const env: Record<string, string> = Object.create(null)
  for (const entry of engine.environ()) {
    const at = entry.indexOf("=")
    const name = entry.slice(0, at)
    // getenv takes a name's first entry.
    if (at > 0 && env[name] === undefined) env[name] = entry.slice(at + 1)
  }
  return env
}

/** The child's environment: undefined when it is the parent's, unchanged (the engine copies it at once). */
const environmentOf = (stage: CommandExecutor.SpawnStage, engine: Engine | null) => {
  if (stage.env === undefined) return undefined
  const env: Record<string, string> = Object.create(null)
  for (const [name, value] of Object.entries(Command.resolveEnv(stage.command, parentEnvironment(engine)))) {
    env[name] = Command.wordValue(value)
  }
  return env
}

/**
 * Whether a `2>&1` into a pipe needs a socket pair: child_process cannot give one pipe to two fds
 * (the helper dup2s fd 1 onto fd 2, the native engine gives fd 2 the pipe of fd 1).
 */
const needsSocketPair = (stage: CommandExecutor.SpawnStage, helper: string | null, engine: Engine | null) =>
  helper === null && engine === null && stage.stderr._tag === "ToStdout" && stage.stdout._tag === "Pipe"

/**
 * The files opened, the passed fds checked, the environment resolved, the spec; `pair` is the
 * socket pair a `2>&1` into a pipe needs on child_process. Synchronous: on a failure whatever was
 * opened (and the fds the parent gives up) is closed, and the SpawnError returned.
 */
export const prepareNow = (
  stage: CommandExecutor.SpawnStage,
  path: string,
  helper: string | null,
  contained: boolean,
  engine: Engine | null,
  links: StageLinks,
  pair: readonly [Net.Socket, Net.Socket] | undefined = undefined
): Prepared | CommandError.SpawnError => {
  const { line, stdin, stdout, stderr } = stage
  const opened: Array<number> = []
  const closeParent = stage.passFds.filter((p) => p.closeParent).map((p) => p.fd)
  try {
    const files = [
      stdin._tag === "File" ? openFile(stdin.path, "r", "stdin", line, opened) : undefined,
      stdout._tag === "File" ? openFile(stdout.path, stdout.append ? "a" : "w", "stdout", line, opened) : undefined,
      stderr._tag === "File" ? openFile(stderr.path, stderr.append ? "a" : "w", "stderr", line, opened) : undefined
    ]
    for (const { fd } of stage.passFds) checkPassedFd(fd, line)
    const env = environmentOf(stage, engine)
    const { helperFds, spec } = spawnSpec(stage, {
      path,
      helper,
      native: engine !== null,
      links,
      files,
      joined: pair?.[1],
      env,
      contained
    })
    return {
      spec,
      closeAfterSpawn: [...opened, ...closeParent],
      joined: pair?.[0],
      joinedChildEnd: pair?.[1],
      helperFds
    }
  } catch (error) {
    closeAll([...opened, ...closeParent])
    pair?.[0].destroy()
    pair?.[1].destroy()
    if (error instanceof CommandError.SpawnError) return error
    throw error
  }
}

/** {@link prepareNow} as an effect, with the socket pair it may need made first. */
export const prepare = (
  stage: CommandExecutor.SpawnStage,
  path: string,
  helper: string | null,
  contained: boolean,
  engine: Engine | null,
  links: StageLinks
): Effect.Effect<Prepared, CommandError.SpawnError> => {
  const prepared = (pair?: readonly [Net.Socket, Net.Socket]) => {
    const result = prepareNow(stage, path, helper, contained, engine, links, pair)
    return result instanceof CommandError.SpawnError ? Effect.fail(result) : Effect.succeed(result)
  }
  if (!needsSocketPair(stage, helper, engine)) return Effect.suspend(() => prepared())
  return socketPair(stage.line).pipe(
    Effect.tapError(() => Effect.sync(() => closeAll(stage.passFds.filter((p) => p.closeParent).map((p) => p.fd)))),
    Effect.flatMap(prepared)
  )
}
