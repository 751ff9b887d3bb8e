/**
 * The SSH executor's primitive: one plan runs as one mux client (a local child of the Node
 * executor: the helper's, or `ssh -S`) whose remote command is the wrapper of `remote.ts`. Its stderr is read at once, for the
 * wrapper's reports; the command's own stderr goes on to the plan's. An earlier stage of a pipeline
 * whose stderr is piped (or inherited, where the last stage's is not) has one more mux client,
 * started beside it, that reads it.
 */
import { randomBytes } from "node:crypto"

import type { CommandExecutor } from "@effect-command/core"
import { Command, CommandError, ExitStatus, Signal } from "@effect-command/core"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

import * as RealTime from "../realtime.js"
import { unknownSignal } from "../stage.js"
import { signalName } from "../supervised.js"
import { type Report, reportParser } from "./markers.js"
import { type Host, killScript, readersCleanup, readerScript, refusal, remoteScript, stderrFifos } from "./remote.js"

/** How a layer reaches its host: the local executor and the command of a mux client. */
export interface Connection {
  readonly host: string
  readonly local: CommandExecutor.CommandExecutor
  /** A local client `local` started, as its primitive returned it. */
  readonly spawned: (command: Command.Command) => CommandExecutor.SpawnedProcess | undefined
  /** The connection's registry on the host, and what the host offers. */
  readonly remote: Host
  /** Whether the next run sweeps the registry (one run in many does). */
  readonly sweep: () => boolean
  /** The sessions commands may have at once (sshd's MaxSessions, less the layer's and `control`). */
  readonly sessions: Effect.Semaphore
  readonly sessionCount: number
  /** The one session kept for kills and clean-ups. */
  readonly control: Effect.Semaphore
  /** The local mux client running `remote` on the host over the layer's control connection. */
  readonly ssh: (remote: string) => Command.Command
}

/**
 * How long sending a signal to the remote group may take: a mux session opens for it, which can
 * take longer than a short kill grace (half a second and more on a busy host).
 */
const sendBound = Duration.seconds(5)

/** How much of what ssh and the remote shell said before the command started is kept, for errors. */
const keptBytes = 8192

const decoder = new TextDecoder()

/**
 * The wrapper's `$?` for the command: 128 + n, for a signal n up to 64, is a death by that signal
 * (a shell cannot tell them apart).
 */
export const statusOf = (code: number): ExitStatus.ExitStatus =>
  code > 128 && code <= 128 + 64
    ? ExitStatus.signaled(signalName(code - 128) as Signal.Signal)
    : ExitStatus.exited(code)

/**
 * The longest command line a remote shell can get: sshd runs it as `shell -c <line>`, one argument,
 * and Linux takes at most 32 pages (128 KiB, with its NUL) in one; the local `ssh` gets it as one
 * argument too.
 */
const longestLine = 32 * 4096 - 1

/** Runs `remote` on the host and waits; failing when ssh itself failed. */
const runRemote = (connection: Connection, remote: string, line: string) =>
  connection.control.withPermits(1)(Effect.scoped(Effect.gen(function*() {
    const child = yield* connection.local.start(connection.ssh(remote).pipe(Command.stderr("capture")))
    const result = yield* child.result
    if (ExitStatus.isExited(result.status) && result.status.code === 255) {
      const detail = decoder.decode(result.stderr).trim()
      return yield* new CommandError.ConnectionError({
        reason: "ConnectionLost",
        host: connection.host,
        detail,
        command: line
      })
    }
  })))

const localStdio = (tag: string): "pipe" | "inherit" | "null" =>
  tag === "Pipe" ? "pipe" : tag === "Inherit" ? "inherit" : "null"

/**
 * The reader of an earlier stage's stderr: a mux client copying the stage's FIFO (see
 * `readerScript`) to the stream it returns, or to this process's stderr for `Inherit`. A reader
 * that fails before the run is over stops the run (the stage would wait for it forever) and fails
 * its stream.
 */
const startReader = (
  connection: Connection,
  plan: CommandExecutor.SpawnPlan,
  fifo: string,
  index: number,
  isOver: Effect.Effect<boolean>,
  stopRun: Effect.Effect<unknown>
) =>
  Effect.gen(function*() {
    const inherit = plan.stages[index]!.stderr._tag === "Inherit"
    const reader = yield* connection.local.start(
      connection.ssh(readerScript(fifo)).pipe(
        Command.stdin("null"),
        Command.stdout(inherit ? Command.Output.fd(2) : "pipe"),
        Command.stderr("capture")
      )
    )
    const ioError = (cause: unknown) =>
      new CommandError.IoError({ stream: `stage ${index + 1} stderr`, command: plan.line, cause })
    const failure = yield* Effect.cached(
      Effect.gen(function*() {
        const result = yield* reader.result
        if (ExitStatus.isSuccess(result.status) || (yield* isOver)) return undefined
        const said = decoder.decode(result.stderr).trim()
        return ioError(new Error(`its reader over ssh ${ExitStatus.format(result.status)}${said && `: ${said}`}`))
      }).pipe(Effect.catchAll((error) => Effect.succeed(ioError(error))))
    )
    yield* Effect.forkScoped(Effect.flatMap(failure, (error) => (error === undefined ? Effect.void : stopRun)))
    const stream = Stream.concat(
      inherit ? Stream.empty : reader.stdout,
      Stream.unwrap(Effect.map(failure, (error) => (error === undefined ? Stream.empty : Stream.fail(error))))
    )
    // Whether it ended by itself, having found its FIFO's end: then nothing of it is left.
    const clean = yield* Ref.make(false)
    yield* Effect.forkScoped(
      Effect.flatMap(Effect.exit(reader.wait), (exit) =>
        Ref.set(clean, Exit.isSuccess(exit) && ExitStatus.isSuccess(exit.value)))
    )
    return { stream, ended: Effect.ignore(reader.wait), clean: Ref.get(clean) }
  })

/**
 * Whether core reads the command's stdout through `collect` (a capture, `Output.forEach`) rather
 * than through its stream (`"pipe"`, a sink): as `make` decides when it plans the outputs.
 */
const collected = (plan: CommandExecutor.SpawnPlan): boolean =>
  plan.stdout._tag === "Pipe" && plan.command.stdout?._tag !== "Pipe" && plan.command.stdout?._tag !== "Sink"

/**
 * The command's stdout read lent from its client's pipe, straight into the function core attaches
 * with `collect`: no stream, mailbox or chunk in between. What comes before it attaches is copied
 * and kept for it. Once it wants no more, or nobody reads any more (an abort, a detach), the rest
 * is read and dropped: the wrapper's reports come behind it on the session's one channel.
 */
const lentStdout = (client: CommandExecutor.SpawnedProcess, line: string) =>
  Effect.gen(function*() {
    let early: Array<Uint8Array> = []
    let onBytes: ((bytes: Uint8Array) => boolean) | undefined
    let dropping = false
    const done = yield* client.collect!("stdout", (bytes) => {
      if (dropping) return true
      if (onBytes === undefined) early.push(bytes.slice())
      else if (!onBytes(bytes)) dropping = true
      return true
    })
    const ended = Effect.mapError(
      done,
      (error) => new CommandError.IoError({ stream: "stdout", command: line, cause: error.cause })
    )
    return {
      drop: () => void (dropping = true),
      attach: (f: (bytes: Uint8Array) => boolean) =>
        Effect.sync(() => {
          for (const bytes of early) if (!dropping && !f(bytes)) dropping = true
          early = []
          onBytes = f
          return ended
        })
    }
  })

/** The SSH executor's `spawn` over one connection. */
export const spawnOver = (connection: Connection): CommandExecutor.Spawn => (plan) =>
  Effect.gen(function*() {
    const refused = refusal(plan)
    if (refused !== undefined) return yield* refused
    const { stages } = plan
    const last = stages.length - 1
    // Every stage shares one kill signal (else the plan is refused); the longest grace is the group's.
    const policy = {
      signal: stages[0].killPolicy.signal,
      grace: stages.reduce((most, stage) => Duration.max(most, stage.killPolicy.grace), Duration.zero)
    }
    const nonce = randomBytes(12).toString("hex")
    const script = remoteScript(plan, nonce, connection.remote, process.env, connection.sweep())
    const length = Buffer.byteLength(script)
    if (length > longestLine) {
      return yield* new CommandError.CommandUsageError({
        reasons: [
          `the remote command line would be ${length} bytes: the remote shell takes at most ${longestLine} ` +
          `(one argument); send large data through stdin`
        ],
        command: plan.line
      })
    }
    // The local clients (the command's and the readers') live in a scope of their own: closed with
    // the process's scope, after the abort, or, once the process is detached, when its status came.
    const own = yield* Scope.make()
    let detached = false
    let stop: Effect.Effect<unknown> = Effect.void
    yield* Effect.addFinalizer(() =>
      detached ? Effect.void : Effect.ensuring(Effect.suspend(() => stop), Scope.close(own, Exit.void))
    )
    const fifos = stderrFifos(plan, connection.remote.registry, nonce).slice(0, -1)
    // Its sessions, waited for, and given back when its clients are done.
    const needed = 1 + fifos.filter((fifo) => fifo !== undefined).length
    if (needed > connection.sessionCount) {
      return yield* new CommandError.CommandUsageError({
        reasons: [
          `the command needs ${needed} ssh sessions at once (one, and one per earlier stage whose stderr comes ` +
          `back) and the layer allows ${connection.sessionCount}: raise maxSessions (and sshd's MaxSessions)`
        ],
        command: plan.line
      })
    }
    yield* Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(
        restore(connection.sessions.take(needed)),
        Scope.addFinalizer(own, connection.sessions.release(needed))
      )
    )
    // After the readers stopped (this finalizer runs after the reader scope's, forked below): a
    // reader that did not end by itself may still wait on the host; it and its FIFO go.
    const readerEnds: Array<Effect.Effect<boolean>> = []
    yield* Scope.addFinalizer(
      own,
      Effect.gen(function*() {
        const taken = fifos.filter((fifo): fifo is string => fifo !== undefined)
        if (taken.length === 0) return
        const clean = yield* Effect.all(readerEnds)
        if (clean.length === fifos.length && clean.every((c) => c)) return
        yield* RealTime.timeoutOption(
          Effect.interruptible(Effect.ignore(runRemote(connection, readersCleanup(taken), plan.line))),
          sendBound
        )
      })
    )
    // The readers stop after the command's client, before the clean-up above.
    const readerScope = yield* Scope.fork(own, ExecutionStrategy.parallel)
    const ssh = connection.ssh(script).pipe(
      Command.stdin(localStdio(plan.stdin._tag)),
      Command.stdout(localStdio(plan.stdout._tag)),
      Command.stderr("pipe")
    )
    const child = yield* Scope.extend(connection.local.start(ssh), own)
    const client = connection.spawned(ssh)
    const lent = collected(plan) && client?.collect !== undefined ? yield* lentStdout(client, plan.line) : undefined

    const started = yield* Deferred.make<Report | undefined>()
    const reported = yield* Deferred.make<void>()
    // Each stage's code as the wrapper reported it (a single command's is its status).
    const codes: Array<number | undefined> = stages.map(() => undefined)
    // The command's stdout and stderr, read here at once into mailboxes the caller takes them from.
    // Once nobody may read them any more (an abort, a detach), a full mailbox drops what comes: the
    // reports come behind them on the session's one flow-controlled channel, and must get through.
    const dropping = yield* Deferred.make<void>()
    const offer = (box: Mailbox.Mailbox<Uint8Array, CommandError.IoError>, bytes: Uint8Array) =>
      box.unsafeOffer(bytes) ? Effect.void : Effect.raceFirst(box.offer(bytes), Deferred.await(dropping))
    const stdout = plan.stdout._tag === "Pipe" && lent === undefined
      ? yield* Mailbox.make<Uint8Array, CommandError.IoError>(64)
      : undefined
    if (stdout !== undefined) {
      yield* Stream.runForEach(child.stdout, (bytes) => offer(stdout, bytes)).pipe(
        Effect.onExit((exit) => (Exit.isSuccess(exit) ? stdout.end : stdout.failCause(exit.cause))),
        Effect.forkIn(own)
      )
    }
    const stderr = plan.stderr._tag === "Pipe"
      ? yield* Mailbox.make<Uint8Array, CommandError.IoError>(64)
      : undefined
    let preamble: Uint8Array = new Uint8Array(0)
    let running = false
    const parser = reportParser(nonce)
    const deliver = (bytes: Uint8Array): Effect.Effect<unknown> => {
      if (bytes.length === 0) return Effect.void
      if (!running) {
        return Effect.sync(() => {
          const all = new Uint8Array(preamble.length + bytes.length)
          all.set(preamble)
          all.set(bytes, preamble.length)
          preamble = all.slice(-keptBytes)
        })
      }
      if (detached) return Effect.void
      if (stderr !== undefined) return offer(stderr, bytes)
      if (plan.stderr._tag === "Inherit") return Effect.sync(() => process.stderr.write(bytes))
      return Effect.void
    }
    const handle = (part: Uint8Array | Report): Effect.Effect<unknown> => {
      if (part instanceof Uint8Array) return deliver(part)
      if (part._tag === "Stage") return Effect.sync(() => void (part.index <= last && (codes[part.index] = part.code)))
      if (part._tag === "Status") {
        if (last === 0) codes[0] = part.code
        return Deferred.succeed(reported, undefined)
      }
      running = part._tag === "Started"
      // What the remote shell said before the command started is its stderr too.
      return Effect.zipRight(Deferred.succeed(started, part), running ? deliver(preamble) : Effect.void)
    }
    const reader = yield* Stream.runForEach(child.stderr, (chunk) => Effect.forEach(parser.feed(chunk), handle)).pipe(
      Effect.zipRight(Effect.suspend(() => deliver(parser.flush()))),
      Effect.onExit((exit) =>
        Effect.zipRight(
          Deferred.succeed(started, undefined),
          stderr === undefined ? Effect.void : Exit.isSuccess(exit) ? stderr.end : stderr.failCause(exit.cause)
        )
      ),
      Effect.forkIn(own)
    )

    let killedWith: Signal.Signal | undefined
    // A stage without a report died with its reporting shell: by SIGKILL, or by the kill sent.
    const statuses = (unreported: Signal.Signal) =>
      codes.map((code) => (code === undefined ? ExitStatus.signaled(unreported) : statusOf(code)))
    // The statuses: reported by the wrapper, or, when ssh ended without a report, what the kill did
    // or the connection lost.
    const waitStages: Effect.Effect<ReadonlyArray<ExitStatus.ExitStatus>, CommandError.CommandError> = Effect
      .raceFirst(
        Effect.map(Deferred.await(reported), () => statuses("SIGKILL")),
        Effect.gen(function*() {
          yield* child.wait
          yield* Fiber.await(reader)
          if (yield* Deferred.isDone(reported)) return statuses("SIGKILL")
          if (killedWith !== undefined) return statuses(killedWith)
          const detail = decoder.decode(preamble).trim()
          return yield* new CommandError.ConnectionError({
            reason: "ConnectionLost",
            host: connection.host,
            detail,
            command: plan.line
          })
        })
      )
    const wait = Effect.map(waitStages, ExitStatus.pipefail)

    // Once the wrapper said how the start went (an abort bounds the wait), unless the status came:
    // the group is gone then, and a kill is a no-op, as locally. A JavaScript caller may pass
    // anything: only a signal's name reaches the remote shell.
    const kill = (signal: Signal.Signal = "SIGTERM") =>
      !Signal.isSignal(signal)
        ? Effect.fail(new CommandError.CommandUsageError({ reasons: [unknownSignal(signal)], command: plan.line }))
        : Effect.zipRight(
          Deferred.await(started),
          Effect.flatMap(
            Deferred.isDone(reported),
            (over) =>
              over
                ? Effect.void
                : runRemote(connection, killScript(signal, connection.remote.registry, nonce), plan.line)
          )
        )

    // The kill policy on the remote group: the signal, the grace (from when it was sent), SIGKILL;
    // then the local client. The timed steps are interruptible inside the uninterruptible abort, or
    // no timeout could cut them short.
    const abort = yield* Effect.cached(
      Effect.gen(function*() {
        if (yield* Deferred.isDone(reported)) {
          return ExitStatus.pipefail(statuses("SIGKILL"))
        }
        yield* Deferred.succeed(dropping, undefined)
        lent?.drop()
        // Once the wrapper said how the start went: a command that did not start (its local client
        // gone, or the wrapper failed) gets word not to start with its signal, as its wrapper may
        // still register (a session slow to open, the local client gone or not).
        const cancel = (signal: Signal.Signal) =>
          runRemote(connection, killScript(signal, connection.remote.registry, nonce, true), plan.line)
        const send = (signal: Signal.Signal) =>
          Effect.zipRight(Deferred.await(started), Effect.suspend(() => (running ? kill(signal) : cancel(signal))))
        for (const signal of [policy.signal, "SIGKILL"] as const) {
          killedWith = signal
          yield* RealTime.timeoutOption(Effect.interruptible(Effect.ignore(send(signal))), sendBound)
          const status = yield* RealTime.timeoutOption(Effect.interruptible(Effect.option(wait)), policy.grace)
          if (Option.isSome(status) && Option.isSome(status.value)) {
            return status.value.value
          }
        }
        // Its start not seen yet: the word not to start, whenever the wrapper comes.
        if (!running) yield* RealTime.timeoutOption(Effect.interruptible(Effect.ignore(cancel("SIGKILL"))), sendBound)
        yield* child.abort
        return ExitStatus.pipefail(statuses("SIGKILL"))
      }).pipe(Effect.uninterruptible)
    )
    stop = abort

    // An earlier stage's stderr through a FIFO: its reader, started beside the command.
    const isOver = Effect.map(Deferred.isDone(reported), (done) => done || killedWith !== undefined)
    const readers = yield* Effect.forEach(fifos, (fifo, i) =>
      fifo === undefined
        ? Effect.succeed({
          stream: Stream.empty,
          ended: Effect.void,
          clean: Effect.succeed(true)
        })
        : startReader(connection, plan, fifo, i, isOver, abort)).pipe(Scope.extend(readerScope))
    for (const reader of readers) readerEnds.push(reader.clean)

    const first = yield* Deferred.await(started)
    if (first?._tag !== "Started") {
      const status = yield* child.wait
      // The wrapper told the readers the run is over: let them go (and take their FIFOs) first.
      yield* RealTime.timeoutOption(
        Effect.interruptible(Effect.all(
          readers.map((reader) => reader.ended),
          { discard: true }
        )),
        sendBound
      )
      const detail = decoder.decode(preamble).trim()
      if (first?._tag === "BadWorkingDirectory") {
        const cwd = stages.find((stage) => stage.cwd !== undefined)?.cwd
        return yield* new CommandError.SpawnError({
          reason: "BadWorkingDirectory",
          stage: "chdir",
          detail: detail === "" ? `cd ${cwd} failed on ${connection.host}` : detail,
          command: plan.line
        })
      }
      if (ExitStatus.isExited(status) && status.code === 255) {
        return yield* new CommandError.ConnectionError({
          reason: "ConnectFailed",
          host: connection.host,
          detail,
          command: plan.line
        })
      }
      return yield* new CommandError.SpawnError({
        reason: "Unknown",
        detail: `the remote shell did not start the command (${ExitStatus.format(status)}): ${detail}`,
        command: plan.line
      })
    }
    const pid = first.pid
    const stderrStream = stderr === undefined ? Stream.empty : Mailbox.toStream(stderr)
    const noHandshake = Effect.fail(
      new CommandError.CommandUsageError({ reasons: ["the command does not require a handshake"], command: plan.line })
    )
    return {
      pid,
      stdin: child.stdin,
      stdout: stdout === undefined ? Stream.empty : Mailbox.toStream(stdout),
      stderr: stderrStream,
      ...(lent === undefined ? {} : {
        // stdout lent; stderr, which the reports come through, from its mailbox.
        collect: (output: "stdout" | "stderr", onBytes: (bytes: Uint8Array) => boolean) =>
          output === "stdout" ? lent.attach(onBytes) : Effect.map(
            Effect.forkIn(Stream.runDrain(Stream.takeUntil(stderrStream, (bytes) => !onBytes(bytes))), own),
            Fiber.join
          )
      }),
      wait,
      upstreamStderr: readers.map((reader) => reader.stream),
      waitStages,
      kill,
      abort,
      // Detached, as locally: stdin gets EOF and what the command writes to a pipe nobody reads
      // any more is dropped; its status still comes, and the layer's end still kills it.
      detach: Effect.gen(function*() {
        detached = true
        yield* Deferred.succeed(dropping, undefined)
        lent?.drop()
        for (const reader of readers) yield* Effect.forkIn(Effect.ignore(Stream.runDrain(reader.stream)), own)
        if (plan.stdin._tag === "Pipe") {
          yield* Effect.forkIn(Effect.ignore(Stream.run(Stream.empty, child.stdin)), own)
        }
        yield* Effect.forkDaemon(Effect.zipRight(Effect.ignore(wait), Scope.close(own, Exit.void)))
        return { pid, wait, abort }
      }),
      handshakeWait: noHandshake,
      handshakeNotify: noHandshake
    } satisfies CommandExecutor.SpawnedProcess
  })

/** The remote command as a mux client's argument: Redacted, as it may hold secrets. */
export const remoteWord = (remote: string): Command.Word => Redacted.make(remote)
