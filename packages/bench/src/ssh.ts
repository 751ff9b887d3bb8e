/**
 * SSH1 and SSH2: the SSH executor against OpenSSH's own client, over a private sshd on 127.0.0.1
 * (the tests' one: generated keys, a free port). Skipped when sshd is not installed.
 *
 * SSH1: latency of `/bin/true` per command, sequential: ours (`Command.exitCode` over the layer's
 * shared connection) vs a shell loop of `ssh -S <control socket> host /bin/true` over an
 * already-open master (the baseline: what the executor itself builds on) vs the same with
 * `setsid /bin/true` (the least a command in a process group of its own costs: one more exec) vs
 * the same spawned by Node's `child_process` (what a Node caller adds) vs the executor's own mux
 * client (the helper's `--ssh-mux`: what ours builds on, without an `ssh` client's start) from a
 * shell vs a shell loop of `ssh host /bin/true`, a fresh connection each.
 * SSH2: 256 MiB of stdout: ours draining `Command.stream` of `head -c 256MiB /dev/zero` vs
 * `ssh -S <control socket> host head -c … /dev/zero > /dev/null` from a shell (the baseline: nobody
 * reads the bytes) vs the same into `| cat > /dev/null` (a reader process, as ours is) vs the same
 * spawned by Node's `child_process`, its stdout read in 'data' events (a Node process reading).
 *
 * Every contender runs in this process, in interleaved rounds (the order rotating); the cost is
 * in the ssh processes and sshd, not in the measuring process.
 */
import * as Path from "node:path"

import { Command } from "@effect-command/core"
import { NodeCommandExecutor, SshCommandExecutor } from "@effect-command/node"
import { Effect, Exit, ManagedRuntime, Scope, Stream } from "effect"

import { sshdMissing, startSshd } from "../../node/test/support/sshd.js"
import { quick } from "./config.js"
import { helperBinary } from "./contenders.js"
import { exitZero, sequential } from "./effects.js"
import type { Sample } from "./protocol.js"
import type { Workload } from "./results.js"
import { rawSpawnWait, repeat } from "./spawn.js"
import { MiB, rotate } from "./stats.js"
import { log, timed } from "./workloads.js"

const sizes = quick ? { n: 5, bytes: 8 * MiB, rounds: 2 } : { n: 50, bytes: 256 * MiB, rounds: 5 }

const BASE = { id: "mux", name: "ssh -S (shared connection)" }

/** Runs `script` with `sh -c`, its words after it; resolves when it exited 0. */
const sh = (script: string, ...words: ReadonlyArray<string>): Promise<void> =>
  rawSpawnWait("sh", ["-c", script, "sh", ...words], "ignore")

export const runSsh = async (): Promise<ReadonlyArray<Workload>> => {
  if (sshdMissing !== undefined) {
    log(`SSH1, SSH2 skipped: ${sshdMissing}`)
    return []
  }
  const scope = Effect.runSync(Scope.make())
  try {
    const sshd = await Effect.runPromise(Scope.extend(startSshd("bash"), scope))
    const { options } = sshd
    const socket = Path.join(sshd.dir, "bench-control")
    // `ssh <common> host …`: the port, key and known_hosts the executor is given.
    const common = [
      "-T",
      "-o",
      "BatchMode=yes",
      "-p",
      String(options.port),
      "-i",
      options.identityFile!,
      ...Object.entries(options.options ?? {}).flatMap(([k, v]) => ["-o", `${k}=${v}`])
    ]
    await sh(`exec ssh -f -N -M -o ControlPersist=yes -S "$@"`, socket, ...common, options.host)
    const mux = ["-S", socket, ...common, options.host]
    const runtime = ManagedRuntime.make(SshCommandExecutor.layer(options))
    const local = ManagedRuntime.make(NodeCommandExecutor.layer)
    try {
      const ssh1: Array<Sample> = []
      const ssh2: Array<Sample> = []
      const n = sizes.n
      const helper = helperBinary()
      /** `n` × `ssh <args> /bin/true` from one shell. */
      const loop = (args: ReadonlyArray<string>, remote = "/bin/true") =>
        sh(`i=0; while [ $i -lt ${n} ]; do ssh "$@" ${remote} || exit 1; i=$((i+1)); done`, ...args)
      const latency: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
        ["ours", () => runtime.runPromise(sequential(exitZero(Command.exitCode(Command.make("/bin/true"))), n))],
        [BASE.id, () => loop(mux)],
        ["setsid", () => loop(mux, "setsid /bin/true")],
        ...(helper === null ? [] : [
          [
            "mux-helper",
            () =>
              sh(
                `i=0; while [ $i -lt ${n} ]; do "$1" --ssh-mux "$2" /bin/true || exit 1; i=$((i+1)); done`,
                helper,
                socket
              )
          ] as const
        ]),
        ["node", () => repeat(n, () => rawSpawnWait("ssh", [...mux, "setsid", "/bin/true"], "pipe"))],
        ["fresh", () => loop([...common, options.host])]
      ]
      const bytes = sizes.bytes
      const throughput: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
        [
          "ours",
          () =>
            runtime.runPromise(
              Effect.filterOrDie(
                Stream.runFold(
                  Command.stream(Command.make("head", "-c", String(bytes), "/dev/zero")),
                  0,
                  (total, chunk) => total + chunk.length
                ),
                (total) => total === bytes,
                () => "short"
              )
            )
        ],
        [
          "ours-foreach",
          async () => {
            let total = 0
            await runtime.runPromise(Command.run(
              Command.make("head", "-c", String(bytes), "/dev/zero").pipe(
                Command.stdout(Command.Output.forEach((chunk) => void (total += chunk.length)))
              )
            ))
            if (total !== bytes) throw new Error(`short: ${total}`)
          }
        ],
        ...(helper === null ? [] : [
          [
            "mux-foreach",
            async () => {
              let total = 0
              await local.runPromise(Command.run(
                Command.make(helper, "--ssh-mux", socket, `head -c ${bytes} /dev/zero`).pipe(
                  Command.stdout(Command.Output.forEach((chunk) => void (total += chunk.length)))
                )
              ))
              if (total !== bytes) throw new Error(`short: ${total}`)
            }
          ] as const
        ]),
        [BASE.id, () => sh(`exec ssh "$@" head -c ${bytes} /dev/zero >/dev/null`, ...mux)],
        ["cat", () => sh(`ssh "$@" head -c ${bytes} /dev/zero | cat >/dev/null`, ...mux)],
        ["node", () => rawSpawnWait("ssh", [...mux, "head", "-c", String(bytes), "/dev/zero"], "pipe")]
      ]
      // Warm-up: one of each.
      await runtime.runPromise(Command.exitCode(Command.make("/bin/true")))
      await sh(`ssh "$@" /bin/true`, ...mux)
      const started = Date.now()
      for (let round = 0; round < sizes.rounds; round++) {
        for (const [contender, run] of rotate(latency, round)) {
          ssh1.push({ round, contender, value: ((await timed(run))[1] / n) * 1000, extra: {} })
        }
        for (const [contender, run] of rotate(throughput, round)) {
          ssh2.push({ round, contender, value: bytes / MiB / (await timed(run))[1], extra: {} })
        }
        log(`SSH round ${round + 1}/${sizes.rounds}`)
      }
      const seconds = (Date.now() - started) / 1000
      const note = `A private sshd on 127.0.0.1: the clients and the server share this machine's cores.`
      return [
        {
          id: "SSH1",
          title: `SSH1: ${n} × /bin/true over ssh, sequential`,
          unit: "ms/command",
          higherIsBetter: false,
          baseline: BASE,
          labels: new Map([
            ["ours", "ours (SshCommandExecutor, Command.exitCode)"],
            [BASE.id, "ssh -S <control socket> host /bin/true, from sh"],
            ["setsid", "ssh -S <control socket> host setsid /bin/true, from sh"],
            [
              "mux-helper",
              "effect-command-helper --ssh-mux <control socket> /bin/true (the executor's mux client), from sh"
            ],
            ["node", "ssh -S <control socket> host setsid /bin/true, from Node's child_process.spawn"],
            ["fresh", "ssh host /bin/true (a new connection each), from sh"]
          ]),
          samples: ssh1,
          columns: [],
          notes: [note],
          seconds: seconds / 2
        },
        {
          id: "SSH2",
          title: `SSH2: ${bytes / MiB} MiB of stdout over ssh`,
          unit: "MiB/s",
          higherIsBetter: true,
          baseline: BASE,
          labels: new Map([
            ["ours", "ours (SshCommandExecutor, Command.stream drained)"],
            ["ours-foreach", "ours (SshCommandExecutor, Command.run + Output.forEach, counting)"],
            [
              "mux-foreach",
              "effect-command-helper --ssh-mux <control socket> head -c … (the executor's mux client) run by NodeCommandExecutor, Output.forEach"
            ],
            [BASE.id, "ssh -S <control socket> host head -c … /dev/zero > /dev/null, from sh"],
            ["cat", "ssh -S <control socket> host head -c … /dev/zero | cat > /dev/null, from sh"],
            ["node", "ssh -S <control socket> host head -c … /dev/zero, read by Node's child_process.spawn"]
          ]),
          samples: ssh2,
          columns: [],
          notes: [note],
          seconds: seconds / 2
        }
      ]
    } finally {
      await runtime.dispose()
      await local.dispose()
      await sh(`ssh -O exit -S "$@" 2>/dev/null; exit 0`, socket, options.host)
    }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
