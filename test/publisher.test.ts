/**
 * The publisher's batching: a record arriving at an idle log is signed at
 * once; records arriving soon after wait for the next batch, which starts
 * at least max_ms after the last one (so batches stay as large under load),
 * and stopping integrates what waits. One in-process node with max_ms set
 * far beyond the test's waits, so "still waiting" cannot be a timing fluke.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, type Cluster } from './support/cluster.ts'
import { sha256, utf8 } from '../protocol/bytes.ts'
import type { RecordBody, Published } from '../node/publisher.ts'
import type { CairnNode } from '../node/node.ts'

function indicator(tag: string): RecordBody {
  return { type: 'indicator', alg: 'sha256', value: sha256(utf8(tag)), category: 'A1', kind: 'known_material', media: 'image' }
}

/** Resolves with the promise's value, or with 'pending' if it has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'pending'>((resolve) => { timer = setTimeout(() => resolve('pending'), ms) })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

let cluster: Cluster | undefined

test.after(async () => {
  await cluster?.close()
})

test('a lone record at an idle log is signed at once; the next ones wait for the next batch window, and stop integrates them', async () => {
  cluster = await startCluster(1, { batch: { max_records: 2000, max_ms: 60_000 } })
  const node = cluster.nodes[0] as CairnNode
  const before = node.publisher.stats.batches
  const first = await within(node.publisher.submit(indicator('first')), 20_000)
  assert.ok(first !== 'pending', 'the first record is not held for the 60 s window')
  assert.is((first as Published).seq, node.store.size(node.origin) - 1)
  assert.is(node.publisher.stats.batches, before + 1)

  const later = [node.publisher.submit(indicator('second')), node.publisher.submit(indicator('third'))]
  assert.is(await within(Promise.all(later), 500), 'pending', 'records right after a batch wait for the next window')
  assert.is(node.publisher.stats.batches, before + 1)

  await node.publisher.stop()
  const done = await Promise.all(later)
  assert.equal(done.map((p) => p.seq), [(first as Published).seq + 1, (first as Published).seq + 2])
  assert.is(node.publisher.stats.batches, before + 2, 'the two waiting records went in one batch')
})

test.run()
