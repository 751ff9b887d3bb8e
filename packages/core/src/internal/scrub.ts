/** Secrets kept out of output shown in logs and errors. */
import * as Redacted from "effect/Redacted"

import type * as Command from "../Command.js"
import { decoder } from "./buffers.js"
import { stagesOf } from "./command.js"

/** The secrets of a command (Redacted words of every stage), to keep them out of logged output. */
const secretsOf = (command: Command.Command): Array<string> =>
  stagesOf(command).flatMap((stage) => {
    const words: Array<Command.Word> = [...stage.args]
    for (const entry of stage.env.entries) if (entry._tag === "Set") words.push(entry.value)
    if (stage.stdin?._tag === "Text") words.push(stage.stdin.text)
    return words.filter((w): w is Redacted.Redacted<string> => typeof w !== "string").map(Redacted.value)
  }).filter((secret) => secret.length > 0)

export const encoder = new TextEncoder()

/** What is left of a secret where output was cut through it is blanked from this many bytes on. */
const shortestFragment = 4

/** Whether `bytes` holds `part` at `at`. */
const holds = (bytes: Uint8Array, part: Uint8Array, at: number): boolean => {
  if (at < 0 || at + part.length > bytes.length) return false
  for (let i = 0; i < part.length; i++) if (bytes[at + i] !== part[i]) return false
  return true
}

/**
 * The last `limit` bytes of a child's output as text for a log line or an error, with the
 * command's secrets blanked. They are looked for before the cut is made, from a secret's length
 * before it, so that a secret straddling the cut leaves nothing in view. What is left of a secret
 * at the edges of the bytes is blanked too: its end where they begin (a tail buffer cut off the
 * rest before the bytes reached us), its beginning where they end.
 */
export const scrubbed = (command: Command.Command, bytes: Uint8Array, limit: number): string => {
  const from = Math.max(0, bytes.length - limit)
  const secrets = secretsOf(command).map((secret) => encoder.encode(secret))
  if (secrets.length === 0) return decoder.decode(bytes.subarray(from))
  const hidden: Array<readonly [start: number, end: number]> = []
  const hide = (start: number, end: number) => void hidden.push([Math.max(from, start), end])
  for (const secret of secrets) {
    for (let at = Math.max(0, from - secret.length + 1); at < bytes.length; at++) {
      if (holds(bytes, secret, at)) hide(at, at + secret.length)
    }
    for (let kept = Math.min(secret.length - 1, bytes.length - from); kept >= shortestFragment; kept--) {
      if (holds(bytes, secret.subarray(secret.length - kept), from)) {
        hide(from, from + kept)
        break
      }
    }
    for (let kept = Math.min(secret.length - 1, bytes.length - from); kept >= shortestFragment; kept--) {
      if (holds(bytes, secret.subarray(0, kept), bytes.length - kept)) {
        hide(bytes.length - kept, bytes.length)
        break
      }
    }
  }
  // One "<redacted>" per secret shown, or per run of overlapping ones.
  hidden.sort((a, b) => a[0] - b[0])
  let text = ""
  let shown = from
  for (let i = 0; i < hidden.length;) {
    const start = hidden[i]![0]
    let end = hidden[i]![1]
    for (i++; i < hidden.length && hidden[i]![0] < end; i++) end = Math.max(end, hidden[i]![1])
    text += `${decoder.decode(bytes.subarray(shown, start))}<redacted>`
    shown = end
  }
  return text + decoder.decode(bytes.subarray(shown))
}
