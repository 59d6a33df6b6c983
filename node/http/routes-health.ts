/**
 * Liveness and readiness for load balancers, orchestrators and monitors
 * (public, no token; charged to the caller's address like every public route):
 *
 *   GET /healthz  200 while the process answers HTTP at all
 *   GET /readyz   200 once the node's own log is current and it signs
 *                 (own-log state `ready`: start-up's catch-up with the other
 *                 members is done); 503 while it is still asking or
 *                 syncing, or has no member to ask — it serves reads then,
 *                 but its own log may be behind and it refuses writes
 */
import { Hono } from 'hono'
import type { Env } from './request.ts'
import type { OwnLogStatus } from '../replication/own-log.ts'

export interface HealthRouteDeps {
  ownLogStatus: () => OwnLogStatus
}

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
  return r
}
