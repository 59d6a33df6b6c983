/**
 * The two ways set-lines.ts gives a log's part of the jsonl snapshot: the
 * lines of a block read from its file that the snapshot keeps, and lines
 * rendered from the store (scanSet, exactly as the snapshot route renders
 * them) for a log whose file is not checked, or from a block that did not
 * match its checksum on.
 */
import type { Store } from '../storage/store.ts'
import { scanSet } from './feed.ts'
import { jsonlLine } from './jsonl-line.ts'

const NL = 10
const OPEN_BRACE = 0x7b
const RENDER_CHUNK = 256 * 1024

/**
 * The lines of `buf` (its first is line `first`) a snapshot as of `size`
 * keeps: indicators' lines below `size`, not revoked below it (`removed`:
 * target line → revoking line), not redacted; as runs of `buf`, with their
 * count. `extras` (line → text) go before the closing brace of their line
 * (the opinions on it, node/provider/opinions.ts).
 */
export function keptLines(
  buf: Buffer, first: number, size: number, removed: ReadonlyMap<number, number>, redacted: ReadonlySet<number>,
  extras?: ReadonlyMap<number, string>,
): { out: Buffer[]; kept: number } {
  const out: Buffer[] = []
  let kept = 0
  let runStart = 0
  let p = 0
  for (let line = first; line < size && p < buf.length; line++) {
    const nl = buf.indexOf(NL, p)
    if (nl === -1) break
    const revokedAt = removed.get(line)
    if (nl > p && buf[p] === OPEN_BRACE && (revokedAt === undefined || revokedAt >= size) && !redacted.has(line)) {
      kept++
      const extra = extras?.get(line)
      if (extra) {
        out.push(buf.subarray(runStart, nl - 1), Buffer.from(extra, 'latin1'))
        runStart = nl - 1 // the line's closing brace and newline start the next run
      }
    } else {
      if (p > runStart) out.push(buf.subarray(runStart, p))
      runStart = nl + 1
    }
    p = nl + 1
  }
  if (p > runStart) out.push(buf.subarray(runStart, p))
  return { out, kept }
}

/** Lines [from, size) of a log's snapshot rendered from the store (with `extras` as keptLines), in chunks of ~256 KiB; returns how many. */
export async function* liveLines(store: Store, origin: string, from: number, size: number, extras?: ReadonlyMap<number, string>): AsyncGenerator<Buffer, number> {
  let count = 0
  let text = ''
  for await (const ev of scanSet(store, new Map([[origin, size]]), undefined, new Map([[origin, from]]))) {
    if (ev.kind !== 'indicator') continue
    text += jsonlLine(origin, ev.row.seq, ev.row.id, ev.row.record, extras?.get(ev.row.seq))
    count++
    if (text.length >= RENDER_CHUNK) {
      yield Buffer.from(text, 'latin1')
      text = ''
    }
  }
  if (text) yield Buffer.from(text, 'latin1')
  return count
}
