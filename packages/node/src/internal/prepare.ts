/**
 * What a stage needs from the parent before it is spawned: the files of its stdio opened, the
 * socket pair of a `2>&1` into a pipe, its passed fds checked, its environment resolved; then its
 * spec (spawn-spec.ts). Whatever was opened is closed again if a step fails.
 */
import type * as Net from "node:net"
import { isMainThread } from "node:worker_threads"

import type { CommandExecutor } from "@effect-command/core"
import { Command, type CommandError } from "@effect-command/core"
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

export const prepare = (
  stage: CommandExecutor.SpawnStage,
  path: string,
  helper: string | null,
  contained: boolean,
  engine: Engine | null,
  links: StageLinks
): Effect.Effect<Prepared, CommandError.SpawnError> =>
  Effect.gen(function*() {
    const { line, stdin, stdout, stderr } = stage
    const opened: Array<number> = []
    const closeParent = stage.passFds.filter((p) => p.closeParent).map((p) => p.fd)
    const release = Effect.sync(() => closeAll([...opened, ...closeParent]))
    return yield* Effect.gen(function*() {
      const files = [
        stdin._tag === "File" ? yield* openFile(stdin.path, "r", "stdin", line, opened) : undefined,
        stdout._tag === "File"
          ? yield* openFile(stdout.path, stdout.append ? "a" : "w", "stdout", line, opened)
          : undefined,
        stderr._tag === "File"
          ? yield* openFile(stderr.path, stderr.append ? "a" : "w", "stderr", line, opened)
          : undefined
      ]
      // Without the helper to dup2 fd 1 onto fd 2, a `2>&1` into a pipe is one socket pair for both.
      const [joined, joinedChildEnd] = helper === null && stderr._tag === "ToStdout" && stdout._tag === "Pipe"
        ? yield* socketPair(line)
        : [undefined, undefined]
      for (const { fd } of stage.passFds) yield* checkPassedFd(fd, line)
      const env = environmentOf(stage, engine)
      const { helperFds, spec } = spawnSpec(stage, {
        path,
        helper,
        native: engine !== null,
        links,
        files,
        joined: joinedChildEnd,
        env,
        contained
      })
      return {
        spec,
        closeAfterSpawn: [...opened, ...closeParent],
        joined,
        joinedChildEnd,
        helperFds
      } satisfies Prepared
    }).pipe(Effect.tapError(() => release))
  })
