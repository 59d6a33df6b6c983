/**
 * feedback and redress, as its three users live it (issue 22): a provider
 * syncing from f2 matches a photo, finds the match wrong and reports it with
 * `cairn match --report-false-positive`; the report reaches f1, the centre
 * whose log holds the indicator; f1's operator sees it in `cairn review
 * list` and revokes it with `cairn review decide --revoke`; the provider
 * sees the outcome at f2 (`cairn feedback status`) and both providers (one
 * syncing from f2, one from f3) drop the indicator at their next sync; the
 * oversight body reads the time from report to withdrawal in f1's
 * transparency report. Figures: each step's time, and the report's own.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { publishBodies, grantToken, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { call } from '../processes.ts'
import { loadLocalSet } from '../../client/local-copy.ts'
import { fromHex } from '../../protocol/bytes.ts'
import { figureValue, type TransparencyReport } from '../../node/report.ts'
import { Fed, cairn, seconds, sleep, outcome, genesisSync, type Scenario } from './common.ts'

export const feedback: Scenario = {
  name: 'feedback',
  title: 'feedback and redress: a provider reports a false positive, the adding centre revokes, providers drop it, the report counts it',
  async run(ctx) {
    const records = ctx.quick ? 100 : 5000
    const fed = await Fed.start(ctx.dir, { names: ['f1', 'f2', 'f3'], federation: 'feedback.cairn' })
    const problems: string[] = []
    try {
      const [f1, f2, f3] = [0, 1, 2].map((i) => fed.proc(i))
      // A made-up photo (noise, never a real image of anything) whose SHA-256 f1 lists by mistake.
      const photos = join(ctx.dir, 'photos')
      mkdirSync(photos, { recursive: true })
      const photo = join(photos, 'holiday.png')
      await sharp({ create: { width: 64, height: 48, channels: 3, background: '#6a8', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toFile(photo)
      const sha = createHash('sha256').update(readFileSync(photo)).digest('hex')
      const wrong = { type: 'indicator', alg: 'sha256', value: sha, category: 'A1', kind: 'known_material', media: 'image' }
      const [recordId] = await publishBodies(f1!, [wrong, ...Array.from({ length: records - 1 }, (_, j) => sampleIndicator('f1', j))])
      for (const i of [1, 2]) await publishBodies(fed.proc(i), Array.from({ length: 10 }, (_, j) => sampleIndicator(fed.planned[i]!.name, j)))
      await waitConverged([f1!.url, f2!.url, f3!.url], { [fed.planned[0]!.origin]: records, [fed.planned[1]!.origin]: 10, [fed.planned[2]!.origin]: 10 }, 300_000)

      const tokenB = await grantToken(f2!, 'provider', 'Example Platform')
      const tokenC = await grantToken(f3!, 'provider', 'Other Platform')
      const copyB = join(ctx.dir, 'copy-platform')
      const copyC = join(ctx.dir, 'copy-other')
      await genesisSync(fed, 1, copyB, tokenB, problems)
      await genesisSync(fed, 2, copyC, tokenC, problems)
      const has = (copy: string) => loadLocalSet(copy).has('sha256', fromHex(sha))
      if (!has(copyB) || !has(copyC)) throw new Error('the providers\' copies lack the indicator before the report')

      // The provider: match, see the match is wrong, report it.
      const match = await cairn(['match', photo, '--copy', copyB, '--quiet'])
      if (match.code !== 1 || !match.stdout.includes(`record ${recordId}`)) problems.push(`cairn match did not name record ${recordId}: ${match.stdout.trim()} ${match.stderr.trim()}`)
      const tReport = Date.now()
      const report = await cairn(['match', photo, '--copy', copyB, '--quiet', '--report-false-positive', '--reason', 'benign_content', '--node', f2!.url, '--token', tokenB])
      if (report.code !== 0 || !/reported false positive: report [0-9a-f]{32} .* delivered to /.test(report.stdout)) problems.push(`cairn match --report-false-positive: ${report.stdout.trim()} ${report.stderr.trim()}`)
      ctx.log(`provider at f2: ${report.stdout.trim().split('\n').filter((l) => l.startsWith('reported')).join('; ')}`)

      // The adding centre's operator: see it, revoke it.
      const list = await cairn(['review', 'list', '--dir', fed.planned[0]!.dir])
      if (!list.stdout.includes(`${recordId}  sha256 A1  1 report(s): 1 false positive`)) problems.push(`f1's review queue lacks the report: ${list.stdout.trim()} ${list.stderr.trim()}`)
      ctx.log(`f1 review list: ${list.stdout.trim()}`)
      const tDecide = Date.now()
      const decide = await cairn(['review', 'decide', recordId!, '--revoke', '--dir', fed.planned[0]!.dir])
      if (decide.code !== 0) throw new Error(`cairn review decide failed: ${decide.stderr.trim()}`)
      const tDecided = Date.now()
      ctx.log(`f1: ${decide.stdout.trim()}`)

      // The provider sees the outcome at the node it uses, and every provider's next sync drops the indicator.
      let status = ''
      while (Date.now() - tDecided < 60_000) {
        status = (await cairn(['feedback', 'status', '--node', f2!.url, '--token', tokenB])).stdout
        if (status.includes(' revoked: ')) break
        await sleep(200)
      }
      const outcomeMs = Date.now() - tDecided
      if (!status.includes(' revoked: ')) problems.push(`the provider's feedback status at f2 shows no revocation: ${status.trim()}`)
      ctx.log(`provider: ${status.trim()}`)
      const dropped: Record<string, number> = {}
      for (const [name, at, copy, token] of [['platform', 1, copyB, tokenB], ['other', 2, copyC, tokenC]] as const) {
        while (has(copy) && Date.now() - tDecided < 120_000) {
          await genesisSync(fed, at, copy, token, [])
          if (has(copy)) await sleep(200)
        }
        if (has(copy)) problems.push(`the ${name} provider's copy still holds the indicator 120 s after the revocation`)
        dropped[name] = Date.now() - tDecided
      }

      // The oversight body: the time from report to withdrawal in f1's transparency report.
      const oversight = await grantToken(f1!, 'oversight', 'oversight body')
      const pub = await call<TransparencyReport>(f1!.url, undefined, 'GET', '/report')
      const over = await call<TransparencyReport>(f1!.url, oversight, 'GET', '/report')
      const o1 = fed.planned[0]!.origin
      const v = (r: TransparencyReport, figure: string, dimension: string, key = '') => figureValue(r, figure, o1, dimension, key)
      if (v(pub, 'feedback_reports', 'total') !== 1) problems.push(`f1's report counts ${v(pub, 'feedback_reports', 'total')} feedback reports, not 1`)
      if (v(pub, 'indicators_withdrawn_after_reports', 'total') !== 1) problems.push('f1\'s report does not count the withdrawal')
      if (v(pub, 'feedback_time_to_decision_ms', 'statistic', 'count') !== 1) problems.push('f1\'s report has no time to decision')
      if (JSON.stringify(pub).includes('Example Platform')) problems.push('the public report names a provider')
      if (v(over, 'feedback_reports', 'provider', 'f2: Example Platform') !== 1) problems.push('the oversight report lacks the per-provider count')
      const basis = pub.figures.find((f) => f.figure === 'indicators_withdrawn_after_reports')?.basis ?? []
      ctx.log(`f1 report: time from report to decision ${v(pub, 'feedback_time_to_decision_ms', 'statistic', 'median')} ms, withdrawn after reports ${v(pub, 'indicators_withdrawn_after_reports', 'total')}, basis ${basis.join(', ')}`)

      const figures = {
        indicators: records,
        report_cli_s: seconds(report.ms),
        report_to_revoke_started_s: seconds(tDecide - tReport),
        decide_cli_s: seconds(decide.ms),
        outcome_at_serving_node_s: seconds(outcomeMs),
        dropped_platform_s: seconds(dropped.platform!),
        dropped_other_s: seconds(dropped.other!),
        report_time_to_decision_ms_median: v(pub, 'feedback_time_to_decision_ms', 'statistic', 'median'),
        report_time_to_decision_ms_p95: v(pub, 'feedback_time_to_decision_ms', 'statistic', 'p95'),
        report_withdrawn_after_reports: v(pub, 'indicators_withdrawn_after_reports', 'total'),
        report_basis: basis.join(' '),
      }
      return outcome(problems, figures, `report → f1's queue → revoke: outcome at f2 ${figures.outcome_at_serving_node_s} s after the decision; dropped by both providers' next sync within ${seconds(Math.max(dropped.platform!, dropped.other!))} s; f1's report: time to decision ${figures.report_time_to_decision_ms_median} ms, 1 withdrawn`)
    } finally {
      await fed.close()
    }
  },
}
