/**
 * Output fields of an error as they are printed: a length and a short preview, the command's
 * secrets blanked. The run that makes the error knows the secrets, the error does not: the run
 * attaches the previews, hidden, and the error's printed forms use them.
 */
import type * as Command from "../Command.js"
import type { Previews } from "./previews-key.js"
import { previewsKey } from "./previews-key.js"
import { scrubbed } from "./scrub.js"

/** How many bytes of output an error's printed form shows. */
const previewBytes = 64

/** Bytes as a person reads them in a printed error: how many, and the first few, secrets blanked. */
export const preview = (command: Command.Command, bytes: Uint8Array): string => {
  if (bytes.length === 0) return "0 bytes"
  const shown = scrubbed(command, bytes.subarray(0, previewBytes), previewBytes)
  return `${bytes.length} bytes: ${JSON.stringify(shown)}${bytes.length > previewBytes ? "…" : ""}`
}

/** `error`, with the previews of its output fields for its printed forms. */
export const withPreviews = <E extends object>(error: E, previews: Previews): E => {
  Object.defineProperty(error, previewsKey, { value: previews })
  return error
}
