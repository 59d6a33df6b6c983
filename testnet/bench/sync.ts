/**
 * sync_per_s: records per second of catch-up when an empty node syncs a log
 * of the `signed` fixture (1M genuinely signed entries at scale 1) from a
 * peer: range sync over libp2p, every signature verified (the node's worker
 * pool, both cores), the tree checked against the signed checkpoint, stored.
 *
 * The serving node runs as its own process; the empty node is started in
 * this process (startNode) on a fresh store. The clock starts when the empty
 * node first knows the target checkpoint (gossip or status exchange, polled
 * every 5 ms) and stops when its store holds every entry. Time from start
 * to done is reported too.
 */
import { join } from 'node:path'
import { startNode } from '../../node/node.ts'
import { dropStore, type FixtureInfo } from './loader.ts'
import { sleep } from './client.ts'
import type { Measured } from './report.ts'

export async function measureSync(f: FixtureInfo, syncer: string, timeoutMs: number): Promise<Measured> {
  dropStore(f, syncer)
  const started = performance.now()
  const node = await startNode({ dir: join(f.dir, syncer), logLevel: 'silent' })
  try {
    const up = performance.now()
    let t0: number | undefined
    const deadline = up + timeoutMs
    while (node.store.size(f.origin) < f.entries) {
      if (t0 === undefined && (node.sync.targetSizes()[f.origin] ?? 0) >= f.entries) t0 = performance.now()
      if (performance.now() > deadline) throw new Error(`sync reached ${node.store.size(f.origin)} of ${f.entries} entries in ${timeoutMs / 1000} s`)
      await sleep(5)
    }
    const t1 = performance.now()
    t0 ??= up
    const seconds = (t1 - t0) / 1000
    return {
      key: 'sync_per_s',
      value: f.entries / seconds,
      method: `an empty node (in this process, default worker pool) syncs a log of ${f.entries.toLocaleString('en')} genuinely signed entries (bench loader, cached fixture 'signed') from a node process over libp2p range sync; timed from the moment it knows the target checkpoint to the moment its store holds every entry`,
      details: {
        entries: f.entries, seconds,
        start_to_done_s: (t1 - started) / 1000,
        ranges: node.sync.stats.rangesSynced, rejected: node.sync.stats.rejected,
      },
    }
  } finally {
    await node.stop()
    dropStore(f, syncer)
  }
}
