/**
 * The file format of a provider's local copy, version 3 (spec/local-copy.md
 * says it byte for byte): state.json and its checks, and the tagged records
 * that base and journal files hold (unchanged since version 2, whose copies
 * are read as version 3 without a policy or subscription). Shared by the writer (local-copy.ts) and
 * the reader (local-copy-reader.ts); no writing here.
 */
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { LedgerError } from '../protocol/errors.ts'
import type { Subscription } from '../protocol/subscription.ts'

/** 3: state.json may hold the provider's `policy` (applied by every reader) and `subscription`. */
export const STATE_FORMAT = 'cairn-local-copy/3'
/** Version 2: the same files, without policy or subscription; read as version 3. */
export const V2_STATE_FORMAT = 'cairn-local-copy/2'
/** The format before records kept their log, seq, quality and the attestations on them. */
export const OLD_STATE_FORMAT = 'cairn-local-set/1'
export const BASE_MAGIC = Buffer.from('CAIRNSB2')
export const JOURNAL_MAGIC = Buffer.from('CAIRNSJ2')

export const ALG_CODE: Record<string, number> = { md5: 1, sha1: 2, sha256: 3, pdq: 4, photodna: 5, tmk_pdqf: 6, url_sha256: 7 }
export const ALG_NAME = Object.fromEntries(Object.entries(ALG_CODE).map(([k, v]) => [v, k])) as Record<number, string>
export const CAT_CODE: Record<string, number> = { A1: 1, A2: 2, B1: 3, B2: 4 }
export const CAT_NAME = Object.fromEntries(Object.entries(CAT_CODE).map(([k, v]) => [v, k])) as Record<number, string>
export const OPINION_CODE: Record<string, number> = { confirm: 1, dispute: 2 }
export const OPINION_NAME: Record<number, 'confirm' | 'dispute'> = { 1: 'confirm', 2: 'dispute' }
/** Quality byte of a record without one (every alg but PDQ). */
export const NO_QUALITY = 0xff

/** Record tags. */
export const TAG_INDICATOR = 1
export const TAG_REMOVE = 2
export const TAG_ATTESTATION = 3
/** Bytes of an indicator record before its value: tag id alg category quality log(u16) seq(u64) len(u16). */
export const INDICATOR_HEAD = 1 + 32 + 1 + 1 + 1 + 2 + 8 + 2
/** Bytes of a removal: tag id. */
export const REMOVE_BYTES = 1 + 32
/** Bytes of an attestation: tag id target opinion log(u16) seq(u64). */
export const ATTESTATION_BYTES = 1 + 32 + 32 + 1 + 2 + 8
/** Values longer than this are not in a copy (tmk_pdqf's cap). */
export const MAX_VALUE_BYTES = 4096
export const MAX_ORIGINS = 0xffff

// ------------------------------------------------------------------ state.json

export interface FileRef {
  file: string
  /** SHA-256 of the whole file, hex. */
  sha256: string
  /** Records in the file (tagged records of any kind). */
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

/** The provider's policy on opinions: which live indicators the copy's readers use (spec/local-copy.md §L.5). */
export interface CopyPolicy {
  /** Only indicators at least this many centres confirm (0 or absent: any). */
  require_confirmations?: number
  /** Leave out indicators any centre disputes. */
  drop_disputed?: boolean
}

export interface LocalState {
  format: typeof STATE_FORMAT
  trust: 'genesis' | 'tofu'
  /** Log verifier key and witness verifier key per origin. */
  keys: Record<string, { vkey: string; witness_vkey: string }>
  logs: Record<string, LogState>
  /** The origins records name by index (their `log` field); append-only. */
  origins: string[]
  generation: number
  base?: FileRef
  journals: FileRef[]
  /** Applied by every reader at open; absent: every live indicator. */
  policy?: CopyPolicy
  /** Which indicators `cairn sync` keeps (the others are verified and not written); absent: all. */
  subscription?: Subscription
}

export function emptyState(): LocalState {
  return { format: STATE_FORMAT, trust: 'tofu', keys: {}, logs: {}, origins: [], generation: 0, journals: [] }
}

/** What state.json holds, read but not yet trusted as the current format. */
export type StateFile = { kind: 'current'; state: LocalState } | { kind: 'old'; format: string; raw: Record<string, unknown> }

/** Reads state.json: the current format, or the old one (for `cairn sync` to rebuild); anything else throws. */
export function readStateFile(dir: string): StateFile | undefined {
  const path = join(dir, 'state.json')
  if (!existsSync(path)) return undefined
  let s: Record<string, unknown>
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  } catch (e) {
    throw new LedgerError('STORAGE_CORRUPT', `${path} is not readable JSON (${(e as Error).message})`)
  }
  if (s?.format === OLD_STATE_FORMAT) return { kind: 'old', format: OLD_STATE_FORMAT, raw: s }
  if (s?.format === V2_STATE_FORMAT) s.format = STATE_FORMAT // the same files; no policy or subscription
  if (s?.format !== STATE_FORMAT) throw new LedgerError('STORAGE_CORRUPT', `${path} is not a cairn local copy (format ${String(s?.format)})`)
  if (!Array.isArray(s.origins) || !Array.isArray(s.journals) || typeof s.logs !== 'object' || typeof s.keys !== 'object' || !Number.isSafeInteger(s.generation)) {
    throw new LedgerError('STORAGE_CORRUPT', `${path} lacks fields of format ${STATE_FORMAT}; delete ${dir} and sync again`)
  }
  checkPolicy(path, s.policy)
  return { kind: 'current', state: s as unknown as LocalState }
}

/** A policy a reader can apply, or STORAGE_CORRUPT: a copy whose policy cannot be read is not used (it would match more than the provider chose). */
function checkPolicy(path: string, p: unknown): void {
  if (p === undefined) return
  const ok = typeof p === 'object' && p !== null && Object.entries(p).every(([k, v]) =>
    (k === 'require_confirmations' && Number.isSafeInteger(v) && (v as number) >= 0) || (k === 'drop_disputed' && typeof v === 'boolean'))
  if (!ok) throw new LedgerError('STORAGE_CORRUPT', `${path} holds a policy this reader does not know (${JSON.stringify(p)}); refusing the copy rather than ignoring it`)
}

/** Reads state.json for reading the copy: only the current format. */
export function readState(dir: string): LocalState | undefined {
  const f = readStateFile(dir)
  if (f?.kind === 'old') {
    throw new LedgerError('BAD_VERSION', `${dir} holds a local copy in the old format ${f.format}; run cairn sync --dir ${dir} (with your usual --node and --token) to rebuild it in format ${STATE_FORMAT}`)
  }
  return f?.state
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** A file of the copy, checked against its SHA-256 in state.json. */
export function readChecked(dir: string, ref: FileRef): Buffer {
  const path = join(dir, ref.file)
  if (!existsSync(path)) throw new LedgerError('STORAGE_CORRUPT', `${path} is missing; the local copy is damaged (delete ${dir} and sync again)`)
  const buf = readFileSync(path)
  if (sha256Hex(buf) !== ref.sha256) throw new LedgerError('STORAGE_CORRUPT', `${path} does not match its checksum in state.json; the local copy is damaged (delete ${dir} and sync again)`)
  return buf
}

// ------------------------------------------------------------------ records

/**
 * Sees records in a file buffer without copying them: loading 10M records
 * must not allocate per record. Offsets point into `buf`.
 */
export interface RecordVisitor {
  /** id at `at + 1`; alg, category, quality bytes; log index; seq; value at `valueAt`, `len` bytes. */
  indicator?(buf: Buffer, at: number, alg: number, cat: number, quality: number, log: number, seq: number, valueAt: number, len: number): void
  /** id at `at + 1`. */
  remove?(buf: Buffer, at: number): void
  /** id at `at + 1`, target at `at + 33`. */
  attestation?(buf: Buffer, at: number, opinion: number, log: number, seq: number): void
}

function readSeq(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at)
  if (hi >= 1 << 21) return -1
  return hi * 2 ** 32 + buf.readUInt32BE(at + 4)
}

/**
 * Visits every record of a base (no removals allowed) or journal file after
 * checking its magic, every field's range and the record count state.json
 * gives; throws STORAGE_CORRUPT on anything else.
 */
export function forEachRecord(buf: Buffer, ref: FileRef, kind: 'base' | 'journal', origins: number, v: RecordVisitor): void {
  const magic = kind === 'base' ? BASE_MAGIC : JOURNAL_MAGIC
  const bad = (why: string): never => {
    throw new LedgerError('STORAGE_CORRUPT', `${ref.file} ${why}; the local copy is damaged (delete it and sync again)`)
  }
  if (buf.length < 8 || !buf.subarray(0, 8).equals(magic)) bad(`is not a cairn ${kind} file of format ${STATE_FORMAT}`)
  let p = 8
  let n = 0
  while (p < buf.length) {
    const tag = buf[p]!
    if (tag === TAG_INDICATOR) {
      if (p + INDICATOR_HEAD > buf.length) bad('is truncated')
      const alg = buf[p + 33]!
      const cat = buf[p + 34]!
      const quality = buf[p + 35]!
      const log = buf.readUInt16BE(p + 36)
      const seq = readSeq(buf, p + 38)
      const len = buf.readUInt16BE(p + 46)
      if (ALG_NAME[alg] === undefined || CAT_NAME[cat] === undefined || (quality > 100 && quality !== NO_QUALITY) || log >= origins || seq < 0 || len < 1 || len > MAX_VALUE_BYTES) bad(`holds a bad indicator record at byte ${p}`)
      if (p + INDICATOR_HEAD + len > buf.length) bad('is truncated')
      v.indicator?.(buf, p, alg, cat, quality, log, seq, p + INDICATOR_HEAD, len)
      p += INDICATOR_HEAD + len
    } else if (tag === TAG_REMOVE && kind === 'journal') {
      if (p + REMOVE_BYTES > buf.length) bad('is truncated')
      v.remove?.(buf, p)
      p += REMOVE_BYTES
    } else if (tag === TAG_ATTESTATION) {
      if (p + ATTESTATION_BYTES > buf.length) bad('is truncated')
      const opinion = buf[p + 65]!
      const log = buf.readUInt16BE(p + 66)
      const seq = readSeq(buf, p + 68)
      if (OPINION_NAME[opinion] === undefined || log >= origins || seq < 0) bad(`holds a bad attestation record at byte ${p}`)
      v.attestation?.(buf, p, opinion, log, seq)
      p += ATTESTATION_BYTES
    } else bad(`is damaged at byte ${p} (record tag ${tag})`)
    n++
  }
  if (n !== ref.records) bad(`holds ${n} records, state.json says ${ref.records}`)
}
