/**
 * Auditor, oversight and operator read routes:
 *
 *   GET /lookup/<alg>/<hex>  auditor, oversight  provenance of one value (node/provenance.ts); a value no
 *                                                log holds is 200 with `records: []` (an answer, not a missing route)
 *   GET /stats               public              aggregate counts only (node/metrics.ts)
 *   GET /metrics             operator, metrics   Prometheus text format
 *   GET /access-log          oversight           who called what, when; paging, filters, CSV; chain check
 */
import { Hono } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import { ROLES } from '../tokens.ts'
import type { AccessLog, AccessQuery, AccessRow } from '../access-log.ts'
import type { StoreReader } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import { buildProvenance } from '../provenance.ts'
import { parseLookupValue } from '../../protocol/provenance.ts'
import { nodeStats, renderMetrics, type MetricsDeps, type StatsDeps } from '../metrics.ts'
import { requireRole, type Env } from './request.ts'
import { UNAUTHENTICATED } from './guard.ts'

/** What these routes read: the store and roster (provenance), the statistics' and metrics' sources, the access log. */
export interface AuditorRouteDeps extends StatsDeps, MetricsDeps {
  store: StoreReader
  roster: Pick<Roster, 'member' | 'all'>
  accessLog: Pick<AccessLog, 'query' | 'verify' | 'rows' | 'stats'>
}

const MAX_ACCESS_PAGE = 1000
/** Roles rows carry: a token's, or `unauthenticated` for a request answered 401 (./guard.ts). */
const ROW_ROLES: string[] = [...ROLES, UNAUTHENTICATED]
/** `issuer`: the member that issued the credential a request used (empty for this node's own tokens). */
const ACCESS_COLUMNS = ['seq', 'time', 'token', 'name', 'role', 'issuer', 'method', 'path', 'status', 'bytes', 'prev'] as const

function intParam(raw: string | undefined, what: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined || raw === '') return undefined
  if (!/^(0|[1-9][0-9]{0,15})$/.test(raw) || Number(raw) > max) throw new LedgerError('BAD_REQUEST', `${what} must be a whole number from 0 to ${max}`)
  return Number(raw)
}

/** A time bound: ms since the epoch, or an ISO 8601 date/time. */
function timeParam(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined || raw === '') return undefined
  if (/^[0-9]+$/.test(raw)) return intParam(raw, what)
  if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw)) {
    const t = Date.parse(raw)
    if (Number.isFinite(t)) return t
  }
  throw new LedgerError('BAD_REQUEST', `${what} must be ms since the epoch or an ISO 8601 date such as 2025-01-31T12:00:00Z`)
}

function csvCell(v: unknown): string {
  const s = String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** RFC 4180 CSV of access rows, with the raw fields (so oversight can recompute the hash chain) and an ISO time. */
export function accessRowsCsv(rows: AccessRow[]): string {
  const lines = [[...ACCESS_COLUMNS, 'time_iso'].join(',')]
  for (const r of rows) lines.push([...ACCESS_COLUMNS.map((c) => csvCell(r[c] ?? '')), new Date(r.time).toISOString()].join(','))
  return lines.join('\r\n') + '\r\n'
}

export function auditorRoutes(deps: AuditorRouteDeps) {
  const r = new Hono<Env>()

  r.get('/lookup/:alg/:hex', requireRole('auditor', 'oversight'), async (c) => {
    const { alg, value } = parseLookupValue(c.req.param('alg'), c.req.param('hex'))
    c.header('Cache-Control', 'no-store')
    const roster = c.req.query('roster')
    if (roster !== undefined && roster !== '0' && roster !== '1') throw new LedgerError('BAD_REQUEST', 'roster must be 0 or 1')
    return c.json(await buildProvenance(deps.store, deps.roster, alg, value, { withRoster: roster === '1' }))
  })

  r.get('/stats', (c) => {
    c.header('Cache-Control', 'no-cache')
    return c.json(nodeStats(deps))
  })

  r.get('/metrics', requireRole('operator', 'metrics'), async (c) => {
    const m = await renderMetrics(deps)
    return c.body(m.body, 200, { 'Content-Type': m.contentType, 'Cache-Control': 'no-store' })
  })

  r.get('/access-log', requireRole('oversight'), async (c) => {
    const q = c.req.query()
    const format = q.format ?? 'json'
    if (format !== 'json' && format !== 'csv') throw new LedgerError('BAD_REQUEST', 'format must be json or csv')
    if (q.role !== undefined && !ROW_ROLES.includes(q.role)) throw new LedgerError('BAD_REQUEST', `role must be one of ${ROW_ROLES.join(', ')}`)
    // A token holder's name, or the client address of a failed authentication (IPv6 has colons).
    if (q.name !== undefined && !/^[A-Za-z0-9 ._@:-]{1,64}$/.test(q.name)) throw new LedgerError('BAD_REQUEST', 'name is a token holder name (1–64 letters, digits, spaces or ._@-) or a client address')
    const query: AccessQuery = {
      after: intParam(q.after, 'after'),
      limit: intParam(q.limit, 'limit', MAX_ACCESS_PAGE) ?? 100,
      name: q.name || undefined,
      role: q.role || undefined,
      from: timeParam(q.from, 'from'),
      to: timeParam(q.to, 'to'),
    }
    if (query.limit === 0) throw new LedgerError('BAD_REQUEST', `limit must be 1 to ${MAX_ACCESS_PAGE}`)
    const verify = q.verify !== '0'
    const page = await deps.accessLog.query(query)
    const chain = verify ? await deps.accessLog.verify() : undefined
    const chainJson = chain ? { rows: chain.rows, intact: chain.brokenAt === undefined, broken_at: chain.brokenAt ?? null } : null
    c.header('Cache-Control', 'no-store')
    if (format === 'csv') {
      if (page.next !== undefined) c.header('X-Cairn-Next', String(page.next))
      if (chainJson) c.header('X-Cairn-Chain', chainJson.intact ? `intact; rows=${chainJson.rows}` : `broken; at=${chainJson.broken_at}; rows=${chainJson.rows}`)
      c.header('Content-Disposition', 'attachment; filename="cairn-access-log.csv"')
      return c.body(accessRowsCsv(page.rows), 200, { 'Content-Type': 'text/csv; charset=utf-8' })
    }
    return c.json({ rows: page.rows, next: page.next ?? null, chain: chainJson })
  })

  return r
}
