/**
 * Oversight routes, public (aggregates only):
 *
 *   GET /                        the dashboard page (node/dashboard/)
 *   GET /dashboard/<file>        its script, style sheet and Chart.js, served by the node itself
 *   GET /dashboard.json          what the page draws (node/dashboard/view.ts); the page polls it
 *   GET /report?from=&to=&format=json|csv|html
 *                                transparency report for [from, to) (node/report.ts); counts per
 *                                provider name only for an oversight token, totals for everyone
 */
import { Hono, type Context } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import { ASSET_PATHS, DASHBOARD_CSP, dashboardAsset } from '../dashboard/assets.ts'
import { dashboardData, type DashboardDeps } from '../dashboard/view.ts'
import { computeReport, parseReportTime, reportPeriod, type ReportDeps, type TransparencyReport } from '../report.ts'
import { reportCsv, reportHtml } from '../dashboard/report-page.ts'
import type { Env } from './request.ts'

/** What the dashboard and the transparency report read. */
export interface OversightRouteDeps extends DashboardDeps, ReportDeps {
  store: DashboardDeps['store'] & ReportDeps['store']
}

const REPORT_CACHE_MS = 10_000
const REPORT_CACHE_ENTRIES = 8

function sendAsset(c: Context<Env>, path: string) {
  const a = dashboardAsset(path)
  if (!a) throw new LedgerError('NOT_FOUND', `no dashboard file ${path}`)
  c.header('ETag', a.etag)
  c.header('Cache-Control', 'no-cache')
  c.header('X-Content-Type-Options', 'nosniff')
  if (path === '/') {
    c.header('Content-Security-Policy', DASHBOARD_CSP)
    c.header('Referrer-Policy', 'no-referrer')
  }
  if (c.req.header('if-none-match') === a.etag) return c.body(null, 304)
  return c.body(a.body, 200, { 'Content-Type': a.type })
}

export function oversightRoutes(deps: OversightRouteDeps) {
  const r = new Hono<Env>()
  // Made once per node's app, so the cache and the queue are the node's own.
  const entries = new Map<string, { at: number; report: TransparencyReport }>()
  // One report is computed at a time per node: a report scans every log, and it is a public route.
  let queue: Promise<unknown> = Promise.resolve()
  const oneAtATime = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => undefined)
    return run
  }

  for (const path of ASSET_PATHS) r.get(path, (c) => sendAsset(c, path))

  r.get('/dashboard.json', async (c) => {
    c.header('Cache-Control', 'no-store')
    return c.json(await dashboardData(deps))
  })

  r.get('/report', async (c) => {
    const q = c.req.query()
    const format = q.format ?? 'json'
    if (format !== 'json' && format !== 'csv' && format !== 'html') throw new LedgerError('BAD_REQUEST', 'format must be json, csv or html')
    const { from, to } = reportPeriod(deps.now(), parseReportTime(q.from, 'from'), parseReportTime(q.to, 'to'))
    const providerNames = c.get('who')?.role === 'oversight'
    // A report scans the logs: recent ones are kept briefly, keyed by what they depend on.
    const key = [from, to, providerNames, ...deps.store.listLogs().map((l) => `${l.origin}:${l.checkpointSize}`)].join('|')
    const report = await oneAtATime(async () => {
      let hit = entries.get(key)
      if (!hit || deps.now() - hit.at > REPORT_CACHE_MS) {
        hit = { at: deps.now(), report: await computeReport(deps, { from, to, providerNames }) }
        entries.delete(key)
        entries.set(key, hit)
        while (entries.size > REPORT_CACHE_ENTRIES) entries.delete(entries.keys().next().value!)
      }
      return hit.report
    })
    c.header('Cache-Control', providerNames ? 'private, no-store' : 'no-cache')
    const name = `cairn-report-${report.period.from_iso.slice(0, 10)}-${report.period.to_iso.slice(0, 10)}`
    if (format === 'csv') {
      c.header('Content-Disposition', `attachment; filename="${name}.csv"`)
      return c.body(reportCsv(report), 200, { 'Content-Type': 'text/csv; charset=utf-8' })
    }
    if (format === 'html') {
      c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
      return c.html(reportHtml(report))
    }
    return c.json(report)
  })

  return r
}
