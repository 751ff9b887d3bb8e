/**
 * A stage of the plan → the spec an engine spawns: what each child fd gets, argv (through the
 * helper or not), environment, working directory. Pure: the files, socket pair and environment it
 * needs are acquired before (see prepare.ts), so it can be tested without spawning anything.
 */
import type * as Net from "node:net"

import type { CommandExecutor } from "@effect-command/core"

import * as Helper from "./helper.js"
import type { Joint, StageLinks } from "./joints.js"
import type { SpawnSpec, StdioSource } from "./spawn.js"

/** What `spawnSpec` needs besides the stage: what was resolved, opened and read for it. */
export interface SpecInputs {
  /** The program's path, resolved. */
  readonly path: string
  /** The setup helper this stage is spawned through, or null to spawn the program directly. */
  readonly helper: string | null
  /** Whether the native engine spawns it (it sets the death signal itself, without the helper). */
  readonly native: boolean
  readonly links: StageLinks
  /** The fds opened for `File` stdio, by child fd (0, 1, 2). */
  readonly files: ReadonlyArray<number | undefined>
  /** The child's end of the socket pair stdout and stderr share (`2>&1` into a pipe on child_process). */
  readonly joined: Net.Socket | undefined
  /** The child's environment; undefined: the parent's, unchanged. */
  readonly env: Readonly<Record<string, string>> | undefined
  /** Whether the helper stays as the stage's supervisor (containment; only with the helper). */
  readonly contained: boolean
}

const ignore: StdioSource = { _tag: "Ignore" }
const inherit: StdioSource = { _tag: "Inherit" }
const pipeToChild: StdioSource = { _tag: "Pipe", toChild: true }
const pipeFromChild: StdioSource = { _tag: "Pipe", toChild: false }
const sameAsStdout: StdioSource = { _tag: "SameAs", fd: 1 }

/** What a child fd gets for one of the stage's stdio; a joint's end is set by `join`, `ToStdout` by the caller. */
const sourceOf = (
  io: CommandExecutor.SpawnStage["stdin" | "stdout" | "stderr"],
  file: number | undefined
): StdioSource => {
  switch (io._tag) {
    case "Inherit":
      return inherit
    case "Fd":
      return { _tag: "Fd", fd: io.fd }
    case "File":
      return { _tag: "Fd", fd: file! }
    case "Pipe":
      return pipeFromChild
    default:
      return ignore
  }
}

/** Whether stdout and stderr go into the same joint (`2>&1 |`). */
const sharedJoint = (links: StageLinks): boolean => links.stdout !== undefined && links.stdout === links.stderr

/** Whether the helper makes fd 2 a dup of fd 1 in the child: one kernel object, whatever it is. */
export const helperJoinsStderr = (stage: CommandExecutor.SpawnStage, helper: string | null, links: StageLinks) =>
  helper !== null && (stage.stderr._tag === "ToStdout" || sharedJoint(links))

/** Fds 0, 1 and 2 from the stage's own stdio (the joints replace some of them afterwards). */
const ownStdio = (stage: CommandExecutor.SpawnStage, inputs: SpecInputs, stdio: Map<number, StdioSource>) => {
  const { files } = inputs
  const stdin = sourceOf(stage.stdin, files[0])
  stdio.set(0, stdin._tag === "Pipe" ? pipeToChild : stdin)
  if (helperJoinsStderr(stage, inputs.helper, inputs.links)) {
    stdio.set(1, sourceOf(stage.stdout, files[1]))
    stdio.set(2, ignore)
  } else if (stage.stderr._tag === "ToStdout") {
    if (inputs.joined !== undefined) {
      const shared: StdioSource = { _tag: "Socket", socket: inputs.joined }
      stdio.set(1, shared)
      stdio.set(2, shared)
    } else {
      const out = sourceOf(stage.stdout, files[1])
      stdio.set(1, out)
      // `inherit` for stderr would be the parent's fd 2: join the parent's stdout instead; a pipe
      // is one pipe for both (the native engine; child_process gets the socket pair above).
      stdio.set(
        2,
        out._tag === "Inherit" ? { _tag: "Fd", fd: 1 } : out._tag === "Pipe" && inputs.native ? sameAsStdout : out
      )
    }
  } else {
    stdio.set(1, sourceOf(stage.stdout, files[1]))
    stdio.set(2, sourceOf(stage.stderr, files[2]))
  }
}

/**
 * Pipeline joints replace the stage's own stdio at the joined ends. A FIFO is opened by the
 * helper (the fd stays /dev/null until then); returns the helper's options for them.
 */
const joinNeighbours = (
  stage: CommandExecutor.SpawnStage,
  inputs: SpecInputs,
  stdio: Map<number, StdioSource>
): Array<string> => {
  const { links } = inputs
  const fifoArgs: Array<string> = []
  const join = (fd: 0 | 1 | 2, joint: Joint | undefined, option: string) => {
    if (joint === undefined) return
    if (joint._tag === "Socket") {
      stdio.set(fd, { _tag: "Socket", socket: joint.socket })
    } else if (joint._tag === "Fd") {
      stdio.set(fd, { _tag: "Fd", fd: joint.fd })
    } else {
      stdio.set(fd, ignore)
      fifoArgs.push(option, joint.path)
    }
  }
  join(0, links.stdin, "--stdin-fifo")
  join(1, links.stdout, "--stdout-fifo")
  // `2>&1` follows stdout into the pipe (with the helper, its dup2 does that).
  if (
    stage.stderr._tag === "ToStdout" && links.stdout !== undefined && links.stdout._tag !== "Fifo" &&
    links.stderr === undefined
  ) {
    stdio.set(2, stdio.get(1)!)
  }
  if (!(sharedJoint(links) && helperJoinsStderr(stage, inputs.helper, links))) join(2, links.stderr, "--stderr-fifo")
  return fifoArgs
}

/** The spec, and the helper's status and handshake fds in the child when it goes through the helper. */
export const spawnSpec = (
  stage: CommandExecutor.SpawnStage,
  inputs: SpecInputs
): { readonly spec: SpawnSpec; readonly helperFds: Helper.HelperFds | undefined } => {
  /** What each child fd gets; every other fd is closed in the child. */
  const stdio = new Map<number, StdioSource>()
  ownStdio(stage, inputs, stdio)
  const fifoArgs = joinNeighbours(stage, inputs, stdio)
  for (const { fd } of stage.passFds) stdio.set(fd, { _tag: "Fd", fd })
  for (const { fd } of stage.inputFds) stdio.set(fd, pipeToChild)
  const { env, helper, path } = inputs
  if (helper === null) {
    const spec: SpawnSpec = {
      path,
      argv: stage.argv,
      env,
      cwd: stage.cwd,
      stdio,
      newGroup: stage.setup.processGroup === "new",
      // Only the native engine sets it without the helper.
      deathSignal: inputs.native ? Helper.deathSignal(stage) : undefined,
      supervisor: false
    }
    return { spec, helperFds: undefined }
  }
  const helperFds = Helper.helperFds(stage, inputs.contained)
  stdio.set(helperFds.status, pipeFromChild)
  if (helperFds.control !== undefined) stdio.set(helperFds.control, pipeToChild)
  if (helperFds.handshakeReady !== undefined) stdio.set(helperFds.handshakeReady, pipeFromChild)
  if (helperFds.handshakeWait !== undefined) stdio.set(helperFds.handshakeWait, pipeToChild)
  const stderrToStdout = helperJoinsStderr(stage, helper, inputs.links)
  const spec: SpawnSpec = {
    // The helper applies the setup (process group and working directory included), then execs.
    path: helper,
    argv: [helper, ...Helper.helperArgs(stage, helperFds, { stderrToStdout, links: fifoArgs }), path, ...stage.argv],
    env,
    cwd: undefined,
    stdio,
    newGroup: false,
    deathSignal: undefined,
    supervisor: inputs.contained
  }
  return { spec, helperFds }
}
