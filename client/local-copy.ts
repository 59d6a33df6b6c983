/**
 * A provider's local copy of the current indicator set, on disk
 * (spec/local-copy.md says the format byte for byte):
 *   state.json          cursor, frontier and last verified checkpoint per log, keys, file list (the commit point)
 *   base-<gen>.bin      "CAIRNSB1", then records: id(32) alg(1) category(1) len(u16 BE) value
 *   journal-<gen>.bin   "CAIRNSJ1", then ops: 1 id alg category len value (add) | 2 id (remove)
 * Files are written to a temporary name, fsynced and renamed; state.json is
 * replaced last, so a crash leaves the previous copy intact (unreferenced
 * files are removed by the next run). Journals are folded into a new base
 * when they grow. state.json records each file's SHA-256, checked on load.
 *
 * loadLocalSet(dir) builds, per algorithm, a packed array of values with an
 * open-addressing index, for fast exact lookups (`cairn match`). Only
 * client/sync.ts writes a copy, after verifying what it keeps.
 */
import { openSync, writeSync, fsyncSync, closeSync, renameSync, readFileSync, existsSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { LedgerError } from '../protocol/errors.ts'
import { toHex } from '../protocol/bytes.ts'
import { ALG_LENGTHS } from '../protocol/records.ts'
import { encodeCursor } from '../protocol/feed-cursor.ts'
import { ValueTable } from './value-table.ts'

export const STATE_FORMAT = 'cairn-local-set/1'
const BASE_MAGIC = Buffer.from('CAIRNSB1')
const JOURNAL_MAGIC = Buffer.from('CAIRNSJ1')
const ALG_CODE: Record<string, number> = { md5: 1, sha1: 2, sha256: 3, pdq: 4, photodna: 5, tmk_pdqf: 6, url_sha256: 7 }
const ALG_NAME = Object.fromEntries(Object.entries(ALG_CODE).map(([k, v]) => [v, k])) as Record<number, string>
export const CAT_CODE: Record<string, number> = { A1: 1, A2: 2, B1: 3, B2: 4 }
const CAT_NAME = Object.fromEntries(Object.entries(CAT_CODE).map(([k, v]) => [v, k])) as Record<number, string>
const OP_ADD = 1
const OP_REMOVE = 2

// ------------------------------------------------------------------ state

interface FileRef {
  file: string
  sha256: string
  records: number
}

export interface LogState {
  /** Entries of the log this copy has applied (the cursor). */
  size: number
  /** Merkle frontier at `size`: hashes of subtreesOfRange(0, size), hex. */
  frontier: string[]
  /** The last checkpoint verified for the log. */
  checkpoint?: { size: number; root: string }
}

export interface LocalState {
  format: typeof STATE_FORMAT
  trust: 'genesis' | 'tofu'
  /** Log verifier key and witness verifier key per origin. */
  keys: Record<string, { vkey: string; witness_vkey: string }>
  logs: Record<string, LogState>
  generation: number
  base?: FileRef
  journals: FileRef[]
}

export function emptyState(): LocalState {
  return { format: STATE_FORMAT, trust: 'tofu', keys: {}, logs: {}, generation: 0, journals: [] }
}

export function readState(dir: string): LocalState | undefined {
  const path = join(dir, 'state.json')
  if (!existsSync(path)) return undefined
  let s: LocalState
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as LocalState
  } catch (e) {
    throw new LedgerError('STORAGE_CORRUPT', `${path} is not readable JSON (${(e as Error).message})`)
  }
  if (s.format !== STATE_FORMAT) throw new LedgerError('STORAGE_CORRUPT', `${path} is not a cairn local copy (format ${String(s.format)})`)
  return s
}

/** Writes `data` to `path` atomically and durably: temp file, fsync, rename, fsync the directory. */
function writeAtomic(dir: string, name: string, data: Uint8Array | string): void {
  const tmp = join(dir, `${name}.tmp`)
  const fd = openSync(tmp, 'w', 0o644)
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data
    let off = 0
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, join(dir, name))
  try {
    const dfd = openSync(dir, 'r')
    try {
      fsyncSync(dfd)
    } finally {
      closeSync(dfd)
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  }
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

function readChecked(dir: string, ref: FileRef): Buffer {
  const path = join(dir, ref.file)
  if (!existsSync(path)) throw new LedgerError('STORAGE_CORRUPT', `${path} is missing; the local copy is damaged (delete ${dir} and sync again)`)
  const buf = readFileSync(path)
  if (sha256Hex(buf) !== ref.sha256) throw new LedgerError('STORAGE_CORRUPT', `${path} does not match its checksum in state.json; the local copy is damaged (delete ${dir} and sync again)`)
  return buf
}

/** Deletes files the state does not reference (left by a crash or replaced by compaction). */
export function removeUnreferenced(dir: string, state: LocalState): void {
  const keep = new Set([state.base?.file, ...state.journals.map((j) => j.file)])
  for (const f of readdirSync(dir)) {
    if (/^(base|journal)-\d+\.bin(\.tmp)?$/.test(f) && !keep.has(f)) unlinkSync(join(dir, f))
    if (f === 'state.json.tmp') unlinkSync(join(dir, f))
  }
}

// ------------------------------------------------------------------ record files

/** Sees one record in a file buffer: id at `idAt` (32 bytes), value at `valueAt` (`len` bytes). No copies, no views: loading 10M records must not allocate per record. */
type RecordVisitor = (buf: Buffer, idAt: number, alg: number, cat: number, valueAt: number, len: number) => void

/** Visits the records of a base file. */
function forEachBase(buf: Buffer, name: string, fn: RecordVisitor): number {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(BASE_MAGIC)) throw new LedgerError('STORAGE_CORRUPT', `${name} is not a cairn base file`)
  let p = 8
  let n = 0
  while (p < buf.length) {
    if (p + 36 > buf.length) throw new LedgerError('STORAGE_CORRUPT', `${name} is truncated`)
    const len = buf.readUInt16BE(p + 34)
    if (p + 36 + len > buf.length) throw new LedgerError('STORAGE_CORRUPT', `${name} is truncated`)
    fn(buf, p, buf[p + 32]!, buf[p + 33]!, p + 36, len)
    p += 36 + len
    n++
  }
  return n
}

/** Visits the ops of a journal file. */
function forEachJournal(buf: Buffer, name: string, onAdd: RecordVisitor, onRemove: (id: Uint8Array) => void): number {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(JOURNAL_MAGIC)) throw new LedgerError('STORAGE_CORRUPT', `${name} is not a cairn journal`)
  let p = 8
  let n = 0
  while (p < buf.length) {
    const op = buf[p]!
    if (op === OP_REMOVE && p + 33 <= buf.length) {
      onRemove(buf.subarray(p + 1, p + 33))
      p += 33
    } else if (op === OP_ADD && p + 37 <= buf.length) {
      const len = buf.readUInt16BE(p + 35)
      if (p + 37 + len > buf.length) throw new LedgerError('STORAGE_CORRUPT', `${name} is truncated`)
      onAdd(buf, p + 1, buf[p + 33]!, buf[p + 34]!, p + 37, len)
      p += 37 + len
    } else throw new LedgerError('STORAGE_CORRUPT', `${name} is damaged at byte ${p}`)
    n++
  }
  return n
}

/** Grows a byte buffer as records are appended. */
class ByteSink {
  buf: Buffer
  len = 0
  constructor(magic?: Buffer, capacity = 1 << 16) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 64))
    if (magic) this.put(magic)
  }
  private room(n: number) {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.len)
    this.buf = next
  }
  put(b: Uint8Array) {
    this.room(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }
  byte(v: number) {
    this.room(1)
    this.buf[this.len++] = v
  }
  u16(v: number) {
    this.room(2)
    this.buf.writeUInt16BE(v, this.len)
    this.len += 2
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.len)
  }
}

/** Set changes waiting to be committed, in journal encoding. */
export class Journal {
  readonly sink = new ByteSink(JOURNAL_MAGIC)
  ops = 0
  add(id: Uint8Array, alg: string, category: string, value: Uint8Array) {
    this.sink.byte(OP_ADD)
    this.sink.put(id)
    this.sink.byte(ALG_CODE[alg]!)
    this.sink.byte(CAT_CODE[category]!)
    this.sink.u16(value.length)
    this.sink.put(value)
    this.ops++
  }
  remove(id: Uint8Array) {
    this.sink.byte(OP_REMOVE)
    this.sink.put(id)
    this.ops++
  }
}

function nextFile(state: LocalState, kind: 'base' | 'journal'): string {
  state.generation++
  return `${kind}-${String(state.generation).padStart(8, '0')}.bin`
}

/** Makes the copy in `dir` equal to `state` plus `journal`: journal file first, then state.json (the commit). */
export function commit(dir: string, state: LocalState, journal: Journal | undefined): void {
  if (journal && journal.ops > 0) {
    const file = nextFile(state, 'journal')
    const bytes = journal.sink.bytes()
    writeAtomic(dir, file, bytes)
    state.journals.push({ file, sha256: sha256Hex(bytes), records: journal.ops })
  }
  writeAtomic(dir, 'state.json', JSON.stringify(state, null, 1) + '\n')
}

/** Folds the journals into a new base file (live records only). */
export function compact(dir: string, state: LocalState): void {
  const removed = new Set<string>()
  const journals = state.journals.map((j) => ({ ref: j, buf: readChecked(dir, j) }))
  for (const j of journals) forEachJournal(j.buf, j.ref.file, () => undefined, (id) => removed.add(toHex(id)))
  const base = state.base ? readChecked(dir, state.base) : undefined
  // The new base is at most the old one plus every journal (removes only shrink it).
  const out = new ByteSink(BASE_MAGIC, (base?.length ?? 0) + journals.reduce((n, j) => n + j.buf.length, 0))
  let records = 0
  // Record ids are unique and a revocation is final, so live = every add whose id was never removed.
  const keep: RecordVisitor = (buf, idAt, alg, cat, valueAt, len) => {
    if (removed.size > 0 && removed.has(buf.toString('hex', idAt, idAt + 32))) return
    out.put(buf.subarray(idAt, idAt + 32))
    out.byte(alg)
    out.byte(cat)
    out.u16(len)
    out.put(buf.subarray(valueAt, valueAt + len))
    records++
  }
  if (base) forEachBase(base, state.base!.file, keep)
  for (const j of journals) forEachJournal(j.buf, j.ref.file, keep, () => undefined)
  const file = nextFile(state, 'base')
  const bytes = out.bytes()
  writeAtomic(dir, file, bytes)
  state.base = { file, sha256: sha256Hex(bytes), records }
  state.journals = []
  writeAtomic(dir, 'state.json', JSON.stringify(state, null, 1) + '\n')
  removeUnreferenced(dir, state)
}

// ------------------------------------------------------------------ the in-memory set

export interface LocalSet {
  /** Live records (indicators) in the copy. */
  readonly size: number
  /** Distinct values per algorithm. */
  readonly counts: Record<string, number>
  /** The feed cursor the copy stands at. */
  readonly cursor: string
  /** Is this exact value of `alg` in the set? */
  has(alg: string, value: Uint8Array): boolean
  /** The category of a value in the set (the first record's, if several name it). */
  category(alg: string, value: Uint8Array): string | undefined
  /** Every value of one algorithm (for PDQ distance scans), packed `width` bytes apiece. */
  packed(alg: string): { width: number; count: number; values: Uint8Array } | undefined
}

/** Loads the local copy in `dir` into memory (checksums checked). */
export function loadLocalSet(dir: string): LocalSet {
  const state = readState(dir)
  if (!state) throw new LedgerError('NOT_FOUND', `no local copy in ${dir}: run cairn sync --dir ${dir} first`)
  const base = state.base ? { ref: state.base, buf: readChecked(dir, state.base) } : undefined
  const journals = state.journals.map((j) => ({ ref: j, buf: readChecked(dir, j) }))
  const removed = new Set<string>()
  for (const j of journals) forEachJournal(j.buf, j.ref.file, () => undefined, (id) => removed.add(toHex(id)))
  const visit = (fn: RecordVisitor) => {
    const live: RecordVisitor = removed.size === 0 ? fn : (buf, idAt, alg, cat, valueAt, len) => {
      if (!removed.has(buf.toString('hex', idAt, idAt + 32))) fn(buf, idAt, alg, cat, valueAt, len)
    }
    if (base) forEachBase(base.buf, base.ref.file, live)
    for (const j of journals) forEachJournal(j.buf, j.ref.file, live, () => undefined)
  }
  // Pass 1: how many values (and bytes) of each algorithm; pass 2: fill the tables.
  const per = new Map<number, { n: number; bytes: number }>()
  let size = 0
  visit((_buf, _id, alg, _cat, _valueAt, len) => {
    const p = per.get(alg)
    if (p) {
      p.n++
      p.bytes += len
    } else per.set(alg, { n: 1, bytes: len })
    size++
  })
  const tables = new Map<string, ValueTable>()
  const byCode: (ValueTable | undefined)[] = []
  for (const [code, p] of per) {
    const name = ALG_NAME[code]
    if (!name) throw new LedgerError('STORAGE_CORRUPT', `unknown algorithm code ${code} in the local copy`)
    const w = ALG_LENGTHS[name as keyof typeof ALG_LENGTHS]
    const t = new ValueTable(typeof w === 'number' ? w : 0, p.n, p.bytes)
    tables.set(name, t)
    byCode[code] = t
  }
  visit((buf, _id, alg, cat, valueAt, len) => {
    const t = byCode[alg]!
    if (t.width !== 0 && len !== t.width) throw new LedgerError('STORAGE_CORRUPT', `a ${ALG_NAME[alg]} value of ${len} bytes in the local copy`)
    t.insert(buf, valueAt, len, cat)
  })
  const counts: Record<string, number> = {}
  for (const [name, t] of tables) counts[name] = t.count
  const cursor = encodeCursor(new Map(Object.entries(state.logs).map(([o, l]) => [o, l.size])))
  return {
    size,
    counts,
    cursor,
    has(alg, value) {
      const t = tables.get(alg)
      return t !== undefined && t.indexOf(value) >= 0
    },
    category(alg, value) {
      const t = tables.get(alg)
      const i = t ? t.indexOf(value) : -1
      return i >= 0 ? CAT_NAME[t!.categories[i]!] : undefined
    },
    packed(alg) {
      const t = tables.get(alg)
      return t && t.width !== 0 ? { width: t.width, count: t.count, values: t.values.subarray(0, t.count * t.width) } : undefined
    },
  }
}

/** Only one sync at a time per directory. */
export function takeLock(dir: string): () => void {
  const path = join(dir, 'lock')
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' })
  } catch {
    const pid = Number(readFileSync(path, 'utf8'))
    let alive = false
    try {
      if (pid > 0 && pid !== process.pid) {
        process.kill(pid, 0)
        alive = true
      }
    } catch {
      alive = false
    }
    if (alive || pid === process.pid) throw new LedgerError('CONFLICT', `another sync (pid ${pid}) is using ${dir}`)
    writeFileSync(path, String(process.pid))
  }
  return () => {
    try {
      unlinkSync(path)
    } catch {
      // already gone
    }
  }
}
