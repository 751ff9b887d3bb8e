/** The byte buffers of a run: a tail that keeps only the last bytes, and a capture that grows in place. */
export const decoder = new TextDecoder()

export const empty = new Uint8Array(0)

/** The chunks in one array (the only chunk itself when it is all there is). */
export const concat = (
  chunks: ReadonlyArray<Uint8Array>,
  size: number = chunks.reduce((sum, chunk) => sum + chunk.length, 0)
): Uint8Array => {
  if (chunks.length === 1 && chunks[0]!.length === size) return chunks[0]!
  const out = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}

/** Keeps only the last `tail` bytes handed to `push`. */
export const tailBuffer = (tail: number) => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  return {
    push: (bytes: Uint8Array): boolean => {
      // A copy of what can be kept: the bytes are only lent (see SpawnedProcess.collect).
      const kept = new Uint8Array(bytes.subarray(Math.max(0, bytes.length - tail)))
      chunks.push(kept)
      size += kept.length
      while (chunks.length > 1 && size - chunks[0]!.length >= tail) size -= chunks.shift()!.length
      return true
    },
    bytes: (): Uint8Array => {
      const all = concat(chunks, size)
      return all.length > tail ? all.slice(all.length - tail) : all
    }
  }
}

/** The largest capture buffer reserved up front (address space only: pages are used as bytes arrive). */
const largestReservation = 2 ** 32

/** A capture buffer grows by what it holds, at least `minimumGrowth` and at most `growthStep` bytes. */
const minimumGrowth = 64 * 1024
const growthStep = 16 * 1024 * 1024

/**
 * A capture buffer that grows in place: a resizable ArrayBuffer reserves address space for the
 * limit and uses memory only for the bytes written, so capturing N bytes costs about N bytes of
 * memory, never a copy of everything at the end. Where resizable buffers are missing it keeps
 * the chunks and joins them once.
 */
export const captureBuffer = (limit: number) => {
  let size = 0
  let buffer: ArrayBuffer | undefined
  try {
    buffer = new ArrayBuffer(0, { maxByteLength: Math.min(limit, largestReservation) })
    if (buffer.resizable !== true) buffer = undefined
  } catch {
    buffer = undefined
  }
  const chunks: Array<Uint8Array> = []
  return {
    /** Appends up to the limit; false when bytes had to be dropped. */
    push: (bytes: Uint8Array): boolean => {
      const room = Math.min(bytes.length, limit - size)
      const kept = room === bytes.length ? bytes : bytes.subarray(0, room)
      if (buffer !== undefined && size + room <= buffer.maxByteLength) {
        // Grown ahead (by what it holds, up to `growthStep`), not per chunk: one resize per
        // chunk was a page-table change per 64 KiB read. `bytes` gives the rest back.
        if (size + room > buffer.byteLength) {
          const ahead = Math.min(Math.max(size, minimumGrowth), growthStep)
          buffer.resize(Math.min(buffer.maxByteLength, size + room + ahead))
        }
        new Uint8Array(buffer, size, room).set(kept)
      } else {
        if (buffer !== undefined) {
          chunks.push(new Uint8Array(buffer, 0, size).slice())
          buffer = undefined
        }
        chunks.push(new Uint8Array(kept)) // a copy: the bytes are only lent
      }
      size += room
      return room === bytes.length
    },
    bytes: (): Uint8Array => {
      if (buffer === undefined) return concat(chunks, size)
      if (buffer.byteLength > size) buffer.resize(size)
      return new Uint8Array(buffer, 0, size)
    }
  }
}
