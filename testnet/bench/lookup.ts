/**
 * lookup_p99_ms: latency of GET /lookup/<alg>/<hex> (provenance with
 * inclusion proofs) on a node process holding the `big` fixture (10M live
 * indicators at scale 1). One request at a time over a keep-alive
 * connection, for values picked at random (fixed seed) among the stored
 * indicators, revoked ones included; after a warm-up. Latency = request
 * sent to last byte received; p99 by nearest rank. Stops at `count`
 * requests or the time limit (at least 100 requests).
 */
import { toHex } from '../../protocol/bytes.ts'
import { get, percentile, median, rng } from './client.ts'
import { algOf, benchValue, indexOfIndicator, INDICATORS_PER_BLOCK, BLOCK } from './records.ts'
import type { FixtureInfo } from './loader.ts'
import type { Measured } from './report.ts'

/** Indicator numbers stored in a bench log of `entries` entries. */
export function storedIndicators(entries: number): number {
  return Math.floor(entries / BLOCK) * INDICATORS_PER_BLOCK + Math.min(entries % BLOCK, INDICATORS_PER_BLOCK)
}

export async function measureLookup(url: string, token: string, f: FixtureInfo, count: number, limitMs: number): Promise<Measured> {
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
  for (let i = 0; i < 20; i++) await once()
  const ms: number[] = []
  const t0 = performance.now()
  while (ms.length < count && (ms.length < 100 || performance.now() - t0 < limitMs)) ms.push(await once())
  return {
    key: 'lookup_p99_ms',
    value: percentile(ms, 99),
    method: `${ms.length} sequential GET /lookup/<alg>/<hex> (auditor token, keep-alive) for random stored indicators of a node process holding ${f.entries.toLocaleString('en')} entries (bench loader fixture 'big'); latency to the last byte; p99 by nearest rank, after 20 warm-up requests`,
    details: { requests: ms.length, p50_ms: median(ms), p90_ms: percentile(ms, 90), max_ms: Math.max(...ms) },
  }
}
