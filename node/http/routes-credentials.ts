/**
 * Credentials this centre issues for its providers and auditors, accepted by
 * every member node (spec/credentials.md, spec/api.md §A.10.7), operator only:
 * POST /credentials issues one (the string is answered once; the node keeps
 * id, holder, role and dates), GET /credentials lists them,
 * POST /credentials/:id/revoke revokes one and sends the revocation to the
 * members.
 */
import { Hono } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import type { CredentialDesk } from '../credentials/issuer.ts'
import { requireRole, jsonBody, type Env } from './request.ts'

export interface CredentialRouteDeps {
  credentials: Pick<CredentialDesk, 'issue' | 'list' | 'revoke'>
}

export function credentialRoutes(deps: CredentialRouteDeps) {
  const r = new Hono<Env>()
  const operator = requireRole('operator')

  r.post('/credentials', operator, async (c) => {
    const body = (await jsonBody(c)) as { holder?: unknown; role?: unknown; days?: unknown }
    if (typeof body !== 'object' || body === null) throw new LedgerError('BAD_REQUEST', 'the body is {holder, role, days}')
    for (const k of Object.keys(body)) if (!['holder', 'role', 'days'].includes(k)) throw new LedgerError('BAD_REQUEST', `unknown field ${k}; the body is {holder, role, days}`)
    if (typeof body.holder !== 'string' || typeof body.role !== 'string') throw new LedgerError('BAD_REQUEST', 'holder and role are required strings')
    const days = body.days === undefined ? 90 : body.days
    if (typeof days !== 'number') throw new LedgerError('BAD_REQUEST', 'days is a number of days, 1–400')
    const { credential, info } = deps.credentials.issue(body.holder, body.role, days)
    return c.json({ credential, id: info.id, issuer: info.issuer, holder: info.holder, role: info.role, iat: info.iat, exp: info.exp }, 201)
  })

  r.get('/credentials', operator, (c) => c.json(deps.credentials.list()))

  r.post('/credentials/:id/revoke', operator, (c) => {
    const id = c.req.param('id')
    if (!/^[0-9a-f]{32}$/.test(id)) throw new LedgerError('BAD_REQUEST', 'a credential id is 32 lowercase hex digits (cairn credential list)')
    return c.json(deps.credentials.revoke(id))
  })

  return r
}
