/**
 * The node's HTTP API (hono), DESIGN §4. Public: /logs, checkpoints, witness
 * add-checkpoint (self-authenticating by the log's signature). Bearer token
 * roles for the rest; every authenticated request goes to the access log.
 * Routes are grouped by user in ./routes-*.ts; this file holds the shared
 * middleware (body limit, auth, access log, errors).
 */
import { ServerResponse } from 'node:http'
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { LedgerError } from '../../protocol/errors.ts'
import type { CairnNode } from '../node.ts'
import type { ApiRole, TokenInfo } from '../tokens.ts'
import { errorBody, sendError } from './errors.ts'
import { logRoutes } from './routes-logs.ts'
import { operatorRoutes } from './routes-operator.ts'
import { providerRoutes } from './routes-provider.ts'
import { auditorRoutes } from './routes-auditor.ts'
import { oversightRoutes } from './routes-oversight.ts'
import { httpMetrics } from '../metrics.ts'

export type Env = { Variables: { who?: TokenInfo } }

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

export function createApp(getNode: () => CairnNode) {
  const app = new Hono<Env>()

  app.onError((e, c) => sendError(c, e))
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404))

  app.use('*', httpMetrics(getNode))
  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json(errorBody('TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`), 413),
  })
  // No GET or HEAD route reads a body, so for them the declared length is checked and the body is
  // never asked for: asking would make @hono/node-server build a full fetch Request (with an
  // AbortSignal) for every read, ~0.2 ms of a 1 ms lookup. Node discards an unread body.
  app.use('*', (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return limitBody(c, next)
    if (Number(c.req.header('content-length') ?? 0) > MAX_BODY_BYTES) {
      return Promise.resolve(c.json(errorBody('TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`), 413))
    }
    return next()
  })

  // Authentication (optional at this stage; routes demand roles) and the access log.
  app.use('*', async (c, next) => {
    const node = getNode()
    const h = c.req.header('authorization')
    if (h !== undefined) {
      const m = /^Bearer ([A-Za-z0-9_-]{1,100})$/.exec(h)
      const who = m ? await node.tokens.check(m[1]!) : undefined
      if (!who) {
        node.sync.stats.rejected.UNAUTHORIZED = (node.sync.stats.rejected.UNAUTHORIZED ?? 0) + 1
        return c.json(errorBody('UNAUTHORIZED', 'unknown, malformed or revoked token'), 401)
      }
      c.set('who', who)
    }
    await next()
    const who = c.get('who')
    if (who) {
      const row = {
        time: node.now(), token: who.id, name: who.name, role: who.role,
        method: c.req.method, path: c.req.path + (new URL(c.req.url).search ?? ''), status: c.res.status,
      }
      // The row is written when the body has been sent (or the client went away), with the bytes sent.
      // The app is served by @hono/node-server only (node.ts), which passes node:http's response.
      const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
      if (outgoing instanceof ServerResponse) countSent(outgoing, (bytes) => node.accessLog.append({ ...row, bytes }))
      else node.accessLog.append({ ...row, bytes: 0 })
    }
  })

  app.route('/', logRoutes(getNode))
  app.route('/', operatorRoutes(getNode))
  app.route('/', providerRoutes(getNode))
  app.route('/', auditorRoutes(getNode))
  app.route('/', oversightRoutes(getNode))
  return app
}

const byteLength = (chunk: unknown, encoding?: unknown): number =>
  typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : (chunk as Uint8Array | undefined)?.byteLength ?? 0

/**
 * Counts the body bytes node:http is given for one response and calls `done`
 * once when the response is closed (sent, or the client went away). No
 * stream in between: most answers are one string, sent in one write.
 */
function countSent(res: ServerResponse, done: (bytes: number) => void): void {
  let bytes = 0
  const write = res.write
  const end = res.end
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    bytes += byteLength(chunk, rest[0])
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest)
  } as ServerResponse['write']
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function') bytes += byteLength(chunk, rest[0])
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest)
  } as ServerResponse['end']
  res.once('close', () => done(bytes))
}

/** Parses a JSON request body, mapping syntax errors to BAD_REQUEST. */
export async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json()
  } catch {
    throw new LedgerError('BAD_REQUEST', 'the request body is not valid JSON')
  }
}
