/** How a run counts its stages' statuses: `set -o pipefail`, where a stage may allow SIGPIPE. */
import type * as Command from "../Command.js"
import * as ExitStatus from "../ExitStatus.js"

/** A stage's status as the run counts it: a death by SIGPIPE is exit 0 for a stage that allows it. */
const counted = (stage: Command.Command | undefined, status: ExitStatus.ExitStatus): ExitStatus.ExitStatus =>
  stage?.allowSigpipe === true && status._tag === "Signaled" && status.signal === "SIGPIPE"
    ? ExitStatus.exited(0)
    : status

/** The run's status: pipefail's over the stages' statuses as the run counts them. */
export const runStatus = (
  stages: ReadonlyArray<Command.Command>,
  statuses: ReadonlyArray<ExitStatus.ExitStatus>
): ExitStatus.ExitStatus => ExitStatus.pipefail(statuses.map((status, i) => counted(stages[i], status)))

/** The index of the stage whose status is the run's failure (the rightmost that failed), if one did. */
export const failedStage = (
  stages: ReadonlyArray<Command.Command>,
  statuses: ReadonlyArray<ExitStatus.ExitStatus>
): number | undefined => {
  for (let i = statuses.length - 1; i >= 0; i--) {
    if (!ExitStatus.isSuccess(counted(stages[i], statuses[i]!))) return i
  }
  return undefined
}
