/**
 * Where a synced record's CPU goes, thread by thread: the per-thread profile
 * of sync_per_s in docs/performance.md (issue 24).
 *
 *   npx tsx testnet/bench/sync-threads.ts [--scale 0.1] [--cache <dir>] [--runs 2]
 *
 * Starts the serving node of the cached `signed` fixture (testnet/bench/loader.ts)
 * as its own process and syncs an empty node in this process, as the sync
 * bench does. Between the moment the syncing node knows the target checkpoint
 * and the moment its store holds every entry, it reads the CPU time (utime +
 * stime, /proc/<pid>/task/<tid>/stat) of every thread of both processes, and
 * prints it per record, thread by thread (node names them all "node": the
 * main thread is the one whose tid is the pid; the busiest others are the
 * worker threads verifying signatures, then LevelDB's background compaction,
 * V8's GC helpers and libuv's pool, level's writes), the idle ones summed.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { startNode } from '../../node/node.ts'
import { stopNode } from '../processes.ts'
import { startNodeProcess } from './node-process.ts'
import { cacheRoot, scaleDir, fixture, freshPorts, fingerprint, dropStore } from './loader.ts'
import { sleep } from './client.ts'

const TICK_US = 1e6 / 100 // USER_HZ

interface ThreadCpu { name: string; us: number }

/** CPU so far of every thread of `pid`, by tid. */
export function threadCpu(pid: number): Map<number, ThreadCpu> {
  const out = new Map<number, ThreadCpu>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const name = stat.slice(stat.indexOf('(') + 1, close)
      const f = stat.slice(close + 2).split(' ')
      out.set(Number(tid), { name, us: (Number(f[11]) + Number(f[12])) * TICK_US })
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out
}

/** CPU of each thread between two readings, in µs (threads that started in between count from 0). */
export function cpuByThread(a: Map<number, ThreadCpu>, b: Map<number, ThreadCpu>): { tid: number; us: number }[] {
  return [...b].map(([tid, t]) => ({ tid, us: t.us - (a.get(tid)?.us ?? 0) })).filter((x) => x.us > 0)
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const value = (flag: string) => (argv.indexOf(flag) >= 0 ? argv[argv.indexOf(flag) + 1] : undefined)
  const scale = Number(value('--scale') ?? 0.1)
  const runs = Number(value('--runs') ?? 2)
  const base = scaleDir(cacheRoot(value('--cache')), scale, await fingerprint())
  const f = await fixture(base, { name: 'signed', members: ['src', 'dst'], entries: Math.max(1000, Math.round(1_000_000 * scale)), signed: true }, { say: (l) => console.error(l) })
  await freshPorts(f)
  const src = await startNodeProcess(join(f.dir, 'src'), 120_000, process.env.SERVE_PROF)
  try {
    for (let r = 0; r < runs; r++) {
      dropStore(f, 'dst')
      const node = await startNode({ dir: join(f.dir, 'dst'), logLevel: 'silent' })
      try {
        while ((node.sync.targetSizes()[f.origin] ?? 0) < f.entries) await sleep(2)
        const a = { dst: threadCpu(process.pid), src: threadCpu(src.proc.pid!) }
        const t0 = performance.now()
        while (node.store.size(f.origin) < f.entries) await sleep(2)
        const seconds = (performance.now() - t0) / 1000
        const b = { dst: threadCpu(process.pid), src: threadCpu(src.proc.pid!) }
        const pids = { dst: process.pid, src: src.proc.pid! }
        const rows: { label: string; us: number }[] = []
        let total = 0
        for (const proc of ['dst', 'src'] as const) {
          const threads = cpuByThread(a[proc], b[proc]).sort((x, y) => y.us - x.us)
          const who = proc === 'dst' ? 'syncing' : 'serving'
          let rest = 0
          for (const t of threads) {
            total += t.us
            if (t.us / f.entries >= 1) rows.push({ label: `${who} ${t.tid === pids[proc] ? 'main' : 'thread'} ${t.tid}`, us: t.us })
            else rest += t.us
          }
          rows.push({ label: `${who} other threads (< 1 µs each)`, us: rest })
        }
        console.log(`run ${r + 1}: ${f.entries.toLocaleString('en')} entries in ${seconds.toFixed(2)} s = ${Math.round(f.entries / seconds).toLocaleString('en')}/s; CPU ${(total / f.entries).toFixed(1)} µs a record (${(total / 1e6 / seconds * 100).toFixed(0)} % of one core), load average ${loadavg()[0]!.toFixed(1)}`)
        for (const x of rows) console.log(`  ${x.label.padEnd(34)} ${(x.us / f.entries).toFixed(1).padStart(6)} µs  ${((x.us / total) * 100).toFixed(1).padStart(5)} %`)
      } finally {
        await node.stop()
      }
    }
  } finally {
    dropStore(f, 'dst')
    await stopNode(src)
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
