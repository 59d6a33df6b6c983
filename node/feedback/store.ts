/**
 * Where a node keeps provider feedback (spec/api.md §A.11), in its own store's
 * metadata table, each write durable (fsync) before anyone is told:
 *
 *   feedback/r/<report id>  → JSON StoredReport   a report about one of this
 *                                                 node's own records (the adding centre keeps it)
 *   feedback/c/<report id>  → JSON Receipt        a report a provider made at this node, and
 *                                                 where it went (the serving node keeps it)
 *
 * A report made at the adding centre's own node has both. Both tables are
 * read into memory at start (a row is a few hundred bytes; one per provider
 * and record at most). Nothing here is in a log, nor gossiped: a backup of
 * the store carries it, nothing else does.
 */
import { fromUtf8, utf8 } from '../../protocol/bytes.ts'
import type { FeedbackDecision, FeedbackReason, FeedbackVerdict } from '../../protocol/feedback.ts'
import { keys, prefixEnd } from '../storage/keys.ts'
import type { BatchOp, KV } from '../storage/kv.ts'

/** What the adding centre decided, and the record (attestation or revocation) in its log that says so. */
export interface FeedbackOutcome {
  decision: FeedbackDecision
  /** Id (hex) of the attestation or revocation record. */
  record: string
  /** That record's time (ms since the epoch). */
  time: number
  /** Its reason (attestation or revocation reason). */
  reason?: string
  /** True when the decision was taken by `cairn review decide`; false when the record was revoked otherwise. */
  reviewed: boolean
}

/** A report about one of this node's records, as the adding centre keeps it. */
export interface StoredReport {
  id: string
  /** Record id (hex) and the log it is in (this node's). */
  record: string
  log: string
  /** The node the provider made the report at, and the provider's name there (its token holder name). */
  from: string
  provider: string
  verdict: FeedbackVerdict
  reason: FeedbackReason
  ref?: string
  /** Of the indicator, for the figures. */
  alg: string
  category: string
  /** When the provider made it (at the serving node), when this node first received it, when it last changed. */
  reported: number
  received: number
  updated: number
  /** 1, and one more for each change of verdict, reason or ref. */
  revision: number
  outcome?: FeedbackOutcome
}

export type DeliveryState = 'pending' | 'delivered' | 'rejected'

/** A report made at this node: what the provider sent and where it went. */
export interface Receipt {
  id: string
  record: string
  /** The adding centre's log origin: where the report goes. */
  owner: string
  provider: string
  /** Id of the token it was made with (the last one, after a change). */
  token: string
  verdict: FeedbackVerdict
  reason: FeedbackReason
  ref?: string
  created: number
  updated: number
  revision: number
  state: DeliveryState
  attempts: number
  /** When the next delivery attempt is due (pending only). */
  next_at?: number
  last_error?: string
  delivered_at?: number
  outcome?: FeedbackOutcome
}

const REPORT = 'feedback/r/'
const RECEIPT = 'feedback/c/'

export class FeedbackStore {
  readonly reports = new Map<string, StoredReport>()
  readonly receipts = new Map<string, Receipt>()

  private constructor(private readonly kv: KV) {}

  static async open(kv: KV): Promise<FeedbackStore> {
    const s = new FeedbackStore(kv)
    for (const [prefix, into] of [[REPORT, s.reports], [RECEIPT, s.receipts]] as const) {
      const start = keys.meta(prefix)
      for await (const [, v] of kv.iterate({ gte: start, lt: prefixEnd(start) })) {
        const row = JSON.parse(fromUtf8(v)) as StoredReport & Receipt
        into.set(row.id, row)
      }
    }
    return s
  }

  /** Reports about one record. */
  reportsOf(record: string): StoredReport[] {
    return [...this.reports.values()].filter((r) => r.record === record)
  }

  /** Writes reports and receipts in one durable batch; memory changes only once it landed. */
  async put(rows: { reports?: StoredReport[]; receipts?: Receipt[] }): Promise<void> {
    const ops: BatchOp[] = []
    for (const r of rows.reports ?? []) ops.push({ type: 'put', key: keys.meta(REPORT + r.id), value: utf8(JSON.stringify(r)) })
    for (const r of rows.receipts ?? []) ops.push({ type: 'put', key: keys.meta(RECEIPT + r.id), value: utf8(JSON.stringify(r)) })
    if (ops.length === 0) return
    await this.kv.batch(ops, { durable: true })
    for (const r of rows.reports ?? []) this.reports.set(r.id, r)
    for (const r of rows.receipts ?? []) this.receipts.set(r.id, r)
  }
}
