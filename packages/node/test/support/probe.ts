/**
 * Helpers for the probe test program (test/fixtures/probe.c, compiled to
 * build/probe by test/global-setup.ts). See the header of probe.c for its flags.
 */
import { Buffer } from "node:buffer"
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** Absolute path of the compiled probe binary. */
export const probePath: string = fileURLToPath(new URL("../../build/probe", import.meta.url))

/** Absolute path of the probe's C source. */
export const probeSourcePath: string = fileURLToPath(new URL("../fixtures/probe.c", import.meta.url))

/** Exit codes the probe uses for its own failures. */
export const ProbeExit = { usage: 64, osError: 71, ioError: 74 } as const

const O_CLOEXEC = 0o2000000

/**
 * Fds above 2 that this process holds without close-on-exec, so that any child
 * it spawns inherits them (e.g. descriptors leaked into the test runner by
 * whatever started it). A probe spawned with plain `child_process` reports
 * these in addition to the ones it was given.
 */
export const inheritableFds = (): Array<number> => {
  const fds: Array<number> = []
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name)
    if (!(fd > 2)) continue
    let info: string
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8")
    } catch {
      continue // the directory listing's own fd, closed by now
    }
    const flags = /^flags:\s*([0-7]+)$/m.exec(info)?.[1]
    if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0) fds.push(fd)
  }
  return fds.sort((a, b) => a - b)
}

/** `expected` plus {@link inheritableFds}, sorted, without duplicates. */
export const withInheritedFds = (expected: ReadonlyArray<number>): Array<number> =>
  [...new Set([...expected, ...inheritableFds()])].sort((a, b) => a - b)

export interface ProbeReport {
  args: Array<string>
  env: Record<string, string>
  fds: Array<number>
  pgrp: "same" | "new"
  pgidIsPid: boolean
  sidIsPid: boolean
  cwd: string
  umask: string
}

const toText = (text: string | Uint8Array): string =>
  typeof text === "string" ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString("utf8")

const yesNo = (line: string, value: string): boolean => {
  if (value === "yes") return true
  if (value === "no") return false
  throw new Error(`probe report: bad line ${JSON.stringify(line)}`)
}

/**
 * Parses the probe's report out of its stdout (or stderr with
 * `--report-to-stderr`). Lines before the report (`READY`, `PID:<n>`) and
 * everything after the `UMASK:` line (the I/O echo) are ignored. A line inside
 * the report without a known prefix continues the previous `ARG:`/`ENV:` item
 * (an argument or value containing a newline).
 */
export const parseReport = (text: string | Uint8Array): ProbeReport => {
  const args: Array<string> = []
  const env: Record<string, string> = {}
  const fds: Array<number> = []
  let pgrp: "same" | "new" | undefined
  let pgidIsPid: boolean | undefined
  let sidIsPid: boolean | undefined
  let cwd: string | undefined
  let umask: string | undefined
  let started = false
  let last:
    | { readonly kind: "arg"; readonly index: number }
    | { readonly kind: "env"; readonly name: string }
    | undefined

  for (const line of toText(text).split("\n")) {
    const colon = line.indexOf(":")
    const tag = colon < 0 ? "" : line.slice(0, colon)
    const value = line.slice(colon + 1)
    if (!started) {
      if (!["ARG", "ENV", "FD", "PGRP"].includes(tag)) continue
      started = true
    }
    switch (tag) {
      case "ARG":
        args.push(value)
        last = { kind: "arg", index: args.length - 1 }
        continue
      case "ENV": {
        const eq = value.indexOf("=")
        const name = eq < 0 ? value : value.slice(0, eq)
        env[name] = eq < 0 ? "" : value.slice(eq + 1)
        last = { kind: "env", name }
        continue
      }
      case "FD": {
        if (!/^\d+$/.test(value)) throw new Error(`probe report: bad line ${JSON.stringify(line)}`)
        fds.push(Number(value))
        break
      }
      case "PGRP":
        if (value !== "same" && value !== "new") throw new Error(`probe report: bad line ${JSON.stringify(line)}`)
        pgrp = value
        break
      case "PGID_IS_PID":
        pgidIsPid = yesNo(line, value)
        break
      case "SID_IS_PID":
        sidIsPid = yesNo(line, value)
        break
      case "CWD":
        cwd = value
        break
      case "UMASK":
        if (!/^[0-7]{4}$/.test(value)) throw new Error(`probe report: bad line ${JSON.stringify(line)}`)
        umask = value
        break
      default:
        if (last?.kind === "arg") {
          args[last.index] += `\n${line}`
          continue
        }
        if (last?.kind === "env") {
          env[last.name] += `\n${line}`
          continue
        }
        throw new Error(`probe report: unexpected line ${JSON.stringify(line)}`)
    }
    last = undefined
    if (umask !== undefined) break
  }

  if (
    pgrp === undefined || pgidIsPid === undefined || sidIsPid === undefined || cwd === undefined || umask === undefined
  ) {
    throw new Error(`probe report: incomplete report in ${JSON.stringify(toText(text).slice(0, 2000))}`)
  }
  return { args, env, fds, pgrp, pgidIsPid, sidIsPid, cwd, umask }
}

/** Index of `needle` at the start of a line, at or after `from`; -1 if absent. */
const lineStart = (hay: string, needle: string, from: number): number => {
  for (let i = hay.indexOf(needle, from); i >= 0; i = hay.indexOf(needle, i + 1)) {
    if (i === 0 || hay[i - 1] === "\n") return i
  }
  return -1
}

/**
 * The bytes the probe echoed between `BEGIN <stream>\n` and `END <stream>\n`
 * (the END marker need not start a line: the echoed data may lack a final
 * newline; the last END marker is used).
 */
export const between = (text: string, stream: "STDOUT" | "STDERR"): string => {
  const begin = `BEGIN ${stream}\n`
  const b = lineStart(text, begin, 0)
  if (b < 0) throw new Error(`probe output: no ${JSON.stringify(begin)} in ${JSON.stringify(text.slice(0, 2000))}`)
  const start = b + begin.length
  const e = text.lastIndexOf(`END ${stream}\n`)
  if (e < start) throw new Error(`probe output: no "END ${stream}" after "BEGIN ${stream}"`)
  return text.slice(start, e)
}

/** Like {@link between}, byte-exact, for binary data. */
export const betweenBytes = (bytes: Uint8Array, stream: "STDOUT" | "STDERR"): Buffer => {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const begin = Buffer.from(`BEGIN ${stream}\n`)
  let b = buf.indexOf(begin)
  while (b > 0 && buf[b - 1] !== 0x0a) b = buf.indexOf(begin, b + 1)
  if (b < 0) throw new Error(`probe output: no "BEGIN ${stream}"`)
  const start = b + begin.length
  const e = buf.lastIndexOf(Buffer.from(`END ${stream}\n`))
  if (e < start) throw new Error(`probe output: no "END ${stream}" after "BEGIN ${stream}"`)
  return buf.subarray(start, e)
}

/** The first `n` bytes of the `--write-stdout`/`--write-stderr` pattern. */
export const pattern = (n: number): string => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz"
  return alphabet.repeat(Math.ceil(n / 26)).slice(0, n)
}
