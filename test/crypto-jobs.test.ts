/**
 * The worker jobs of node/crypto-jobs.ts, in process and through a real
 * WorkerPool: signJob makes exactly the entries encodeEntry makes, with their
 * leaf hashes; openJob accepts them and names the first entry that fails.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { signJob, openJob, pack, unpack, recordFromFields, FIELD_SLOTS, type SignInput, type SignOutput, type OpenInput, type OpenOutput } from '../workers/crypto-jobs.ts'
import { CryptoPools } from '../node/crypto-pools.ts'
import { openRange } from '../node/replication/ingest.ts'
import { WorkerPool } from '../workers/pool.ts'
import { encodeEntry, signedMessage, signedMessageIn } from '../protocol/entry.ts'
import { generateKeyPair, sign } from '../protocol/ed25519.ts'
import { leafHash } from '../protocol/hash.ts'
import { encodeRecord, type CairnRecord } from '../protocol/records.ts'
import { toHex } from '../protocol/bytes.ts'

const ORIGIN = 'test.cairn/eu-centre'
const log = generateKeyPair(new Uint8Array(32).fill(3))

function records(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const value = new Uint8Array(32).map((_, j) => (i * 7 + j * 13 + 1) & 0xff)
    return encodeRecord({ v: 1, type: 'indicator', log: ORIGIN, seq: i, time: 1_767_225_600_000 + i, alg: 'sha256', value, category: 'A1', kind: 'known_material', media: 'image' } as CairnRecord)
  })
}

test('pack and unpack: any lengths, empty items and an empty list, as views in order', () => {
  for (const lengths of [[], [0], [5], [0, 3, 0, 0, 7], [1, 300, 2, 65_535]]) {
    const items = lengths.map((n, i) => new Uint8Array(n).map((_, j) => (i * 31 + j) & 0xff))
    const p = pack(items)
    assert.is(p.bytes.length, lengths.reduce((a, b) => a + b, 0))
    const back = unpack(p)
    assert.is(back.length, items.length)
    back.forEach((b, i) => {
      assert.equal(b, items[i])
      assert.is(b.buffer, p.bytes.buffer)
    })
  }
})

test('signedMessageIn gives the bytes of signedMessage, growing its scratch when a record does not fit', () => {
  let scratch: Uint8Array = new Uint8Array(8)
  for (const n of [0, 1, 40, 5000, 3, 70_000]) {
    const r = new Uint8Array(n).map((_, j) => (n + j) & 0xff)
    const m = signedMessageIn(scratch, r)
    assert.equal(m.message, signedMessage(r))
    assert.ok(m.scratch.length >= m.message.length)
    scratch = m.scratch
  }
})

test('signJob in process: the entries encodeEntry makes, with their leaf hashes', () => {
  const recs = records(40)
  const { result } = signJob({ seed: log.seed, records: pack(recs) })
  const entries = unpack(result.entries)
  assert.is(entries.length, 40)
  entries.forEach((e, i) => {
    assert.equal(e, encodeEntry(recs[i]!, sign(log.seed, signedMessage(recs[i]!))))
    assert.equal(result.ids.subarray(32 * i, 32 * i + 32), leafHash(e))
  })
  const opened = openJob({ origin: ORIGIN, start: 0, entries, keys: [{ publicKey: log.publicKey, from: 0 }] }).result
  assert.is(opened.error, undefined)
  assert.equal(opened.ids, result.ids)
})

test('through two workers, split and joined in order; openJob names the first bad entry', async () => {
  const jobs = new URL('../workers/crypto-jobs.ts', import.meta.url).href
  const signPool = new WorkerPool<SignInput, SignOutput>(jobs, 'signJob', signJob, 2)
  const openPool = new WorkerPool<OpenInput, OpenOutput>(jobs, 'openJob', openJob, 2)
  try {
    await Promise.all([signPool.ready(), openPool.ready()])
    const recs = records(300)
    const parts = await signPool.runSplit(recs, 64, (slice): SignInput => ({ seed: log.seed, records: pack(slice) }))
    assert.ok(parts.length >= 2, 'the batch was split')
    const entries = parts.flatMap((p) => unpack(p.entries))
    assert.is(entries.length, 300)
    entries.forEach((e, i) => assert.equal(e, encodeEntry(recs[i]!, sign(log.seed, signedMessage(recs[i]!))), `entry ${i}`))
    const ids = parts.flatMap((p) => [...p.ids])
    assert.equal(new Uint8Array(ids), new Uint8Array(entries.flatMap((e) => [...leafHash(e)])))

    const tampered = entries.map((e) => new Uint8Array(e))
    tampered[211]![tampered[211]!.length - 1]! ^= 1
    const opened = await openPool.runSplit(tampered, 64, (slice, from): OpenInput => ({ origin: ORIGIN, start: from, entries: slice, keys: [{ publicKey: log.publicKey, from: 0 }] }))
    const errors = opened.filter((o) => o.error).map((o) => o.error!)
    assert.is(errors.length, 1)
    assert.is(errors[0]!.index, 211)
    assert.is(errors[0]!.code, 'BAD_SIGNATURE')
  } finally {
    await Promise.all([signPool.close(), openPool.close()])
  }
})

/** Records of every type and optional key, at seq 0, 1, ... of ORIGIN. */
function mixedRecords(): CairnRecord[] {
  const head = (seq: number) => ({ v: 1 as const, log: ORIGIN, seq, time: 1_767_225_600_000 + seq })
  const value = (n: number, seed: number) => new Uint8Array(n).map((_, j) => (seed * 7 + j * 13 + 1) & 0xff)
  const out: Record<string, unknown>[] = []
  const add = (body: Record<string, unknown>) => out.push({ ...head(out.length), ...body })
  add({ type: 'indicator', alg: 'md5', value: value(16, 1), category: 'A2', kind: 'new_material', media: 'video' })
  add({ type: 'indicator', alg: 'pdq', value: value(32, 2), category: 'B1', kind: 'known_material', media: 'image', quality: 77 })
  add({ type: 'indicator', alg: 'tmk_pdqf', value: value(300, 3), category: 'B2', kind: 'known_material', media: 'video', expires: 1_767_225_600_000 + 10 ** 9 })
  add({ type: 'indicator', alg: 'url_sha256', value: value(32, 4), category: 'A1', kind: 'url', media: 'url', ref: 'p1:' + '0123456789abcdef'.repeat(2) })
  add({ type: 'indicator', alg: 'pdq', value: value(32, 5), category: 'A1', kind: 'solicitation', media: 'image', quality: 50, expires: 1_767_225_600_000 + 99 })
  add({ type: 'revocation', target: value(32, 6), reason: 'legal_order' })
  add({ type: 'attestation', target: value(32, 7), opinion: 'dispute', reason: 'wrong_category' })
  add({ type: 'attestation', target: value(32, 8), opinion: 'confirm' })
  add({ type: 'roster', change: 'set_threshold', threshold: 2 })
  add({ type: 'indicator', alg: 'photodna', value: value(144, 9), category: 'B2', kind: 'known_material', media: 'image' })
  return out as unknown as CairnRecord[]
}

test('openJob describes each record so recordFromFields rebuilds what openEntry returned (same keys, same order), or leaves it to the caller', () => {
  const recs = mixedRecords().map((r) => encodeRecord(r))
  const entries = unpack(signJob({ seed: log.seed, records: pack(recs) }).result.entries)
  const keys = [{ publicKey: log.publicKey, from: 0 }]
  const { fields, error } = openJob({ origin: ORIGIN, start: 0, entries, keys }).result
  assert.is(error, undefined)
  const expected = openRange(ORIGIN, 0, entries, keys)
  let described = 0
  entries.forEach((e, i) => {
    const got = recordFromFields(e, fields!, FIELD_SLOTS * i, ORIGIN, i)
    const want = expected[i]!
    if (want.record.type === 'roster' || (want.record.type === 'indicator' && want.record.ref !== undefined)) {
      assert.is(got, undefined, `entry ${i} is left to the caller`)
      return
    }
    described++
    assert.ok(got, `entry ${i} is described`)
    assert.equal(got!.record, want.record, `record ${i}`)
    assert.equal(Object.keys(got!.record), Object.keys(want.record), `key order of record ${i}`)
    assert.equal(got!.recordBytes, want.recordBytes)
    assert.equal(got!.signature, want.signature)
    for (const b of [got!.recordBytes, got!.signature, ...Object.values(got!.record).filter((v) => v instanceof Uint8Array)]) {
      assert.is((b as Uint8Array).buffer, e.buffer, 'a view of the entry')
      assert.is(Object.getPrototypeOf(b), Uint8Array.prototype, 'a plain Uint8Array')
    }
  })
  assert.is(described, 8)
})

test('CryptoPools.openRange through workers: the entries ingest.openRange opens, records rebuilt or decoded; the first bad entry throws', async () => {
  const pools = await CryptoPools.start(2)
  try {
    const recs = [...mixedRecords(), ...Array.from({ length: 600 }, (_, i) => ({ ...mixedRecords()[i % 10]!, seq: 10 + i }))].map((r) => encodeRecord(r as CairnRecord))
    const entries = unpack(signJob({ seed: log.seed, records: pack(recs) }).result.entries)
    const keys = [{ publicKey: log.publicKey, from: 0 }]
    const got = await pools.openRange(ORIGIN, 0, entries, keys)
    const want = openRange(ORIGIN, 0, entries, keys)
    assert.is(got.length, want.length)
    got.forEach((g, i) => {
      assert.equal(g, want[i], `entry ${i}`)
      assert.equal(Object.keys(g.record), Object.keys(want[i]!.record))
    })
    const tampered = entries.map((e) => new Uint8Array(e))
    tampered[433]![tampered[433]!.length - 1]! ^= 1
    try {
      await pools.openRange(ORIGIN, 0, tampered, keys)
      assert.unreachable('a bad signature passed')
    } catch (e) {
      assert.is((e as { code?: string }).code, 'BAD_SIGNATURE')
      assert.match((e as Error).message, /entry 433/)
    }
  } finally {
    await pools.close()
  }
})

test.run()
