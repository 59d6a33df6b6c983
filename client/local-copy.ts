/**
 * A provider's local copy of the current indicator set, on disk: the writer
 * (client/sync.ts calls it after verifying what it keeps). Format version 2,
 * byte for byte in spec/local-copy.md; the codec is local-copy-format.ts,
 * the reader (openLocalCopy, loadLocalSet) local-copy-reader.ts.
 *   state.json          cursor, frontier and last verified checkpoint per log, keys, origins, file list (the commit point)
 *   base-<gen>.bin      "CAIRNSB2", then indicator and attestation records
 *   journal-<gen>.bin   "CAIRNSJ2", then indicator, removal and attestation records, in feed order
 * Files are written to a temporary name, fsynced and renamed; state.json is
 * replaced last, so a crash leaves the previous copy intact (unreferenced
 * files are removed by the next run). Journals are folded into a new base
 * when they grow. state.json records each file's SHA-256, checked on load.
 *
 * Attestations are kept whatever their target: one may arrive before the
 * indicator it is about (logs are read in origin order), and a reader joins
 * them to live indicators by id. Folding drops those whose target was
 * removed in the journals folded.
 */
import { readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { replaceFileSync } from './durable-file.ts'
import { join } from 'node:path'
import { LedgerError } from '../protocol/errors.ts'
import {
  STATE_FORMAT, BASE_MAGIC, JOURNAL_MAGIC, ALG_CODE, CAT_CODE, OPINION_CODE, NO_QUALITY, MAX_ORIGINS,
  TAG_INDICATOR, TAG_REMOVE, TAG_ATTESTATION, INDICATOR_HEAD, ATTESTATION_BYTES,
  emptyState, readStateFile, readChecked, sha256Hex, forEachRecord, type LocalState, type RecordVisitor,
} from './local-copy-format.ts'

export { STATE_FORMAT, OLD_STATE_FORMAT, CAT_CODE, emptyState, readState, type LocalState, type LogState, type FileRef, type CopyPolicy } from './local-copy-format.ts'
export { openLocalCopy, loadLocalSet, type LocalCopy, type LocalSet, type CopyRecord, type Opinions, type PdqMatchResult } from './local-copy-reader.ts'

// ------------------------------------------------------------------ state

/**
 * The state `cairn sync` starts from. A copy in the old format is never read
 * as the new one: it is rebuilt by a full sync into the same directory (its
 * pinned keys and trust kept, its files removed once the new copy commits),
 * and `warn` says so.
 */
export function stateForSync(dir: string, warn: (m: string) => void): { state: LocalState; rebuilding: boolean } {
  const f = readStateFile(dir)
  if (!f) return { state: emptyState(), rebuilding: false }
  if (f.kind === 'current') return { state: f.state, rebuilding: false }
  const state = emptyState()
  const keys = f.raw.keys
  if (keys && typeof keys === 'object') state.keys = keys as LocalState['keys']
  if (f.raw.trust === 'genesis' || f.raw.trust === 'tofu') state.trust = f.raw.trust
  // New files continue the old numbering, so none overwrites a file the old state.json still names.
  if (Number.isSafeInteger(f.raw.generation)) state.generation = f.raw.generation as number
  warn(`${dir} holds a local copy in the old format ${f.format}; rebuilding it in format ${STATE_FORMAT} by a full sync from the start (its pinned keys are kept)`)
  return { state, rebuilding: true }
}

/** The index records use for `origin` (appended to state.origins if new). */
export function originIndex(state: LocalState, origin: string): number {
  let i = state.origins.indexOf(origin)
  if (i < 0) {
    if (state.origins.length >= MAX_ORIGINS) throw new LedgerError('TOO_LARGE', `a local copy holds at most ${MAX_ORIGINS} logs`)
    i = state.origins.push(origin) - 1
  }
  return i
}

/** Deletes files the state does not reference (left by a crash, replaced by compaction, or of an old-format copy). */
export function removeUnreferenced(dir: string, state: LocalState): void {
  const keep = new Set([state.base?.file, ...state.journals.map((j) => j.file)])
  for (const f of readdirSync(dir)) {
    if (/^(base|journal)-\d+\.bin(\.tmp)?$/.test(f) && !keep.has(f)) unlinkSync(join(dir, f))
    if (f === 'state.json.tmp') unlinkSync(join(dir, f))
  }
}

// ------------------------------------------------------------------ record files

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
  u64(v: number) {
    this.room(8)
    this.buf.writeUInt32BE(Math.floor(v / 2 ** 32), this.len)
    this.buf.writeUInt32BE(v >>> 0, this.len + 4)
    this.len += 8
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.len)
  }
}

/** Set changes waiting to be committed, in journal encoding. */
export class Journal {
  readonly sink = new ByteSink(JOURNAL_MAGIC)
  ops = 0
  /** An indicator: its record id, alg, category, value, the index of its log in state.origins, its seq, its PDQ quality if any. */
  add(id: Uint8Array, alg: string, category: string, value: Uint8Array, log: number, seq: number, quality?: number) {
    const s = this.sink
    s.byte(TAG_INDICATOR)
    s.put(id)
    s.byte(ALG_CODE[alg]!)
    s.byte(CAT_CODE[category]!)
    s.byte(quality === undefined ? NO_QUALITY : quality)
    s.u16(log)
    s.u64(seq)
    s.u16(value.length)
    s.put(value)
    this.ops++
  }
  /** A revocation or redaction: the record id that leaves the copy. */
  remove(id: Uint8Array) {
    this.sink.byte(TAG_REMOVE)
    this.sink.put(id)
    this.ops++
  }
  /** An attestation: its own record id, its target, confirm or dispute, its log's index and seq. */
  attest(id: Uint8Array, target: Uint8Array, opinion: 'confirm' | 'dispute', log: number, seq: number) {
    const s = this.sink
    s.byte(TAG_ATTESTATION)
    s.put(id)
    s.put(target)
    s.byte(OPINION_CODE[opinion]!)
    s.u16(log)
    s.u64(seq)
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
    replaceFileSync(join(dir, file), bytes)
    state.journals.push({ file, sha256: sha256Hex(bytes), records: journal.ops })
  }
  replaceFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 1) + '\n')
}

/** Folds the journals into a new base file (live records only). */
export function compact(dir: string, state: LocalState): void {
  const removed = new Set<string>()
  const origins = state.origins.length
  const journals = state.journals.map((j) => ({ ref: j, buf: readChecked(dir, j) }))
  for (const j of journals) forEachRecord(j.buf, j.ref, 'journal', origins, { remove: (buf, at) => removed.add(buf.toString('hex', at + 1, at + 33)) })
  const base = state.base ? readChecked(dir, state.base) : undefined
  // The new base is at most the old one plus every journal (removes only shrink it).
  const out = new ByteSink(BASE_MAGIC, (base?.length ?? 0) + journals.reduce((n, j) => n + j.buf.length, 0))
  let records = 0
  const gone = (buf: Buffer, at: number) => removed.size > 0 && removed.has(buf.toString('hex', at, at + 32))
  // Record ids are unique and a revocation is final: live = every record whose id (or, for an attestation, target) was never removed.
  const keep: RecordVisitor = {
    indicator(buf, at, _alg, _cat, _q, _log, _seq, _valueAt, len) {
      if (gone(buf, at + 1)) return
      out.put(buf.subarray(at, at + INDICATOR_HEAD + len))
      records++
    },
    attestation(buf, at) {
      if (gone(buf, at + 1) || gone(buf, at + 33)) return
      out.put(buf.subarray(at, at + ATTESTATION_BYTES))
      records++
    },
  }
  if (base) forEachRecord(base, state.base!, 'base', origins, keep)
  for (const j of journals) forEachRecord(j.buf, j.ref, 'journal', origins, keep)
  const file = nextFile(state, 'base')
  const bytes = out.bytes()
  replaceFileSync(join(dir, file), bytes)
  state.base = { file, sha256: sha256Hex(bytes), records }
  state.journals = []
  replaceFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 1) + '\n')
  removeUnreferenced(dir, state)
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
