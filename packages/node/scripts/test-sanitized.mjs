#!/usr/bin/env node
// Runs the native engine's tests (test/engine.test.ts) against build/engine-sanitized.node: the
// engine built with AddressSanitizer and UBSan (scripts/build-native.mjs --sanitized). Node itself
// is not instrumented, so the ASan runtime is preloaded; every Node process the tests start
// (subprocesses, workers) inherits it and loads the same build (EFFECT_COMMAND_ENGINE). A memory
// error or undefined behaviour in the engine stops the process that hit it, which fails its test.
// Leak checking is off: Node frees the engine's JS objects only when they are garbage-collected.
//
// Skipped (exit 0, with a message) where the compiler has no ASan runtime or off Linux.
import { spawnSync } from "node:child_process"
import console from "node:console"
import { existsSync } from "node:fs"
import { dirname, isAbsolute, join } from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const cc = process.env.CC || "cc"

if (process.platform !== "linux") {
  console.log(`test-sanitized: SKIPPED, the engine is Linux-only (${process.platform})`)
  process.exit(0)
}
const runtime = spawnSync(cc, ["-print-file-name=libasan.so"], { encoding: "utf8" }).stdout?.trim() ?? ""
if (!isAbsolute(runtime) || !existsSync(runtime)) {
  console.log(`test-sanitized: SKIPPED, ${cc} has no AddressSanitizer runtime (libasan.so)`)
  process.exit(0)
}
const run = (command, args, env = {}) => {
  const r = spawnSync(command, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } })
  if (r.error !== undefined) throw r.error
  return r.status ?? 1
}
const built = run(process.execPath, [join(root, "scripts", "build-native.mjs"), "--sanitized"])
if (built !== 0) process.exit(built)
process.exit(run(process.execPath, [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "test/engine.test.ts"], {
  LD_PRELOAD: runtime,
  ASAN_OPTIONS: "detect_leaks=0:halt_on_error=1:disable_coredump=0",
  UBSAN_OPTIONS: "print_stacktrace=1:halt_on_error=1",
  EFFECT_COMMAND_ENGINE: join(root, "build", "engine-sanitized.node")
}))
