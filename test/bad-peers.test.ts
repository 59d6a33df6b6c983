/**
 * Hostile peers: a peer outside the roster is refused; a roster member's
 * identity serving forged entries, entries that do not match the signed
 * checkpoint, or oversized frames is refused and counted, and the victim's
 * store is untouched — it then syncs correctly from an honest peer.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, waitFor, type Cluster } from './support/cluster.ts'
import { createPeer, type Peer } from '../node/replication/peer.ts'
import { loadKeys } from '../node/config.ts'
import { PROTO_STATUS, PROTO_SYNC, decodeSyncRequest, encodeSyncHeader, textFrame } from '../node/replication/messages.ts'
import { encodeEntry, decodeEntry } from '../protocol/entry.ts'
import { sha256, utf8, toHex } from '../protocol/bytes.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'

const indicator = (tag: string): RecordBody => ({ type: 'indicator', alg: 'md5', value: sha256(utf8(tag)).subarray(0, 16), category: 'A2', kind: 'known_material', media: 'image' })

let cluster: Cluster
let evil: Peer | undefined
let outsider: CairnNode | undefined

test.after(async () => {
  await evil?.stop()
  await outsider?.stop()
  await cluster?.close()
})

test('a peer outside the roster is refused and learns nothing', async () => {
  cluster = await startCluster(3, { outsiders: ['intruder'] })
  await cluster.nodes[0]!.publisher.submit(indicator('x'))
  outsider = await cluster.startOutsider(0)
  await waitFor('members refused the intruder', () => cluster.nodes.some((n) => n.peer.stats().refused.inbound_not_allowed > 0), 20_000)
  await new Promise((r) => setTimeout(r, 2000))
  assert.is(outsider.store.size(cluster.nodes[0]!.origin), 0)
  for (const n of cluster.nodes) assert.not.ok(n.peer.connectedPeers().includes(outsider.peer.peerId), `${n.origin} holds no connection to the intruder`)
  await outsider.stop()
  outsider = undefined
})

test('forged, inconsistent, badly proven and oversized sync responses are refused and counted; the store stays clean', async () => {
  const [a, b] = cluster.nodes as CairnNode[]
  await cluster.stop(2) // c will be the victim; it must not have a's log yet
  await Promise.all(Array.from({ length: 49 }, (_, i) => a!.publisher.submit(indicator(`e${i}`))))
  await waitFor('b holds a\'s 50 entries', () => b!.store.size(a!.origin) === 50, 30_000)
  const note = a!.store.checkpoint(a!.origin)!
  const genuine = await a!.store.entries(a!.origin, 0, 50)
  await cluster.stop(0)
  await cluster.stop(1)

  // The attacker holds b's libp2p identity (a compromised member host) and listens on b's address.
  let mode: 'forged' | 'inconsistent' | 'badproof' | 'oversized' = 'forged'
  const bKeys = await loadKeys(cluster.planned[1]!.dir)
  const cPeerId = (await loadKeys(cluster.planned[2]!.dir)).peerId
  evil = await createPeer({ privateKeySeed: bKeys.p2pSeed, listen: `/ip4/127.0.0.1/tcp/${cluster.planned[1]!.p2pPort}`, allowedPeers: () => new Set([cPeerId]), topic: '/cairn/testnet.cairn/checkpoints/1' })
  await evil.handle(PROTO_STATUS, () => [textFrame(note)])
  await evil.handle(PROTO_SYNC, (req) => {
    const r = decodeSyncRequest((req as Uint8Array[])[0]!)
    const entries = genuine.slice(r.start, r.end)
    if (mode === 'forged') {
      const { recordBytes, signature } = decodeEntry(entries[0]!)
      const bad = new Uint8Array(signature)
      bad[5] ^= 1
      entries[0] = encodeEntry(recordBytes, bad)
      return [encodeSyncHeader({ start: r.start, count: entries.length, proof: [] }), ...entries]
    }
    if (mode === 'inconsistent') {
      // Real entries, but the first two swapped: signatures fine, seq wrong, tree wrong.
      ;[entries[0], entries[1]] = [entries[1]!, entries[0]!]
      return [encodeSyncHeader({ start: r.start, count: entries.length, proof: [] }), ...entries]
    }
    if (mode === 'badproof') {
      // Genuine entries, every one valid, with a proof that does not tie them to the checkpoint: refused by the tree check inside the append, before anything is written.
      return [encodeSyncHeader({ start: r.start, count: entries.length, proof: [new Uint8Array(32).fill(7)] }), ...entries]
    }
    return [encodeSyncHeader({ start: r.start, count: entries.length, proof: [] }), new Uint8Array(200_000)]
  }, { maxFrameBytes: 300_000 })
  await evil.start()

  const victim = await cluster.start(2, { syncRangeSize: 16 }) // ranges end short of the checkpoint: their proofs matter
  const before = victim.store.size(a!.origin) // what it synced before it was stopped
  const rootBefore = toHex(victim.store.rootNow(a!.origin))
  assert.ok(before < 50)
  await waitFor('forged signature refused', () => (victim.sync.stats.rejected.PEER_ERROR ?? 0) + (victim.sync.stats.rejected.BAD_SIGNATURE ?? 0) > 0 && (victim.sync.stats.rejected.BAD_SIGNATURE ?? 0) > 0, 30_000)
  assert.is(victim.store.size(a!.origin), before)
  mode = 'inconsistent'
  await waitFor('inconsistent range refused', () => (victim.sync.stats.rejected.SEQ_MISMATCH ?? 0) > 0, 30_000)
  assert.is(victim.store.size(a!.origin), before)
  mode = 'badproof'
  await waitFor('range with a bad proof refused', () => (victim.sync.stats.rejected.INCONSISTENT_CHECKPOINT ?? 0) > 0, 30_000)
  assert.is(victim.store.size(a!.origin), before)
  assert.is(toHex(victim.store.rootNow(a!.origin)), rootBefore, 'nothing of the range was stored')
  mode = 'oversized'
  await waitFor('oversized frame refused', () => victim.peer.stats().badFrames.too_large > 0 || (victim.sync.stats.rejected.TOO_LARGE ?? 0) > 0, 30_000)
  assert.is(victim.store.size(a!.origin), before)
  assert.is(toHex(victim.store.rootNow(a!.origin)), rootBefore, 'the stored tree is unchanged')

  // The honest owner comes back: the victim syncs the real log.
  await evil.stop()
  evil = undefined
  const a2 = await cluster.start(0)
  await waitFor('victim synced the genuine log', () => victim.store.size(a2.origin) === 50, 30_000)
  assert.is(toHex(victim.store.rootNow(a2.origin)), toHex(a2.store.rootNow(a2.origin)))
})

test.run()
