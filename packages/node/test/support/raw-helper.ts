/**
 * Driving effect-command-helper (native/helper.c + native/setup.c) directly
 * with node:child_process: where it is, how to build it, how to run it with
 * its status fd on stdio index 3, and parsers for what the targets print.
 */
import type { ChildProcess, IOType } from "node:child_process"
import { spawn, spawnSync } from "node:child_process"
import type { Readable, Writable } from "node:stream"
import { fileURLToPath } from "node:url"

import type { Collected } from "./collect.js"
import { collect } from "./collect.js"

/** The helper binary, as scripts/build-native.mjs writes it. */
export const helperPath: string = fileURLToPath(new URL("../../build/effect-command-helper", import.meta.url))

/** The build script (plain Node ESM, no dependencies). */
export const buildScriptPath: string = fileURLToPath(new URL("../../scripts/build-native.mjs", import.meta.url))

/** The C sources. */
export const nativeSources: ReadonlyArray<string> = ["helper.c", "mux.c", "setup.c", "supervise.c"].map((f) =>
  fileURLToPath(new URL(`../../native/${f}`, import.meta.url))
)

/** Runs the build script; throws with the compiler's output when it fails. */
export const buildHelper = (): void => {
  const r = spawnSync(process.execPath, [buildScriptPath], { encoding: "utf8" })
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`build-native.mjs failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`)
  }
}

/** The helper's status fd in every run here: stdio index 3. */
export const STATUS_FD = 3

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Started {
  readonly child: ChildProcess
  readonly pid: number
  readonly stdout: Collected
  readonly stderr: Collected
  /** The helper's status fd: "<stage> <errno>\n" on failure, EOF at exec. */
  readonly status: Collected
  /** The stream at stdio index `fd` (a "pipe" given in `extraStdio`). */
  readonly fd: (fd: number) => Readable & Writable
  readonly exit: Promise<Exit>
}

export interface StartOptions {
  /** stdio for fds 4, 5, ... (index 0 of this array is fd 4). */
  readonly extraStdio?: ReadonlyArray<IOType | number>
  readonly stdin?: IOType | number
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /** Another build of the helper (e.g. a variant compiled by the test). */
  readonly binary?: string
}

const started = new Set<ChildProcess>()
const strays = new Set<number>()

/** Starts `helper --status-fd 3 ...args`; stdout, stderr and fd 3 are pipes. */
export const startHelper = (args: ReadonlyArray<string>, options: StartOptions = {}): Started => {
  const child = spawn(options.binary ?? helperPath, ["--status-fd", String(STATUS_FD), ...args], {
    stdio: [options.stdin ?? "ignore", "pipe", "pipe", "pipe", ...(options.extraStdio ?? [])],
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {})
  })
  started.add(child)
  const pid = child.pid
  if (pid === undefined) throw new Error("spawn failed")
  const exit = new Promise<Exit>((resolve, reject) => {
    child.once("error", reject)
    child.once("exit", (code, signal) => resolve({ code, signal }))
  })
  const stream = (fd: number) => {
    const s = child.stdio[fd]
    if (s === null || s === undefined) throw new Error(`stdio ${fd} is not a pipe`)
    return s as Readable & Writable
  }
  return {
    child,
    pid,
    stdout: collect(stream(1)),
    stderr: collect(stream(2)),
    status: collect(stream(STATUS_FD)),
    fd: stream,
    exit
  }
}

export interface Run extends Exit {
  readonly pid: number
  readonly status: string
  readonly stdout: string
  readonly stderr: string
}

/** Runs the helper to its end: exit, and EOF on stdout, stderr and the status fd. */
export const runHelper = async (args: ReadonlyArray<string>, options: StartOptions = {}): Promise<Run> => {
  const p = startHelper(args, options)
  const [exit, status, stdout, stderr] = await Promise.all([p.exit, p.status.end, p.stdout.end, p.stderr.end])
  return { ...exit, pid: p.pid, status, stdout, stderr }
}

/** Remembers a pid that is not our child (a daemon, a grandchild) for {@link killLeftovers}. */
export const track = (pid: number): number => {
  strays.add(pid)
  return pid
}

/** SIGKILLs every helper still running and every tracked pid. */
export const killLeftovers = (): void => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  started.clear()
  for (const pid of strays) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone already
    }
  }
  strays.clear()
}

/** CapInh/CapPrm/CapEff/CapBnd/CapAmb from /proc/<pid>/status text, as bigints. */
export const capsOf = (statusText: string): Record<"CapInh" | "CapPrm" | "CapEff" | "CapBnd" | "CapAmb", bigint> => {
  const get = (name: string) => {
    const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, "m").exec(statusText)
    if (m === null) throw new Error(`no ${name} in ${JSON.stringify(statusText)}`)
    return BigInt(`0x${m[1]}`)
  }
  return {
    CapInh: get("CapInh"),
    CapPrm: get("CapPrm"),
    CapEff: get("CapEff"),
    CapBnd: get("CapBnd"),
    CapAmb: get("CapAmb")
  }
}

/** One `Name: value` line of /proc/<pid>/status text. */
export const statusField = (statusText: string, name: string): string => {
  const m = new RegExp(`^${name}:\\s*(.*)$`, "m").exec(statusText)
  if (m === null) throw new Error(`no ${name} in ${JSON.stringify(statusText)}`)
  return m[1]!.trim()
}

/** /proc/<pid>/limits text: "Max open files" -> [soft, hard] as printed ("unlimited" or a number). */
export const limitsOf = (text: string): Record<string, readonly [string, string]> => {
  const limits: Record<string, readonly [string, string]> = {}
  for (const line of text.split("\n").slice(1)) {
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line)
    if (m !== null) limits[m[1]!] = [m[2]!, m[3]!]
  }
  return limits
}

/** Field `n` (1-based, as in proc(5)) of /proc/<pid>/stat text. */
export const statField = (statText: string, n: number): string => {
  const rest = statText.slice(statText.lastIndexOf(")") + 2).split(" ")
  const value = rest[n - 3]
  if (value === undefined) throw new Error(`no field ${n} in ${JSON.stringify(statText)}`)
  return value
}
