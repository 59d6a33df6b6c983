/**
 * The adding centre's review of provider reports (spec/api.md §A.11.3): the
 * queue, one row per record of this node's log that providers reported, with
 * the counts; and the decision, published as today's records — an
 * attestation `confirm` (the indicator stands) or a revocation (reason
 * `false_positive` unless another is given) — then recorded against every
 * report of the record and sent back to the nodes the reports came from.
 */
import { fromHex } from '../../protocol/bytes.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { decodeEntry } from '../../protocol/entry.ts'
import { decodeCheckedRecord, ATTESTATION_REASONS, REVOCATION_REASONS } from '../../protocol/records.ts'
import { isReportId, type FeedbackDecision } from '../../protocol/feedback.ts'
import type { Publisher } from '../publisher.ts'
import type { Store } from '../storage/store.ts'
import type { FeedbackOutcome, FeedbackStore, StoredReport } from './store.ts'
import type { FeedbackRelay } from './relay.ts'

export interface ReviewItem {
  record: string
  alg: string
  category: string
  reports: number
  false_positive: number
  true_positive: number
  /** Reports per reason. */
  reasons: Record<string, number>
  /** Distinct providers (across nodes) that reported it. */
  providers: number
  first_received: number
  last_updated: number
  /** `open` until decided; then the decision. */
  state: 'open' | FeedbackDecision
  outcome?: FeedbackOutcome
}

export interface ReviewOptions {
  origin: string
  store: Pick<Store, 'locate' | 'entry'>
  feedback: FeedbackStore
  relay: Pick<FeedbackRelay, 'notify' | 'revokedOutsideReview'>
  submit: Publisher['submit']
}

export interface Decided {
  record: string
  decision: FeedbackDecision
  outcome: FeedbackOutcome
  /** Reports the decision was recorded against. */
  reports: number
  /** True when the record was already decided this way (nothing new was published). */
  already: boolean
}

export class ReviewDesk {
  constructor(private readonly o: ReviewOptions) {}

  /** One row per reported record, open ones first (most reported first), then decided (newest first). */
  async queue(opts: { all?: boolean } = {}): Promise<ReviewItem[]> {
    const byRecord = new Map<string, StoredReport[]>()
    for (const r of this.o.feedback.reports.values()) {
      let l = byRecord.get(r.record)
      if (!l) byRecord.set(r.record, (l = []))
      l.push(r)
    }
    const items: ReviewItem[] = []
    for (const [record, reports] of byRecord) {
      await this.catchUp(record, reports)
      const item = summarise(record, this.o.feedback.reportsOf(record))
      if (opts.all || item.state === 'open') items.push(item)
    }
    return items.sort((a, b) => (a.state === 'open') !== (b.state === 'open') ? (a.state === 'open' ? -1 : 1)
      : a.state === 'open' ? b.false_positive - a.false_positive || b.reports - a.reports || a.first_received - b.first_received
        : (b.outcome?.time ?? 0) - (a.outcome?.time ?? 0))
  }

  /** The reports about one record (a record id, or the id of one of its reports). */
  reports(target: string): { record: string; reports: StoredReport[] } {
    const record = this.recordOf(target)
    return { record, reports: this.o.feedback.reportsOf(record).sort((a, b) => a.received - b.received) }
  }

  private recordOf(target: string): string {
    const t = target.toLowerCase()
    if (isReportId(t)) {
      const r = this.o.feedback.reports.get(t)
      if (!r) throw new LedgerError('NOT_FOUND', `no report ${t} at this node (cairn review list shows them)`)
      return r.record
    }
    if (!/^[0-9a-f]{64}$/.test(t)) throw new LedgerError('BAD_FIELD', 'name a record id (64 hex digits) or a report id (32 hex digits)')
    if (this.o.feedback.reportsOf(t).length === 0) throw new LedgerError('NOT_FOUND', `no reports about record ${t} at this node`)
    return t
  }

  /** A record revoked outside the review (cairn revoke): its open reports get that outcome. */
  private async catchUp(record: string, reports: StoredReport[]): Promise<void> {
    if (reports.every((r) => r.outcome)) return
    const outside = await this.o.relay.revokedOutsideReview(record)
    if (!outside) return
    const changed = reports.filter((r) => !r.outcome).map((r) => ({ ...r, outcome: outside }))
    await this.o.feedback.put({ reports: changed })
    this.o.relay.notify(changed)
  }

  /** Confirms or revokes a reported record, publishing the attestation or revocation, and records it against its reports. */
  async decide(target: string, decision: FeedbackDecision, reason?: string): Promise<Decided> {
    const record = this.recordOf(target)
    let reports = this.o.feedback.reportsOf(record)
    await this.catchUp(record, reports)
    reports = this.o.feedback.reportsOf(record)
    const current = reports.find((r) => r.outcome)?.outcome
    if (current?.decision === 'revoke') {
      if (decision === 'revoke') return { record, decision, outcome: current, reports: reports.length, already: true }
      throw new LedgerError('CONFLICT', `record ${record} was already revoked (${current.record}); a revocation is final`)
    }
    if (current?.decision === 'confirm' && decision === 'confirm' && reports.every((r) => r.outcome)) {
      return { record, decision, outcome: current, reports: reports.length, already: true }
    }
    let published
    if (decision === 'revoke') {
      const why = reason ?? 'false_positive'
      if (!(REVOCATION_REASONS as readonly string[]).includes(why)) throw new LedgerError('BAD_REASON', `a revocation reason is one of ${REVOCATION_REASONS.join(', ')}`)
      published = await this.o.submit({ type: 'revocation', target: hexBytes(record), reason: why as (typeof REVOCATION_REASONS)[number] })
    } else {
      const why = reason ?? 'reviewed'
      if (!(ATTESTATION_REASONS as readonly string[]).includes(why)) throw new LedgerError('BAD_REASON', `an attestation reason is one of ${ATTESTATION_REASONS.join(', ')}`)
      published = await this.o.submit({ type: 'attestation', target: hexBytes(record), opinion: 'confirm', reason: why as (typeof ATTESTATION_REASONS)[number] })
    }
    const rec = decodeCheckedRecord(decodeEntry(await this.o.store.entry(published.log, published.seq)).recordBytes)
    const outcome: FeedbackOutcome = { decision, record: published.id, time: rec.time, reviewed: true, ...(rec.type !== 'indicator' && rec.type !== 'roster' && rec.reason ? { reason: rec.reason } : {}) }
    // A confirmation answers the reports open now; a later report about the record is open again.
    const changed = reports.filter((r) => decision === 'revoke' || !r.outcome).map((r) => ({ ...r, outcome }))
    await this.o.feedback.put({ reports: changed })
    this.o.relay.notify(changed)
    return { record, decision, outcome, reports: changed.length, already: false }
  }
}

const hexBytes = (hex: string) => fromHex(hex, 'record')

function summarise(record: string, reports: StoredReport[]): ReviewItem {
  const reasons: Record<string, number> = {}
  for (const r of reports) reasons[`${r.verdict}/${r.reason}`] = (reasons[`${r.verdict}/${r.reason}`] ?? 0) + 1
  const open = reports.some((r) => !r.outcome)
  const outcome = reports.map((r) => r.outcome).filter((o) => o !== undefined).sort((a, b) => b.time - a.time)[0]
  return {
    record, alg: reports[0]!.alg, category: reports[0]!.category, reports: reports.length,
    false_positive: reports.filter((r) => r.verdict === 'false_positive').length,
    true_positive: reports.filter((r) => r.verdict === 'true_positive').length,
    reasons, providers: new Set(reports.map((r) => `${r.from}\n${r.provider}`)).size,
    first_received: Math.min(...reports.map((r) => r.received)), last_updated: Math.max(...reports.map((r) => r.updated)),
    state: open || !outcome ? 'open' : outcome.decision, ...(outcome ? { outcome } : {}),
  }
}
