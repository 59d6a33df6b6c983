/**
 * ingest_per_s: records per second through the publishing path of one node —
 * validate, sign (worker threads), append (tree, tiles, indexes), signed
 * checkpoint per batch, durable (fsync) before the caller is answered.
 *
 * A fresh one-member federation (no witnesses to wait for) with the default
 * node.json batch settings; the node runs in this process (startNode) and
 * records are handed to node.publisher.submit directly (the HTTP route
 * POST /records adds JSON parsing on top: not measured here). A warm-up
 * batch goes first; then all records are submitted at once and the clock
 * stops when the last promise resolves (= durably stored).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode } from '../../node/node.ts'
import type { RecordBody } from '../../node/publisher.ts'
import { planFederation } from '../federation.ts'
import { FEDERATION } from './loader.ts'
import { indicatorBody } from './records.ts'
import type { Measured } from './report.ts'

export async function measureIngest(records: number): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-ingest-'))
  try {
    const { nodes } = await planFederation({ dir, federation: FEDERATION, names: ['ingest'], threshold: 1 })
    const node = await startNode({ dir: nodes[0]!.dir, logLevel: 'silent' })
    try {
      const warm = 2000
      const bodies = Array.from({ length: warm + records }, (_, n) => indicatorBody('ingest', n) as RecordBody)
      await Promise.all(bodies.slice(0, warm).map((b) => node.publisher.submit(b)))
      const batches0 = node.publisher.stats.batches
      const t0 = performance.now()
      await Promise.all(bodies.slice(warm).map((b) => node.publisher.submit(b)))
      const seconds = (performance.now() - t0) / 1000
      const stored = node.store.size(node.origin)
      if (stored !== warm + records) throw new Error(`the log holds ${stored} entries, expected ${warm + records}`)
      return {
        key: 'ingest_per_s',
        value: records / seconds,
        method: `${records.toLocaleString('en')} indicator records submitted at once to node.publisher.submit of one in-process node (fresh one-member federation, default batch settings max_records=${node.settings.batch.max_records} max_ms=${node.settings.batch.max_ms}, signing in the node's worker pool, one worker per core); timed from the first submit to the last durable acknowledgement, after a ${warm}-record warm-up`,
        details: { records, seconds, batches: node.publisher.stats.batches - batches0, rejected: node.publisher.stats.rejected },
      }
    } finally {
      await node.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
