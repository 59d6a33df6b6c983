/**
 * A provider process for pdq_match_per_s and provider_rss_10m_mib (issue
 * 18), started by run.ts as its own process so its memory is only its own:
 * it opens a local copy with openLocalCopy (SharedArrayBuffers, the PDQ
 * index read from pdq-index.idx or built and saved), then answers PDQ
 * queries on worker threads that share that one index, checks them against
 * brute force on a sample, and prints one JSON object.
 *
 *   npx tsx testnet/bench/pdq-provider.ts --copy DIR [--distance 31] [--threads 2]
 *       [--queries 40000] [--sample 100] [--open-only] [--drop-index]
 *
 * --drop-index deletes pdq-index.idx first (the open builds and saves it);
 * --open-only reports the open and the memory, and answers nothing.
 * Queries: half stored values with 0..31 bits flipped, half random
 * (testnet/bench/pdq-match.ts makeQueries).
 *
 * Run with --expose-gc (run.ts does): memory is read right after the open
 * and again after a full collection, because openLocalCopy reads the record
 * files whole and drops them (~0.8 GB at 10M) before it reads the index, and
 * V8 may not have collected them yet; the first figure and the peak count
 * that garbage, the second is what the process holds.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { openLocalCopy } from '../../client/local-copy.ts'
import { PDQ_INDEX_FILE, type PdqIndexSource } from '../../client/pdq-index-file.ts'
import { makeQueries, parallelRate, answer, checkAgainstBruteForce } from './pdq-match.ts'
import { memoryOf } from './client.ts'

export interface ProviderReport {
  records: number
  open_seconds: number
  index: PdqIndexSource
  index_bytes: number
  /** After the open: VmRSS, VmHWM, RssAnon, MiB. */
  memory_open: { rss_mib: number; peak_mib: number; anon_mib: number }
  /** After the open and a full garbage collection: what the process holds. */
  memory_held: { rss_mib: number; peak_mib: number; anon_mib: number }
  /** At the end (after the worker threads answered), after a full garbage collection: same fields. */
  memory_end?: { rss_mib: number; peak_mib: number; anon_mib: number }
  max_distance?: number
  threads?: number
  queries?: number
  queries_per_s?: number
  queries_per_s_one_thread?: number
  /** CPU µs a query, the answering threads' own CPU time (/proc/thread-self/stat): on `threads` threads, and on one. */
  cpu_us_per_query_threads?: number
  cpu_us_per_query_one_thread?: number
  matches_per_query?: number
  brute_force_per_s_one_thread?: number
  sample_queries?: number
  sample_matches?: number
  recall?: number
  exact?: boolean
  /** matchPdq (records, ordering) agreed with brute force on the sample's first queries. */
  match_pdq_agrees?: boolean
  load_average: number[]
}

const mem = () => {
  const m = memoryOf(process.pid)
  return { rss_mib: Math.round(m.rssMiB), peak_mib: Math.round(m.peakMiB), anon_mib: Math.round(m.anonMiB) }
}


async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const dir = value('--copy')
  if (!dir) throw new Error('--copy DIR is required')
  const d = Number(value('--distance') ?? 31)
  const threads = Number(value('--threads') ?? 2)
  const count = Number(value('--queries') ?? 40_000)
  const sample = Number(value('--sample') ?? 100)
  if (argv.includes('--drop-index')) rmSync(join(dir, PDQ_INDEX_FILE), { force: true })

  let index: PdqIndexSource | undefined
  const t0 = performance.now()
  const copy = openLocalCopy(dir, { shared: true, onPdqIndex: (info) => (index = info) })
  const openSeconds = (performance.now() - t0) / 1000
  const pdq = copy.pdqIndex()
  const packed = copy.packed('pdq')
  if (!pdq || !packed || !index) throw new Error(`${dir} holds no PDQ records`)
  const memoryOpen = mem()
  const gc = (globalThis as { gc?: () => void }).gc
  // A full collection, then a moment for V8's sweeper threads to give the freed buffers back.
  const collect = async () => {
    gc?.()
    await new Promise((resolve) => setTimeout(resolve, 1500))
  }
  await collect()
  const report: ProviderReport = { records: packed.count, open_seconds: openSeconds, index, index_bytes: pdq.memoryBytes(), memory_open: memoryOpen, memory_held: mem(), load_average: loadavg() }
  if (argv.includes('--open-only')) {
    console.log(JSON.stringify(report))
    return
  }

  const n = packed.count
  const values = packed.values
  const queries = makeQueries(values, n, count)
  // One thread, briefly (queries the threads do not answer again).
  answer(pdq, queries, 0, 100, d)
  const one = answer(pdq, queries, 100, Math.min(count, 1100), d)
  const parallel = await parallelRate(pdq, queries, 0, count, d, threads)

  let agrees = true
  const { bruteSeconds, bruteMatches, found, exact } = checkAgainstBruteForce(values, n, queries, sample, d, (q, dd) => pdq.search(q, dd), (i, q, want) => {
    if (i >= 20) return
    const viaCopy = copy.matchPdq(q, d)
    if (viaCopy.length !== want.length || viaCopy.some((m, k) => m.distance !== want[k]!.distance)) agrees = false
  })
  await collect()
  Object.assign(report, {
    memory_end: mem(),
    max_distance: d,
    threads,
    queries: count,
    queries_per_s: parallel.perS,
    queries_per_s_one_thread: 1000 / one.seconds,
    ...(parallel.cpuSecondsPerQuery !== undefined ? { cpu_us_per_query_threads: parallel.cpuSecondsPerQuery * 1e6 } : {}),
    ...(one.cpuSeconds !== undefined ? { cpu_us_per_query_one_thread: (one.cpuSeconds / 1000) * 1e6 } : {}),
    matches_per_query: parallel.matches / count,
    brute_force_per_s_one_thread: sample / bruteSeconds,
    sample_queries: sample,
    sample_matches: bruteMatches,
    recall: bruteMatches === 0 ? 1 : found / bruteMatches,
    exact,
    match_pdq_agrees: agrees,
    load_average: loadavg(),
  })
  console.log(JSON.stringify(report))
}

main().then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
