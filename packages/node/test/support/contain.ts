/**
 * The containment matrix's process trees (test/fixtures/contain-tree.sh) and what is left of them.
 * Every process of a tree carries `EC_CONTAIN_MARK=<mark>`, so whatever survives can be found.
 */
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

import type { CommandError, CommandExecutor } from "@effect-command/core"
import { Command } from "@effect-command/core"
import { Effect, type Scope } from "effect"

import { eventually, withMarker } from "./procs.js"

export const MARK = "EC_CONTAIN_MARK"

const script = fileURLToPath(new URL("../fixtures/contain-tree.sh", import.meta.url))

/** How the descendants try to escape: see the header of contain-tree.sh. */
export type Behaviour = "setsid" | "daemon" | "pgrp" | "noterm" | "fork200" | "stopped"

/** How the target ends: "exit" (0, once all is up), "gate" (0, after a line on stdin), "run". */
export type Tail = "exit" | "gate" | "run"

/** Each behaviour with the least number of marked processes once it is up, the target included. */
export const behaviours: ReadonlyArray<{ readonly behaviour: Behaviour; readonly processes: number }> = [
  { behaviour: "setsid", processes: 2 },
  { behaviour: "daemon", processes: 2 },
  { behaviour: "pgrp", processes: 2 },
  { behaviour: "noterm", processes: 3 },
  { behaviour: "fork200", processes: 202 },
  { behaviour: "stopped", processes: 3 }
]

/** The grace every tree gets: short, so that a tree ignoring SIGTERM costs little. */
export const GRACE_MS = 200

/** A tree's target: `sh contain-tree.sh <behaviour> <tail>`, marked, with the short grace. */
export const tree = (behaviour: Behaviour, tail: Tail, mark: string): Command.Command =>
  Command.make("sh", script, behaviour, tail).pipe(
    Command.envExtend({ [MARK]: mark }),
    Command.killGrace(`${GRACE_MS} millis`)
  )

/** Starts a tree whose tail prints "ready" (stdout piped), and waits for it: every descendant is up. */
export const startReady = (
  command: Command.Command
): Effect.Effect<CommandExecutor.Process, CommandError.CommandError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.tap(Command.start(Command.stdout(command, "pipe")), (process) => process.waitFor(/^ready$/m))

const readOr = (path: string): string => {
  try {
    return Fs.readFileSync(path, "latin1")
  } catch {
    return ""
  }
}

/** One line per pid, for failure messages: pid, name, state, parent, group, session. */
export const describeProcs = (pids: ReadonlyArray<number>): Array<string> =>
  pids.slice(0, 20).map((pid) => {
    const text = readOr(`/proc/${pid}/stat`)
    const name = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"))
    const [state, ppid, pgrp, sid] = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return `${pid} ${name} state=${state} ppid=${ppid} pgrp=${pgrp} sid=${sid}`
  }).concat(pids.length > 20 ? [`… and ${pids.length - 20} more`] : [])

/** The live processes carrying `mark`. */
export const marked = (mark: string): Array<number> => withMarker(MARK, mark)

/** Polls until every process carrying `mark` is gone (within `millis`); those left, described. */
export const survivorsAfter = async (mark: string, millis: number): Promise<Array<string>> =>
  (await eventually(() => marked(mark).length === 0, millis)) ? [] : describeProcs(marked(mark))

/**
 * Polls until at least `count` processes carry `mark`. A process in the middle of its exec shows
 * an empty environment for a moment, hence the poll.
 */
export const seen = (mark: string, count: number, millis = 10_000): Promise<boolean> =>
  eventually(() => marked(mark).length >= count, millis)

/**
 * SIGKILLs whatever carries `mark`, again until nothing does (a forker may still be forking),
 * at most 5 s: a failing cell must not leave processes for the next ones.
 */
export const killMarked = async (mark: string): Promise<void> => {
  await eventually(() => {
    const left = marked(mark)
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // gone already
      }
    }
    return left.length === 0
  }, 5_000)
}

/** Starts one tree per behaviour (tail "run") and waits until each is ready; their target pids. */
export const startAll = (
  marks: Readonly<Partial<Record<Behaviour, string>>>,
  adjust: (command: Command.Command) => Command.Command = (command) => command
): Effect.Effect<Record<string, number>, unknown, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.map(
    Effect.forEach(
      Object.entries(marks),
      ([behaviour, mark]) =>
        Effect.map(startReady(adjust(tree(behaviour as Behaviour, "run", mark!))), (p) => [behaviour, p.pid] as const),
      { concurrency: "unbounded" }
    ),
    Object.fromEntries
  )
