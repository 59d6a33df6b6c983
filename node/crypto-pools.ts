/**
 * The node's two worker pools (workers/crypto-jobs.ts): one signs the
 * publisher's batches, one checks the signatures of synced ranges. Both cores
 * sign or verify while the main thread validates and stores. A node is not
 * up until both pools are ready.
 */
import { decodeEntry } from '../protocol/entry.ts'
import { decodeCheckedRecord, type CairnRecord } from '../protocol/records.ts'
import { concat } from '../protocol/bytes.ts'
import { LedgerError, type ErrorCode } from '../protocol/errors.ts'
import type { LogKeys } from '../protocol/log-keys.ts'
import { WorkerPool, defaultPoolSize } from '../workers/pool.ts'
import { signJob, openJob, pack, unpack, recordFromFields, FIELD_SLOTS, type SignInput } from '../workers/crypto-jobs.ts'
import type { SignBatch, SignedBatch } from './publisher.ts'
import type { CheckedEntry } from './replication/ingest.ts'

/** An entry a worker opened but did not describe: decoded on this thread (its bytes were checked there, the rules run again). */
function decodeHere(entry: Uint8Array): { record: CairnRecord; recordBytes: Uint8Array; signature: Uint8Array } {
  const { recordBytes, signature } = decodeEntry(entry)
  return { record: decodeCheckedRecord(recordBytes), recordBytes, signature }
}

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

  /**
   * Signature checks of a synced range, split over the pool. The workers
   * return each entry's leaf hash and where its record's fields lie in it
   * (crypto-jobs.ts recordFields), so the records are rebuilt here over the
   * same bytes without decoding or validating them a second time; a record
   * they do not describe (roster records, indicators with `ref`) is decoded
   * here.
   */
  readonly openRange = async (origin: string, start: number, entries: Uint8Array[], keys: LogKeys): Promise<CheckedEntry[]> => {
    const results = await this.openPool.runSplit(entries, 256, (slice, from) => ({ origin, start: start + from, entries: slice, keys }))
    const failed = results.find((r) => r.error)?.error
    if (failed) throw new LedgerError(failed.code as ErrorCode, `entry ${failed.index} of ${origin}: ${failed.message}`)
    const out: CheckedEntry[] = new Array(entries.length)
    let i = 0
    for (const { ids, signers, fields } of results) {
      for (let j = 0; j < ids.length / 32; j++, i++) {
        const entry = entries[i]!
        const id = ids.subarray(32 * j, 32 * j + 32)
        const opened = (fields && recordFromFields(entry, fields, FIELD_SLOTS * j, origin, start + i)) ?? decodeHere(entry)
        const signer = keys[signers?.[j] ?? -1]?.publicKey
        out[i] = signer ? { entry, recordBytes: opened.recordBytes, signature: opened.signature, record: opened.record, id, signer } : { entry, recordBytes: opened.recordBytes, signature: opened.signature, record: opened.record, id }
      }
    }
    if (i !== entries.length) throw new Error(`the open jobs answered for ${i} of ${entries.length} entries`)
    return out
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
