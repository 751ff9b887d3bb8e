/**
 * Reads the wrapper's reports out of the remote stderr stream (see `remote.ts`): a line
 * `\0<nonce> pid <n>` (or `\0<nonce> cwd` when a working directory was refused) before the
 * command starts, in a pipeline `\0<nonce> stage <i> <n>` as each stage ends, and
 * `\0<nonce> status <n>` once it ended. Everything else is the command's
 * stderr, passed on as it came; bytes before the first report are the remote shell's own (its
 * start-up noise, or ssh's reason for failing to connect).
 */

/** What the wrapper reported. */
export type Report =
  | { readonly _tag: "Started"; readonly pid: number }
  | { readonly _tag: "BadWorkingDirectory" }
  | { readonly _tag: "Stage"; readonly index: number; readonly code: number }
  | { readonly _tag: "Status"; readonly code: number }

const newline = 0x0a
const nul = 0x00

/** Concatenation of byte arrays. */
const join = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * A streaming parser: `feed` splits a chunk into the bytes around reports and the reports, in
 * order. A possible report's beginning is held back until it is known not to be one.
 */
export const reportParser = (nonce: string) => {
  const prefix = new TextEncoder().encode(`\0${nonce} `)
  const decoder = new TextDecoder()
  let held: Uint8Array = new Uint8Array(0)

  /** Whether `bytes` from `at` is a report's beginning (true) or cannot be one (false). */
  const couldStart = (bytes: Uint8Array, at: number): boolean => {
    for (let i = 0; i < prefix.length && at + i < bytes.length; i++) {
      if (bytes[at + i] !== prefix[i]) return false
    }
    return true
  }

  const parse = (line: string): Report | undefined => {
    const [what, ...rest] = line.split(" ")
    if (what === "cwd" && rest.length === 0) return { _tag: "BadWorkingDirectory" }
    if (!rest.every((word) => /^\d+$/.test(word))) return undefined
    const [a, b] = rest.map(Number)
    if (rest.length === 1 && what === "pid") return { _tag: "Started", pid: a! }
    if (rest.length === 1 && what === "status") return { _tag: "Status", code: a! }
    if (rest.length === 2 && what === "stage") return { _tag: "Stage", index: a!, code: b! }
    return undefined
  }

  const feed = (chunk: Uint8Array): ReadonlyArray<Uint8Array | Report> => {
    const bytes = join(held, chunk)
    held = new Uint8Array(0)
    const parts: Array<Uint8Array | Report> = []
    let from = 0
    let at = bytes.indexOf(nul)
    while (at !== -1) {
      if (!couldStart(bytes, at)) {
        at = bytes.indexOf(nul, at + 1)
        continue
      }
      const end = bytes.indexOf(newline, at + prefix.length)
      if (at + prefix.length > bytes.length || end === -1) {
        // An unfinished report, or the start of one: hold it until more comes.
        parts.push(bytes.subarray(from, at))
        held = bytes.slice(at)
        from = bytes.length
        break
      }
      const report = parse(decoder.decode(bytes.subarray(at + prefix.length, end)))
      if (report === undefined) {
        at = bytes.indexOf(nul, at + 1)
        continue
      }
      parts.push(bytes.subarray(from, at), report)
      from = end + 1
      at = bytes.indexOf(nul, from)
    }
    if (from < bytes.length) parts.push(bytes.subarray(from))
    return parts.filter((part) => !(part instanceof Uint8Array) || part.length > 0)
  }

  /** At the end of the stream: what was held back is the command's. */
  const flush = (): Uint8Array => {
    const rest = held
    held = new Uint8Array(0)
    return rest
  }

  return { feed, flush }
}
