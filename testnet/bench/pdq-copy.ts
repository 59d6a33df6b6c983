/**
 * The local copy pdq_match_per_s and provider_rss_10m_mib open: 10M PDQ
 * indicator records (× scale) in the format `cairn sync` writes
 * (spec/local-copy.md), written by the copy writer itself
 * (client/local-copy.ts: Journal, commit, compact — the calls sync makes), in
 * journals of 1M records committed one after another and folded into a base,
 * as a sync of that size ends. Cached in the bench cache under a key that
 * hashes what this loader writes for a sample; later runs reuse it.
 *
 * What is in it: one log (`bench.pdq/log`), records seq 0..n-1, categories
 * cycling A1, A2, B1, B2, qualities 50..100, seeded pseudo-random record ids,
 * and seeded uniformly random PDQ values (xorshift128, as
 * testnet/bench/pdq-match.ts), which is how PDQ hashes of unrelated images
 * are spread. Not a verifiable copy: no log signed these records (state.json
 * has no checkpoint and an empty frontier); readers do not check those, and
 * openLocalCopy checks everything it does read (SHA-256, magics, fields).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { fillRandom } from './pdq-match.ts'
import { emptyState, originIndex, Journal, commit, compact, STATE_FORMAT } from '../../client/local-copy.ts'

export const PDQ_COPY_ORIGIN = 'bench.pdq/log'
const JOURNAL_RECORDS = 1_000_000
const CATEGORIES = ['A1', 'A2', 'B1', 'B2'] as const

/** The PDQ values of the copy, packed in record order (what the reader's index holds). */
export function pdqCopyValues(n: number): Uint8Array {
  const values = new Uint8Array(n * 32)
  fillRandom(new Uint32Array(values.buffer), 2025)
  return values
}

/** Writes records [from, to) into a journal. */
function journalOf(values: Uint8Array, ids: Uint8Array, from: number, to: number, log: number): Journal {
  const j = new Journal()
  for (let i = from; i < to; i++) {
    j.add(ids.subarray((i - from) * 32, (i - from) * 32 + 32), 'pdq', CATEGORIES[i % 4]!, values.subarray(i * 32, i * 32 + 32), log, i, 50 + (i % 51))
  }
  return j
}

function idsOf(from: number, to: number): Uint8Array {
  const ids = new Uint8Array((to - from) * 32)
  fillRandom(new Uint32Array(ids.buffer), 0x1d5 + from)
  return ids
}

/** Cache key: the loader's version, the format, and the bytes it writes for a sample. */
function loaderKey(): string {
  const sample = 1000
  const bytes = journalOf(pdqCopyValues(sample), idsOf(0, sample), 0, sample, 0).sink.bytes()
  return createHash('sha256').update(`pdq-copy/1 ${STATE_FORMAT}\n`).update(bytes).digest('hex').slice(0, 12)
}

export interface PdqCopyInfo {
  dir: string
  records: number
  cached: boolean
  seconds: number
  made: string
  bytes: number
}

/** The copy of `n` PDQ records in the cache (made once); removes copies of the same size made by another loader version. */
export function ensurePdqCopy(cache: string, n: number, say: (line: string) => void): PdqCopyInfo {
  const name = `pdq-copy-${n}-${loaderKey()}`
  const dir = join(cache, name)
  const marker = join(dir, 'complete.json')
  if (existsSync(marker)) return { dir, ...(JSON.parse(readFileSync(marker, 'utf8')) as Omit<PdqCopyInfo, 'dir' | 'cached'>), cached: true }
  mkdirSync(cache, { recursive: true })
  for (const other of readdirSync(cache)) if (other.startsWith(`pdq-copy-${n}-`)) rmSync(join(cache, other), { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  say(`  writing a local copy of ${n.toLocaleString('en')} PDQ records with the copy writer into ${dir}…`)
  const t0 = performance.now()
  const values = pdqCopyValues(n)
  const state = emptyState()
  const log = originIndex(state, PDQ_COPY_ORIGIN)
  state.logs[PDQ_COPY_ORIGIN] = { size: 0, frontier: [] }
  for (let from = 0; from < n; from += JOURNAL_RECORDS) {
    const to = Math.min(n, from + JOURNAL_RECORDS)
    const journal = journalOf(values, idsOf(from, to), from, to, log)
    state.logs[PDQ_COPY_ORIGIN]!.size = to
    commit(dir, state, journal)
  }
  compact(dir, state)
  const info = { records: n, seconds: (performance.now() - t0) / 1000, made: new Date().toISOString(), bytes: state.base ? readFileSync(join(dir, state.base.file)).length : 0 }
  writeFileSync(marker, JSON.stringify(info, null, 2) + '\n')
  say(`  local copy of ${n.toLocaleString('en')} PDQ records written in ${info.seconds.toFixed(0)} s`)
  return { dir, ...info, cached: false }
}
