/**
 * An error's message: one line a person reads, of bounded length, made from facts the error keeps
 * in full in its fields. Built only from the error's rendered (redacted) command line and its
 * redacted output, so it shows no secret either.
 */

/** The longest message: the command, what happened and the output's last line share it. */
export const maxMessage = 300

/** How much of the message the command line and the output's last line may take. */
const maxCommand = 100
const maxOutputLine = 100

/** Control characters, and the characters that end a line in some reader, as escapes: one line. */
const oneLine = (text: string): string =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, (c) => {
    switch (c) {
      case "\n":
        return "\\n"
      case "\r":
        return "\\r"
      case "\t":
        return "\\t"
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
    }
  })

/** A cut that does not split a surrogate pair: moved back (`-1`) or on (`+1`) by one when it would. */
const cutAt = (text: string, at: number, away: -1 | 1): number =>
  at > 0 && at < text.length && /[\udc00-\udfff]/.test(text[at]!) ? at + away : at

/** At most `max` characters: the start and the end of a longer text, joined by `…`. */
export const elide = (text: string, max: number): string => {
  if (text.length <= max) return text
  if (max < 2) return "…".slice(0, max)
  const head = cutAt(text, Math.ceil((max - 1) * 0.6), -1)
  const tail = cutAt(text, text.length - (max - 1 - head), 1)
  return `${text.slice(0, head)}…${text.slice(tail)}`
}

/** At most `max` characters: the start of a longer text, then `…`. */
const clip = (text: string, max: number): string =>
  text.length <= max ? text : max < 1 ? "" : `${text.slice(0, cutAt(text, max - 1, -1))}…`

/**
 * The words of a rendered line as the shell would split them, each as written (quotes kept): a
 * word runs to the next space outside quotes. Best effort: a line made elsewhere never fails.
 */
const words = (line: string): Array<string> => {
  const out: Array<string> = []
  let word = ""
  let quote: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === " " && quote === undefined) {
      if (word !== "") out.push(word)
      word = ""
    } else if (c === "\\" && quote !== "'") {
      word += c + (line[++i] ?? "")
    } else {
      if (c === quote) quote = undefined
      else if (quote === undefined && (c === "'" || c === "\"")) quote = c
      word += c
    }
  }
  if (word !== "") out.push(word)
  return out
}

/** A word that sets a variable: `NAME=value`, `'odd name'=value`, `NAME="$NAME"`. */
const isAssignment = (word: string): boolean => /^([^'"=\s\\]+|'[^']*')=/.test(word)

/**
 * A rendered command line without what sets up each stage's environment (`env -i`, `env -u NAME`,
 * `NAME=value`): the programs and their arguments, as a person scans a message for them.
 */
export const programLine = (line: string): string => {
  const ws = words(line)
  const out: Array<string> = []
  let stageStart = true
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i]!
    if (stageStart && w === "env" && ws[i + 1] !== undefined && /^-[iu]$|=/.test(ws[i + 1]!)) {
      while (ws[i + 1] === "-i" || ws[i + 1] === "-u") i += ws[i + 1] === "-u" ? 2 : 1
      continue
    }
    if (stageStart && isAssignment(w)) continue
    stageStart = w === "|"
    out.push(w)
  }
  return out.join(" ")
}

/** How much of the message a pipeline stage's program may take. */
const maxProgram = 40

/**
 * The program of a rendered pipeline line's stage `index` (from 0), as written and one line, its
 * middle cut past `maxProgram` characters; "" when the line has no such stage.
 */
export const stageProgram = (line: string, index: number): string => {
  const ws = words(programLine(line))
  let stage = 0
  for (let i = 0; i < ws.length; i++) {
    if (ws[i] === "|") stage++
    else if (stage === index && (i === 0 || ws[i - 1] === "|")) return elide(oneLine(ws[i]!), maxProgram)
  }
  return ""
}

/** The last line of an output that is not blank, or "". */
export const lastLine = (output: string): string => {
  const lines = output.split("\n")
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    if (line !== "") return line
  }
  return ""
}

/**
 * `<program and arguments>: <what happened>[ (<detail>)][: <last line of output>]`, one line of at
 * most `maxMessage` characters: a long command line loses its middle, a long account or output
 * line its end, a detail (a PATH searched…) its middle, to fit in what the rest leaves.
 */
export const headline = (
  command: string,
  what: string,
  more: { readonly output?: string; readonly detail?: string | undefined } = {}
): string => {
  const program = elide(oneLine(programLine(command)), maxCommand)
  const said = more.output === undefined ? "" : clip(oneLine(lastLine(more.output)), maxOutputLine)
  const tail = said === "" ? "" : `: ${said}`
  const account = clip(oneLine(what), maxMessage - program.length - 2 - tail.length)
  const room = maxMessage - program.length - 2 - account.length - tail.length - 3
  const detail = more.detail === undefined || room < 2 ? "" : ` (${elide(oneLine(more.detail), room)})`
  return `${program}: ${account}${detail}${tail}`
}
