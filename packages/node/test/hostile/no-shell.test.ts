/**
 * No shell, ever: a program the kernel cannot exec (no `#!`, not ELF) is refused as
 * NotExecutable/ENOEXEC on every engine, with or without the helper. libuv's execvp would otherwise
 * hand it to /bin/sh, which is what a machine without a C compiler (child_process, no helper) gets.
 */
import { Buffer } from "node:buffer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

import type { CommandError } from "@effect-command/core"
import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

import { probePath } from "../support/probe.js"
import { failsCleanly, makeTempDir, removeTempDir, withEnv } from "../support/run.js"

let dir = ""
beforeAll(() => {
  dir = makeTempDir("ec-no-shell-")
})
afterAll(() => removeTempDir(dir))

/** An executable file with this content. */
const executable = (name: string, content: string | Uint8Array): string => {
  const path = Path.join(dir, name)
  Fs.writeFileSync(path, content)
  Fs.chmodSync(path, 0o755)
  return path
}

/** A script without `#!` that leaves `evidence` behind if a shell ever runs it. */
const shellOnly = (name: string): { path: string; evidence: string } => {
  const evidence = Path.join(dir, `${name}.ran`)
  return { path: executable(name, `echo RAN > '${evidence}'\necho RAN\n`), evidence }
}

const layers = [
  ["the layer of this project's engine", NodeCommandExecutor.layer],
  ["helper: never", NodeCommandExecutor.layerWith({ helper: "never" })],
  ["engine: child_process, helper: never", NodeCommandExecutor.layerWith({ engine: "child_process", helper: "never" })],
  ["engine: child_process with the helper", NodeCommandExecutor.layerWith({ engine: "child_process" })]
] as const

const expectNotExecutable = (error: CommandError.CommandError) => {
  expect(error._tag).toBe("SpawnError")
  if (error._tag !== "SpawnError") return
  // What the native engine's execve reports.
  expect({ reason: error.reason, errno: error.errno, stage: error.stage }).toEqual({
    reason: "NotExecutable",
    errno: "ENOEXEC",
    stage: "execve"
  })
}

describe.each(layers)("%s", (name, layer) => {
  const slug = name.replace(/\W+/g, "-")

  it.live("a file without #! that is not ELF is refused as NotExecutable, and no shell runs it", () =>
    Effect.gen(function*() {
      const { evidence, path } = shellOnly(`noshebang-${slug}`)
      expectNotExecutable(yield* failsCleanly(Command.string(Command.make(path))))
      expectNotExecutable(yield* failsCleanly(Effect.scoped(Command.start(Command.make(path)))))
      expect(Fs.existsSync(evidence)).toBe(false)
    }).pipe(Effect.provide(layer)))

  it.live("a #! line without an interpreter is refused (sh would run the rest)", () =>
    Effect.gen(function*() {
      const evidence = Path.join(dir, `empty-shebang-${slug}.ran`)
      const path = executable(`empty-shebang-${slug}`, `#!\necho RAN > '${evidence}'\n`)
      expectNotExecutable(yield* failsCleanly(Command.string(Command.make(path))))
      expect(Fs.existsSync(evidence)).toBe(false)
    }).pipe(Effect.provide(layer)))

  it.live("a #! script whose interpreter the kernel cannot run is refused, directly or nested", () =>
    Effect.gen(function*() {
      const interpreter = shellOnly(`interpreter-${slug}`)
      const evidence = Path.join(dir, `script-${slug}.ran`)
      const script = executable(`bad-interpreter-${slug}`, `#!${interpreter.path}\necho RAN > '${evidence}'\n`)
      const nested = executable(`nested-${slug}`, `#!${script} -x\necho RAN > '${evidence}'\n`)
      expectNotExecutable(yield* failsCleanly(Command.string(Command.make(script))))
      expectNotExecutable(yield* failsCleanly(Command.string(Command.make(nested))))
      expect(Fs.existsSync(evidence)).toBe(false)
      expect(Fs.existsSync(interpreter.evidence)).toBe(false)
    }).pipe(Effect.provide(layer)))

  it.live("an ELF binary for another machine is refused", () =>
    Effect.gen(function*() {
      const elf = Buffer.from(Fs.readFileSync(probePath))
      // e_machine: 0xfaaa is no machine's.
      elf.writeUInt16LE(0xfaaa, 18)
      expectNotExecutable(yield* failsCleanly(Command.exitCode(Command.make(executable(`foreign-${slug}`, elf)))))
    }).pipe(Effect.provide(layer)))

  it.live("an empty executable file is refused, not run as an empty script", () =>
    Effect.gen(function*() {
      expectNotExecutable(yield* failsCleanly(Command.exitCode(Command.make(executable(`empty-${slug}`, "")))))
    }).pipe(Effect.provide(layer)))

  it.live("a file found through PATH is refused the same way", () =>
    Effect.gen(function*() {
      const bin = Path.join(dir, `bin-${slug}`)
      Fs.mkdirSync(bin)
      const evidence = Path.join(bin, "ran")
      Fs.writeFileSync(Path.join(bin, "noshebang"), `echo RAN > '${evidence}'\n`, { mode: 0o755 })
      const error = yield* withEnv(
        { PATH: `${bin}:${process.env.PATH}` },
        failsCleanly(Command.string(Command.make("noshebang")))
      )
      expectNotExecutable(error)
      expect(Fs.existsSync(evidence)).toBe(false)
    }).pipe(Effect.provide(layer)))

  it.live("a #! script, an ELF binary and a script of one byte past #! still run", () =>
    Effect.gen(function*() {
      expect(yield* Command.string(Command.make(executable(`script-${slug}`, "#!/bin/sh\necho script\n")))).toBe(
        "script\n"
      )
      expect(yield* Command.exitCode(Command.make(probePath, "--no-report", "--no-stdin"))).toBe(0)
      expect(yield* Command.string(Command.make(executable(`tight-${slug}`, "#!/bin/echo")))).toContain("tight")
    }).pipe(Effect.provide(layer)))

  it.live("an executable FIFO does not hang the spawn: exec refuses it (EACCES)", () =>
    Effect.gen(function*() {
      const fifo = Path.join(dir, `fifo-${slug}`)
      ChildProcess.execFileSync("mkfifo", ["-m", "0755", fifo])
      const error = yield* failsCleanly(Command.exitCode(Command.make(fifo)))
      expect(error._tag).toBe("SpawnError")
      expect(error._tag === "SpawnError" && error.errno).toBe("EACCES")
    }).pipe(Effect.provide(layer)))
})
