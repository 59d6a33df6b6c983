/**
 * Liveness and readiness for load balancers, orchestrators and monitors
 * (public, no token; charged to the caller's address like every public route):
 *
 *   GET /healthz  200 while the process answers HTTP at all
 *   GET /openapi.json  the API as an OpenAPI 3.1 document (node/http/openapi.ts)
 *   GET /readyz   200 once the node's own log is current and it signs
 *                 (own-log state `ready`: start-up's catch-up with the other
 *                 members is done); 503 while it is still asking or
 *                 syncing, or has no member to ask — it serves reads then,
 *                 but its own log may be behind and it refuses writes
 */
import { Hono } from 'hono'
import type { Env } from './request.ts'
import type { OwnLogStatus } from '../replication/own-log.ts'
import { openApiDocument } from './openapi.ts'

export interface HealthRouteDeps {
  ownLogStatus: () => OwnLogStatus
  origin: string
  federation: string
}

/** The version the OpenAPI document names (package.json's, as built). */
const API_VERSION = '0.1.0'

export function healthRoutes(deps: HealthRouteDeps) {
  const r = new Hono<Env>()
  r.get('/healthz', (c) => {
    c.header('Cache-Control', 'no-store')
    return c.json({ status: 'ok' })
  })
  r.get('/readyz', (c) => {
    c.header('Cache-Control', 'no-store')
    const own = deps.ownLogStatus()
    const ready = own.state === 'ready'
    return c.json({ ready, own_log: own.state, note: own.note }, ready ? 200 : 503)
  })
  // The API described for machines (node/http/openapi.ts), built once.
  let doc: string | undefined
  r.get('/openapi.json', (c) => {
    doc ??= JSON.stringify(openApiDocument({ federation: deps.federation, origin: deps.origin, version: API_VERSION }))
    c.header('Cache-Control', 'no-cache')
    return c.body(doc, 200, { 'Content-Type': 'application/json' })
  })
  return r
}
