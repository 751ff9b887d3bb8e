import * as Duration from "effect/Duration"
import { dual } from "effect/Function"
import * as Redacted from "effect/Redacted"

import type * as Command from "../Command.js"
import * as Signal from "../Signal.js"
import { capabilities } from "./capabilities.js"
import { isCommand, makeCommand, update, withProblem, wordValue } from "./model.js"

const hasNul = (s: string): boolean => s.includes("\0")

/** A value as a problem shows it: whatever a caller passed, typed or not. @internal */
export const show = (u: unknown): string =>
  typeof u === "string"
    ? JSON.stringify(u)
    : typeof u === "bigint"
    ? `${u}n`
    : Array.isArray(u)
    ? `[${u.map(show).join(", ")}]`
    : Duration.isDuration(u)
    ? Duration.format(u)
    : typeof u === "object" && u !== null
    ? "an object"
    : String(u)

/**
 * Whether `u` is a real Uint8Array (a Buffer too): `ArrayBuffer.isView` refuses a Proxy of one,
 * which `instanceof` lets through and which cannot be written from.
 */
const isBytes = (u: unknown): u is Uint8Array => ArrayBuffer.isView(u) && u instanceof Uint8Array

/** Whether `n` is an integer from `min` to `max`. */
const integerIn = (n: unknown, min: number, max: number): n is number =>
  Number.isInteger(n) && (n as number) >= min && (n as number) <= max

const nulProblem = (what: string, word: Command.Word): ReadonlyArray<string> =>
  hasNul(wordValue(word)) ? [`${what} contains a NUL byte`] : []

const emptySetup: Command.ChildSetup = {
  limits: [],
  clearCaps: false,
  allowCaps: [],
  processGroup: "new",
  daemonize: false,
  handshake: false,
  preExec: []
}

/** @internal */
export const defaultMaxOutput = 100 * 1024 * 1024

/** @internal */
export const defaultKillPolicy: Command.KillPolicy = { signal: "SIGTERM", grace: Duration.seconds(3) }

// ---------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------

const fromWords = (program: string, args: ReadonlyArray<Command.Word>): Command.Command => {
  const problems: Array<string> = []
  if (typeof program !== "string") problems.push("the program must be a string")
  else if (program.length === 0) problems.push("the program is empty")
  else if (hasNul(program)) problems.push("the program contains a NUL byte")
  args.forEach((word, i) => problems.push(...nulProblem(`argument ${i + 1}`, word)))
  return makeCommand({
    program,
    args,
    env: { base: "default", entries: [] },
    cwd: undefined,
    stdin: undefined,
    stdout: undefined,
    stderr: undefined,
    passFds: [],
    inputFds: [],
    setup: emptySetup,
    killPolicy: defaultKillPolicy,
    timeout: undefined,
    maxOutput: defaultMaxOutput,
    allowSigpipe: false,
    upstream: undefined,
    problems
  })
}

/** Characters a POSIX shell would interpret; a template's literal text may not contain them. */
const shellSyntax = /[!"#$&'()*;<>?[\\\]^`{|}~]/

const isTemplate = (u: unknown): u is TemplateStringsArray => Array.isArray(u) && Object.hasOwn(u, "raw")

const fromTemplate = (strings: TemplateStringsArray, values: ReadonlyArray<unknown>): Command.Command => {
  const problems: Array<string> = []
  const words: Array<Command.Word> = []
  // Pieces of the word being built; a word with a Redacted piece is Redacted as a whole.
  let current: Array<Command.Word> | undefined
  const flush = () => {
    if (current === undefined) return
    const redacted = current.some((w) => typeof w !== "string")
    const text = current.map(wordValue).join("")
    words.push(redacted ? Redacted.make(text) : text)
    current = undefined
  }
  const literal = (text: string) => {
    const syntax = text.match(shellSyntax)
    if (syntax !== null) {
      problems.push(
        `the template's literal text contains the shell character ${JSON.stringify(syntax[0])}; ` +
          "no shell runs here: pass that text as an interpolated value"
      )
    }
    const parts = text.split(/\s+/)
    parts.forEach((part, i) => {
      if (i > 0) flush()
      if (part.length > 0) (current ??= []).push(part)
    })
  }
  // A template with an invalid escape (`C:\users`) has no cooked text: use the raw text, whose
  // backslash is then reported like any other shell character.
  const texts: ReadonlyArray<string> = strings.map((text: string | undefined, i) => text ?? strings.raw[i]!)
  texts.forEach((text, i) => {
    literal(text)
    if (i >= values.length) return
    const value = values[i]
    if (Array.isArray(value)) {
      const glued = current !== undefined || /^\S/.test(texts[i + 1] ?? "")
      if (glued) problems.push(`interpolated array ${i + 1} must stand alone as words, not be glued to text`)
      flush()
      for (const element of value) {
        if (typeof element === "string" || Redacted.isRedacted(element)) words.push(element as Command.Word)
        else problems.push(`interpolated array ${i + 1} contains a ${typeof element}, not a string`)
      }
    } else if (typeof value === "string" || Redacted.isRedacted(value)) {
      ;(current ??= []).push(value as Command.Word)
    } else if (typeof value === "number" || typeof value === "bigint") {
      ;(current ??= []).push(String(value))
    } else {
      problems.push(`interpolated value ${i + 1} is a ${value === null ? "null" : typeof value}, not a string`)
    }
  })
  flush()
  const [program, ...args] = words
  if (program === undefined) return withProblem(fromWords("", []), ...problems)
  if (typeof program !== "string") {
    return withProblem(fromWords("<redacted>", args), "the program cannot be Redacted", ...problems)
  }
  return withProblem(fromWords(program, args), ...problems)
}

/** @internal */
export const make = (
  first: string | TemplateStringsArray,
  ...rest: ReadonlyArray<unknown>
): Command.Command =>
  isTemplate(first) ? fromTemplate(first, rest) : fromWords(first, rest as ReadonlyArray<Command.Word>)

/** @internal */
export const fromArgv = (argv: ReadonlyArray<Command.Word>): Command.Command => {
  const [program, ...args] = argv
  if (program === undefined) return fromWords("", [])
  if (typeof program !== "string") {
    return withProblem(fromWords("<redacted>", args), "the program cannot be Redacted")
  }
  return fromWords(program, args)
}

// ---------------------------------------------------------------------------------------------
// arguments
// ---------------------------------------------------------------------------------------------

/** @internal */
export const args = dual<
  (words: ReadonlyArray<Command.Word>) => (self: Command.Command) => Command.Command,
  (self: Command.Command, words: ReadonlyArray<Command.Word>) => Command.Command
>(2, (self, words) => {
  const first = self.args.length + 1
  const problems = words.flatMap((word, i) => nulProblem(`argument ${first + i}`, word))
  return withProblem(update(self, { args: [...self.args, ...words] }), ...problems)
})

/** @internal */
export const arg = dual<
  (word: Command.Word) => (self: Command.Command) => Command.Command,
  (self: Command.Command, word: Command.Word) => Command.Command
>(2, (self, word) => args(self, [word]))

/** @internal */
export const argPair = dual<
  (name: string, value: Command.Word) => (self: Command.Command) => Command.Command,
  (self: Command.Command, name: string, value: Command.Word) => Command.Command
>(
  3,
  (self, name, value) =>
    arg(self, typeof value === "string" ? `${name}=${value}` : Redacted.make(`${name}=${Redacted.value(value)}`))
)

// ---------------------------------------------------------------------------------------------
// environment
// ---------------------------------------------------------------------------------------------

const envNameProblems = (name: string): ReadonlyArray<string> => {
  if (typeof name !== "string" || name.length === 0) return ["an environment variable name is empty"]
  if (name.includes("=")) return [`the environment variable name ${JSON.stringify(name)} contains "="`]
  if (hasNul(name)) return ["an environment variable name contains a NUL byte"]
  return []
}

const addEnvEntry = (self: Command.Command, entry: Command.EnvEntry): Command.Command => {
  const problems = [
    ...envNameProblems(entry.name),
    ...(entry._tag === "Set" ? nulProblem(`the value of ${entry.name}`, entry.value) : [])
  ]
  const entries = [...self.env.entries]
  const at = entries.findIndex((e) => e.name === entry.name)
  if (at >= 0) entries[at] = entry
  else entries.push(entry)
  const base = self.env.base === "default" ? "empty" : self.env.base
  return withProblem(update(self, { env: { base, entries } }), ...problems)
}

/** @internal */
export const env = dual<
  (name: string, value: Command.Word) => (self: Command.Command) => Command.Command,
  (self: Command.Command, name: string, value: Command.Word) => Command.Command
>(3, (self, name, value) => addEnvEntry(self, { _tag: "Set", name, value }))

/** @internal */
export const envString = dual<
  (assignment: Command.Word) => (self: Command.Command) => Command.Command,
  (self: Command.Command, assignment: Command.Word) => Command.Command
>(2, (self, assignment) => {
  const text = wordValue(assignment)
  const eq = text.indexOf("=")
  if (eq < 0) {
    const shown = typeof assignment === "string" ? JSON.stringify(text) : "<redacted>"
    return withProblem(self, `the environment string ${shown} has no "="`)
  }
  const value = text.slice(eq + 1)
  return env(self, text.slice(0, eq), typeof assignment === "string" ? value : Redacted.make(value))
})

/** @internal */
export const envPass = dual<
  (...names: ReadonlyArray<string>) => (self: Command.Command) => Command.Command,
  (self: Command.Command, ...names: ReadonlyArray<string>) => Command.Command
>((args) => isCommand(args[0]), (self, ...names) =>
  names.reduce(
    (cmd, name) => addEnvEntry(cmd, { _tag: "Pass", name }),
    // Like every env combinator, even `envPass()` of no names makes the environment explicit.
    self.env.base === "default" ? update(self, { env: { base: "empty", entries: [] } }) : self
  ))

/** @internal */
export const envUnset = dual<
  (name: string) => (self: Command.Command) => Command.Command,
  (self: Command.Command, name: string) => Command.Command
>(2, (self, name) =>
  // Removing one variable means keeping the others: a fresh command keeps inheriting.
  addEnvEntry(self.env.base === "default" ? envInherit(self) : self, { _tag: "Unset", name }))

/** @internal */
export const commonEnvNames = ["LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "HOME", "USER", "LOGNAME", "TMPDIR"] as const

/** @internal */
export const envPassCommon = (self: Command.Command): Command.Command =>
  envPass(env(self, "LC_ALL", "C"), ...commonEnvNames)

/** @internal */
export const envInherit = (self: Command.Command): Command.Command =>
  update(self, { env: { base: "inherit", entries: self.env.entries } })

/** @internal */
export const envExtend = dual<
  (variables: Readonly<Record<string, Command.Word>>) => (self: Command.Command) => Command.Command,
  (self: Command.Command, variables: Readonly<Record<string, Command.Word>>) => Command.Command
>(
  2,
  (self, variables) => Object.entries(variables).reduce((cmd, [name, value]) => env(cmd, name, value), envInherit(self))
)

/** @internal */
export const envClear = (self: Command.Command): Command.Command =>
  update(self, { env: { base: "empty", entries: [] } })

// ---------------------------------------------------------------------------------------------
// working directory and stdio
// ---------------------------------------------------------------------------------------------

/** @internal */
export const workingDirectory = dual<
  (dir: string) => (self: Command.Command) => Command.Command,
  (self: Command.Command, dir: string) => Command.Command
>(2, (self, dir) => {
  const problems: Array<string> = []
  if (self.cwd !== undefined) problems.push("the working directory is set twice")
  if (typeof dir !== "string" || dir.length === 0) problems.push("the working directory is empty")
  else if (hasNul(dir)) problems.push("the working directory contains a NUL byte")
  return withProblem(update(self, { cwd: dir }), ...problems)
})

const pathProblems = (what: string, path: string): ReadonlyArray<string> =>
  typeof path !== "string" || path.length === 0
    ? [`the ${what} is empty`]
    : hasNul(path)
    ? [`the ${what} contains a NUL byte`]
    : []

/** The largest fd number: fds are C ints. */
const largestFd = 2 ** 31 - 1

const fdProblems = (what: string, fd: number, min: number): ReadonlyArray<string> =>
  !integerIn(fd, min, Infinity)
    ? [`${what} must be an integer ≥ ${min}, not ${show(fd)}`]
    : fd > largestFd
    ? [`${what} must be at most ${largestFd} (fds are C ints), not ${show(fd)}`]
    : []

const inputTags = ["Null", "Inherit", "Fd", "Bytes", "Text", "Stream", "Pipe", "File"]
const outputTags = ["Null", "Inherit", "Fd", "Capture", "Pipe", "File", "Sink", "ForEach"]
const errorOutputTags = [...outputTags, "ToStdout"]

/** A stdio value's problems. A combinator keeps no value that has one: a command holds only what it can render. */
const stdioProblems = (
  what: string,
  s: Command.Input | Command.ErrorOutput,
  tags: ReadonlyArray<string>
): ReadonlyArray<string> => {
  if (typeof s !== "object" || s === null || !tags.includes(s._tag)) {
    return [`${what} cannot be ${typeof s === "object" && s !== null ? show(s._tag) : show(s)}`]
  }
  switch (s._tag) {
    case "Fd":
      return fdProblems(`the fd for ${what}`, s.fd, 0)
    case "File":
      return pathProblems(`file for ${what}`, s.path)
    case "Bytes":
      return isBytes(s.bytes) ? [] : [`the bytes for ${what} must be a Uint8Array, not ${show(s.bytes)}`]
    case "Text":
      return typeof s.text === "string" || Redacted.isRedacted(s.text)
        ? []
        : [`the text for ${what} must be a string or a Redacted string, not ${show(s.text)}`]
    case "ForEach":
      return typeof s.f === "function" ? [] : [`the function for ${what} must be a function, not ${show(s.f)}`]
    default:
      return []
  }
}

const shorthands: Record<string, string> = {
  null: "Null",
  inherit: "Inherit",
  pipe: "Pipe",
  capture: "Capture",
  stdout: "ToStdout"
}

/**
 * A stdio value in the words a user writes it: its shorthand (`"pipe"`) where it has one, else
 * the constructor (`Output.file("/log")`).
 */
export const spokenStdio = (
  io: Command.Input | Command.Output | Command.ErrorOutput,
  namespace: "Input" | "Output"
): string => {
  const shorthand = Object.keys(shorthands).find((word) => shorthands[word] === io._tag)
  if (shorthand !== undefined) return JSON.stringify(shorthand)
  switch (io._tag) {
    case "Fd":
      return `${namespace}.fd(${io.fd})`
    case "File":
      return `${namespace}.file(${JSON.stringify(io.path)})`
    default:
      return `${namespace}.${io._tag.charAt(0).toLowerCase()}${io._tag.slice(1)}(…)`
  }
}

const stdioShorthand = <A extends { readonly _tag: string }>(
  s: A | "null" | "inherit" | "pipe" | "capture" | "stdout"
): A => typeof s === "string" ? ({ _tag: Object.hasOwn(shorthands, s) ? shorthands[s] : s } as A) : s

/** The first stage of a pipeline (the command itself otherwise). @internal */
export const firstStage = (self: Command.Command): Command.Command =>
  self.upstream === undefined ? self : firstStage(self.upstream.command)

/** Applies `f` to the first stage of a pipeline, keeping the links. @internal */
export const mapFirstStage = (self: Command.Command, f: (first: Command.Command) => Command.Command): Command.Command =>
  self.upstream === undefined
    ? f(self)
    : update(self, { upstream: { ...self.upstream, command: mapFirstStage(self.upstream.command, f) } })

/** Every stage of a pipeline, first to last. @internal */
export const stagesOf = (self: Command.Command): Array<Command.Command> =>
  self.upstream === undefined ? [self] : [...stagesOf(self.upstream.command), self]

/** @internal */
export const standaloneStages = (self: Command.Command): Array<Command.Command> =>
  stagesOf(self).map((stage) => (stage.upstream === undefined ? stage : update(stage, { upstream: undefined })))

/** @internal */
export const joints = (self: Command.Command): Array<Command.PipeSource> =>
  stagesOf(self).flatMap((stage) => (stage.upstream === undefined ? [] : [stage.upstream.from]))

/** @internal */
export const stdin = dual<
  (input: Command.InputLike) => (self: Command.Command) => Command.Command,
  (self: Command.Command, input: Command.InputLike) => Command.Command
>(2, (self, input) =>
  // A pipeline's input is its first stage's.
  mapFirstStage(self, (first) => {
    const value = stdioShorthand<Command.Input>(input)
    const twice = first.stdin !== undefined ? ["stdin is set twice (input given twice)"] : []
    const problems = stdioProblems("stdin", value, inputTags)
    return withProblem(problems.length > 0 ? first : update(first, { stdin: value }), ...twice, ...problems)
  }))

/** @internal */
export const feed = dual<
  (data: string | Uint8Array | Redacted.Redacted<string>) => (self: Command.Command) => Command.Command,
  (self: Command.Command, data: string | Uint8Array | Redacted.Redacted<string>) => Command.Command
>(
  2,
  (self, data) =>
    stdin(self, data instanceof Uint8Array ? { _tag: "Bytes", bytes: data } : { _tag: "Text", text: data })
)

/** @internal */
export const stdout = dual<
  (output: Command.OutputLike) => (self: Command.Command) => Command.Command,
  (self: Command.Command, output: Command.OutputLike) => Command.Command
>(2, (self, output) => {
  const value = stdioShorthand<Command.Output>(output)
  const twice = self.stdout !== undefined ? ["stdout is set twice"] : []
  const problems = stdioProblems("stdout", value, outputTags)
  return withProblem(problems.length > 0 ? self : update(self, { stdout: value }), ...twice, ...problems)
})

/** @internal */
export const stderr = dual<
  (output: Command.ErrorOutputLike) => (self: Command.Command) => Command.Command,
  (self: Command.Command, output: Command.ErrorOutputLike) => Command.Command
>(2, (self, output) => {
  const value = stdioShorthand<Command.ErrorOutput>(output)
  const twice = self.stderr !== undefined ? ["stderr is set twice"] : []
  const problems = stdioProblems("stderr", value, errorOutputTags)
  return withProblem(problems.length > 0 ? self : update(self, { stderr: value }), ...twice, ...problems)
})

// ---------------------------------------------------------------------------------------------
// file descriptors
// ---------------------------------------------------------------------------------------------

const fdInUse = (self: Command.Command, fd: number): boolean =>
  self.passFds.some((p) => p.fd === fd) || self.inputFds.some((p) => p.fd === fd)

/** @internal */
export const passFd = dual<
  (fd: number, options?: { readonly closeParent?: boolean }) => (self: Command.Command) => Command.Command,
  (self: Command.Command, fd: number, options?: { readonly closeParent?: boolean }) => Command.Command
>((args) => isCommand(args[0]), (self, fd, options) => {
  const problems = fdProblems("a passed fd", fd, 3)
  if (problems.length > 0) return withProblem(self, ...problems)
  if (self.inputFds.some((p) => p.fd === fd)) return withProblem(self, `fd ${fd} is already an input fd`)
  // virCommandPassFD: passing the same fd twice is ignored, the first flags win.
  if (fdInUse(self, fd)) return self
  return update(self, { passFds: [...self.passFds, { fd, closeParent: options?.closeParent ?? false }] })
})

/** @internal */
export const inputFd = dual<
  (fd: number, data: string | Uint8Array) => (self: Command.Command) => Command.Command,
  (self: Command.Command, fd: number, data: string | Uint8Array) => Command.Command
>(3, (self, fd, data) => {
  const problems = fdProblems("an input fd", fd, 3)
  if (problems.length > 0) return withProblem(self, ...problems)
  if (fdInUse(self, fd)) return withProblem(self, `fd ${fd} is given twice`)
  if (typeof data !== "string" && !isBytes(data)) {
    return withProblem(self, `the data for input fd ${fd} must be a string or bytes, not ${show(data)}`)
  }
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data
  return update(self, { inputFds: [...self.inputFds, { fd, bytes }] })
})

// ---------------------------------------------------------------------------------------------
// child setup
// ---------------------------------------------------------------------------------------------

const setSetup = (self: Command.Command, patch: Partial<Command.ChildSetup>, ...problems: ReadonlyArray<string>) =>
  withProblem(update(self, { setup: { ...self.setup, ...patch } }), ...problems)

/** @internal */
export const umask = dual<
  (mask: number) => (self: Command.Command) => Command.Command,
  (self: Command.Command, mask: number) => Command.Command
>(2, (self, mask) =>
  integerIn(mask, 0, 0o777)
    ? setSetup(self, { umask: mask })
    : withProblem(self, `the umask must be an integer from 0 to 0o777, not ${show(mask)}`))

// Past 2^53 a number is no longer exact: such a limit could not be set as written.
const limitProblems = (resource: string, value: Command.LimitValue): ReadonlyArray<string> =>
  value === "unlimited"
    ? []
    : !integerIn(value, 0, Infinity)
    ? [`the limit ${resource} must be "unlimited" or an integer ≥ 0, not ${show(value)}`]
    : value > Number.MAX_SAFE_INTEGER
    ? [`the limit ${resource} must be at most 2^53-1 (or "unlimited"), not ${show(value)}`]
    : []

/** @internal */
export const limitResources = [
  "AS",
  "CORE",
  "CPU",
  "DATA",
  "FSIZE",
  "LOCKS",
  "MEMLOCK",
  "MSGQUEUE",
  "NICE",
  "NOFILE",
  "NPROC",
  "RSS",
  "RTPRIO",
  "RTTIME",
  "SIGPENDING",
  "STACK"
] as const

/** @internal */
export const limit = dual<
  (
    resource: Command.LimitResource,
    value: Command.LimitValue | { readonly soft: Command.LimitValue; readonly hard: Command.LimitValue }
  ) => (self: Command.Command) => Command.Command,
  (
    self: Command.Command,
    resource: Command.LimitResource,
    value: Command.LimitValue | { readonly soft: Command.LimitValue; readonly hard: Command.LimitValue }
  ) => Command.Command
>(3, (self, resource, value) => {
  if (!(limitResources as ReadonlyArray<string>).includes(resource)) {
    return withProblem(self, `unknown resource limit ${show(resource)}`)
  }
  const pair = typeof value === "object" && value !== null
  const { hard, soft } = pair ? value : { soft: value, hard: value }
  // One value stands for both: report it once.
  const problems = pair
    ? [...limitProblems(resource, soft), ...limitProblems(resource, hard)]
    : [...limitProblems(resource, value)]
  if (problems.length === 0 && hard !== "unlimited" && (soft === "unlimited" || soft > hard)) {
    problems.push(`the soft limit ${resource} exceeds its hard limit`)
  }
  if (problems.length > 0) return withProblem(self, ...problems)
  const limits = [...self.setup.limits.filter((l) => l.resource !== resource), { resource, soft, hard }]
  return setSetup(self, { limits })
})

/** NGROUPS_MAX: setgroups refuses a longer list. */
const largestGroupList = 65536

// (uid_t)-1 means "unchanged" to setresuid and setresgid: it is no id.
const largestId = 2 ** 32 - 2

const idProblems = (what: string, id: number | string): ReadonlyArray<string> =>
  typeof id === "number"
    ? !integerIn(id, 0, Infinity)
      ? [`the ${what} must be an id ≥ 0, not ${show(id)}`]
      : id > largestId
      ? [`the ${what} must be an id ≤ ${largestId} (${largestId + 1} means "unchanged"), not ${show(id)}`]
      : []
    // The helper takes groups as one comma-separated list: a comma would add a group (root's).
    : typeof id === "string" && id.length > 0 && !/[\s\p{Cc},:]/u.test(id) && !id.startsWith("-")
    ? []
    : [`the ${what} ${typeof id === "string" ? `name ${show(id)} is not valid` : `cannot be ${show(id)}`}`]

/** @internal */
export const uid = dual<
  (user: number | string) => (self: Command.Command) => Command.Command,
  (self: Command.Command, user: number | string) => Command.Command
>(2, (self, user) => setSetup(self, { uid: user }, ...idProblems("user", user)))

/** @internal */
export const gid = dual<
  (group: number | string) => (self: Command.Command) => Command.Command,
  (self: Command.Command, group: number | string) => Command.Command
>(2, (self, group) => setSetup(self, { gid: group }, ...idProblems("group", group)))

/** @internal */
export const groups = dual<
  (groups: ReadonlyArray<number | string>) => (self: Command.Command) => Command.Command,
  (self: Command.Command, groups: ReadonlyArray<number | string>) => Command.Command
>(2, (self, list) =>
  Array.isArray(list)
    ? setSetup(
      self,
      { groups: list },
      ...list.flatMap((g) => idProblems("supplementary group", g)),
      ...(list.length > largestGroupList
        ? [`at most ${largestGroupList} supplementary groups can be set, not ${list.length}`]
        : [])
    )
    : withProblem(self, `the supplementary groups must be a list, not ${show(list)}`))

/** @internal */
export const clearCaps = (self: Command.Command): Command.Command => setSetup(self, { clearCaps: true })

/** @internal */
export const allowCap = dual<
  (capability: Command.Capability) => (self: Command.Command) => Command.Command,
  (self: Command.Command, capability: Command.Capability) => Command.Command
>(2, (self, capability) => {
  if (!Object.hasOwn(capabilities, capability)) {
    return withProblem(self, `unknown capability ${show(capability)}`)
  }
  if (self.setup.allowCaps.includes(capability)) return self
  return setSetup(self, { allowCaps: [...self.setup.allowCaps, capability] })
})

/** @internal */
export const processGroup = dual<
  (mode: "new" | "inherit") => (self: Command.Command) => Command.Command,
  (self: Command.Command, mode: "new" | "inherit") => Command.Command
>(2, (self, mode) =>
  mode === "new" || mode === "inherit"
    ? setSetup(self, { processGroup: mode })
    : withProblem(self, `the process group must be "new" or "inherit", not ${show(mode)}`))

/** @internal */
export const dieWithParent = dual<
  (signal: Signal.Signal | false) => (self: Command.Command) => Command.Command,
  (self: Command.Command, signal: Signal.Signal | false) => Command.Command
>(2, (self, signal) =>
  signal === false || Signal.isSignal(signal)
    ? setSetup(self, { dieWithParent: signal })
    : withProblem(self, `unknown signal ${show(signal)}`))

/** @internal */
export const contain = dual<
  (enabled: boolean) => (self: Command.Command) => Command.Command,
  (self: Command.Command, enabled: boolean) => Command.Command
>(2, (self, enabled) =>
  typeof enabled === "boolean"
    ? setSetup(self, { contain: enabled })
    : withProblem(self, `contain takes true or false, not ${show(enabled)}`))

/** @internal */
export const pidFile = dual<
  (path: string) => (self: Command.Command) => Command.Command,
  (self: Command.Command, path: string) => Command.Command
>(2, (self, path) => setSetup(self, { pidFile: path }, ...pathProblems("pid file", path)))

/** @internal */
export const daemonize = dual<
  (options?: { readonly pidFile?: string }) => (self: Command.Command) => Command.Command,
  (self: Command.Command, options?: { readonly pidFile?: string }) => Command.Command
>((args) => isCommand(args[0]), (self, options) => {
  const daemon = setSetup(self, { daemonize: true })
  return options?.pidFile !== undefined ? pidFile(daemon, options.pidFile) : daemon
})

/** @internal */
export const handshake = (self: Command.Command): Command.Command =>
  self.setup.handshake ? withProblem(self, "the handshake is required twice") : setSetup(self, { handshake: true })

const ioPriorityClasses: ReadonlyArray<unknown> = ["realtime", "best-effort", "idle"]

const preExecProblems = (action: Command.PreExecAction): ReadonlyArray<string> => {
  if (typeof action !== "object" || action === null) return [`a pre-exec action cannot be ${show(action)}`]
  switch (action._tag) {
    case "Nice":
      return integerIn(action.increment, -40, 40)
        ? []
        : [`the nice increment must be an integer from -40 to 40, not ${show(action.increment)}`]
    case "OomScoreAdjust":
      return integerIn(action.value, -1000, 1000)
        ? []
        : [`the OOM score adjustment must be an integer from -1000 to 1000, not ${show(action.value)}`]
    case "IoPriority":
      return ioPriorityClasses.includes(action.class) && integerIn(action.level, 0, 7)
        ? []
        : [
          "the I/O priority must be a class (realtime, best-effort, idle) with a level from 0 to 7, " +
          `not ${show(action.class)} at level ${show(action.level)}`
        ]
    case "Setsid":
    case "NoNewPrivileges":
      return []
    default:
      return [`unknown pre-exec action ${show((action as { readonly _tag: unknown })._tag)}`]
  }
}

/** @internal */
export const preExec = dual<
  (action: Command.PreExecAction) => (self: Command.Command) => Command.Command,
  (self: Command.Command, action: Command.PreExecAction) => Command.Command
>(2, (self, action) => {
  const problems = preExecProblems(action)
  return problems.length > 0
    ? withProblem(self, ...problems)
    : setSetup(self, { preExec: [...self.setup.preExec, action] })
})

// ---------------------------------------------------------------------------------------------
// kill policy
// ---------------------------------------------------------------------------------------------

/** @internal */
export const killSignal = dual<
  (signal: Signal.Signal) => (self: Command.Command) => Command.Command,
  (self: Command.Command, signal: Signal.Signal) => Command.Command
>(2, (self, signal) =>
  Signal.isSignal(signal)
    ? update(self, { killPolicy: { ...self.killPolicy, signal } })
    : withProblem(self, `unknown signal ${show(signal)}`))

/**
 * `input` as a duration, if it is one. Effect reads a negative or NaN input as zero: here it is
 * none. Infinity is a duration: each caller says what it means.
 * @internal
 */
export const durationOf = (input: Duration.DurationInput): Duration.Duration | undefined => {
  const negative = typeof input === "number"
    ? !(input >= 0)
    : typeof input === "bigint"
    ? input < 0n
    : typeof input === "string"
    ? Number.parseFloat(input) < 0
    : Array.isArray(input) && input.some((n) => !(typeof n !== "number" || n >= 0))
  const decoded = Duration.decodeUnknown(input)
  return negative || decoded._tag === "None" ? undefined : decoded.value
}

/** @internal */
export const killGrace = dual<
  (grace: Duration.DurationInput) => (self: Command.Command) => Command.Command,
  (self: Command.Command, grace: Duration.DurationInput) => Command.Command
>(2, (self, input) => {
  const grace = durationOf(input)
  // An endless grace would let a child that ignores the kill signal hold every close forever.
  if (grace === undefined || !Duration.isFinite(grace)) {
    return withProblem(self, `the kill grace must be a finite duration ≥ 0, not ${show(input)}`)
  }
  return update(self, { killPolicy: { ...self.killPolicy, grace } })
})

// ---------------------------------------------------------------------------------------------
// timeouts, output limits, pipelines
// ---------------------------------------------------------------------------------------------

/** @internal */
export const timeout = dual<
  (duration: Duration.DurationInput) => (self: Command.Command) => Command.Command,
  (self: Command.Command, duration: Duration.DurationInput) => Command.Command
>(2, (self, input) => {
  const duration = durationOf(input)
  if (duration === undefined || Duration.isZero(duration)) {
    return withProblem(self, `the timeout must be a finite, positive duration or Infinity (none), not ${show(input)}`)
  }
  return update(self, { timeout: Duration.isFinite(duration) ? duration : undefined })
})

/** @internal */
export const allowSigpipe = (self: Command.Command): Command.Command => update(self, { allowSigpipe: true })

/** @internal */
export const maxOutput = dual<
  (bytes: number) => (self: Command.Command) => Command.Command,
  (self: Command.Command, bytes: number) => Command.Command
>(2, (self, bytes) =>
  bytes === Infinity || integerIn(bytes, 0, Number.MAX_SAFE_INTEGER)
    ? update(self, { maxOutput: bytes })
    : withProblem(
      self,
      integerIn(bytes, 0, Infinity)
        ? `the output limit must be at most 2^53-1 bytes (or Infinity), not ${show(bytes)}`
        : `the output limit must be a whole number of bytes ≥ 0 or Infinity, not ${show(bytes)}`
    ))

/** @internal */
export const pipeTo = dual<
  (
    into: Command.Command,
    options?: { readonly from?: Command.PipeSource }
  ) => (self: Command.Command) => Command.Command,
  (self: Command.Command, into: Command.Command, options?: { readonly from?: Command.PipeSource }) => Command.Command
>((args) => isCommand(args[0]) && isCommand(args[1]), (self, into, options) => {
  const from = options?.from ?? "stdout"
  // Each problem is recorded on the stage it is about, so that validation names the right stage.
  // What no stage of a pipeline may be (a daemon, …) is checked by validation, whenever it was set.
  const left: Array<string> = []
  if (from !== "stderr" && self.stdout !== undefined) left.push("a stage that pipes its stdout cannot set stdout")
  if (from !== "stdout" && self.stderr !== undefined) left.push("a stage that pipes its stderr cannot set stderr")
  const right: Array<string> = []
  if (!["stdout", "stderr", "both"].includes(from)) {
    right.push(`a pipe reads stdout, stderr or both, not ${String(from)}`)
  }
  if (firstStage(into).stdin !== undefined) right.push("a pipeline stage after the first cannot set its own stdin")
  const upstream = { command: withProblem(self, ...left), from }
  return mapFirstStage(into, (head) => withProblem(update(head, { upstream }), ...right))
})

/** @internal */
export const pipeline = (
  first: Command.Command,
  ...rest: ReadonlyArray<Command.Command>
): Command.Command => rest.reduce((left, right) => pipeTo(left, right), first)
