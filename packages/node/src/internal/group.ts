/** Who is left in a process group, for the kill-and-reap of members that outlived the leader. */
import * as Fs from "node:fs"

import { Signal } from "@effect-command/core"

import type { Engine } from "./engine.js"

/**
 * `kill(-pgid, signal)`: whether it reached anyone (ESRCH: the group is gone). The engine answers
 * without the exception, stack trace included, that `process.kill` throws.
 */
export const signalGroup = (pgid: number, signal: Signal.Signal | 0, engine: Engine | null): boolean => {
  if (engine !== null) return engine.signalProcess(-pgid, signal === 0 ? 0 : Signal.numbers[signal]) === 0
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

/**
 * How many live (non-zombie) processes are in process group `pgid`. A cheap `kill(-pgid, 0)` first:
 * most groups are gone with their leader. Zombies count as gone: they hold nothing, and an init
 * that does not reap would otherwise keep them "alive" forever.
 */
export const remainingGroupMembers = (pgid: number, engine: Engine | null): number => {
  if (!signalGroup(pgid, 0, engine)) return 0
  let count = 0
  for (const entry of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = Fs.readFileSync(`/proc/${entry}/stat`, "latin1")
    } catch {
      continue
    }
    // pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") count++
  }
  return count
}
