/**
 * Summarises a `.cpuprofile` (from `node --cpu-prof`): self time by function and by package or
 * file, and the share of time in (garbage collector), (program) and (idle).
 *
 *   node --conditions=source --import tsx src/cpuprofile.ts FILE.cpuprofile [top]
 *
 * (idle) is the event loop waiting — for a child, mostly.
 */
import * as Fs from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

// Node writes one profile per thread (with `--import tsx`, the loader's thread too): the main
// thread's is the one named CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile.
const args = process.argv.slice(2)
const file = args.find((a) => !/^\d+$/.test(a))
if (file === undefined) throw new Error("usage: cpuprofile.ts FILE.cpuprofile [top]")
const top = Number(args.find((a) => /^\d+$/.test(a)) ?? 25)
const profile = JSON.parse(Fs.readFileSync(file, "utf8")) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
let total = 0
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  self.set(id, (self.get(id) ?? 0) + dt)
  total += dt
})

/** `effect`, `@effect/platform`, `execa`, `core/src/...`, `node:internal/...` */
const where = (url: string): string => {
  if (url === "") return "(native/V8)"
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pnpm !== null) return pnpm[1]!
  const ws = /packages\/([^/]+)\/(.*)$/.exec(url)
  if (ws !== null) return `${ws[1]}/${ws[2]}`
  return url.replace(/^file:\/\//, "")
}

/** A file within its package: `effect/dist/esm/internal/fiberRuntime.js`. */
const inside = (url: string): string => {
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/(.*)$/.exec(url)
  return pnpm !== null ? pnpm[1]! : where(url)
}

const fns = new Map<string, number>()
const places = new Map<string, number>()
for (const [id, us] of self) {
  const n = byId.get(id)!
  const f = n.callFrame
  const key = `${f.functionName || "(anonymous)"}  ${inside(f.url)}${f.url === "" ? "" : `:${f.lineNumber + 1}`}`
  fns.set(key, (fns.get(key) ?? 0) + us)
  const place = f.url === "" ? f.functionName : where(f.url)
  places.set(place, (places.get(place) ?? 0) + us)
}

const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`)
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`)
  }
}
// Inclusive time of this repository's own functions (packages/*/src or, as the bench measures them, dist): where our code spends it.
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const ours = new Map<string, number>()
for (const [id, us] of self) {
  const seen = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const f = byId.get(at)!.callFrame
    if (!/\/packages\/[^/]+\/(src|dist)\/|@effect-command\/[^/]+\/dist\//.test(f.url)) continue
    const key = `${f.functionName || "(anonymous)"}  ${where(f.url)}:${f.lineNumber + 1}`
    if (seen.has(key)) continue
    seen.add(key)
    ours.set(key, (ours.get(key) ?? 0) + us)
  }
}

console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`)
show("self time by package / file", places)
show("self time by function", fns)
show("inclusive time of functions in packages/*/src and dist", ours)
