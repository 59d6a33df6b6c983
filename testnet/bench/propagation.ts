/**
 * propagation_p95_ms: from publishing one record on one node to it being
 * visible on all 5 nodes of a testnet.
 *
 * Five real node processes (testnet/launch.ts, default node.json settings,
 * so the publisher's batching window is included), started fresh and waited
 * on until every log is at one cosigned checkpoint. Then, one sample at a
 * time, publishers in turn: POST /records with one indicator, and poll
 * GET /logs on every node until it serves that log at a checkpoint covering
 * the record's seq (`size` > seq: the signed checkpoint a client sees, not
 * merely stored entries). A sample is the time to the last node; samples are
 * spaced by a random 20–120 ms so they do not line up with batch timers.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { launch, waitConverged } from '../launch.ts'
import { call } from '../processes.ts'
import { FEDERATION, BENCH_LIMITS } from './loader.ts'
import { getJson, percentile, median, sleep, rng } from './client.ts'
import { toHex } from '../../protocol/bytes.ts'
import { indicatorBody } from './records.ts'
import type { Measured } from './report.ts'

const NODES = 5

export async function measurePropagation(samples: number): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-propagation-'))
  const names = Array.from({ length: NODES }, (_, i) => `p${i + 1}`)
  const l = await launch(dir, names, FEDERATION, { limits: BENCH_LIMITS })
  try {
    const urls = l.procs.map((p) => p.url)
    await waitConverged(urls, undefined, 120_000)
    const random = rng(8)
    let n = 0
    const acks: number[] = []
    const once = async (k: number): Promise<number[]> => {
      const i = k % NODES
      const p = l.procs[i]!
      const origin = l.planned[i]!.origin
      const ind = indicatorBody(`propagation/${origin}`, n++)
      const body = { ...ind, value: toHex(ind.value) }
      const t0 = performance.now()
      const r = await call<{ seq: number }>(p.url, p.operatorToken, 'POST', '/records', body)
      acks.push(performance.now() - t0)
      const seen = new Array<number>(NODES).fill(NaN)
      const deadline = t0 + 30_000
      await Promise.all(urls.map(async (u, j) => {
        while (performance.now() < deadline) {
          const logs = await getJson<{ origin: string; size: number }[]>(`${u}/logs`)
          if ((logs.find((x) => x.origin === origin)?.size ?? 0) > r.seq) {
            seen[j] = performance.now() - t0
            return
          }
          await sleep(2)
        }
      }))
      if (seen.some((x) => Number.isNaN(x))) throw new Error(`a record published on ${origin} was not visible on every node within 30 s`)
      return seen
    }
    for (let k = 0; k < NODES; k++) await once(k) // warm-up: every publisher once
    const all: number[] = []
    const perNode: number[][] = []
    for (let k = 0; k < samples; k++) {
      const seen = await once(k)
      perNode.push(seen)
      all.push(Math.max(...seen))
      await sleep(20 + random() * 100)
    }
    const p95 = percentile(all, 95)
    // Per sample, the nodes in the order they showed the record: the k-th node's p50 and p95.
    const byRank = Array.from({ length: NODES }, (_, r) => perNode.map((s) => [...s].sort((a, b) => a - b)[r]!))
    return {
      key: 'propagation_p95_ms',
      value: p95,
      method: `${NODES} node processes (fresh testnet, default batch settings: a record at an idle log is signed at once, batches start at least max_ms apart); ${samples} samples after a warm-up, publishers in turn: POST /records with one indicator, then poll GET /logs on all ${NODES} nodes (every ~2 ms) until each serves the log at a checkpoint covering the record; a sample is the time to the last node; p95 by nearest rank`,
      details: {
        samples, p50_ms: median(all), max_ms: Math.max(...all),
        publisher_ack_p50_ms: median(acks.slice(NODES)),
        publisher_visible_p50_ms: median(perNode.map((s, k) => s[k % NODES]!)),
        first_other_node_p50_ms: median(perNode.map((s, k) => Math.min(...s.filter((_, j) => j !== k % NODES)))),
        kth_node_visible_p50_ms: byRank.map((c) => Math.round(median(c))),
        kth_node_visible_p95_ms: byRank.map((c) => Math.round(percentile(c, 95))),
      },
    }
  } finally {
    await l.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
