/**
 * The packages as a stranger gets them: packed with pnpm, installed from the tarballs into fresh
 * projects outside the repository, once by npm and once by pnpm, with install scripts off and no C
 * compiler on the PATH; then a small program is type-checked (`strict`, `skipLibCheck: false`)
 * and run. Runs once (not again on the child_process project): it tests the packages, not an engine.
 */
import { execFile, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"

const repo = fileURLToPath(new URL("../../..", import.meta.url))
const pnpm = ["--yes", "pnpm@10.34.9"]

interface Manifest {
  readonly version: string
  readonly dependencies?: Record<string, string>
  readonly devDependencies?: Record<string, string>
}
const manifest = (path: string): Manifest => JSON.parse(Fs.readFileSync(path, "utf8")) as Manifest
const root = manifest(Path.join(repo, "package.json"))
const core = manifest(Path.join(repo, "packages/core/package.json"))
const node = manifest(Path.join(repo, "packages/node/package.json"))
/** The versions this repository builds and tests with, from the registry. */
const registryPackages = (names: ReadonlyArray<string>): Array<string> =>
  names.map((name) => `${name}@${root.devDependencies?.[name] ?? node.devDependencies?.[name]}`)

/**
 * Runs a program to completion; its stdout, or an error with everything it said. Asynchronous: an
 * install takes tens of seconds, and a test worker blocked that long loses its link to vitest.
 */
const run = (command: string, args: ReadonlyArray<string>, cwd: string, env?: NodeJS.ProcessEnv): Promise<string> =>
  new Promise((resolve, reject) => {
    const options = {
      cwd,
      env,
      encoding: "utf8",
      timeout: 240_000,
      killSignal: "SIGKILL",
      maxBuffer: 64 << 20
    } as const
    execFile(command, args, options, (error, stdout, stderr) => {
      if (error === null) return resolve(stdout)
      reject(new Error(`${command} ${args.join(" ")} (in ${cwd}): ${error.message}\n${stdout}\n${stderr}`))
    })
  })

let work: string
let tarballs: { core: string; node: string }
/** A PATH with node, npm, npx and sh, and no C compiler; and an environment with nothing of ours. */
let consumerEnv: NodeJS.ProcessEnv

beforeAll(async () => {
  work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-command-consumer-"))
  const packed = Path.join(work, "tarballs")
  Fs.mkdirSync(packed)
  for (const name of ["core", "node"]) {
    await run("npx", [...pnpm, "pack", "--pack-destination", packed], Path.join(repo, "packages", name))
  }
  tarballs = {
    core: Path.join(packed, `effect-command-core-${core.version}.tgz`),
    node: Path.join(packed, `effect-command-node-${node.version}.tgz`)
  }

  const bin = Path.join(work, "bin")
  Fs.mkdirSync(bin)
  for (const program of ["npm", "npx", "sh"]) {
    Fs.symlinkSync((await run("sh", ["-c", `command -v ${program}`], work)).trim(), Path.join(bin, program))
  }
  Fs.symlinkSync(process.execPath, Path.join(bin, "node"))
  consumerEnv = { PATH: bin, HOME: Os.homedir(), LANG: "C.UTF-8" }
}, 180_000)

afterAll(() => {
  if (work !== undefined) Fs.rmSync(work, { recursive: true, force: true })
})

const listing = async (tarball: string): Promise<Array<string>> =>
  (await run("tar", ["tvzf", tarball], work)).trim().split("\n")
const files = async (tarball: string): Promise<Array<string>> =>
  (await listing(tarball)).map((line) => line.split(/\s+/).at(-1)!)

/**
 * A tarball's files: package.json, README.md, LICENSE, dist/index.js and .d.ts, and `required`
 * (paths in the package); nothing else but what `allowed` matches, and no build state.
 */
const expectOnly = (names: ReadonlyArray<string>, required: ReadonlyArray<string>, allowed: RegExp) => {
  const always = ["package.json", "README.md", "LICENSE", "dist/index.js", "dist/index.d.ts"]
  for (const file of [...always, ...required]) expect(names).toContain(`package/${file}`)
  const extra = names.filter((file) =>
    !(allowed.test(file) || always.includes(file.slice("package/".length))) || file.endsWith(".tsbuildinfo")
  )
  expect(extra).toEqual([])
}

const tsconfig = (include: ReadonlyArray<string>) => ({
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    types: ["node"],
    outDir: "out"
  },
  include
})

const mainProgram = `import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Effect } from "effect"

const engine = NodeCommandExecutor.engineInUse()
const command = Command.make("/bin/sh", "-c", "umask; ulimit -n").pipe(Command.umask(0o077), Command.limit("NOFILE", 64))
const output = await Effect.runPromise(Command.string(command).pipe(Effect.provide(NodeCommandExecutor.layer)))
console.log(JSON.stringify({ engine, output }))
`

/** The same package on an architecture it has no prebuilt binaries for. */
const elsewhereProgram = `import { Command } from "@effect-command/core"
import { NodeCommandExecutor } from "@effect-command/node"
import { Effect } from "effect"

Object.defineProperty(process, "arch", { value: "riscv64" })
const run = (command: Command.Command) => Effect.runPromise(
  Command.string(command).pipe(Effect.provide(NodeCommandExecutor.layer), Effect.either)
)
const plain = await run(Command.make("/bin/echo", "plain"))
const umask = await run(Command.make("/bin/echo", "umask").pipe(Command.umask(0o077)))
console.log(JSON.stringify({
  engine: NodeCommandExecutor.engineInUse(),
  plain: plain._tag === "Right" ? plain.right : plain.left.message,
  umask: umask._tag === "Left" ? { tag: umask.left._tag, reason: "reason" in umask.left ? umask.left.reason : undefined, message: umask.left.message } : umask.right
}))
`

const platformProgram = `import { Command } from "@effect/platform"
import { PlatformCommandExecutor } from "@effect-command/node/platform"
import { Effect } from "effect"

const output = await Effect.runPromise(Command.string(Command.make("/bin/echo", "platform")).pipe(Effect.provide(PlatformCommandExecutor.layer)))
console.log(JSON.stringify({ output }))
`

/** A fresh project with the programs; `install` puts the packages in; then type-check and run. */
const consumer = async (
  name: string,
  programs: Record<string, string>,
  install: (dir: string) => Promise<unknown>
) => {
  const dir = Path.join(work, name)
  Fs.mkdirSync(dir)
  Fs.writeFileSync(
    Path.join(dir, "package.json"),
    JSON.stringify({ name: `consumer-${name}`, private: true, type: "module" })
  )
  Fs.writeFileSync(Path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig(Object.keys(programs))))
  for (const [file, text] of Object.entries(programs)) Fs.writeFileSync(Path.join(dir, file), text)
  await install(dir)
  await run("node", [Path.join(dir, "node_modules/typescript/bin/tsc"), "-p", dir], dir, consumerEnv)
  const installed = Path.join(dir, "node_modules/@effect-command/node")
  expect(Fs.existsSync(Path.join(installed, "prebuilds"))).toBe(true)
  expect(Fs.existsSync(Path.join(installed, "build"))).toBe(false)
  return {
    dir,
    /** The JSON the program printed last, with `log`: the lines before it (the library's log lines). */
    output: async (file: string): Promise<unknown> => {
      const lines = (await run("node", [Path.join(dir, "out", file.replace(/\.ts$/, ".js"))], dir, consumerEnv))
        .trimEnd()
        .split("\n")
      return { ...JSON.parse(lines.at(-1)!) as object, log: lines.slice(0, -1) }
    }
  }
}

describe("the published packages", () => {
  it("the consumer's PATH has no C compiler", () => {
    const r = spawnSync("sh", ["-c", "command -v cc gcc clang musl-gcc tcc"], { env: consumerEnv, encoding: "utf8" })
    expect(r.stdout).toBe("")
  })

  it("the node tarball holds dist, the prebuilt engine and executable helper, the C sources and the build command, and nothing else", async () => {
    const entries = await listing(tarballs.node)
    const names = entries.map((line) => line.split(/\s+/).at(-1)!)
    const helper = entries.find((line) => line.endsWith(" package/prebuilds/linux-x64/effect-command-helper"))
    expect(helper?.startsWith("-rwxr-xr-x")).toBe(true)
    expectOnly(names, [
      "dist/platform.js",
      "dist/platform.d.ts",
      "prebuilds/linux-x64/engine.node",
      "native/engine.c",
      "native/helper.c",
      "scripts/build-native.mjs"
    ], /^package\/((dist|src|native|prebuilds)\/.+|scripts\/build-native\.mjs)$/)
  })

  it("the core tarball holds dist, README and LICENSE, and no tests or build state", async () => {
    const names = await files(tarballs.core)
    expectOnly(names, [], /^package\/(dist|src)\/.+$/)
  })

  it("the node package depends on the core package's version, and its exports have no source condition", async () => {
    const packed = JSON.parse(await run("tar", ["xzfO", tarballs.node, "package/package.json"], work)) as Manifest & {
      exports: unknown
    }
    expect(packed.dependencies?.["@effect-command/core"]).toBe(core.version)
    expect(JSON.stringify(packed.exports)).not.toContain("source")
  })

  it(
    "installed by npm with scripts off and no compiler: type-checks with skipLibCheck false, spawns natively and runs a command through the prebuilt helper; @effect/platform is not needed",
    async () => {
      const project = await consumer(
        "npm",
        { "main.ts": mainProgram, "elsewhere.ts": elsewhereProgram },
        (dir) =>
          run(
            "npm",
            [
              "install",
              "--ignore-scripts",
              "--no-audit",
              "--no-fund",
              tarballs.core,
              tarballs.node,
              ...registryPackages(["effect", "typescript", "@types/node"])
            ],
            dir,
            consumerEnv
          )
      )
      expect(Fs.existsSync(Path.join(project.dir, "node_modules/@effect/platform"))).toBe(false)
      expect(await project.output("main.ts")).toEqual({ engine: "native", output: "0077\n64\n", log: [] })
      // Where no binary fits: child_process, plain commands run, a helper setting names the build command.
      expect(await project.output("elsewhere.ts")).toMatchObject({
        engine: "child_process",
        plain: "plain\n",
        umask: {
          tag: "SpawnError",
          reason: "HelperMissing",
          message: expect.stringMatching(/no prebuilt binary for linux-riscv64 .*`npx effect-command-build`/)
        },
        // Said once, though two runs built the layer.
        log: [
          expect.stringMatching(/level=WARN .*the native spawn engine is not used \(.*linux-riscv64.*child_process/)
        ]
      })
    },
    300_000
  )

  it(
    "installed by pnpm with scripts off and no compiler: the same, and @effect-command/node/platform runs @effect/platform's commands",
    async () => {
      const project = await consumer("pnpm", { "main.ts": mainProgram, "platform.ts": platformProgram }, (dir) => {
        // What the registry would resolve the node package's dependency to.
        const manifestPath = Path.join(dir, "package.json")
        const project = JSON.parse(Fs.readFileSync(manifestPath, "utf8")) as Record<string, unknown>
        Fs.writeFileSync(
          manifestPath,
          JSON.stringify({ ...project, pnpm: { overrides: { "@effect-command/core": `file:${tarballs.core}` } } })
        )
        return run(
          "npx",
          [
            ...pnpm,
            "add",
            "--ignore-scripts",
            tarballs.core,
            tarballs.node,
            ...registryPackages(["effect", "typescript", "@types/node", "@effect/platform"])
          ],
          dir,
          consumerEnv
        )
      })
      expect(await project.output("main.ts")).toEqual({ engine: "native", output: "0077\n64\n", log: [] })
      expect(await project.output("platform.ts")).toEqual({ output: "platform\n", log: [] })
    },
    300_000
  )
})
