/**
 * A process-wide pacer for callbacks that resume fibers (spawns, exits, the ends of outputs), so
 * that many of them in one event-loop turn do not keep timers from firing.
 */
/**
 * Spawns, exits and the ends of outputs are handed on a few per event-loop turn. Each one resumes
 * a fiber that may work for a millisecond (collect the result, close the scope, start the next
 * child) before it waits again: 32 children that exit together, handled in one turn, would keep
 * timers from firing for tens of milliseconds. The first ones of a turn go on in that turn
 * (setImmediate runs right after the poll phase that saw them), so a lone one is not delayed.
 */
const perTurn = 4
const pending: Array<() => void> = []
let scheduled = false
const deliverPending = () => {
  try {
    for (let n = 0; n < perTurn && pending.length > 0; n++) pending.shift()!()
  } finally {
    // Even after a callback threw: the rest must still come.
    scheduled = pending.length > 0
    if (scheduled) setImmediate(deliverPending)
  }
}
export const paced = (deliver: () => void): void => {
  pending.push(deliver)
  if (!scheduled) {
    scheduled = true
    setImmediate(deliverPending)
  }
}
