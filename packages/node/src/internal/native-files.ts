/**
 * Where the package's native binaries are: a from-source build first (`build/`, written by
 * `npx effect-command-build`), then the ones prebuilt when the package was packed
 * (`prebuilds/<platform>-<arch>[-musl]/`, node-gyp-build's layout). A loader of our own rather
 * than node-gyp-build: the helper is an executable, not an addon, so what is needed is a path, not
 * a `require`; the engine is one N-API build for every Node version, so there are no ABI tags to
 * match; and the package keeps no runtime dependency.
 */
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

/** The command that builds the binaries from source in an installed package. */
export const buildCommand = "npx effect-command-build"

/** How to build them, for messages that need them. */
export const buildHint = `build it with \`${buildCommand}\` (needs a C compiler)`

const inPackage = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url))

let musl: boolean | undefined

/** Node (and so an addon it loads) runs on musl: its report names no glibc. */
const isMusl = (): boolean => {
  if (musl === undefined) {
    const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } }
    musl = report.header?.glibcVersionRuntime === undefined
  }
  return musl
}

/**
 * This machine's prebuild directory: `linux-x64` (glibc), `linux-x64-musl`. `byLibc: false` for a
 * statically linked binary, which runs on either and is shipped in the glibc directory.
 */
export const prebuildTarget = (byLibc: boolean): string =>
  `${process.platform}-${process.arch}${byLibc && isMusl() ? "-musl" : ""}`

/** The places a native file is looked for, in order (the first existing one is used). */
const candidates = (name: string, byLibc: boolean): Array<() => string> => [
  () => inPackage(`build/${name}`),
  // Only here is the libc asked for (Node's report: a few ms, once per process).
  () => inPackage(`prebuilds/${prebuildTarget(byLibc)}/${name}`)
]

/** The first existing candidate, or why there is none (the places looked in, how to build one). */
export const findNative = (name: string, byLibc: boolean): { path: string } | { missing: string } => {
  const looked: Array<string> = []
  for (const candidate of candidates(name, byLibc)) {
    const path = candidate()
    if (Fs.existsSync(path)) return { path }
    looked.push(path)
  }
  return {
    missing: `no prebuilt binary for ${prebuildTarget(byLibc)} (looked for ${looked.join(" and ")}); ${buildHint}`
  }
}
