/**
 * Redaction on legal order (spec/redaction.md): the vectors, the store, and a
 * 3-node federation where an operator redacts an indicator.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fromHex, toHex, sha256, utf8, equalBytes } from '../protocol/bytes.ts'
import { isLedgerError } from '../protocol/errors.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import { signEntry } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { generateKeyPair } from '../protocol/ed25519.ts'
import { decodeEntryBundle, entriesPath, tilePath, tilesForTree } from '../protocol/tiles.ts'
import { verifyTlogProofForLeaf } from '../protocol/tlog-proof.ts'
import {
  openRedaction, markerNotice, noticeToJson, signRedaction, encodeRedactionMarker, isRedactionMarker, openRedactionMarker,
  readNoticeUnverified, type RedactionNotice,
} from '../protocol/redaction.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { redactionCases } from '../spec/gen/redactions.ts'
import { MemoryKV } from '../node/storage/kv.ts'
import { Store } from '../node/storage/store.ts'
import { readStoredRecord } from '../protocol/stored-record.ts'
import { verifyNode } from '../client/verify.ts'
import { syncLocalCopy } from '../client/sync.ts'
import { loadLocalSet } from '../client/local-copy.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { loadKeys } from '../node/config.ts'
import { encodeGossip } from '../node/replication/messages.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { rejects, throws, vectorFolder, assertGenerated } from './helpers.ts'

// ------------------------------------------------------------------ vectors

const dir = new URL('../spec/vectors/redactions', import.meta.url).pathname

interface RedactionVector {
  description: string
  vkey: string
  size: number
  index: number
  leaf: string | null
  kind: 'notice' | 'marker'
  bytes: string
  valid: boolean
  notice?: Record<string, unknown>
  error?: string
}

const { files, load } = vectorFolder<RedactionVector>(dir)

/** The check spec/redaction.md §R.7 describes, for one vector. */
function checkVector(v: RedactionVector): RedactionNotice {
  const key = parseVerifierKey(v.vkey)
  const bytes = fromHex(v.bytes, 'bytes')
  const signed = v.kind === 'marker' ? markerNotice(bytes) : bytes
  return openRedaction(signed, key.publicKey, {
    log: key.name,
    index: v.kind === 'marker' ? v.index : undefined,
    size: v.size,
    leaf: v.leaf === null ? undefined : fromHex(v.leaf, 'leaf'),
  }).notice
}

test('the vector files are what the generator produces', () => assertGenerated(dir, files, redactionCases()))

test('vectors cover notices and markers, valid and invalid', () => {
  const all = files.map(load)
  assert.ok(all.filter((v) => v.valid && v.kind === 'notice').length >= 2)
  assert.ok(all.filter((v) => v.valid && v.kind === 'marker').length >= 2)
  assert.ok(all.filter((v) => !v.valid && v.kind === 'marker').length >= 5)
  for (const code of ['BAD_SIGNATURE', 'NON_CANONICAL_CBOR', 'BAD_REDACTION', 'OUT_OF_RANGE', 'WRONG_LOG', 'SEQ_MISMATCH', 'TOO_LARGE']) {
    assert.ok(all.some((v) => v.error === code), code)
  }
})

for (const f of files) {
  test(`redactions/${f}`, () => {
    const v = load(f)
    if (v.valid) {
      const n = checkVector(v)
      assert.equal(noticeToJson(n), v.notice)
      if (v.kind === 'marker') assert.ok(isRedactionMarker(fromHex(v.bytes)))
      return
    }
    try {
      checkVector(v)
    } catch (e) {
      assert.ok(isLedgerError(e), `${f}: ${String(e)}`)
      assert.is(e.code, v.error, `${f}: ${e.message}`)
      return
    }
    assert.unreachable(`${f}: accepted an invalid ${v.kind} (${v.description})`)
  })
}

// ------------------------------------------------------------------ protocol

const ORIGIN = 'test.cairn/owner'
const owner = generateKeyPair(sha256(utf8('redaction-test-owner')))
const other = generateKeyPair(sha256(utf8('redaction-test-other')))

function indicatorRecord(seq: number, tag: string, extra: Partial<CairnRecord> = {}): CairnRecord {
  return { v: 1, type: 'indicator', log: ORIGIN, seq, time: 1_000 + seq, alg: 'sha256', value: sha256(utf8(tag)), category: 'A2', kind: 'known_material', media: 'image', ...extra } as CairnRecord
}

test('a marker can never be read as an entry, and an entry never as a marker', () => {
  const entry = signEntry(owner.seed, indicatorRecord(0, 'x'))
  assert.is(entry[0], 0x82)
  assert.not.ok(isRedactionMarker(entry))
  const signed = signRedaction(owner.seed, { v: 1, log: ORIGIN, index: 0, id: leafHash(entry), reason: 'legal_order', time: 5 })
  const marker = encodeRedactionMarker(signed)
  assert.ok(isRedactionMarker(marker))
  assert.is(toHex(marker.subarray(0, 19)), 'ff' + toHex(utf8('cairn/redacted/v1')) + '00')
  throws(() => openRedactionMarker(marker, other.publicKey, { log: ORIGIN, index: 0 }), 'BAD_SIGNATURE')
  // A rotated-out key still verifies (current first, then earlier ones).
  assert.is(openRedactionMarker(marker, [other.publicKey, owner.publicKey], { log: ORIGIN, index: 0 }).notice.index, 0)
  assert.is(readStoredRecord(marker).type, 'redacted')
})

// ------------------------------------------------------------------ store

async function storeWith(n: number, extra: (i: number) => Partial<CairnRecord> = () => ({})) {
  const store = await Store.open(new MemoryKV())
  await store.registerLog(ORIGIN)
  const entries = Array.from({ length: n }, (_, i) => signEntry(owner.seed, indicatorRecord(i, `ind-${i}`, extra(i))))
  const items = entries.map((entry, i) => ({ entry, id: leafHash(entry), record: indicatorRecord(i, `ind-${i}`, extra(i)) }))
  await store.append(ORIGIN, 0, items)
  return { store, entries }
}

const noticeFor = (index: number, id: Uint8Array, time = 7): { signed: Uint8Array; notice: RedactionNotice } => {
  const notice: RedactionNotice = { v: 1, log: ORIGIN, index, id, reason: 'legal_order', time }
  return { signed: signRedaction(owner.seed, notice), notice }
}

test('store: redaction swaps the entry for its marker, drops value/set/expiry indexes, keeps the tree', async () => {
  const { store, entries } = await storeWith(5, (i) => (i === 2 ? { expires: 10_000 } : {}))
  store.trackExpiry(ORIGIN)
  const root = toHex(store.rootNow(ORIGIN))
  const tile = toHex((await store.tile(ORIGIN, 0, 0, 5))!)
  const id = leafHash(entries[2]!)
  assert.is(store.currentSetSize(), 5)
  const { signed, notice } = noticeFor(2, id)
  assert.is(await store.applyRedaction(ORIGIN, signed, notice), 'applied')
  assert.is(toHex(store.rootNow(ORIGIN)), root)
  assert.is(toHex((await store.tile(ORIGIN, 0, 0, 5))!), tile)
  const stored = await store.entry(ORIGIN, 2)
  assert.ok(isRedactionMarker(stored))
  assert.ok(equalBytes(markerNotice(stored), signed))
  assert.is(store.currentSetSize(), 4)
  assert.not.ok(await store.inCurrentSet(id))
  assert.equal(await store.idsForValue('sha256', sha256(utf8('ind-2'))), [])
  assert.equal(await store.locate(id), { origin: ORIGIN, index: 2 }) // the id still names its place
  assert.ok(await store.isRedacted(ORIGIN, 2))
  assert.is(store.counters(ORIGIN).byType.redacted, 1)
  assert.is(store.counters(ORIGIN).byType.indicator, 4)
  // Idempotent; a notice naming another leaf is refused.
  assert.is(await store.applyRedaction(ORIGIN, signed, notice), 'known')
  const wrong = noticeFor(3, id)
  await rejects(() => store.applyRedaction(ORIGIN, wrong.signed, wrong.notice), 'BAD_REDACTION')
  // Of two valid notices for one index, the bytewise smaller one stays.
  const later = noticeFor(2, id, 8)
  const expect = Buffer.compare(Buffer.from(later.signed), Buffer.from(signed)) < 0 ? 'replaced' : 'known'
  assert.is(await store.applyRedaction(ORIGIN, later.signed, later.notice), expect)
  const listed = []
  for await (const r of store.redactions(ORIGIN)) listed.push(r)
  assert.is(listed.length, 1)
  assert.is(listed[0]!.index, 2)
})

test('store: a notice that arrives before its entry is applied when the entry is appended', async () => {
  const { store } = await storeWith(2)
  const late = signEntry(owner.seed, indicatorRecord(2, 'late'))
  const { signed, notice } = noticeFor(2, leafHash(late))
  assert.is(await store.applyRedaction(ORIGIN, signed, notice), 'pending')
  const r = await store.append(ORIGIN, 2, [{ entry: late, id: leafHash(late), record: indicatorRecord(2, 'late') }])
  assert.equal(r.redacted, [2])
  assert.ok(isRedactionMarker(await store.entry(ORIGIN, 2)))
  assert.not.ok(await store.inCurrentSet(leafHash(late)))
  assert.is(store.currentSetSize(), 2)
  // A notice naming a leaf that then arrives differently is void: the entry is stored and the notice dropped.
  const next = signEntry(owner.seed, indicatorRecord(3, 'next'))
  const bogus = noticeFor(3, sha256(utf8('not the leaf')))
  assert.is(await store.applyRedaction(ORIGIN, bogus.signed, bogus.notice), 'pending')
  const r2 = await store.append(ORIGIN, 3, [{ entry: next, id: leafHash(next), record: indicatorRecord(3, 'next') }])
  assert.equal(r2.droppedNotices, [3])
  assert.not.ok(isRedactionMarker(await store.entry(ORIGIN, 3)))
  assert.is(await store.redaction(ORIGIN, 3), undefined)
})

test('store: only indicators can be redacted', async () => {
  const { store, entries } = await storeWith(1)
  const rev: CairnRecord = { v: 1, type: 'revocation', log: ORIGIN, seq: 1, time: 5, target: leafHash(entries[0]!), reason: 'duplicate' }
  const e = signEntry(owner.seed, rev)
  await store.append(ORIGIN, 1, [{ entry: e, id: leafHash(e), record: rev }])
  const { signed, notice } = noticeFor(1, leafHash(e))
  await rejects(() => store.applyRedaction(ORIGIN, signed, notice), 'BAD_REDACTION')
})

// ------------------------------------------------------------------ federation

function indicator(tag: string): RecordBody {
  return { type: 'indicator', alg: 'sha256', value: sha256(utf8(tag)), category: 'A1', kind: 'known_material', media: 'image' }
}

let cluster: Cluster | undefined

test.after(async () => {
  await cluster?.close()
})

async function get(node: CairnNode, path: string, token?: string): Promise<Response> {
  return fetch(node.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} })
}

async function auditorToken(node: CairnNode): Promise<string> {
  return (await node.tokens.grant('auditor', 'redaction-test')).token
}

/** Every tile and entry bundle of a log as a node serves them, by path. */
async function tlogFiles(node: CairnNode, name: string, size: number, token: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  for (const t of tilesForTree(size)) {
    const path = `/logs/${name}/${tilePath(t)}`
    out.set(path, new Uint8Array(await (await get(node, path, token)).arrayBuffer()))
  }
  for (let b = 0; b * 256 < size; b++) {
    const path = `/logs/${name}/${entriesPath(b, Math.min(256, size - b * 256))}`
    out.set(path, new Uint8Array(await (await get(node, path, token)).arrayBuffer()))
  }
  return out
}

test('federation: a redacted indicator is unreadable on every node; tiles, proofs and cairn verify stay good', async () => {
  cluster = await startCluster(3)
  const [a, b, c] = cluster.nodes as [CairnNode, CairnNode, CairnNode]
  const value = sha256(utf8('court-ordered'))
  await Promise.all(Array.from({ length: 300 }, (_, i) => a.publisher.submit(indicator(`a-${i}`))))
  const target = await a.publisher.submit(indicator('court-ordered'))
  await Promise.all(Array.from({ length: 20 }, (_, i) => a.publisher.submit(indicator(`after-${i}`))))
  await b.publisher.submit(indicator('b-0'))
  await waitFor('convergence', () => converged(cluster!.nodes, 2), 60_000)
  const name = a.origin.split('/')[1]!
  const size = a.store.size(a.origin)
  const tokens = await Promise.all(cluster.nodes.map(auditorToken))
  const before = await tlogFiles(a, name, size, tokens[0]!)
  // A provider's verified local copy, taken before the court order.
  const providerToken = (await b.tokens.grant('provider', 'redaction-test')).token
  const genesis = join(cluster.planned[1]!.dir, 'genesis.json')
  const scratch = mkdtempSync(join(tmpdir(), 'cairn-redaction-'))
  const copy = (d: string) => syncLocalCopy({ node: b.url, token: providerToken, dir: join(scratch, d), minWitnesses: 2, genesis, warn: () => undefined })
  await copy('early')
  assert.ok(loadLocalSet(join(scratch, 'early')).has('sha256', value))

  // The operator's call: POST /admin/redactions.
  const res = await fetch(a.url + '/admin/redactions', {
    method: 'POST', headers: { authorization: `Bearer ${cluster.operatorTokens[0]}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: target.id, reason: 'legal_order' }),
  })
  assert.is(res.status, 201)
  const result = (await res.json()) as { index: number; id: string; revocation: string | null; notice: string }
  assert.is(result.index, target.seq)
  assert.ok(result.revocation, 'the indicator was revoked (legal_order) before it was redacted')
  const newSize = size + 1
  await waitFor('every node holds the marker and the revocation', async () => {
    for (const n of cluster!.nodes) {
      if (n.store.size(a.origin) !== newSize || n.store.listLogs().find((l) => l.origin === a.origin)!.checkpointSize !== newSize) return false
      if (!(await n.store.isRedacted(a.origin, target.seq))) return false
    }
    return true
  }, 30_000)

  for (const [i, n] of cluster.nodes.entries()) {
    const stored = await n.store.entry(a.origin, target.seq)
    assert.ok(isRedactionMarker(stored), `${n.origin} stores the marker`)
    assert.not.ok(Buffer.from(stored).includes(Buffer.from(value)), `${n.origin} holds no trace of the value`)
    assert.not.ok(await n.store.inCurrentSet(fromHex(target.id)))
    assert.equal(await n.store.idsForValue('sha256', value), [])
    // Lookup no longer returns it.
    const lookup = (await (await get(n, `/lookup/sha256/${toHex(value)}`, tokens[i])).json()) as { records: unknown[] }
    assert.is(lookup.records.length, 0, `${n.origin} lookup`)
    // Tiles byte-identical to before; the bundle differs only in the marker.
    const after = await tlogFiles(n, name, size, tokens[i]!)
    for (const [path, bytes] of before) {
      if (path.includes('/tile/entries/')) {
        const first = 256 * Number(path.split('/tile/entries/')[1]!.split('.')[0]!.replace(/[x/]/g, ''))
        const was = decodeEntryBundle(bytes)
        const now = decodeEntryBundle(after.get(path)!)
        assert.is(now.length, was.length)
        now.forEach((e, k) => {
          if (first + k === target.seq) {
            assert.ok(isRedactionMarker(e))
            assert.ok(equalBytes(readNoticeUnverified(markerNotice(e)).id, leafHash(was[k]!)))
          } else assert.ok(equalBytes(e, was[k]!), `${path} entry ${k}`)
        })
      } else assert.ok(equalBytes(after.get(path)!, bytes), `${n.origin} ${path} is byte-identical`)
    }
    // The inclusion proof of the redacted position still verifies with its leaf hash.
    const proof = await (await get(n, `/logs/${name}/proof/${target.seq}`, tokens[i])).text()
    assert.is(verifyTlogProofForLeaf(proof, fromHex(target.id), a.roster.member(a.origin)!.vkey).index, target.seq)
    // cairn verify passes.
    const report = await verifyNode({ url: n.url, token: tokens[i], workers: 0 })
    assert.equal(report.problems, [], `${n.origin}: ${report.problems.join('; ')}`)
    assert.ok(report.ok)
    assert.is(report.logs.find((l) => l.origin === a.origin)!.types.redacted, 1)
    // Public listing of notices.
    const listing = (await (await get(n, `/logs/${name}/redactions`)).json()) as { redactions: { index: number; id: string; notice: string }[] }
    assert.is(listing.redactions.length, 1)
    assert.is(listing.redactions[0]!.id, target.id)
    openRedaction(fromHex(listing.redactions[0]!.notice), parseVerifierKey(a.roster.member(a.origin)!.vkey).publicKey, { log: a.origin })
  }
  // Feed: the revocation is a remove; the redacted add is gone; snapshot does not have it.
  const feed = (await (await get(b, '/feed?limit=10000', tokens[1])).json()) as { items: { op: string; id: string; redacted?: boolean; reason?: string }[] }
  assert.not.ok(feed.items.some((x) => x.op === 'add' && x.id === target.id))
  const rm = feed.items.find((x) => x.op === 'remove' && x.id === target.id)
  assert.ok(rm)
  assert.is(rm!.reason, 'legal_order')
  assert.is(rm!.redacted, true)
  const snap = await (await get(c, '/feed/snapshot?format=txt', tokens[2])).text()
  assert.not.ok(snap.includes(toHex(value)))
  // Provider copies: the early one drops the value (the legal_order revocation), a fresh one never gets it.
  await copy('early')
  await copy('fresh')
  for (const d of ['early', 'fresh']) {
    const set = loadLocalSet(join(scratch, d))
    assert.not.ok(set.has('sha256', value), d)
    assert.ok(set.has('sha256', sha256(utf8('b-0'))), d)
  }
  rmSync(scratch, { recursive: true, force: true })
  // Redacting again changes nothing.
  const again = await a.redactions.redact({ id: fromHex(target.id), reason: 'legal_order' })
  assert.ok(again.already)
})

test('federation: a node stopped during the redaction learns it on restart; a late sync stores the marker, never the payload', async () => {
  const [a, , c] = cluster!.nodes as [CairnNode, CairnNode, CairnNode]
  const target = await a.publisher.submit(indicator('second-order'))
  await waitFor('convergence', () => converged(cluster!.nodes, 2), 60_000)
  await cluster!.stop(2)
  // Published while c is down: c will sync this one from a marker.
  const unseen = await a.publisher.submit(indicator('never-seen-by-c'))
  await a.redactions.redact({ id: fromHex(target.id), reason: 'legal_order' })
  await a.redactions.redact({ id: fromHex(unseen.id), reason: 'legal_order' })
  const c2 = await cluster!.start(2)
  assert.is(c2.origin, c.origin)
  await waitFor('restarted node holds both markers', async () =>
    c2.store.size(a.origin) === a.store.size(a.origin) &&
    (await c2.store.isRedacted(a.origin, target.seq)) && (await c2.store.isRedacted(a.origin, unseen.seq)), 60_000)
  for (const seq of [target.seq, unseen.seq]) assert.ok(isRedactionMarker(await c2.store.entry(a.origin, seq)))
  assert.is(toHex(c2.store.rootNow(a.origin)), toHex(a.store.rootNow(a.origin)))
  const token = await auditorToken(c2)
  const report = await verifyNode({ url: c2.url, token, workers: 0 })
  assert.equal(report.problems, [])
})

test('federation: a forged notice (another key) is rejected and counted everywhere it is heard', async () => {
  const [a, b] = cluster!.nodes as [CairnNode, CairnNode, CairnNode]
  const victim = await a.publisher.submit(indicator('victim'))
  await waitFor('convergence', () => converged(cluster!.nodes, 2), 60_000)
  const bKeys = await loadKeys(cluster!.planned[1]!.dir)
  const forged = signRedaction(bKeys.logSeed, { v: 1, log: a.origin, index: victim.seq, id: fromHex(victim.id), reason: 'legal_order', time: Date.now() })
  const before = b.sync.stats.rejected.BAD_SIGNATURE ?? 0
  assert.is(await b.redactions.receive(forged), undefined)
  assert.is(b.sync.stats.rejected.BAD_SIGNATURE, before + 1)
  // Also over gossip, from b to the others.
  await b.peer.publish(encodeGossip({ t: 'rd', origin: a.origin, notice: forged }))
  await waitFor('a counts the forged gossip', () => (a.redactions.stats.rejected.BAD_SIGNATURE ?? 0) >= 1, 10_000)
  for (const n of cluster!.nodes) {
    assert.not.ok(await n.store.isRedacted(a.origin, victim.seq))
    assert.ok(await n.store.inCurrentSet(fromHex(victim.id)))
  }
  // Another member cannot redact a's entry through its own API either.
  await rejects(() => b.redactions.redact({ id: fromHex(victim.id), reason: 'legal_order' }), 'UNKNOWN_TARGET')
})

test.run()
