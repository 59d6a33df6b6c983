/**
 * Feedback and review (spec/api.md §A.11): `cairn feedback` (a provider
 * reports a record as a false or true positive; `cairn feedback status`) and
 * `cairn review list|show|decide` (the adding centre's operator).
 */
import type { Command } from 'commander'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { LedgerError } from '../protocol/errors.ts'
import { FEEDBACK_REASONS, type FeedbackReason, type FeedbackVerdict } from '../protocol/feedback.ts'
import { api, type Endpoint } from '../client/http.ts'
import { feedbackStatus, pseudonymiseRef, reportFeedback, type FeedbackReceipt } from '../client/feedback.ts'
import { resolveTarget } from './target.ts'

const withTarget = (c: Command, role: string) => c
  .option('--dir <dir>', 'node directory (on the node\'s machine)')
  .option('--node <url>', 'API base URL of a node')
  .option('--token <token>', `${role} token (default: $CAIRN_TOKEN)`)

export const DEFAULT_REF_KEY = join(homedir(), '.cairn', 'case-ref.key')
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

/** One line about a report: id, record, verdict/reason, where it stands. */
export function receiptLine(r: FeedbackReceipt): string {
  const o = r.outcome
  const outcome = o ? `: ${o.decision === 'revoke' ? 'revoked' : 'confirmed'} by ${r.owner.split('/')[1] ?? r.owner} (${o.decision === 'revoke' ? 'revocation' : 'attestation'} ${o.record}${o.reason ? `, ${o.reason}` : ''}) at ${iso(o.time)}`
    : r.status === 'pending' ? ` (attempt ${r.attempts}${r.next_attempt ? `, next ${iso(r.next_attempt)}` : ''}${r.last_error ? `; ${r.last_error}` : ''})`
      : r.status === 'rejected' ? ` (${r.last_error ?? 'refused'})` : ` to ${r.owner}`
  return `report ${r.id}  record ${r.record}  ${r.verdict}/${r.reason}${r.ref ? `  ref ${r.ref}` : ''}  ${r.status}${outcome}`
}

/** Reports a false positive for each record, with the options of `cairn feedback`; returns the receipts. */
export async function reportEach(ep: Endpoint, records: string[], o: { verdict: FeedbackVerdict; reason?: string; ref?: string; refKey?: string }): Promise<FeedbackReceipt[]> {
  if (o.reason !== undefined && !(FEEDBACK_REASONS[o.verdict] as readonly string[]).includes(o.reason)) {
    throw new LedgerError('BAD_REASON', `--reason for ${o.verdict} is one of ${FEEDBACK_REASONS[o.verdict].join(', ')}`)
  }
  const ref = o.ref === undefined ? undefined : pseudonymiseRef(o.ref, o.refKey ?? DEFAULT_REF_KEY)
  const out: FeedbackReceipt[] = []
  for (const record of records) {
    out.push(await reportFeedback(ep, { record: record.toLowerCase(), verdict: o.verdict, ...(o.reason ? { reason: o.reason as FeedbackReason } : {}), ...(ref ? { ref } : {}) }))
  }
  return out
}

interface ReviewItem {
  record: string; alg: string; category: string; reports: number; false_positive: number; true_positive: number
  reasons: Record<string, number>; providers: number; first_received: number; state: string
  outcome?: { decision: string; record: string; time: number }
}

export function registerFeedbackCommands(program: Command) {
  withTarget(program
    .command('feedback <record-id|status>')
    .description('provider: report a record your matcher hit as a false (or true) positive, to the centre that added it; "cairn feedback status" lists your reports and their outcomes')
    .option('--false-positive', 'the matched content is not what the indicator says')
    .option('--true-positive', 'the match was right')
    .option('--reason <reason>', `false positive: ${FEEDBACK_REASONS.false_positive.join(' | ')}; true positive: ${FEEDBACK_REASONS.true_positive.join(' | ')} (default unspecified)`)
    .option('--ref <ref>', 'your case reference; only its pseudonym p1:… (keyed with --ref-key) is sent')
    .option('--ref-key <file>', `your case-reference key (made on first use, mode 0600; default ${DEFAULT_REF_KEY})`)
    .option('--record <id>', 'with status: only the reports about this record')
    .option('--json', 'the node\'s answer as JSON'), 'provider')
    .addHelpText('after', '\nA report names the record, a verdict and a reason, never the content or anything about a user. Sending the same report again changes nothing; another verdict or reason updates it.\nIf the adding centre\'s node cannot be reached the report is kept as pending and sent again by the node.')
    .action(async (what: string, o) => {
      const ep = resolveTarget(o)
      if (what === 'status') {
        const s = await feedbackStatus(ep, o.record)
        if (o.json) return console.log(JSON.stringify(s, null, 2))
        if (s.reports.length === 0) return console.log(`no reports by ${s.provider} at this node`)
        for (const r of s.reports) console.log(receiptLine(r))
        return
      }
      if (Boolean(o.falsePositive) === Boolean(o.truePositive)) throw new LedgerError('BAD_REQUEST', 'say --false-positive or --true-positive')
      if (!/^[0-9a-fA-F]{64}$/.test(what)) throw new LedgerError('BAD_FIELD', `a record id is 64 hex digits (cairn match prints it), got ${what.slice(0, 80)}`)
      const [r] = await reportEach(ep, [what], { verdict: o.falsePositive ? 'false_positive' : 'true_positive', reason: o.reason, ref: o.ref, refKey: o.refKey })
      console.log(o.json ? JSON.stringify(r, null, 2) : `${r!.duplicate ? 'already reported: ' : ''}${receiptLine(r!)}`)
    })

  const review = program.command('review').description('centre operator: the providers\' reports about this centre\'s records, and the decisions on them')
  withTarget(review
    .command('list')
    .description('the review queue: one line per reported record of this node\'s log, most reported as false positive first')
    .option('--all', 'decided records too')
    .option('--json', 'the node\'s answer as JSON'), 'operator')
    .action(async (o) => {
      const r = await api<{ queue: ReviewItem[]; stats: Record<string, unknown> }>(resolveTarget(o), 'GET', `/review${o.all ? '?all=1' : ''}`)
      if (o.json) return console.log(JSON.stringify(r, null, 2))
      if (r.queue.length === 0) return console.log(o.all ? 'no reports' : 'no open reports')
      for (const q of r.queue) {
        const reasons = Object.entries(q.reasons).map(([k, v]) => `${k} ${v}`).join(', ')
        const state = q.outcome ? `${q.state} (${q.outcome.record} at ${iso(q.outcome.time)})` : q.state
        console.log(`${q.record}  ${q.alg} ${q.category}  ${q.reports} report(s): ${q.false_positive} false positive, ${q.true_positive} true positive (${reasons}); ${q.providers} provider(s); first ${iso(q.first_received)}  ${state}`)
      }
    })
  withTarget(review
    .command('show <record-or-report>')
    .description('the reports about one record: who (provider, and the node it reported at), verdict, reason, ref, when')
    .option('--json', 'the node\'s answer as JSON'), 'operator')
    .action(async (target: string, o) => {
      const r = await api<{ record: string; reports: { id: string; from: string; provider: string; verdict: string; reason: string; ref?: string; received: number; outcome?: { decision: string } }[] }>(
        resolveTarget(o), 'GET', `/review/${encodeURIComponent(target.toLowerCase())}`)
      if (o.json) return console.log(JSON.stringify(r, null, 2))
      console.log(`record ${r.record}: ${r.reports.length} report(s)`)
      for (const x of r.reports) console.log(`  ${x.id}  ${x.provider} at ${x.from}  ${x.verdict}/${x.reason}${x.ref ? `  ref ${x.ref}` : ''}  ${iso(x.received)}  ${x.outcome?.decision ?? 'open'}`)
    })
  withTarget(review
    .command('decide <record-or-report>')
    .description('decide a reported record: --confirm publishes an attestation (confirm), --revoke a revocation (reason false_positive unless --reason), and records the decision against its reports; the providers see it')
    .option('--confirm', 'the indicator stands')
    .option('--revoke', 'withdraw the indicator')
    .option('--reason <reason>', 'revocation reason (default false_positive) or attestation reason (default reviewed)'), 'operator')
    .action(async (target: string, o) => {
      if (Boolean(o.confirm) === Boolean(o.revoke)) throw new LedgerError('BAD_REQUEST', 'say --confirm or --revoke')
      const d = await api<{ record: string; decision: string; outcome: { record: string; reason?: string }; reports: number; already: boolean }>(
        resolveTarget(o), 'POST', '/review/decide', { target: target.toLowerCase(), decision: o.revoke ? 'revoke' : 'confirm', ...(o.reason ? { reason: o.reason } : {}) })
      const what = d.decision === 'revoke' ? 'revoked' : 'confirmed'
      console.log(d.already ? `record ${d.record} was already ${what} (${d.outcome.record})`
        : `record ${d.record} ${what}: ${d.decision === 'revoke' ? 'revocation' : 'attestation'} ${d.outcome.record}${d.outcome.reason ? ` (${d.outcome.reason})` : ''}; recorded against ${d.reports} report(s)`)
    })
}
