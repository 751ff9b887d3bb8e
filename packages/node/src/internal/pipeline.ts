/**
 * A pipeline: every stage spawned at once, joined by kernel pipes (joints.ts); the bytes never
 * pass through Node. The stages live in one sub-scope that kills them in parallel; a stage that
 * cannot start closes it at once. The pipeline is presented as one `SpawnedProcess`.
 */
import type { CommandExecutor } from "@effect-command/core"
import { CommandError, ExitStatus } from "@effect-command/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Scope from "effect/Scope"

import { makeJoints } from "./joints.js"
import { type Options, type Spawned, spawnStage } from "./stage.js"

/** The stages' usage together: CPU times added, the largest peak RSS; unknown when one stage's is. */
const sumUsage = (
  usages: ReadonlyArray<CommandExecutor.ResourceUsage | undefined>
): CommandExecutor.ResourceUsage | undefined =>
  usages.every((u) => u !== undefined)
    ? usages.reduce((a, b) => ({
      userTime: Duration.sum(a.userTime, b.userTime),
      systemTime: Duration.sum(a.systemTime, b.systemTime),
      maxRss: Math.max(a.maxRss, b.maxRss)
    }))
    : undefined

/** The stages' processes as one: stdin the first's, outputs the last's (and every stage's stderr), statuses `pipefail`'s. */
const pipelineHandle = (
  started: ReadonlyArray<CommandExecutor.SpawnedProcess>,
  line: string
): CommandExecutor.SpawnedProcess => {
  const first = started[0]!
  const last = started[started.length - 1]!
  const waitStages = Effect.all(started.map((p) => p.wait), { concurrency: "unbounded" })
  const wait = Effect.map(waitStages, ExitStatus.pipefail)
  const abort = Effect.map(Effect.all(started.map((p) => p.abort), { concurrency: "unbounded" }), ExitStatus.pipefail)
  const noHandshake = Effect.failSync(() =>
    new CommandError.CommandUsageError({ reasons: ["a pipeline has no start-up handshake"], command: line })
  )
  return {
    pid: first.pid,
    stdin: first.stdin,
    stdout: last.stdout,
    stderr: last.stderr,
    upstreamStderr: started.slice(0, -1).map((p) => p.stderr),
    ...(last.collect !== undefined ? { collect: last.collect } : {}),
    wait,
    waitStages,
    kill: (sig) => Effect.all(started.map((p) => p.kill(sig)), { discard: true }),
    abort,
    detach: Effect.map(Effect.all(started.map((p) => p.detach)), () => ({ pid: first.pid, wait, abort })),
    handshakeWait: noHandshake,
    handshakeNotify: noHandshake,
    usage: Effect.map(Effect.all(started.map((p) => p.usage ?? Effect.succeed(undefined))), sumUsage)
  }
}

export const spawnPipeline = (options: Options, plan: CommandExecutor.SpawnPlan) =>
  Effect.gen(function*() {
    const { line, stages } = plan
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.parallel)
    const { started, removeFifos } = yield* Effect.gen(function*() {
      const joints = yield* makeJoints(options.engine, options.helper, stages.length - 1, line)
      const spawned: Array<Spawned> = []
      for (const [i, stage] of stages.entries()) {
        spawned.push(yield* spawnStage(options, stage, joints.linksOf(stage, i), true))
      }
      // The children hold the ends now; the parent's copies would keep EOF from coming.
      joints.close()
      // Every stage runs, or the first failure stops them all.
      yield* Effect.all(spawned.map((s) => s.execed), { concurrency: "unbounded", discard: true })
      return { started: spawned.map((s) => s.process), removeFifos: joints.removeFifos }
    }).pipe(
      Scope.extend(scope),
      Effect.onExit((exit) => (exit._tag === "Failure" ? Scope.close(scope, exit) : Effect.void))
    )
    removeFifos()
    return pipelineHandle(started, line)
  })
