/** What is left on the machine: processes by marker env var, our zombies, our open fds. */
import * as Fs from "node:fs"

const readOrEmpty = (path: string): string => {
  try {
    return Fs.readFileSync(path, "latin1")
  } catch {
    return ""
  }
}

const pids = (): Array<number> => Fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number)

const stat = (pid: number): { state: string; ppid: number; pgrp: number } | undefined => {
  const text = readOrEmpty(`/proc/${pid}/stat`)
  if (text === "") return undefined
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
  return { state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]) }
}

/** Live (non-zombie) processes whose environment holds `name=value`. */
export const withMarker = (name: string, value: string): Array<number> =>
  pids().filter((pid) => {
    const s = stat(pid)
    return s !== undefined && s.state !== "Z" &&
      readOrEmpty(`/proc/${pid}/environ`).split("\0").includes(`${name}=${value}`)
  })

/** A process's command line, its words joined by spaces ("" once it is gone). */
export const commandLine = (pid: number): string => readOrEmpty(`/proc/${pid}/cmdline`).replaceAll("\0", " ")

/** Live processes whose command line matches `pattern`. */
export const withCommandLine = (pattern: RegExp): Array<number> =>
  pids().filter((pid) => stat(pid)?.state !== "Z" && pattern.test(commandLine(pid)))

/** Live children of `parent`. */
export const childrenOf = (parent: number): Array<number> =>
  pids().filter((pid) => {
    const s = stat(pid)
    return s !== undefined && s.state !== "Z" && s.ppid === parent
  })

/** Zombie children of this process: children it never reaped. */
export const zombieChildren = (): Array<number> =>
  pids().filter((pid) => {
    const s = stat(pid)
    return s !== undefined && s.ppid === process.pid && s.state === "Z"
  })

/** Whether a pid is still a live process (a zombie counts as gone). */
export const isAlive = (pid: number): boolean => {
  const s = stat(pid)
  return s !== undefined && s.state !== "Z"
}

/** The fds this process has open. */
export const openFdCount = (): number => Fs.readdirSync("/proc/self/fd").length - 1

/** This process's open fds, each as `fd -> what it is` (the directory listing's own fd left out). */
export const openFds = (): ReadonlyArray<string> =>
  Fs.readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      return [`${fd} -> ${Fs.readlinkSync(`/proc/self/fd/${fd}`)}`]
    } catch {
      return []
    }
  })

/** A fresh marker value. */
export const marker = (): string => `m${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`

/** Polls `condition` every 10 ms until it holds or `millis` pass; whether it held. */
export const eventually = async (condition: () => boolean, millis = 2000): Promise<boolean> => {
  const deadline = Date.now() + millis
  while (!condition()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return true
}

/** The parent of `pid` (a contained command's: its supervisor); throws when `pid` is gone. */
export const parentOf = (pid: number): number => {
  const s = stat(pid)
  if (s === undefined) throw new Error(`process ${pid} is gone`)
  return s.ppid
}

/** Whether a pid is gone: not running, and not a zombie waiting to be reaped either. */
export const gone = (pid: number): boolean => !Fs.existsSync(`/proc/${pid}`)
