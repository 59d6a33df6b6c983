/**
 * Operator routes: publishing records, node status, tokens. The local CLI
 * uses these with the operator token the node writes to its directory.
 */
import { Hono } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import { recordFromJson, type CairnRecord } from '../../protocol/records.ts'
import { REDACTION_REASONS, type RedactionReason } from '../../protocol/redaction.ts'
import { fromHex } from '../../protocol/bytes.ts'
import type { Publisher, RecordBody } from '../publisher.ts'
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
  redactions: Pick<RedactionService, 'redact'>
  tokens: Pick<TokenStore, 'grant' | 'list' | 'revoke'>
  status: () => NodeStatus
}

/** A record body from JSON (byte strings as hex), validated with the record rules; the node sets v, log, seq, time. */
export function recordBodyFromJson(json: unknown, node: Pick<OperatorRouteDeps, 'origin' | 'now'>): RecordBody {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new LedgerError('BAD_REQUEST', 'a record is a JSON object')
  for (const k of NODE_FIELDS) if (k in json) throw new LedgerError('BAD_FIELD', `${k} is set by the node; leave it out`)
  const full: CairnRecord = recordFromJson({ ...json, v: 1, log: node.origin, seq: 0, time: node.now() })
  const { v: _v, log: _l, seq: _s, time: _t, ...body } = full
  return body as RecordBody
}

export function operatorRoutes(deps: OperatorRouteDeps) {
  const r = new Hono<Env>()
  const operator = requireRole('operator')

  r.post('/records', operator, async (c) => {
    const body = await jsonBody(c)
    const many = typeof body === 'object' && body !== null && 'records' in body
    const list = many ? (body as { records: unknown }).records : [body]
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RECORDS_PER_REQUEST) {
      throw new LedgerError('BAD_REQUEST', `send one record object or {"records": [...]} with 1–${MAX_RECORDS_PER_REQUEST} records`)
    }
    const results = await Promise.all(list.map(async (item) => {
      try {
        return await deps.submit(recordBodyFromJson(item, deps))
      } catch (e) {
        if (e instanceof LedgerError) return { error: { code: e.code, message: e.message } }
        throw e
      }
    }))
    if (!many) {
      const one = results[0]!
      if ('error' in one) throw new LedgerError(one.error.code, one.error.message)
      return c.json(one, 201)
    }
    return c.json({ results, accepted: results.filter((x) => !('error' in x)).length }, 200)
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
