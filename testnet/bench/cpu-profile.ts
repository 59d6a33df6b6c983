/**
 * Reading `node --cpu-prof` output: the functions with the most self time,
 * to find where a slow measure spends its CPU.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx testnet/bench/run.ts --quick --only ingest_per_s
 *   npx tsx testnet/bench/cpu-profile.ts /tmp/prof/*.cpuprofile [--top 25]
 *
 * Each file is one thread (main or a worker); they are summarised one by one.
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
export function selfTimes(p: Profile): { total: number; rows: SelfTime[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const ms = new Map<number, number>()
  const samples = p.samples ?? []
  const deltas = p.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) ms.set(samples[i]!, (ms.get(samples[i]!) ?? 0) + (deltas[i] ?? 0) / 1000)
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
  const files = args.filter((a, i) => a.endsWith('.cpuprofile') && i !== topAt + 1)
  if (files.length === 0) {
    console.error('usage: tsx testnet/bench/cpu-profile.ts <file.cpuprofile>... [--top N]')
    process.exit(2)
  }
  for (const f of files) {
    const { total, rows } = selfTimes(JSON.parse(readFileSync(f, 'utf8')) as Profile)
    console.log(`\n${basename(f)}: ${(total / 1000).toFixed(1)} s sampled`)
    for (const r of rows.slice(0, top)) {
      console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}  ${r.where}`)
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) main()
