/**
 * Retention: indicators with `expires` leave the current set when their
 * owner's node revokes them (reason `expired`), and every node's feed and
 * snapshot show it the same way (spec/redaction.md §R.9).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { sha256, toHex, utf8 } from '../protocol/bytes.ts'
import { signEntry } from '../protocol/entry.ts'
import { generateKeyPair } from '../protocol/ed25519.ts'
import { leafHash } from '../protocol/hash.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { MemoryKV } from '../node/storage/kv.ts'
import { Store } from '../node/storage/store.ts'
import type { CairnNode } from '../node/node.ts'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'

const ORIGIN = 'test.cairn/owner'
const owner = generateKeyPair(sha256(utf8('retention-test-owner')))

function rec(seq: number, expires?: number): CairnRecord {
  const r: CairnRecord = { v: 1, type: 'indicator', log: ORIGIN, seq, time: 1000, alg: 'md5', value: sha256(utf8(`r-${seq}`)).subarray(0, 16), category: 'B1', kind: 'known_material', media: 'image' }
  if (expires !== undefined) r.expires = expires
  return r
}

test('store: the expiry index of a tracked log lists what is due, earliest first', async () => {
  const store = await Store.open(new MemoryKV())
  await store.registerLog(ORIGIN)
  store.trackExpiry(ORIGIN)
  const records = [rec(0, 5000), rec(1), rec(2, 2000), rec(3, 9000)]
  const items = records.map((r) => {
    const entry = signEntry(owner.seed, r)
    return { entry, id: leafHash(entry), record: r }
  })
  await store.append(ORIGIN, 0, items)
  const due = async (now: number) => {
    const out: number[] = []
    for await (const x of store.expiring(ORIGIN, now)) out.push(x.expires)
    return out
  }
  assert.equal(await due(1999), [])
  assert.equal(await due(5000), [2000, 5000])
  assert.equal(await due(1e13), [2000, 5000, 9000])
  await store.clearExpiry(ORIGIN, 2000, items[2]!.id)
  assert.equal(await due(5000), [5000])
  // Untracked logs are not indexed.
  await store.registerLog('test.cairn/other')
  const o: CairnRecord = { ...rec(0, 1500), log: 'test.cairn/other' }
  const e = signEntry(owner.seed, o)
  await store.append('test.cairn/other', 0, [{ entry: e, id: leafHash(e), record: o }])
  const none = []
  for await (const x of store.expiring('test.cairn/other', 1e13)) none.push(x)
  assert.is(none.length, 0)
})

let cluster: Cluster | undefined

test.after(async () => {
  await cluster?.close()
})

async function getJson<T>(node: CairnNode, path: string, token: string): Promise<T> {
  const res = await fetch(node.url + path, { headers: { authorization: `Bearer ${token}` } })
  assert.is(res.status, 200, path)
  return (await res.json()) as T
}

test('federation: an indicator that expires leaves the set as a remove (reason expired) on every node', async () => {
  cluster = await startCluster(3)
  const [a] = cluster.nodes as [CairnNode, CairnNode, CairnNode]
  const post = async (body: Record<string, unknown>) => {
    const res = await fetch(a.url + '/records', {
      method: 'POST', headers: { authorization: `Bearer ${cluster!.operatorTokens[0]}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    })
    const out = await res.json()
    assert.is(res.status, 201, JSON.stringify(out))
    return out as { id: string; seq: number }
  }
  const base = { type: 'indicator', alg: 'sha256', category: 'A1', kind: 'known_material', media: 'image' }
  // The first batch waits for the node's signing workers to start; `expires` must still be after the record's time.
  const forever = await post({ ...base, value: toHex(sha256(utf8('no-expiry'))) })
  // A few seconds of margin: on a loaded machine the record's time (set when its batch is signed) can lag the request.
  const short = await post({ ...base, value: toHex(sha256(utf8('short-lived'))), expires: Date.now() + 10_000 })
  const long = await post({ ...base, value: toHex(sha256(utf8('long-lived'))), expires: Date.now() + 3_600_000 })
  const tokens = await Promise.all(cluster.nodes.map(async (n) => (await n.tokens.grant('provider', 'retention-test')).token))

  type Feed = { items: { op: string; id: string; reason?: string; value?: string }[] }
  await waitFor('every node shows the expiry as a remove', async () => {
    if (!converged(cluster!.nodes, 2)) return false
    for (const [i, n] of cluster!.nodes.entries()) {
      const feed = await getJson<Feed>(n, '/feed?limit=10000', tokens[i]!)
      if (!feed.items.some((x) => x.op === 'remove' && x.id === short.id)) return false
    }
    return true
  }, 60_000)
  assert.ok(a.retention.stats.expired >= 1)
  const feeds: Feed[] = []
  for (const [i, n] of cluster.nodes.entries()) {
    const feed = await getJson<Feed>(n, '/feed?limit=10000', tokens[i]!)
    feeds.push(feed)
    const rm = feed.items.filter((x) => x.op === 'remove')
    assert.is(rm.length, 1, `${n.origin}: one remove`)
    assert.is(rm[0]!.id, short.id)
    assert.is(rm[0]!.reason, 'expired')
    assert.is(rm[0]!.value, toHex(sha256(utf8('short-lived'))))
    const snap = await (await fetch(n.url + '/feed/snapshot?format=jsonl', { headers: { authorization: `Bearer ${tokens[i]}` } })).text()
    const ids = snap.trim().split('\n').map((l) => JSON.parse(l) as { id?: string }).filter((x) => x.id).map((x) => x.id)
    assert.not.ok(ids.includes(short.id), `${n.origin}: the snapshot no longer has it`)
    assert.ok(ids.includes(long.id) && ids.includes(forever.id), `${n.origin}: the others stay`)
    assert.not.ok(await n.store.inCurrentSet(Buffer.from(short.id, 'hex')))
  }
  // The same cursor gives the same feed on every node.
  assert.equal(feeds[1]!.items, feeds[0]!.items)
  assert.equal(feeds[2]!.items, feeds[0]!.items)
  // A later sweep revokes nothing more.
  assert.is(await a.retention.sweep(), 0)
  assert.ok(short.seq < long.seq)
})

test.run()
