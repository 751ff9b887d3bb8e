/**
 * The helper's mux client (native/mux.c) against masters of our own on a Unix socket: a faithful
 * one, and hostile ones that close early, speak another version, refuse the session, send lengths
 * past any bound or garbage. Whatever the master does, the client ends with a status (the remote
 * command's, else 255) and says why on stderr where ssh(1) would; it never hangs on a master that
 * closed. The same cases run against a build with AddressSanitizer and UBSan where the compiler
 * has them. (The client against a real OpenSSH master: ssh.test.ts.)
 */
import { Buffer } from "node:buffer"
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readlinkSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { isAbsolute, join } from "node:path"

import { afterAll, describe, expect, it } from "@effect/vitest"

import { collect } from "./support/collect.js"
import { helperPath, nativeSources } from "./support/raw-helper.js"

const dir = mkdtempSync(join(tmpdir(), "ec-mux-test-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const HELLO = 0x00000001
const NEW_SESSION = 0x10000002
const FAILURE = 0x80000003
const EXIT_MESSAGE = 0x80000004
const SESSION_OPENED = 0x80000006

const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}
const str = (s: string | Buffer) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)])
const packet = (...parts: ReadonlyArray<Buffer>) => {
  const body = Buffer.concat(parts)
  return Buffer.concat([u32(body.length), body])
}

/** A master's side of one control connection: reads what the client sent, as it comes. */
class Peer {
  private bytes = Buffer.alloc(0)
  private wake: (() => void) | undefined
  private ended = false
  constructor(readonly socket: Net.Socket) {
    socket.on("data", (chunk) => {
      this.bytes = Buffer.concat([this.bytes, chunk])
      this.wake?.()
    })
    socket.on("end", () => {
      this.ended = true
      this.wake?.()
    })
    socket.on("error", () => {})
  }
  /** The next `n` bytes the client sent; rejects when it closed first. */
  async take(n: number): Promise<Buffer> {
    while (this.bytes.length < n) {
      if (this.ended) throw new Error(`the client closed with ${this.bytes.length} of ${n} bytes`)
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
    const taken = this.bytes.subarray(0, n)
    this.bytes = this.bytes.subarray(n)
    return taken
  }
  /** One message: its type and body (after the type). */
  async message(): Promise<{ type: number; body: Buffer }> {
    const length = (await this.take(4)).readUInt32BE()
    const all = await this.take(length)
    return { type: all.readUInt32BE(), body: all.subarray(4) }
  }
  /**
   * The hello exchange, then the session request and its three fds' bytes (the fds themselves are
   * dropped): the request's id, command, environment strings and length.
   */
  async session(): Promise<{ request: number; command: string; env: Array<string>; length: number }> {
    this.socket.write(packet(u32(HELLO), u32(4)))
    const hello = await this.message()
    expect([hello.type, hello.body.readUInt32BE()]).toEqual([HELLO, 4])
    const { body, type } = await this.message()
    expect(type).toBe(NEW_SESSION)
    const request = body.readUInt32BE(0)
    // reserved "", tty, X11, agent, subsystem, escape char, terminal type "", command
    expect(body.subarray(4, 32)).toEqual(
      Buffer.concat([str(""), u32(0), u32(0), u32(0), u32(0), u32(0xffffffff), str("")])
    )
    const strings: Array<string> = []
    for (let at = 32; at < body.length;) {
      const n = body.readUInt32BE(at)
      strings.push(body.subarray(at + 4, at + 4 + n).toString())
      at += 4 + n
    }
    const [command, ...env] = strings
    expect(await this.take(3)).toEqual(Buffer.alloc(3))
    return { request, command: command!, env, length: body.length + 8 }
  }
}

let sockets = 0
/** A master listening on a fresh socket, running `serve` for each client. */
const master = async (serve: (peer: Peer) => Promise<void>): Promise<{ path: string; close: () => void }> => {
  const path = join(dir, `m${++sockets}`)
  const server = Net.createServer((socket) => {
    serve(new Peer(socket)).catch((error) => {
      socket.destroy()
      throw error
    })
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  return { path, close: () => server.close() }
}

interface Ran {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

const run = async (
  binary: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  started: (pid: number) => void = () => {}
): Promise<Ran> => {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...sanitizerEnv, ...env } })
  started(child.pid!)
  const stdout = collect(child.stdout)
  const stderr = collect(child.stderr)
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
    child.once("error", reject)
    child.once("close", (c, s) => resolve([c, s]))
  })
  return { code, signal, stdout: await stdout.end, stderr: await stderr.end }
}

/** The helper built with AddressSanitizer and UBSan, where the compiler has them. */
const sanitized = (() => {
  const runtime = spawnSync("cc", ["-print-file-name=libasan.so"], { encoding: "utf8" }).stdout?.trim() ?? ""
  if (!isAbsolute(runtime) || !existsSync(runtime)) return undefined
  const output = join(dir, "helper-sanitized")
  const cc = spawnSync("cc", [
    "-O1",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-o",
    output,
    ...nativeSources
  ], { encoding: "utf8" })
  if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`)
  return output
})()
/** Only what the sanitizers need: the environment the client sends is the test's to check. */
const sanitizerEnv: Record<string, string> = { ASAN_OPTIONS: "halt_on_error=1", UBSAN_OPTIONS: "halt_on_error=1" }

const builds: ReadonlyArray<readonly [string, string]> = [
  ["the helper", helperPath],
  ...(sanitized === undefined ? [] : [["the helper with ASan and UBSan", sanitized] as const])
]

for (const [name, binary] of builds) {
  describe(`${name} as a mux client`, () => {
    const mux = (path: string, command = "the command") => run(binary, ["--ssh-mux", path, command])

    it("asks for one session running the command, with its environment, and exits with the status the master reports", async () => {
      let asked: { command: string; env: Array<string> } | undefined
      const m = await master(async (peer) => {
        const { command, env, request } = await peer.session()
        asked = { command, env }
        peer.socket.write(packet(u32(SESSION_OPENED), u32(request), u32(7)))
        peer.socket.end(packet(u32(EXIT_MESSAGE), u32(7), u32(42)))
      })
      // Quoted for the remote shell by the caller: the argument goes as it is, whatever it holds.
      const command = "printf '%s\\n' \"$HOME\" 'it''s' \u00e9 ; exit 3"
      const env = { LANG: "C.UTF-8", LC_TEST: "from-local" }
      expect(await run(binary, ["--ssh-mux", m.path, command], env)).toEqual({
        code: 42,
        signal: null,
        stdout: "",
        stderr: ""
      })
      // All of it: the master forwards what its SendEnv allows, as for ssh's own clients.
      expect(asked).toEqual({
        command,
        env: Object.entries({ ...sanitizerEnv, ...env }).map(([k, v]) => `${k}=${v}`)
      })
      m.close()
    })

    it("sends no more of its environment than fits in the master's 256 KiB request", async () => {
      let asked: { env: Array<string>; length: number } | undefined
      const m = await master(async (peer) => {
        const { env, length, request } = await peer.session()
        asked = { env, length }
        peer.socket.write(packet(u32(SESSION_OPENED), u32(request), u32(1)))
        peer.socket.end(packet(u32(EXIT_MESSAGE), u32(1), u32(0)))
      })
      // Each under the kernel's 128 KiB for one string; together past the master's bound.
      const command = "x".repeat(100 * 1024)
      const big = "y".repeat(60 * 1024)
      const ran = await run(binary, ["--ssh-mux", m.path, command], { SMALL: "1", BIG1: big, BIG2: big, BIG3: big })
      expect(ran.code).toBe(0)
      expect(asked!.length).toBeLessThanOrEqual(256 * 1024)
      expect(asked!.env).toEqual(expect.arrayContaining(["SMALL=1", `BIG1=${big}`, `BIG2=${big}`]))
      expect(asked!.env.some((entry) => entry.startsWith("BIG3="))).toBe(false)
      m.close()
    })

    it("a closed stdin, stdout or stderr goes to the master as /dev/null, never as the control socket", async () => {
      let pid = 0
      let stdio: Array<string> = []
      const m = await master(async (peer) => {
        const { request } = await peer.session()
        stdio = [0, 1, 2].map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`))
        peer.socket.write(packet(u32(SESSION_OPENED), u32(request), u32(1)))
        peer.socket.end(packet(u32(EXIT_MESSAGE), u32(1), u32(5)))
      })
      const ran = await run(
        "/bin/sh",
        ["-c", `exec "$0" --ssh-mux "$1" true <&- >&- 2>&-`, binary, m.path],
        {},
        (started) => (pid = started)
      )
      expect(ran.code).toBe(5)
      expect(stdio).toEqual(["/dev/null", "/dev/null", "/dev/null"])
      m.close()
    })

    it("SIGTERM, SIGINT or SIGHUP during the session end it with 255, as ssh's mux client", async () => {
      for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
        let pid = 0
        let asked: () => void = () => {}
        const opened = new Promise<void>((resolve) => (asked = resolve))
        let closed: () => void = () => {}
        const gone = new Promise<void>((resolve) => (closed = resolve))
        const m = await master(async (peer) => {
          const { request } = await peer.session()
          peer.socket.on("close", closed)
          peer.socket.write(packet(u32(SESSION_OPENED), u32(request), u32(1)))
          asked()
        })
        const ran = run(binary, ["--ssh-mux", m.path, "sleep 100"], {}, (started) => (pid = started))
        await opened
        process.kill(pid, signal)
        expect(await ran).toEqual({ code: 255, signal: null, stdout: "", stderr: "" })
        // The master saw its control connection close.
        await gone
        m.close()
      }
    })

    it("waits for the master to close the connection after the exit status, and exits with that status", async () => {
      let release: () => void = () => {}
      const m = await master(async (peer) => {
        const { request } = await peer.session()
        peer.socket.write(packet(u32(SESSION_OPENED), u32(request), u32(1)))
        peer.socket.write(packet(u32(EXIT_MESSAGE), u32(1), u32(3)))
        // A message of a newer protocol, then the close: ignored, then the end.
        await new Promise<void>((resolve) => (release = resolve))
        peer.socket.end(packet(u32(0x90000001), u32(0)))
      })
      const ran = mux(m.path)
      let done = false
      void ran.then(() => (done = true))
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(done).toBe(false)
      release()
      expect(await ran).toEqual({ code: 3, signal: null, stdout: "", stderr: "" })
      m.close()
    })

    it("exits 255 without a word when the master closes without an exit status (a death by signal, a lost connection)", async () => {
      const m = await master(async (peer) => {
        const { request } = await peer.session()
        peer.socket.end(packet(u32(SESSION_OPENED), u32(request), u32(1)))
      })
      expect(await mux(m.path)).toEqual({ code: 255, signal: null, stdout: "", stderr: "" })
      m.close()
    })

    it("exits 255 saying why when the master cannot be reached, refuses or breaks the protocol", async () => {
      const cases: ReadonlyArray<readonly [string, (peer: Peer) => Promise<void>, RegExp]> = [
        ["closes at once", async (peer) => void peer.socket.end(), /master is gone: it closed the control socket/],
        [
          "speaks version 3",
          async (peer) => void peer.socket.end(packet(u32(HELLO), u32(3))),
          /does not speak mux protocol version 4/
        ],
        [
          "says something else first",
          async (peer) => void peer.socket.end(packet(u32(SESSION_OPENED), u32(1), u32(1))),
          /does not speak mux protocol version 4/
        ],
        [
          "refuses the session",
          async (peer) => {
            const { request } = await peer.session()
            peer.socket.end(packet(u32(FAILURE), u32(request), str("Multiple sessions not supported")))
          },
          /refused the session: Multiple sessions not supported$/m
        ],
        [
          "refuses it with a reason longer than its message",
          async (peer) => {
            const { request } = await peer.session()
            peer.socket.end(packet(u32(FAILURE), u32(request), u32(1 << 30), Buffer.from("short")))
          },
          /refused the session: \(no reason given\)/
        ],
        [
          "answers another request",
          async (peer) => {
            const { request } = await peer.session()
            peer.socket.end(packet(u32(SESSION_OPENED), u32(request + 1), u32(1)))
          },
          /out of sequence/
        ],
        [
          "announces a message of 4 GiB",
          async (peer) => void peer.socket.end(Buffer.concat([u32(0xffffffff), u32(HELLO)])),
          /master is gone/
        ],
        [
          "announces a message shorter than its type",
          async (peer) => void peer.socket.end(Buffer.concat([u32(2), Buffer.from("ab")])),
          /master is gone/
        ],
        [
          "ends within a message",
          async (peer) => void peer.socket.end(Buffer.concat([u32(100), u32(HELLO), u32(4)])),
          /master is gone/
        ]
      ]
      for (const [what, serve, said] of cases) {
        const m = await master(serve)
        const ran = await mux(m.path)
        expect({ what, code: ran.code, signal: ran.signal, stdout: ran.stdout }).toEqual({
          what,
          code: 255,
          signal: null,
          stdout: ""
        })
        expect(ran.stderr).toMatch(/^effect-command-helper --ssh-mux: /)
        expect(ran.stderr).toMatch(said)
        m.close()
      }
      const missing = await mux(join(dir, "nobody-listens"))
      expect(missing.code).toBe(255)
      expect(missing.stderr).toMatch(/cannot reach the connection's control socket .*nobody-listens: No such file/)
      const long = await mux(join(dir, "x".repeat(200)))
      expect(long.code).toBe(255)
      expect(long.stderr).toMatch(/path is longer than 107 bytes/)
      const usage = await run(binary, ["--ssh-mux", "only-a-socket"])
      expect(usage.code).toBe(255)
      expect(usage.stderr).toMatch(/usage: effect-command-helper --ssh-mux SOCKET COMMAND/)
    })
  })
}
