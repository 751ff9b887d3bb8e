/** Who is left in a process group, for the kill-and-reap of members that outlived the leader. */
import * as Fs from "node:fs"
import type { Engine } from "./engine.js"

/** Whether `kill(-pgid, 0)` reaches anyone; the engine answers without the exception Node throws. */
const groupReachable = (pgid: number, engine: Engine | null): boolean => {
  if (engine !== null) return engine.signalProcess(-pgid, 0) === 0
  try {
    process.kill(-pgid, 0)
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
  if (!groupReachable(pgid, engine)) return 0
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
