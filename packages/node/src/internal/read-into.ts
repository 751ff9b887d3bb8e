/**
 * Reading a child's output pipe: the native engine's pipes into one read buffer this thread
 * shares, child_process's through Node's own buffers. Whoever reads installs where the bytes go.
 */
import * as Net from "node:net"
import type { Readable } from "node:stream"

/**
 * Whether a pipe out of the child ended before anyone listened. child_process reads its pipes from
 * the start: an empty one's EOF ends and closes it by itself (a non-empty one waits for a reader).
 */
export const endedUnread = (pipe: Readable): boolean => pipe.readableEnded || pipe.destroyed

/**
 * A 'readable' listener that only keeps Node from discarding a child's output: at the child's
 * exit, child_process reads and drops what is in pipes nobody listens to yet (flushStdio). Every
 * pipe out of the child gets one (the helper's status pipe too): its reader may come a turn later.
 */
export const keepBuffered = () => {}

/**
 * The native engine's output pipes are read into one buffer that every such pipe of this thread
 * shares (libuv reads one socket at a time and hands the bytes over synchronously): no Buffer is
 * allocated per read. A reader that keeps the bytes (a stream) asks for them owned (`ownChunks`):
 * then the pipe is read into fresh memory, handed over without a copy once a read fills at least
 * three quarters of it; a smaller read is lent, and its reader copies just those bytes, so that a
 * chunk never holds much more memory than its bytes. Whoever reads the pipe installs where the
 * bytes go (`readInto`); until then it is not read at all, so its bytes stay in the kernel.
 */
const sharedReadBuffer = Buffer.allocUnsafe(256 * 1024)
/** An owning reader's read buffer: as large as the shared one. */
const ownedReadSize = sharedReadBuffer.length

interface Slot {
  take: ((bytes: Uint8Array, lent: boolean) => boolean) | undefined
  /** Whether the reader keeps the bytes (see `readInto`). */
  owned: boolean
  /** Where the next read goes: libuv asks for it after every read. */
  next: Uint8Array
}
const sinks = new WeakMap<Readable, Slot>()

export const userBufferReader = (fd: number): Net.Socket => {
  const slot: Slot = { take: undefined, owned: false, next: sharedReadBuffer }
  const socket = new Net.Socket({
    fd,
    readable: true,
    writable: false,
    pauseOnCreate: true,
    onread: {
      buffer: () => slot.next,
      // A plain Uint8Array view (a Buffer's slice() would not copy); false stops reading until `resume()`.
      callback: (n: number, buffer: Uint8Array) => {
        const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, n)
        const handOver = slot.owned && buffer !== sharedReadBuffer && n >= buffer.length * 0.75
        slot.next = !slot.owned ? sharedReadBuffer : handOver || buffer === sharedReadBuffer
          ? Buffer.allocUnsafeSlow(ownedReadSize)
          : buffer
        return slot.take?.(bytes, !handOver) ?? false
      }
    }
  } as Net.SocketConstructorOpts)
  sinks.set(socket, slot)
  return socket
}

/**
 * Starts reading a child's output into `take`, which returns false to stop reading (until
 * `resume()`). `lent`: the bytes are a view of a read buffer that is used again, valid only during
 * the call (native engine pipes); otherwise they are the caller's own ('data' events, first what
 * Node buffered while the pipe was paused).
 */
export const readInto = (pipe: Readable, take: (bytes: Uint8Array, lent: boolean) => boolean): void => {
  const slot = sinks.get(pipe)
  if (slot !== undefined) {
    slot.take = take
    pipe.resume()
    return
  }
  const buffered = pipe.read() as Buffer | null
  pipe.off("readable", keepBuffered)
  pipe.on("data", (bytes: Buffer) => void (take(bytes, false) || pipe.pause()))
  // Before the buffered bytes: their consumer may pause the pipe again (resume flows only later).
  pipe.resume()
  if (buffered !== null && !take(buffered, false)) pipe.pause()
}

/**
 * Whether the reader of a native engine pipe keeps the bytes from now on: they then come unlent
 * from most reads (see `userBufferReader`). Node's own pipes always give the caller's own.
 */
export const ownChunks = (pipe: Readable, owned: boolean): void => {
  const slot = sinks.get(pipe)
  if (slot !== undefined) slot.owned = owned
}
