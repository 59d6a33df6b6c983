/**
 * Provider feedback and its review (spec/api.md §A.11):
 *
 *   POST /feedback              provider   report a record as a false or true positive
 *   GET  /feedback              provider   the caller's reports and where each stands
 *   GET  /review?all=           operator   the review queue: reported records of this node's log
 *   GET  /review/<record|report> operator  the reports about one record
 *   POST /review/decide         operator   confirm or revoke a reported record
 *
 * A report body is small and strict (protocol/feedback.ts); refused reports
 * are counted by code (GET /review `stats.rejected`) and store nothing.
 */
import { Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { LedgerError } from '../../protocol/errors.ts'
import { FEEDBACK_DECISIONS, MAX_FEEDBACK_BODY_BYTES, parseFeedbackInput, type FeedbackDecision } from '../../protocol/feedback.ts'
import type { FeedbackRelay } from '../feedback/relay.ts'
import type { ReviewDesk } from '../feedback/review.ts'
import type { Receipt } from '../feedback/store.ts'
import { asLedgerError, errorBody } from './errors.ts'
import { RateLimiter } from './rate-limit.ts'
import { requireRole, jsonBody, type Env } from './request.ts'

/** What the feedback routes use: the relay (reports made here) and the review desk (reports about this node's records). */
export interface FeedbackRouteDeps {
  feedbackRelay: Pick<FeedbackRelay, 'submit' | 'receiptsOf' | 'count' | 'stats' | 'pending'>
  review: Pick<ReviewDesk, 'queue' | 'reports' | 'decide'>
}

/** Reports one provider token may make: a burst of 100, then one a second. */
export const FEEDBACK_RATE = { rate_per_s: 1, burst: 100 }

/** A receipt as its provider sees it. */
export function receiptView(r: Receipt) {
  const status = r.outcome ? (r.outcome.decision === 'revoke' ? 'revoked' : 'confirmed') : r.state
  return {
    id: r.id, record: r.record, owner: r.owner, verdict: r.verdict, reason: r.reason, ...(r.ref ? { ref: r.ref } : {}),
    status, created: r.created, updated: r.updated, revision: r.revision, attempts: r.attempts,
    ...(r.state === 'pending' && r.next_at !== undefined ? { next_attempt: r.next_at } : {}),
    ...(r.last_error && r.state !== 'delivered' ? { last_error: r.last_error } : {}),
    ...(r.delivered_at ? { delivered: r.delivered_at } : {}),
    ...(r.outcome ? { outcome: r.outcome } : {}),
  }
}

export function feedbackRoutes(deps: FeedbackRouteDeps) {
  const r = new Hono<Env>()
  const limiter = new RateLimiter(FEEDBACK_RATE)
  const operator = requireRole('operator')

  // Counts every refused report by its code (401 and 403 included), after the error handler made the answer.
  const counted: MiddlewareHandler<Env> = async (c, next) => {
    await next()
    if (c.res.status < 400) return
    deps.feedbackRelay.count(c.error ? asLedgerError(c.error).code : c.res.status === 413 ? 'TOO_LARGE' : String(c.res.status))
  }
  const limitBody = bodyLimit({
    maxSize: MAX_FEEDBACK_BODY_BYTES,
    onError: (c) => c.json(errorBody('TOO_LARGE', `a report is at most ${MAX_FEEDBACK_BODY_BYTES} bytes of JSON: {"record", "verdict", "reason"?, "ref"?}`, c.get('requestId')), 413),
  })

  r.post('/feedback', counted, requireRole('provider'), limitBody, async (c) => {
    const who = c.get('who')!
    const wait = limiter.take(who.id)
    if (wait) {
      c.header('Retry-After', String(wait))
      throw new LedgerError('RATE_LIMITED', `too many reports with this token; retry in ${wait} s`)
    }
    const input = parseFeedbackInput(await jsonBody(c))
    const { receipt, created, duplicate } = await deps.feedbackRelay.submit(who, input)
    return c.json({ ...receiptView(receipt), ...(duplicate ? { duplicate: true } : {}) }, created ? 201 : 200)
  })

  r.get('/feedback', requireRole('provider'), (c) => {
    const who = c.get('who')!
    const record = c.req.query('record')?.toLowerCase()
    const reports = deps.feedbackRelay.receiptsOf(who.name).filter((x) => !record || x.record === record)
    return c.json({ provider: who.name, reports: reports.map(receiptView) })
  })

  r.get('/review', operator, async (c) => {
    const all = c.req.query('all')
    if (all !== undefined && all !== '' && all !== '0' && all !== '1') throw new LedgerError('BAD_REQUEST', 'all is 1 or 0')
    const queue = await deps.review.queue({ all: all === '1' })
    return c.json({ queue, stats: { ...deps.feedbackRelay.stats, pending: deps.feedbackRelay.pending() } })
  })

  r.post('/review/decide', operator, async (c) => {
    const body = (await jsonBody(c)) as { target?: unknown; decision?: unknown; reason?: unknown } | null
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new LedgerError('BAD_REQUEST', 'send {"target": "<record or report id>", "decision": "confirm" | "revoke", "reason"?}')
    for (const k of Object.keys(body)) if (!['target', 'decision', 'reason'].includes(k)) throw new LedgerError('UNKNOWN_FIELD', `unknown field ${JSON.stringify(k.slice(0, 40))}`)
    if (typeof body.target !== 'string') throw new LedgerError('MISSING_FIELD', 'target is a record id or a report id')
    if (!(FEEDBACK_DECISIONS as readonly unknown[]).includes(body.decision)) throw new LedgerError('BAD_FIELD', `decision must be ${FEEDBACK_DECISIONS.join(' or ')}`)
    if (body.reason !== undefined && typeof body.reason !== 'string') throw new LedgerError('BAD_REASON', 'reason is text')
    const d = await deps.review.decide(body.target, body.decision as FeedbackDecision, body.reason as string | undefined)
    return c.json(d, d.already ? 200 : 201)
  })

  r.get('/review/:target', operator, (c) => c.json(deps.review.reports(c.req.param('target'))))

  return r
}
