/**
 * One process of a plan (a whole command, or one stage of a pipeline with its joints): checked,
 * prepared, spawned, its kill-and-reap registered in the current scope, and presented as the
 * `SpawnedProcess` core drives.
 */
import type { Readable, Writable } from "node:stream"

import type { CommandExecutor } from "@effect-command/core"
import { CommandError, type ExitStatus, Signal } from "@effect-command/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"

import type { Engine } from "./engine.js"
import { closeAll } from "./fds.js"
import { remainingGroupMembers } from "./group.js"
import { handshakeOf } from "./handshake.js"
import * as Helper from "./helper.js"
import type { StageLinks } from "./joints.js"
import { abortChild, abortTree, killGroupRemnants, leadsGroup, toStatus } from "./lifecycle.js"
import { never, type Once, once } from "./once.js"
import { pipeReader, readAll } from "./pipe-reader.js"
import { writable } from "./pipe-writer.js"
import { preflight } from "./preflight.js"
import { prepare, type Prepared } from "./prepare.js"
import * as Spawn from "./spawn.js"
import { supervise, type Supervision } from "./supervised.js"

export interface Options {
  /** After the child exited, how long a read may wait for EOF (a grandchild may hold the pipe). */
  readonly drainDelay: Duration.Duration
  /** The child-side setup helper, or null to spawn directly (fewer powers, see `needsHelper`). */
  readonly helper: string | null
  /** Why `helper` is null, for the HelperMissing error: "it is not built: …". */
  readonly helperMissing: string
  /** The layer's containment default (commands may say otherwise). */
  readonly contain: boolean
  /** The native spawn engine, or null for child_process. */
  readonly engine: Engine | null
}

/** A spawned stage, and the effect that waits until its target was exec'd (or its setup failed). */
export interface Spawned {
  readonly process: CommandExecutor.SpawnedProcess
  readonly execed: Effect.Effect<void, CommandError.SpawnError | CommandError.DaemonError>
}

/** A child the engine started, with the notifications its handle waits for. */
export interface Started {
  readonly child: Spawn.Child
  readonly prepared: Prepared
  /** How it ended, once reaped. */
  readonly exit: Once<ExitStatus.ExitStatus>
  /** The helper's report: "" once the target was exec'd, else `<stage> <errno>`. */
  readonly helperReport: Once<string>
  /** A contained stage's supervisor (then `child` is the target it forked). */
  readonly supervision: Supervision | undefined
}

/** Why `Process.kill` refuses a value that is no signal name (a JavaScript caller may pass anything). */
export const unknownSignal = (sig: unknown): string =>
  `unknown signal ${typeof sig === "string" ? JSON.stringify(sig) : String(sig)}: give a name such as "SIGTERM"`

/** A started child with its exit notification (and the helper's report, when it has one). */
const startedOf = (
  child: Spawn.Child,
  prepared: Prepared,
  supervision: Supervision | undefined,
  helperReport: Once<string>
): Started => {
  const exit = once<ExitStatus.ExitStatus>()
  child.onExit((info) => exit.done(toStatus(info)))
  return { child, prepared, exit, helperReport, supervision }
}

/**
 * Hands the prepared spec to the engine and calls back once, with the started child or the spawn's
 * failure; the parent's copies of the child's ends are closed at once.
 */
export const startChildNow = (
  engine: Engine | null,
  prepared: Prepared,
  execFailure: (error: NodeJS.ErrnoException) => CommandError.SpawnError,
  done: (result: Started | CommandError.SpawnError) => void
): void =>
  Spawn.spawn(engine, prepared.spec, (result) => {
    closeAll(prepared.closeAfterSpawn)
    prepared.joinedChildEnd?.destroy()
    if (result instanceof Error) {
      prepared.joined?.destroy()
      return done(execFailure(result))
    }
    const fds = prepared.helperFds
    // Without the helper there is no report, and nothing waits for one.
    const helperReport: Once<string> = fds === undefined ? never() : once<string>()
    const report = helperReport.done
    const ready = (child: Spawn.Child, supervision: Supervision | undefined) =>
      done(startedOf(child, prepared, supervision, helperReport))
    const pipe = (fd: number | undefined) => (fd === undefined ? undefined : result.pipes.get(fd))
    if (fds?.control !== undefined) {
      // Contained: started once the supervisor said which pid the target has.
      return supervise(result, pipe(fds.status) as Readable, pipe(fds.control) as Writable, { ready, report })
    }
    if (fds !== undefined) readAll(pipe(fds.status) as Readable, report)
    ready(result, undefined)
  })

/** `startChildNow` as an effect. */
export const startChild = (
  engine: Engine | null,
  prepared: Prepared,
  execFailure: (error: NodeJS.ErrnoException) => CommandError.SpawnError
) =>
  Effect.async<Started, CommandError.SpawnError>((resume) =>
    startChildNow(
      engine,
      prepared,
      execFailure,
      (result) => resume(result instanceof CommandError.SpawnError ? Effect.fail(result) : Effect.succeed(result))
    )
  )

/**
 * Destroys the parent's ends of the child's pipes. A detached contained child keeps its
 * supervisor's pipes: the end of the control pipe would make the supervisor end the tree, and the
 * status pipe brings the target's exit.
 */
export const closePipes = ({ child, prepared, supervision }: Started, detached = false) => {
  const keep = detached && supervision !== undefined ? [prepared.helperFds?.control, prepared.helperFds?.status] : []
  for (const [fd, pipe] of child.pipes) if (!keep.includes(fd)) pipe.destroy()
  for (const end of [...(child.outputs?.values() ?? []), ...(child.inputs?.values() ?? [])]) end.close()
  prepared.joined?.destroy()
}

/** A setup failure the helper reported: reap the helper, release its pipes, fail with the stage. */
const setupFailed = (stage: CommandExecutor.SpawnStage, started: Started, report: string) =>
  Effect.zipRight(
    Effect.zipRight(started.exit.wait, Effect.sync(() => closePipes(started))),
    Effect.fail(Helper.setupError(report, stage, stage.line))
  )

/** What the handshake effects do: the helper's pipes, or a usage error for a command without one. */
const handshakeFor = (stage: CommandExecutor.SpawnStage, { child, helperReport, prepared }: Started) => {
  const fds = prepared.helperFds
  if (stage.setup.handshake && fds?.handshakeReady !== undefined && fds.handshakeWait !== undefined) {
    return handshakeOf(
      child.pipes.get(fds.handshakeReady) as Readable,
      child.pipes.get(fds.handshakeWait) as Writable,
      helperReport.wait,
      (report) => Helper.setupError(report, stage, stage.line),
      stage.line
    )
  }
  const noHandshake = Effect.failSync(() =>
    new CommandError.CommandUsageError({ reasons: ["the command does not require a handshake"], command: stage.line })
  )
  return { wait: noHandshake, notify: noHandshake }
}

/** The handle core drives: streams and sinks on the pipes, signals, kill-and-reap, detach, handshake. */
const handleOf = (
  options: Options,
  stage: CommandExecutor.SpawnStage,
  started: Started,
  newGroup: boolean,
  detach: () => void
): CommandExecutor.SpawnedProcess => {
  const { child, exit, prepared } = started
  const { line } = stage
  const stdoutPipe = prepared.joined ?? (child.pipes.get(1) as Readable | undefined)
  const stdinPipe = child.pipes.get(0) as Writable | undefined
  const stderrPipe = prepared.joined !== undefined ? undefined : (child.pipes.get(2) as Readable | undefined)
  const readers = {
    stdout: stdoutPipe !== undefined ? pipeReader(stdoutPipe, "stdout", line, child, options.drainDelay) : undefined,
    stderr: stderrPipe !== undefined ? pipeReader(stderrPipe, "stderr", line, child, options.drainDelay) : undefined
  }
  const { wait } = exit
  const abort = abortOf(stage, started, newGroup)
  const handshake = handshakeFor(stage, started)
  return {
    pid: child.pid,
    stdin: stdinPipe !== undefined
      ? writable(stdinPipe, "stdin", line)
      : Sink.failSync(() =>
        new CommandError.IoError({ stream: "stdin", command: line, cause: new Error("stdin is not a pipe") })
      ),
    stdout: readers.stdout?.stream ?? Stream.empty,
    stderr: readers.stderr?.stream ?? Stream.empty,
    upstreamStderr: [],
    collect: (output, onBytes) => readers[output]?.collect(onBytes) ?? Effect.succeed(Effect.void),
    wait,
    waitStages: Effect.map(wait, (status) => [status]),
    kill: (sig = "SIGTERM") =>
      Signal.isSignal(sig)
        ? Effect.sync(() => void child.kill(sig, newGroup))
        : Effect.fail(new CommandError.CommandUsageError({ reasons: [unknownSignal(sig)], command: line })),
    abort,
    detach: Effect.sync(() => {
      detach()
      child.unref()
      return { pid: child.pid, wait, abort }
    }),
    handshakeWait: handshake.wait,
    handshakeNotify: handshake.notify,
    ...(started.supervision !== undefined ? { usage: Effect.sync(started.supervision.usage) } : {})
  }
}

/** Kill-and-reap: of the whole tree when the stage is contained, else of the child (and its group's remnants at scope close). */
export const abortOf = (stage: CommandExecutor.SpawnStage, { child, exit, supervision }: Started, newGroup: boolean) =>
  supervision !== undefined
    ? abortTree(supervision, exit, stage.killPolicy)
    : abortChild(child, exit, stage.killPolicy, newGroup)

/** Whether the end of a stage waits for its group's remnants: a daemon left its group on purpose, it outlives the scope. */
const endsGroup = (stage: CommandExecutor.SpawnStage, started: Started) =>
  leadsGroup(stage) && !stage.setup.daemonize && started.supervision === undefined

/**
 * The end of a stage, done at once when nothing is left to wait for: its child reaped (not
 * contained), nothing left of its group; then its pipes are closed and it returns true.
 */
export const endedAtOnce = (options: Options, stage: CommandExecutor.SpawnStage, started: Started): boolean => {
  if (!started.child.exited() || started.supervision !== undefined) return false
  if (endsGroup(stage, started) && remainingGroupMembers(started.child.pid, options.engine) > 0) return false
  closePipes(started)
  return true
}

/**
 * The end of a stage that was not detached: kill-and-reap (at once when it exited already), then
 * of what is left of its group, then its pipes closed.
 */
export const endStage = (options: Options, stage: CommandExecutor.SpawnStage, started: Started) =>
  Effect.gen(function*() {
    yield* abortOf(stage, started, leadsGroup(stage))
    if (endsGroup(stage, started)) yield* killGroupRemnants(started.child.pid, stage.killPolicy, options.engine)
    closePipes(started)
  })

/** The bytes of the stage's input fds, each written to its pipe and closed. */
export const writeInputFds = (stage: CommandExecutor.SpawnStage, started: Started) => {
  for (const { bytes, fd } of stage.inputFds) {
    const pipe = started.child.pipes.get(fd) as Writable
    pipe.on("error", () => {}) // the child may close it early: not an error
    pipe.end(bytes)
  }
}

/**
 * Spawns one stage and registers its kill-and-reap finalizer in the current scope. With
 * `deferExec` it returns before the helper's report; pipeline stages need that, since each blocks
 * until its neighbour opens the FIFO they share.
 */
export const spawnStage = (
  options: Options,
  stage: CommandExecutor.SpawnStage,
  links: StageLinks,
  deferExec: boolean
): Effect.Effect<Spawned, CommandError.CommandError, Scope.Scope> =>
  Effect.gen(function*() {
    const { engine } = options
    const { contained, execFailure, helper, path } = yield* preflight(stage, engine, options)
    const spawned = Effect.flatMap(
      prepare(stage, path, helper, contained, engine, links),
      (prepared) => startChild(engine, prepared, execFailure)
    )
    // Without a handshake, `start` returns once the target runs (or its setup failed).
    const acquire = Effect.flatMap(spawned, (started) =>
      started.prepared.helperFds === undefined || stage.setup.handshake || deferExec
        ? Effect.succeed(started)
        : Effect.flatMap(
          started.helperReport.wait,
          (report) =>
            report === "" ? Effect.succeed(started) : setupFailed(stage, started, report)
        ))
    const newGroup = leadsGroup(stage)
    let detached = false
    const started = yield* Effect.acquireRelease(
      acquire,
      (started) =>
        detached ? Effect.sync(() => closePipes(started, true)) : endStage(options, stage, started)
    )
    writeInputFds(stage, started)
    const execed = started.prepared.helperFds === undefined
      ? Effect.void
      : Effect.flatMap(started.helperReport.wait, (report) =>
        report === "" ? Effect.void : Effect.fail(Helper.setupError(report, stage, stage.line)))
    return {
      process: handleOf(options, stage, started, newGroup, () =>
        void (detached = true)),
      execed
    }
  })
