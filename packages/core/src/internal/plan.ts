/**
 * The seam between core and an executor: a validated command, its stdio already lowered by `make`,
 * turned into the `SpawnPlan` the executor's primitive receives. Plain objects, built once per start.
 */
import type * as Command from "../Command.js"
import type * as CommandExecutor from "../CommandExecutor.js"
import { joints, standaloneStages } from "./command.js"
import { wordValue } from "./model.js"
import { describe } from "./render.js"

const fromPrevious = { _tag: "FromPrevious" } as const
const toNext = { _tag: "ToNext" } as const
const devNull = { _tag: "Null" } as const

/**
 * An earlier stage's stdout that no joint takes (it sends its stderr on). Validation allows only
 * what needs no reader there (not `Capture`, `Pipe` or `Sink`), so what is set is already lowered.
 */
const freeStdout = (output: Command.Output | undefined) => (output ?? devNull) as CommandExecutor.SpawnOutput

const stagePlan = (
  stage: Command.Command,
  line: string,
  stdin: CommandExecutor.SpawnStage["stdin"],
  stdout: CommandExecutor.SpawnStage["stdout"],
  stderr: CommandExecutor.SpawnStage["stderr"]
): CommandExecutor.SpawnStage => {
  const argv = [stage.program]
  for (const arg of stage.args) argv.push(wordValue(arg))
  return {
    command: stage,
    line,
    program: stage.program,
    argv,
    // The parent's environment unchanged needs no resolving: the engine copies it as it is.
    env: stage.env.base === "empty" || stage.env.entries.length > 0 ? stage.env : undefined,
    cwd: stage.cwd,
    setup: stage.setup,
    passFds: stage.passFds,
    inputFds: stage.inputFds,
    killPolicy: stage.killPolicy,
    stdin,
    stdout,
    stderr
  }
}

/**
 * The plan of a validated command whose outer stdio `make` lowered: the pipeline's stdin (its
 * first stage's), stdout and stderr (its last stage's), and the stderr of each earlier stage
 * (`upstreamStderr[i]`, used where no joint takes it). Between stages, the joints.
 */
export const spawnPlan = (
  command: Command.Command,
  line: string,
  stdin: CommandExecutor.SpawnInput,
  stdout: CommandExecutor.SpawnOutput,
  stderr: CommandExecutor.SpawnErrorOutput,
  upstreamStderr: ReadonlyArray<CommandExecutor.SpawnErrorOutput>
): CommandExecutor.SpawnPlan => {
  if (command.upstream === undefined) {
    return { command, line, stages: [stagePlan(command, line, stdin, stdout, stderr)], stdin, stdout, stderr }
  }
  const stages = standaloneStages(command)
  const links = joints(command)
  const last = stages.length - 1
  const plans = stages.map((stage, i) => {
    // What the next stage reads from this one.
    const from = links[i]
    return stagePlan(
      stage,
      describe(stage),
      i === 0 ? stdin : fromPrevious,
      i === last ? stdout : from !== "stderr" ? toNext : freeStdout(stage.stdout),
      i === last ? stderr : from !== "stdout" ? toNext : upstreamStderr[i] ?? devNull
    )
  })
  return {
    command,
    line,
    stages: plans as [CommandExecutor.SpawnStage, ...Array<CommandExecutor.SpawnStage>],
    stdin,
    stdout,
    stderr
  }
}
