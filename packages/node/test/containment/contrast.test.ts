/**
 * The contrast to endings.test.ts: the same trees uncontained (`Command.contain(false)` on a layer
 * with `contain: true`, the default layer, a layer with `contain: false`, one without the helper,
 * a daemon) leave their escaped descendants behind, so the
 * matrix can fail. Each cell checks that they are still there the grace + 1 s after the run, then
 * kills them.
 */
import "../fixtures/ensure-helper.js"

import type { CommandExecutor } from "@effect-command/core"
import { Command, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Effect } from "effect"

import type { Behaviour } from "../support/contain.js"
import { GRACE_MS, killMarked, marked, startReady, tree } from "../support/contain.js"
import { eventually, marker } from "../support/procs.js"

const SETTLE_MS = GRACE_MS + 1_000

/** Whether marked processes are still there once the grace + 1 s passed (polled: a late kill shows). */
const outlived = (mark: string) =>
  Effect.promise(async () => !(await eventually(() => marked(mark).length === 0, SETTLE_MS)))

const uncontained = Command.contain(false)
const asIs = (command: Command.Command) => command
const containing = NodeCommandExecutor.layerWith({ contain: true })

const cells: ReadonlyArray<{
  readonly how: string
  readonly behaviour: Behaviour
  readonly layer: Layer.Layer<CommandExecutor.CommandExecutor>
  readonly adjust: (command: Command.Command) => Command.Command
  readonly ending: "run" | "scope"
}> = [
  ...(["setsid", "daemon", "pgrp", "noterm", "stopped"] as const).map((behaviour) => ({
    how: "contain: true layer, Command.contain(false), Command.run",
    behaviour,
    layer: containing,
    adjust: uncontained,
    ending: "run" as const
  })),
  {
    how: "contain: true layer, Command.contain(false), scope close",
    behaviour: "setsid",
    layer: containing,
    adjust: uncontained,
    ending: "scope"
  },
  {
    how: "the default layer (containment is opt-in), Command.run",
    behaviour: "setsid",
    layer: NodeCommandExecutor.layer,
    adjust: asIs,
    ending: "run"
  },
  {
    how: "a layer with contain: false, Command.run",
    behaviour: "setsid",
    layer: NodeCommandExecutor.layerWith({ contain: false }),
    adjust: asIs,
    ending: "run"
  },
  {
    how: "contain: true layer, Command.daemonize() (never contained), Command.run",
    behaviour: "setsid",
    layer: containing,
    adjust: Command.daemonize(),
    ending: "run"
  },
  {
    how: "contain: true layer without the helper, Command.run",
    behaviour: "setsid",
    layer: NodeCommandExecutor.layerWith({ helper: "never", contain: true }),
    adjust: asIs,
    ending: "run"
  }
]

describe.concurrent("containment off: escaped descendants outlive the run", () => {
  it.live.each(cells)("$how: $behaviour", ({ adjust, behaviour, ending, layer }) => {
    const mark = marker()
    const end = ending === "run"
      ? Effect.map(
        Command.run(adjust(tree(behaviour, "exit", mark))),
        (r) => expect(r.status).toEqual(ExitStatus.exited(0))
      )
      : Effect.scoped(Effect.asVoid(startReady(adjust(tree(behaviour, "run", mark)))))
    return Effect.gen(function*() {
      yield* end
      expect(yield* outlived(mark), "survivors").toBe(true)
    }).pipe(Effect.ensuring(Effect.promise(() => killMarked(mark))), Effect.provide(layer))
  }, 30_000)
})
