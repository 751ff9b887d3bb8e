#!/usr/bin/env node
// Builds packages/node/build/effect-command-helper from native/*.c with the system C compiler:
//
//   cc -O2 -Wall -Wextra -Werror -o build/effect-command-helper native/helper.c native/setup.c
//
// Skips the build when the binary is newer than every source (this script included); `--force`
// rebuilds anyway. `CC` overrides the compiler. The compiler's output is passed through; the exit
// code is non-zero when the build fails, unless `--optional` (for postinstall: the package works
// without the helper, and commands that need it say how to build it). No dependencies: it runs
// before anything is installed.
import { spawnSync } from "node:child_process"
import console from "node:console"
import { mkdirSync, renameSync, rmSync, statSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const sources = ["native/helper.c", "native/setup.c"].map((f) => join(root, f))
const inputs = [...sources, join(root, "native/setup.h"), fileURLToPath(import.meta.url)]
const output = join(root, "build", "effect-command-helper")
const cc = process.env.CC || "cc"
const flags = ["-O2", "-Wall", "-Wextra", "-Werror"]

const mtimeMs = (path) => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return undefined
  }
}

if (process.platform !== "linux") {
  console.error(`build-native: the helper is Linux-only; nothing to build on ${process.platform}`)
  process.exit(0)
}

const built = mtimeMs(output)
const newest = Math.max(...inputs.map((f) => mtimeMs(f) ?? Infinity))
if (!process.argv.includes("--force") && built !== undefined && built > newest) {
  process.exit(0)
}

mkdirSync(dirname(output), { recursive: true })
// A private name, renamed into place: a concurrent build or a running test never sees half a binary.
const tmp = `${output}.tmp-${process.pid}`
const args = [...flags, "-o", tmp, ...sources]
console.log(`build-native: ${cc} ${[...flags, "-o", relative(root, output), ...sources.map((f) => relative(root, f))].join(" ")}`)
const r = spawnSync(cc, args, { cwd: root, stdio: "inherit" })
if (r.error !== undefined || r.status !== 0) {
  rmSync(tmp, { force: true })
  const why = r.error !== undefined ? r.error.message : r.signal !== null ? `killed by ${r.signal}` : `exit ${r.status}`
  const optional = process.argv.includes("--optional")
  console.error(`build-native: ${cc} failed (${why})${optional ? "; continuing without the helper (--optional)" : ""}`)
  process.exit(optional ? 0 : 1)
}
renameSync(tmp, output)
