/**
 * Containment, the parent's side: a contained stage is spawned as the helper in supervisor mode
 * (native/supervise.c), which forks the target, stays as its parent and answers for every process
 * the target starts. Here the supervisor's status lines become the target's pid, exec report and
 * exact wait status, and the target is presented as a `Child` whose signals go through the
 * supervisor's control pipe.
 */
import type { Readable, Writable } from "node:stream"

import type { CommandExecutor } from "@effect-command/core"
import { Signal } from "@effect-command/core"
import * as Duration from "effect/Duration"

import { listen } from "./pipe-reader.js"
import { endedUnread } from "./read-into.js"
import { type Child, type ExitInfo, exitNotifier } from "./spawn.js"

/** A contained stage: the target as a Child, and what only the supervisor can do. */
export interface Supervision {
  readonly target: Child
  /** The supervisor itself, reaped once the whole tree was. */
  readonly supervisor: Child
  /** Sends a signal to every process of the tree (stopped ones get SIGCONT after it). */
  readonly signalTree: (signal: Signal.Signal) => void
  /** What the whole tree used, once the supervisor reaped all of it. */
  readonly usage: () => CommandExecutor.ResourceUsage | undefined
}

/** A signal's name as the native engine reports it: the canonical name (SIGABRT, not SIGIOT), SIGRTMIN+n for real-time ones (glibc's SIGRTMIN is 34). */
export const signalName = (n: number): NodeJS.Signals => {
  const name = Signal.signals.find((s) => Signal.numbers[s] === n)
  return (name ?? (n >= 34 ? `SIGRTMIN+${n - 34}` : `SIG${n}`)) as NodeJS.Signals
}

/** A raw wait status (`status W`) as the engine reports exits. */
export const exitInfoOf = (status: number): ExitInfo =>
  (status & 0x7f) === 0
    ? { code: (status >> 8) & 0xff, signal: null, coreDumped: false }
    : { code: null, signal: signalName(status & 0x7f), coreDumped: (status & 0x80) !== 0 }

/** The control byte that asks for a signal to every process of the tree (else: to the target). */
const TREE = 128

/**
 * Reads the supervisor's status lines. `ready` is called once: with the target as soon as its pid
 * is known, or with the supervisor itself when the helper failed before it could fork (its failure
 * record then goes to `report`). `report` gets "" once the target was exec'd, else the record.
 */
export const supervise = (
  supervisor: Child,
  status: Readable,
  control: Writable,
  on: {
    readonly ready: (child: Child, supervision: Supervision | undefined) => void
    readonly report: (text: string) => void
  }
): void => {
  control.on("error", () => {}) // the supervisor may be gone
  /** The target's exit when the supervisor said nothing else is left: told once the supervisor is gone too. */
  let last: ExitInfo | undefined
  let usage: CommandExecutor.ResourceUsage | undefined
  let reported = false
  let readied = false
  const notifier = exitNotifier()
  const exited = (info: ExitInfo) => {
    if (!notifier.exited()) notifier.done(info)
  }
  const send = (byte: number) => {
    if (!supervisor.exited() && !control.destroyed) control.write(Buffer.of(byte))
  }
  const supervision = (pid: number): Supervision => ({
    supervisor,
    signalTree: (signal) => send(TREE + Signal.numbers[signal]),
    usage: () => usage,
    target: {
      pid,
      pipes: supervisor.pipes,
      onExit: notifier.onExit,
      exited: notifier.exited,
      // The supervisor sends it to the target's group while the target leads one.
      kill: (signal) => {
        if (notifier.exited() || supervisor.exited()) return false
        send(Signal.numbers[signal])
        return true
      },
      unref: supervisor.unref
    }
  })
  const ready = (child: Child, sv: Supervision | undefined) => {
    if (readied) return
    readied = true
    on.ready(child, sv)
  }
  const report = (text: string) => {
    if (reported) return
    reported = true
    on.report(text)
  }
  const line = (text: string) => {
    const [word, ...rest] = text.split(" ")
    const numbers = rest.map(Number)
    if (word === "pid") {
      const sv = supervision(numbers[0]!)
      return ready(sv.target, sv)
    }
    if (word === "exec") return report("")
    if (word === "status") {
      // With nothing else left, the supervisor is about to exit: the target's exit is told once
      // it did and its pipes are closed, so that a caller who waited holds nothing of it.
      if (rest[1] === "last") return void (last = exitInfoOf(numbers[0]!))
      return exited(exitInfoOf(numbers[0]!))
    }
    if (word === "usage") {
      // Microseconds of user and system time, and the largest peak RSS in KiB.
      const [user, system, rss] = numbers
      return void (usage = {
        userTime: Duration.micros(BigInt(user!)),
        systemTime: Duration.micros(BigInt(system!)),
        maxRss: rss! * 1024
      })
    }
    // A failure record, "<stage> <errno>": of the target's setup, or of the helper before the fork.
    report(text)
    ready(supervisor, undefined)
  }
  // The supervisor was reaped, or gave no status (killed from outside): its own exit stands for the target's.
  const ended = () => {
    report("supervisor 3") // ESRCH: it ended before the target was exec'd
    ready(supervisor, undefined)
    supervisor.onExit((info) => {
      control.destroy()
      exited(last ?? info)
    })
  }
  if (endedUnread(status)) return ended()
  let partial = ""
  listen(status, (chunk) => {
    const lines = (partial + chunk.toString("latin1")).split("\n")
    partial = lines.pop()!
    for (const text of lines) line(text)
  })
  status.on("error", () => {})
  status.once("close", ended)
}
