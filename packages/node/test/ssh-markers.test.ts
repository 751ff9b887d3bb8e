/**
 * The SSH wrapper's reports read out of the remote stderr stream, without ssh: every report
 * found wherever a chunk boundary falls, and every other byte passed on as it came.
 */
import { describe, expect, it } from "@effect/vitest"

import { reportParser } from "../src/internal/ssh/markers.js"

const nonce = "0123456789abcdef01234567"
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Feeds `text` cut at every `size` bytes; joins adjacent bytes, so that only the cuts of reports show. */
const parse = (text: string, size: number) => {
  const parser = reportParser(nonce)
  const bytes = encoder.encode(text)
  const parts: Array<unknown> = []
  const push = (part: Uint8Array | object) => {
    const last = parts[parts.length - 1]
    if (part instanceof Uint8Array && typeof last === "string") parts[parts.length - 1] = last + decoder.decode(part)
    else parts.push(part instanceof Uint8Array ? decoder.decode(part) : part)
  }
  for (let at = 0; at < bytes.length; at += size) parser.feed(bytes.subarray(at, at + size)).forEach(push)
  push(parser.flush())
  return parts.filter((part) => part !== "")
}

describe("the SSH wrapper's reports", () => {
  const stream = `noise\0${nonce} pid 42\nerr \0${nonce} stage 0 0\0${nonce} stage 2 141\nmore\0${nonce} status 0\n`

  it("reads pid, stage and status reports between the command's bytes, however the stream is cut", () => {
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      expect(parse(stream, size)).toEqual([
        "noise",
        { _tag: "Started", pid: 42 },
        // Not a report: its line does not end before the next one starts.
        `err \0${nonce} stage 0 0`,
        { _tag: "Stage", index: 2, code: 141 },
        "more",
        { _tag: "Status", code: 0 }
      ])
    }
  })

  it("passes on what only looks like a report: another nonce, a wrong word count, a word not a number", () => {
    const lookalikes = [
      `\0ffffffffffffffffffffffff stage 0 1\n`,
      `\0${nonce} stage 1\n`,
      `\0${nonce} pid 1 2\n`,
      `\0${nonce} stage x 2\n`,
      `\0${nonce} cwd 1\n`,
      `\0\0\0`
    ].join("")
    expect(parse(lookalikes, 5)).toEqual([lookalikes])
    expect(parse(`\0${nonce} cwd\n`, 3)).toEqual([{ _tag: "BadWorkingDirectory" }])
  })

  it("gives back an unfinished report at the end of the stream as the command's bytes", () => {
    expect(parse(`tail\0${nonce} stage 1 `, 4)).toEqual([`tail\0${nonce} stage 1 `])
  })
})
