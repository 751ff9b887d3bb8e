/** Shared helpers of the executor's behaviour tests (io, env, fds, errors, concurrency). */
import { Buffer } from "node:buffer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import type { CommandError } from "@effect-command/core"
import { Command } from "@effect-command/core"
import { expect } from "@effect/vitest"
import { Effect } from "effect"

import { probePath } from "./probe.js"
import { openFdCount, zombieChildren } from "./procs.js"

/** The probe with these arguments. */
export const probe = (...args: ReadonlyArray<Command.Word>): Command.Command => Command.make(probePath, ...args)

/** UTF-8 text of bytes. */
export const text = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")

/** Bytes of UTF-8 text. */
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** A Buffer view of bytes (for `equals`). */
export const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** `n` bytes with every byte value, NULs included, in a non-repeating-looking order. */
export const binary = (n: number): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 8) + (i >> 16)) & 0xff
  return out
}

/** A fresh, real-path temporary directory; remove it with {@link removeTempDir}. */
export const makeTempDir = (prefix: string): string => Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix)))

export const removeTempDir = (dir: string): void => Fs.rmSync(dir, { recursive: true, force: true })

/** The parent's environment as the child should get it by default: every defined variable. */
export const parentEnv = (): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) out[name] = value
  return out
}

/**
 * Runs `effect` with `process.env` patched (`undefined` deletes a variable), restoring every
 * touched variable afterwards, whatever happens.
 */
export const withEnv = <A, E, R>(
  patch: Readonly<Record<string, string | undefined>>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved: Record<string, string | undefined> = {}
      for (const [name, value] of Object.entries(patch)) {
        saved[name] = process.env[name]
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      return saved
    }),
    () => effect,
    (saved) =>
      Effect.sync(() => {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

/**
 * A command that leaves evidence when it runs: it creates `path`. Used to prove that a failing
 * command spawned nothing.
 */
export const evidence = (path: string): Command.Command =>
  Command.make("/bin/sh", "-c", "echo spawned > \"$1\"", "sh", path)

/**
 * Runs `effect`, expects it to fail, and checks that the failure left no zombie child and no
 * extra open fd in this process. Returns the error.
 */
export const failsCleanly = <A, R>(
  effect: Effect.Effect<A, CommandError.CommandError, R>
): Effect.Effect<CommandError.CommandError, never, R> =>
  Effect.gen(function*() {
    const fdsBefore = openFdCount()
    const error = yield* Effect.flip(effect).pipe(
      Effect.orDieWith((value) => new Error(`expected a failure, got ${String(value)}`))
    )
    expect(zombieChildren()).toEqual([])
    expect(openFdCount()).toBe(fdsBefore)
    return error
  })

/** The interleaved output of `probe --interleave n` with stderr joined to stdout. */
export const interleaved = (n: number): string => {
  let out = ""
  for (let i = 0; i < n; i++) out += `out ${i}\nerr ${i}\n`
  return out
}

/** The probe's rendered command line, as errors carry it. */
export const rendered = (command: Command.Command): string => {
  const line = Command.toString(command)
  if (line._tag === "Left") throw line.left
  return line.right
}

/**
 * An error's message as every error writes it: one line of at most 300 characters, the program
 * (`program`, then its arguments, perhaps shortened in the middle), then `: what`, then `: tail`
 * when given (the output's last line, as it ends the message).
 */
export const expectHeadline = (
  message: string,
  parts: { readonly program: string; readonly what: string; readonly tail?: string }
): void => {
  expect(message).not.toMatch(/[\n\r\u2028\u2029]/)
  expect(message.length).toBeLessThanOrEqual(300)
  expect(message.startsWith(`${parts.program} `) || message.startsWith(`${parts.program}:`)).toBe(true)
  expect(message).toContain(`: ${parts.what}`)
  if (parts.tail !== undefined) expect(message.endsWith(`: ${parts.what}: ${parts.tail}`)).toBe(true)
  else expect(message.endsWith(`: ${parts.what}`)).toBe(true)
}
