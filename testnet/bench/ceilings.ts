/**
 * Ceilings, measured beside the baselines: what the work every record needs
 * reaches alone on this machine. The crypto jobs run on every worker of a
 * node's pool at once, on records already in memory (no network, nothing on
 * the main thread but handing out slices); the store runs alone. They bound
 * from above what the measures that wait on that work can reach:
 *
 *  - sign_job_per_s: node/crypto-jobs.ts signJob (entry framing, strict
 *    Ed25519 signature, leaf hash) — what publishing (ingest_per_s) does in
 *    its workers for every record.
 *  - open_job_per_s: openJob (entry split, canonical CBOR check, record
 *    rules, strict Ed25519 verification, leaf hash) — what sync_per_s and
 *    `cairn verify` (verify_per_s, through openEntry) do for every entry.
 *  - verify_only_per_s: the strict Ed25519 verification alone
 *    (testnet/bench/ceiling-jobs.ts) over the same entries' signed messages,
 *    on every worker at once: what the signature checks of openJob reach on
 *    their own when all cores run them (two workers do not make twice one).
 *  - store_append_per_s: Store.append of ready entries (tree, tiles and
 *    their inner nodes, record, value and set indexes, counters) into a
 *    fresh level store in durable batches of 2,040, as publishing writes.
 *
 * Each job is also measured on one thread (the job in process), so the
 * report can say how much of a job is the signature and how much is the
 * rest. The CPU time per record of the sign jobs and of the store (all
 * threads of the process: workers, main, level's compaction) gives the most
 * publishing can reach when both share the cores:
 * ingest_bound_per_s = cores × 1 s / (sign CPU + store CPU per record).
 */
import { WorkerPool, defaultPoolSize } from '../../workers/pool.ts'
import { signJob, openJob, pack, type SignInput, type SignOutput, type OpenInput, type OpenOutput } from '../../workers/crypto-jobs.ts'
import { generateKeyPair } from '../../protocol/ed25519.ts'
import { decodeEntry, signedMessage, type DecodedEntry } from '../../protocol/entry.ts'
import { makeEntriesJob, BLOCK } from './records.ts'
import { verifyOnlyJob, type VerifyOnlyInput } from './ceiling-jobs.ts'
import { rate, asyncRate } from './baselines.ts'
import { LevelKV } from '../../node/storage/kv.ts'
import { Store, type AppendItem } from '../../node/storage/store.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Ceilings {
  /** Workers running the jobs at once (the node's default pool: one per core). */
  workers: number
  sign_job_per_s: number
  open_job_per_s: number
  /** The strict signature verification alone, on every worker at once. */
  verify_only_per_s: number
  sign_job_one_thread_per_s: number
  open_job_one_thread_per_s: number
  /** CPU time (all threads) per record signed on the workers. */
  sign_job_cpu_us: number
  store_append_per_s: number
  /** CPU time (all threads, level's included) per record stored. */
  store_append_cpu_us: number
  /** min(cores, 2) × 1e6 / (sign_job_cpu_us + store_append_cpu_us): publishing's bound on this machine. */
  ingest_bound_per_s: number
}

export const ORIGIN = 'bench.cairn/ceiling'
/** Entries per round of jobs: whole blocks, so every revocation's target is in the set. */
const ENTRIES = 40 * BLOCK

/**
 * The entries every job ceiling runs over (and testnet/bench/open-job-rest.ts,
 * which the docs set beside them): ENTRIES bench entries of ORIGIN signed with
 * a fixed seed, decoded, with their signed messages.
 */
export function ceilingEntries(): { seed: Uint8Array; publicKey: Uint8Array; entries: Uint8Array[]; decoded: DecodedEntry[]; messages: Uint8Array[] } {
  const seed = new Uint8Array(32).fill(0x42)
  const publicKey = generateKeyPair(seed).publicKey
  const { entries } = makeEntriesJob({ origin: ORIGIN, start: 0, count: ENTRIES, seed }).result
  const decoded = entries.map((e) => decodeEntry(e))
  return { seed, publicKey, entries, decoded, messages: decoded.map((d) => signedMessage(d.recordBytes)) }
}

export async function measureCeilings(roundMs: number, workers = defaultPoolSize(), cores = availableParallelism()): Promise<Ceilings> {
  const { seed, publicKey, entries, decoded, messages } = ceilingEntries()
  const records = decoded.map((d) => d.recordBytes)
  const jobs = new URL('../../workers/crypto-jobs.ts', import.meta.url).href
  const signPool = new WorkerPool<SignInput, SignOutput>(jobs, 'signJob', signJob, workers)
  const openPool = new WorkerPool<OpenInput, OpenOutput>(jobs, 'openJob', openJob, workers)
  const verifyPool = new WorkerPool<VerifyOnlyInput, number>(new URL('./ceiling-jobs.ts', import.meta.url).href, 'verifyOnlyJob', verifyOnlyJob, workers)
  try {
    await Promise.all([signPool.ready(), openPool.ready(), verifyPool.ready()])
    const rounds = 3
    let signed = 0
    const cpu0 = process.cpuUsage()
    const sign_job_per_s = await asyncRate(roundMs, rounds, async () => {
      await signPool.runSplit(records, 64, (slice) => ({ seed, records: pack(slice) }))
      return (signed += records.length, records.length)
    })
    const sign_job_cpu_us = cpuMicros(process.cpuUsage(cpu0)) / signed
    const open_job_per_s = await asyncRate(roundMs, rounds, async () => {
      const parts = await openPool.runSplit(entries, 64, (slice, from) => ({ origin: ORIGIN, start: from, entries: slice, keys: [{ publicKey, from: 0 }] }))
      for (const p of parts) if (p.error) throw new Error(`ceiling entries do not open: ${p.error.code} ${p.error.message}`)
      return entries.length
    })
    const signedMessages = decoded.map((d, i) => ({ message: messages[i]!, signature: d.signature }))
    const verify_only_per_s = await asyncRate(roundMs, rounds, async () => {
      const counts = await verifyPool.runSplit(signedMessages, 64, (slice) => {
        const signatures = new Uint8Array(64 * slice.length)
        slice.forEach((d, i) => signatures.set(d.signature, 64 * i))
        return { publicKey, messages: pack(slice.map((d) => d.message)), signatures }
      })
      return counts.reduce((a, b) => a + b, 0)
    })
    const quarter = records.slice(0, ENTRIES / 4)
    const sign_job_one_thread_per_s = rate(roundMs, rounds, () => signJob({ seed, records: pack(quarter) }).result.entries.ends.length)
    const open_job_one_thread_per_s = rate(roundMs, rounds, () => {
      openJob({ origin: ORIGIN, start: 0, entries: entries.slice(0, ENTRIES / 4), keys: [{ publicKey, from: 0 }] })
      return ENTRIES / 4
    })
    const store = await measureStoreAppend(Math.max(10, Math.round(roundMs / 20)) * 20 * BLOCK)
    const ingest_bound_per_s = (Math.min(2, cores) * 1e6) / (sign_job_cpu_us + store.cpu_us)
    return {
      workers, sign_job_per_s, open_job_per_s, verify_only_per_s, sign_job_one_thread_per_s, open_job_one_thread_per_s,
      sign_job_cpu_us, store_append_per_s: store.per_s, store_append_cpu_us: store.cpu_us, ingest_bound_per_s,
    }
  } finally {
    await Promise.all([signPool.close(), openPool.close(), verifyPool.close()])
  }
}

function cpuMicros(u: NodeJS.CpuUsage): number {
  return u.user + u.system
}

/** Store.append of `count` ready entries (placeholder signatures: the store checks none) into a fresh level store. */
async function measureStoreAppend(count: number): Promise<{ per_s: number; cpu_us: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-store-'))
  try {
    const made = makeEntriesJob({ origin: ORIGIN, start: 0, count }).result
    const items: AppendItem[] = made.entries.map((entry, i) => ({ entry, id: made.ids.subarray(32 * i, 32 * i + 32), record: made.records[i]! }))
    const store = await Store.open(await LevelKV.open(join(dir, 'db')))
    try {
      await store.registerLog(ORIGIN)
      const batch = 20 * BLOCK
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      for (let i = 0; i < count; i += batch) await store.append(ORIGIN, i, items.slice(i, i + batch), { durable: true })
      const seconds = (performance.now() - t0) / 1000
      return { per_s: count / seconds, cpu_us: cpuMicros(process.cpuUsage(cpu0)) / count }
    } finally {
      await store.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
