/**
 * Checking a set-lines file against the store (set-lines.ts runs it on every
 * log at start, a chunk of lines at a time, before the file is used for a
 * snapshot): each line must be byte for byte what rendering its entry from
 * the store gives — an indicator's jsonl line; for any other entry an empty
 * line; for an entry the store holds redacted, spaces (a line blanked in
 * place) — and every 1024th line must start at its mark. The first line
 * that differs is named with what differed (a field of the line, its
 * length, its place), never with the value it holds.
 */
import type { FileHandle } from 'node:fs/promises'
import type { StoredRecord } from '../../protocol/stored-record.ts'
import { putJsonlLine, lineLength } from './jsonl-line.ts'

const NL = 10
const SPACE = 0x20
const OPEN_BRACE = 0x7b
const MARK_EVERY = 1024

/** What did not match, and where. */
export interface LineMismatch {
  /** Entry index (line) of the log. */
  index: number
  what: string
}

export interface CheckedChunk {
  /** File offset after the chunk's last line. */
  end: number
  /** Lines that still hold a value although the store holds their entry redacted (applied while the files were not kept): to blank. Positions in the buffer. */
  pending: { index: number; start: number; end: number }[]
  mismatch?: LineMismatch
}

/** The fields a jsonl line shows, in its order (jsonl-line.ts), to name the one that differs. */
const FIELDS = ['alg', 'value', 'category', 'kind', 'media', 'quality', 'ref', 'expires', 'id', 'log', 'seq', 'time']

/** Names the first difference between the line the store gives and the one in the file (positions and field names only). */
function difference(want: Buffer, got: Buffer): string {
  let d = 0
  const n = Math.min(want.length, got.length)
  while (d < n && want[d] === got[d]) d++
  if (d === n) return `the line is ${got.length} bytes, the store's ${want.length}`
  const text = want.toString('latin1')
  let field = 'the line'
  for (const f of FIELDS) {
    const at = text.indexOf(`"${f}":`)
    if (at !== -1 && at <= d) field = `field "${f}"`
  }
  return `${field} differs from the store's (byte ${d} of the line)`
}

function allSpaces(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== SPACE) return false
  return true
}

/**
 * Checks lines [first, first + records.length) of `origin`, which start at
 * file offset `at`; `buf` holds the file from `at` (at least those lines,
 * unless the file ends first). `redacted`: lines blanked (or being blanked)
 * by this process, which may hold their value or spaces.
 */
export function checkChunk(
  origin: string, first: number, records: readonly StoredRecord[], ids: readonly Uint8Array[],
  buf: Buffer, at: number, marks: readonly number[], redacted: ReadonlySet<number>,
): CheckedChunk {
  const pending: CheckedChunk['pending'] = []
  let want = Buffer.allocUnsafe(4096)
  let p = 0
  for (let i = 0; i < records.length; i++) {
    const index = first + i
    const r = records[i]!
    if (index % MARK_EVERY === 0 && marks[index / MARK_EVERY] !== at + p) {
      const mark = marks[index / MARK_EVERY]
      return { end: at + p, pending, mismatch: { index, what: mark === undefined ? 'the line has no mark' : `its mark says offset ${mark}, the line starts at ${at + p}` } }
    }
    const nl = buf.indexOf(NL, p)
    if (nl === -1) return { end: at + p, pending, mismatch: { index, what: 'the file ends before this line' } }
    const got = buf.subarray(p, nl)
    if (r.type === 'indicator') {
      const length = lineLength(origin, index, ids[i]!, r) - 1 // without the newline
      if (want.length < length + 1) want = Buffer.allocUnsafe(2 * (length + 1))
      putJsonlLine(want, 0, origin, index, ids[i]!, r)
      const ok = (got.length === length && got.equals(want.subarray(0, length))) || (redacted.has(index) && allSpaces(buf, p, nl))
      if (!ok) return { end: at + p, pending, mismatch: { index, what: difference(want.subarray(0, length), got) } }
    } else if (r.type === 'redacted') {
      // Blanked in place (spaces), written after the redaction (empty), or not blanked yet (a value: blank it now, never serve it).
      if (got.length > 0 && got[0] === OPEN_BRACE) pending.push({ index, start: p, end: nl })
      else if (!allSpaces(buf, p, nl)) return { end: at + p, pending, mismatch: { index, what: 'the entry is redacted; its line holds neither spaces nor a line to blank' } }
    } else if (got.length > 0) {
      return { end: at + p, pending, mismatch: { index, what: `the entry is a ${r.type}; its line is not empty` } }
    }
    p = nl + 1
  }
  return { end: at + p, pending }
}

/** The file from `at` until it holds `count` whole lines or ends; `guess` is the expected byte count. */
export async function readLines(fh: FileHandle, at: number, count: number, guess: number): Promise<Buffer> {
  let buf = Buffer.allocUnsafe(guess + 64 * 1024)
  let { bytesRead } = await fh.read(buf, 0, buf.length, at)
  for (;;) {
    let lines = 0
    for (let p = buf.indexOf(NL); p !== -1 && p < bytesRead && lines < count; p = buf.indexOf(NL, p + 1)) lines++
    if (lines >= count || bytesRead < buf.length) return buf.subarray(0, bytesRead)
    const more = Buffer.allocUnsafe(buf.length * 2)
    buf.copy(more, 0, 0, bytesRead)
    buf = more
    bytesRead += (await fh.read(buf, bytesRead, buf.length - bytesRead, at + bytesRead)).bytesRead
  }
}
