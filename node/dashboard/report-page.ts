/**
 * The transparency report as CSV (one RFC 4180 table: every figure with its
 * basis, then the period and the cited checkpoint notes as rows of the same
 * shape) and as a self-contained printable HTML page (no script; print CSS).
 */
import type { ReportFigure, TransparencyReport } from '../report.ts'

const CSV_COLUMNS = ['figure', 'log', 'dimension', 'key', 'value', 'basis', 'source'] as const

function csvCell(v: unknown): string {
  const s = String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function reportCsv(r: TransparencyReport): string {
  const rows: unknown[][] = [[...CSV_COLUMNS]]
  rows.push(['period', 'all', 'bound', 'from', r.period.from, r.period.from_iso, 'report'])
  rows.push(['period', 'all', 'bound', 'to', r.period.to, r.period.to_iso, 'report'])
  for (const f of r.figures) rows.push([f.figure, f.log, f.dimension, f.key, f.value, f.basis.join(' '), f.source])
  for (const c of r.checkpoints) rows.push(['checkpoint', c.log, 'note', c.id, c.size, c.note, 'logs'])
  return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n'
}

// ---------------------------------------------------------------------------
// HTML

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const member = (origin: string) => (origin === 'all' ? 'All centres' : origin.split('/')[1] ?? origin)
const num = (n: number) => n.toLocaleString('en-GB')
const utc = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC')

export function humanDuration(ms: number): string {
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`
  if (s < 3600) return `${(s / 60).toFixed(1)} min`
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`
  return `${(s / 86400).toFixed(1)} days`
}

function pick(r: TransparencyReport, figure: string, dimension: string): Map<string, Map<string, ReportFigure>> {
  const out = new Map<string, Map<string, ReportFigure>>()
  for (const f of r.figures) {
    if (f.figure !== figure || f.dimension !== dimension) continue
    let row = out.get(f.log)
    if (!row) out.set(f.log, (row = new Map()))
    row.set(f.key, f)
  }
  return out
}

/** One row per centre plus the federation total; columns are the keys of one dimension. */
function matrix(r: TransparencyReport, caption: string, figure: string, dimension: string, opts: { total?: boolean; format?: (n: number, key: string) => string; keys?: string[]; labels?: Record<string, string> } = {}): string {
  const cells = pick(r, figure, dimension)
  const totals = pick(r, figure, 'total')
  if (cells.size === 0 && !opts.total) return ''
  const keys = opts.keys ?? [...new Set([...cells.values()].flatMap((m) => [...m.keys()]))]
  const fmt = opts.format ?? ((n: number) => num(n))
  const logs = [...new Set([...cells.keys(), ...(opts.total ? totals.keys() : [])])].sort((a, b) => (a === 'all' ? 1 : b === 'all' ? -1 : a < b ? -1 : 1))
  const head = `<tr><th scope="col">Centre</th>${keys.map((k) => `<th scope="col">${esc(opts.labels?.[k] ?? (k.includes('/') ? member(k) : k.replace(/_/g, ' ')))}</th>`).join('')}${opts.total ? '<th scope="col">Total</th>' : ''}<th scope="col" class="basis">Basis (checkpoints)</th></tr>`
  const body = logs.map((log) => {
    const row = cells.get(log)
    const basis = row?.values().next().value?.basis ?? totals.get(log)?.get('')?.basis ?? []
    const tds = keys.map((k) => {
      const f = row?.get(k)
      return `<td>${f ? esc(fmt(f.value, k)) : '–'}</td>`
    }).join('')
    const total = opts.total ? `<td class="total">${esc(num(totals.get(log)?.get('')?.value ?? 0))}</td>` : ''
    return `<tr${log === 'all' ? ' class="all"' : ''}><th scope="row">${esc(member(log))}</th>${tds}${total}<td class="basis">${esc(basis.join(', '))}</td></tr>`
  }).join('\n')
  return `<table><caption>${esc(caption)}</caption><thead>${head}</thead><tbody>${body}</tbody></table>`
}

function value(r: TransparencyReport, figure: string, log: string, dimension: string, key = ''): number {
  return r.figures.find((f) => f.figure === figure && f.log === log && f.dimension === dimension && f.key === key)?.value ?? 0
}

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1b1f24;max-width:1100px;margin:2rem auto;padding:0 1.5rem}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:2px solid #1f4e79;padding-bottom:.2rem;color:#1f4e79}
.meta{color:#444}.meta dt{font-weight:600;float:left;clear:left;width:11rem}.meta dd{margin:0 0 .2rem 11rem}
.summary{background:#f2f6fa;border-left:4px solid #1f4e79;padding:.7rem 1rem;margin:1.2rem 0}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;width:100%;font-variant-numeric:tabular-nums;page-break-inside:avoid}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #c9d1d9;padding:.25rem .5rem;text-align:right}th[scope=row],th.l,td.l{text-align:left}
thead th{background:#e8eef4}tr.all th,tr.all td{font-weight:700;background:#f6f8fa}
td.basis,th.basis{font-size:.8em;color:#555;text-align:left}
pre{font-size:.75em;background:#f6f8fa;border:1px solid #d0d7de;padding:.5rem;white-space:pre-wrap;word-break:break-all;page-break-inside:avoid}
ol li{margin:.3rem 0}.note{color:#555;font-size:.9em}
@media print{body{margin:0;max-width:none;font-size:10.5pt}h2{page-break-after:avoid}a{color:inherit;text-decoration:none}.noprint{display:none}}
@page{size:A4;margin:14mm}
`

export function reportHtml(r: TransparencyReport): string {
  const added = value(r, 'indicators_added', 'all', 'total')
  const removed = value(r, 'indicators_removed', 'all', 'total')
  const disputed = value(r, 'indicators_disputed', 'all', 'total')
  const start = value(r, 'indicators_held', 'all', 'at', 'start')
  const end = value(r, 'indicators_held', 'all', 'at', 'end')
  const centres = r.checkpoints.length
  const ttr = (n: number, key: string) => (key === 'count' ? num(n) : humanDuration(n))
  const access = pick(r, 'provider_requests', 'provider').get('all')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(r.title)} — ${esc(r.federation)} — ${esc(r.period.from_iso.slice(0, 10))} to ${esc(r.period.to_iso.slice(0, 10))}</title>
<style>${CSS}</style></head>
<body>
<header>
<h1>${esc(r.title)}</h1>
<dl class="meta">
<dt>Federation</dt><dd>${esc(r.federation)} (${centres} centre logs)</dd>
<dt>Period</dt><dd>${esc(utc(r.period.from))} (included) to ${esc(utc(r.period.to))} (excluded)</dd>
<dt>Generated</dt><dd>${esc(utc(r.generated))} by node ${esc(r.node)}</dd>
<dt>Legal basis</dt><dd>Figures on the database of indicators under Articles 83(3) and 84 of the Regulation laying down rules to prevent and combat child sexual abuse, as far as the ledger records them.</dd>
</dl>
</header>
<p class="summary">In this period the centres added <strong>${num(added)}</strong> indicators, removed <strong>${num(removed)}</strong>, and <strong>${num(disputed)}</strong> indicators were disputed by another centre.
The database held <strong>${num(start)}</strong> indicators at the start of the period and <strong>${num(end)}</strong> at its end (${end - start >= 0 ? '+' : ''}${num(end - start)}).
Every figure below names the cosigned checkpoints it was computed from (section 7): anyone holding the logs can recompute it.</p>

<h2>1. Indicators added</h2>
${matrix(r, 'Indicators added, by centre and category', 'indicators_added', 'category', { total: true })}
${matrix(r, 'Indicators added, by centre and hash algorithm', 'indicators_added', 'alg', { total: true })}
${matrix(r, 'Indicators added, by centre and kind', 'indicators_added', 'kind', { total: true })}
${matrix(r, 'Indicators added, by centre and media', 'indicators_added', 'media', { total: true })}

<h2>2. Indicators removed and why</h2>
${matrix(r, 'Revocations, by centre and reason', 'indicators_removed', 'reason', { total: true })}
${matrix(r, 'Indicators redacted on legal order (their entries are markers now), by centre', 'indicators_redacted', 'reason', { total: true })}

<h2>3. Time from addition to revocation</h2>
${matrix(r, 'For revocations in the period: time since the indicator was added', 'time_to_revocation_ms', 'statistic', { keys: ['count', 'median', 'p90', 'max'], format: ttr })}
<p class="note">The count column is a number of revocations, not a duration.</p>

<h2>4. Disputes</h2>
${matrix(r, 'Disputes written, by disputing centre and reason', 'disputes', 'reason', { total: true })}
${matrix(r, 'Disputes written, by disputing centre and the centre whose indicator was disputed', 'disputes', 'against')}
${matrix(r, 'Indicators disputed in the period, by the centre that added them', 'indicators_disputed', 'total', { keys: [''], labels: { '': 'indicators disputed' } })}
${matrix(r, 'Confirmations written, by centre', 'confirmations', 'total', { keys: [''], labels: { '': 'confirmations' } })}

<h2>5. Indicators in the database</h2>
${matrix(r, 'Indicators held (added and not revoked) at the start and the end of the period', 'indicators_held', 'at', { keys: ['start', 'end'] })}

<h2>6. Access to the database</h2>
<table><caption>Requests to this node in the period, by role (from its access log)</caption><thead><tr><th scope="col" class="l">Role</th><th scope="col">Requests</th></tr></thead><tbody>
${r.figures.filter((f) => f.figure === 'requests').map((f) => `<tr><th scope="row">${esc(f.key)}</th><td>${num(f.value)}</td></tr>`).join('\n')}
<tr><th scope="row">providers: successful requests</th><td>${num(value(r, 'provider_requests', 'all', 'outcome', 'successful'))}</td></tr>
<tr><th scope="row">distinct providers</th><td>${num(value(r, 'provider_requests', 'all', 'distinct', 'providers'))}</td></tr>
</tbody></table>
${access ? `<table><caption>Provider requests, by provider</caption><thead><tr><th scope="col" class="l">Provider</th><th scope="col">Requests</th></tr></thead><tbody>
${[...access.values()].map((f) => `<tr><th scope="row">${esc(f.key)}</th><td>${num(f.value)}</td></tr>`).join('\n')}</tbody></table>`
    : '<p class="note">Counts per provider are shown to oversight only (request this report with an oversight token).</p>'}
<p class="note">Access log of node ${esc(r.node)}: ${num(r.access_log.rows)} rows, hash chain ${r.access_log.chain_intact ? 'intact' : '<strong>BROKEN</strong>'}${r.access_log.head ? `, head ${esc(r.access_log.head)}` : ''}. Each node keeps its own access log.</p>

<h2>7. Provider feedback and withdrawals</h2>
${feedback(r)}

<h2>8. Basis: cosigned checkpoints</h2>
<table><caption>The checkpoint each centre's figures were computed from</caption><thead><tr><th scope="col" class="l">Id</th><th scope="col" class="l">Log</th><th scope="col">Size</th><th scope="col" class="l">Root (base64)</th><th scope="col" class="l">Cosigned by</th></tr></thead><tbody>
${r.checkpoints.map((c) => `<tr><th scope="row">${esc(c.id)}</th><td class="l">${esc(c.log)}</td><td>${num(c.size)}</td><td class="l"><code>${esc(c.root)}</code></td><td class="l">${esc(c.cosigned_by.join(', ') || 'none')}</td></tr>`).join('\n')}
</tbody></table>
${r.checkpoints.map((c) => `<pre aria-label="signed checkpoint ${esc(c.id)}">${esc(c.note)}</pre>`).join('\n')}

<h2>9. Method</h2>
<ol>${r.method.map((m) => `<li>${esc(m)}</li>`).join('')}</ol>
</body></html>
`
}

/** Section 7: reports providers made about this node's indicators, the decisions, the time to decide. */
function feedback(r: TransparencyReport): string {
  if (!r.figures.some((f) => f.source === 'feedback')) return '<p class="note">This node keeps no provider reports.</p>'
  const providers = pick(r, 'feedback_reports', 'provider')
  return [
    matrix(r, 'Reports received from providers, by verdict', 'feedback_reports', 'verdict', { total: true }),
    matrix(r, 'Reports received, by reason', 'feedback_reports', 'reason'),
    matrix(r, 'Reports received, by category of the indicator', 'feedback_reports', 'category'),
    matrix(r, 'Reports received, by hash algorithm of the indicator', 'feedback_reports', 'alg'),
    matrix(r, 'Decisions on reported indicators (attestation or revocation in the log)', 'feedback_decisions', 'decision'),
    matrix(r, 'Time from the first report to the decision', 'feedback_time_to_decision_ms', 'statistic', { keys: ['count', 'median', 'p95', 'max'], format: (n: number, key: string) => (key === 'count' ? num(n) : humanDuration(n)) }),
    matrix(r, 'Indicators withdrawn after false-positive reports', 'indicators_withdrawn_after_reports', 'total', { keys: [''], labels: { '': 'indicators withdrawn' } }),
    providers.size > 0 ? matrix(r, 'Reports received, by provider (oversight only)', 'feedback_reports', 'provider')
      : '<p class="note">Counts per provider are shown to oversight only.</p>',
  ].join('\n')
}
