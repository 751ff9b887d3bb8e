import * as Either from "effect/Either"

import type * as Command from "../Command.js"
import { CommandUsageError } from "../CommandError.js"
import { stagesOf } from "./command.js"

/** libvirt's virBufferEscapeShell: the characters that make a word need quoting. */
const needsQuoting = /[\r\t\n !"#$&'()*;<>?[\\\]^`{|}~]/

/** Quote one word so that a POSIX shell parses it back to exactly the same word. */
export const quote = (word: string): string => {
  if (word.length === 0) return "''"
  if (!needsQuoting.test(word)) return word
  return `'${word.replaceAll("'", "'\\''")}'`
}

const renderWord = (word: Command.Word, escape: boolean): string =>
  typeof word === "string" ? (escape ? quote(word) : word) : "<redacted>"

/** Words a shell (POSIX, or bash/ksh/zsh) parses as syntax when they come first in a command. */
const reservedWords = new Set([
  "case",
  "do",
  "done",
  "elif",
  "else",
  "esac",
  "fi",
  "for",
  "if",
  "in",
  "then",
  "until",
  "while",
  "function",
  "select",
  "time",
  "coproc"
])

/**
 * The program word: also quoted when it contains "=", which a shell would take for an assignment,
 * and when it is a reserved word (`if`, `time`…), which a shell would take for syntax.
 */
const renderProgram = (program: string, escape: boolean): string =>
  escape && (program.includes("=") || reservedWords.has(program)) && !needsQuoting.test(program)
    ? `'${program}'`
    : renderWord(program, escape)

const renderEnv = (
  self: Command.Command,
  escape: boolean,
  environment: Readonly<Record<string, string | undefined>> | undefined
): Array<string> =>
  self.env.entries.flatMap((entry) => {
    switch (entry._tag) {
      case "Set":
        return [`${entry.name}=${renderWord(entry.value, escape)}`]
      case "Pass": {
        if (environment === undefined) {
          return [escape ? `${entry.name}="$${entry.name}"` : `${entry.name}=$${entry.name}`]
        }
        const value = environment[entry.name]
        return value === undefined ? [] : [`${entry.name}=${renderWord(value, escape)}`]
      }
      case "Unset":
        return []
    }
  })

const isOption = (word: Command.Word): boolean => typeof word === "string" && word.startsWith("-")

/**
 * libvirt's newest line-break rule: an argument starts a new line unless it is a value that belongs
 * to an option (it is not an option itself, an option came before it, and the argument before it
 * is an option or another option follows).
 */
const breaksBefore = (words: ReadonlyArray<Command.Word>, i: number): boolean => {
  if (isOption(words[i]!)) return true
  const seenOption = words.slice(0, i).some(isOption)
  const optionAhead = isOption(words[i - 1]!) || words.slice(i + 1).some(isOption)
  return !(seenOption && optionAhead)
}

/** @internal */
const pipeSymbols: Record<Command.PipeSource, string> = {
  stdout: " | ",
  stderr: " 2>&1 >/dev/null | ",
  both: " 2>&1 | "
}

export const render = (
  self: Command.Command,
  options: {
    readonly linebreaks?: boolean
    readonly escape: boolean
    readonly environment?: Readonly<Record<string, string | undefined>> | undefined
  }
): string => {
  // A pipeline: each stage rendered on its own, joined like a shell would.
  const upstream = self.upstream === undefined
    ? ""
    : render(self.upstream.command, options) + pipeSymbols[self.upstream.from] +
      (options.linebreaks === true ? "\\\n" : "")
  return upstream + renderStage(self, options)
}

const renderStage = (
  self: Command.Command,
  options: {
    readonly linebreaks?: boolean
    readonly escape: boolean
    readonly environment?: Readonly<Record<string, string | undefined>> | undefined
  }
): string => {
  const linebreaks = options.linebreaks === true
  let out = ""
  for (const assignment of renderEnv(self, options.escape, options.environment)) {
    out += assignment + " " + (linebreaks ? "\\\n" : "")
  }
  const words: ReadonlyArray<Command.Word> = [self.program, ...self.args]
  out += renderProgram(self.program, options.escape)
  for (let i = 1; i < words.length; i++) {
    out += " " + (linebreaks && breaksBefore(words, i) ? "\\\n" : "") + renderWord(words[i]!, options.escape)
  }
  return out
}

/** A best-effort rendering for error messages: never fails, NUL bytes shown as `\0`. */
export const describe = (self: Command.Command): string => render(self, { escape: true }).replaceAll("\0", "\\0")

const isStringIo = (s: Command.Input | Command.ErrorOutput | undefined): boolean =>
  s !== undefined && ["Bytes", "Text", "Stream", "Pipe", "Capture", "Sink"].includes(s._tag)

/** Every problem of a command: those its combinators recorded and those between its fields. */
export const problems = (self: Command.Command): ReadonlyArray<string> => {
  if (self.upstream === undefined) return stageProblems(self)
  const stages = stagesOf(self)
  return stages.flatMap((stage, i) =>
    [...stageProblems(stage), ...pipelineStageProblems(stage, stages[i + 1]?.upstream?.from)].map((reason) =>
      `stage ${i + 1}: ${reason}`
    )
  )
}

/**
 * What a pipeline stage cannot be, whenever it was set (before or after `pipeTo`). Only the last
 * stage's outputs are read by the run helpers and `start`: an earlier stage's "pipe" would fill
 * up and block it, its "capture" or sink would be dropped.
 */
const pipelineStageProblems = (
  stage: Command.Command,
  joint: Command.PipeSource | undefined
): ReadonlyArray<string> => {
  const found: Array<string> = []
  if (stage.setup.daemonize) found.push("a daemon cannot be a pipeline stage")
  if (stage.setup.handshake) found.push("a pipeline stage cannot require a start-up handshake")
  // Not the last stage; the output its joint takes has its own problem (`pipeTo`).
  const free = joint === undefined
    ? []
    : joint === "stdout"
    ? ["stderr"] as const
    : joint === "stderr"
    ? ["stdout"] as const
    : []
  for (const name of free) {
    const output = stage[name]
    if (output !== undefined && ["Capture", "Pipe", "Sink"].includes(output._tag)) {
      found.push(`only the last stage's ${name} can be captured, piped or sent to a sink`)
    }
  }
  return found
}

const stageProblems = (self: Command.Command): ReadonlyArray<string> => {
  const found = [...self.problems]
  const { setup } = self
  if (setup.pidFile !== undefined && !setup.daemonize) {
    found.push("creation of a pid file requires a daemonized command")
  }
  if (setup.daemonize) {
    if (setup.dieWithParent !== undefined && setup.dieWithParent !== false) {
      found.push("a daemon outlives its parent: it cannot die with it")
    }
    if (self.cwd !== undefined) found.push("a daemonized command always runs in / and cannot set a working directory")
    if ([self.stdin, self.stdout, self.stderr].some(isStringIo) || self.inputFds.length > 0) {
      found.push("cannot mix string I/O with a daemon: give a daemon's stdio as fds, files or null")
    }
  }
  return found
}

/** @internal */
export const validate = (self: Command.Command): Either.Either<Command.Command, CommandUsageError> => {
  const reasons = problems(self)
  return reasons.length === 0
    ? Either.right(self)
    : Either.left(new CommandUsageError({ reasons, command: describe(self) }))
}

/** @internal */
export const toString = (
  self: Command.Command,
  options?: { readonly linebreaks?: boolean; readonly environment?: Readonly<Record<string, string | undefined>> }
): Either.Either<string, CommandUsageError> =>
  Either.map(validate(self), (cmd) => render(cmd, { ...options, escape: true }))

/** @internal */
export const toLogLine = (
  self: Command.Command,
  options?: { readonly environment?: Readonly<Record<string, string | undefined>> }
): Either.Either<string, CommandUsageError> =>
  Either.map(validate(self), (cmd) => render(cmd, { ...options, escape: false }))

/** @internal */
export const resolveEnv = (
  self: Command.Command,
  parent: Readonly<Record<string, string | undefined>>
): Record<string, Command.Word> => {
  // No prototype: "__proto__" and "constructor" are variable names like any other.
  const out: Record<string, Command.Word> = Object.create(null)
  if (self.env.base !== "empty") {
    for (const [name, value] of Object.entries(parent)) if (value !== undefined) out[name] = value
  }
  for (const entry of self.env.entries) {
    switch (entry._tag) {
      case "Set":
        out[entry.name] = entry.value
        break
      case "Pass": {
        // An own variable only: `process.env` inherits Object.prototype's members.
        const value = Object.hasOwn(parent, entry.name) ? parent[entry.name] : undefined
        if (typeof value === "string") out[entry.name] = value
        break
      }
      case "Unset":
        delete out[entry.name]
    }
  }
  return out
}
