/**
 * vitest globalSetup: compiles test/fixtures/probe.c to build/probe when the
 * binary is missing or older than the source. Fails the run if cc fails.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, renameSync, rmSync, statSync } from "node:fs"
import { dirname } from "node:path"
import { probePath, probeSourcePath } from "./probe.js"

const CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror"]

const mtimeMs = (path: string): number | undefined => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return undefined
  }
}

export default function setup(): void {
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
    const why = cc.error !== undefined ? String(cc.error) : cc.signal !== null ? `signal ${cc.signal}` : `exit ${cc.status}`
    throw new Error(
      `failed to compile the test probe (cc ${CFLAGS.join(" ")} -o ${probePath} ${probeSourcePath}): ${why}\n${cc.stdout}${cc.stderr}`
    )
  }
  renameSync(tmp, probePath)
}
