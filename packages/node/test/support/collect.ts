/** A child's output stream read by node:child_process, for tests that drive programs without the executor. */
import { Buffer } from "node:buffer"
import type { Readable } from "node:stream"

export interface Collected {
  readonly text: () => string
  readonly bytes: () => Buffer
  readonly ended: () => boolean
  /** Resolves with the first match of `re` in everything received so far; rejects at end of stream. */
  readonly until: (re: RegExp) => Promise<RegExpExecArray>
  /** Resolves with all the text at end of stream. */
  readonly end: Promise<string>
}

/** Everything `stream` gives, as it comes. A stream the other side reset counts as ended. */
export const collect = (stream: Readable): Collected => {
  const chunks: Array<Buffer> = []
  const listeners = new Set<() => void>()
  let ended = false
  const bytes = () => Buffer.concat(chunks)
  const text = () => bytes().toString("utf8")
  const notify = () => [...listeners].forEach((l) => l())
  const end = new Promise<string>((resolve) => {
    stream.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      notify()
    })
    stream.on("error", () => {})
    stream.on("close", () => {
      ended = true
      notify()
      resolve(text())
    })
  })
  const until = (re: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(text())
        if (m !== null) {
          listeners.delete(check)
          resolve(m)
        } else if (ended) {
          listeners.delete(check)
          reject(new Error(`stream ended without ${String(re)}; got ${JSON.stringify(text())}`))
        }
      }
      listeners.add(check)
      check()
    })
  return { text, bytes, ended: () => ended, until, end }
}
