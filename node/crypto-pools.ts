/**
 * The node's two worker pools (workers/crypto-jobs.ts): one signs the
 * publisher's batches, one checks the signatures of synced ranges. Both cores
 * sign or verify while the main thread validates and stores. A node is not
 * up until both pools are ready.
 */
import { decodeEntry } from '../protocol/entry.ts'
import { decodeCheckedRecord } from '../protocol/records.ts'
import { concat } from '../protocol/bytes.ts'
import { LedgerError, type ErrorCode } from '../protocol/errors.ts'
import type { LogKeys } from '../protocol/log-keys.ts'
import { WorkerPool, defaultPoolSize } from '../workers/pool.ts'
import { signJob, openJob, pack, unpack, type SignInput } from '../workers/crypto-jobs.ts'
import type { SignBatch, SignedBatch } from './publisher.ts'
import type { CheckedEntry } from './replication/ingest.ts'

/** The job module beside this one: the TypeScript source, or its compiled JavaScript in dist/. */
const JOBS = new URL(`../workers/crypto-jobs.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url).href

export class CryptoPools {
  private constructor(
    private readonly signPool: WorkerPool<Parameters<typeof signJob>[0], ReturnType<typeof signJob>['result']>,
    private readonly openPool: WorkerPool<Parameters<typeof openJob>[0], ReturnType<typeof openJob>['result']>,
  ) {}

  /** Starts both pools (`workers` threads each; 0 = in-process) and waits until they are ready. */
  static async start(workers = defaultPoolSize()): Promise<CryptoPools> {
    const pools = new CryptoPools(new WorkerPool(JOBS, 'signJob', signJob, workers), new WorkerPool(JOBS, 'openJob', openJob, workers))
    await Promise.all([pools.signPool.ready(), pools.openPool.ready()])
    return pools
  }

  /** Signature checks of a synced range, split over the pool; records are decoded here. */
  readonly openRange = async (origin: string, start: number, entries: Uint8Array[], keys: LogKeys): Promise<CheckedEntry[]> => {
    const results = await this.openPool.runSplit(entries, 256, (slice, from) => ({ origin, start: start + from, entries: slice, keys }))
    const failed = results.find((r) => r.error)?.error
    if (failed) throw new LedgerError(failed.code as ErrorCode, `entry ${failed.index} of ${origin}: ${failed.message}`)
    const ids = concat(...results.map((r) => r.ids))
    const signers = results.flatMap((r) => [...(r.signers ?? [])])
    return entries.map((entry, i) => {
      const { recordBytes, signature } = decodeEntry(entry)
      const signer = keys[signers[i] ?? -1]?.publicKey
      return { entry, recordBytes, signature, record: decodeCheckedRecord(recordBytes), id: ids.subarray(32 * i, 32 * i + 32), ...(signer ? { signer } : {}) }
    })
  }

  /** Signs a batch, split over the pool (both cores sign while the main thread validates the next batch). */
  readonly sign = async ({ seed, records }: SignBatch): Promise<SignedBatch> => {
    const results = await this.signPool.runSplit(records, 128, (slice): SignInput => ({ seed, records: pack(slice) }))
    return { entries: results.flatMap((r) => unpack(r.entries)), ids: results.length === 1 ? results[0]!.ids : concat(...results.map((r) => r.ids)) }
  }

  async close(): Promise<void> {
    await Promise.all([this.signPool.close(), this.openPool.close()])
  }
}
