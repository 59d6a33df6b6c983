/**
 * `cairn sync`: a provider's verified local copy of the current indicator set.
 *
 * The client follows GET /feed with entries=1 from its own cursor. For every
 * log in every page it checks, before it keeps anything:
 *   1. the checkpoint is signed by the log's key (pinned from --genesis, or
 *      trusted on first use from /logs and saved) and cosigned by at least
 *      --min-witnesses other members;
 *   2. it is consistent with the last checkpoint this copy verified (same
 *      size: same root; larger: the consistency proof the node sends);
 *   3. the entries hash, on top of the saved Merkle frontier, to a tree that
 *      the consistency proof places inside that checkpoint.
 * Changes are then derived from the entries themselves (indicator = add,
 * revocation = remove its target); the node's `items` are not trusted. A
 * redaction marker in place of an entry must carry a notice signed by the
 * log's key for that index; its id is the leaf, and the redacted indicator
 * is removed from the copy if it is there (spec/redaction.md).
 *
 * The local copy in --dir:
 *   state.json          cursor, frontier and last verified checkpoint per log, keys, file list (the commit point)
 *   base-<gen>.bin      "CAIRNSB1", then records: id(32) alg(1) category(1) len(u16 BE) value
 *   journal-<gen>.bin   "CAIRNSJ1", then ops: 1 id alg category len value (add) | 2 id (remove)
 * Files are written to a temporary name, fsynced and renamed; state.json is
 * replaced last, so a crash leaves the previous copy intact (unreferenced
 * files are removed by the next run). Journals are folded into a new base
 * when they grow. state.json records each file's SHA-256, checked on load.
 *
 * loadLocalSet(dir) builds, per algorithm, a packed array of values with an
 * open-addressing index, for fast exact lookups (`cairn match`).
 */
import { openSync, writeSync, fsyncSync, closeSync, renameSync, readFileSync, existsSync, mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { LedgerError, type ErrorCode } from '../protocol/errors.ts'
import { api } from './http.ts'
import { fromHex, toHex, fromBase64 } from '../protocol/bytes.ts'
import { leafHash } from '../protocol/hash.ts'
import { CompactRange, verifyConsistency } from '../protocol/merkle.ts'
import { openCheckpoint } from '../protocol/checkpoint.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import { ALG_LENGTHS, MAX_TMK_PDQF_BYTES } from '../protocol/records.ts'
import { isRedactionMarker, openRedactionMarker } from '../protocol/redaction.ts'
import { readGenesisFile } from './genesis.ts'
import { encodeCursor } from '../protocol/feed-cursor.ts'
import { readStoredRecord } from '../protocol/stored-record.ts'
import { ValueTable } from './value-table.ts'

export const STATE_FORMAT = 'cairn-local-set/1'
const BASE_MAGIC = Buffer.from('CAIRNSB1')
const JOURNAL_MAGIC = Buffer.from('CAIRNSJ1')
const ALG_CODE: Record<string, number> = { md5: 1, sha1: 2, sha256: 3, pdq: 4, photodna: 5, tmk_pdqf: 6, url_sha256: 7 }
const ALG_NAME = Object.fromEntries(Object.entries(ALG_CODE).map(([k, v]) => [v, k])) as Record<number, string>
const CAT_CODE: Record<string, number> = { A1: 1, A2: 2, B1: 3, B2: 4 }
const CAT_NAME = Object.fromEntries(Object.entries(CAT_CODE).map(([k, v]) => [v, k])) as Record<number, string>
const OP_ADD = 1
const OP_REMOVE = 2

// ------------------------------------------------------------------ state

interface FileRef {
  file: string
  sha256: string
  records: number
}

interface LogState {
  /** Entries of the log this copy has applied (the cursor). */
  size: number
  /** Merkle frontier at `size`: hashes of subtreesOfRange(0, size), hex. */
  frontier: string[]
  /** The last checkpoint verified for the log. */
  checkpoint?: { size: number; root: string }
}

interface LocalState {
  format: typeof STATE_FORMAT
  trust: 'genesis' | 'tofu'
  /** Log verifier key and witness verifier key per origin. */
  keys: Record<string, { vkey: string; witness_vkey: string }>
  logs: Record<string, LogState>
  generation: number
  base?: FileRef
  journals: FileRef[]
}

function emptyState(): LocalState {
  return { format: STATE_FORMAT, trust: 'tofu', keys: {}, logs: {}, generation: 0, journals: [] }
}

function readState(dir: string): LocalState | undefined {
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
function removeUnreferenced(dir: string, state: LocalState): void {
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
class Journal {
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
function commit(dir: string, state: LocalState, journal: Journal | undefined): void {
  if (journal && journal.ops > 0) {
    const file = nextFile(state, 'journal')
    const bytes = journal.sink.bytes()
    writeAtomic(dir, file, bytes)
    state.journals.push({ file, sha256: sha256Hex(bytes), records: journal.ops })
  }
  writeAtomic(dir, 'state.json', JSON.stringify(state, null, 1) + '\n')
}

/** Folds the journals into a new base file (live records only). */
function compact(dir: string, state: LocalState): void {
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

// ------------------------------------------------------------------ the feed, checked

const FeedBlock = z.object({
  origin: z.string().max(256),
  from: z.number().int().min(0),
  to: z.number().int().min(0),
  size: z.number().int().min(0),
  checkpoint: z.string().max(128 * 1024).optional(),
  proof: z.array(z.string()).max(64).optional(),
  verified_proof: z.array(z.string()).max(64).optional(),
  behind: z.literal(true).optional(),
  frozen: z.literal(true).optional(),
  entries: z.array(z.string()).optional(),
})
const FeedPageShape = z.object({ next: z.string(), more: z.boolean(), logs: z.array(FeedBlock).max(10_000) })
type FeedBlock = z.infer<typeof FeedBlock>

export interface SyncProgress {
  /** Log entries applied in this run, and how many the node's checkpoints say remain in total. */
  done: number
  total: number
  added: number
  removed: number
  pages: number
}

export interface SyncOptions {
  /** API base URL of a node. */
  node: string
  token: string
  dir: string
  /** Cosignatures by other members each checkpoint needs (0 = the log's signature alone). */
  minWitnesses: number
  /** Path of the federation's genesis.json: pins the log and witness keys. Without it: trust on first use. */
  genesis?: string
  /** Entries per page (default and most: 10,000). */
  limit?: number
  /** Commit to disk after this many set changes (a long first sync resumes from there after a crash). */
  commitEvery?: number
  /** Fold journals into the base when they hold more than this many changes (default: max(100,000, base / 2)). */
  compactAfter?: number
  fetch?: typeof fetch
  onProgress?: (p: SyncProgress) => void
  warn?: (message: string) => void
}

export interface SyncResult {
  added: number
  removed: number
  pages: number
  entries: number
  cursor: string
  logs: { origin: string; size: number; checkpoint: number }[]
}

async function getJson(o: SyncOptions, path: string): Promise<unknown> {
  return api({ url: o.node.replace(/\/$/, ''), token: o.token, fetch: o.fetch }, 'GET', path)
}

function refuse(code: ErrorCode, origin: string, why: string): never {
  throw new LedgerError(code, `refusing the feed for log ${origin}: ${why}; the local copy is unchanged`)
}

/** Keys from a genesis roster, or (first use) from the node's /logs, merged into the state. */
async function establishKeys(o: SyncOptions, state: LocalState, warn: (m: string) => void): Promise<void> {
  if (o.genesis) {
    const g = readGenesisFile(o.genesis)
    for (const m of g.members) {
      const had = state.keys[m.origin]
      if (had && (had.vkey !== m.vkey || had.witness_vkey !== m.witness_vkey)) {
        throw new LedgerError('BAD_CONFIG', `the keys of ${m.origin} in ${o.genesis} differ from the ones this copy already trusts; refusing (start a new --dir if the federation really changed keys)`)
      }
      state.keys[m.origin] = { vkey: m.vkey, witness_vkey: m.witness_vkey }
    }
    state.trust = 'genesis'
    return
  }
  if (Object.keys(state.keys).length > 0) return
  await learnKeys(o, state)
  warn(`no --genesis given: trusting the log keys ${o.node} reports (${Object.keys(state.keys).length} logs) on first use; they are saved in ${o.dir}/state.json and pinned from now on`)
}

/** Adds the logs /logs lists that the state does not know yet (trust on first use). */
async function learnKeys(o: SyncOptions, state: LocalState): Promise<string[]> {
  const logs = await getJson(o, '/logs')
  const list = z.array(z.object({ origin: z.string(), vkey: z.string().nullable(), witness_vkey: z.string().nullable().optional() }).passthrough()).safeParse(logs)
  if (!list.success) throw new LedgerError('PEER_ERROR', `${o.node}/logs is not a list of logs`)
  const added: string[] = []
  for (const l of list.data) {
    if (state.keys[l.origin] || !l.vkey || !l.witness_vkey) continue
    const v = parseVerifierKey(l.vkey)
    const w = parseVerifierKey(l.witness_vkey)
    if (v.name !== l.origin || w.name !== l.origin) throw new LedgerError('PEER_ERROR', `${o.node}/logs gives keys for ${l.origin} under another name`)
    state.keys[l.origin] = { vkey: l.vkey, witness_vkey: l.witness_vkey }
    added.push(l.origin)
  }
  return added
}

type Change = { op: 'add'; id: Uint8Array; alg: string; category: string; value: Uint8Array } | { op: 'remove'; id: Uint8Array }

interface CheckedBlock {
  origin: string
  log: LogState
  changes: Change[]
  entries: number
}

/** Checks one log's part of a page against the state (signatures, cosignatures, consistency, entries); throws on any failure. */
function checkBlock(b: FeedBlock, state: LocalState, minWitnesses: number): CheckedBlock {
  const keys = state.keys[b.origin]!
  const prev: LogState = state.logs[b.origin] ?? { size: 0, frontier: [] }
  const witnesses = Object.entries(state.keys).filter(([o]) => o !== b.origin).map(([, k]) => k.witness_vkey)
  let opened
  try {
    opened = openCheckpoint(b.checkpoint!, keys.vkey, { witnesses, quorum: b.size === 0 ? 0 : minWitnesses })
  } catch (e) {
    const err = e as LedgerError
    return refuse(err.code ?? 'BAD_SIGNATURE', b.origin, `its checkpoint does not verify: ${err.message}`)
  }
  const cp = opened.checkpoint
  if (cp.size !== b.size) refuse('INCONSISTENT_CHECKPOINT', b.origin, `the page says size ${b.size} but its checkpoint is of size ${cp.size}`)
  const proof = (list: string[] | undefined, what: string) => {
    try {
      return (list ?? []).map((h) => fromBase64(h, what))
    } catch {
      return refuse('BAD_PROOF', b.origin, `${what} is not base64`)
    }
  }
  // 1. Consistent with the last checkpoint this copy verified.
  if (prev.checkpoint) {
    const old = prev.checkpoint
    if (cp.size < old.size) refuse('INCONSISTENT_CHECKPOINT', b.origin, `the node serves a checkpoint of size ${cp.size}, older than the one of size ${old.size} verified before, without saying it is behind`)
    if (b.verified_proof === undefined && cp.size > old.size) refuse('BAD_PROOF', b.origin, 'no consistency proof from the checkpoint verified before')
    try {
      verifyConsistency(old.size, cp.size, fromHex(old.root), cp.root, proof(b.verified_proof, 'verified_proof'))
    } catch (e) {
      refuse((e as LedgerError).code ?? 'INCONSISTENT_CHECKPOINT', b.origin, `its checkpoint of size ${cp.size} is not consistent with the one of size ${old.size} verified before (${(e as Error).message})`)
    }
  }
  // 2. The entries extend what this copy holds, up to a prefix of that checkpoint.
  if (b.from !== prev.size) refuse('SEQ_MISMATCH', b.origin, `the page starts at entry ${b.from}, but this copy holds ${prev.size}`)
  if (b.to < b.from || b.to > cp.size) refuse('OUT_OF_RANGE', b.origin, `the page covers entries ${b.from}..${b.to} of a tree of size ${cp.size}`)
  const entries = b.entries ?? []
  if (entries.length !== b.to - b.from) refuse('MALFORMED_ENTRY', b.origin, `the page covers ${b.to - b.from} entries but carries ${entries.length}`)
  let range: CompactRange
  try {
    range = new CompactRange(0, prev.size, prev.frontier.map((h) => fromHex(h)))
  } catch {
    throw new LedgerError('STORAGE_CORRUPT', `the saved frontier of ${b.origin} is damaged; delete the local copy and sync again`)
  }
  const changes: Change[] = []
  const logKey = parseVerifierKey(keys.vkey).publicKey
  entries.forEach((text, i) => {
    let entry: Uint8Array
    try {
      entry = fromBase64(text, 'entry')
    } catch {
      return refuse('MALFORMED_ENTRY', b.origin, `entry ${b.from + i} is not base64`)
    }
    if (isRedactionMarker(entry)) {
      let id: Uint8Array
      try {
        id = openRedactionMarker(entry, logKey, { log: b.origin, index: b.from + i }).notice.id
      } catch (e) {
        return refuse((e as LedgerError).code ?? 'BAD_REDACTION', b.origin, `entry ${b.from + i} is a redaction marker that does not verify: ${(e as Error).message}`)
      }
      range.append(id)
      changes.push({ op: 'remove', id })
      return
    }
    const id = leafHash(entry)
    range.append(id)
    let r
    try {
      r = readStoredRecord(entry)
    } catch (e) {
      return refuse('MALFORMED_ENTRY', b.origin, `entry ${b.from + i}: ${(e as Error).message}`)
    }
    if (r.log !== b.origin || r.seq !== b.from + i) refuse('WRONG_LOG', b.origin, `entry ${b.from + i} says it is ${r.log} #${r.seq}`)
    if (r.type === 'indicator') {
      const w = ALG_LENGTHS[r.alg as keyof typeof ALG_LENGTHS]
      const okLength = w === undefined ? false : typeof w === 'number' ? r.value!.length === w : r.value!.length >= 1 && r.value!.length <= MAX_TMK_PDQF_BYTES
      if (!okLength || CAT_CODE[r.category!] === undefined) refuse('MALFORMED_ENTRY', b.origin, `entry ${b.from + i} is not a valid indicator`)
      changes.push({ op: 'add', id, alg: r.alg!, category: r.category!, value: r.value! })
    } else if (r.type === 'revocation') {
      changes.push({ op: 'remove', id: r.target! })
    }
  })
  try {
    verifyConsistency(b.to, cp.size, range.root(), cp.root, proof(b.proof, 'proof'))
  } catch (e) {
    refuse((e as LedgerError).code ?? 'INCONSISTENT_CHECKPOINT', b.origin, `its entries ${b.from}..${b.to} are not a prefix of the signed tree of size ${cp.size} (${(e as Error).message})`)
  }
  const frontier = range.nodes().map((n) => toHex(n.hash))
  return { origin: b.origin, entries: entries.length, changes, log: { size: b.to, frontier, checkpoint: { size: cp.size, root: toHex(cp.root) } } }
}

/** Only one sync at a time per directory. */
function takeLock(dir: string): () => void {
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

/** Brings the local copy in `o.dir` up to date with the node's feed, verifying everything it keeps. */
export async function syncLocalCopy(o: SyncOptions): Promise<SyncResult> {
  const warn = o.warn ?? ((m: string) => console.error(`warning: ${m}`))
  if (!Number.isSafeInteger(o.minWitnesses) || o.minWitnesses < 0) throw new LedgerError('BAD_REQUEST', '--min-witnesses is a whole number ≥ 0')
  mkdirSync(o.dir, { recursive: true })
  const unlock = takeLock(o.dir)
  try {
    const state = readState(o.dir) ?? emptyState()
    removeUnreferenced(o.dir, state)
    await establishKeys(o, state, warn)
    const limit = Math.min(Math.max(o.limit ?? 10_000, 1), 10_000)
    const commitEvery = o.commitEvery ?? 200_000
    const result: SyncResult = { added: 0, removed: 0, pages: 0, entries: 0, cursor: '', logs: [] }
    const warned = new Set<string>()
    const warnOnce = (key: string, m: string) => {
      if (!warned.has(key)) warn(m)
      warned.add(key)
    }
    let journal = new Journal()
    for (;;) {
      const cursor = encodeCursor(new Map(Object.entries(state.logs).map(([k, l]) => [k, l.size])))
      const verified = encodeCursor(new Map(Object.entries(state.logs).filter(([, l]) => l.checkpoint).map(([k, l]) => [k, l.checkpoint!.size])))
      const raw = await getJson(o, `/feed?cursor=${cursor}&verified=${verified}&limit=${limit}&entries=1`)
      const parsed = FeedPageShape.safeParse(raw)
      if (!parsed.success) throw new LedgerError('PEER_ERROR', `${o.node}/feed answered with something that is not a feed page (${parsed.error.issues[0]?.message})`)
      const page = parsed.data
      result.pages++
      // Check every block before keeping anything from this page.
      const checked: CheckedBlock[] = []
      let total = 0
      for (const b of page.logs) {
        if (!state.keys[b.origin]) {
          if (state.trust === 'tofu') {
            const added = await learnKeys(o, state)
            if (added.length) warn(`trusting the keys of new log(s) ${added.join(', ')} on first use`)
          }
          if (!state.keys[b.origin]) {
            warnOnce(`unknown:${b.origin}`, `skipping log ${b.origin}: no key for it (not in the genesis roster this copy trusts)`)
            continue
          }
        }
        if (b.frozen) warnOnce(`frozen:${b.origin}`, `log ${b.origin} is frozen: the node holds proof that it signed two conflicting checkpoints`)
        if (b.behind) {
          warnOnce(`behind:${b.origin}`, `${o.node} is behind for log ${b.origin}; its entries are not taken from this node`)
          continue
        }
        if (!b.checkpoint) {
          if (b.to !== b.from || b.from !== (state.logs[b.origin]?.size ?? 0)) refuse('MALFORMED_CHECKPOINT', b.origin, 'entries without a checkpoint')
          continue
        }
        const c = checkBlock(b, state, o.minWitnesses)
        checked.push(c)
        total += b.size - b.to
      }
      let progressed = false
      for (const c of checked) {
        if (c.entries > 0) progressed = true
        state.logs[c.origin] = c.log
        result.entries += c.entries
        for (const ch of c.changes) {
          if (ch.op === 'add') {
            journal.add(ch.id, ch.alg, ch.category, ch.value)
            result.added++
          } else {
            journal.remove(ch.id)
            result.removed++
          }
        }
      }
      o.onProgress?.({ done: result.entries, total: result.entries + total, added: result.added, removed: result.removed, pages: result.pages })
      if (journal.ops >= commitEvery) {
        commit(o.dir, state, journal)
        journal = new Journal()
      }
      if (!page.more) break
      if (!progressed) throw new LedgerError('PEER_ERROR', `${o.node} says there is more but sent no entries this copy can use; try again later or another node`)
    }
    commit(o.dir, state, journal)
    const pending = state.journals.reduce((n, j) => n + j.records, 0)
    const threshold = o.compactAfter ?? Math.max(100_000, Math.floor((state.base?.records ?? 0) / 2))
    if (pending > threshold || state.journals.length > 64) compact(o.dir, state)
    removeUnreferenced(o.dir, state)
    result.cursor = encodeCursor(new Map(Object.entries(state.logs).map(([k, l]) => [k, l.size])))
    result.logs = Object.entries(state.logs).sort(([a], [b]) => (a < b ? -1 : 1)).map(([origin, l]) => ({ origin, size: l.size, checkpoint: l.checkpoint?.size ?? 0 }))
    return result
  } finally {
    unlock()
  }
}
