/**
 * What the measures share: a light keep-alive HTTP client (node:http, less
 * overhead per request than fetch, so the client steals less CPU from the
 * node on a 2-core box), percentiles, and reading a process's memory.
 */
import http from 'node:http'
import { readFileSync } from 'node:fs'

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

export interface Got {
  status: number
  body: Buffer
  /** Milliseconds from sending the request to the last byte. */
  ms: number
}

/**
 * GET `url` with a bearer token. With `onData`, the body is handed over
 * chunk by chunk and not kept (streams of gigabytes); `signal` aborts.
 */
export function get(url: string, token?: string, opts: { onData?: (chunk: Buffer) => void; signal?: AbortSignal } = {}): Promise<Got> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: token ? { authorization: `Bearer ${token}` } : {}, signal: opts.signal }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => (opts.onData ? opts.onData(c) : chunks.push(c)))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - t0 }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

/** POST a JSON body with a bearer token; the answer is kept whole. */
export function post(url: string, token: string, body: unknown): Promise<Got> {
  const t0 = performance.now()
  const data = Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': data.length },
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - t0 }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(data)
  })
}

/** GET and parse JSON; a non-2xx answer throws with its body. */
export async function getJson<T>(url: string, token?: string): Promise<T> {
  const r = await get(url, token)
  if (r.status < 200 || r.status >= 300) throw new Error(`GET ${url.replace(/^https?:\/\/[^/]+/, '')} → ${r.status} ${r.body.toString('utf8').slice(0, 200)}`)
  return JSON.parse(r.body.toString('utf8')) as T
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN
  const s = [...samples].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}

export function median(samples: number[]): number {
  return percentile(samples, 50)
}

/**
 * Resident set size and its peak (VmHWM) of a process, in MiB, from /proc
 * (Linux), with the resident set split into anonymous memory (the heap and
 * what the process allocated) and file-backed pages (level's memory-mapped
 * table files: page cache the kernel can drop at will).
 */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number; anonMiB: number; fileMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024, anonMiB: kib('RssAnon') / 1024, fileMiB: kib('RssFile') / 1024 }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Runs `fn` `total` times with `concurrency` calls in flight. */
export async function pool(total: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (next < total) await fn(next++)
  }))
}

/** A small deterministic PRNG, so runs pick the same samples. */
export { mulberry32 as rng } from '../random.ts'
