/**
 * Where the node's JSON log lines go: straight to stderr (fd 2), one write
 * per line. A line that cannot be written — node.log on a full disk, an I/O
 * error, a pipe that stays full — is dropped and counted
 * (cairn_log_lines_dropped_total), never retried without end. pino's own
 * synchronous destination retries a failed write in a sleep loop, and with
 * node.log on the disk that filled up, that loop stopped the whole node:
 * no request was answered any more, reads included.
 */
import { writeSync } from 'node:fs'

/** A pipe that is full for a moment (EAGAIN) is tried again this often, 1 ms apart, before the line is dropped. */
const BUSY_TRIES = 20
const pause = new Int32Array(new SharedArrayBuffer(4))

let dropped = 0

/** Log lines that could not be written, in this process. */
export function droppedLogLines(): number {
  return dropped
}

/** pino destination: `write` is called with each whole line. */
export const logDestination = {
  write(line: string): void {
    let rest = Buffer.from(line)
    for (let tries = 0; rest.length > 0; ) {
      try {
        rest = rest.subarray(writeSync(2, rest))
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        if ((code === 'EAGAIN' || code === 'EINTR') && ++tries < BUSY_TRIES) {
          Atomics.wait(pause, 0, 0, 1)
          continue
        }
        dropped++
        return
      }
    }
  },
}
