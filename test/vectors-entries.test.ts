import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fromHex, toHex, concat } from '../protocol/bytes.ts'
import { decodeCanonical, encodeCanonical } from '../protocol/cbor.ts'
import { decodeEntry, encodeEntry, entryLength, writeEntry, openEntry, recordId, signEntry, signedMessage, RECORD_DOMAIN, MAX_ENTRY_BYTES } from '../protocol/entry.ts'
import { sign, assertValidPublicKey } from '../protocol/ed25519.ts'
import { LedgerError, ERROR_CODES } from '../protocol/errors.ts'
import { leafHash } from '../protocol/hash.ts'
import { encodeRecord, recordFromJson, recordToJson, validateAndEncode, type CairnRecord } from '../protocol/records.ts'
import { entryCases } from '../spec/gen/entries.ts'
import { vectorKey, VECTOR_TIME_MS } from '../spec/gen/seeds.ts'
import { codeOf } from './helpers.ts'

const dir = new URL('../spec/vectors/entries', import.meta.url).pathname
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
const vectors = files.map((f) => ({ name: f.slice(0, -5), data: JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, any> }))


test('the vector set has the DESIGN §6 shape and enough cases', () => {
  assert.ok(vectors.length >= 40, `${vectors.length} vectors`)
  const invalid = vectors.filter((v) => v.data.valid === false)
  assert.ok(invalid.length / vectors.length >= 0.6, 'at least 60% invalid')
  for (const { name, data } of vectors) {
    assert.match(name, /^(valid|invalid)-[a-z0-9]+(-[a-z0-9]+)*$/, name)
    assert.is(name.startsWith('valid-'), data.valid === true, name)
    const keys = Object.keys(data).sort()
    const want = data.valid ? ['description', 'entry', 'public_key', 'record', 'record_id', 'valid'] : ['description', 'entry', 'error', 'public_key', 'valid']
    assert.equal(keys, want, name)
    assert.type(data.description, 'string')
    assert.match(data.public_key, /^[0-9a-f]{64}$/, name)
    assert.match(data.entry, /^(?:[0-9a-f]{2})*$/, name)
    if (!data.valid) assert.ok((ERROR_CODES as readonly string[]).includes(data.error), `${name}: unknown code ${data.error}`)
  }
})

for (const { name, data } of vectors) {
  test(`entries/${name}`, () => {
    const entry = fromHex(data.entry)
    const key = fromHex(data.public_key)
    if (data.valid) {
      const opened = openEntry(entry, key)
      assert.is(toHex(opened.id), data.record_id)
      assert.is(toHex(recordId(entry)), data.record_id)
      assert.equal(recordToJson(opened.record), data.record)
      // the record re-encodes to the signed bytes
      assert.is(toHex(encodeRecord(opened.record)), toHex(opened.recordBytes))
      // so does the publisher's one-pass form, from the JSON a client would send
      assert.is(toHex(validateAndEncode(recordFromJson(data.record)).bytes), toHex(opened.recordBytes))
    } else {
      assert.is(codeOf(() => openEntry(entry, key)), data.error)
    }
  })
}

test('spec/vectors/entries is what spec/gen/entries.ts generates', () => {
  const cases = entryCases()
  assert.equal(cases.map((c) => c.name).sort(), vectors.map((v) => v.name).sort())
  const byName = new Map(vectors.map((v) => [v.name, v.data]))
  for (const c of cases) assert.equal(c.data, byName.get(c.name), c.name)
})

test('every valid vector type and alg is covered, and every Ed25519 edge case', () => {
  const valid = vectors.filter((v) => v.data.valid).map((v) => v.data.record)
  for (const t of ['indicator', 'revocation', 'attestation', 'roster']) assert.ok(valid.some((r) => r.type === t), t)
  for (const alg of ['md5', 'sha1', 'sha256', 'pdq', 'photodna', 'tmk_pdqf', 'url_sha256']) assert.ok(valid.some((r) => r.alg === alg), alg)
  for (const c of ['add_member', 'remove_member', 'rotate_key', 'set_roles', 'set_threshold']) assert.ok(valid.some((r) => r.change === c), c)
  const names = new Set(vectors.map((v) => v.name))
  for (const n of [
    'invalid-signature-s-plus-l',
    'invalid-signature-non-canonical-r',
    'invalid-signature-wrong-domain',
    'invalid-signature-other-key',
    'invalid-public-key-small-order',
    'invalid-public-key-non-canonical',
    'invalid-entry-truncated',
    'invalid-entry-oversized',
  ]) assert.ok(names.has(n), n)
})

// ---------------------------------------------------------------- entry API

const log = vectorKey('entry-test/log')
const other = vectorKey('entry-test/other')
const ORIGIN = 'test.cairn/eu-centre'
const record: CairnRecord = {
  v: 1,
  type: 'revocation',
  log: ORIGIN,
  seq: 3,
  time: VECTOR_TIME_MS,
  target: new Uint8Array(32).fill(9),
  reason: 'duplicate',
}

test('signEntry / openEntry round trip, record id is the leaf hash', () => {
  const entry = signEntry(log.seed, record)
  const opened = openEntry(entry, log.publicKey, { log: ORIGIN, seq: 3 })
  assert.equal(recordToJson(opened.record), recordToJson(record))
  assert.equal(opened.id, leafHash(entry))
  assert.equal(recordId(entry), leafHash(entry))
  assert.is(opened.signature.length, 64)
  assert.equal(opened.recordBytes, encodeRecord(record))
  assert.is(Object.getPrototypeOf(opened.recordBytes), Uint8Array.prototype)
  // a Buffer input opens the same way
  assert.equal(openEntry(Buffer.from(entry), log.publicKey).id, opened.id)
})

test('signEntry validates the record first', () => {
  assert.is(codeOf(() => signEntry(log.seed, { ...record, reason: 'oops' } as unknown as CairnRecord)), 'BAD_REASON')
})

test('openEntry expectations: WRONG_LOG, SEQ_MISMATCH', () => {
  const entry = signEntry(log.seed, record)
  assert.is(codeOf(() => openEntry(entry, log.publicKey, { log: 'test.cairn/ncmec' })), 'WRONG_LOG')
  assert.is(codeOf(() => openEntry(entry, log.publicKey, { seq: 4 })), 'SEQ_MISMATCH')
  assert.is(codeOf(() => openEntry(entry, log.publicKey, { log: ORIGIN, seq: 3 })), 'ACCEPTED')
})

test('openEntry check order: signature before record rules, size before everything', () => {
  const bad = encodeEntry(new Uint8Array([0xa0]), sign(log.seed, signedMessage(new Uint8Array([0xa0]))))
  assert.is(codeOf(() => openEntry(bad, log.publicKey)), 'MISSING_FIELD')
  assert.is(codeOf(() => openEntry(bad, other.publicKey)), 'BAD_SIGNATURE')
  const huge = new Uint8Array(MAX_ENTRY_BYTES + 1).fill(0xff)
  assert.is(codeOf(() => openEntry(huge, log.publicKey)), 'TOO_LARGE')
  assert.is(codeOf(() => decodeEntry(huge)), 'TOO_LARGE')
})

test('signature covers the domain: RECORD_DOMAIN ‖ 0x00 ‖ record', () => {
  assert.is(new TextDecoder().decode(RECORD_DOMAIN), 'cairn/record/v1')
  const bytes = encodeRecord(record)
  const msg = signedMessage(bytes)
  assert.is(msg[RECORD_DOMAIN.length], 0)
  assert.equal(msg.subarray(RECORD_DOMAIN.length + 1), bytes)
  assert.equal(signEntry(log.seed, record), encodeEntry(bytes, sign(log.seed, msg)))
})

test('encodeEntry / decodeEntry', () => {
  const bytes = encodeRecord(record)
  const sig = sign(log.seed, signedMessage(bytes))
  const entry = encodeEntry(bytes, sig)
  assert.is(entry[0], 0x82)
  const d = decodeEntry(entry)
  assert.equal(d.recordBytes, bytes)
  assert.equal(d.signature, sig)
  assert.is(codeOf(() => encodeEntry(bytes, sig.subarray(1))), 'MALFORMED_ENTRY')
  assert.is(codeOf(() => encodeEntry(new Uint8Array(MAX_ENTRY_BYTES), sig)), 'TOO_LARGE')
  assert.is(codeOf(() => decodeEntry(new Uint8Array([0x80]))), 'MALFORMED_ENTRY')
  assert.is(codeOf(() => decodeEntry(new Uint8Array([0x82, 0x40, 0x40]))), 'MALFORMED_ENTRY')
  assert.is(codeOf(() => decodeEntry(new Uint8Array([0x82, 0x40]))), 'MALFORMED_CBOR')
})

test('encodeEntry and writeEntry frame records exactly as the canonical encoder does, at every head size', () => {
  const sig = sign(log.seed, new Uint8Array([1]))
  for (const n of [0, 1, 23, 24, 25, 255, 256, 257, 4096, 65_000, MAX_ENTRY_BYTES - 70, MAX_ENTRY_BYTES - 69]) {
    const recordBytes = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff)
    const want = encodeCanonical([recordBytes, sig])
    if (want.length > MAX_ENTRY_BYTES) {
      assert.is(codeOf(() => encodeEntry(recordBytes, sig)), 'TOO_LARGE', `record of ${n} bytes`)
      continue
    }
    assert.is(entryLength(n), want.length, `entryLength(${n})`)
    assert.equal(encodeEntry(recordBytes, sig), want, `record of ${n} bytes`)
    const out = new Uint8Array(want.length + 7).fill(0xee)
    assert.is(writeEntry(out, 3, recordBytes, sig), 3 + want.length)
    assert.equal(out.subarray(3, 3 + want.length), want)
    assert.equal([...out.subarray(0, 3), ...out.subarray(3 + want.length)], [0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee])
  }
})

test('decodeEntry reads the canonical form directly and agrees with the general CBOR decoder on every mutation', () => {
  const sig = new Uint8Array(64).fill(7)
  const general = (b: Uint8Array) => {
    try {
      const v = decodeCanonical(b, { maxBytes: MAX_ENTRY_BYTES }) as unknown[]
      return Array.isArray(v) && v.length === 2 && v[0] instanceof Uint8Array && v[1] instanceof Uint8Array && v[1].length === 64 ? `${toHex(v[0])}/${toHex(v[1])}` : 'shape'
    } catch (e) {
      return (e as LedgerError).code
    }
  }
  const mine = (b: Uint8Array) => {
    try {
      const d = decodeEntry(b)
      return `${toHex(d.recordBytes)}/${toHex(d.signature)}`
    } catch (e) {
      return (e as LedgerError).code === 'MALFORMED_ENTRY' ? 'shape' : (e as LedgerError).code
    }
  }
  let cases = 0
  for (const len of [0, 1, 23, 24, 255, 256, 1000]) {
    const entry = encodeEntry(new Uint8Array(len).fill(0xa5), sig)
    const variants: Uint8Array[] = [entry, entry.subarray(0, entry.length - 1), concat(entry, new Uint8Array([0]))]
    for (let i = 0; i < Math.min(entry.length, 8); i++) {
      for (const v of [0x00, 0x18, 0x40, 0x41, 0x57, 0x58, 0x59, 0x5a, 0x5f, 0x81, 0x82, 0x83, 0x9f, 0xff]) {
        const m = new Uint8Array(entry)
        m[i] = v
        variants.push(m)
      }
    }
    // Longer length forms than needed for the same record: not canonical.
    const rec = new Uint8Array(len).fill(0xa5)
    variants.push(concat(new Uint8Array([0x82, 0x58, len & 0xff]), rec, new Uint8Array([0x58, 0x40]), sig))
    variants.push(concat(new Uint8Array([0x82, 0x59, len >> 8, len & 0xff]), rec, new Uint8Array([0x58, 0x40]), sig))
    variants.push(concat(new Uint8Array([0x82, 0x5a, 0, 0, len >> 8, len & 0xff]), rec, new Uint8Array([0x58, 0x40]), sig))
    variants.push(concat(entry.subarray(0, entry.length - 66), new Uint8Array([0x59, 0x00, 0x40]), sig))
    for (const v of variants) {
      assert.is(mine(v), general(v), `entry of a ${len}-byte record, variant ${toHex(v.subarray(0, 6))}… (${v.length} bytes)`)
      cases++
    }
  }
  assert.ok(cases > 500)
})

test('an invalid public key is BAD_PUBLIC_KEY whatever the signature', () => {
  const entry = signEntry(log.seed, record)
  assert.is(codeOf(() => openEntry(entry, new Uint8Array(31))), 'BAD_PUBLIC_KEY')
  assert.is(codeOf(() => openEntry(entry, new Uint8Array(32))), 'BAD_PUBLIC_KEY') // y = 0: order 4
  // Keys that passed are remembered (the point check is slow); a refused key is refused every time.
  assert.is(codeOf(() => openEntry(entry, new Uint8Array(32))), 'BAD_PUBLIC_KEY')
  assert.is(codeOf(() => assertValidPublicKey(new Uint8Array(32))), 'BAD_PUBLIC_KEY')
  assertValidPublicKey(log.publicKey)
  assertValidPublicKey(log.publicKey)
})

test.run()
