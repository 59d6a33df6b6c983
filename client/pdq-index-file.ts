/**
 * The PDQ index of a local copy, kept beside it (`pdq-index.idx`) so that
 * opening a 10M copy reads the tables instead of building them (~1 s against
 * ~10 s). A cache, never a source of truth: it is used only when its header
 * names this format and the exact PDQ values it was built over (the SHA-256
 * of the copy's live PDQ values, packed in record order), and the SHA-256 at
 * its end matches every byte before it. Otherwise (missing, stale, damaged,
 * another version or byte order) the index is built from the values and the
 * file rewritten; a copy that cannot be written to is simply not cached.
 *
 * Layout (integers little-endian; the tables are the typed arrays of
 * PdqIndexState as they are in memory):
 *   0    8   magic "CAIRNPX1"
 *   8    4   version (2; version 1 held entry indexes in `ids`, without the
 *            third filter byte: its files are stale and rebuilt)
 *   12   4   header bytes (64)
 *   16   32  key: SHA-256 of the n × 32 bytes of PDQ values indexed
 *   48   4   n: entries
 *   52   4   live: entries in the tables
 *   56   8   zero
 *   64   …   per slot s = 0..15: offsets (65,537 × u32), ids (live × u32:
 *            index << 8 | low byte of chunk s+2 while n ≤ 2^24, else the
 *            index; client/pdq-index.ts idShift), next (live × u16, padded
 *            with zeros to a multiple of 4 bytes)
 *   end−32   SHA-256 of bytes [0, end − 32)
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { PdqIndex, PDQ_BYTES, type PdqIndexState } from './pdq-index.ts'

export const PDQ_INDEX_FILE = 'pdq-index.idx'
const MAGIC = Buffer.from('CAIRNPX1')
const VERSION = 2
const HEADER = 64
const CHECKSUM = 32
const SLOTS = 16
const KEYS = 1 << 16
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

export interface PdqIndexSource {
  /** 'file': read from pdq-index.idx; 'built': built now (and, if `written`, saved). */
  source: 'file' | 'built'
  seconds: number
  /** Why the file was not used, when it was not. */
  rebuilt?: 'missing' | 'stale' | 'damaged' | 'unreadable'
  written?: boolean
}

export interface PdqIndexFileOptions {
  /** SharedArrayBuffers throughout (the index can be posted to worker threads). */
  shared?: boolean
  /** Read and write pdq-index.idx (default true); false: always build, touch nothing. */
  persist?: boolean
}

const pad4 = (bytes: number) => (bytes + 3) & ~3

function bodyBytes(live: number): number {
  return SLOTS * ((KEYS + 1) * 4 + live * 4 + pad4(live * 2))
}

function keyOf(values: Uint8Array, n: number): Buffer {
  return createHash('sha256').update(values.subarray(0, n * PDQ_BYTES)).digest()
}

/** The index over `values` (n PDQ hashes, packed): read from `dir`'s pdq-index.idx when it is valid for exactly these values, else built (and saved). */
export function openPdqIndex(dir: string, values: Uint8Array, n: number, options: PdqIndexFileOptions = {}): { index: PdqIndex; info: PdqIndexSource } {
  const t0 = performance.now()
  const shared = options.shared ?? false
  const persist = (options.persist ?? true) && LITTLE_ENDIAN
  const key = persist ? keyOf(values, n) : undefined
  let rebuilt: PdqIndexSource['rebuilt']
  if (key) {
    const read = readIndexFile(join(dir, PDQ_INDEX_FILE), key, values, n, shared)
    if (read.index) return { index: read.index, info: { source: 'file', seconds: (performance.now() - t0) / 1000 } }
    rebuilt = read.why
  }
  const index = PdqIndex.build(values, n, { shared })
  let written = false
  if (key) written = writeIndexFile(dir, key, n, index.state())
  return { index, info: { source: 'built', seconds: (performance.now() - t0) / 1000, ...(rebuilt ? { rebuilt } : {}), ...(key ? { written } : {}) } }
}

function readIndexFile(path: string, key: Buffer, values: Uint8Array, n: number, shared: boolean): { index?: PdqIndex; why: NonNullable<PdqIndexSource['rebuilt']> } {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return { why: 'missing' }
  }
  let file: Uint8Array
  try {
    const size = fstatSync(fd).size
    if (size < HEADER + CHECKSUM) return { why: 'damaged' }
    const head = Buffer.alloc(HEADER)
    readSync(fd, head, 0, HEADER, 0)
    if (!head.subarray(0, 8).equals(MAGIC) || head.readUInt32LE(8) !== VERSION || head.readUInt32LE(12) !== HEADER) return { why: 'stale' }
    if (!head.subarray(16, 48).equals(key) || head.readUInt32LE(48) !== n) return { why: 'stale' }
    const live = head.readUInt32LE(52)
    if (live !== n || size !== HEADER + bodyBytes(live) + CHECKSUM) return { why: 'damaged' }
    file = new Uint8Array(shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size))
    for (let at = 0; at < size; ) {
      const got = readSync(fd, file, at, Math.min(size - at, 1 << 30), at)
      if (got === 0) return { why: 'damaged' }
      at += got
    }
  } catch {
    return { why: 'unreadable' }
  } finally {
    closeSync(fd)
  }
  const end = file.length - CHECKSUM
  const sum = createHash('sha256').update(file.subarray(0, end)).digest()
  if (!sum.equals(Buffer.from(file.buffer, file.byteOffset + end, CHECKSUM))) return { why: 'damaged' }
  const live = n
  const state: PdqIndexState = { built: n, hashes: values.subarray(0, n * PDQ_BYTES), offsets: [], ids: [], next: [], tail: new Uint8Array(0), removed: new Uint32Array(shared ? new SharedArrayBuffer(Math.ceil(n / 32) * 4) : new ArrayBuffer(Math.ceil(n / 32) * 4)) }
  let at = HEADER
  for (let s = 0; s < SLOTS; s++) {
    const offsets = new Uint32Array(file.buffer, at, KEYS + 1)
    at += (KEYS + 1) * 4
    // Cheap sanity beyond the checksum: bucket bounds that stay inside the slot.
    if (offsets[0] !== 0 || offsets[KEYS] !== live) return { why: 'damaged' }
    for (let k = 0; k < KEYS; k++) if (offsets[k]! > offsets[k + 1]!) return { why: 'damaged' }
    state.offsets.push(offsets)
    state.ids.push(new Uint32Array(file.buffer, at, live))
    at += live * 4
    state.next.push(new Uint16Array(file.buffer, at, live))
    at += pad4(live * 2)
  }
  return { index: PdqIndex.fromState(state), why: 'missing' }
}

/** Writes the tables to a temporary file, then renames it into place; false (and nothing left behind) if the folder cannot be written. */
function writeIndexFile(dir: string, key: Buffer, n: number, state: PdqIndexState): boolean {
  const path = join(dir, PDQ_INDEX_FILE)
  const tmp = `${path}.${process.pid}.tmp`
  let fd: number | undefined
  try {
    fd = openSync(tmp, 'w', 0o644)
    const hash = createHash('sha256')
    const put = (bytes: Uint8Array) => {
      hash.update(bytes)
      for (let at = 0; at < bytes.length; ) at += writeSync(fd!, bytes, at, Math.min(bytes.length - at, 1 << 30))
    }
    const head = Buffer.alloc(HEADER)
    MAGIC.copy(head, 0)
    head.writeUInt32LE(VERSION, 8)
    head.writeUInt32LE(HEADER, 12)
    key.copy(head, 16)
    head.writeUInt32LE(n, 48)
    head.writeUInt32LE(state.ids[0]?.length ?? 0, 52)
    put(head)
    for (let s = 0; s < SLOTS; s++) {
      const live = state.ids[s]!.length
      put(new Uint8Array(state.offsets[s]!.buffer, state.offsets[s]!.byteOffset, (KEYS + 1) * 4))
      put(new Uint8Array(state.ids[s]!.buffer, state.ids[s]!.byteOffset, live * 4))
      put(new Uint8Array(state.next[s]!.buffer, state.next[s]!.byteOffset, live * 2))
      if ((live * 2) % 4 !== 0) put(new Uint8Array(2))
    }
    const sum = hash.digest()
    writeSync(fd, sum, 0, sum.length)
    closeSync(fd)
    fd = undefined
    renameSync(tmp, path)
    return true
  } catch {
    if (fd !== undefined) closeSync(fd)
    try {
      unlinkSync(tmp)
    } catch {
      // never made
    }
    return false
  }
}
