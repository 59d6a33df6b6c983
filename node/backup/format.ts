/**
 * The backup file format, `cairn-backup/1` (docs/reference.md, "Backup and
 * restore"):
 *
 *   "cairn-backup/1\n"
 *   frame*                    kind u8 ‖ length u32 BE ‖ payload
 *     'M' manifest            JSON: format, created, origin, federation, source
 *     'F' file                name length u16 BE ‖ name (UTF-8) ‖ bytes   (one per file of the node directory)
 *     'K' store rows          (key length u32 BE ‖ key ‖ value length u32 BE ‖ value)*
 *     'E' end of the store    JSON: rows, bytes, logs [{origin, size, checkpoint_size}]
 *     'S' seal                SHA-256 of every byte before this frame; the last frame, nothing after it
 *
 * M comes first, then the F frames, then the K frames and one E. A file that
 * ends before its seal, has bytes after it, or whose seal does not match is
 * refused as a whole: nothing is restored from it.
 */
import { createHash, type Hash } from 'node:crypto'
import { LedgerError } from '../../protocol/errors.ts'
import { fromUtf8, utf8 } from '../../protocol/bytes.ts'
import { P, readU32 } from '../storage/keys.ts'

export const BACKUP_MAGIC = 'cairn-backup/1\n'
export const BACKUP_FORMAT = 'cairn-backup/1'
/** No frame is larger (a 'K' frame holds ~1 MiB of rows; one row is at most a ~270 KiB range of tiles or entries). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024
const HEADER_BYTES = 5

export type FrameKind = 'M' | 'F' | 'K' | 'E' | 'S'
const KINDS = new Set(['M', 'F', 'K', 'E', 'S'])

export interface Manifest {
  format: string
  /** ISO time the backup was taken. */
  created: string
  origin: string
  federation: string
  /** 'running': read from the running node through its API; 'stopped': read from the directory of a stopped node. */
  source: 'running' | 'stopped'
}

export interface LogSummary { origin: string; size: number; checkpoint_size: number }

export interface StoreSummary {
  rows: number
  bytes: number
  logs: LogSummary[]
}

export function frame(kind: FrameKind, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length)
  out[0] = kind.charCodeAt(0)
  new DataView(out.buffer).setUint32(1, payload.length)
  out.set(payload, HEADER_BYTES)
  return out
}

export const jsonFrame = (kind: 'M' | 'E', value: unknown): Uint8Array => frame(kind, utf8(JSON.stringify(value)))

export function fileFrame(name: string, bytes: Uint8Array): Uint8Array {
  const n = utf8(name)
  const payload = new Uint8Array(2 + n.length + bytes.length)
  new DataView(payload.buffer).setUint16(0, n.length)
  payload.set(n, 2)
  payload.set(bytes, 2 + n.length)
  return frame('F', payload)
}

export function parseFile(payload: Uint8Array): { name: string; bytes: Uint8Array } {
  if (payload.length < 2) throw damaged('a file frame is too short')
  const n = new DataView(payload.buffer, payload.byteOffset).getUint16(0)
  if (2 + n > payload.length) throw damaged('a file frame names more bytes than it holds')
  const name = fromUtf8(payload.subarray(2, 2 + n))
  // Top-level plain names only: a backup never writes outside the directory it is restored into.
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name) || name === '.' || name === '..') throw damaged(`a file frame names ${JSON.stringify(name)}`)
  return { name, bytes: payload.subarray(2 + n) }
}

/** Encodes store rows into one 'K' frame. */
export function rowsFrame(rows: readonly [Uint8Array, Uint8Array][]): Uint8Array {
  let size = 0
  for (const [k, v] of rows) size += 8 + k.length + v.length
  const payload = new Uint8Array(size)
  const view = new DataView(payload.buffer)
  let at = 0
  for (const [k, v] of rows) {
    view.setUint32(at, k.length)
    payload.set(k, at + 4)
    at += 4 + k.length
    view.setUint32(at, v.length)
    payload.set(v, at + 4)
    at += 4 + v.length
  }
  return frame('K', payload)
}

export function parseRows(payload: Uint8Array): [Uint8Array, Uint8Array][] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  const out: [Uint8Array, Uint8Array][] = []
  let at = 0
  const take = (): Uint8Array => {
    if (at + 4 > payload.length) throw damaged('a store frame ends inside a row')
    const n = view.getUint32(at)
    if (at + 4 + n > payload.length) throw damaged('a store frame ends inside a row')
    const b = payload.subarray(at + 4, at + 4 + n)
    at += 4 + n
    return b
  }
  while (at < payload.length) {
    const k = take()
    if (k.length === 0) throw damaged('a store row has an empty key')
    out.push([k, take()])
  }
  return out
}

export function parseJson<T>(payload: Uint8Array, what: string): T {
  try {
    return JSON.parse(fromUtf8(payload)) as T
  } catch {
    throw damaged(`its ${what} is not JSON`)
  }
}

export function damaged(why: string): LedgerError {
  return new LedgerError('STORAGE_CORRUPT', `the backup is damaged or not a cairn backup: ${why}`)
}

export interface Frame {
  kind: FrameKind
  payload: Uint8Array
  /** The frame's bytes as they were in the stream (header and payload). */
  raw: Uint8Array
}

/**
 * Cuts a byte stream into frames, whatever the chunk sizes. `magic`: the
 * stream starts with BACKUP_MAGIC (a whole file), else it is frames only
 * (what a node sends for its store).
 */
export class FrameReader {
  private buf: Uint8Array = new Uint8Array(0)
  private at = 0
  private needMagic: boolean
  /** Bytes consumed so far. */
  offset = 0

  constructor(magic: boolean) {
    this.needMagic = magic
  }

  *push(chunk: Uint8Array): Iterable<Frame> {
    this.buf = this.at < this.buf.length ? concatTwo(this.buf.subarray(this.at), chunk) : chunk
    this.at = 0
    if (this.needMagic) {
      const m = utf8(BACKUP_MAGIC)
      const have = Math.min(m.length, this.buf.length)
      for (let i = 0; i < have; i++) if (this.buf[i] !== m[i]) throw damaged(`it does not start with "${BACKUP_MAGIC.trim()}"`)
      if (have < m.length) return
      this.at = m.length
      this.offset += m.length
      this.needMagic = false
    }
    while (this.buf.length - this.at >= HEADER_BYTES) {
      const kind = String.fromCharCode(this.buf[this.at]!)
      if (!KINDS.has(kind)) throw damaged(`unknown frame kind 0x${this.buf[this.at]!.toString(16)} at byte ${this.offset}`)
      const len = new DataView(this.buf.buffer, this.buf.byteOffset + this.at + 1, 4).getUint32(0)
      if (len > MAX_FRAME_BYTES) throw damaged(`a frame of ${len} bytes at byte ${this.offset}`)
      if (this.buf.length - this.at < HEADER_BYTES + len) return
      const raw = this.buf.subarray(this.at, this.at + HEADER_BYTES + len)
      this.at += raw.length
      this.offset += raw.length
      yield { kind: kind as FrameKind, payload: raw.subarray(HEADER_BYTES), raw }
    }
  }

  /** True when no partial frame (or magic) is left over. */
  get empty(): boolean {
    return !this.needMagic && this.at >= this.buf.length
  }
}

function concatTwo(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * The log sizes a store holds, gathered from its rows as they stream past
 * (registry 'L', checkpoints 'C', per-log state 'M' log/<n>): what the 'E'
 * frame reports and what a restore is checked against.
 */
export class StoreTally {
  rows = 0
  bytes = 0
  private readonly origins = new Map<number, string>()
  private readonly sizes = new Map<number, number>()
  private readonly checkpoints = new Map<number, number>()

  add(k: Uint8Array, v: Uint8Array): void {
    this.rows++
    this.bytes += k.length + v.length
    try {
      if (k[0] === P.log) this.origins.set(readU32(v), fromUtf8(k.subarray(1)))
      else if (k[0] === P.checkpoint && k.length === 5) this.checkpoints.set(readU32(k, 1), Number(fromUtf8(v).split('\n')[1]))
      else if (k[0] === P.meta) {
        const m = /^log\/(\d+)$/.exec(fromUtf8(k.subarray(1)))
        if (m) this.sizes.set(Number(m[1]), (JSON.parse(fromUtf8(v)) as { size: number }).size)
      }
    } catch {
      throw damaged(`store row ${this.rows} (a log's registry, state or checkpoint) is malformed`)
    }
  }

  summary(): StoreSummary {
    const logs = [...this.origins].map(([num, origin]) => ({ origin, size: this.sizes.get(num) ?? 0, checkpoint_size: this.checkpoints.get(num) ?? 0 }))
    logs.sort((a, b) => (a.origin < b.origin ? -1 : 1))
    return { rows: this.rows, bytes: this.bytes, logs }
  }
}

export const sha256Stream = (): Hash => createHash('sha256')
