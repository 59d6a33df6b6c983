/**
 * The provider feed and snapshot over a real 3-node federation: roles, paging
 * and resumption across inserts and revocations, determinism across nodes,
 * strict cursors, and snapshots equal to the set in every format.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { sha256, utf8, fromHex, toHex, fromBase64 } from '../protocol/bytes.ts'
import { encodeCanonical } from '../protocol/cbor.ts'
import { leafHash } from '../protocol/hash.ts'
import { CompactRange, verifyConsistency } from '../protocol/merkle.ts'
import { openCheckpoint, parseCheckpointNote } from '../protocol/checkpoint.ts'
import { countCosignatures } from '../protocol/cosignature.ts'
import { createHash } from 'node:crypto'
import { mispEventUuid } from '../client/misp-feed.ts'
import { checkMispEvent } from './support/misp-rules.ts'
import { type FeedItem, type FeedPage } from '../node/provider/feed.ts'
import { decodeCursor, encodeCursor } from '../protocol/feed-cursor.ts'
import { readStoredRecord } from '../protocol/stored-record.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'

let cluster: Cluster
let nodes: CairnNode[]
/** Tokens by role, one set per node (tokens are per node). */
const tokenSets = new Map<CairnNode, Record<string, string>>()
const tok = (node: CairnNode, role: string) => tokenSets.get(node)![role]!
const tokens = new Proxy({} as Record<string, string>, { get: (_t, role: string) => tok(nodes[0]!, role) })

function indicator(tag: string, i: number): RecordBody {
  const v = sha256(utf8(`${tag}-${i}`))
  switch (i % 4) {
    case 0: return { type: 'indicator', alg: 'sha256', value: v, category: 'A1', kind: 'known_material', media: 'image' }
    case 1: return { type: 'indicator', alg: 'md5', value: v.slice(0, 16), category: 'A2', kind: 'known_material', media: 'video' }
    case 2: return { type: 'indicator', alg: 'pdq', value: v, category: 'B1', kind: 'new_material', media: 'image', quality: 90 }
    default: return { type: 'indicator', alg: 'url_sha256', value: v, category: 'B2', kind: 'url', media: 'url' }
  }
}

async function publish(node: CairnNode, tag: string, n: number): Promise<string[]> {
  const r = await Promise.all(Array.from({ length: n }, (_, i) => node.publisher.submit(indicator(tag, i))))
  return r.map((p) => p.id)
}

async function revoke(node: CairnNode, id: string) {
  return node.publisher.submit({ type: 'revocation', target: fromHex(id), reason: 'false_positive' })
}

async function get(node: CairnNode, path: string, token?: string): Promise<Response> {
  return fetch(node.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} })
}

async function feed(node: CairnNode, query: string, token = tok(node, 'provider')): Promise<FeedPage> {
  const res = await get(node, `/feed?${query}`, token)
  assert.is(res.status, 200, await res.clone().text())
  return (await res.json()) as FeedPage
}

/** Follows the feed from `cursor` to the end; returns every item and the last cursor. */
async function readAll(node: CairnNode, cursor = '', limit = 7): Promise<{ items: FeedItem[]; cursor: string; pages: number }> {
  const items: FeedItem[] = []
  let pages = 0
  for (;;) {
    const p = await feed(node, `cursor=${cursor}&limit=${limit}`)
    items.push(...p.items)
    cursor = p.next
    pages++
    if (!p.more) return { items, cursor, pages }
    assert.ok(pages < 10_000)
  }
}

/** The set the items build, keyed by record id. */
function apply(items: FeedItem[], into = new Map<string, FeedItem>()): Map<string, FeedItem> {
  for (const it of items) {
    if (it.op === 'add') into.set(it.id, it)
    else if (it.op === 'remove') into.delete(it.id)
  }
  return into
}

/** The non-revoked indicators of every log, read from the node's store directly. */
async function expectedSet(node: CairnNode): Promise<Map<string, { alg: string; value: string; category: string }>> {
  const out = new Map<string, { alg: string; value: string; category: string }>()
  for await (const m of node.store.currentSet()) out.set(toHex(m.id), { alg: m.alg, value: toHex(m.value), category: m.category })
  return out
}

const settled = () => waitFor('federation converges', () => converged(nodes, 2), 60_000)

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  for (const node of nodes) {
    const set: Record<string, string> = {}
    for (const role of ['provider', 'auditor', 'oversight', 'operator'] as const) set[role] = (await node.tokens.grant(role, `test ${role}`)).token
    tokenSets.set(node, set)
  }
})

test.after(async () => {
  await cluster?.close()
})

test('every provider route: 401 without or with a bad token, 403 for the operator, 200 for provider, auditor, oversight', async () => {
  const a = nodes[0]!
  for (const path of ['/feed', '/feed/snapshot?format=txt', '/feed/snapshot?format=csv', '/feed/snapshot?format=jsonl', '/feed/snapshot?format=stix']) {
    assert.is((await get(a, path)).status, 401, `${path} without a token`)
    assert.is((await get(a, path, 'cairn_not-a-real-token')).status, 401, `${path} with an unknown token`)
    assert.is((await get(a, path, 'garbage with spaces')).status, 401, `${path} with a malformed header`)
    const op = await get(a, path, tokens.operator)
    assert.is(op.status, 403, `${path} as operator`)
    assert.is(((await op.json()) as { error: { code: string } }).error.code, 'FORBIDDEN')
    for (const role of ['provider', 'auditor', 'oversight']) {
      const res = await get(a, path, tokens[role])
      assert.is(res.status, 200, `${path} as ${role}`)
      await res.arrayBuffer()
    }
  }
  // A revoked token stops working.
  const { token, info } = await a.tokens.grant('provider', 'short lived')
  assert.is((await get(a, '/feed', token)).status, 200)
  await a.tokens.revoke(info.id)
  assert.is((await get(a, '/feed', token)).status, 401)
})

test('cursors: canonical round trip; garbage, non-canonical and out-of-model cursors are 400 BAD_REQUEST', async () => {
  const sizes = new Map([['x.y/b', 3], ['x.y/a', 10], ['x.y/z', 0]])
  const c = encodeCursor(sizes)
  assert.equal([...decodeCursor(c)], [['x.y/a', 10], ['x.y/b', 3]])
  assert.equal(decodeCursor(''), new Map())
  const b64 = (v: unknown) => Buffer.from(encodeCanonical(v as never)).toString('base64url')
  const bad = [
    'not a cursor!', c + 'A', c.slice(0, -1) + (c.endsWith('A') ? 'B' : 'A'), Buffer.from(encodeCanonical({ v: 1, logs: [] })).toString('base64'),
    b64({ v: 2, logs: [] }), b64({ v: 1 }), b64({ v: 1, logs: [], x: 1 }), b64({ v: 1, logs: [['x.y/a', 0]] }),
    b64({ v: 1, logs: [['x.y/b', 1], ['x.y/a', 1]] }), b64({ v: 1, logs: [['x.y/a', 1], ['x.y/a', 2]] }), b64({ v: 1, logs: [['no origin', 1]] }),
    b64({ v: 1, logs: [['x.y/a']] }), b64([1, 2]), 'AAAA', b64({ v: 1, logs: [['x.y/a', 'three']] }),
  ]
  for (const cur of bad) {
    const res = await get(nodes[0]!, `/feed?cursor=${encodeURIComponent(cur)}`, tokens.provider)
    assert.is(res.status, 400, `cursor ${cur}`)
    assert.is(((await res.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST')
  }
  for (const q of ['limit=0', 'limit=-1', 'limit=abc', 'limit=1.5', 'entries=yes', 'verified=%%%']) {
    assert.is((await get(nodes[0]!, `/feed?${q}`, tokens.provider)).status, 400, q)
  }
  const clamped = await feed(nodes[0]!, 'limit=99999999')
  assert.is(clamped.more, false)
})

test('the feed pages through adds and removes; resumption from a cursor sees exactly the later changes', async () => {
  const [a, b, c] = nodes as [CairnNode, CairnNode, CairnNode]
  const aIds = await publish(a, 'a', 30)
  const bIds = await publish(b, 'b', 12)
  await revoke(a, aIds[3]!)
  await revoke(a, aIds[10]!)
  await c.publisher.submit({ type: 'attestation', target: fromHex(aIds[0]!), opinion: 'confirm' })
  await settled()

  const all = await readAll(b, '', 7)
  assert.ok(all.pages > 3)
  const adds = all.items.filter((i) => i.op === 'add')
  const removes = all.items.filter((i) => i.op === 'remove')
  assert.is(adds.length, 42)
  assert.is(removes.length, 2)
  assert.equal(removes.map((r) => r.id).sort(), [aIds[3]!, aIds[10]!].sort())
  for (const r of removes) {
    const added = adds.find((x) => x.id === r.id)!
    assert.equal([r.alg, r.value, r.category, r.log], [added.alg, added.value, added.category, added.log])
    assert.is(r.reason, 'false_positive')
    assert.ok(r.seq > added.seq)
  }
  const pdq = adds.find((x) => x.alg === 'pdq')!
  assert.equal(Object.keys(pdq).sort(), ['alg', 'category', 'id', 'kind', 'log', 'media', 'op', 'quality', 'seq', 'value'])
  assert.is(pdq.quality, 90)
  // The confirmation is an item of its own, and the add carries it (as of the page's checkpoints).
  const attests = all.items.filter((i) => i.op === 'attest')
  assert.is(attests.length, 1)
  assert.equal([attests[0]!.id, attests[0]!.opinion, attests[0]!.log, attests[0]!.confirmations, attests[0]!.disputes], [aIds[0]!, 'confirm', c.origin, [c.origin], []])
  assert.is(attests[0]!.value, adds.find((x) => x.id === aIds[0]!)!.value)
  assert.equal(adds.find((x) => x.id === aIds[0]!)!.confirmations, [c.origin])
  assert.is(adds.find((x) => x.id === aIds[1]!)!.confirmations, undefined)
  const set = apply(all.items)
  const want = await expectedSet(b)
  assert.equal([...set.keys()].sort(), [...want.keys()].sort())
  for (const [id, w] of want) assert.equal([set.get(id)!.alg, set.get(id)!.value, set.get(id)!.category], [w.alg, w.value, w.category])

  // The same cursor gives the same changes on every node (the logs are the same).
  const onA = await readAll(a, '', 7)
  const onC = await readAll(c, '', 7)
  assert.equal(onA.items, all.items)
  assert.equal(onC.items, all.items)
  assert.is(onA.cursor, all.cursor)
  const pageA = await feed(a, 'limit=5')
  const pageC = await feed(c, 'limit=5')
  assert.equal(pageA.items, pageC.items)
  assert.is(pageA.next, pageC.next)
  assert.equal(pageA.logs.map((l) => [l.origin, l.from, l.to, l.size, l.proof]), pageC.logs.map((l) => [l.origin, l.from, l.to, l.size, l.proof]))

  // Nothing new: an empty page, the same cursor.
  const idle = await feed(b, `cursor=${all.cursor}`)
  assert.equal(idle.items, [])
  assert.is(idle.next, all.cursor)
  assert.is(idle.more, false)

  // New inserts and revocations, then resume.
  const more = await publish(b, 'b2', 5)
  await revoke(b, bIds[0]!)
  await revoke(b, more[1]!)
  await a.publisher.submit({ type: 'attestation', target: fromHex(bIds[1]!), opinion: 'dispute', reason: 'wrong_category' })
  await settled()
  const delta = await readAll(c, all.cursor, 3)
  assert.equal(delta.items.map((i) => i.op), ['attest', 'add', 'add', 'add', 'add', 'add', 'remove', 'remove'])
  assert.equal([delta.items[0]!.id, delta.items[0]!.opinion, delta.items[0]!.reason, delta.items[0]!.disputes], [bIds[1]!, 'dispute', 'wrong_category', [a.origin]])
  assert.equal(delta.items.filter((i) => i.op === 'remove').map((i) => i.id), [bIds[0]!, more[1]!])
  apply(delta.items, set)
  const want2 = await expectedSet(c)
  assert.equal([...set.keys()].sort(), [...want2.keys()].sort())
  assert.ok(!set.has(bIds[0]!))
})

test('every page names each log\'s signed checkpoint with a consistency proof; entries=1 carries the entries that prove it', async () => {
  const b = nodes[1]!
  const keys = new Map(b.roster.all().map((m) => [m.origin, m.vkey]))
  const frontier = new Map<string, CompactRange>()
  let cursor = ''
  let verified = ''
  for (let pages = 0; pages < 100; pages++) {
    const p = await feed(b, `cursor=${cursor}&limit=9&entries=1${verified ? `&verified=${verified}` : ''}`)
    for (const l of p.logs) {
      assert.not.ok(l.behind)
      if (!l.checkpoint) continue
      const cp = openCheckpoint(l.checkpoint, keys.get(l.origin)!).checkpoint
      assert.is(cp.size, l.size)
      const range = frontier.get(l.origin) ?? new CompactRange(0, 0, [])
      assert.is(range.end, l.from)
      assert.is(l.entries!.length, l.to - l.from)
      l.entries!.forEach((e, i) => {
        const entry = fromBase64(e)
        range.append(leafHash(entry))
        const r = readStoredRecord(entry)
        assert.is(r.log, l.origin)
        assert.is(r.seq, l.from + i)
      })
      frontier.set(l.origin, range)
      verifyConsistency(l.to, l.size, range.root(), cp.root, l.proof!.map((h) => fromBase64(h)))
      if (verified) assert.ok(Array.isArray(l.verified_proof))
    }
    cursor = p.next
    verified = encodeCursor(new Map(p.logs.map((l) => [l.origin, l.size])))
    if (!p.more) break
  }
  // A client that says it verified more than this node publishes is told the node is behind, and gets nothing for that log.
  const a = nodes[0]!.origin
  const size = b.store.listLogs().find((l) => l.origin === a)!.checkpointSize
  const ahead = await feed(b, `verified=${encodeCursor(new Map([[a, size + 5]]))}`)
  const block = ahead.logs.find((l) => l.origin === a)!
  assert.ok(block.behind)
  assert.is(block.to, 0)
  assert.ok(ahead.items.every((i) => i.log !== a))
  assert.is(decodeCursor(ahead.next).get(a), undefined)
  // A cursor beyond the published size: behind, the cursor keeps its place; logs this node does not hold keep theirs.
  const beyond = await feed(b, `cursor=${encodeCursor(new Map([[a, size + 5], ['testnet.cairn/unknown', 4]]))}`)
  assert.ok(beyond.logs.find((l) => l.origin === a)!.behind)
  assert.is(decodeCursor(beyond.next).get(a), size + 5)
  assert.is(decodeCursor(beyond.next).get('testnet.cairn/unknown'), 4)
})

function parseCsv(text: string): string[][] {
  return text.trim().split('\n').map((l) => l.split(','))
}

test('snapshot: the set of non-revoked indicators in every format, with its cursor; the feed resumes from it', async () => {
  const c = nodes[2]!
  const want = await expectedSet(c)
  const wantPairs = [...want.values()].map((w) => `${w.alg} ${w.value}`).sort()
  const wantIds = [...want.keys()].sort()

  const txt = await get(c, '/feed/snapshot?format=txt', tok(c, 'provider'))
  assert.is(txt.headers.get('content-type'), 'text/plain; charset=utf-8')
  const cursor = txt.headers.get('cairn-cursor')!
  assert.ok(cursor.length > 0)
  assert.equal((await txt.text()).trim().split('\n').sort(), wantPairs)

  const csv = await get(c, '/feed/snapshot?format=csv', tok(c, 'auditor'))
  assert.match(csv.headers.get('content-type')!, /^text\/csv/)
  assert.is(csv.headers.get('cairn-cursor'), cursor)
  const rows = parseCsv(await csv.text())
  assert.equal(rows[0], ['alg', 'value', 'category', 'kind', 'media', 'id', 'log', 'seq', 'quality', 'ref', 'expires', 'confirmations', 'disputes'])
  assert.equal(rows.slice(1).map((r) => r[5]).sort(), wantIds)
  for (const r of rows.slice(1)) assert.equal([r[0], r[1], r[2]], [want.get(r[5]!)!.alg, want.get(r[5]!)!.value, want.get(r[5]!)!.category])

  const jsonl = await get(c, '/feed/snapshot?format=jsonl', tok(c, 'oversight'))
  assert.is(jsonl.headers.get('content-type'), 'application/x-ndjson; charset=utf-8')
  const lines = (await jsonl.text()).trim().split('\n').map((l) => JSON.parse(l))
  const last = lines.pop()
  assert.equal([last.cursor, last.count], [cursor, want.size])
  // The trailer names the cosigned checkpoint of each log at the cursor's size.
  const cursorSizes = decodeCursor(cursor)
  assert.equal(Object.keys(last.checkpoints).sort(), [...cursorSizes.keys()].filter((o) => cursorSizes.get(o)! > 0).sort())
  for (const [origin, note] of Object.entries(last.checkpoints as Record<string, string>)) {
    const cp = parseCheckpointNote(note).checkpoint
    assert.equal([cp.origin, cp.size], [origin, cursorSizes.get(origin)])
    assert.ok(countCosignatures(note) >= 1, `${origin}'s checkpoint in the trailer carries its cosignatures`)
  }
  assert.equal(lines.map((l) => l.id).sort(), wantIds)
  for (const l of lines) assert.equal([l.alg, l.value, l.category], [want.get(l.id)!.alg, want.get(l.id)!.value, want.get(l.id)!.category])

  const stix = await get(c, '/feed/snapshot?format=stix', tok(c, 'provider'))
  assert.is(stix.headers.get('content-type'), 'application/stix+json;version=2.1')
  const bundle = (await stix.json()) as { type: string; objects: { type: string; x_cairn_record_id?: string; revoked?: boolean }[] }
  assert.is(bundle.type, 'bundle')
  const inds = bundle.objects.filter((o) => o.type === 'indicator')
  assert.equal(inds.map((o) => o.x_cairn_record_id).sort(), wantIds)
  assert.ok(inds.every((o) => !o.revoked))
  assert.is(bundle.objects.filter((o) => o.type === 'identity').length, 3)

  assert.is((await get(c, '/feed/snapshot?format=xml', tok(c, 'provider'))).status, 400)

  // The cursor is the published sizes; following the feed from it yields nothing while nothing changes.
  const p = await feed(c, `cursor=${cursor}`)
  assert.equal(p.items, [])
  assert.is(p.next, cursor)
  // The snapshot plus the feed from its cursor track later changes.
  const set = new Map(lines.map((l) => [l.id as string, l]))
  const extra = await publish(nodes[0]!, 'snap', 4)
  await revoke(nodes[0]!, extra[2]!)
  await settled()
  const delta = await readAll(c, cursor, 100)
  for (const it of delta.items) it.op === 'add' ? set.set(it.id, it) : it.op === 'remove' ? set.delete(it.id) : undefined
  assert.equal([...set.keys()].sort(), [...(await expectedSet(c)).keys()].sort())
})

const REF = 'p1:00112233445566778899aabbccddeeff'

test('MISP feed: manifest.json, hashes.csv and the one event at /feed/misp/ hold the current set, in the MISP core format, for readers only', async () => {
  const c = nodes[2]!
  const want = await expectedSet(c)
  const uuid = mispEventUuid('testnet.cairn')
  const manifest = await get(c, '/feed/misp/manifest.json', tok(c, 'provider'))
  assert.is(manifest.status, 200)
  const m = (await manifest.json()) as Record<string, Record<string, unknown>>
  assert.equal(Object.keys(m), [uuid])
  const res = await get(c, `/feed/misp/${uuid}.json`, tok(c, 'provider'))
  assert.is(res.status, 200)
  assert.ok(res.headers.get('cairn-cursor'))
  const event = ((await res.json()) as { Event: Record<string, unknown> }).Event
  checkMispEvent(event)
  assert.is(event.uuid, uuid)
  const attrs = event.Attribute as { value: string; comment: string; type: string }[]
  // Each attribute names its record (comment), and the set is the snapshot's.
  const ids = attrs.map((a) => /cairn record ([0-9a-f]{64})/.exec(a.comment)![1]!)
  assert.equal(ids.sort(), [...want.keys()].sort())
  for (const a of attrs) {
    const w = want.get(/cairn record ([0-9a-f]{64})/.exec(a.comment)![1]!)!
    assert.is(a.value, w.value)
    assert.is(a.type, ['md5', 'sha1', 'sha256'].includes(w.alg) ? w.alg : 'other')
  }
  const hashes = await (await get(c, '/feed/misp/hashes.csv', tok(c, 'auditor'))).text()
  assert.equal(hashes.trim().split('\n').sort(), attrs.map((a) => `${createHash('md5').update(a.value).digest('hex')},${uuid}`).sort())
  // Filters as on the snapshot; another event name is 404; no token is 401; the operator is not a reader.
  const md5only = ((await (await get(c, `/feed/misp/${uuid}.json?alg=md5`, tok(c, 'oversight'))).json()) as { Event: { Attribute: { type: string }[] } }).Event.Attribute
  assert.ok(md5only.length > 0 && md5only.every((a) => a.type === 'md5'))
  assert.is((await get(c, '/feed/misp/00000000-0000-0000-0000-000000000000.json', tok(c, 'provider'))).status, 404)
  assert.is((await get(c, '/feed/misp/manifest.json')).status, 401)
  assert.is((await get(c, `/feed/misp/${uuid}.json`, tok(c, 'operator'))).status, 403)
  assert.is((await get(c, `/feed/misp/${uuid}.json?alg=nope`, tok(c, 'provider'))).status, 400)
})

test('quality, ref, expiry and opinions in feed items and every snapshot format; absent fields stay absent', async () => {
  const [a, b, c] = nodes as [CairnNode, CairnNode, CairnNode]
  const expires = Date.now() + 10_000_000_000
  const rich = await a.publisher.submit({ type: 'indicator', alg: 'pdq', value: sha256(utf8('rich')), category: 'A1', kind: 'known_material', media: 'image', quality: 77, ref: REF, expires })
  const plain = await a.publisher.submit({ type: 'indicator', alg: 'sha256', value: sha256(utf8('plain')), category: 'B2', kind: 'known_material', media: 'video' })
  await b.publisher.submit({ type: 'attestation', target: fromHex(rich.id), opinion: 'confirm' })
  await c.publisher.submit({ type: 'attestation', target: fromHex(rich.id), opinion: 'dispute', reason: 'wrong_category' })
  // A centre's latest word counts: b confirms twice, still one confirmation.
  await b.publisher.submit({ type: 'attestation', target: fromHex(rich.id), opinion: 'confirm', reason: 'reviewed' })
  await settled()

  const { items } = await readAll(a, '', 1000)
  const add = items.find((i) => i.op === 'add' && i.id === rich.id)!
  assert.equal([add.quality, add.ref, add.expires, add.kind, add.media, add.confirmations, add.disputes], [77, REF, expires, 'known_material', 'image', [b.origin], [c.origin]])
  const addPlain = items.find((i) => i.op === 'add' && i.id === plain.id)!
  for (const k of ['quality', 'ref', 'expires', 'confirmations', 'disputes']) assert.not.ok(k in addPlain, k)
  const attests = items.filter((i) => i.op === 'attest' && i.id === rich.id)
  assert.is(attests.length, 3)
  assert.ok(attests.every((i) => i.alg === 'pdq' && i.quality === 77 && i.ref === REF))

  // jsonl from the set-line files, and rendered from the store (a subscription of every alg), byte for byte alike.
  const text = async (q: string) => {
    const res = await get(c, `/feed/snapshot?${q}`, tok(c, 'provider'))
    assert.is(res.status, 200, q)
    return res.text()
  }
  const fromFiles = await text('format=jsonl')
  assert.is(await text('format=jsonl&alg=md5,sha1,sha256,pdq,photodna,tmk_pdqf,url_sha256'), fromFiles)
  const lines = fromFiles.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  const line = lines.find((l) => l.id === rich.id)!
  assert.equal(Object.keys(line), ['alg', 'value', 'category', 'kind', 'media', 'quality', 'ref', 'expires', 'id', 'log', 'seq', 'time', 'confirmations', 'disputes'])
  assert.equal([line.quality, line.ref, line.expires, line.confirmations, line.disputes], [77, REF, expires, [b.origin], [c.origin]])
  assert.equal(Object.keys(lines.find((l) => l.id === plain.id)!), ['alg', 'value', 'category', 'kind', 'media', 'id', 'log', 'seq', 'time'])

  const rows = parseCsv(await text('format=csv'))
  const row = rows.find((r) => r[5] === rich.id)!
  assert.equal(row.slice(8), ['77', REF, String(expires), b.origin, c.origin])
  assert.equal(rows.find((r) => r[5] === plain.id)!.slice(8), ['', '', '', '', ''])

  const bundle = JSON.parse(await text('format=stix')) as { objects: Record<string, unknown>[] }
  const o = bundle.objects.find((x) => x.x_cairn_record_id === rich.id)!
  assert.equal([o.x_cairn_quality, o.x_cairn_ref, o.x_cairn_expires, o.valid_until, o.x_cairn_confirmations, o.x_cairn_disputes],
    [77, REF, expires, new Date(expires).toISOString(), [b.origin], [c.origin]])
  assert.ok(String(o.modified) > String(o.created), 'the attestations made later versions')
  const p = bundle.objects.find((x) => x.x_cairn_record_id === plain.id)!
  for (const k of ['x_cairn_quality', 'x_cairn_ref', 'x_cairn_expires', 'valid_until', 'x_cairn_confirmations', 'x_cairn_disputes']) assert.not.ok(k in p, k)
})

test('subscriptions: category, alg, media and log filter feed items and snapshots; log blocks and entries stay whole', async () => {
  const [a, b] = nodes as [CairnNode, CairnNode]
  const all = await readAll(b, '', 1000)
  const check = async (q: string, want: (i: FeedItem) => boolean) => {
    const items: FeedItem[] = []
    let cursor = ''
    for (;;) {
      const page = await feed(b, `cursor=${cursor}&limit=1000&${q}`)
      items.push(...page.items)
      assert.ok(page.logs.every((l) => !l.behind))
      cursor = page.next
      if (!page.more) break
    }
    const expected = all.items.filter((i) => i.redacted || want(i))
    assert.equal(items, expected, q)
    assert.ok(items.length > 0 && items.length < all.items.length, q)
    return items
  }
  await check('category=A1', (i) => i.category === 'A1')
  await check('alg=pdq,md5', (i) => i.alg === 'pdq' || i.alg === 'md5')
  await check('media=video', (i) => i.media === 'video')
  // An attestation is about an indicator of the log filtered for, wherever it was written.
  await check(`log=${encodeURIComponent(a.origin)}`, (i) => (i.op === 'attest' ? all.items.some((x) => x.op === 'add' && x.id === i.id && x.log === a.origin) : i.log === a.origin))
  // Entries are whole whatever the filter: a client still verifies every log.
  const withEntries = await feed(b, 'limit=50&entries=1&category=B2')
  assert.ok(withEntries.logs.every((l) => l.entries!.length === l.to - l.from))

  // Snapshots: the same filter, every format.
  const snap = async (q: string) => (await get(b, `/feed/snapshot?${q}`, tok(b, 'provider'))).text()
  const jsonl = (await snap('format=jsonl&category=A2&media=video')).trim().split('\n').map((l) => JSON.parse(l))
  const end = jsonl.pop()
  assert.ok(jsonl.length > 0 && jsonl.every((l) => l.category === 'A2' && l.media === 'video'))
  assert.is(end.count, jsonl.length)
  const full = (await snap('format=jsonl')).trim().split('\n').map((l) => JSON.parse(l))
  assert.is(jsonl.length, full.filter((l) => l.category === 'A2' && l.media === 'video').length)
  assert.ok((await snap('format=txt&alg=pdq')).trim().split('\n').every((l) => l.startsWith('pdq ')))
  assert.ok(parseCsv(await snap(`format=csv&log=${encodeURIComponent(a.origin)}`)).slice(1).every((r) => r[6] === a.origin))
  const bundle = JSON.parse(await snap(`format=stix&log=${encodeURIComponent(a.origin)}`)) as { objects: Record<string, unknown>[] }
  assert.equal(bundle.objects.filter((o) => o.type === 'identity').map((o) => o.name), [a.origin])

  // Values nobody uses: one-line 400s.
  for (const q of ['category=Z9', 'alg=sha512', 'media=audio', 'log=not%20an%20origin', 'log=testnet.cairn/nobody', 'category=A1,', 'wait=61', 'wait=-1', 'wait=1.5']) {
    for (const path of ['/feed', '/feed/snapshot']) {
      if (path === '/feed/snapshot' && q.startsWith('wait')) continue
      const res = await get(b, `${path}?${q}`, tok(b, 'provider'))
      assert.is(res.status, 400, `${path}?${q}`)
      const body = (await res.json()) as { error: { code: string; message: string } }
      assert.is(body.error.code, 'BAD_REQUEST')
      assert.not.match(body.error.message, /\n/)
    }
  }
})

test('long poll: wait= answers as soon as a checkpoint passes the cursor, empty at the end of the wait; waits and event streams are bounded per token', async () => {
  const [a, b] = nodes as [CairnNode, CairnNode]
  const head = (await readAll(b, '', 1000)).cursor
  // Nothing new: an empty page after about the wait.
  let t0 = performance.now()
  const idle = await feed(b, `cursor=${head}&wait=1`)
  assert.ok(performance.now() - t0 >= 900, 'waited')
  assert.equal([idle.items, idle.next], [[], head])
  // News: the answer comes when the checkpoint moves, long before the wait ends.
  t0 = performance.now()
  const waiting = feed(b, `cursor=${head}&wait=30`)
  await new Promise((r) => setTimeout(r, 200))
  await publish(a, 'poll', 2)
  const page = await waiting
  const took = performance.now() - t0
  console.log(`    long poll answered ${took.toFixed(0)} ms after it was asked (publish at 200 ms)`)
  assert.ok(took < 15_000)
  assert.ok(page.items.some((i) => i.op === 'add'))

  // At most 4 open waits per token: the fifth is a 429.
  const token = tok(b, 'auditor')
  const cursor = page.next
  await settled()
  const last = (await readAll(b, cursor, 1000)).cursor
  const held = Array.from({ length: 4 }, () => get(b, `/feed?cursor=${last}&wait=2`, token))
  await new Promise((r) => setTimeout(r, 150))
  const fifth = await get(b, `/feed?cursor=${last}&wait=2`, token)
  assert.is(fifth.status, 429)
  assert.is(((await fifth.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED')
  // Another token is not affected.
  const other = await get(b, `/feed?cursor=${last}&wait=1`, tok(b, 'oversight'))
  assert.is(other.status, 200)
  await other.arrayBuffer()
  for (const r of await Promise.all(held)) {
    assert.is(r.status, 200)
    await r.arrayBuffer()
  }
  assert.is((await get(b, `/feed?cursor=${last}&wait=1`, token)).status, 200, 'slots are given back')

  // Server-sent events: every log's checkpoint first, then each new one; two streams per token.
  const ctl = new AbortController()
  const events = await fetch(`${b.url}/feed/events`, { headers: { authorization: `Bearer ${token}` }, signal: ctl.signal })
  assert.is(events.status, 200)
  assert.match(events.headers.get('content-type')!, /^text\/event-stream/)
  const second = new AbortController()
  const again = await fetch(`${b.url}/feed/events`, { headers: { authorization: `Bearer ${token}` }, signal: second.signal })
  assert.is(again.status, 200)
  const third = await get(b, '/feed/events', token)
  assert.is(third.status, 429)
  const reader = events.body!.getReader()
  let buf = ''
  const seen: { origin: string; size: number; checkpoint: string }[] = []
  const until = async (pred: () => boolean) => {
    while (!pred()) {
      const { value, done } = await reader.read()
      if (done) throw new Error('the event stream ended')
      buf += new TextDecoder().decode(value)
      let i
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const data = ev.split('\n').find((l) => l.startsWith('data: '))
        if (ev.includes('event: checkpoint') && data) seen.push(JSON.parse(data.slice(6)))
      }
    }
  }
  await until(() => seen.length >= 3)
  const sizeBefore = seen.find((e) => e.origin === a.origin)!.size
  assert.match(seen[0]!.checkpoint, /^testnet\.cairn\//)
  await publish(a, 'sse', 1)
  await until(() => seen.some((e) => e.origin === a.origin && e.size > sizeBefore))
  ctl.abort()
  second.abort()
  await new Promise((r) => setTimeout(r, 100))
  const fresh = await get(b, '/feed/events', token)
  assert.is(fresh.status, 200, 'stream slots are given back when clients go')
  await fresh.body?.cancel()
})

test('a page of 10,000 changes comes from range reads (no timing assertion; the duration is printed)', async () => {
  const a = nodes[0]!
  const before = a.store.listLogs().find((l) => l.origin === a.origin)!.checkpointSize
  const cursor = encodeCursor(new Map(a.store.listLogs().map((l) => [l.origin, l.checkpointSize])))
  await Promise.all(Array.from({ length: 10_000 }, (_, i) => a.publisher.submit(indicator('bulk', i))))
  await waitFor('bulk published', () => a.store.listLogs().find((l) => l.origin === a.origin)!.checkpointSize === before + 10_000)
  await settled() // the other nodes are done syncing (they share this process's CPU)
  const t0 = performance.now()
  const p = await feed(a, `cursor=${cursor}&limit=10000`)
  const ms = performance.now() - t0
  assert.is(p.items.length, 10_000)
  assert.is(p.more, false)
  console.log(`    10,000-change feed page: ${ms.toFixed(0)} ms`)
  const t1 = performance.now()
  const withEntries = await feed(a, `cursor=${cursor}&limit=10000&entries=1`)
  console.log(`    10,000-change feed page with entries: ${(performance.now() - t1).toFixed(0)} ms`)
  assert.is(withEntries.logs.find((l) => l.origin === a.origin)!.entries!.length, 10_000)
})

test.run()
