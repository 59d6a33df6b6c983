/**
 * The node's HTTP API (hono), DESIGN §4. Public: /logs, checkpoints, witness
 * add-checkpoint (self-authenticating by the log's signature). Bearer token
 * roles for the rest; every authenticated request goes to the access log.
 * Routes are grouped by user in ./routes-*.ts; this file holds the shared
 * middleware (body limit, auth, access log, errors). Each group takes the
 * services it reads (its *RouteDeps), never the node: node.ts hands one
 * object holding them all.
 */
import { ServerResponse } from 'node:http'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { TokenStore } from '../tokens.ts'
import type { AccessLog } from '../access-log.ts'
import { errorBody, sendError } from './errors.ts'
import { MAX_BODY_BYTES, type Env } from './request.ts'
import { logRoutes, type LogRouteDeps } from './routes-logs.ts'
import { operatorRoutes, type OperatorRouteDeps } from './routes-operator.ts'
import { providerRoutes, type ProviderRouteDeps } from './routes-provider.ts'
import { auditorRoutes, type AuditorRouteDeps } from './routes-auditor.ts'
import { oversightRoutes, type OversightRouteDeps } from './routes-oversight.ts'
import { httpMetrics } from '../metrics.ts'

/** What authentication and the access log middleware use. */
export interface AuthDeps {
  now: () => number
  tokens: Pick<TokenStore, 'check'>
  accessLog: Pick<AccessLog, 'append'>
  /** Input refused, by error code (the sync stats' table): a bad token counts as UNAUTHORIZED. */
  rejected: Record<string, number>
}

/** Everything the API reads: what each route group and the middleware take. */
export type AppDeps = AuthDeps & LogRouteDeps & OperatorRouteDeps & ProviderRouteDeps & AuditorRouteDeps & OversightRouteDeps

export function createApp(deps: AppDeps) {
  const app = new Hono<Env>()

  app.onError((e, c) => sendError(c, e))
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404))

  app.use('*', httpMetrics(deps))
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
    const h = c.req.header('authorization')
    if (h !== undefined) {
      const m = /^Bearer ([A-Za-z0-9_-]{1,100})$/.exec(h)
      const who = m ? await deps.tokens.check(m[1]!) : undefined
      if (!who) {
        deps.rejected.UNAUTHORIZED = (deps.rejected.UNAUTHORIZED ?? 0) + 1
        return c.json(errorBody('UNAUTHORIZED', 'unknown, malformed or revoked token'), 401)
      }
      c.set('who', who)
    }
    await next()
    const who = c.get('who')
    if (who) {
      const row = {
        time: deps.now(), token: who.id, name: who.name, role: who.role,
        method: c.req.method, path: c.req.path + (new URL(c.req.url).search ?? ''), status: c.res.status,
      }
      // The row is written when the body has been sent (or the client went away), with the bytes sent.
      // The app is served by @hono/node-server only (node.ts), which passes node:http's response.
      const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
      if (outgoing instanceof ServerResponse) countSent(outgoing, (bytes) => deps.accessLog.append({ ...row, bytes }))
      else deps.accessLog.append({ ...row, bytes: 0 })
    }
  })

  app.route('/', logRoutes(deps))
  app.route('/', operatorRoutes(deps))
  app.route('/', providerRoutes(deps))
  app.route('/', auditorRoutes(deps))
  app.route('/', oversightRoutes(deps))
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
