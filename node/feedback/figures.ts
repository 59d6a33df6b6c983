/**
 * The feedback figures of the transparency report (node/report.ts,
 * docs/oversight.md): what providers reported about this node's indicators
 * in the period and what the centre decided. Every figure names the
 * checkpoint of this node's log it rests on: the reported indicators and
 * the attestations and revocations that decided them are entries of it.
 * Reports themselves are kept at this node only (never in a log); provider
 * names appear only when the caller may see them (an oversight token).
 */
import { ALGS, CATEGORIES } from '../../protocol/records.ts'
import { ALL_FEEDBACK_REASONS, FEEDBACK_DECISIONS, FEEDBACK_VERDICTS } from '../../protocol/feedback.ts'
import type { StoredReport } from './store.ts'
import type { ReportFigure } from '../report.ts'

/** A report figure (node/report.ts) computed from feedback reports. */
export type FeedbackFigure = ReportFigure & { source: 'feedback' }

/** Nearest-rank percentile of sorted numbers (as node/report.ts). */
const rank = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!

export function feedbackFigures(reports: Iterable<StoredReport>, o: { origin: string; from: number; to: number; basis: string[]; providerNames: boolean }): FeedbackFigure[] {
  const { from, to } = o
  const out: FeedbackFigure[] = []
  const add = (figure: string, dimension: string, key: string, value: number) => out.push({ figure, log: o.origin, dimension, key, value, basis: o.basis, source: 'feedback' })
  const inPeriod = (t: number) => t >= from && t < to
  const all = [...reports].filter((r) => r.log === o.origin)

  const received = all.filter((r) => inPeriod(r.received))
  const tally = (keys: readonly string[], pick: (r: StoredReport) => string, dimension: string) => {
    const counts: Record<string, number> = {}
    for (const r of received) counts[pick(r)] = (counts[pick(r)] ?? 0) + 1
    for (const k of [...keys, ...Object.keys(counts).filter((x) => !keys.includes(x)).sort()]) add('feedback_reports', dimension, k, counts[k] ?? 0)
  }
  add('feedback_reports', 'total', '', received.length)
  tally(FEEDBACK_VERDICTS, (r) => r.verdict, 'verdict')
  tally(ALL_FEEDBACK_REASONS, (r) => r.reason, 'reason')
  tally(CATEGORIES, (r) => r.category, 'category')
  tally(ALGS, (r) => r.alg, 'alg')
  add('feedback_reports', 'distinct', 'indicators', new Set(received.map((r) => r.record)).size)
  add('feedback_reports', 'distinct', 'providers', new Set(received.map((r) => `${r.from}\n${r.provider}`)).size)
  if (o.providerNames) {
    const by: Record<string, number> = {}
    for (const r of received) {
      const k = `${r.from.split('/')[1] ?? r.from}: ${r.provider}`
      by[k] = (by[k] ?? 0) + 1
    }
    for (const k of Object.keys(by).sort()) add('feedback_reports', 'provider', k, by[k]!)
  }

  // Decisions: one per record, at the time of the attestation or revocation that carries it.
  const byRecord = new Map<string, StoredReport[]>()
  for (const r of all) byRecord.set(r.record, [...(byRecord.get(r.record) ?? []), r])
  const decisions: Record<string, number> = {}
  const how: Record<string, number> = { reviewed: 0, outside_review: 0 }
  const waits: number[] = []
  const withdrawn: Record<string, number> = {}
  let withdrawnTotal = 0
  for (const rs of byRecord.values()) {
    const seen = new Set<string>()
    for (const r of rs) {
      const d = r.outcome
      if (!d || !inPeriod(d.time) || seen.has(d.record)) continue
      seen.add(d.record)
      const before = rs.filter((x) => x.received <= d.time)
      if (before.length === 0) continue // reported only after it was decided
      decisions[d.decision] = (decisions[d.decision] ?? 0) + 1
      how[d.reviewed ? 'reviewed' : 'outside_review']!++
      waits.push(d.time - Math.min(...before.map((x) => x.received)))
      if (d.decision === 'revoke' && before.some((x) => x.verdict === 'false_positive')) {
        withdrawnTotal++
        withdrawn[r.category] = (withdrawn[r.category] ?? 0) + 1
      }
    }
  }
  for (const k of FEEDBACK_DECISIONS) add('feedback_decisions', 'decision', k, decisions[k] ?? 0)
  for (const k of ['reviewed', 'outside_review']) add('feedback_decisions', 'how', k, how[k]!)
  const s = waits.sort((a, b) => a - b)
  add('feedback_time_to_decision_ms', 'statistic', 'count', s.length)
  if (s.length > 0) {
    add('feedback_time_to_decision_ms', 'statistic', 'median', rank(s, 50))
    add('feedback_time_to_decision_ms', 'statistic', 'p95', rank(s, 95))
    add('feedback_time_to_decision_ms', 'statistic', 'max', s[s.length - 1]!)
  }
  add('indicators_withdrawn_after_reports', 'total', '', withdrawnTotal)
  for (const k of CATEGORIES) add('indicators_withdrawn_after_reports', 'category', k, withdrawn[k] ?? 0)
  return out
}

/** The method lines the report prints for these figures. */
export const FEEDBACK_METHOD = [
  'feedback_reports counts the provider reports about indicators of this node\'s log that this node first received in [from, to) (one report per provider, node and indicator; a changed report counts once), by verdict, reason, and the indicator\'s category and alg. Reports are kept by the adding centre, not in any log: other centres publish their own. Provider names are shown to oversight tokens only.',
  'feedback_decisions counts reported indicators decided in the period, at the time of the attestation (confirm) or revocation (revoke) in this node\'s log that carries the decision; "outside_review" are revocations made without cairn review. feedback_time_to_decision_ms is, per decided indicator, that record\'s time minus the time the first report about it was received; median and p95 are nearest-rank percentiles. indicators_withdrawn_after_reports counts the revoked ones that had a false-positive report before the revocation.',
]
