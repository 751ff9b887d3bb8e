/**
 * What the cold runs execute outside tsx, built at run time into packages/bench/build/: the cold
 * program as plain JavaScript (cold.ts, transpiled with the rest of src/ by TypeScript without type
 * checking, which `pnpm check` does) and the C floors (spawn-floor.c, bytes-floor.c, compiled with
 * `cc -O2`).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

import { benchDir } from "./config.js"

const srcDir = Path.join(benchDir, "src")

/** Transpiles src/ into build/cold/; the cold program's path. */
export const coldProgram = async (): Promise<string> => {
  const { default: ts } = await import("typescript")
  const outDir = Path.join(benchDir, "build/cold")
  Fs.mkdirSync(outDir, { recursive: true })
  for (const name of Fs.readdirSync(srcDir).filter((n) => n.endsWith(".ts"))) {
    const { outputText } = ts.transpileModule(Fs.readFileSync(Path.join(srcDir, name), "utf8"), {
      fileName: name,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
    })
    Fs.writeFileSync(Path.join(outDir, name.replace(/\.ts$/, ".js")), outputText)
  }
  return Path.join(outDir, "cold.js")
}

/** A C floor, compiled once per bench run: its path, or why there is none. */
export type Floor = { readonly path: string } | { readonly missing: string }

const floors = new Map<string, Floor>()

/** Compiles `src/<name>.c` into build/ (once per bench run): the program's path, or why there is none. */
const cFloor = (name: string): Floor => {
  const known = floors.get(name)
  if (known !== undefined) return known
  const path = Path.join(benchDir, "build", name)
  Fs.mkdirSync(Path.dirname(path), { recursive: true })
  const cc = ChildProcess.spawnSync("cc", ["-O2", "-Wall", "-Werror", "-o", path, Path.join(srcDir, `${name}.c`)], {
    encoding: "utf8"
  })
  const floor: Floor = cc.error !== undefined
    ? { missing: `no C compiler (\`cc\`: ${cc.error.message})` }
    : cc.status !== 0
    ? { missing: `\`cc\` failed: ${cc.stderr.trim().split("\n")[0]}` }
    : { path }
  floors.set(name, floor)
  return floor
}

/** The C floor of the cold spawn workloads (spawn-floor.c). */
export const spawnFloor = (): Floor => cFloor("spawn-floor")

/** The C floor of the byte workloads (bytes-floor.c). */
export const bytesFloor = (): Floor => cFloor("bytes-floor")
