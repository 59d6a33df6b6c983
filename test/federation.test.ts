/**
 * Multi-node behaviour on 127.0.0.1: convergence and witnessing, restart and
 * catch-up, a late joiner syncing from non-owners, and equivocation.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { toHex } from '../protocol/bytes.ts'
import { rejects } from './helpers.ts'
import { signCheckpoint, openCheckpoint } from '../protocol/checkpoint.ts'
import { verifyCosignatures } from '../protocol/cosignature.ts'
import { verifyEquivocationProof } from '../protocol/equivocation.ts'
import { loadKeys } from '../node/config.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'
import { sha256, utf8 } from '../protocol/bytes.ts'

function indicator(tag: string): RecordBody {
  return { type: 'indicator', alg: 'sha256', value: sha256(utf8(tag)), category: 'A1', kind: 'known_material', media: 'image' }
}

async function publishMany(node: CairnNode, n: number, tag: string) {
  await Promise.all(Array.from({ length: n }, (_, i) => node.publisher.submit(indicator(`${tag}-${i}`))))
}

let cluster: Cluster

function describe(nodes: CairnNode[]): string {
  return nodes.map((n) => `${n.origin}: ` + n.store.listLogs().map((l) => `${l.origin.split('/')[1]}=${l.size}/${l.checkpointSize}/${l.checkpoint ? l.checkpoint.split('\n\n')[1]!.split('\n').filter((x) => x.startsWith('— ')).length - 1 : '-'}`).join(' ') + ` peers=${n.peer.connectedPeers().length} rejected=${JSON.stringify(n.sync.stats.rejected)} witness=${JSON.stringify(n.witness.stats)} cosign=${JSON.stringify(n.collector.stats)}`).join('\n')
}

test.after(async () => {
  await cluster?.close()
})

test('three nodes converge to identical roots, each checkpoint cosigned by the other two', async () => {
  cluster = await startCluster(4)
  const [a, b, c] = cluster.nodes as [CairnNode, CairnNode, CairnNode, CairnNode]
  await cluster.stop(3) // the fourth member joins late (below)
  const live = [a, b, c]
  await publishMany(a, 1200, 'a')
  await publishMany(b, 300, 'b')
  await publishMany(c, 7, 'c')
  await waitFor('3-node convergence', () => converged(live, 2) && live.every((n) => n.store.size(cluster.planned[3]!.origin) === 0), 60_000)
  for (const owner of live) {
    const roots = live.map((n) => toHex(n.store.rootNow(owner.origin)))
    assert.is(new Set(roots).size, 1, `${owner.origin} has one root everywhere`)
    const note = b.store.checkpoint(owner.origin)!
    const m = b.roster.member(owner.origin)!
    const opened = openCheckpoint(note, m.vkey)
    assert.is(opened.checkpoint.size, owner.store.size(owner.origin))
    const witnesses = live.filter((x) => x !== owner).map((x) => x.roster.member(x.origin)!.witnessVkey)
    assert.is(verifyCosignatures(note, witnesses, { quorum: 2 }).length, 2)
  }
  assert.is(c.store.currentSetSize(), 1507)
})

test('an announcement of the very checkpoint a node holds is counted and changes nothing; an altered copy is still checked', async () => {
  const [a, b] = cluster.nodes as CairnNode[]
  const note = b.store.checkpoint(a.origin)!
  const seen = b.sync.stats.checkpointsSeen
  const rejected = { ...b.sync.stats.rejected }
  await b.sync.onAnnouncement(note)
  assert.is(b.sync.stats.checkpointsSeen, seen + 1)
  assert.is(b.store.checkpoint(a.origin), note)
  assert.equal(b.sync.stats.rejected, rejected)
  // The same text with the log's signature altered is not the held note: it is opened, and refused.
  const at = note.indexOf('\n— ' + a.origin + ' ') + 4 + a.origin.length + 1
  const sig = note.slice(at, note.indexOf('\n', at))
  const bytes = Buffer.from(sig, 'base64')
  bytes[10] = bytes[10]! ^ 1
  await b.sync.onAnnouncement(note.slice(0, at) + bytes.toString('base64') + note.slice(at + sig.length))
  assert.is(b.store.checkpoint(a.origin), note)
  assert.ok(Object.values(b.sync.stats.rejected).reduce((x, y) => x + y, 0) > Object.values(rejected).reduce((x, y) => x + y, 0), 'the altered note is counted as rejected')
})

test('a stopped node catches up after restart', async () => {
  const [a] = cluster.nodes as CairnNode[]
  await cluster.stop(2)
  await publishMany(a!, 500, 'a2')
  const c = await cluster.start(2)
  await waitFor('restarted node catches up', () => c.store.size(a!.origin) === 1700, 60_000)
  assert.equal(toHex(c.store.rootNow(a!.origin)), toHex(a!.store.rootNow(a!.origin)))
})

test('a late joiner syncs a log from non-owners while the owner is down', async () => {
  const a = cluster.nodes[0]!
  const aOrigin = a.origin
  const aRoot = toHex(a.store.rootNow(aOrigin))
  await cluster.stop(0)
  // Ranges of 64 entries and a budget of 4 KiB for the ranges ahead: they keep stopping to wait for the stored ones.
  const d = await cluster.start(3, { syncRangeSize: 64, syncAheadMaxBytes: 4096 })
  await waitFor('late joiner has a\'s log', () => d.store.size(aOrigin) === 1700, 60_000)
  assert.is(toHex(d.store.rootNow(aOrigin)), aRoot)
  assert.ok(d.sync.stats.entriesSynced >= 1700)
  await cluster.start(0)
})

test('equivocation: a second tree of the same size is detected, proven, and freezes the log everywhere', async () => {
  const live = cluster.nodes
  await waitFor('all four converge', () => converged(live, 3), 60_000).catch((e) => { throw new Error(`${e.message}\n${describe(live)}`) })
  const victim = live[2]!
  const keys = await loadKeys(cluster.planned[2]!.dir)
  const size = victim.store.size(victim.origin)
  const forged = signCheckpoint({ origin: victim.origin, size, root: sha256(utf8('another tree')) }, { name: victim.origin, seed: keys.logSeed })
  // Hand the forged checkpoint to one honest node as if gossiped.
  await live[0]!.sync.onAnnouncement(forged)
  await waitFor('every other node froze the log', () => live.filter((n) => n !== victim).every((n) => n.store.frozenProof(victim.origin) !== undefined), 30_000)
  for (const n of live.filter((x) => x !== victim)) {
    const proof = n.store.frozenProof(victim.origin)!
    const v = verifyEquivocationProof(proof, n.roster.member(victim.origin)!.vkey)
    assert.is(v.origin, victim.origin)
    assert.is(n.status().logs.find((l) => l.origin === victim.origin)!.frozen, true)
  }
  // The owner sees the proof too: its own key signed two trees, so it stops writing.
  await waitFor('the owner froze its own log', () => victim.store.frozenProof(victim.origin) !== undefined, 30_000)
  await rejects(() => victim.publisher.submit(indicator('after-freeze')), 'LOG_FROZEN')
})

test.run()
