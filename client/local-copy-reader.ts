/**
 * openLocalCopy(dir): a provider's verified local copy, in memory, ready to
 * match against: exact lookups per algorithm (ValueTable), PDQ within a
 * Hamming distance (PdqIndex over the copy's PDQ values), every
 * record with its log, seq, category and quality, and the confirmations and
 * disputes other centres recorded about it. The provider's policy in
 * state.json (require so many confirmations, drop disputed ones) decides
 * which live indicators are there at all: every reader of the copy (match,
 * export, the matcher service) sees the same, policy-applied set.
 *
 * Everything is built from the files state.json names, after checking their
 * SHA-256 (spec/local-copy.md), so it is always what `cairn sync` last
 * committed. The PDQ index is read from pdq-index.idx beside the copy when
 * that file was made from exactly these PDQ values and passes its SHA-256
 * (client/pdq-index-file.ts), else built (about a second per million values)
 * and saved there: a cache keyed to the values, so it cannot fall out of step.
 *
 * Memory per record: id 32 B, 30 B of fields, the value (exact algs: once
 * per distinct value, plus its table slot); PDQ values are kept once per
 * record inside the PdqIndex (~130 B per PDQ record with its tables).
 */
import { LedgerError } from '../protocol/errors.ts'
import { encodeCursor } from '../protocol/feed-cursor.ts'
import { ALG_LENGTHS } from '../protocol/records.ts'
import { ValueTable } from './value-table.ts'
import type { PdqIndex } from './pdq-index.ts'
import { openPdqIndex, type PdqIndexSource } from './pdq-index-file.ts'
import { ALG_CODE, ALG_NAME, CAT_NAME, OPINION_NAME, NO_QUALITY, readState, readChecked, forEachRecord, type FileRef, type LocalState, type CopyPolicy } from './local-copy-format.ts'

/** Which centres confirmed and which disputed a record (origins, sorted); a centre's latest attestation counts. */
export interface Opinions {
  confirmations: string[]
  disputes: string[]
}

export interface CopyRecord extends Opinions {
  /** Record id, hex (the entry's leaf hash). */
  id: string
  /** Origin of the log that wrote it (the centre). */
  log: string
  /** Its index in that log. */
  seq: number
  alg: string
  category: string
  value: Uint8Array
  /** PDQ quality (0..100), for PDQ records. */
  quality?: number
}

export interface PdqMatchResult {
  record: CopyRecord
  distance: number
}

/** The exact-match view (what loadLocalSet gave before openLocalCopy). */
export interface LocalSet {
  /** Live indicator records in the copy. */
  readonly size: number
  /** Live records per algorithm. */
  readonly counts: Record<string, number>
  /** The feed cursor the copy stands at. */
  readonly cursor: string
  /** Is this exact value of `alg` in the set? */
  has(alg: string, value: Uint8Array): boolean
  /** The category of a value in the set (the first record's, if several name it). */
  category(alg: string, value: Uint8Array): string | undefined
  /** The values of one fixed-width algorithm, packed `width` bytes apiece (distinct ones; for PDQ every record's, in record order). */
  packed(alg: string): { width: number; count: number; values: Uint8Array } | undefined
}

export interface LocalCopy extends LocalSet {
  /** The provider's policy the copy applies (state.json; `cairn sync --require-confirmations`, `--drop-disputed`). */
  readonly policy: CopyPolicy
  /** Live indicators the policy leaves out. */
  readonly withheld: number
  /** Per log: entries applied and the size of the last verified checkpoint. */
  readonly logs: { origin: string; size: number; checkpoint: number }[]
  /** Every live record holding exactly `value` under `alg`, by log then seq. */
  lookup(alg: string, value: Uint8Array): CopyRecord[]
  /** Every live PDQ record within `maxDistance` bits of `hash` (32 bytes), by distance, then log, then seq: exactly a brute-force scan's answer. */
  matchPdq(hash: Uint8Array, maxDistance: number): PdqMatchResult[]
  /** Every live record, in file order. */
  records(): Generator<CopyRecord>
  /** The opinions recorded about a record id (hex or bytes). */
  opinions(id: string | Uint8Array): Opinions
  /** The PDQ index (entry i is the i-th PDQ value of `packed('pdq')`); undefined if the copy holds no PDQ record. With `shared`, its `state()` can be posted to worker threads. */
  pdqIndex(): PdqIndex | undefined
}

const PDQ_CODE = ALG_CODE.pdq!

export interface OpenOptions {
  /** Build the PDQ index on open (default) or at the first matchPdq. */
  pdqIndex?: 'on-open' | 'on-first-use'
  /** Read and keep the index in pdq-index.idx beside the copy (default true). */
  persistPdqIndex?: boolean
  /** Hold the PDQ values and index in SharedArrayBuffers, for worker threads. */
  shared?: boolean
  /** Told where the PDQ index came from and how long it took. */
  onPdqIndex?: (info: PdqIndexSource) => void
}

/**
 * Loads the local copy in `dir` (checksums, magics, record counts and field
 * ranges checked). A sync that commits while this reads may delete a file
 * the state.json read first names: then, if state.json changed, read again.
 */
export function openLocalCopy(dir: string, options: OpenOptions = {}): LocalCopy {
  for (let attempt = 1; ; attempt++) {
    const state = readState(dir)
    if (!state) throw new LedgerError('NOT_FOUND', `no local copy in ${dir}: run cairn sync --dir ${dir} first`)
    try {
      return openState(dir, state, options)
    } catch (e) {
      if (attempt >= 3 || !(e instanceof LedgerError) || e.code !== 'STORAGE_CORRUPT' || sameFiles(state, readState(dir))) throw e
    }
  }
}

function sameFiles(a: LocalState, b: LocalState | undefined): boolean {
  return b !== undefined && JSON.stringify([a.base, a.journals]) === JSON.stringify([b.base, b.journals])
}

function openState(dir: string, state: LocalState, options: OpenOptions): LocalCopy {
  const origins = state.origins
  const files: { ref: FileRef; kind: 'base' | 'journal'; buf: Buffer }[] = []
  if (state.base) files.push({ ref: state.base, kind: 'base', buf: readChecked(dir, state.base) })
  for (const j of state.journals) files.push({ ref: j, kind: 'journal', buf: readChecked(dir, j) })

  // The provider's policy (state.json): which live indicators the copy's readers use.
  const policy: CopyPolicy = state.policy ?? {}
  const need = policy.require_confirmations ?? 0
  const policyActive = need > 0 || policy.drop_disputed === true

  // Pass 1: what was removed (revocations and redactions, in journals only) and the attestations;
  // those of the base file in pass 2, unless the policy needs them all first.
  const removed = new Set<string>()
  const attestations: { id: string; target: string; log: number; seq: number; opinion: number }[] = []
  const collect = (buf: Buffer, at: number, opinion: number, log: number, seq: number) =>
    void attestations.push({ id: buf.toString('hex', at + 1, at + 33), target: buf.toString('hex', at + 33, at + 65), log, seq, opinion })
  for (const f of files) {
    if (f.kind !== 'journal' && !policyActive) continue
    forEachRecord(f.buf, f.ref, f.kind, origins.length, { remove: (buf, at) => removed.add(buf.toString('hex', at + 1, at + 33)), attestation: collect })
  }
  const gone = (buf: Buffer, at: number) => removed.size > 0 && removed.has(buf.toString('hex', at, at + 32))

  /** target id hex → attesting log index → its latest opinion. */
  const attested = new Map<string, Map<number, { seq: number; opinion: number }>>()
  const joinAttestations = () => {
    for (const a of attestations) {
      if (removed.has(a.id)) continue
      let byLog = attested.get(a.target)
      if (!byLog) attested.set(a.target, (byLog = new Map()))
      const had = byLog.get(a.log)
      if (!had || had.seq < a.seq) byLog.set(a.log, { seq: a.seq, opinion: a.opinion })
    }
    attestations.length = 0
  }
  if (policyActive) joinAttestations()

  const passes = (buf: Buffer, at: number): boolean => {
    if (!policyActive) return true
    const byLog = attested.size > 0 ? attested.get(buf.toString('hex', at, at + 32)) : undefined
    if (!byLog) return need === 0
    let confirms = 0
    for (const o of byLog.values()) {
      if (OPINION_NAME[o.opinion] === 'confirm') confirms++
      else if (policy.drop_disputed) return false
    }
    return confirms >= need
  }
  let withheld = 0

  // Pass 2: how many live indicators (and value bytes) per algorithm.
  const per = new Map<number, { n: number; bytes: number }>()
  let size = 0
  for (const f of files) {
    forEachRecord(f.buf, f.ref, f.kind, origins.length, {
      indicator(buf, at, alg, _cat, _q, _log, _seq, _valueAt, len) {
        if (gone(buf, at + 1)) return
        if (!passes(buf, at + 1)) {
          withheld++
          return
        }
        const w = ALG_LENGTHS[ALG_NAME[alg] as keyof typeof ALG_LENGTHS]
        if (typeof w === 'number' && len !== w) throw new LedgerError('STORAGE_CORRUPT', `${f.ref.file} holds a ${ALG_NAME[alg]} value of ${len} bytes; delete ${dir} and sync again`)
        const p = per.get(alg)
        if (p) {
          p.n++
          p.bytes += len
        } else per.set(alg, { n: 1, bytes: len })
        size++
      },
      attestation: f.kind === 'journal' || policyActive ? undefined : collect,
    })
  }
  if (!policyActive) joinAttestations()

  // Pass 3: fill the tables and the per-record fields. PDQ values go to one
  // packed array in record order, which the PdqIndex keeps as its hashes (no
  // copy, no exact-match table: an exact PDQ lookup reads the one bucket of
  // the index's slot 0 an equal hash must be in, PdqIndex.exact).
  const tables = new Map<string, ValueTable>()
  const byCode: (ValueTable | undefined)[] = []
  /** Per alg code, per distinct value index: the last record holding it (chained through `sameValue`). */
  const heads: (Int32Array | undefined)[] = []
  const pdqCount = per.get(PDQ_CODE)?.n ?? 0
  const pdqValues = new Uint8Array(options.shared ? new SharedArrayBuffer(pdqCount * 32) : new ArrayBuffer(pdqCount * 32))
  const pdqRecord = new Uint32Array(pdqCount)
  let k = 0
  for (const [code, p] of per) {
    if (code === PDQ_CODE) continue
    const name = ALG_NAME[code]!
    const w = ALG_LENGTHS[name as keyof typeof ALG_LENGTHS]
    const t = new ValueTable(typeof w === 'number' ? w : 0, p.n, p.bytes)
    tables.set(name, t)
    byCode[code] = t
    heads[code] = new Int32Array(p.n).fill(-1)
  }
  const ids = Buffer.allocUnsafe(size * 32)
  const algs = new Uint8Array(size)
  const cats = new Uint8Array(size)
  const quals = new Uint8Array(size)
  const logs = new Uint16Array(size)
  const seqs = new Float64Array(size)
  const valueIndex = new Uint32Array(size)
  const sameValue = new Int32Array(size)
  let r = 0
  for (const f of files) {
    forEachRecord(f.buf, f.ref, f.kind, origins.length, {
      indicator(buf, at, alg, cat, quality, log, seq, valueAt, len) {
        if (gone(buf, at + 1) || !passes(buf, at + 1)) return
        // 32-byte copies in a loop: Buffer.copy's per-call cost dominates at this size.
        for (let b = 0, o = r * 32; b < 32; b++) ids[o + b] = buf[at + 1 + b]!
        algs[r] = alg
        cats[r] = cat
        quals[r] = quality
        logs[r] = log
        seqs[r] = seq
        if (alg === PDQ_CODE) {
          for (let b = 0, o = k * 32; b < 32; b++) pdqValues[o + b] = buf[valueAt + b]!
          pdqRecord[k] = r
          valueIndex[r] = k++
          r++
          return
        }
        const v = byCode[alg]!.insert(buf, valueAt, len, cat)
        valueIndex[r] = v
        const head = heads[alg]!
        sameValue[r] = head[v]!
        head[v] = r
        r++
      },
    })
  }
  files.length = 0 // the file buffers are no longer needed

  let pdq: PdqIndex | undefined
  const buildIndex = () => {
    if (!pdq) {
      const opened = openPdqIndex(dir, pdqValues, pdqCount, { shared: options.shared, persist: options.persistPdqIndex })
      pdq = opened.index
      options.onPdqIndex?.(opened.info)
    }
    return pdq
  }
  if (pdqCount > 0 && (options.pdqIndex ?? 'on-open') === 'on-open') buildIndex()
  /** PDQ records within d of `hash`, by distance then log then seq. */
  const searchPdq = (hash: Uint8Array, d: number): PdqMatchResult[] => {
    if (pdqCount === 0) {
      if (hash.length !== 32) throw new RangeError(`a PDQ hash is 32 bytes, got ${hash.length}`)
      return []
    }
    const out = buildIndex().search(hash, d).map((m) => ({ record: recordAt(pdqRecord[m.index]!), distance: m.distance }))
    return out.sort((a, b) => a.distance - b.distance || byLogSeq(a.record.log, a.record.seq, b.record.log, b.record.seq))
  }
  /** Records by log then seq. */
  const byRecord = (a: number, b: number) => byLogSeq(origins[logs[a]!]!, seqs[a]!, origins[logs[b]!]!, seqs[b]!)
  /** Records holding exactly PDQ value `hash`, by log then seq: searchPdq(hash, 0)'s records, in its order, without building them. */
  const exactPdq = (hash: Uint8Array): number[] => {
    if (hash.length !== 32 || pdqCount === 0) return []
    const out = buildIndex().exact(hash)
    for (let e = 0; e < out.length; e++) out[e] = pdqRecord[out[e]!]!
    return out.length > 1 ? out.sort(byRecord) : out
  }
  const valueOf = (i: number): Uint8Array => (algs[i] === PDQ_CODE ? pdqValues.slice(valueIndex[i]! * 32, valueIndex[i]! * 32 + 32) : new Uint8Array(byCode[algs[i]!]!.valueAt(valueIndex[i]!)))

  const opinionsOf = (idHex: string): Opinions => {
    const byLog = attested.get(idHex)
    const out: Opinions = { confirmations: [], disputes: [] }
    if (!byLog) return out
    for (const [log, o] of byLog) (OPINION_NAME[o.opinion] === 'confirm' ? out.confirmations : out.disputes).push(origins[log]!)
    out.confirmations.sort()
    out.disputes.sort()
    return out
  }
  const recordAt = (i: number): CopyRecord => {
    const id = ids.toString('hex', i * 32, i * 32 + 32)
    const alg = ALG_NAME[algs[i]!]!
    const rec: CopyRecord = {
      id, log: origins[logs[i]!]!, seq: seqs[i]!, alg, category: CAT_NAME[cats[i]!]!,
      value: valueOf(i),
      confirmations: [], disputes: [],
    }
    if (quals[i] !== NO_QUALITY) rec.quality = quals[i]
    const o = opinionsOf(id)
    rec.confirmations = o.confirmations
    rec.disputes = o.disputes
    return rec
  }
  /** Records holding distinct value `v` of alg `code`, by log then seq. */
  const holding = (code: number, v: number): number[] => {
    const out: number[] = []
    for (let i = heads[code]![v]!; i >= 0; i = sameValue[i]!) out.push(i)
    return out.sort(byRecord)
  }
  const codeOf = (alg: string) => {
    const t = tables.get(alg)
    return t ? byCode.indexOf(t) : -1
  }

  return {
    size,
    policy,
    withheld,
    counts: Object.fromEntries([...per].map(([code, p]) => [ALG_NAME[code]!, p.n])),
    cursor: encodeCursor(new Map(Object.entries(state.logs).map(([o, l]) => [o, l.size]))),
    logs: Object.entries(state.logs).sort(([a], [b]) => (a < b ? -1 : 1)).map(([origin, l]) => ({ origin, size: l.size, checkpoint: l.checkpoint?.size ?? 0 })),
    has(alg, value) {
      if (alg === 'pdq') return value.length === 32 && pdqCount > 0 && buildIndex().hasExact(value)
      const t = tables.get(alg)
      return t !== undefined && t.indexOf(value) >= 0
    },
    category(alg, value) {
      if (alg === 'pdq') {
        const first = exactPdq(value)[0]
        return first === undefined ? undefined : CAT_NAME[cats[first]!]
      }
      const t = tables.get(alg)
      const i = t ? t.indexOf(value) : -1
      return i >= 0 ? CAT_NAME[t!.categories[i]!] : undefined
    },
    packed(alg) {
      if (alg === 'pdq') return pdqCount > 0 ? { width: 32, count: pdqCount, values: pdqValues } : undefined
      const t = tables.get(alg)
      return t && t.width !== 0 ? { width: t.width, count: t.count, values: t.values.subarray(0, t.count * t.width) } : undefined
    },
    lookup(alg, value) {
      if (alg === 'pdq') return exactPdq(value).map(recordAt)
      const t = tables.get(alg)
      const v = t ? t.indexOf(value) : -1
      return v < 0 ? [] : holding(codeOf(alg), v).map(recordAt)
    },
    matchPdq(hash, maxDistance) {
      return searchPdq(hash, maxDistance)
    },
    *records() {
      for (let i = 0; i < size; i++) yield recordAt(i)
    },
    pdqIndex() {
      return pdqCount > 0 ? buildIndex() : undefined
    },
    opinions(id) {
      return opinionsOf(typeof id === 'string' ? id.toLowerCase() : Buffer.from(id).toString('hex'))
    },
  }
}

function byLogSeq(la: string, sa: number, lb: string, sb: number): number {
  return la < lb ? -1 : la > lb ? 1 : sa - sb
}

/** The exact-match view of the copy in `dir` (PDQ index built only if matchPdq is called). */
export function loadLocalSet(dir: string): LocalCopy {
  return openLocalCopy(dir, { pdqIndex: 'on-first-use' })
}

