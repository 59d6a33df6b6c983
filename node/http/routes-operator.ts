/**
 * Operator routes: publishing records, node status, tokens. The local CLI
 * uses these with the operator token the node writes to its directory.
 */
import { Hono } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import { recordFromJson, type CairnRecord } from '../../protocol/records.ts'
import { REDACTION_REASONS, type RedactionReason } from '../../protocol/redaction.ts'
import { fromHex } from '../../protocol/bytes.ts'
import { minimiseRef, checkRawRef, refPseudonym } from '../../protocol/case-ref.ts'
import type { Published, Publisher, RecordBody, SubmitOptions } from '../publisher.ts'
import { IdempotencyKeys } from '../idempotency.ts'
import { httpStatus } from './errors.ts'
import type { RedactionService } from '../replication/redaction.ts'
import type { NodeStatus } from '../status.ts'
import { ROLES, type ApiRole, type TokenStore } from '../tokens.ts'
import { requireRole, jsonBody, type Env } from './request.ts'

export const MAX_RECORDS_PER_REQUEST = 10_000
const NODE_FIELDS = ['v', 'log', 'seq', 'time'] as const

/** What the operator routes use: this node's log and clock, the publisher, redactions, tokens, status. */
export interface OperatorRouteDeps {
  origin: string
  now: () => number
  submit: Publisher['submit']
  /** The centre's case-reference secret (<dir>/case-ref.key): a `ref` sent in is recorded as its pseudonym. */
  refSecret: Uint8Array
  idempotency: IdempotencyKeys
  redactions: Pick<RedactionService, 'redact'>
  tokens: Pick<TokenStore, 'grant' | 'list' | 'revoke'>
  status: () => NodeStatus
}

/** Answers that a retry may change: they are not kept under an Idempotency-Key. */
const transient = (code: string) => code === 'CONFLICT' || code === 'RATE_LIMITED' || code === 'SEQ_MISMATCH' || httpStatus(code as never) >= 500

/**
 * A record body from JSON (byte strings as hex), validated with the record
 * rules; the node sets v, log, seq, time. A `ref` is the centre's case
 * reference: it is replaced by its pseudonym (protocol/case-ref.ts) before
 * anything else sees it. `allow_duplicate` is an option, not a record field.
 */
export function recordBodyFromJson(json: unknown, node: Pick<OperatorRouteDeps, 'origin' | 'now' | 'refSecret'>): { body: RecordBody; allowDuplicate: boolean } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new LedgerError('BAD_REQUEST', 'a record is a JSON object')
  for (const k of NODE_FIELDS) if (k in json) throw new LedgerError('BAD_FIELD', `${k} is set by the node; leave it out`)
  const { allow_duplicate: allow, ...fields } = json as Record<string, unknown>
  if (allow !== undefined && typeof allow !== 'boolean') throw new LedgerError('BAD_FIELD', 'allow_duplicate is true or false')
  if ('ref' in fields) fields.ref = minimiseRef(node.refSecret, fields.ref)
  const full: CairnRecord = recordFromJson({ ...fields, v: 1, log: node.origin, seq: 0, time: node.now() })
  const { v: _v, log: _l, seq: _s, time: _t, ...body } = full
  return { body: body as RecordBody, allowDuplicate: allow === true }
}

type Result = Published & { ref?: string } | { error: { code: string; message: string } }

export function operatorRoutes(deps: OperatorRouteDeps) {
  const r = new Hono<Env>()
  const operator = requireRole('operator')

  r.post('/records', operator, async (c) => {
    const text = await c.req.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new LedgerError('BAD_REQUEST', 'the request body is not valid JSON')
    }
    const many = typeof body === 'object' && body !== null && 'records' in body
    const list = many ? (body as { records: unknown }).records : [body]
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RECORDS_PER_REQUEST) {
      throw new LedgerError('BAD_REQUEST', `send one record object or {"records": [...]} with 1–${MAX_RECORDS_PER_REQUEST} records`)
    }
    const allowAll = many ? (body as { allow_duplicate?: unknown }).allow_duplicate : undefined
    if (allowAll !== undefined && typeof allowAll !== 'boolean') throw new LedgerError('BAD_FIELD', 'allow_duplicate is true or false')
    const header = c.req.header('idempotency-key')
    const key = header === undefined ? undefined : IdempotencyKeys.parseHeader(header)
    const begun = key === undefined ? undefined : await deps.idempotency.begin(c.get('who')!.id, key, text)
    if (begun?.replay) {
      c.header('Idempotent-Replayed', 'true')
      return c.body(begun.body, begun.status as 200, { 'content-type': 'application/json' })
    }
    try {
      const results: Result[] = await Promise.all(list.map(async (item, i): Promise<Result> => {
        const earlier = begun?.done.get(i)
        try {
          const { body: record, allowDuplicate } = recordBodyFromJson(item, deps)
          const ref = record.type === 'indicator' ? record.ref : undefined
          if (earlier) return { ...earlier, ...(ref ? { ref } : {}) } // stored by an earlier try of this request
          const opts: SubmitOptions = { allowDuplicate: allowDuplicate || allowAll === true, alsoWrite: begun?.itemRows(i) }
          const p = await deps.submit(record, opts)
          return ref ? { ...p, ref } : p
        } catch (e) {
          if (e instanceof LedgerError) return { error: { code: e.code, message: e.message } }
          throw e
        }
      }))
      const keep = !results.some((x) => 'error' in x && transient(x.error.code))
      if (!many) {
        const one = results[0]!
        if ('error' in one) {
          const e = new LedgerError(one.error.code as never, one.error.message)
          if (!transient(e.code)) await begun?.finish(httpStatus(e.code), JSON.stringify({ error: one.error }), keep)
          throw e
        }
        await begun?.finish(201, JSON.stringify(one), keep)
        return c.json(one, 201)
      }
      const answer = { results, accepted: results.filter((x) => !('error' in x)).length }
      await begun?.finish(200, JSON.stringify(answer), keep)
      return c.json(answer, 200)
    } finally {
      begun?.release()
    }
  })

  // The pseudonyms of case references under this centre's secret: how the CLI finds its records (cairn ref, cairn import).
  r.post('/refs', operator, async (c) => {
    const body = (await jsonBody(c)) as { refs?: unknown }
    if (!Array.isArray(body?.refs) || body.refs.length > MAX_RECORDS_PER_REQUEST) throw new LedgerError('BAD_REQUEST', `send {"refs": [...]} with at most ${MAX_RECORDS_PER_REQUEST} case references`)
    return c.json({ pseudonyms: body.refs.map((r) => refPseudonym(deps.refSecret, checkRawRef(r))) })
  })

  // Redaction on legal order of one of this node's indicators (spec/redaction.md §R.6): {id | index, reason}.
  r.post('/admin/redactions', operator, async (c) => {
    const body = (await jsonBody(c)) as { id?: unknown; index?: unknown; reason?: unknown }
    if (typeof body !== 'object' || body === null) throw new LedgerError('BAD_REQUEST', 'send {"id": "<record id hex>", "reason": "legal_order"} or {"index": n, ...}')
    if (!(REDACTION_REASONS as readonly unknown[]).includes(body.reason)) throw new LedgerError('BAD_REASON', `reason must be one of ${REDACTION_REASONS.join(', ')}`)
    if ((body.id === undefined) === (body.index === undefined)) throw new LedgerError('BAD_REQUEST', 'name the entry by "id" or by "index" (one of them)')
    if (body.id !== undefined && (typeof body.id !== 'string' || body.id.length !== 64)) throw new LedgerError('BAD_FIELD', 'id is a record id: 64 hex digits')
    if (body.index !== undefined && (typeof body.index !== 'number' || !Number.isSafeInteger(body.index) || body.index < 0)) {
      throw new LedgerError('BAD_FIELD', 'index is a non-negative integer')
    }
    const result = await deps.redactions.redact({
      id: typeof body.id === 'string' ? fromHex(body.id.toLowerCase(), 'id') : undefined,
      index: body.index as number | undefined,
      reason: body.reason as RedactionReason,
    })
    return c.json(result, result.already ? 200 : 201)
  })

  r.get('/status', operator, (c) => c.json(deps.status()))

  r.post('/admin/tokens', operator, async (c) => {
    const body = (await jsonBody(c)) as { role?: unknown; name?: unknown }
    if (typeof body?.role !== 'string' || !ROLES.includes(body.role as ApiRole)) throw new LedgerError('BAD_REQUEST', `role must be one of ${ROLES.join(', ')}`)
    if (typeof body.name !== 'string') throw new LedgerError('BAD_REQUEST', 'name is required')
    const { token, info } = await deps.tokens.grant(body.role as ApiRole, body.name)
    return c.json({ token, ...info }, 201)
  })

  r.get('/admin/tokens', operator, async (c) => c.json(await deps.tokens.list()))

  r.delete('/admin/tokens/:id', operator, async (c) => c.json(await deps.tokens.revoke(c.req.param('id'))))

  return r
}
