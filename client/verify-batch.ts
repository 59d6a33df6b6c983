/**
 * The entry check of `cairn verify` (client/verify.ts), run in worker threads:
 * every entry of a batch of entry bundles is opened with the log's keys
 * (signature and record rules) or, in place of a redacted entry, its marker's
 * notice is checked; the leaf hashes go back for the tree check.
 */
import { WorkerPool, defaultPoolSize, type Job } from '../workers/pool.ts'
import { leafHash } from '../protocol/hash.ts'
import { isRedactionMarker } from '../protocol/redaction.ts'
import { openEntryWithKeys, openRedactionMarkerWithKeys, type LogKeys } from '../protocol/log-keys.ts'
import { decodeEntryBundle } from '../protocol/tiles.ts'
import { LedgerError } from '../protocol/errors.ts'

export interface EntryBatch {
  origin: string
  /** Index of the first entry of the first bundle. */
  start: number
  /** The log's keys with their ranges, current first (plain data: it crosses to the workers). */
  keys: LogKeys
  /** c2sp entry bundles, as fetched (decoded in the worker, so the main thread only moves bytes). */
  bundles: Uint8Array[]
  /** Entries each bundle must hold. */
  counts: number[]
}

export interface EntryFailure {
  index: number
  code: string
  message: string
}

export interface BatchResult {
  /** Leaf hashes, 32 bytes per entry, in order (computed for failing entries too). */
  leaves: Uint8Array
  failures: EntryFailure[]
  types: Record<string, number>
  /** Roster proposals and confirmations that opened, with their index: what the verifier follows the roster with. */
  roster: { index: number; entry: Uint8Array }[]
  /** Indexes of entries only a compromised key past its range signed: tree content, not records (spec/federation.md §10.8). */
  compromised: number[]
}

/**
 * Opens every entry of a batch (signature, record rules, log, seq): pure, used
 * in workers and in-process. A malformed bundle throws (BAD_TILE, TOO_LARGE).
 */
export function verifyBatch(b: EntryBatch): BatchResult {
  const bundles = b.bundles.map((bytes, i) => decodeEntryBundle(bytes, { count: b.counts[i] }))
  const n = bundles.reduce((sum, x) => sum + x.length, 0)
  const leaves = new Uint8Array(32 * n)
  const failures: EntryFailure[] = []
  const types: Record<string, number> = {}
  const roster: BatchResult['roster'] = []
  const compromised: number[] = []
  let i = 0
  for (const entries of bundles) {
    for (const entry of entries) {
      const index = b.start + i
      if (isRedactionMarker(entry)) {
        // A redacted entry: the signed notice names the leaf hash that stays in the tree.
        try {
          leaves.set(openRedactionMarkerWithKeys(entry, b.keys, { log: b.origin, index }).notice.id, 32 * i)
          types.redacted = (types.redacted ?? 0) + 1
        } catch (e) {
          leaves.set(leafHash(entry), 32 * i)
          failures.push({ index, code: e instanceof LedgerError ? e.code : 'BAD_REDACTION', message: `redaction marker: ${(e as Error)?.message ?? String(e)}` })
        }
        i++
        continue
      }
      try {
        const o = openEntryWithKeys(entry, b.keys, b.origin, index)
        leaves.set(o.id, 32 * i)
        if (o.compromised) compromised.push(index)
        else types[o.record.type] = (types[o.record.type] ?? 0) + 1
        if (!o.compromised && (o.record.type === 'roster' || (o.record.type === 'attestation' && o.record.opinion === 'confirm'))) roster.push({ index, entry })
      } catch (e) {
        leaves.set(leafHash(entry), 32 * i)
        failures.push({ index, code: e instanceof LedgerError ? e.code : 'MALFORMED_ENTRY', message: (e as Error)?.message ?? String(e) })
      }
      i++
    }
  }
  return { leaves, failures, types, roster, compromised }
}

/** verifyBatch as a worker job: the leaf hashes move back instead of being copied. */
export const verifyBatchJob: Job<EntryBatch, BatchResult> = (b) => {
  const result = verifyBatch(b)
  return { result, transfer: [result.leaves.buffer as ArrayBuffer] }
}

/** Entry verification over worker threads (one per core; in-process with a single core or `size` 0). */
export class VerifyPool {
  private readonly pool: WorkerPool<EntryBatch, BatchResult>

  constructor(readonly size = defaultPoolSize()) {
    this.pool = new WorkerPool(import.meta.url, 'verifyBatchJob', verifyBatchJob, size)
  }

  run(batch: EntryBatch): Promise<BatchResult> {
    // Move the bundles' memory to the worker rather than copying it (views into shared memory are copied first).
    const bundles = batch.bundles.map((b) => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice()))
    return this.pool.run({ ...batch, bundles }, this.size === 0 ? [] : [...new Set(bundles.map((b) => b.buffer as ArrayBuffer))])
  }

  close(): Promise<void> {
    return this.pool.close()
  }
}

