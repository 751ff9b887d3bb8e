/** A command's problems: those its combinators recorded, and those between its fields and stages. */
import * as Either from "effect/Either"

import type * as Command from "../Command.js"
import { CommandUsageError } from "../CommandError.js"
import { stagesOf } from "./command.js"
import { describe } from "./render.js"

const isStringIo = (s: Command.Input | Command.ErrorOutput | undefined): boolean =>
  s !== undefined && ["Bytes", "Text", "Stream", "Pipe", "Capture", "Sink", "ForEach"].includes(s._tag)

/** Every problem of a command: those its combinators recorded and those between its fields. */
export const problems = (self: Command.Command): ReadonlyArray<string> => {
  if (self.upstream === undefined) return stageProblems(self)
  const stages = stagesOf(self)
  return stages.flatMap((stage, i) =>
    [...stageProblems(stage), ...pipelineStageProblems(stage, stages[i + 1]?.upstream?.from)].map((reason) =>
      `stage ${i + 1}: ${reason}`
    )
  )
}

/**
 * What a pipeline stage cannot be, whenever it was set (before or after `pipeTo`). Of an earlier
 * stage's outputs, the run helpers and `start` read its stderr, but not a stdout it keeps while
 * sending its stderr on: a "pipe" there would fill up and block it, a "capture" or sink be dropped.
 */
const pipelineStageProblems = (
  stage: Command.Command,
  joint: Command.PipeSource | undefined
): ReadonlyArray<string> => {
  const found: Array<string> = []
  if (stage.setup.daemonize) found.push("a daemon cannot be a pipeline stage")
  if (stage.setup.handshake) found.push("a pipeline stage cannot require a start-up handshake")
  // Not the last stage; the output its joint takes has its own problem (`pipeTo`).
  const output = joint === "stderr" ? stage.stdout : undefined
  if (output !== undefined && ["Capture", "Pipe", "Sink", "ForEach"].includes(output._tag)) {
    found.push("only the last stage's stdout can be captured, piped or sent to a sink or a function")
  }
  return found
}

const stageProblems = (self: Command.Command): ReadonlyArray<string> => {
  const found = [...self.problems]
  const { setup } = self
  if (setup.pidFile !== undefined && !setup.daemonize) {
    found.push("creation of a pid file requires a daemonized command")
  }
  if (setup.daemonize) {
    if (setup.dieWithParent !== undefined && setup.dieWithParent !== false) {
      found.push("a daemon outlives its parent: it cannot die with it")
    }
    if (self.cwd !== undefined) found.push("a daemonized command always runs in / and cannot set a working directory")
    if (setup.contain === true) found.push("a daemon leaves on purpose: it cannot be contained")
    if ([self.stdin, self.stdout, self.stderr].some(isStringIo) || self.inputFds.length > 0) {
      found.push("cannot mix string I/O with a daemon: give a daemon's stdio as fds, files or null")
    }
  }
  return found
}

/** @internal */
export const validate = (self: Command.Command): Either.Either<Command.Command, CommandUsageError> => {
  const reasons = problems(self)
  return reasons.length === 0
    ? Either.right(self)
    : Either.left(new CommandUsageError({ reasons, command: describe(self) }))
}
