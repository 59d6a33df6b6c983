/**
 * Store.truncate (fork resolution, spec/federation.md §10.10): a log cut back
 * to N must be exactly the store that only ever appended its first N entries
 * — record index, values, references, roster events, current set, expiry,
 * redactions, counters, tiles, checkpoints — and the cut is one atomic batch
 * (a crash before it leaves the log as it was).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryKV, type KV, type BatchOp } from '../node/storage/kv.ts'
import { Store, type AppendItem, type StoreObserver } from '../node/storage/store.ts'
import { P } from '../node/storage/keys.ts'
import { generateKeyPair } from '../protocol/ed25519.ts'
import { signEntry } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { signRedaction } from '../protocol/redaction.ts'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import { validateRecord, type CairnRecord } from '../protocol/records.ts'
import { toHex, fromUtf8 } from '../protocol/bytes.ts'

const ORIGIN = 'test.cairn/eu-centre'
const kp = generateKeyPair(new Uint8Array(32).fill(7))
const T = 1_767_225_600_000

function item(seq: number, body: Record<string, unknown>): AppendItem {
  const record = validateRecord({ v: 1, log: ORIGIN, seq, time: T + seq, ...body }) as CairnRecord
  const entry = signEntry(kp.seed, record)
  return { entry, id: leafHash(entry), record }
}
function value(tag: string): Uint8Array {
  const v = new Uint8Array(32)
  v.set(new TextEncoder().encode(tag))
  v[31] = 1
  return v
}
const ind = (seq: number, tag: string, extra: Record<string, unknown> = {}) =>
  item(seq, { type: 'indicator', alg: 'sha256', value: value(tag), category: 'A1', kind: 'known_material', media: 'image', ...extra })

/** A log of `n` entries with indicators, revocations (of earlier and of later-removed targets), attestations and a roster proposal. */
function build(n: number, branch: string): AppendItem[] {
  const out: AppendItem[] = []
  for (let i = 0; i < n; i++) {
    if (i % 50 === 7 && i > 7) out.push(item(i, { type: 'revocation', target: out[i - 7]!.id, reason: 'false_positive' }))
    else if (i === 303) out.push(item(i, { type: 'revocation', target: out[3]!.id, reason: 'duplicate' }))
    else if (i % 97 === 5) out.push(item(i, { type: 'attestation', target: out[i - 1]!.id, opinion: 'confirm' }))
    else if (i === 320) out.push(item(i, { type: 'roster', change: 'set_threshold', threshold: 1 }))
    else out.push(ind(i, `${i < 290 ? 'x' : branch}-${i}`, i % 13 === 0 ? { expires: T + 10 ** 9 } : {}))
  }
  return out
}

/** Every row of the store but the metadata, and the metadata normalised (zero counters dropped). */
async function dump(kv: KV): Promise<{ rows: Map<string, string>; meta: Record<string, unknown> }> {
  const rows = new Map<string, string>()
  const meta: Record<string, unknown> = {}
  for await (const [k, v] of kv.iterate({})) {
    if (k[0] === P.meta) {
      const name = fromUtf8(k.subarray(1))
      if (name.startsWith('log/')) {
        const j = JSON.parse(fromUtf8(v)) as { size: number; counters: Record<string, unknown> }
        const norm = (o: unknown): unknown => typeof o === 'object' && o ? Object.fromEntries(Object.entries(o).filter(([, x]) => x !== 0).map(([a, x]) => [a, norm(x)]).sort()) : o
        meta[name] = { size: j.size, counters: norm(j.counters) }
      } else if (!(name === 'setsize' && /^0+$/.test(toHex(v)))) meta[name] = toHex(v) // an empty store has none yet
      continue
    }
    if (k[0] === P.checkpoint || k[0] === P.history) continue // compared on their own
    rows.set(toHex(k), toHex(v))
  }
  return { rows, meta }
}

async function storeWith(items: AppendItem[], redact: number[] = []): Promise<{ kv: MemoryKV; store: Store }> {
  const kv = new MemoryKV()
  const store = await Store.open(kv)
  await store.registerLog(ORIGIN)
  store.trackExpiry(ORIGIN)
  for (let i = 0; i < items.length; i += 37) {
    const batch = items.slice(i, i + 37)
    const size = i + batch.length
    await store.append(ORIGIN, i, batch, { checkpoint: (s, root) => signCheckpoint({ origin: ORIGIN, size: s, root }, { name: ORIGIN, seed: kp.seed }), durable: false })
    void size
  }
  for (const index of redact) {
    if (index >= items.length || items[index]!.record.type !== 'indicator') continue
    const signed = signRedaction(kp.seed, { v: 1, log: ORIGIN, index, id: items[index]!.id, reason: 'legal_order', time: T })
    await store.applyRedaction(ORIGIN, signed, { v: 1, log: ORIGIN, index, id: items[index]!.id, reason: 'legal_order', time: T })
  }
  return { kv, store }
}

test('a log cut back to N is the store that only appended its first N entries', async () => {
  const long = build(700, 'a')
  for (const n of [0, 1, 256, 290, 300, 512, 515]) {
    const { kv, store } = await storeWith(long, [1, 4, 400, 600])
    const heard: [string, number][] = []
    store.observe({ appended() {}, redactedEntry() {}, truncated: (o, s) => heard.push([o, s]) } as StoreObserver)
    const rootN = await store.root(ORIGIN, n)
    const r = await store.truncate(ORIGIN, n)
    assert.is(r.removed, 700 - n)
    assert.is(r.rosterEvents, n <= 320 || n < 700 && long.slice(n).some((x) => x.record.type === 'attestation'), `roster events when cut to ${n}`)
    assert.equal(heard, [[ORIGIN, n]])
    const ref = await storeWith(long.slice(0, n), [1, 4, 400, 600])
    const a = await dump(kv)
    const b = await dump(ref.kv)
    assert.equal(a.meta, b.meta, `metadata when cut to ${n}`)
    const diff = [...new Set([...a.rows.keys(), ...b.rows.keys()])].filter((k) => a.rows.get(k) !== b.rows.get(k))
    assert.equal(diff.map((k) => `${String.fromCharCode(parseInt(k.slice(0, 2), 16))} ${k.slice(2, 40)}`), [], `rows when cut to ${n}`)
    assert.is(store.size(ORIGIN), n)
    assert.is(store.currentSetSize(), ref.store.currentSetSize())
    assert.is(toHex(store.rootNow(ORIGIN)), toHex(rootN))
    // The latest checkpoint is the largest one left at or below N.
    const cpSize = Math.floor(n / 37) * 37
    assert.is(store.listLogs()[0]!.checkpointSize, cpSize)
    assert.is((await store.checkpointHistory(ORIGIN)).length, Math.floor(n / 37) + (n === 0 ? 0 : 0))
    // It grows again like any log: the other branch from N.
    const other = build(700, 'b').slice(n, n + 40)
    const { root } = await store.append(ORIGIN, n, other, { durable: false })
    const ref2 = await storeWith([...long.slice(0, n), ...other])
    assert.is(toHex(root), toHex(ref2.store.rootNow(ORIGIN)))
    // Reopened from the KV: the same state.
    const again = await Store.open(kv)
    assert.is(again.size(ORIGIN), n + 40)
    assert.is(toHex(again.rootNow(ORIGIN)), toHex(root))
  }
})

test('cut back with the standing checkpoint and the freeze lifted in the same batch', async () => {
  const long = build(60, 'a')
  const { kv, store } = await storeWith(long)
  await store.freeze(ORIGIN, 'proof')
  await assert.not.throws(() => undefined)
  const root = await store.root(ORIGIN, 50)
  const standing = signCheckpoint({ origin: ORIGIN, size: 50, root }, { name: ORIGIN, seed: kp.seed })
  await store.truncate(ORIGIN, 50, { checkpoint: standing, unfreeze: true })
  assert.is(store.checkpoint(ORIGIN), standing)
  assert.is(store.frozenProof(ORIGIN), undefined)
  const again = await Store.open(kv)
  assert.is(again.checkpoint(ORIGIN), standing)
  assert.is(again.frozenProof(ORIGIN), undefined)
  // A checkpoint that does not cover the kept tree is refused, and nothing changes.
  const wrong = signCheckpoint({ origin: ORIGIN, size: 40, root }, { name: ORIGIN, seed: kp.seed })
  try {
    await store.truncate(ORIGIN, 40, { checkpoint: wrong })
    assert.unreachable('took a checkpoint that does not cover the tree')
  } catch (e) {
    assert.is((e as { code?: string }).code, 'INCONSISTENT_CHECKPOINT')
  }
  assert.is(store.size(ORIGIN), 50)
})

test('a crash before the batch leaves the log as it was (one atomic batch)', async () => {
  const long = build(330, 'a')
  const { kv, store } = await storeWith(long, [4])
  const before = await dump(kv)
  const batch = kv.batch.bind(kv)
  let batches = 0
  kv.batch = async (ops: BatchOp[]) => {
    batches++
    if (ops.length > 0) throw new Error('power cut')
    return batch(ops)
  }
  try {
    await store.truncate(ORIGIN, 100)
    assert.unreachable()
  } catch (e) {
    assert.match((e as Error).message, /power cut/)
  }
  assert.is(batches, 1, 'the whole cut is one batch')
  kv.batch = batch
  const after = await dump(kv)
  assert.equal(after.meta, before.meta)
  assert.equal([...after.rows], [...before.rows])
  const reopened = await Store.open(kv)
  assert.is(reopened.size(ORIGIN), 330)
})

test.run()
