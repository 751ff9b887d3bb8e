import { spawnSync } from "node:child_process"

import { Command } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"

import { line } from "./support.js"

/**
 * The oracle: runs shell lines with `/bin/sh -c`, one after another, each followed by an `END`
 * marker, and returns what each printed as NUL-terminated tokens. Only the test uses node here.
 */
const runLines = (lines: ReadonlyArray<string>, env?: NodeJS.ProcessEnv): Array<Array<string>> => {
  const script = lines.map((l) => `${l}\nprintf 'END\\0'\n`).join("")
  const result = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env })
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

  it("sh -c runs toString's line with the environment the child gets", () => {
    // The shell's own environment: what an inheriting command starts from. (Only names a shell
    // assigns: dash drops the others from what it inherits.)
    const parent: Record<string, string> = { A: "parent a", KEEP: "k", PATH: process.env.PATH ?? "" }
    const name = fc.constantFrom("A", "B", "KEEP", "my-var", "x y", "LC_ALL")
    const step = fc.oneof(
      fc.tuple(name, word).map(([n, v]) => Command.env(n, v)),
      name.map((n) => Command.envUnset(n)),
      name.map((n) => Command.envPass(n)),
      fc.constant(Command.envInherit),
      fc.constant(Command.envClear)
    )
    const batch = 20
    fc.assert(
      fc.property(fc.array(fc.array(step, { maxLength: 6 }), { minLength: batch, maxLength: batch }), (cases) => {
        const commands = cases.map((steps) => steps.reduce((cmd, f) => f(cmd), Command.make("/usr/bin/env", "-0")))
        const lines = commands.map((cmd) => line(cmd, { environment: parent }))
        const outputs = runLines(lines, parent)
        commands.forEach((cmd, i) => {
          const got = new Map(
            outputs[i]!.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)])
          )
          const want = new Map(Object.entries(Command.resolveEnv(cmd, parent)) as Array<[string, string]>)
          // A shell may add variables of its own (PWD) to what it inherits, never to `env -i`.
          const names = cmd.env.base === "empty"
            ? [...got.keys(), ...want.keys()]
            : [...Object.keys(parent), ...want.keys()]
          for (const n of names) {
            if (got.get(n) !== want.get(n)) {
              throw new Error(
                `${JSON.stringify(lines[i])}: ${n} is ${JSON.stringify(got.get(n))}, not ${JSON.stringify(want.get(n))}`
              )
            }
          }
        })
        return true
      }),
      { numRuns: 50 }
    )
  })
})
