/**
 * Kill-and-reap (virCommandAbort): a child is signalled with its kill policy's signal, given its
 * grace, SIGKILLed, and always reaped; what is left of its process group after it goes the same way.
 */
import type { CommandExecutor } from "@effect-command/core"
import { ExitStatus, type Signal } from "@effect-command/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

import type { Engine } from "./engine.js"
import { remainingGroupMembers, signalGroup } from "./group.js"
import type { Once } from "./once.js"
import * as RealTime from "./realtime.js"
import type { Child, ExitInfo } from "./spawn.js"
import type { Supervision } from "./supervised.js"

/** How the engine's exit report reads as an ExitStatus. */
export const toStatus = (info: ExitInfo): ExitStatus.ExitStatus =>
  info.code !== null
    ? ExitStatus.exited(info.code)
    : ExitStatus.signaled((info.signal ?? "SIGKILL") as Signal.Signal, info.coreDumped)

/** Whether the child leads its own process group: a setsid action makes it lead one (and a session) whatever `processGroup` says. */
export const leadsGroup = (stage: CommandExecutor.SpawnStage): boolean =>
  stage.setup.processGroup === "new" || stage.setup.preExec.some((a) => a._tag === "Setsid")

/** The policy's signal, its grace, SIGKILL; returns how the child ended, once it was reaped. */
export const abortChild = (
  child: Child,
  exit: Once<ExitStatus.ExitStatus>,
  policy: CommandExecutor.SpawnStage["killPolicy"],
  newGroup: boolean
): Effect.Effect<ExitStatus.ExitStatus> =>
  Effect.uninterruptible(Effect.gen(function*() {
    if (!child.exited()) {
      child.kill(policy.signal, newGroup)
      // Interruptible inside the uninterruptible abort, or the timeout could not cut it short.
      const inTime = yield* RealTime.timeoutOption(Effect.interruptible(exit.wait), policy.grace)
      if (Option.isNone(inTime)) child.kill("SIGKILL", newGroup)
    }
    return yield* exit.wait
  }))

/**
 * A contained stage's kill-and-reap: the policy's signal to every process of the tree, its grace,
 * SIGKILL to the tree (the supervisor repeats it until the tree is gone); returns how the target
 * ended, once the supervisor was reaped (so every process of the tree was).
 */
export const abortTree = (
  supervision: Supervision,
  exit: Once<ExitStatus.ExitStatus>,
  policy: CommandExecutor.SpawnStage["killPolicy"]
): Effect.Effect<ExitStatus.ExitStatus> =>
  Effect.uninterruptible(Effect.gen(function*() {
    const { signalTree, supervisor } = supervision
    const gone = Effect.async<void>((resume) => supervisor.onExit(() => resume(Effect.void)))
    if (!supervisor.exited()) {
      signalTree(policy.signal)
      const inTime = yield* RealTime.timeoutOption(Effect.interruptible(gone), policy.grace)
      if (Option.isNone(inTime)) signalTree("SIGKILL")
      yield* gone
    }
    return yield* exit.wait
  }))

/** Members of the child's own group that outlived it: the policy's signal, grace, SIGKILL. */
export const killGroupRemnants = (
  pid: number,
  policy: CommandExecutor.SpawnStage["killPolicy"],
  engine: Engine | null
): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (remainingGroupMembers(pid, engine) === 0) return
    if (!signalGroup(pid, policy.signal, engine)) return
    const deadline = Date.now() + Duration.toMillis(policy.grace)
    while (remainingGroupMembers(pid, engine) > 0 && Date.now() < deadline) {
      yield* RealTime.sleep("10 millis")
    }
    if (!signalGroup(pid, "SIGKILL", engine)) return
    // SIGKILL is not instant: return only once the group is gone (bounded, in case of D state).
    const killDeadline = Date.now() + 1000
    while (remainingGroupMembers(pid, engine) > 0 && Date.now() < killDeadline) {
      yield* RealTime.sleep("1 millis")
    }
  }).pipe(Effect.uninterruptible)
