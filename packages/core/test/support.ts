import { Command, type CommandError } from "@effect-command/core"
import { Either, Redacted } from "effect"

/** A word as plain data, so that `toEqual` tells a Redacted word from a string (and compares its value). */
export const shown = (word: Command.Word): string | { readonly redacted: string } =>
  typeof word === "string" ? word : { redacted: Redacted.value(word) }

/** A command's argv (program first) as plain data. */
export const argv = (cmd: Command.Command): Array<string | { readonly redacted: string }> =>
  [cmd.program, ...cmd.args].map(shown)

/** The reasons `Command.validate` reports, or `[]` for a valid command. */
export const reasons = (cmd: Command.Command): ReadonlyArray<string> =>
  Either.match(Command.validate(cmd), { onLeft: (error) => error.reasons, onRight: () => [] })

/** The `toString` line of a command that must be valid. */
export const line = (
  cmd: Command.Command,
  options?: Parameters<typeof Command.toString>[1]
): string => Either.getOrThrowWith(Command.toString(cmd, options), (error) => error)

export const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes)

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text)

/** The CommandUsageError of a command that must be invalid. */
export const usageError = (cmd: Command.Command): CommandError.CommandUsageError =>
  Either.getOrThrowWith(Either.flip(Command.validate(cmd)), () => new Error("the command is valid"))
