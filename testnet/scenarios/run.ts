/**
 * npm run scenarios [-- name ...] [--quick] [--keep] [--netns]
 *
 * With --netns every node runs in a network namespace of its own, on its
 * own address (testnet/netns.ts; needs root); it writes no scenarios.json.
 * Runs the fault scenarios against real node processes, one after another,
 * printing PASS/FAIL with the figures of each. The full version (no --quick)
 * ends with a summary table and writes testnet/results/scenarios.json (a run
 * of only some scenarios updates their rows and keeps the others). Exits
 * non-zero if any scenario failed.
 */
import '../../node/polyfill.ts'
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync, existsSync, renameSync } from 'node:fs'
import { tmpdir, cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SCENARIOS, runScenario, summaryTable, type ScenarioReport } from './index.ts'
import { killAll, root, layout } from './common.ts'
import { netnsUnavailable } from '../netns.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    netns: { type: 'boolean', default: false },
  },
})
if (values.netns) {
  const why = netnsUnavailable()
  if (why) {
    console.error(`scenarios --netns: ${why}`)
    process.exit(2)
  }
  layout.netns = true
}
const unknown = positionals.filter((n) => !SCENARIOS.some((s) => s.name === n))
if (unknown.length) {
  console.error(`unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.map((s) => s.name).join(', ')}`)
  process.exit(2)
}
const named = positionals.length ? SCENARIOS.filter((s) => positionals.includes(s.name)) : SCENARIOS
const chosen = values.netns ? named.filter((s) => !s.loopbackOnly) : named
for (const s of named) if (values.netns && s.loopbackOnly) console.log(`SKIP ${s.name} with --netns: ${s.loopbackOnly}`)
const base = mkdtempSync(join(tmpdir(), 'cairn-scenarios-'))
const onSignal = async () => {
  await killAll()
  process.exit(130)
}
process.on('SIGINT', () => void onSignal())
process.on('SIGTERM', () => void onSignal())

console.log(`${chosen.length} scenario${chosen.length === 1 ? '' : 's'} (${values.quick ? 'quick' : 'full'}${values.netns ? ', netns' : ''}) in ${base}`)
const reports: ScenarioReport[] = []
for (const s of chosen) {
  const r = await runScenario(s, { quick: values.quick, dir: join(base, s.name) })
  reports.push(r)
  console.log(`${r.result} ${s.name}: ${r.summary}`)
  console.log(`  figures: ${JSON.stringify(r.figures)}`)
  for (const p of r.problems) console.log(`  problem: ${p}`)
}
await killAll()
if (!values.keep) rmSync(base, { recursive: true, force: true })

console.log('\n' + summaryTable(reports))
// The table in scenarios.json is of loopback runs; a netns run only prints.
if (!values.quick && !values.netns) {
  const dir = join(root, 'testnet/results')
  const file = join(dir, 'scenarios.json')
  mkdirSync(dir, { recursive: true })
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { scenarios: ScenarioReport[] }).scenarios : []
  const rows = [...previous.filter((p) => !reports.some((r) => r.name === p.name)), ...reports]
    .sort((a, b) => SCENARIOS.findIndex((s) => s.name === a.name) - SCENARIOS.findIndex((s) => s.name === b.name))
  const doc = { machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', node: process.version, platform: process.platform }, scenarios: rows }
  writeFileSync(file + '.tmp', JSON.stringify(doc, null, 2) + '\n')
  renameSync(file + '.tmp', file)
  console.log(`wrote ${file}`)
}
process.exit(reports.every((r) => r.result === 'PASS') ? 0 : 1)
