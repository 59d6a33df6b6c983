/**
 * Key layout of the node's store. One prefix byte per table; integers are
 * big-endian so that byte order equals numeric order.
 *
 *   'L' origin                        → log number (u32)            log registry
 *   'E' log u32 ‖ index u64           → entry bytes
 *   'T' log u32 ‖ level u8 ‖ index u64 → tile hashes (full or the partial right edge)
 *   'C' log u32                       → latest checkpoint note fully held (with cosignatures)
 *   'H' log u32 ‖ size u64            → every checkpoint note seen for that log
 *   'F' log u32                       → equivocation proof (log is frozen)
 *   'I' record id                     → log u32 ‖ index u64 [‖ alg u8 ‖ category u8 ‖ value]
 *                                       record index; the tail is there while the record is an
 *                                       indicator in the current set (one random-key write per
 *                                       record instead of two: LevelDB's compaction of random
 *                                       keys was the largest cost of publishing)
 *   'V' alg u8 ‖ len u16 ‖ value ‖ id  → ''                           indicator value index
 *   'R' target ‖ id                   → type u8                       revocations/attestations of a record
 *   'S' id                            → alg u8 ‖ category u8 ‖ value   the current set of stores written before
 *                                       it moved into 'I'; moved there when such a store is opened
 *   'M' name                          → bytes                         metadata (stats, roster cache, ...)
 *   'K' token hash                    → JSON                          API tokens
 *   'A' seq u64                       → JSON                          access log
 *   'O' log u32 ‖ index u64           → ''                            roster proposals and confirmations, replayed at start
 *   'N' log u32 ‖ level u8 ‖ index u64 → 255 hashes                  inner nodes of a full tile (heights 1..8 above it), for proofs
 *   'D' log u32 ‖ index u64           → signed redaction notice       applied (index < size) or pending (spec/redaction.md)
 *   'X' log u32 ‖ expires u64 ‖ id    → ''                            expiry index of the indicators of tracked logs (node/retention.ts)
 */
import { concat, utf8 } from '../../protocol/bytes.ts'
import type { CairnRecord } from '../../protocol/records.ts'
import { ALG_CODES, TYPE_CODES } from './codes.ts'

export const P = {
  log: 0x4c, entry: 0x45, tile: 0x54, checkpoint: 0x43, history: 0x48, frozen: 0x46,
  id: 0x49, value: 0x56, ref: 0x52, set: 0x53, meta: 0x4d, token: 0x4b, access: 0x41, roster: 0x4f,
  redaction: 0x44, expiry: 0x58, inner: 0x4e,
} as const

/** Where a key or value gets its bytes: a fresh array, or a slab's. */
export type Alloc = (n: number) => Uint8Array
const fresh: Alloc = (n) => new Uint8Array(n)
const SLAB_BYTES = 64 * 1024

/**
 * An allocator that cuts arrays from shared 64 KiB buffers, for the keys and
 * values of one write batch. A fresh small array costs an ArrayBuffer each,
 * and one of at most 64 bytes lives on V8's heap, so level's binding has it
 * copied out when it reads it; a slab's views cost neither. Nothing may
 * write to a view once it is handed out (later views share the buffer).
 */
export function slab(): Alloc {
  let buf = new Uint8Array(0)
  let at = 0
  return (n) => {
    if (at + n > buf.length) {
      buf = new Uint8Array(Math.max(SLAB_BYTES, n))
      at = 0
    }
    at += n
    return buf.subarray(at - n, at)
  }
}

/** Writes n (0 ≤ n < 2^32) big-endian at `off`. */
function writeU32(b: Uint8Array, off: number, n: number): void {
  b[off] = n >>> 24
  b[off + 1] = (n >>> 16) & 0xff
  b[off + 2] = (n >>> 8) & 0xff
  b[off + 3] = n & 0xff
}

/** Writes a safe integer n ≥ 0 as 8 bytes big-endian at `off` (no BigInt: this is on every key). */
function writeU64(b: Uint8Array, off: number, n: number): void {
  writeU32(b, off, Math.floor(n / 0x1_0000_0000))
  writeU32(b, off + 4, n >>> 0)
}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4)
  writeU32(b, 0, n)
  return b
}

export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8)
  writeU64(b, 0, n)
  return b
}

/** u32(log) ‖ u64(index) in one buffer, after `prefix` if given. */
export function logIndex(log: number, index: number, prefix?: number, alloc = fresh): Uint8Array {
  const o = prefix === undefined ? 0 : 1
  const b = alloc(o + 12)
  if (prefix !== undefined) b[0] = prefix
  writeU32(b, o, log)
  writeU64(b, o + 4, index)
  return b
}

export function readU32(b: Uint8Array, offset = 0): number {
  return ((b[offset]! << 24) >>> 0) + (b[offset + 1]! << 16) + (b[offset + 2]! << 8) + b[offset + 3]!
}

export function readU64(b: Uint8Array, offset = 0): number {
  return readU32(b, offset) * 0x1_0000_0000 + readU32(b, offset + 4)
}

/** prefix ‖ bytes, in one allocation. */
function prefixed(prefix: number, bytes: Uint8Array, alloc = fresh): Uint8Array {
  const b = alloc(1 + bytes.length)
  b[0] = prefix
  b.set(bytes, 1)
  return b
}

export function key(prefix: number, ...parts: Uint8Array[]): Uint8Array {
  return concat(new Uint8Array([prefix]), ...parts)
}

/** The smallest key greater than every key that starts with `prefixKey`. */
export function prefixEnd(prefixKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefixKey)
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++
      return out.subarray(0, i + 1)
    }
  }
  return new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
}

export const keys = {
  log: (origin: string) => key(P.log, utf8(origin)),
  entry: (log: number, index: number, alloc?: Alloc) => logIndex(log, index, P.entry, alloc),
  tile: (log: number, level: number, index: number) => key(P.tile, u32(log), new Uint8Array([level]), u64(index)),
  checkpoint: (log: number) => key(P.checkpoint, u32(log)),
  history: (log: number, size: number) => logIndex(log, size, P.history),
  frozen: (log: number) => key(P.frozen, u32(log)),
  id: (id: Uint8Array, alloc?: Alloc) => prefixed(P.id, id, alloc),
  value: (alg: number, value: Uint8Array, id?: Uint8Array, alloc = fresh) => {
    const b = alloc(4 + value.length + (id?.length ?? 0))
    b[0] = P.value
    b[1] = alg
    b[2] = value.length >> 8
    b[3] = value.length & 0xff
    b.set(value, 4)
    if (id) b.set(id, 4 + value.length)
    return b
  },
  ref: (target: Uint8Array, id?: Uint8Array) => (id ? key(P.ref, target, id) : key(P.ref, target)),
  set: (id: Uint8Array) => prefixed(P.set, id),
  meta: (name: string) => key(P.meta, utf8(name)),
  token: (hash: Uint8Array) => key(P.token, hash),
  access: (seq: number) => key(P.access, u64(seq)),
  roster: (log: number, index: number) => logIndex(log, index, P.roster),
  inner: (log: number, level: number, index: number) => key(P.inner, u32(log), new Uint8Array([level]), u64(index)),
  redaction: (log: number, index: number) => logIndex(log, index, P.redaction),
  expiry: (log: number, expires?: number, id?: Uint8Array) =>
    expires === undefined ? key(P.expiry, u32(log)) : id ? key(P.expiry, u32(log), u64(expires), id) : key(P.expiry, u32(log), u64(expires)),
}

const NO_VALUE = new Uint8Array(0)

/**
 * The rows of the value ('V'), reference ('R') and roster ('O') indexes that
 * the record at `index` of log `log`, id `id`, alone determines: what
 * Store.append writes for it (with keys cut from its slabs), what truncation
 * deletes, and what `cairn node check` mends (reindex.ts).
 */
export function entryIndexRows(log: number, index: number, id: Uint8Array, r: CairnRecord): { key: Uint8Array; value: Uint8Array }[] {
  if (r.type === 'indicator') return [{ key: keys.value(ALG_CODES[r.alg], r.value, id), value: NO_VALUE }]
  if (r.type === 'roster') return [{ key: keys.roster(log, index), value: NO_VALUE }]
  if (r.type === 'revocation' || r.type === 'attestation') {
    const rows = [{ key: keys.ref(r.target, id), value: new Uint8Array([TYPE_CODES[r.type]]) }]
    if (r.type === 'attestation' && r.opinion === 'confirm') rows.push({ key: keys.roster(log, index), value: NO_VALUE })
    return rows
  }
  return []
}
