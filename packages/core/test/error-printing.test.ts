/** Errors that carry output print it as a person reads it: a length and a short preview, never an array of numbers. */
import * as Util from "node:util"

import { CommandError } from "@effect-command/core"
import { describe, expect, it } from "@effect/vitest"
import { Duration } from "effect"

import { encode } from "./support.js"

const timedOut = new CommandError.CommandTimeoutError({
  timeout: Duration.millis(300),
  stdout: encode("partial answer"),
  stderr: encode("x".repeat(1000)),
  command: "server --port 8080"
})

const overLimit = new CommandError.OutputLimitError({
  stream: "stdout",
  limit: 4,
  output: encode("abcd"),
  command: "yes"
})

describe("errors with output", () => {
  it("JSON: the output's length and its first bytes decoded", () => {
    const json = JSON.parse(JSON.stringify(timedOut))
    expect(json.stdout).toBe(`14 bytes: "partial answer"`)
    expect(json.stderr).toBe(`1000 bytes: "${"x".repeat(64)}"…`)
    expect(JSON.parse(JSON.stringify(overLimit)).output).toBe(`4 bytes: "abcd"`)
  })

  it("console.log: the message and stack, then the fields with the output previewed", () => {
    const shown = Util.inspect(timedOut)
    expect(shown).toContain("CommandTimeoutError: child process (server --port 8080) timed out after 300ms")
    expect(shown).toContain(`14 bytes: \\"partial answer\\"`)
    expect(shown).not.toMatch(/\b112, 97, 114\b/) // "par" as numbers
    expect(Util.inspect(overLimit)).toContain(`4 bytes: \\"abcd\\"`)
  })

  it("the fields themselves stay the bytes", () => {
    expect(timedOut.stdout).toEqual(encode("partial answer"))
    expect(overLimit.output.length).toBe(4)
  })
})
