/** Command lines as libvirt writes them: quoted for a shell (virCommandToString) or as a log line. */
import type * as Command from "../Command.js"

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

/** A name a shell takes for a variable in an assignment word. */
const isShellName = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)

const renderAssignments = (self: Command.Command, options: RenderOptions): Array<string> => {
  const { environment, escape } = options
  return self.env.entries.flatMap((entry) => {
    // libvirt writes a name as it is; `env` needs one with spaces quoted.
    const name = escape && options.libvirt !== true && !isShellName(entry.name) ? quote(entry.name) : entry.name
    switch (entry._tag) {
      case "Set":
        return [`${name}=${renderWord(entry.value, escape)}`]
      case "Pass": {
        if (environment === undefined) {
          return [escape ? `${name}="$${entry.name}"` : `${name}=$${entry.name}`]
        }
        const value = environment[entry.name]
        return value === undefined ? [] : [`${name}=${renderWord(value, escape)}`]
      }
      case "Unset":
        return []
    }
  })
}

/**
 * What sets up the child's environment, before the program: `env -i` when it starts empty, `env
 * -u NAME` for each variable removed from an inherited one (also `env` alone when a name is not
 * one a shell assigns), then the assignments. With `libvirt`, the assignments only, as
 * virCommandToString writes them.
 */
const renderEnv = (self: Command.Command, options: RenderOptions): Array<string> => {
  const assignments = renderAssignments(self, options)
  if (options.libvirt === true) return assignments
  const unset = self.env.entries.flatMap((e) => e._tag === "Unset" ? ["-u", renderWord(e.name, options.escape)] : [])
  const env = self.env.base === "empty"
    ? "env -i"
    : unset.length > 0 || self.env.entries.some((e) => e._tag !== "Unset" && !isShellName(e.name))
    ? ["env", ...unset].join(" ")
    : undefined
  return env === undefined ? assignments : [env, ...assignments]
}

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

/**
 * How to render: quoted for a shell (`escape`) or not, one option a line, `Pass` variables'
 * values, the environment as libvirt shows it (added variables only).
 */
export interface RenderOptions {
  readonly linebreaks?: boolean
  readonly libvirt?: boolean
  readonly escape: boolean
  readonly environment?: Readonly<Record<string, string | undefined>> | undefined
}

export const render = (
  self: Command.Command,
  options: RenderOptions
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
  options: RenderOptions
): string => {
  const linebreaks = options.linebreaks === true
  let out = ""
  const env = renderEnv(self, options)
  for (const word of env) out += word + " " + (linebreaks ? "\\\n" : "")
  const words: ReadonlyArray<Command.Word> = [self.program, ...self.args]
  // `env` takes a program containing "=" for an assignment: a shell runs it instead.
  if (/^env( |$)/.test(env[0] ?? "") && self.program.includes("=")) out += `sh -c 'exec "$@"' sh `
  out += renderProgram(self.program, options.escape)
  for (let i = 1; i < words.length; i++) {
    out += " " + (linebreaks && breaksBefore(words, i) ? "\\\n" : "") + renderWord(words[i]!, options.escape)
  }
  return out
}

/**
 * The line errors, logs and spans carry: libvirt's (added variables only, as they always showed
 * it), best effort: never fails, NUL bytes shown as `\0`.
 */
export const describe = (self: Command.Command): string =>
  render(self, { escape: true, libvirt: true }).replaceAll("\0", "\\0")
