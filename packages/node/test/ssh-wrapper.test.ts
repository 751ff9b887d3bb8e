/**
 * The SSH executor's remote scripts run by local shells, without ssh: the wrapper in both ways it
 * starts a command (with /proc, and with a shell in the new session where there is none), a run
 * cancelled before it started, the kill of a run registered before its group exists, and the sweep
 * of ended registrations.
 */
import { Command, CommandError, CommandExecutor, ExitStatus } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

import { cancellation, killScript, registration, remoteScript, sweepScript } from "../src/internal/ssh/remote.js"
import { waitForLine } from "./support/executor-cases.js"

const nonce = "0123456789abcdef01234567"

/** The plan the executor gets for `command`. */
const planOf = (command: Command.Command) => {
  let plan: CommandExecutor.SpawnPlan | undefined
  const capture = CommandExecutor.make((p) => {
    plan = p
    return Effect.fail(new CommandError.SpawnError({ reason: "Unknown", detail: "captured", command: p.line }))
  })
  Effect.runSync(
    Effect.ignore(Effect.provideService(Command.exitCode(command), CommandExecutor.CommandExecutor, capture))
  )
  return plan!
}

const registry = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "ec-registry-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Runs `script` as the login shell would (`shell -c`), its stderr being the channel's. */
const asLogin = (shell: string, script: string) =>
  Effect.flatMap(
    Command.start(Command.make(shell, "-c", script).pipe(Command.stdout("capture"), Command.stderr("capture"))),
    (process) => process.result
  )

layer(NodeCommandExecutor.layer, { excludeTestServices: true })("the SSH wrapper, run by local shells", (it) => {
  for (const shell of ["dash", "bash"]) {
    for (const procSelf of [true, false]) {
      it.scoped(`${shell}, ${procSelf ? "with" : "without"} /proc: registers, reports the pid and the status, unregisters`, () =>
        Effect.gen(function*() {
          const dir = yield* registry
          const plan = planOf(Command.make("sh", "-c", "echo $$ >&2; exit 3"))
          const result = yield* asLogin(shell, remoteScript(plan, nonce, { registry: dir, procSelf }, {}, false))
          expect(result.status).toEqual(ExitStatus.exited(3))
          const stderr = new TextDecoder().decode(result.stderr)
          const pid = /\0[0-9a-f]{24} pid (\d+)\n/.exec(stderr)?.[1]
          // The reported pid is the command's own: the process that became it.
          expect(stderr.startsWith(`\0${nonce} pid ${pid}\n${pid}\n`)).toBe(true)
          expect(stderr.endsWith(`\0${nonce} status 3\n`)).toBe(true)
          expect(Fs.readFileSync(registration(dir, nonce), "utf8")).toBe("-\n")
        }))

      it.scoped(`${shell}, ${procSelf ? "with" : "without"} /proc: a run cancelled before it registered does not start`, () =>
        Effect.gen(function*() {
          const dir = yield* registry
          Fs.writeFileSync(cancellation(dir, nonce), "")
          const plan = planOf(Command.make("sh", "-c", "echo ran >&2"))
          const result = yield* asLogin(shell, remoteScript(plan, nonce, { registry: dir, procSelf }, {}, false))
          expect(result.status).toEqual(ExitStatus.exited(1))
          expect(new TextDecoder().decode(result.stderr)).toBe(`\0${nonce} status 1\n`)
          expect(Fs.readFileSync(registration(dir, nonce), "utf8")).toBe("-\n")
        }))
    }
  }

  it.scoped("a kill before the group exists reaches the process while it is the wrapper's child, no other", () =>
    Effect.gen(function*() {
      const dir = yield* registry
      const file = registration(dir, nonce)
      // A registered child that leads no group (a background job of a shell without job control).
      const wrapper = yield* Command.start(
        Command.make("sh", "-c", `sleep 1000 & echo "$! $$" >"$1"; echo ready; wait $!; echo "ended $?"`, "sh", file)
          .pipe(Command.stdout("pipe"))
      )
      yield* waitForLine(wrapper, "ready")
      const [child] = Fs.readFileSync(file, "utf8").split(" ").map(Number)
      // Named with another wrapper: not signalled.
      Fs.writeFileSync(file, `${child} ${wrapper.pid + 100000}\n`)
      yield* asLogin("dash", killScript("SIGTERM", dir, nonce))
      expect(() => process.kill(child!, 0)).not.toThrow()
      Fs.writeFileSync(file, `${child} ${wrapper.pid}\n`)
      yield* asLogin("dash", killScript("SIGTERM", dir, nonce))
      yield* waitForLine(wrapper, "ended 143")
    }))

  it.scoped("the sweep removes ended registrations and their cancellations only", () =>
    Effect.gen(function*() {
      const dir = yield* registry
      Fs.writeFileSync(Path.join(dir, "a.pid"), "-\n")
      Fs.writeFileSync(Path.join(dir, "a.cancel"), "")
      Fs.writeFileSync(Path.join(dir, "b.cancel"), "")
      Fs.writeFileSync(Path.join(dir, "b.pid"), "123 456\n")
      // One being written: created, not yet holding its pid.
      Fs.writeFileSync(Path.join(dir, "c.pid"), "")
      Fs.writeFileSync(Path.join(dir, "d.0"), "-\n")
      yield* asLogin("dash", `exec 4>&2; ${sweepScript(dir)} wait`)
      expect(Fs.readdirSync(dir).sort()).toEqual(["b.cancel", "b.pid", "c.pid", "d.0"])
    }))
})
