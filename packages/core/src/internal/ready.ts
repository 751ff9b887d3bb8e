/**
 * Readiness: waiting until a child's piped output shows a pattern, by reading ahead and keeping
 * what was read for whoever reads the output next.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

import type * as Command from "../Command.js"
import type { IoError } from "../CommandError.js"
import { CommandUsageError, OutputLimitError, ReadinessError } from "../CommandError.js"
import type * as CommandExecutor from "../CommandExecutor.js"
import { concat } from "./buffers.js"
import { durationOf, show } from "./command.js"
import { tailBytes } from "./drain.js"
import { preview, withPreviews } from "./previews.js"
import { describe } from "./render.js"
import { scrubbed } from "./scrub.js"
import { sleep } from "./sleep.js"

/** How much of the text read so far a pattern is matched against: its last 64 Ki characters. */
const window = 64 * 1024

/** One output that `waitFor` can read ahead in: the stream the caller reads, with what was read ahead first. */
export interface Peekable {
  readonly stream: Stream.Stream<Uint8Array, IoError>
  readonly waitFor: (
    pattern: RegExp,
    timeout: Duration.DurationInput | undefined
  ) => Effect.Effect<RegExpExecArray, ReadinessError | OutputLimitError | IoError>
}

/**
 * `stream` (a child's output, read by one reader at a time, a later one getting what is left) with
 * a `waitFor` that reads ahead: every chunk it takes is kept and given first to the next reader of
 * `stream`, so that waiting for a line never loses one.
 */
export const peekable = (
  command: Command.Command,
  name: "stdout" | "stderr",
  stream: Stream.Stream<Uint8Array, IoError>
): Peekable => {
  let ahead: Array<Uint8Array> = []
  let aheadBytes = 0
  const replayed = Stream.suspend(() => {
    const chunks = ahead
    ahead = []
    aheadBytes = 0
    return chunks.length === 0 ? stream : Stream.concat(Stream.fromIterable(chunks), stream)
  })
  const waitFor = (pattern: RegExp, timeout: Duration.DurationInput | undefined) => {
    // A copy without `g` and `y`: their lastIndex would make the same text match once only.
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""))
    const failed = (reason: "Ended" | "Timeout", limit?: Duration.Duration) =>
      new ReadinessError({
        reason,
        pattern: String(pattern),
        stream: name,
        ...(limit !== undefined ? { timeout: limit } : {}),
        output: scrubbed(command, concat(ahead), tailBytes).trim(),
        command: describe(command)
      })
    const search = Effect.scoped(Effect.gen(function*() {
      const decoder = new TextDecoder()
      let text = ""
      const add = (bytes: Uint8Array) => {
        text = (text + decoder.decode(bytes, { stream: true })).slice(-window)
      }
      // What earlier waits read and nobody has taken yet counts too.
      for (const bytes of ahead) add(bytes)
      let match = re.exec(text)
      const pull = yield* Stream.toPull(stream)
      while (match === null) {
        const chunk = yield* Effect.either(pull)
        if (Either.isLeft(chunk)) {
          return yield* Option.isNone(chunk.left) ? Effect.fail(failed("Ended")) : Effect.fail(chunk.left.value)
        }
        for (const bytes of chunk.right) {
          ahead.push(bytes)
          aheadBytes += bytes.length
          add(bytes)
        }
        // What was read ahead is kept for the next reader: as much as a capture may hold.
        if (aheadBytes > command.maxOutput) {
          const output = concat(ahead).slice(0, command.maxOutput)
          const error = new OutputLimitError({
            stream: name,
            limit: command.maxOutput,
            output,
            command: describe(command)
          })
          return yield* Effect.fail(withPreviews(error, { output: preview(command, output) }))
        }
        match = re.exec(text)
      }
      return match
    }))
    const limit = timeout === undefined ? undefined : durationOf(timeout)
    if (limit === undefined || !Duration.isFinite(limit)) return search
    return Effect.raceFirst(search, Effect.zipRight(sleep(limit), Effect.failSync(() => failed("Timeout", limit))))
  }
  return { stream: replayed, waitFor }
}

/** The `waitFor` of a process: the output asked for, if it is piped to the caller; else a usage error. */
export const waitFor = (
  command: Command.Command,
  outputs: Readonly<Record<"stdout" | "stderr", Peekable | undefined>>
): CommandExecutor.Process["waitFor"] =>
(pattern, options) => {
  const name = options?.stream ?? "stdout"
  const problems = [
    ...(pattern instanceof RegExp ? [] : [`waitFor needs a RegExp, not ${show(pattern)}`]),
    ...(options?.timeout === undefined || durationOf(options.timeout) !== undefined
      ? []
      : [`the waitFor timeout must be a duration ≥ 0 or Infinity, not ${show(options.timeout)}`]),
    ...(outputs[name] === undefined ? [`waitFor reads ${name}, which is not piped: set it to "pipe"`] : [])
  ]
  if (problems.length > 0) return Effect.fail(new CommandUsageError({ reasons: problems, command: describe(command) }))
  return outputs[name]!.waitFor(pattern, options?.timeout)
}
