#!/usr/bin/env node
// Builds the package's native parts from native/*.c with the system C compiler. Installed as the
// package's bin, `npx effect-command-build`: the from-source build for a platform the package has
// no prebuilt binaries for (and the build this repository's tests use).
//
//   build/effect-command-helper  the child-side setup helper
//     musl-gcc -static -O2 -Wall -Wextra -Werror -o build/effect-command-helper native/helper.c native/mux.c native/setup.c native/supervise.c
//   build/engine.node            the native spawn engine (an N-API addon; no node-gyp, no downloads)
//     cc -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -I<node include dir> -o build/engine.node native/engine.c \
//       native/engine-*.c native/setup.c        (the list: engineSources below)
//
// The helper is linked statically against musl (Debian: `apt-get install musl-tools`) where
// musl-gcc is on the PATH, so one binary runs on glibc and musl systems alike; otherwise it is
// built with cc, linked against this system's libc. `CC` overrides the compiler of both.
// The engine's include dir is the running Node's (<prefix>/include/node, next to bin/node), else
// /usr/include/node; `NODE_INCLUDE_DIR` overrides both. The addon's N-API and libuv symbols resolve
// from the node binary at load time, so nothing is linked; one build serves every Node >= 20.
//
// `--prebuild` writes both to prebuilds/<platform>-<arch>/ instead (what the package's tarball
// ships; node-gyp-build's layout), the engine of a musl system to prebuilds/<platform>-<arch>-musl/.
// `--sanitized` builds only build/engine-sanitized.node: the engine with AddressSanitizer and
// UBSan, which scripts/test-sanitized.mjs runs the engine's tests against.
//
// Each output is skipped when it is newer than every source (this script included); `--force`
// rebuilds anyway. The compiler's output is passed through; the exit code is non-zero when a build
// fails. No dependencies: it runs from an installed package with nothing but Node and a compiler.
import { spawnSync } from "node:child_process"
import console from "node:console"
import { existsSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const cc = process.env.CC || "cc"
const flags = ["-O2", "-Wall", "-Wextra", "-Werror"]
const force = process.argv.includes("--force")
const sanitized = process.argv.includes("--sanitized")
const prebuild = process.argv.includes("--prebuild")

if (process.platform !== "linux") {
  console.error(`build-native: the helper and the engine are Linux-only; nothing to build on ${process.platform}`)
  // A tarball packed here would ship no binaries.
  process.exit(prebuild ? 1 : 0)
}

/**
 * glibc or musl, as Node itself was built: the same test as src/internal/native-files.ts (which
 * looks the engine up in the directory named here).
 */
const isMusl = () => process.report.getReport().header.glibcVersionRuntime === undefined
/**
 * Where an output goes: build/, or with `--prebuild` the directory for this platform and arch,
 * named after the libc too for the engine (the helper is static: one directory serves both).
 */
const outputDir = (byLibc) =>
  prebuild
    ? join(root, "prebuilds", `${process.platform}-${process.arch}${byLibc && isMusl() ? "-musl" : ""}`)
    : join(root, "build")

/** Whether a program answers on the PATH. */
const runs = (program, args) => spawnSync(program, args, { stdio: "ignore" }).status === 0

/**
 * musl ships no Linux kernel headers: a directory holding only the system's (linux/, asm/,
 * asm-generic/), searched after musl's own, so none of glibc's headers can slip in.
 */
const kernelHeaders = () => {
  const dir = join(root, "build", "kernel-headers")
  const multiarch = spawnSync(cc, ["-print-multiarch"], { encoding: "utf8" }).stdout?.trim() ?? ""
  const found = {
    linux: ["/usr/include/linux"],
    asm: ["/usr/include/asm", `/usr/include/${multiarch}/asm`],
    "asm-generic": ["/usr/include/asm-generic"]
  }
  for (const [name, candidates] of Object.entries(found)) {
    const source = candidates.find((candidate) =>
      existsSync(join(candidate, name === "linux" ? "capability.h" : "types.h"))
    )
    if (source === undefined) {
      throw new Error(`the kernel headers (${name}/) are not installed (Debian: linux-libc-dev)`)
    }
    mkdirSync(dir, { recursive: true })
    rmSync(join(dir, name), { force: true })
    symlinkSync(source, join(dir, name))
  }
  return dir
}

/** The helper's compiler and flags: static musl where musl-gcc is installed (CC overrides it). */
const helperCompiler = () => {
  if (process.env.CC) return { compiler: cc, flags }
  if (runs("musl-gcc", ["-dumpversion"])) {
    return { compiler: "musl-gcc", flags: ["-static", ...flags, "-idirafter", kernelHeaders()] }
  }
  console.error(
    "build-native: musl-gcc not found (Debian: apt-get install musl-tools): the helper is built with cc and linked against this system's libc"
  )
  return { compiler: cc, flags }
}

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

/**
 * What an N-API addon needs: position-independent, shared, Node's headers. Only the module's init
 * is exported (hidden visibility): the engine's functions, spread over several files, must neither
 * be interposed by nor interpose same-named symbols of the node binary.
 */
const addonFlags = () => {
  const include = nodeIncludeDir()
  if (include === undefined) {
    throw new Error(
      "node_api.h and uv.h not found (looked next to the node binary and in /usr/include/node; set NODE_INCLUDE_DIR)"
    )
  }
  return ["-shared", "-fPIC", "-fvisibility=hidden", `-I${include}`]
}

/** The engine's C files: its own (engine.c first) and the child-side steps it shares with the helper. */
const engineSources = [
  "native/engine.c",
  "native/engine-napi.c",
  "native/engine-spec.c",
  "native/engine-launch.c",
  "native/engine-child.c",
  "native/engine-spawn.c",
  "native/engine-reader.c",
  "native/engine-teardown.c",
  "native/setup.c"
]
const engineHeaders = ["native/engine.h", "native/setup.h"]

const targets = [
  {
    what: "the helper",
    output: join(outputDir(false), "effect-command-helper"),
    sources: ["native/helper.c", "native/mux.c", "native/setup.c", "native/supervise.c"],
    headers: ["native/mux.h", "native/setup.h"],
    compile: helperCompiler
  },
  {
    what: "the native engine",
    output: join(outputDir(true), "engine.node"),
    sources: engineSources,
    headers: engineHeaders,
    compile: () => ({ compiler: cc, flags: [...flags, ...addonFlags()] })
  },
  {
    what: "the engine with AddressSanitizer and UBSan (for scripts/test-sanitized.mjs)",
    output: join(root, "build", "engine-sanitized.node"),
    sources: engineSources,
    headers: engineHeaders,
    sanitized: true,
    compile: () => ({
      compiler: cc,
      flags: [
        ...flags,
        "-O1",
        "-g",
        "-fno-omit-frame-pointer",
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=undefined",
        ...addonFlags()
      ]
    })
  }
]

/** Builds one target unless it is up to date; whether it is there afterwards. */
const build = (target) => {
  const sources = target.sources.map((f) => join(root, f))
  const inputs = [...sources, ...target.headers.map((f) => join(root, f)), fileURLToPath(import.meta.url)]
  const built = mtimeMs(target.output)
  const newest = Math.max(...inputs.map((f) => mtimeMs(f) ?? Infinity))
  if (!force && built !== undefined && built > newest) return true

  const fail = (why) => {
    console.error(`build-native: building ${target.what} failed (${why})`)
    return false
  }
  let compiler, targetFlags
  try {
    ;({ compiler, flags: targetFlags } = target.compile())
  } catch (error) {
    return fail(error.message)
  }
  mkdirSync(dirname(target.output), { recursive: true })
  // A private name, renamed into place: a concurrent build or a running test never sees half a binary.
  const tmp = `${target.output}.tmp-${process.pid}`
  const args = [...targetFlags, "-o", tmp, ...sources]
  console.log(
    `build-native: ${compiler} ${[...targetFlags, "-o", relative(root, target.output), ...target.sources].join(" ")}`
  )
  const r = spawnSync(compiler, args, { cwd: root, stdio: "inherit" })
  if (r.error !== undefined || r.status !== 0) {
    rmSync(tmp, { force: true })
    return fail(
      `${compiler}: ${
        r.error !== undefined ? r.error.message : r.signal !== null ? `killed by ${r.signal}` : `exit ${r.status}`
      }`
    )
  }
  renameSync(tmp, target.output)
  return true
}

// Every target is attempted, whatever happened to the one before.
const results = targets.filter((target) => (target.sanitized === true) === sanitized).map(build)
process.exit(results.every(Boolean) ? 0 : 1)
