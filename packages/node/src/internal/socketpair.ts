/**
 * A connected pair of Unix sockets, made without native code: a listener on a one-use abstract
 * address and a connection to it. Used where the child must see one kernel object at two fds
 * (stderr joined to a piped stdout), which Node's stdio options cannot express otherwise.
 */
import * as Crypto from "node:crypto"
import * as Net from "node:net"

import { CommandError } from "@effect-command/core"
import * as Effect from "effect/Effect"

export const socketPair = (line: string): Effect.Effect<[Net.Socket, Net.Socket], CommandError.SpawnError> =>
  Effect.async((resume) => {
    const address = `\0effect-command-${process.pid}-${Crypto.randomUUID()}`
    // Neither end may read in the parent unless asked: bytes it buffered would be stolen from a child.
    const server = Net.createServer({ pauseOnConnect: true })
    const fail = (cause: unknown) => {
      server.close()
      resume(Effect.fail(
        new CommandError.SpawnError({
          reason: "Unknown",
          stage: "socketpair",
          detail: "cannot create the socket that joins stdout and stderr",
          command: line,
          cause
        })
      ))
    }
    server.once("error", fail)
    server.listen(address, () => {
      const ours = Net.connect(address).pause()
      ours.once("error", fail)
      server.once("connection", (theirs) => {
        server.close()
        ours.off("error", fail)
        resume(Effect.succeed([ours, theirs]))
      })
    })
  })
