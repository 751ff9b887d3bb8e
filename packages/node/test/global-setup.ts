/**
 * vitest globalSetup: compiles test/fixtures/probe.c to build/probe when the
 * binary is missing or older than the source. Fails the run if cc fails. Under CI, fails the run
 * when the native engine or the helper is not built: a suite that quietly fell back to
 * child_process without the helper would pass green without testing them.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"

import { probePath, probeSourcePath } from "./support/probe.js"

const CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror"]

const mtimeMs = (path: string): number | undefined => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return undefined
  }
}

const requireNativeBuild = (): void => {
  const missing = ["engine.node", "effect-command-helper"]
    .map((name) => fileURLToPath(new URL(`../build/${name}`, import.meta.url)))
    .filter((path) => !existsSync(path))
  if (missing.length > 0) throw new Error(`CI: not built: ${missing.join(", ")} (run \`pnpm build:native\` first)`)
}

export default function setup(): void {
  if (process.env.CI !== undefined && process.env.CI !== "") requireNativeBuild()
  const source = mtimeMs(probeSourcePath)
  if (source === undefined) throw new Error(`probe source not found: ${probeSourcePath}`)
  const binary = mtimeMs(probePath)
  if (binary !== undefined && binary >= source) return

  mkdirSync(dirname(probePath), { recursive: true })
  // Compile to a private name and rename, so concurrent runs never see a half-written binary.
  const tmp = `${probePath}.tmp-${process.pid}`
  const cc = spawnSync("cc", [...CFLAGS, "-o", tmp, probeSourcePath], { encoding: "utf8" })
  if (cc.error !== undefined || cc.status !== 0) {
    rmSync(tmp, { force: true })
    const why = cc.error !== undefined
      ? String(cc.error)
      : cc.signal !== null
      ? `signal ${cc.signal}`
      : `exit ${cc.status}`
    throw new Error(
      `failed to compile the test probe (cc ${
        CFLAGS.join(" ")
      } -o ${probePath} ${probeSourcePath}): ${why}\n${cc.stdout}${cc.stderr}`
    )
  }
  renameSync(tmp, probePath)
}
