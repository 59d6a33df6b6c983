/**
 * pdq_match_per_s and provider_rss_10m_mib (issue 18), both from provider
 * processes (testnet/bench/pdq-provider.ts) opening the cached local copy of
 * 10M PDQ records (× scale; testnet/bench/pdq-copy.ts):
 *   1. a cold open: pdq-index.idx deleted first, so the open builds the
 *      index and saves it (the build time, and what a first open costs);
 *   2. the measured process: opens the copy (index read from the file),
 *      answers queries on worker threads sharing the index, checks a sample
 *      against brute force; its peak RSS is provider_rss_10m_mib.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ensurePdqCopy, type PdqCopyInfo } from './pdq-copy.ts'
import type { ProviderReport } from './pdq-provider.ts'
import type { Measured } from './report.ts'

const PROVIDER = fileURLToPath(new URL('./pdq-provider.ts', import.meta.url))

function runProvider(args: string[]): Promise<ProviderReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', PROVIDER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => (out += c))
    child.stderr.on('data', (c: Buffer) => (err += c))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pdq-provider exited with ${code}: ${err.slice(-2000)}`))
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as ProviderReport)
      } catch (e) {
        reject(new Error(`pdq-provider printed no report: ${out.slice(-500)} ${err.slice(-1000)}`))
      }
    })
  })
}

export async function measurePdqCopy(cache: string, scale: number, say: (line: string) => void): Promise<{ match: Measured; rss: Measured; copy: PdqCopyInfo }> {
  const records = Math.max(1000, Math.round(10_000_000 * scale))
  const copy = ensurePdqCopy(cache, records, say)
  const d = 31
  const threads = 2
  const queries = 40_000
  const sample = Math.max(100, Math.min(1000, Math.round(1e9 / records)))
  say(`  provider process, cold open (pdq-index.idx deleted: built and saved)…`)
  const cold = await runProvider(['--copy', copy.dir, '--open-only', '--drop-index'])
  say(`    opened ${cold.records.toLocaleString('en')} PDQ records in ${cold.open_seconds.toFixed(1)} s (index ${cold.index.source} in ${cold.index.seconds.toFixed(1)} s), RSS ${cold.memory_open.rss_mib} MiB, peak ${cold.memory_open.peak_mib} MiB`)
  say(`  provider process, warm open, ${queries.toLocaleString('en')} queries on ${threads} worker threads, brute force on ${sample}…`)
  const warm = await runProvider(['--copy', copy.dir, '--distance', String(d), '--threads', String(threads), '--queries', String(queries), '--sample', String(sample)])
  say(`    opened in ${warm.open_seconds.toFixed(1)} s (index ${warm.index.source} in ${warm.index.seconds.toFixed(1)} s); ${Math.round(warm.queries_per_s!)} queries/s, recall ${warm.recall}, exact ${warm.exact}`)
  const recallOk = warm.recall === 1 && warm.exact === true && warm.match_pdq_agrees === true
  const copyDetails = { dir: copy.dir, records: copy.records, bytes: copy.bytes, cached: copy.cached, made: copy.made, write_seconds: copy.seconds, made_by: 'testnet/bench/pdq-copy.ts through client/local-copy.ts (Journal, commit, compact)' }
  const match: Measured = {
    key: 'pdq_match_per_s',
    value: warm.queries_per_s!,
    reference: { value: warm.brute_force_per_s_one_thread!, what: 'brute force/s (1 thread)' },
    ...(recallOk ? {} : { failed: `recall ${warm.recall}, exact ${warm.exact}, matchPdq agrees ${warm.match_pdq_agrees}: the index must return exactly the brute-force answer` }),
    method: `a provider process (testnet/bench/pdq-provider.ts) opens a local copy of ${records.toLocaleString('en')} PDQ records (written by the copy writer, cached) with openLocalCopy (index read from pdq-index.idx), then ${threads} worker threads sharing its index (SharedArrayBuffers) answer ${queries.toLocaleString('en')} distinct queries at d ≤ ${d}, half stored values with 0..31 bits flipped, half random (wall clock from a common start); recall and exactness against bruteForce over the same values on the first ${sample} queries, whose time gives the brute-force rate on one thread; matchPdq checked against brute force on 20 of them`,
    details: {
      records, max_distance: d, threads, queries, matches_per_query: warm.matches_per_query, queries_per_s_one_thread: warm.queries_per_s_one_thread,
      cpu_us_per_query_threads: warm.cpu_us_per_query_threads, cpu_us_per_query_one_thread: warm.cpu_us_per_query_one_thread,
      cpu_bound_queries_per_s_two_cores: warm.cpu_us_per_query_threads ? (2 * 1e6) / warm.cpu_us_per_query_threads : undefined,
      brute_force_per_s_one_thread: warm.brute_force_per_s_one_thread, speedup_over_brute_force_one_thread: warm.queries_per_s_one_thread! / warm.brute_force_per_s_one_thread!,
      recall: warm.recall, exact: warm.exact, match_pdq_agrees: warm.match_pdq_agrees, sample_queries: warm.sample_queries, sample_matches: warm.sample_matches,
      open_seconds_with_index_file: warm.open_seconds, index_read_seconds: warm.index.seconds,
      open_seconds_building_index: cold.open_seconds, index_build_and_save_seconds: cold.index.seconds, index_saved: cold.index.written,
      index_bytes: warm.index_bytes, load_average_after: warm.load_average, local_copy: copyDetails,
    },
  }
  const rss: Measured = {
    key: 'provider_rss_10m_mib',
    value: Math.max(warm.memory_held.rss_mib, warm.memory_end!.rss_mib),
    method: `resident set (VmRSS) of the provider process of pdq_match_per_s holding the copy, after a full garbage collection (the larger of: just after the open; at the end, its worker threads having answered): it opened the copy of ${records.toLocaleString('en')} PDQ records with its index (every record's id, log, seq, category and quality, the PDQ values, the index tables read from pdq-index.idx) and answered the queries on ${threads} worker threads . Its peak (VmHWM) and VmRSS right after the open are in details: they include the copy's record files, which openLocalCopy reads whole and drops before the index is read, until V8 collects them; the same for the process that built the index`,
    details: { peak_mib: warm.memory_end!.peak_mib, memory_open_before_gc: warm.memory_open, memory_held: warm.memory_held, memory_end: warm.memory_end, cold_open_memory: cold.memory_open, index_bytes: warm.index_bytes },
  }
  return { match, rss, copy }
}
