/**
 * The fault scenarios, in the order the issue lists them, and running one:
 * its own directory, a time stamp per log line, a FAIL (never a crash of the
 * runner) when it throws, every node process it started killed afterwards.
 */
import { mkdirSync } from 'node:fs'
import { loadavg } from 'node:os'
import { killAll, seconds, type Figures, type Scenario } from './common.ts'
import { crash } from './crash.ts'
import { partition } from './partition.ts'
import { equivocation } from './equivocation.ts'
import { intruder } from './intruder.ts'
import { garbage } from './garbage.ts'
import { lateJoiner } from './late-joiner.ts'
import { revocation } from './revocation.ts'
import { restore } from './restore.ts'
import { rotate } from './rotate.ts'
import { compromise } from './compromise.ts'
import { feedback } from './feedback.ts'
import { fork } from './fork.ts'

export const SCENARIOS: Scenario[] = [crash, partition, equivocation, intruder, garbage, lateJoiner, revocation, restore, rotate, compromise, fork, feedback]

export interface ScenarioReport {
  name: string
  title: string
  mode: 'quick' | 'full'
  result: 'PASS' | 'FAIL'
  summary: string
  figures: Figures
  problems: string[]
  seconds: number
  finished: string
  /** 1-minute load average when it started (the figures are wall-clock times on a shared machine). */
  load_at_start: number
}

export async function runScenario(s: Scenario, o: { quick: boolean; dir: string; log?: (line: string) => void }): Promise<ScenarioReport> {
  mkdirSync(o.dir, { recursive: true })
  const load = Math.round(loadavg()[0]! * 10) / 10
  const t0 = Date.now()
  const print = o.log ?? ((line: string) => console.log(line))
  const log = (msg: string) => print(`[${s.name} ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`)
  let r
  try {
    r = await s.run({ quick: o.quick, dir: o.dir, log })
  } catch (e) {
    r = { pass: false, figures: {}, summary: `error: ${(e as Error).message.split('\n')[0]}`, problems: [(e as Error).stack ?? String(e)] }
  } finally {
    await killAll()
  }
  return {
    name: s.name, title: s.title, mode: o.quick ? 'quick' : 'full', result: r.pass ? 'PASS' : 'FAIL',
    summary: r.summary, figures: r.figures, problems: r.problems, seconds: seconds(Date.now() - t0), finished: new Date().toISOString(), load_at_start: load,
  }
}

/** The closing table: scenario, result, key figures. */
export function summaryTable(reports: ScenarioReport[]): string {
  const rows = [['scenario', 'result', 'time', 'key figures'], ...reports.map((r) => [r.name, r.result, `${Math.round(r.seconds)} s`, r.summary])]
  const w = [0, 1, 2].map((c) => Math.max(...rows.map((row) => row[c]!.length)))
  const line = (row: string[]) => `| ${row.map((cell, c) => (c < 3 ? cell.padEnd(w[c]!) : cell)).join(' | ')} |`
  return [line(rows[0]!), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|---|`, ...rows.slice(1).map(line)].join('\n')
}
