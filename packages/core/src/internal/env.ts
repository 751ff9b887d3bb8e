/** The environment a command's child gets. */
import type * as Command from "../Command.js"

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
