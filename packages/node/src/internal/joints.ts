/**
 * A pipeline's joints: the kernel pipes between neighbouring stages, which the bytes never leave
 * for Node. Real pipes from the native engine; else FIFOs the helpers open; else socket pairs.
 */
import * as Fs from "node:fs"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

import type { CommandExecutor } from "@effect-command/core"
import type { CommandError } from "@effect-command/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

import type { Engine } from "./engine.js"
import { socketPair } from "./socketpair.js"
import { largePipe } from "./spawn.js"

/** A pipeline stage's connection to its neighbour: a FIFO both helpers open, or a pipe or socket pair end. */
export type Joint =
  | { readonly _tag: "Fifo"; readonly path: string }
  | { readonly _tag: "Fd"; readonly fd: number }
  | { readonly _tag: "Socket"; readonly socket: Net.Socket }

/** Which of a stage's stdio are joined to its neighbours (stderr and stdout may share one joint). */
export interface StageLinks {
  readonly stdin?: Joint
  readonly stdout?: Joint
  readonly stderr?: Joint
}

/** The joints of a pipeline, made in a scope that removes what they leave on disk. */
export interface Joints {
  /** Stage `i`'s links: its stdin from stage i - 1, the outputs its plan sends on to stage i + 1. */
  readonly linksOf: (stage: CommandExecutor.SpawnStage, i: number) => StageLinks
  /** Closes the parent's ends, once: the children hold theirs, the parent's would keep EOF from coming. */
  readonly close: () => void
  /** Removes the FIFOs' directory (once every stage opened them). */
  readonly removeFifos: () => void
}

export const makeJoints = (
  engine: Engine | null,
  helper: string | null,
  count: number,
  line: string
): Effect.Effect<Joints, CommandError.SpawnError, Scope.Scope> =>
  Effect.gen(function*() {
    const fifoDir = engine === null && helper !== null
      ? Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-command-"))
      : undefined
    const removeFifos = () => void (fifoDir !== undefined && Fs.rmSync(fifoDir, { recursive: true, force: true }))
    yield* Effect.addFinalizer(() => Effect.sync(removeFifos))
    const pipes: Array<Joint> = []
    // Closed once: by the caller once every stage holds its ends, or by the scope if a spawn fails.
    let closed = false
    const close = () => {
      if (closed) return
      closed = true
      for (const joint of pipes) {
        if (joint._tag === "Socket") joint.socket.destroy()
        if (joint._tag === "Fd") engine?.closeFd(joint.fd)
      }
    }
    yield* Effect.addFinalizer(() => Effect.sync(close))
    for (let i = 0; i < count; i++) {
      if (engine !== null) {
        const [read, write] = engine.makePipe(largePipe)
        pipes.push({ _tag: "Fd", fd: write }, { _tag: "Fd", fd: read })
      } else if (fifoDir !== undefined) {
        pipes.push({ _tag: "Fifo", path: Path.join(fifoDir, `${i}`) })
      } else {
        const [left, right] = yield* socketPair(line)
        pipes.push({ _tag: "Socket", socket: left }, { _tag: "Socket", socket: right })
      }
    }
    // With pipes and sockets, stage i writes to pipes[2i] and stage i + 1 reads pipes[2i + 1].
    const writeEnd = (i: number) => (fifoDir !== undefined ? pipes[i] : pipes[2 * i])!
    const readEnd = (i: number) => (fifoDir !== undefined ? pipes[i] : pipes[2 * i + 1])!
    const linksOf = (stage: CommandExecutor.SpawnStage, i: number): StageLinks => ({
      ...(stage.stdin._tag === "FromPrevious" ? { stdin: readEnd(i - 1) } : {}),
      ...(stage.stdout._tag === "ToNext" ? { stdout: writeEnd(i) } : {}),
      ...(stage.stderr._tag === "ToNext" ? { stderr: writeEnd(i) } : {})
    })
    return { linksOf, close, removeFifos }
  })
