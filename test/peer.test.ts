import '../node/polyfill.ts'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  BATCH_BYTES, END_OF_FRAMES, FrameBatcher, FrameDecoder, batchFrames, decodeStatus, encodeFrame, encodeStatus, encodeVarint,
} from '../node/replication/framing.ts'
import { createPeer, peerIdFromSeed, type Peer } from '../node/replication/peer.ts'
import { LedgerError, isLedgerError } from '../protocol/errors.ts'

// ---------------------------------------------------------------- framing (no libp2p)

function record(i: number, size = 200): Uint8Array {
  const out = new Uint8Array(Math.max(size, 4))
  new DataView(out.buffer).setUint32(0, i)
  out.fill(i & 0xff, 4)
  return out.subarray(0, size)
}

function indexOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0)
}

test('framing: frames survive any split of the byte stream, including inside length prefixes', () => {
  const payloads = [0, 1, 126, 127, 128, 300, 0, 16_383, 16_384, 70_000].map((n, i) => record(i, n))
  const wire = new Uint8ArrayList(...payloads.map((p) => encodeFrame(p)))
  const bytes = wire.subarray()
  for (const step of [1, 2, 3, 7, 1000, bytes.byteLength]) {
    const decoder = new FrameDecoder()
    const out: Array<Uint8Array | null> = []
    for (let i = 0; i < bytes.byteLength; i += step) out.push(...decoder.push(bytes.subarray(i, i + step)))
    assert.is(out.length, payloads.length, `step ${step}`)
    out.forEach((f, i) => assert.equal(f, payloads[i]))
    assert.is(decoder.bufferedBytes, 0)
  }
})

test('framing: an oversized frame is refused from its length prefix alone', () => {
  const decoder = new FrameDecoder(1024)
  assert.is(new FrameDecoder(1024).push(encodeFrame(new Uint8Array(1024), 1024)).length, 1)
  const prefix = encodeVarint(1025 + 1) // lengths are sent plus one
  try {
    decoder.push(prefix.subarray(0, 2))
    assert.unreachable('accepted an oversized length prefix')
  } catch (err) {
    assert.ok(isLedgerError(err, 'TOO_LARGE'))
  }
  // a run of continuation bytes is refused too, even when the value would be small
  assert.throws(() => new FrameDecoder(1024).push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80)), (e: unknown) => isLedgerError(e, 'TOO_LARGE'))
  assert.throws(() => encodeFrame(new Uint8Array(1025), 1024), (e: unknown) => isLedgerError(e, 'TOO_LARGE'))
})

test('framing: the batcher writes ~64 KiB chunks, never splits a frame, rejects empty frames', async () => {
  const batcher = new FrameBatcher()
  const frames = Array.from({ length: 10_000 }, (_, i) => record(i))
  const chunks: Uint8Array[] = []
  for await (const chunk of batchFrames(frames, batcher)) chunks.push(chunk)
  const rest = batcher.flush()
  if (rest !== undefined) chunks.push(rest)
  assert.ok(chunks.length <= Math.ceil((10_000 * 202) / BATCH_BYTES) + 1, `${chunks.length} writes`)
  for (const chunk of chunks.slice(0, -1)) assert.ok(chunk.byteLength >= BATCH_BYTES)
  const decoder = new FrameDecoder()
  const decoded = chunks.flatMap((c) => {
    const got = decoder.push(c)
    assert.is(decoder.bufferedBytes, 0, 'a chunk ended inside a frame')
    return got
  })
  assert.is(decoded.length, 10_000)
  decoded.forEach((f, i) => assert.is(indexOf(f!), i))
})

test('framing: the trailer follows the frames; empty frames are data, not the end', () => {
  const batcher = new FrameBatcher()
  batcher.add(new Uint8Array(0))
  batcher.add(Uint8Array.of(7))
  batcher.addTrailer(new LedgerError('NOT_FOUND', 'gone'))
  const out = new FrameDecoder().push(batcher.flush()!)
  assert.is(out.length, 4)
  assert.equal(out[0], new Uint8Array(0))
  assert.equal(out[1], Uint8Array.of(7))
  assert.is(out[2], END_OF_FRAMES)
  assert.equal(decodeStatus(out[3]!), { code: 'NOT_FOUND', message: 'gone' })
})

test('framing: a slow async source gets its partial batch flushed instead of waiting for 64 KiB', async () => {
  const batcher = new FrameBatcher()
  let release!: () => void
  const blocked = new Promise<void>((resolve) => { release = resolve })
  async function* slow() {
    yield record(0)
    await blocked // the producer stalls until the first frame has gone out
    yield record(1)
  }
  const it = batchFrames(slow(), batcher)
  const first = await it.next()
  assert.is(first.done, false)
  assert.equal(new FrameDecoder().push(first.value as Uint8Array), [record(0)])
  release()
  assert.is((await it.next()).done, true)
  assert.is(new FrameDecoder().push(batcher.flush()!).length, 1)
})

test('framing: status frames carry our error codes and nothing else', () => {
  assert.is(decodeStatus(encodeStatus()), undefined)
  assert.equal(decodeStatus(encodeStatus(new LedgerError('NOT_FOUND', 'no such\nrange'))), { code: 'NOT_FOUND', message: 'no such range' })
  assert.equal(decodeStatus(encodeStatus(new Error('secret path /etc/x'))), { code: undefined, message: 'internal error' })
  const forged = new Uint8Array([1, ...new TextEncoder().encode('NOT_A_CODE\nhi')])
  assert.equal(decodeStatus(forged), { code: undefined, message: 'hi' })
  assert.throws(() => decodeStatus(Uint8Array.of(7)), (e: unknown) => isLedgerError(e, 'PEER_UNREACHABLE'))
})

// ---------------------------------------------------------------- three peers on loopback

const TOPIC = 'cairn-test/checkpoints'
const RANGE = '/cairn-test/range/1'
const FAIL = '/cairn-test/fail/1'
const DRIP = '/cairn-test/drip/1'
const ECHO = '/cairn-test/echo/1'
const seed = (n: number) => new Uint8Array(32).fill(n)

let a: Peer, b: Peer, c: Peer, outsider: Peer
const members = new Set<string>()
const everyone: Peer[] = []
let dripsClosed = 0

async function waitUntil(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function expectReject(p: Promise<unknown>, check: (e: unknown) => boolean, what: string): Promise<unknown> {
  try {
    await p
  } catch (err) {
    assert.ok(check(err), `${what}: unexpected error ${String(err)}`)
    return err
  }
  assert.unreachable(`${what}: did not fail`)
}

/** Range handler: request = one frame holding a uint32 count; response = that many 200-byte records. */
function rangeHandler(request: Uint8Array[]): Iterable<Uint8Array> {
  const count = indexOf(request[0]!)
  return (function* () { for (let i = 0; i < count; i++) yield record(i) })()
}

function countFrame(n: number): Uint8Array {
  const f = new Uint8Array(4)
  new DataView(f.buffer).setUint32(0, n)
  return f
}

async function makeMember(n: number, listen = '/ip4/127.0.0.1/tcp/0'): Promise<Peer> {
  const peer = await createPeer({ privateKeySeed: seed(n), listen, allowedPeers: () => members, topic: TOPIC, timeoutMs: 3000, redialMinMs: 100, redialMaxMs: 1000 })
  await peer.handle(RANGE, rangeHandler, { maxFrameBytes: 1024 })
  await peer.handle(ECHO, (request) => request)
  await peer.handle(FAIL, async () => { throw new LedgerError('NOT_FOUND', 'no such range') })
  await peer.handle(DRIP, async function* () {
    try {
      for (let i = 0; ; i++) {
        yield record(i)
        await new Promise((r) => setTimeout(r, 20))
      }
    } finally {
      dripsClosed++ // stands for closing a database iterator
    }
  })
  everyone.push(peer)
  return peer
}

test.before(async () => {
  for (const n of [1, 2, 3]) members.add(await peerIdFromSeed(seed(n)))
  a = await makeMember(1)
  b = await makeMember(2)
  c = await makeMember(3)
  // the outsider would happily talk to A, but A does not know it
  const outsiderAllows = new Set(members)
  outsider = await createPeer({ privateKeySeed: seed(9), listen: '/ip4/127.0.0.1/tcp/0', allowedPeers: () => outsiderAllows, topic: TOPIC, timeoutMs: 3000 })
  everyone.push(outsider)
  for (const p of everyone) await p.start()
  outsiderAllows.add(outsider.peerId)
})

test.after(async () => {
  await Promise.all(everyone.map((p) => p.stop()))
  // no listener or socket survives stop(); leftover timers are unref'd (and the
  // process exiting on its own, under test/run.ts's time limit, is the real check)
  await waitUntil('sockets to close', () => !process.getActiveResourcesInfo().some((r) => r.startsWith('TCP')), 5000)
})

test('peer ids come from the seed and are stable', async () => {
  assert.is(a.peerId, await peerIdFromSeed(seed(1)))
  assert.ok(a.peerId.startsWith('12D3KooW'))
  assert.ok(a.multiaddrs().every((m) => m.endsWith(`/p2p/${a.peerId}`)))
})

test('members connect to each other through keepConnected', async () => {
  a.keepConnected([...b.multiaddrs(), ...c.multiaddrs()])
  b.keepConnected([...a.multiaddrs(), ...c.multiaddrs()])
  c.keepConnected([...a.multiaddrs(), ...b.multiaddrs()])
  await waitUntil('a full mesh of connections', () =>
    [a, b, c].every((p) => p.connectedPeers().filter((id) => members.has(id)).length === 2))
})

test('the connection gater refuses a peer outside the roster, in both directions', async () => {
  // inbound: the outsider dials A; A refuses once Noise has told it who is calling
  const before = a.stats().refused.inbound_not_allowed
  await outsider.dial(a.multiaddrs()[0]).catch(() => undefined)
  await waitUntil('A counting the refused inbound connection', () => a.stats().refused.inbound_not_allowed > before)
  await waitUntil('the outsider to be disconnected', () => !a.connectedPeers().includes(outsider.peerId) && !outsider.connectedPeers().includes(a.peerId))

  // outbound, the id known up front: refused before any socket is opened
  await expectReject(a.dial(outsider.multiaddrs()[0]), (e) => isLedgerError(e, 'PEER_REFUSED'), 'dial with /p2p id')
  await expectReject(a.requestAll(outsider.peerId, RANGE, [countFrame(1)]), (e) => isLedgerError(e, 'PEER_REFUSED'), 'request')
  // outbound, the id learnt only in the handshake: refused by the gater after Noise
  const bare = outsider.multiaddrs()[0].replace(/\/p2p\/.*$/, '')
  await expectReject(a.dial(bare), (e) => isLedgerError(e, 'PEER_UNREACHABLE'), 'dial of a bare address')
  const s = a.stats().refused
  assert.ok(s.dial_not_allowed >= 2, JSON.stringify(s))
  assert.ok(s.outbound_not_allowed >= 1, JSON.stringify(s))
  assert.not.ok(a.connectedPeers().includes(outsider.peerId))
})

test('gossip reaches every allowed peer, tagged with its publisher', async () => {
  await waitUntil('topic subscriptions to propagate', () =>
    [a, b, c].every((p) => p.topicPeers().filter((id) => members.has(id)).length === 2))
  const got = new Map<string, string[]>()
  const offs = [b, c].map((p) => p.onGossip((data, from) => {
    got.set(p.peerId, [...(got.get(p.peerId) ?? []), `${from}:${new TextDecoder().decode(data)}`])
  }))
  let heardSelf = false
  const offA = a.onGossip(() => { heardSelf = true })
  const sentTo = await a.publish(new TextEncoder().encode('checkpoint 42'))
  assert.ok(sentTo >= 2, `published to ${sentTo} peers`)
  await waitUntil('gossip delivery', () => got.get(b.peerId)?.length === 1 && got.get(c.peerId)?.length === 1)
  assert.equal(got.get(b.peerId), [`${a.peerId}:checkpoint 42`])
  assert.equal(got.get(c.peerId), [`${a.peerId}:checkpoint 42`])
  assert.not.ok(heardSelf, 'emitSelf must be off')
  for (const off of [...offs, offA]) off()
  await expectReject(a.publish(new Uint8Array(256 * 1024 + 1)), (e) => isLedgerError(e, 'TOO_LARGE'), 'oversized publish')
})

test('request/response streams 10k small records in order, batched', async () => {
  const started = performance.now()
  let i = 0
  for await (const frame of a.request(b.peerId, RANGE, [countFrame(10_000)])) {
    assert.is(frame.byteLength, 200)
    if (indexOf(frame) !== i) assert.unreachable(`frame ${indexOf(frame)} arrived at position ${i}`)
    i++
  }
  const ms = performance.now() - started
  assert.is(i, 10_000)
  console.log(`  10k x 200 B over request/response: ${ms.toFixed(0)} ms, ${Math.round(10_000 / (ms / 1000))} frames/s, ${(2_000_000 / 1e6 / (ms / 1000)).toFixed(1)} MB/s`)
  // the same peer keeps serving: a second, small request works
  const small = await a.requestAll(b.peerId, RANGE, [countFrame(3)])
  assert.equal(small.map(indexOf), [0, 1, 2])
})

test('empty frames travel both ways', async () => {
  const echoed = await a.requestAll(b.peerId, ECHO, [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(0)])
  assert.equal(echoed, [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(0)])
  assert.equal(await a.requestAll(b.peerId, ECHO, []), [])
})

test('a handler error reaches the requester with its code', async () => {
  const err = await expectReject(a.requestAll(b.peerId, FAIL, [countFrame(1)]), (e) => isLedgerError(e, 'PEER_ERROR'), 'failing handler')
  assert.ok(isLedgerError((err as LedgerError).cause, 'NOT_FOUND'))
})

test('an oversized frame is refused and counted, and the peer keeps serving', async () => {
  const before = b.stats().badFrames.too_large
  // the requester allows big frames, B's range protocol allows 1 KiB
  const err = await expectReject(
    a.requestAll(b.peerId, RANGE, [new Uint8Array(200 * 1024)], { maxFrameBytes: 1024 * 1024 }),
    (e) => isLedgerError(e, 'PEER_ERROR') || isLedgerError(e, 'PEER_UNREACHABLE'),
    'oversized request frame')
  if (isLedgerError(err, 'PEER_ERROR')) assert.ok(isLedgerError(err.cause, 'TOO_LARGE'))
  assert.is(b.stats().badFrames.too_large, before + 1)
  // a response frame over the requester's own limit is refused on its side
  const mine = a.stats().badFrames.too_large
  await expectReject(a.requestAll(b.peerId, RANGE, [countFrame(5)], { maxFrameBytes: 100 }), (e) => isLedgerError(e, 'TOO_LARGE'), 'oversized response frame')
  assert.is(a.stats().badFrames.too_large, mine + 1)
  const ok = await a.requestAll(b.peerId, RANGE, [countFrame(2)])
  assert.is(ok.length, 2)
  assert.ok(b.connectedPeers().includes(a.peerId))
})

test('abandoning a response early resets the stream and closes the responder source', async () => {
  let n = 0
  const closedBefore = dripsClosed
  for await (const _ of a.request(c.peerId, DRIP, [countFrame(1)])) if (++n === 3) break
  assert.is(n, 3)
  await waitUntil('the responder generator to be closed', () => dripsClosed === closedBefore + 1)
  const ok = await a.requestAll(c.peerId, RANGE, [countFrame(1)])
  assert.is(ok.length, 1)
})

test('a peer that stops mid-response or before a request fails the request cleanly', async () => {
  // C stops while streaming to A
  const iter = a.request(c.peerId, DRIP, [countFrame(1)])
  const first = await iter.next()
  assert.is(first.done, false)
  const cAddr = c.multiaddrs()[0]
  await c.stop()
  await expectReject((async () => { for (;;) { const r = await iter.next(); if (r.done === true) return } })(),
    (e) => isLedgerError(e, 'PEER_UNREACHABLE'), 'request cut by a stopping peer')
  // and a new request to the stopped peer fails too
  await expectReject(a.requestAll(c.peerId, RANGE, [countFrame(1)], { timeoutMs: 2000 }), (e) => isLedgerError(e, 'PEER_UNREACHABLE'), 'request to a stopped peer')
  assert.ok(a.stats().requests.failed >= 2)

  // keepConnected redials C once it is back on the same address
  const port = cAddr.split('/')[4]
  c = await makeMember(3, `/ip4/127.0.0.1/tcp/${port}`)
  await c.start()
  await waitUntil('A to reconnect to the restarted C', () => a.connectedPeers().includes(c.peerId))
  const ok = await a.requestAll(c.peerId, RANGE, [countFrame(4)])
  assert.is(ok.length, 4)
  assert.ok(a.stats().redials.attempts >= 1)
})

test('request streams are closed on both sides once requests finish or fail', async () => {
  await waitUntil('no open request streams', () => [a, b, c].every((p) => p.stats().openStreams === 0))
})

test('publishing with nobody listening is not an error', async () => {
  assert.is(await outsider.publish(new TextEncoder().encode('anyone?')), 0)
})

test('a member removed from the roster is ignored on gossip and streams, then disconnected', async () => {
  await waitUntil('B to see C on the topic again', () => b.topicPeers().includes(c.peerId) && b.connectedPeers().includes(a.peerId))
  members.delete(b.peerId)
  try {
    const heard: string[] = []
    const off = a.onGossip((_data, from) => { heard.push(from) })
    const gossipBefore = a.stats().refused.gossip_not_allowed
    await b.publish(new TextEncoder().encode('from a removed member'))
    await waitUntil('A to reject the gossip', () => a.stats().refused.gossip_not_allowed > gossipBefore)
    off()
    assert.equal(heard, [])
    // B still allows A, so it opens a stream on the live connection; A resets it
    const streamBefore = a.stats().refused.stream_not_allowed
    await expectReject(b.requestAll(a.peerId, RANGE, [countFrame(1)]), (e) => isLedgerError(e, 'PEER_UNREACHABLE'), 'request from a removed member')
    assert.is(a.stats().refused.stream_not_allowed, streamBefore + 1)
    await a.enforceAllowed()
    await waitUntil('A to drop B', () => !a.connectedPeers().includes(b.peerId))
    assert.ok(a.stats().refused.disconnected_not_allowed >= 1)
  } finally {
    members.add(b.peerId)
  }
})

test.run()
