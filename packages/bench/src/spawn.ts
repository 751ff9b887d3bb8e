/**
 * Raw `child_process` spawning, shared by the contenders (contenders.ts) and the cold program
 * (cold.ts): it imports nothing but `node:child_process`, so that raw node's cold process stays
 * minimal.
 */
import * as ChildProcess from "node:child_process"

export const TRUE = "/bin/true"

export const check = (condition: boolean, what: string): void => {
  if (!condition) throw new Error(`bench: wrong result: ${what}`)
}

export const rawSpawnWait = (file: string, args: ReadonlyArray<string>, stdio: "ignore" | "pipe"): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(file, args, { stdio })
    if (stdio === "pipe") {
      child.stdout!.resume()
      child.stderr!.resume()
      child.stdin!.end()
    }
    child.once("error", reject)
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}`))))
  })

/** `n` jobs, one after the other. */
export const repeat = async (n: number, job: () => Promise<void>): Promise<void> => {
  for (let i = 0; i < n; i++) await job()
}

/** `n` jobs, at most `concurrency` at once. */
export const pool = async (n: number, concurrency: number, job: () => Promise<void>): Promise<void> => {
  let started = 0
  const lane = async () => {
    while (started < n) {
      started++
      await job()
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, lane))
}

/** Runs `file`, feeding `input` (or nothing), collecting stdout's chunks or only counting them. */
export const rawRun = (
  file: string,
  args: ReadonlyArray<string>,
  input: Uint8Array | undefined,
  keep: boolean
): Promise<{ readonly stdout: Buffer; readonly length: number }> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(file, args, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "ignore"] })
    const chunks: Array<Buffer> = []
    let length = 0
    child.stdout!.on("data", (chunk: Buffer) => {
      length += chunk.length
      if (keep) chunks.push(chunk)
    })
    if (input !== undefined) {
      child.stdin!.on("error", () => {}) // EPIPE: the exit code tells
      child.stdin!.end(input)
    }
    child.once("error", reject)
    child.once("close", (code) => {
      if (code !== 0) return reject(new Error(`${file} exited ${code}`))
      resolve({ stdout: keep ? Buffer.concat(chunks, length) : Buffer.alloc(0), length })
    })
  })

/** `head`'s arguments for `bytes` of zeros. */
export const head = (bytes: number) => ["-c", String(bytes), "/dev/zero"] as const

/** W4's raw node: stream `bytes` of `head -c` stdout, counting "data" and keeping nothing. */
export const rawStream = async (bytes: number): Promise<void> => {
  const { length } = await rawRun("head", head(bytes), undefined, false)
  check(length === bytes, `streamed ${length}`)
}
