/**
 * What every route may ask of a request: who is calling (the bearer token's
 * holder, set by the auth middleware in ./app.ts), its request id and the
 * node's logger (set first thing in ./app.ts), and its JSON body.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import type { ApiRole, TokenInfo } from '../tokens.ts'
import type { Logger } from '../logger.ts'

export type Env = { Variables: { who?: TokenInfo; requestId: string; log: Logger } }

export const MAX_BODY_BYTES = 4 * 1024 * 1024

/** Who may call what: auditor and oversight may also read every provider route. */
export function requireRole(...roles: ApiRole[]): MiddlewareHandler<Env> {
  return async (c, next) => {
    const who = c.get('who')
    if (!who) throw new LedgerError('UNAUTHORIZED', 'this route needs a bearer token: Authorization: Bearer <token> (cairn token grant)')
    if (!roles.includes(who.role)) throw new LedgerError('FORBIDDEN', `this route is for ${roles.join(' or ')}; your token has role ${who.role}`)
    await next()
  }
}

/** Parses a JSON request body, mapping syntax errors to BAD_REQUEST. */
export async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json()
  } catch {
    throw new LedgerError('BAD_REQUEST', 'the request body is not valid JSON')
  }
}
