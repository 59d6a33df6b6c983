/** `cairn report`: the transparency report for a period, from a node's public GET /report. */
import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import { LedgerError } from '../protocol/errors.ts'
import type { TransparencyReport } from '../node/report.ts'
import { humanDuration } from '../node/dashboard/report-page.ts'
import { api } from '../client/http.ts'
import { resolveTarget } from './target.ts'

const FORMATS = ['json', 'csv', 'html', 'text'] as const

/** A short plain-text summary of a report, for a terminal. */
export function formatReportText(r: TransparencyReport): string {
  const v = (figure: string, log: string, dimension: string, key = '') =>
    r.figures.find((f) => f.figure === figure && f.log === log && f.dimension === dimension && f.key === key)?.value ?? 0
  const logs = r.checkpoints.map((c) => c.log)
  const name = (o: string) => o.split('/')[1] ?? o
  const out = [
    `${r.title}: ${r.federation}, ${r.period.from_iso} to ${r.period.to_iso} (from node ${r.node})`,
    '',
    `  ${'centre'.padEnd(14)} ${'added'.padStart(9)} ${'removed'.padStart(8)} ${'disputed'.padStart(9)} ${'held at end'.padStart(12)}  basis`,
  ]
  for (const log of [...logs, 'all']) {
    const basis = log === 'all' ? '' : r.checkpoints.find((c) => c.log === log)!.id
    out.push(`  ${(log === 'all' ? 'all centres' : name(log)).padEnd(14)} ${String(v('indicators_added', log, 'total')).padStart(9)} ${String(v('indicators_removed', log, 'total')).padStart(8)} ${String(v('indicators_disputed', log, 'total')).padStart(9)} ${String(v('indicators_held', log, 'at', 'end')).padStart(12)}  ${basis}`)
  }
  const n = v('time_to_revocation_ms', 'all', 'statistic', 'count')
  out.push('')
  out.push(n === 0 ? '  time to revocation: no revocations in the period'
    : `  time to revocation (${n}): median ${humanDuration(v('time_to_revocation_ms', 'all', 'statistic', 'median'))}, p90 ${humanDuration(v('time_to_revocation_ms', 'all', 'statistic', 'p90'))}, max ${humanDuration(v('time_to_revocation_ms', 'all', 'statistic', 'max'))}`)
  out.push(`  provider requests to this node: ${v('provider_requests', 'all', 'total')} from ${v('provider_requests', 'all', 'distinct', 'providers')} provider(s)`)
  for (const f of r.figures.filter((x) => x.figure === 'provider_requests' && x.dimension === 'provider')) out.push(`    ${f.key}: ${f.value}`)
  out.push('')
  out.push('  every figure is computed from the cosigned checkpoints in its basis (--format json, csv or html for all of them)')
  return out.join('\n')
}

export function registerReportCommands(program: Command) {
  program
    .command('report')
    .description('transparency report for a period: indicators added, removed and disputed per centre, time to revocation, provider access; every figure with the cosigned checkpoints it rests on (public; an oversight token adds counts per provider)')
    .option('--node <url>', 'API base URL').option('--token <token>', 'optional oversight token (default $CAIRN_TOKEN)').option('--dir <dir>', 'node directory (local)')
    .option('--from <date>', 'start of the period, included: ISO 8601 date or ms since the epoch (default: 1 January of this year, UTC)')
    .option('--to <date>', 'end of the period, excluded (default: now)')
    .option('--format <format>', `${FORMATS.join(', ')}`, 'json')
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (o) => {
      if (!(FORMATS as readonly string[]).includes(o.format)) throw new LedgerError('BAD_REQUEST', `--format must be one of ${FORMATS.join(', ')}`)
      const t = resolveTarget(o)
      const q = new URLSearchParams()
      if (o.from) q.set('from', o.from)
      if (o.to) q.set('to', o.to)
      const wire = o.format === 'text' ? 'json' : o.format
      q.set('format', wire)
      const path = `/report?${q}`
      let body: string
      if (wire === 'json') {
        const report = await api<TransparencyReport>(t, 'GET', path)
        body = o.format === 'text' ? formatReportText(report) + '\n' : JSON.stringify(report, null, 2) + '\n'
      } else {
        body = await api<string>(t, 'GET', path, undefined, wire === 'csv' ? 'text/csv' : 'text/html')
      }
      if (o.out) {
        writeFileSync(o.out, body)
        console.error(`wrote the ${o.format} report to ${o.out}`)
      } else {
        process.stdout.write(body)
      }
    })
}
