/**
 * pdq_match_per_s (issue 18): PDQ queries per second against 10M hashes
 * (× scale) held in a PdqIndex (client/pdq-index.ts), at distance ≤ 31, on
 * both cores: two worker threads share the one index (SharedArrayBuffers,
 * nothing copied) and each answers half of the queries. Beside it, in the
 * same run: the rate of one thread, the brute-force rate (bruteForce, the
 * baseline), recall and exactness against brute force on a sample, the
 * build time, the index's bytes and the process's RSS.
 *
 * Hashes are uniformly random (seeded), as PDQ hashes of unrelated images
 * roughly are. Queries, each used once per measure, are half near-duplicates
 * of stored hashes (0..31 bits flipped: each has at least one match) and
 * half random (almost never a match), in a fixed pseudo-random order.
 *
 *   npx tsx testnet/bench/pdq-match.ts [--scale 0.1] [--distance 31] [--threads 2]
 * prints the result as JSON.
 */
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads'
import { availableParallelism, loadavg } from 'node:os'
import { basename } from 'node:path'
import { readFileSync } from 'node:fs'
import { PdqIndex, bruteForce, type PdqIndexState, type PdqMatch } from '../../client/pdq-index.ts'
import { memoryOf } from './client.ts'

const FULL_SIZE = 10_000_000
const QUERIES = 40_000
const MIN_SECONDS = 4

export interface PdqMatchOptions {
  scale?: number
  maxDistance?: number
  threads?: number
  say?: (line: string) => void
}

export interface PdqMatchResult {
  hashes: number
  max_distance: number
  threads: number
  /** Queries per second on `threads` worker threads sharing the index: the measure. */
  queries_per_s: number
  queries_per_s_one_thread: number
  /** CPU µs a query (the threads' own CPU time, /proc/thread-self/stat): one thread, and on `threads` threads. */
  cpu_us_per_query_one_thread: number
  cpu_us_per_query_threads: number
  /** bruteForce on one thread, over the same set, on the recall sample: the baseline. */
  brute_force_per_s_one_thread: number
  speedup_one_thread: number
  /** Matches the index returned / matches brute force found, on the sample. */
  recall: number
  /** Every sample query answered exactly as brute force (same entries, distances, order). */
  exact: boolean
  sample_queries: number
  sample_matches: number
  build_s: number
  build_cpu_s: number
  index_bytes: number
  index_bytes_per_hash: number
  rss_mib: number
  rss_peak_mib: number
  load_average: number
  load_average_start: number
  method: string
}

/** xorshift128: fast seeded words for 10M hashes (Math.random is neither seeded nor fast). */
export function fillRandom(words: Uint32Array, seed: number): void {
  let x = seed | 0 || 1
  let y = 362436069
  let z = 521288629
  let w = 88675123
  for (let i = 0; i < words.length; i++) {
    const t = x ^ (x << 11)
    x = y
    y = z
    z = w
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8))
    words[i] = w
  }
}

/** QUERIES queries, packed: even ones a stored hash with 0..31 distinct bits flipped, odd ones random. */
export function makeQueries(hashes: Uint8Array, n: number, count: number): Uint8Array {
  const queries = new Uint8Array(new SharedArrayBuffer(count * 32))
  fillRandom(new Uint32Array(queries.buffer), 7)
  const picks = new Uint32Array(count * 2)
  fillRandom(picks, 11)
  for (let i = 0; i < count; i += 2) {
    const k = picks[i]! % n
    const q = queries.subarray(i * 32, i * 32 + 32)
    q.set(hashes.subarray(k * 32, k * 32 + 32))
    let r = picks[i + 1]!
    const flips = r % 32
    const bits = new Set<number>()
    while (bits.size < flips) {
      r = (Math.imul(r, 1103515245) + 12345) >>> 0
      bits.add(r >>> 24)
    }
    for (const b of bits) q[b >> 3]! ^= 1 << (b & 7)
  }
  return queries
}

/** This thread's CPU seconds (user + system), from /proc/thread-self/stat (Linux); undefined elsewhere. */
export function threadCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS
  } catch {
    return undefined
  }
}
const CLOCK_TICKS = 100

/** Answers queries[from..to) at distance d; returns the seconds taken, this thread's CPU seconds meanwhile, and the matches found. */
export function answer(index: PdqIndex, queries: Uint8Array, from: number, to: number, d: number): { seconds: number; cpuSeconds?: number; matches: number } {
  let matches = 0
  const c0 = threadCpuSeconds()
  const t0 = performance.now()
  for (let i = from; i < to; i++) matches += index.search(queries.subarray(i * 32, i * 32 + 32), d).length
  const seconds = (performance.now() - t0) / 1000
  const c1 = threadCpuSeconds()
  return { seconds, ...(c0 !== undefined && c1 !== undefined ? { cpuSeconds: c1 - c0 } : {}), matches }
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  (await import(workerData.tsx)).register();
  const m = await import(workerData.module);
  m.pdqMatchWorker(workerData, parentPort);
})().catch((e) => parentPort.postMessage({ fatal: String((e && e.stack) || e) }));
`

interface WorkerInput {
  tsx: string
  module: string
  state: PdqIndexState
  queries: Uint8Array
  warm: [number, number]
  from: number
  to: number
  d: number
}

/** In a worker thread: warm up, wait for 'go', answer [from, to), report. */
export function pdqMatchWorker(input: WorkerInput, port: NonNullable<typeof parentPort>): void {
  const index = PdqIndex.fromState(input.state)
  answer(index, input.queries, input.warm[0], input.warm[1], input.d)
  port.once('message', () => port.postMessage(answer(index, input.queries, input.from, input.to, input.d)))
  port.postMessage({ ready: true })
}

/** Queries/s of `threads` workers sharing `index`, each answering its share of queries[from..to). */
export async function parallelRate(index: PdqIndex, queries: Uint8Array, from: number, to: number, d: number, threads: number): Promise<{ perS: number; matches: number; cpuSecondsPerQuery?: number }> {
  const state = index.state()
  const share = Math.floor((to - from) / threads)
  const workers = Array.from({ length: threads }, (_, t) => {
    const input: WorkerInput = { tsx: import.meta.resolve('tsx/esm/api'), module: import.meta.url, state, queries, warm: [t * 200, t * 200 + 200], from: from + t * share, to: from + (t + 1) * share, d }
    return new Worker(WORKER_SOURCE, { eval: true, workerData: input })
  })
  const message = (w: Worker) =>
    new Promise<{ ready?: true; fatal?: string; seconds?: number; cpuSeconds?: number; matches?: number }>((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    })
  try {
    for (const m of await Promise.all(workers.map(message))) if (m.fatal) throw new Error(m.fatal)
    const done = workers.map(message)
    const t0 = performance.now()
    for (const w of workers) w.postMessage('go')
    const results = await Promise.all(done)
    const seconds = (performance.now() - t0) / 1000
    const cpu = results.every((r) => r.cpuSeconds !== undefined) ? results.reduce((a, r) => a + r.cpuSeconds!, 0) / (share * threads) : undefined
    return { perS: (share * threads) / seconds, matches: results.reduce((a, r) => a + (r.matches ?? 0), 0), ...(cpu !== undefined ? { cpuSecondsPerQuery: cpu } : {}) }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
}

const same = (a: PdqMatch[], b: PdqMatch[]) => a.length === b.length && a.every((m, i) => m.index === b[i]!.index && m.distance === b[i]!.distance)

export interface BruteCheck {
  /** Seconds brute force took over the sample. */
  bruteSeconds: number
  /** Matches brute force found, and how many of them the index found. */
  bruteMatches: number
  found: number
  /** Every sampled answer equal to brute force's, in the same order. */
  exact: boolean
}

/**
 * Runs the first `sample` queries through brute force and through `search`,
 * timing brute force (the baseline) and comparing the answers; `each` sees
 * every query with brute force's answer (for further checks).
 */
export function checkAgainstBruteForce(hashes: Uint8Array, n: number, queries: Uint8Array, sample: number, d: number,
  search: (q: Uint8Array, d: number) => PdqMatch[], each?: (i: number, q: Uint8Array, want: PdqMatch[]) => void): BruteCheck {
  const r: BruteCheck = { bruteSeconds: 0, bruteMatches: 0, found: 0, exact: true }
  for (let i = 0; i < sample; i++) {
    const q = queries.subarray(i * 32, i * 32 + 32)
    const t0 = performance.now()
    const want = bruteForce(hashes, n, q, d)
    r.bruteSeconds += (performance.now() - t0) / 1000
    const got = search(q, d)
    const wanted = new Set(want.map((m) => m.index))
    r.found += got.filter((m) => wanted.has(m.index)).length
    r.bruteMatches += want.length
    if (!same(got, want)) r.exact = false
    each?.(i, q, want)
  }
  return r
}

export async function measurePdqMatch(opts: PdqMatchOptions = {}): Promise<PdqMatchResult> {
  const scale = opts.scale ?? 1
  const d = opts.maxDistance ?? 31
  const threads = opts.threads ?? Math.min(2, availableParallelism())
  const say = opts.say ?? (() => {})
  const n = Math.max(1000, Math.round(FULL_SIZE * scale))
  const loadStart = Number(loadavg()[0]!.toFixed(2))

  say(`pdq_match: ${n.toLocaleString('en')} random hashes…`)
  const hashes = new Uint8Array(new SharedArrayBuffer(n * 32))
  fillRandom(new Uint32Array(hashes.buffer), 2025)
  const queries = makeQueries(hashes, n, QUERIES)

  say('pdq_match: building the index…')
  const cpu0 = process.cpuUsage()
  const b0 = performance.now()
  const index = PdqIndex.build(hashes, n, { shared: true })
  const buildSeconds = (performance.now() - b0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const built = memoryOf(process.pid)

  // One thread: queries in order until MIN_SECONDS have passed (at least 1,000), after 200 to warm up.
  say('pdq_match: one thread…')
  answer(index, queries, 0, 200, d)
  let done = 200
  let seconds = 0
  let cpuSeconds = 0
  while (done < QUERIES / 2 && (seconds < MIN_SECONDS || done < 1200)) {
    const r = answer(index, queries, done, Math.min(QUERIES / 2, done + 500), d)
    seconds += r.seconds
    cpuSeconds += r.cpuSeconds ?? NaN
    done = Math.min(QUERIES / 2, done + 500)
  }
  const oneThread = (done - 200) / seconds
  const cpuUsOneThread = (cpuSeconds / (done - 200)) * 1e6

  say(`pdq_match: ${threads} threads…`)
  const parallel = await parallelRate(index, queries, QUERIES / 2, QUERIES, d, threads)

  // Recall against brute force on a sample (brute force reads every hash per query: a few seconds' worth).
  const sample = Math.max(20, Math.min(400, Math.round(5e8 / n)))
  say(`pdq_match: brute force on ${sample} queries…`)
  const { bruteSeconds, bruteMatches, found, exact } = checkAgainstBruteForce(hashes, n, queries, sample, d, (q, dd) => index.search(q, dd))
  const bruteRate = sample / bruteSeconds
  const after = memoryOf(process.pid)

  return {
    hashes: n,
    max_distance: d,
    threads,
    queries_per_s: Math.round(parallel.perS),
    queries_per_s_one_thread: Math.round(oneThread),
    cpu_us_per_query_one_thread: Math.round(cpuUsOneThread),
    cpu_us_per_query_threads: Math.round((parallel.cpuSecondsPerQuery ?? NaN) * 1e6),
    brute_force_per_s_one_thread: Number(bruteRate.toFixed(2)),
    speedup_one_thread: Math.round(oneThread / bruteRate),
    recall: bruteMatches === 0 ? 1 : found / bruteMatches,
    exact,
    sample_queries: sample,
    sample_matches: bruteMatches,
    build_s: Number(buildSeconds.toFixed(2)),
    build_cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    index_bytes: index.memoryBytes(),
    index_bytes_per_hash: Math.round(index.memoryBytes() / n),
    rss_mib: Math.round(Math.max(built.rssMiB, after.rssMiB)),
    rss_peak_mib: Math.round(after.peakMiB),
    load_average: Number(loadavg()[0]!.toFixed(2)),
    load_average_start: loadStart,
    method: `${n} seeded random PDQ hashes in a PdqIndex (16 × 16-bit multi-index hashing with a pigeonring filter); distinct queries, half stored hashes with 0..31 bits flipped, half random, d ≤ ${d}; ${threads} worker threads share the index and each answers ${(QUERIES / 2 / threads).toLocaleString('en')} queries (wall clock from a common start); one thread: ≥ ${MIN_SECONDS} s of queries after 200 to warm up; recall and exactness against bruteForce on the first ${sample} queries, whose time gives the brute-force rate; RSS of this process (hashes, index, queries; workers share the memory)`,
  }
}

if (isMainThread && process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const argv = process.argv.slice(2)
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    return i >= 0 ? Number(argv[i + 1]) : undefined
  }
  const scale = value('--scale') ?? 1
  if (!(scale > 0 && scale <= 1)) throw new Error('--scale is a number in (0, 1]')
  const result = await measurePdqMatch({ scale, maxDistance: value('--distance'), threads: value('--threads'), say: (line) => process.stderr.write(line + '\n') })
  console.log(JSON.stringify(result, null, 2))
}
