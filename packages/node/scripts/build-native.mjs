#!/usr/bin/env node
// Builds the package's native parts from native/*.c with the system C compiler:
//
//   build/effect-command-helper  the child-side setup helper
//     cc -O2 -Wall -Wextra -Werror -o build/effect-command-helper native/helper.c native/setup.c
//   build/engine.node            the native spawn engine (an N-API addon; no node-gyp, no downloads)
//     cc -O2 -Wall -Wextra -Werror -shared -fPIC -I<node include dir> -o build/engine.node native/engine.c
//
// The include dir is the running Node's (<prefix>/include/node, next to bin/node), else
// /usr/include/node; `NODE_INCLUDE_DIR` overrides both. The addon's N-API and libuv symbols resolve
// from the node binary at load time, so nothing is linked.
//
// `--sanitized` builds only build/engine-sanitized.node instead: the engine with AddressSanitizer and
// UBSan, which scripts/test-sanitized.mjs runs the engine's tests against.
//
// Each output is skipped when it is newer than every source (this script included); `--force`
// rebuilds anyway. `CC` overrides the compiler. The compiler's output is passed through; the exit
// code is non-zero when a build fails, unless `--optional` (for postinstall: the package works
// without the helper and without the engine, and commands that need the helper say how to build
// it). No dependencies: it runs before anything is installed.
import { spawnSync } from "node:child_process"
import console from "node:console"
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const cc = process.env.CC || "cc"
const flags = ["-O2", "-Wall", "-Wextra", "-Werror"]
const optional = process.argv.includes("--optional")
const force = process.argv.includes("--force")
const sanitized = process.argv.includes("--sanitized")

const mtimeMs = (path) => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return undefined
  }
}

/** Where node_api.h and uv.h are: the running Node's headers first. */
const nodeIncludeDir = () => {
  const candidates = [
    process.env.NODE_INCLUDE_DIR,
    resolve(process.execPath, "../../include/node"),
    "/usr/include/node"
  ].filter((dir) => dir !== undefined && dir !== "")
  return candidates.find((dir) => existsSync(join(dir, "node_api.h")) && existsSync(join(dir, "uv.h")))
}

/** What an N-API addon needs: position-independent, shared, Node's headers. */
const addonFlags = () => {
  const include = nodeIncludeDir()
  if (include === undefined) {
    throw new Error("node_api.h and uv.h not found (looked next to the node binary and in /usr/include/node; set NODE_INCLUDE_DIR)")
  }
  return ["-shared", "-fPIC", `-I${include}`]
}

const targets = [
  {
    what: "the helper",
    output: join(root, "build", "effect-command-helper"),
    sources: ["native/helper.c", "native/setup.c"],
    headers: ["native/setup.h"],
    flags: () => flags
  },
  {
    what: "the native engine",
    output: join(root, "build", "engine.node"),
    sources: ["native/engine.c"],
    headers: [],
    flags: () => [...flags, ...addonFlags()]
  },
  {
    what: "the engine with AddressSanitizer and UBSan (for scripts/test-sanitized.mjs)",
    output: join(root, "build", "engine-sanitized.node"),
    sources: ["native/engine.c"],
    headers: [],
    sanitized: true,
    flags: () => [
      ...flags,
      "-O1",
      "-g",
      "-fno-omit-frame-pointer",
      "-fsanitize=address,undefined",
      "-fno-sanitize-recover=undefined",
      ...addonFlags()
    ]
  }
]

if (process.platform !== "linux") {
  console.error(`build-native: the helper and the engine are Linux-only; nothing to build on ${process.platform}`)
  process.exit(0)
}

/** Builds one target unless it is up to date; whether it is there afterwards. */
const build = (target) => {
  const sources = target.sources.map((f) => join(root, f))
  const inputs = [...sources, ...target.headers.map((f) => join(root, f)), fileURLToPath(import.meta.url)]
  const built = mtimeMs(target.output)
  const newest = Math.max(...inputs.map((f) => mtimeMs(f) ?? Infinity))
  if (!force && built !== undefined && built > newest) return true

  const fail = (why) => {
    console.error(`build-native: building ${target.what} failed (${why})${optional ? `; continuing without ${target.what} (--optional)` : ""}`)
    return false
  }
  let targetFlags
  try {
    targetFlags = target.flags()
  } catch (error) {
    return fail(error.message)
  }
  mkdirSync(dirname(target.output), { recursive: true })
  // A private name, renamed into place: a concurrent build or a running test never sees half a binary.
  const tmp = `${target.output}.tmp-${process.pid}`
  const args = [...targetFlags, "-o", tmp, ...sources]
  console.log(`build-native: ${cc} ${[...targetFlags, "-o", relative(root, target.output), ...target.sources].join(" ")}`)
  const r = spawnSync(cc, args, { cwd: root, stdio: "inherit" })
  if (r.error !== undefined || r.status !== 0) {
    rmSync(tmp, { force: true })
    return fail(`${cc}: ${r.error !== undefined ? r.error.message : r.signal !== null ? `killed by ${r.signal}` : `exit ${r.status}`}`)
  }
  renameSync(tmp, target.output)
  return true
}

// Every target is attempted, whatever happened to the one before.
const results = targets.filter((target) => (target.sanitized === true) === sanitized).map(build)
process.exit(results.every(Boolean) || optional ? 0 : 1)
