/**
 * The records of a bench log, a pure function of (origin, index), so the
 * loader can make them in worker threads and the measures can name stored
 * values without reading the store back.
 *
 * Layout, in blocks of 102 entries: 101 indicators, then a revocation of the
 * block's indicator at position 50 (reason `duplicate`). So every 100
 * indicators in the current set cost 102 entries, ~1 % of the stored
 * indicators are revoked, and feeds and snapshots meet removes. Indicator
 * number n (the n-th indicator of the log) takes its alg from the same mix as
 * testnet/samples.ts, its value from SHA-256 of (tag, n), never degenerate.
 *
 * `makeEntriesJob` (a node/worker-pool.ts job) encodes records with
 * protocol/records.ts encodeRecord and frames entries with encodeEntry; the
 * signature is real (log seed given) or a fixed placeholder (no seed).
 */
import { createHash } from 'node:crypto'
import { encodeRecord, type CairnRecord, type Alg } from '../../protocol/records.ts'
import { encodeEntry, signedMessage } from '../../protocol/entry.ts'
import { sign } from '../../protocol/ed25519.ts'
import { leafHash } from '../../protocol/hash.ts'
import type { Job } from '../../workers/pool.ts'

export const BLOCK = 102
export const INDICATORS_PER_BLOCK = 101
/** Position (within a block) of the indicator the block's revocation revokes. */
export const REVOKED_AT = 50
/** Record time of entry 0; entry i is 1 ms later per index (times never go backwards in a log). */
export const BENCH_TIME0 = 1_750_000_000_000
/** Placeholder signature of unsigned bench entries (never verified on the serving path; see results.json `method`). */
export const PLACEHOLDER_SIGNATURE = new Uint8Array(64).fill(0x5a)

const MIX = ['md5', 'sha1', 'sha256', 'pdq', 'sha256', 'md5', 'pdq', 'photodna', 'tmk_pdqf', 'url_sha256'] as const
const CATEGORIES = ['A1', 'A2', 'B1', 'B2', 'A1', 'B2'] as const
const LENGTH: Record<string, number> = { md5: 16, sha1: 20, sha256: 32, pdq: 32, photodna: 144, tmk_pdqf: 256, url_sha256: 32 }

/** Entries a log needs to hold `indicators` live (unrevoked) indicators. */
export function entriesForLiveIndicators(indicators: number): number {
  const blocks = Math.ceil(indicators / (INDICATORS_PER_BLOCK - 1))
  return blocks * BLOCK
}

/** Live (unrevoked) indicators among the first `entries` entries. */
export function liveIndicators(entries: number): number {
  let live = 0
  const full = Math.floor(entries / BLOCK)
  live += full * (INDICATORS_PER_BLOCK - 1)
  const rest = entries % BLOCK // a partial block: indicators only, nothing revoked yet
  live += Math.min(rest, INDICATORS_PER_BLOCK)
  return live
}

/** Index in the log of indicator number n. */
export function indexOfIndicator(n: number): number {
  return Math.floor(n / INDICATORS_PER_BLOCK) * BLOCK + (n % INDICATORS_PER_BLOCK)
}

/** Is indicator number n revoked once its block is complete? */
export function isRevoked(n: number): boolean {
  return n % INDICATORS_PER_BLOCK === REVOKED_AT
}

export function algOf(n: number): Alg {
  return MIX[n % MIX.length]!
}

/** The value of indicator number n of the log tagged `tag`. */
export function benchValue(tag: string, n: number): Uint8Array {
  const len = LENGTH[algOf(n)]!
  const out = new Uint8Array(len)
  for (let off = 0, k = 0; off < len; off += 32, k++) {
    const d = createHash('sha256').update(`cairn-bench/${tag}/${n}/${k}`).digest()
    out.set(d.subarray(0, Math.min(32, len - off)), off)
  }
  return out
}

/** A value of `alg` that no bench log holds (for misses). */
export function absentValue(alg: Alg, n: number): Uint8Array {
  const len = LENGTH[alg]!
  const out = new Uint8Array(len)
  for (let off = 0, k = 0; off < len; off += 32, k++) {
    out.set(createHash('sha256').update(`cairn-bench/absent/${alg}/${n}/${k}`).digest().subarray(0, Math.min(32, len - off)), off)
  }
  return out
}

/** The indicator body (what a client submits) for indicator number n: no v, log, seq, time. */
export function indicatorBody(tag: string, n: number) {
  const alg = algOf(n)
  return {
    type: 'indicator' as const,
    alg,
    value: benchValue(tag, n),
    category: CATEGORIES[(n * 7) % CATEGORIES.length]!,
    kind: alg === 'url_sha256' ? ('url' as const) : n % 5 === 0 ? ('new_material' as const) : ('known_material' as const),
    media: alg === 'url_sha256' ? ('url' as const) : alg === 'tmk_pdqf' ? ('video' as const) : ('image' as const),
    ...(alg === 'pdq' ? { quality: 50 + (n % 51) } : {}),
  }
}

/** The record at `index` of the bench log `origin`; `targetId` is the record id of the indicator a revocation names. */
export function benchRecord(origin: string, index: number, targetId?: Uint8Array): CairnRecord {
  const head = { v: 1 as const, log: origin, seq: index, time: BENCH_TIME0 + index }
  const block = Math.floor(index / BLOCK)
  const pos = index % BLOCK
  if (pos === INDICATORS_PER_BLOCK) {
    if (!targetId) throw new Error(`bench record ${index} is a revocation and needs its target id`)
    return { ...head, type: 'revocation', target: targetId, reason: 'duplicate' }
  }
  return { ...head, ...indicatorBody(origin, block * INDICATORS_PER_BLOCK + pos) } as CairnRecord
}

export interface MakeEntriesInput {
  origin: string
  /** First index; a multiple of BLOCK so every revocation's target is in the same job. */
  start: number
  count: number
  /** Log seed: sign for real. Absent: placeholder signatures. */
  seed?: Uint8Array
}

export interface MakeEntriesOutput {
  entries: Uint8Array[]
  /** Leaf hashes (record ids), 32 bytes each. */
  ids: Uint8Array
  records: CairnRecord[]
}

/** Makes entries [start, start + count) of a bench log. */
export const makeEntriesJob: Job<MakeEntriesInput, MakeEntriesOutput> = ({ origin, start, count, seed }) => {
  if (start % BLOCK !== 0) throw new Error('bench entry jobs start at a block boundary')
  const entries: Uint8Array[] = []
  const records: CairnRecord[] = []
  const ids = new Uint8Array(32 * count)
  for (let i = 0; i < count; i++) {
    const index = start + i
    const pos = index % BLOCK
    const target = pos === INDICATORS_PER_BLOCK ? ids.slice(32 * (i - INDICATORS_PER_BLOCK + REVOKED_AT), 32 * (i - INDICATORS_PER_BLOCK + REVOKED_AT + 1)) : undefined
    const record = benchRecord(origin, index, target)
    const bytes = encodeRecord(record)
    const entry = encodeEntry(bytes, seed ? sign(seed, signedMessage(bytes)) : PLACEHOLDER_SIGNATURE)
    entries.push(entry)
    records.push(record)
    ids.set(leafHash(entry), 32 * i)
  }
  return { result: { entries, ids, records }, transfer: [ids.buffer as ArrayBuffer] }
}
