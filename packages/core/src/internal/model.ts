import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import * as Inspectable from "effect/Inspectable"
import { pipeArguments } from "effect/Pipeable"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"

import type * as Command from "../Command.js"

/** @internal */
export const TypeId: Command.TypeId = Symbol.for("@effect-command/core/Command") as Command.TypeId

/** @internal */
export const isCommand = (u: unknown): u is Command.Command => Predicate.hasProperty(u, TypeId)

/** @internal */
export const wordValue = (word: Command.Word): string => typeof word === "string" ? word : Redacted.value(word)

/** @internal */
export const wordForDisplay = (word: Command.Word): string => typeof word === "string" ? word : "<redacted>"

/** Structural equality over the plain data a Command is made of (arrays, records, bytes, Effect values). */
const deepEquals = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEquals(x, b[i]))
  }
  if (Equal.isEqual(a) || Equal.isEqual(b)) return Equal.equals(a, b)
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a)
    if (keys.length !== Object.keys(b).length) return false
    return keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEquals(a[k], b[k]))
  }
  return false
}

const deepHash = (a: unknown): number => {
  if (a instanceof Uint8Array) {
    let h = Hash.number(a.length)
    for (let i = 0; i < a.length; i++) h = Hash.combine(a[i]!)(h)
    return h
  }
  if (Array.isArray(a)) return a.reduce((h: number, x) => Hash.combine(deepHash(x))(h), Hash.number(a.length))
  if (Equal.isEqual(a)) return Hash.hash(a)
  if (isPlainObject(a)) {
    return Object.keys(a).sort().reduce(
      (h, k) => Hash.combine(Hash.combine(deepHash(a[k]))(Hash.string(k)))(h),
      Hash.string("{}")
    )
  }
  return Hash.hash(a)
}

const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/** The data fields of a Command, in declaration order. */
const fields = [
  "program",
  "args",
  "env",
  "cwd",
  "stdin",
  "stdout",
  "stderr",
  "passFds",
  "inputFds",
  "setup",
  "killPolicy",
  "timeout",
  "maxOutput",
  "allowSigpipe",
  "upstream",
  "problems"
] as const

/** @internal */
export type Fields = { -readonly [K in (typeof fields)[number]]: Command.Command[K] }

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    // pipeArguments takes the IArguments object itself, as Effect's own prototypes pass it.
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  },
  [Equal.symbol](this: Fields, that: unknown): boolean {
    return isCommand(that) && fields.every((k) => deepEquals(this[k], (that as unknown as Fields)[k]))
  },
  [Hash.symbol](this: Fields): number {
    return Hash.cached(this, fields.reduce((h, k) => Hash.combine(deepHash(this[k]))(h), Hash.string("Command")))
  },
  toJSON(this: Fields) {
    return {
      _id: "@effect-command/core/Command",
      program: this.program,
      args: this.args.map(wordForDisplay),
      env: {
        base: this.env.base,
        entries: this.env.entries.map((e) =>
          e._tag === "Set" ? { _tag: e._tag, name: e.name, value: wordForDisplay(e.value) } : e
        )
      },
      cwd: this.cwd,
      stdin: this.stdin === undefined ? undefined : describeStdio(this.stdin),
      stdout: this.stdout === undefined ? undefined : describeStdio(this.stdout),
      stderr: this.stderr === undefined ? undefined : describeStdio(this.stderr),
      passFds: this.passFds,
      inputFds: this.inputFds.map(({ bytes, fd }) => ({ fd, bytes: bytes.length })),
      setup: this.setup,
      killPolicy: { signal: this.killPolicy.signal, grace: this.killPolicy.grace.toJSON() },
      timeout: this.timeout?.toJSON(),
      maxOutput: this.maxOutput,
      allowSigpipe: this.allowSigpipe,
      upstream: this.upstream === undefined
        ? undefined
        : { from: this.upstream.from, command: Inspectable.toJSON(this.upstream.command) },
      problems: this.problems
    }
  },
  toString(this: Fields) {
    return Inspectable.format(Inspectable.toJSON(this))
  },
  [Inspectable.NodeInspectSymbol](this: Fields) {
    return Inspectable.toJSON(this)
  }
}

const describeStdio = (s: Command.Input | Command.Output | Command.ErrorOutput): unknown => {
  switch (s._tag) {
    case "Bytes":
      return { _tag: s._tag, bytes: s.bytes.length }
    case "Text":
      return { _tag: s._tag, text: wordForDisplay(s.text) }
    case "Stream":
    case "Sink":
    case "ForEach":
      return { _tag: s._tag }
    default:
      return s
  }
}

/** @internal */
export const makeCommand = (f: Fields): Command.Command => Object.assign(Object.create(Proto), f)

/** @internal */
export const update = (self: Command.Command, patch: Partial<Fields>): Command.Command =>
  makeCommand({ ...(self as unknown as Fields), ...patch })

/** @internal */
export const withProblem = (self: Command.Command, ...reasons: ReadonlyArray<string>): Command.Command =>
  reasons.length === 0 ? self : update(self, { problems: [...self.problems, ...reasons] })
