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
import { ReportCache, parseReportTime, reportPeriod, type ReportDeps } from '../report.ts'
import { reportCsv, reportHtml } from '../dashboard/report-page.ts'
import type { Env } from './request.ts'
import { RateLimiter } from './rate-limit.ts'

/** What the dashboard and the transparency report read. */
export interface OversightRouteDeps extends DashboardDeps, ReportDeps {
  store: DashboardDeps['store'] & ReportDeps['store']
}

/** New report periods public callers may have computed: a burst of 4, then one every 15 s. */
const NEW_PUBLIC_PASSES = { rate_per_s: 1 / 15, burst: 4 }

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
  // Made once per node's app, so the passes kept are the node's own. It computes one report at a time,
  // and each from where the last pass over its period stopped: a public caller cannot make it re-read every log.
  const reports = new ReportCache(deps)
  // A period no kept pass covers costs a full read of every log (seconds at 10^5 entries): callers without a
  // token may start at most NEW_PUBLIC_PASSES.burst such reads, and one more every 1/rate_per_s seconds, together.
  const newPublicPasses = new RateLimiter(NEW_PUBLIC_PASSES)

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
    if (!c.get('who') && !reports.kept({ from, to })) {
      const wait = newPublicPasses.take('public')
      if (wait) {
        c.header('Retry-After', String(wait))
        throw new LedgerError('RATE_LIMITED', `reports for new periods are being computed for others; retry in ${wait} s, ask for the default period (this year so far), or call with a token`)
      }
    }
    const report = await reports.report({ from, to, providerNames })
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
