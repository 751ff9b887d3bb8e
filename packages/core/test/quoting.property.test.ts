import { spawnSync } from "node:child_process"

import { Command } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"

import { line } from "./support.js"

/**
 * The oracle: runs shell lines with `/bin/sh -c`, one after another, each followed by an `END`
 * marker, and returns what each printed as NUL-terminated tokens. Only the test uses node here.
 */
const runLines = (lines: ReadonlyArray<string>): Array<Array<string>> => {
  const script = lines.map((l) => `${l}\nprintf 'END\\0'\n`).join("")
  const result = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
  if (result.status !== 0) throw new Error(`sh failed (${result.status}): ${result.stderr}`)
  const tokens = result.stdout.split("\0")
  const outputs: Array<Array<string>> = []
  let current: Array<string> = []
  for (const token of tokens.slice(0, -1)) {
    if (token === "END") {
      outputs.push(current)
      current = []
    } else current.push(token)
  }
  return outputs
}

/** Characters a shell treats specially, white space, and a little of everything else; never NUL. */
const specials = [
  ..."'\"\\\n\t\r $`*?[]{}~#!&;|<>()=%,:/@+-.^",
  "é",
  "ß",
  "日本",
  "😀",
  "\u00a0",
  "\u2028",
  "\x01",
  "\x1b",
  "\x7f"
]
const unit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...specials) },
  { weight: 3, arbitrary: fc.constantFrom(..."abcXYZ019") },
  { weight: 2, arbitrary: fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) }
).filter((s) => !s.includes("\0"))
const word = fc.oneof(
  { weight: 1, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: fc.constantFrom("if", "-", "--", "a=b", "~", "#", "*") },
  { weight: 8, arbitrary: fc.string({ unit, maxLength: 12 }) }
)
const words = fc.array(word, { minLength: 1, maxLength: 6 })

const printfCommand = (ws: ReadonlyArray<string>) => Command.make("printf", "%s\\0", ...ws)
const printenvCommand = (value: string) => Command.make("printenv", "-0", "V").pipe(Command.env("V", value))

describe("quoting round-trips through /bin/sh", () => {
  it("the oracle notices a line whose words a shell splits differently", () => {
    expect(runLines(["printf '%s\\0' a b", "printf '%s\\0' 'a b'"])).toEqual([["a", "b"], ["a b"]])
    const naive = `printf '%s\\0' ${["it's", "a b"].join(" ")}`
    expect(() => runLines([naive])).toThrow(/sh failed/)
  })

  it("sh -c parses toString's line, with and without linebreaks, back to the same argv and env value", () => {
    // 100 runs of 20 cases: 2,000 argvs (rendered with and without linebreaks) and 2,000 env
    // values, checked by 100 shells.
    const batch = 20
    fc.assert(
      fc.property(fc.array(fc.tuple(words, word), { minLength: batch, maxLength: batch }), (cases) => {
        const lines = cases.flatMap(([ws, value]) => [
          line(printfCommand(ws)),
          line(printfCommand(ws), { linebreaks: true }),
          line(printenvCommand(value), { linebreaks: true })
        ])
        const outputs = runLines(lines)
        cases.forEach(([ws, value], i) => {
          const expected = [ws, ws, [value]]
          expected.forEach((want, j) => {
            const got = outputs[3 * i + j]
            if (JSON.stringify(got) !== JSON.stringify(want)) {
              throw new Error(
                `${JSON.stringify(lines[3 * i + j])} printed ${JSON.stringify(got)}, not ${JSON.stringify(want)}`
              )
            }
          })
        })
        return true
      }),
      { numRuns: 100 }
    )
  })
})
