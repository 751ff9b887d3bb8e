import { type CommandError } from "@effect-command/core"
import { type SshCommandExecutor } from "@effect-command/node"
import type { Effect } from "effect"
import { type Scope } from "effect"
export declare const sshdPath = "/usr/sbin/sshd"
/** Why the SSH tests cannot run here, or undefined when they can. */
export declare const sshdMissing: string | undefined
/** A running sshd and the executor options that reach it. */
export interface Sshd {
  readonly options: SshCommandExecutor.Options
  readonly port: number
  readonly dir: string
}
/**
 * The remote login shell: the user's own (bash here), or dash, which sshd's `ForceCommand` then
 * runs every command line with, as a login shell would.
 */
export type LoginShell = "bash" | "dash"
export declare const startSshd: (shell: LoginShell) => Effect.Effect<Sshd, CommandError.CommandError, Scope.Scope>
// # sourceMappingURL=sshd.d.ts.map
