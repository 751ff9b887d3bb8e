/**
 * Runs every docs/examples/*.ts (except the demo) the way a reader would, with
 * `node --import tsx --conditions=source <file>` from the repository root, and checks that it exits
 * 0 and prints what its guide says it prints. Each run carries a marker env var: afterwards no
 * process with it may be left (daemons and detached children included).
 */
import "./fixtures/ensure-helper.js"

import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

import { describe, expect, it } from "@effect/vitest"

import { marker, withMarker } from "./support/procs.js"

const repoRoot = Path.resolve(import.meta.dirname, "../../..")
const examplesDir = Path.join(repoRoot, "docs/examples")

/** A string must be a whole line of stdout; a RegExp must match somewhere in it. */
type Expected = string | RegExp

const root = process.getuid?.() === 0

const expected: Record<string, ReadonlyArray<Expected>> = {
  "getting-started.ts": [
    "command: echo 'hello, world'",
    "stdout: hello, world",
    "sorted: apple fig pear",
    "error: ExitError 3",
    /^message: sh -c .*: unexpected exit status 3: no space left$/m,
    "status: exit status 3"
  ],
  "arguments.ts": [
    "combinators: [--strict-order] [--conf-file=/etc/my app.conf] [--domain] [localdomain] [42]",
    "fromArgv: [a b] []",
    "template: [--count=3] [-n] [3] [--] [my notes; rm -rf ~.txt]",
    "rendered: printf '[%s]\\n' <redacted>",
    /^CommandUsageError: .*shell character "\|".* \/ argument 5 contains a NUL byte$/m
  ],
  "environment.ts": [
    /^default: \d+ variables, DOCS_SECRET_TOKEN included$/m,
    /^envPassCommon: .*\bLC_ALL\b.*$/m,
    "explicit: API_KEY=s3cret DISPLAY=:7 LANG=C.UTF-8 TERM=xterm",
    "rendered: env -i DISPLAY=\"$DISPLAY\" NOT_SET_IN_PARENT=\"$NOT_SET_IN_PARENT\" TERM=xterm LANG=C.UTF-8 API_KEY=<redacted> env",
    "resolved: env -i DISPLAY=:7 TERM=xterm LANG=C.UTF-8 API_KEY=<redacted> env",
    /^envUnset: \d+ variables, DOCS_SECRET_TOKEN gone$/m,
    "envClear: []",
    "CommandUsageError: env: invalid command: the environment variable name \"BAD=NAME\" contains \"=\""
  ],
  "daemons.ts": [
    "run: exit status 0 (the intermediate process); the daemon is alive",
    "daemon cwd: /",
    "second start: DaemonError PidFileLocked",
    "string(daemon): CommandUsageError",
    "daemon stopped"
  ],
  "capabilities.ts": [
    // The example changes credentials and capabilities for real only as root (as the tests run).
    ...(root
      ? [
        "clearCaps + allowCap(CAP_NET_BIND_SERVICE): CapPrm: 0000000000000400 | CapEff: 0000000000000400 | CapBnd: 0000000000000400",
        /^uid\(nobody\): uid=65534\(nobody\) gid=65534\(\w+\) groups=65534\(\w+\)$/m,
        /^uid\(65534\) \+ gid \+ groups: uid=65534\(nobody\) gid=65534\(\w+\) groups=65534\(\w+\)$/m,
        "unknown user: id: SetupFailed: getpwnam failed: ENOENT (unknown user no-such-user-here)"
      ]
      : [
        "clearCaps + allowCap(CAP_NET_BIND_SERVICE): (dry run) grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status",
        "uid(nobody): (dry run) id"
      ]),
    "limits: nofile=64 core=0 fsize_blocks=2048/unlimited",
    "umask(0o027): 0027 | 640"
  ],
  "hooks.ts": [
    /^pre-exec actions: nice=\d+ oom_score_adj=500 NoNewPrivs:1 session_leader=yes$/m,
    /^bad action: .*OOM score adjustment must be an integer from -1000 to 1000, not 5000$/m,
    "after handshakeWait, the program has run: false",
    "after handshakeNotify: started, exit status 0"
  ],
  "fds.ts": [
    "a child sees: 0 1 2",
    /^with passFd\((\d+)\) it sees: 0 1 2 \1$/m,
    "after closeParent the parent's fd is closed",
    "shared.log: from child 1 / from parent / from child 2",
    "inputFd(5): alpha zeta",
    /^passFd\(1\): .*a passed fd must be an integer ≥ 3, not 1$/m
  ],
  "stdio-and-buffers.ts": [
    "fed and captured 1048576 bytes through cat",
    "stdout=\"to-out\\n\" stderr=\"to-err\\n\"",
    "joined: one,two,three",
    "out.txt: a,b,end",
    "sink got: STREAM OF CHUNKS",
    "forEach: sha256 of 64 MiB of zeros matches",
    "maxOutput: OutputLimitError 65536"
  ],
  "working-directory.ts": [
    "default: the parent's directory",
    "cat notes.txt in the temp dir: hello from the temp dir",
    "missing directory: SpawnError BadWorkingDirectory",
    "set twice: cat notes.txt: invalid command: the working directory is set twice",
    /^daemon with a directory: .*always runs in \/ and cannot set a working directory$/m
  ],
  "logging.ts": [
    /^env -i LC_ALL=C .*PATH="\$PATH" .*TOKEN=<redacted> \/usr\/bin\/dnsmasq --strict-order --except-interface lo '--conf-file=\/etc\/dnsmasq conf\/main.conf'$/m,
    "--except-interface lo \\",
    /^env -i LC_ALL=C .*PATH=\$PATH .*TOKEN=<redacted> \/usr\/bin\/dnsmasq .* --conf-file=\/etc\/dnsmasq conf\/main.conf$/m,
    "JSON.stringify / inspect / String: no secret",
    "debug: About to run TOKEN=<redacted> sh -c 'echo \"token is $TOKEN\"'",
    "debug: Result exit status 0, stdout: 'token is <redacted>",
    /^span: sh \{ 'command\.line': .*TOKEN=<redacted>.*'process\.exit_status': 'exit status 0'.*\}$/m
  ],
  "running.ts": [
    "run: exit status 0, 3 bytes of stdout",
    "string: \"a\\nb\\n\"",
    "lines: [\"a\",\"b\"]",
    "records: [[\"k1\",\"v1\"],[\"k2\",\"v2\"]]",
    "streamLines: 1 2 3",
    "exitCode: 1",
    "status: fatal signal SIGUSR1",
    "ExitError 2, stderr: bad input",
    "SignalError SIGKILL",
    "SpawnError NotFound (ENOENT)",
    "CommandUsageError: string reads stdout, but stdout is set to \"inherit\""
  ],
  "dry-run.ts": [
    "br0: already there",
    "virbr1: created",
    "  ran: ip link show br0",
    "  ran: ip link show virbr1",
    "  ran: LC_ALL=C PATH=/usr/sbin:/usr/bin HOME=/root ip link add virbr1 type bridge",
    "  ran: ip link set virbr1 up",
    "scripted: c2VjcmV0, fatal signal SIGSEGV (core dumped), stdin seen: 6 bytes"
  ],
  "async-and-cleanup.ts": [
    /^started sed, pid \d+$/m,
    "reply: echo: hello",
    "wait: exit status 0",
    "kill(SIGINT): fatal signal SIGINT",
    "abort: fatal signal SIGKILL",
    "scope closed: the child is gone",
    "detached: alive after its scope; abort: fatal signal SIGTERM"
  ],
  "timeouts.ts": [
    /^sh -c .*: timed out after 1s; output so far: partial$/m,
    "ignores SIGTERM: killed after timeout + grace, not after the 30 s sleep",
    "Effect.timeout: TimeoutException",
    "drain delay: child done, not after the 30 s sleep"
  ],
  "pipelines.ts": [
    "rendered: tr -s ' ' '\\n' | sort | uniq -c | sort -rn",
    "counts: 3×a 2×b 1×c",
    "sh -c 'echo out; echo err >&2' 2>&1 >/dev/null | tr a-z A-Z -> ERR",
    "pipefail: ExitError 3; stages: exit status 3, exit status 0",
    "status: exit status 3",
    "stages of a good run: exit status 0, exit status 0",
    "yes | head: fatal signal SIGPIPE",
    "run of it: SignalError",
    /^head -c 100000 \/dev\/urandom \| gunzip \| sha256sum: stage 2 \(gunzip\): unexpected exit status 1: .*not in gzip format$/m,
    "stage 1 said: warning: old format"
  ],
  "remote.ts": [
    "argv: [it's][$HOME][a b][*]",
    "env: DEPLOY_TAG=v1.2.3 LANG=C",
    "pipeline: fig pear; ExitError 3 at stage 0",
    "exit 255: ExitError 255",
    "signal: fatal signal SIGTERM",
    "after the scope: the remote sleep is gone",
    "refused: CommandUsageError",
    "unreachable: ConnectionError ConnectFailed",
    "fanOut: 127.0.0.1:<port>=up localhost:<port>=up 127.0.0.1:1=ConnectionError"
  ],
  "migrating.ts": [
    "string: \"a b\"",
    "exitCode: 4",
    "lenient: (failed, ignored)",
    /^env: only A=1 without envInherit; \d+ variables with it$/m,
    "all: \"in\\nerr\\n\"",
    "sh -c: 42",
    "timeout: CommandTimeoutError"
  ]
}

const examples = Fs.readdirSync(examplesDir).filter((f) => f.endsWith(".ts") && f !== "demo.ts").sort()

interface Ran {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

const runExample = (file: string, mark: string): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const child = ChildProcess.spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=source", Path.join("docs/examples", file)],
      { cwd: repoRoot, env: { ...process.env, EC_DOCS_EXAMPLE: mark }, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => void (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk))
    // A hung example must not outlive the test: it is killed, and the assertions say so.
    const timer = setTimeout(() => child.kill("SIGKILL"), 110_000)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
    })
  })

describe.concurrent("docs/examples", () => {
  it("has the examples the guides reference, each with its expected output", () => {
    expect(examples).toEqual(Object.keys(expected).sort())
  })

  for (const file of examples) {
    // The remote example starts its own sshd: it needs Debian's openssh-server.
    const skip = file === "remote.ts" && !Fs.existsSync("/usr/sbin/sshd")
    it.skipIf(skip)(`${file} exits 0 and prints what its guide says`, async () => {
      const mark = marker()
      const ran = await runExample(file, mark)
      const context = `${file} (exit ${
        ran.code ?? ran.signal
      }, ${ran.ms} ms)\n--- stdout\n${ran.stdout}--- stderr\n${ran.stderr}`
      expect(ran.code, context).toBe(0)
      const lines = ran.stdout.split("\n")
      for (const want of expected[file] ?? []) {
        if (typeof want === "string") expect(lines, context).toContain(want)
        else expect(ran.stdout, context).toMatch(want)
      }
      // Nothing an example started is left running: not a child, a daemon or a detached process.
      expect(withMarker("EC_DOCS_EXAMPLE", mark)).toEqual([])
    }, 120_000)
  }
})
