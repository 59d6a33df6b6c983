/**
 * Reading `node --cpu-prof` output: the functions with the most self time,
 * to find where a slow measure spends its CPU.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx testnet/bench/run.ts --quick --only ingest_per_s
 *   npx tsx testnet/bench/cpu-profile.ts /tmp/prof/*.cpuprofile [--top 25] [--min-busy 0.1]
 *
 * Each file is one thread (main or a worker); they are summarised one by one,
 * with the share of the sampled time the thread was not idle; --min-busy
 * skips threads busier than nothing much (module loader threads, idle pools);
 * --skip leaves out the first seconds of each profile (start-up, module loading).
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface SelfTime {
  name: string
  where: string
  ms: number
  share: number
}

/** Self time per function (name + file:line), largest first; idle and GC are kept as their own rows. */
export function selfTimes(p: Profile, skipMs = 0): { total: number; rows: SelfTime[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const ms = new Map<number, number>()
  const samples = p.samples ?? []
  const deltas = p.timeDeltas ?? []
  let at = 0
  for (let i = 0; i < samples.length; i++) {
    at += (deltas[i] ?? 0) / 1000
    if (at < skipMs) continue
    ms.set(samples[i]!, (ms.get(samples[i]!) ?? 0) + (deltas[i] ?? 0) / 1000)
  }
  const rows = new Map<string, SelfTime>()
  let total = 0
  for (const [id, t] of ms) {
    const n = byId.get(id)!
    const f = n.callFrame
    const file = f.url ? f.url.replace(/^file:\/\//, '').replace(/.*\/(node_modules\/)/, '$1').replace(/.*\/work\/main\//, '') : ''
    const where = file ? `${file}:${f.lineNumber + 1}` : ''
    const name = f.functionName || '(anonymous)'
    const key = `${name} ${where}`
    const row = rows.get(key) ?? { name, where, ms: 0, share: 0 }
    row.ms += t
    rows.set(key, row)
    total += t
  }
  const list = [...rows.values()].sort((a, b) => b.ms - a.ms)
  for (const r of list) r.share = total > 0 ? r.ms / total : 0
  return { total, rows: list }
}

function main() {
  const args = process.argv.slice(2)
  const topAt = args.indexOf('--top')
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 20
  const skipAt = args.indexOf('--skip')
  const skipMs = skipAt >= 0 ? Number(args[skipAt + 1]) * 1000 : 0
  const busyAt = args.indexOf('--min-busy')
  const minBusy = busyAt >= 0 ? Number(args[busyAt + 1]) : 0
  const files = args.filter((a) => a.endsWith('.cpuprofile'))
  if (files.length === 0) {
    console.error('usage: tsx testnet/bench/cpu-profile.ts <file.cpuprofile>... [--top N]')
    process.exit(2)
  }
  for (const f of files) {
    const { total, rows } = selfTimes(JSON.parse(readFileSync(f, 'utf8')) as Profile, skipMs)
    const idle = rows.find((r) => r.name === '(idle)')?.ms ?? 0
    const busy = total > 0 ? 1 - idle / total : 0
    if (busy < minBusy) continue
    console.log(`\n${basename(f)}: ${(total / 1000).toFixed(1)} s sampled, ${(busy * 100).toFixed(0)} % busy`)
    for (const r of rows.filter((x) => x.name !== '(idle)').slice(0, top)) {
      console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}  ${r.where}`)
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) main()
