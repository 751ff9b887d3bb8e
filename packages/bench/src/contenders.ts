/**
 * The contenders of every workload: raw `child_process.spawn`, execa 10, `@effect/platform`'s
 * Command (NodeContext.layer) and ours (`@effect-command/node`: the default layer, which spawns
 * through the setup helper when it is built and a command needs it; `helper: "never"`, which
 * spawns directly; and, for the spawn workloads, `engine: "child_process"`, Node's fork-based
 * spawn instead of the native engine, and `contain: true`, every command under the helper as its
 * supervisor: the cost of containment).
 *
 * Each function does the whole job the way a user of that library would write it, and checks the
 * result (exit code, byte count), so that a contender cannot win by doing less.
 */
import "./node20.js" // before execa: Set.prototype.union on Node 20

import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as PCommand from "@effect/platform/Command"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { execa } from "execa"

import { exitZero, parallel, sequential } from "./effects.js"
import { check, head, pool, rawRun, rawSpawnWait, rawStream, repeat, TRUE } from "./spawn.js"

// ---------------------------------------------------------------------------------------------
// runtimes (built once, outside every timed region, by the warm-up)
// ---------------------------------------------------------------------------------------------

const helperOptions: NodeCommandExecutor.Options = {}
const directOptions: NodeCommandExecutor.Options = { helper: "never" }
const forkOptions: NodeCommandExecutor.Options = { engine: "child_process" }
const containedOptions: NodeCommandExecutor.Options = { contain: true }
const oursHelper = ManagedRuntime.make(NodeCommandExecutor.layer)
const oursDirect = ManagedRuntime.make(NodeCommandExecutor.layerWith(directOptions))
const oursFork = ManagedRuntime.make(NodeCommandExecutor.layerWith(forkOptions))
const oursContained = ManagedRuntime.make(NodeCommandExecutor.layerWith(containedOptions))

/** The spawn engine each of our layers uses (the native one when it is built). */
export const engines = {
  helper: NodeCommandExecutor.engineInUse(helperOptions),
  direct: NodeCommandExecutor.engineInUse(directOptions)
}
const H = `ours (helper, ${engines.helper})`
const D = `ours (direct, ${engines.direct})`
const F = "ours (helper, child_process)"
const C = `ours (contained, ${engines.helper})`
const platform = ManagedRuntime.make(NodeContext.layer)

/** Where `@effect-command/node` looks for its helper (see its internal/helper.ts). */
export const helperBinary = (): string | null => {
  const candidate = process.env.EFFECT_COMMAND_HELPER ??
    fileURLToPath(new URL("../build/effect-command-helper", import.meta.resolve("@effect-command/node")))
  try {
    Fs.accessSync(candidate, Fs.constants.X_OK)
    return candidate
  } catch {
    return null
  }
}

export interface Contender<Args extends ReadonlyArray<unknown>> {
  readonly id: string
  readonly label: string
  readonly run: (...args: Args) => Promise<void>
}

// ---------------------------------------------------------------------------------------------
// ours and @effect/platform
// ---------------------------------------------------------------------------------------------

const ourTrue = Command.make(TRUE)
const ourTrueNull = ourTrue.pipe(Command.stdin("null"), Command.stdout("null"), Command.stderr("null"))
const platformTrue = PCommand.make(TRUE)

const ourExitCode = exitZero(Command.exitCode(ourTrue))
const ourStartWait = Effect.scoped(Effect.flatMap(Command.start(ourTrueNull), (p) => p.wait))
const platformExitCode = exitZero(PCommand.exitCode(platformTrue))

/** Captures default to at most 100 MiB (an `OutputLimitError` past it), like execa's `maxBuffer`: lift it. */
const unlimited = Command.maxOutput(Infinity)

/** @effect/platform has no bytes helper: start, collect stdout and wait, concurrently. */
const platformBytes = (command: PCommand.Command) =>
  Effect.scoped(
    Effect.flatMap(PCommand.start(command), (p) =>
      Effect.all([Stream.runCollect(p.stdout), p.exitCode], { concurrency: 2 }).pipe(
        Effect.map(([chunks, code]) => {
          check(code === 0, `exit code ${code}`)
          return Buffer.concat(Chunk.toArray(chunks))
        })
      ))
  )

// ---------------------------------------------------------------------------------------------
// the workloads
// ---------------------------------------------------------------------------------------------

/** W1 / W1b: `n` sequential spawn+wait of /bin/true. */
export const w1: ReadonlyArray<Contender<[n: number]>> = [
  {
    id: "raw",
    label: "raw node: spawn, stdio \"ignore\"",
    run: (n) => repeat(n, () => rawSpawnWait(TRUE, [], "ignore"))
  },
  {
    id: "raw-pipe",
    label: "raw node: spawn, stdio \"pipe\"",
    run: (n) => repeat(n, () => rawSpawnWait(TRUE, [], "pipe"))
  },
  {
    id: "execa",
    label: "execa 10: `await execa(...)`",
    run: async (n) => {
      for (let i = 0; i < n; i++) check((await execa(TRUE)).exitCode === 0, "execa exit code")
    }
  },
  {
    id: "platform",
    label: "@effect/platform: Command.exitCode",
    run: (n) => platform.runPromise(sequential(platformExitCode, n))
  },
  {
    id: "ours",
    label: `${H}: Command.exitCode`,
    run: (n) => oursHelper.runPromise(sequential(ourExitCode, n))
  },
  {
    id: "ours-start",
    label: `${H}: start + wait, stdio null`,
    run: (n) => oursHelper.runPromise(sequential(ourStartWait, n))
  },
  {
    id: "ours-direct",
    label: `${D}: Command.exitCode`,
    run: (n) => oursDirect.runPromise(sequential(ourExitCode, n))
  },
  {
    id: "ours-direct-start",
    label: `${D}: start + wait, stdio null`,
    run: (n) => oursDirect.runPromise(sequential(ourStartWait, n))
  },
  {
    id: "ours-fork",
    label: `${F}: Command.exitCode`,
    run: (n) => oursFork.runPromise(sequential(ourExitCode, n))
  },
  {
    id: "ours-contained",
    label: `${C}: Command.exitCode`,
    run: (n) => oursContained.runPromise(sequential(ourExitCode, n))
  }
]

/** W2: `n` spawn+wait of /bin/true, `concurrency` in flight. */
export const w2: ReadonlyArray<Contender<[n: number, concurrency: number]>> = [
  {
    id: "raw",
    label: "raw node: spawn, stdio \"ignore\"",
    run: (n, c) => pool(n, c, () => rawSpawnWait(TRUE, [], "ignore"))
  },
  {
    id: "execa",
    label: "execa 10: `await execa(...)`",
    run: (n, c) =>
      pool(n, c, async () => {
        check((await execa(TRUE)).exitCode === 0, "execa exit code")
      })
  },
  {
    id: "platform",
    label: "@effect/platform: Command.exitCode",
    run: (n, c) => platform.runPromise(parallel(platformExitCode, n, c))
  },
  {
    id: "ours",
    label: `${H}: Command.exitCode`,
    run: (n, c) => oursHelper.runPromise(parallel(ourExitCode, n, c))
  },
  {
    id: "ours-direct",
    label: `${D}: Command.exitCode`,
    run: (n, c) => oursDirect.runPromise(parallel(ourExitCode, n, c))
  },
  {
    id: "ours-fork",
    label: `${F}: Command.exitCode`,
    run: (n, c) => oursFork.runPromise(parallel(ourExitCode, n, c))
  },
  {
    id: "ours-contained",
    label: `${C}: Command.exitCode`,
    run: (n, c) => oursContained.runPromise(parallel(ourExitCode, n, c))
  }
]

/** W3: capture `bytes` of `head -c bytes /dev/zero` into memory, as bytes. */
export const w3: ReadonlyArray<Contender<[bytes: number]>> = [
  {
    id: "raw",
    label: "raw node: spawn, collect \"data\", Buffer.concat",
    run: async (bytes) => {
      const { stdout } = await rawRun("head", head(bytes), undefined, true)
      check(stdout.length === bytes, `captured ${stdout.length}`)
    }
  },
  {
    id: "execa",
    label: "execa 10: `encoding: \"buffer\"`",
    run: async (bytes) => {
      const r = await execa("head", head(bytes), { encoding: "buffer", maxBuffer: Infinity, stdin: "ignore" })
      check(r.stdout.length === bytes, `captured ${r.stdout.length}`)
    }
  },
  {
    id: "platform",
    label: "@effect/platform: start, Stream.runCollect(stdout), concat",
    run: async (bytes) => {
      const out = await platform.runPromise(platformBytes(PCommand.make("head", ...head(bytes))))
      check(out.length === bytes, `captured ${out.length}`)
    }
  },
  {
    id: "ours",
    label: `${H}: Command.bytes`,
    run: async (bytes) => {
      const out = await oursHelper.runPromise(Command.bytes(Command.make("head", ...head(bytes)).pipe(unlimited)))
      check(out.length === bytes, `captured ${out.length}`)
    }
  },
  {
    id: "ours-direct",
    label: `${D}: Command.bytes`,
    run: async (bytes) => {
      const out = await oursDirect.runPromise(Command.bytes(Command.make("head", ...head(bytes)).pipe(unlimited)))
      check(out.length === bytes, `captured ${out.length}`)
    }
  }
]

/** W4: stream `bytes` of `head -c bytes /dev/zero`, keeping nothing. */
export const w4: ReadonlyArray<Contender<[bytes: number]>> = [
  {
    id: "raw",
    label: "raw node: spawn, count \"data\"",
    run: rawStream
  },
  {
    id: "execa",
    label: "execa 10: `buffer: false`, count \"data\"",
    run: async (bytes) => {
      const subprocess = execa("head", head(bytes), { buffer: false, stdin: "ignore" })
      let length = 0
      subprocess.stdout.on("data", (chunk: Uint8Array) => {
        length += chunk.length
      })
      check((await subprocess).exitCode === 0, "execa exit code")
      check(length === bytes, `streamed ${length}`)
    }
  },
  {
    id: "platform",
    label: "@effect/platform: Command.stream + Stream.runDrain",
    run: (bytes) => platform.runPromise(Stream.runDrain(PCommand.stream(PCommand.make("head", ...head(bytes)))))
  },
  {
    id: "ours",
    label: `${H}: Command.stream + Stream.runDrain`,
    run: (bytes) => oursHelper.runPromise(Stream.runDrain(Command.stream(Command.make("head", ...head(bytes)))))
  },
  {
    id: "ours-direct",
    label: `${D}: Command.stream + Stream.runDrain`,
    run: (bytes) => oursDirect.runPromise(Stream.runDrain(Command.stream(Command.make("head", ...head(bytes)))))
  },
  {
    id: "ours-foreach",
    label: `${H}: Command.run + Output.forEach (lent chunks), counting`,
    run: async (bytes) => {
      let length = 0
      await oursHelper.runPromise(Command.run(
        Command.make("head", ...head(bytes)).pipe(
          Command.stdout(Command.Output.forEach((chunk) => void (length += chunk.length)))
        )
      ))
      check(length === bytes, `streamed ${length}`)
    }
  }
]

const wcCount = (output: string, expected: number) => check(Number(output.trim()) === expected, `wc said ${output}`)

/** W6a: feed `input` into `wc -c`, read its answer. */
export const w6wc: ReadonlyArray<Contender<[input: Uint8Array]>> = [
  {
    id: "raw",
    label: "raw node: stdin.end(buffer)",
    run: async (input) => wcCount((await rawRun("wc", ["-c"], input, true)).stdout.toString(), input.length)
  },
  {
    id: "execa",
    label: "execa 10: `input: buffer`",
    run: async (input) => wcCount((await execa("wc", ["-c"], { input })).stdout, input.length)
  },
  {
    id: "platform",
    label: "@effect/platform: Command.stdin(Stream.succeed(buffer)) + Command.string",
    run: async (input) =>
      wcCount(
        await platform.runPromise(PCommand.string(PCommand.stdin(PCommand.make("wc", "-c"), Stream.succeed(input)))),
        input.length
      )
  },
  {
    id: "ours",
    label: `${H}: Command.feed + Command.string`,
    run: async (input) =>
      wcCount(
        await oursHelper.runPromise(Command.string(Command.make("wc", "-c").pipe(Command.feed(input)))),
        input.length
      )
  },
  {
    id: "ours-direct",
    label: `${D}: Command.feed + Command.string`,
    run: async (input) =>
      wcCount(
        await oursDirect.runPromise(Command.string(Command.make("wc", "-c").pipe(Command.feed(input)))),
        input.length
      )
  }
]

/** W6b: feed `input` into `cat` while capturing all of its output. */
export const w6cat: ReadonlyArray<Contender<[input: Uint8Array]>> = [
  {
    id: "raw",
    label: "raw node: stdin.end(buffer), collect \"data\"",
    run: async (input) => {
      const { stdout } = await rawRun("cat", [], input, true)
      check(stdout.length === input.length, `captured ${stdout.length}`)
    }
  },
  {
    id: "execa",
    label: "execa 10: `input`, `encoding: \"buffer\"`",
    run: async (input) => {
      const r = await execa("cat", { input, encoding: "buffer", maxBuffer: Infinity })
      check(r.stdout.length === input.length, `captured ${r.stdout.length}`)
    }
  },
  {
    id: "platform",
    label: "@effect/platform: Command.stdin(Stream.succeed(buffer)), collect stdout",
    run: async (input) => {
      const out = await platform.runPromise(platformBytes(PCommand.stdin(PCommand.make("cat"), Stream.succeed(input))))
      check(out.length === input.length, `captured ${out.length}`)
    }
  },
  {
    id: "ours",
    label: `${H}: Command.feed + Command.bytes`,
    run: async (input) => {
      const out = await oursHelper.runPromise(Command.bytes(Command.make("cat").pipe(Command.feed(input), unlimited)))
      check(out.length === input.length, `captured ${out.length}`)
    }
  },
  {
    id: "ours-direct",
    label: `${D}: Command.feed + Command.bytes`,
    run: async (input) => {
      const out = await oursDirect.runPromise(Command.bytes(Command.make("cat").pipe(Command.feed(input), unlimited)))
      check(out.length === input.length, `captured ${out.length}`)
    }
  }
]

/** W5: `head -c bytes /dev/zero | wc -c`, read wc's answer. The baseline is `sh -c` with the same pipe. */
export const w5: ReadonlyArray<Contender<[bytes: number]>> = [
  {
    id: "sh",
    label: "`sh -c 'head … | wc -c'` (raw node spawn)",
    run: async (bytes) =>
      wcCount(
        (await rawRun("sh", ["-c", `head -c ${bytes} /dev/zero | wc -c`], undefined, true)).stdout.toString(),
        bytes
      )
  },
  {
    id: "raw",
    label: "raw node: spawn head, spawn wc with `stdio: [head.stdout, …]`",
    run: (bytes) =>
      new Promise<void>((resolve, reject) => {
        const first = ChildProcess.spawn("head", head(bytes), { stdio: ["ignore", "pipe", "ignore"] })
        first.once("error", reject)
        // The socket's fd goes to wc as its stdin; the parent then lets go of its end.
        const second = ChildProcess.spawn("wc", ["-c"], { stdio: [first.stdout!, "pipe", "ignore"] })
        first.stdout!.destroy()
        let out = ""
        second.stdout!.setEncoding("utf8").on("data", (s: string) => (out += s))
        second.once("error", reject)
        let left = 2
        const done = (code: number | null) => {
          if (code !== 0) return reject(new Error(`exited ${code}`))
          if (--left === 0) {
            try {
              wcCount(out, bytes)
              resolve()
            } catch (e) {
              reject(e)
            }
          }
        }
        first.once("close", done)
        second.once("close", done)
      })
  },
  {
    id: "execa",
    label: "execa 10: `execa(head, { buffer: false }).pipe(wc)` (through Node streams)",
    // Without `buffer: false` execa also keeps head's 256 MiB as a string (and V8 gives up on it).
    run: async (bytes) =>
      wcCount(
        (await execa("head", head(bytes), { stdin: "ignore", buffer: false }).pipe("wc", ["-c"])).stdout,
        bytes
      )
  },
  {
    id: "platform",
    label: "@effect/platform: Command.pipeTo + Command.string (through Node streams)",
    run: async (bytes) =>
      wcCount(
        await platform.runPromise(
          PCommand.string(PCommand.pipeTo(PCommand.make("head", ...head(bytes)), PCommand.make("wc", "-c")))
        ),
        bytes
      )
  },
  {
    id: "ours",
    label: `${H}: Command.pipeline + Command.string`,
    run: async (bytes) =>
      wcCount(
        await oursHelper.runPromise(
          Command.string(Command.pipeline(Command.make("head", ...head(bytes)), Command.make("wc", "-c")))
        ),
        bytes
      )
  },
  {
    id: "ours-direct",
    label: `${D}: Command.pipeline + Command.string`,
    run: async (bytes) =>
      wcCount(
        await oursDirect.runPromise(
          Command.string(Command.pipeline(Command.make("head", ...head(bytes)), Command.make("wc", "-c")))
        ),
        bytes
      )
  }
]

/** Closes the Effect runtimes (so that the process can exit). */
export const dispose = async (): Promise<void> => {
  await Promise.all([oursHelper.dispose(), oursDirect.dispose(), oursFork.dispose(), platform.dispose()])
}
