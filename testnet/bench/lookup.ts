/**
 * lookup_p99_ms: latency of GET /lookup/<alg>/<hex> (provenance with
 * inclusion proofs) on a node process holding the `big` fixture (10M live
 * indicators at scale 1). One request at a time over a keep-alive
 * connection, for values picked at random (fixed seed) among the stored
 * indicators, revoked ones included; after a warm-up. Latency = request
 * sent to last byte received; p99 by nearest rank. Stops at `count`
 * requests or the time limit (at least 100 requests).
 *
 * Measured in steady state: the node's store files are in the OS page
 * cache, as on a node with the RAM for its store (4.2 GB at 10M here, 24 GiB
 * on the box) that has served for a while. A lookup at 10M reads about six
 * random places of the store (value index, id index, entry, hash tiles,
 * references); each one not in memory is a disk read of ~1–10 ms on this
 * VM. So the run first makes one pass of `count` lookups as the cache finds
 * them (its p99 is in details: cold_pass_p99_ms), then reads the store files
 * once, then measures.
 */
import { openSync, readSync, closeSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { toHex } from '../../protocol/bytes.ts'
import { get, percentile, median, rng } from './client.ts'
import { algOf, benchValue, indexOfIndicator, INDICATORS_PER_BLOCK, BLOCK } from './records.ts'
import type { FixtureInfo } from './loader.ts'
import type { Measured } from './report.ts'

/** Indicator numbers stored in a bench log of `entries` entries. */
export function storedIndicators(entries: number): number {
  return Math.floor(entries / BLOCK) * INDICATORS_PER_BLOCK + Math.min(entries % BLOCK, INDICATORS_PER_BLOCK)
}

export async function measureLookup(url: string, token: string, f: FixtureInfo, dbDir: string, count: number, limitMs: number): Promise<Measured> {
  const random = rng(99)
  const n = storedIndicators(f.entries)
  const once = async () => {
    const k = Math.floor(random() * n)
    const r = await get(`${url}/lookup/${algOf(k)}/${toHex(benchValue(f.origin, k))}`, token)
    if (r.status !== 200) throw new Error(`lookup → ${r.status} ${r.body.toString('utf8').slice(0, 200)}`)
    const doc = JSON.parse(r.body.toString('utf8')) as { records: { index: number }[] }
    if (doc.records.length !== 1 || doc.records[0]!.index !== indexOfIndicator(k)) throw new Error(`lookup of indicator ${k} did not find it at index ${indexOfIndicator(k)}`)
    return r.ms
  }
  const pass = async () => {
    const ms: number[] = []
    const t0 = performance.now()
    while (ms.length < count && (ms.length < 100 || performance.now() - t0 < limitMs)) ms.push(await once())
    return ms
  }
  for (let i = 0; i < 20; i++) await once()
  const cold = await pass()
  const w0 = performance.now()
  const warmed = readFilesOnce(dbDir)
  const warmSeconds = (performance.now() - w0) / 1000
  const ms = await pass()
  return {
    key: 'lookup_p99_ms',
    value: percentile(ms, 99),
    method: `${ms.length} sequential GET /lookup/<alg>/<hex> (auditor token, keep-alive) for random stored indicators of a node process holding ${f.entries.toLocaleString('en')} entries (bench loader fixture 'big'); latency to the last byte; p99 by nearest rank. Steady state: after 20 warm-up requests and a first pass of ${cold.length} lookups as the page cache found the store (cold_pass_*), the store's files (${(warmed / 2 ** 30).toFixed(1)} GiB) were read once into the OS page cache, as on a node with the RAM for its store that has served a while`,
    details: {
      requests: ms.length, p50_ms: median(ms), p90_ms: percentile(ms, 90), max_ms: Math.max(...ms),
      cold_pass_requests: cold.length, cold_pass_p50_ms: median(cold), cold_pass_p99_ms: percentile(cold, 99),
      store_bytes_read: warmed, store_read_seconds: warmSeconds,
    },
  }
}

/** Reads every file of a directory once (into the OS page cache); returns the bytes read. */
function readFilesOnce(dir: string): number {
  const buf = Buffer.allocUnsafe(1 << 20)
  let total = 0
  for (const name of readdirSync(dir)) {
    const fd = openSync(join(dir, name), 'r')
    try {
      for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) total += n
    } finally {
      closeSync(fd)
    }
  }
  return total
}
