/**
 * Runs one contender of one workload twice, and profiles the second run (V8's sampling profiler):
 *
 *   cd packages/bench
 *   node --import tsx src/profile.ts W2 ours 3000
 *   node --import tsx src/cpuprofile.ts build/prof/W2-ours.cpuprofile
 *
 * The first run is the warm-up: V8 compiles a JS-heavy contender's code for its first thousands
 * of spawns, and a profile of that shows the compiler, not the steady state.
 *
 * Workloads: W1 (n spawns), W2 (n spawns, 32 in flight), W3/W4/W5 (MiB), W6wc/W6cat (MiB).
 */
import * as Fs from "node:fs"
import * as Inspector from "node:inspector/promises"

import * as Contenders from "./contenders.js"
import { MiB } from "./stats.js"

const [workload = "W1", id = "ours", sizeArg] = process.argv.slice(2)
const size = Number(sizeArg ?? (workload === "W1" || workload === "W2" ? 1000 : 256))

const pick = <A extends ReadonlyArray<unknown>>(list: ReadonlyArray<Contenders.Contender<A>>) => {
  const c = list.find((c) => c.id === id)
  if (c === undefined) throw new Error(`no contender ${id} in ${workload}: ${list.map((c) => c.id).join(", ")}`)
  return c
}

const measure = async () => {
  const start = performance.now()
  let unit = ""
  switch (workload) {
    case "W1":
      await pick(Contenders.w1).run(size)
      unit = `${(((performance.now() - start) * 1000) / size).toFixed(0)} µs/spawn`
      break
    case "W2":
      await pick(Contenders.w2).run(size, 32)
      unit = `${((size * 1000) / (performance.now() - start)).toFixed(0)} spawns/s`
      break
    case "W3":
    case "W4":
    case "W5": {
      const list = workload === "W3" ? Contenders.w3 : workload === "W4" ? Contenders.w4 : Contenders.w5
      const c = pick(list)
      for (let i = 0; i < 4; i++) await c.run(size * MiB)
      unit = `${((4 * size * 1000) / (performance.now() - start)).toFixed(0)} MiB/s`
      break
    }
    case "W6wc":
    case "W6cat": {
      const c = pick(workload === "W6wc" ? Contenders.w6wc : Contenders.w6cat)
      const input = new Uint8Array(size * MiB).fill(0x61)
      for (let i = 0; i < 8; i++) await c.run(input)
      unit = `${((8 * size * 1000) / (performance.now() - start)).toFixed(0)} MiB/s`
      break
    }
    default:
      throw new Error(`unknown workload ${workload}`)
  }
  return unit
}

const main = async () => {
  await measure()
  const session = new Inspector.Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.start")
  const unit = await measure()
  const { profile } = await session.post("Profiler.stop")
  const out = `build/prof/${workload}-${id}.cpuprofile`
  Fs.mkdirSync("build/prof", { recursive: true })
  Fs.writeFileSync(out, JSON.stringify(profile))
  console.log(`${workload} ${id}: ${unit} (warm); profile: ${out}`)
  await Contenders.dispose()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
