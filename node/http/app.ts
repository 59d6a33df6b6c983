/**
 * The node's HTTP API (hono), DESIGN §4. Public: /logs, checkpoints, witness
 * add-checkpoint (self-authenticating by the log's signature). Bearer token
 * roles for the rest. Routes are grouped by user in ./routes-*.ts; this file
 * holds the shared middleware in the order a request meets it: a request id
 * (header `Request-Id`, and in every error body) with the 5xx log line, the
 * metrics, the body limit, then authentication, rate limits and the access
 * log (./guard.ts). Each group takes the services it reads (its
 * *RouteDeps), never the node: node.ts hands one object holding them all.
 */
import { randomUUID } from 'node:crypto'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { routePath } from 'hono/route'
import { errorBody, sendError, asLedgerError } from './errors.ts'
import { MAX_BODY_BYTES, type Env } from './request.ts'
import { guard, type GuardDeps } from './guard.ts'
import { logRoutes, type LogRouteDeps } from './routes-logs.ts'
import { operatorRoutes, type OperatorRouteDeps } from './routes-operator.ts'
import { providerRoutes, type ProviderRouteDeps } from './routes-provider.ts'
import { auditorRoutes, type AuditorRouteDeps } from './routes-auditor.ts'
import { oversightRoutes, type OversightRouteDeps } from './routes-oversight.ts'
import { feedbackRoutes, type FeedbackRouteDeps } from './routes-feedback.ts'
import { healthRoutes, type HealthRouteDeps } from './routes-health.ts'
import { mirrorRoutes, type MirrorRouteDeps } from './routes-mirror.ts'
import { httpMetrics, httpCounters } from '../metrics.ts'

/** Everything the API reads: what each route group and the middleware take. */
export type AppDeps = GuardDeps & LogRouteDeps & OperatorRouteDeps & ProviderRouteDeps & AuditorRouteDeps & OversightRouteDeps & FeedbackRouteDeps & HealthRouteDeps & MirrorRouteDeps

export function createApp(deps: AppDeps) {
  const app = new Hono<Env>()
  const counters = httpCounters(deps)

  app.onError((e, c) => sendError(c, e))
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`, c.get('requestId')), 404))

  // Every answer names its request; a 5xx is logged with its cause under that name (the client gets no details).
  app.use('*', async (c, next) => {
    const requestId = randomUUID()
    c.set('requestId', requestId)
    c.set('log', deps.log)
    await next()
    c.res.headers.set('Request-Id', requestId)
    if (c.res.status >= 500) {
      const code = c.error ? asLedgerError(c.error).code : 'unknown'
      counters.serverErrors.inc({ code })
      // The route pattern, not the path: a path may hold an indicator value.
      deps.log.error({ request_id: requestId, method: c.req.method, route: routePath(c, -1), status: c.res.status, code, err: c.error }, 'request failed')
    }
  })
  deps.accessLog.onWriteError = (err, info) => deps.log.error({ err, ...info }, 'access log: rows could not be written; they are kept and written again every second')

  app.use('*', httpMetrics(deps))
  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json(errorBody('TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`, c.get('requestId')), 413),
  })
  // No GET or HEAD route reads a body, so for them the declared length is checked and the body is
  // never asked for: asking would make @hono/node-server build a full fetch Request (with an
  // AbortSignal) for every read, ~0.2 ms of a 1 ms lookup. Node discards an unread body.
  app.use('*', (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return limitBody(c, next)
    if (Number(c.req.header('content-length') ?? 0) > MAX_BODY_BYTES) {
      return Promise.resolve(c.json(errorBody('TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`, c.get('requestId')), 413))
    }
    return next()
  })

  app.use('*', guard(deps))

  app.route('/', logRoutes(deps))
  app.route('/', operatorRoutes(deps))
  app.route('/', providerRoutes(deps))
  app.route('/', auditorRoutes(deps))
  app.route('/', oversightRoutes(deps))
  app.route('/', feedbackRoutes(deps))
  app.route('/', healthRoutes(deps))
  app.route('/', mirrorRoutes(deps))
  return app
}
