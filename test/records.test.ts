import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fromHex, toHex } from '../protocol/bytes.ts'
import { decodeCanonical, encodeCanonical, type CborValue } from '../protocol/cbor.ts'
import { LedgerError } from '../protocol/errors.ts'
import {
  decodeCheckedRecord, decodeRecord, encodeRecord, isValidOrigin, recordFromJson, recordToJson, validateAndEncode, validateRecord,
  type CairnRecord, type IndicatorRecord,
} from '../protocol/records.ts'
import { vectorKey, VECTOR_TIME_MS } from '../spec/gen/seeds.ts'
import { codeOf } from './helpers.ts'

type Fields = Record<string, unknown>

/** The code decodeRecord gives for the canonical encoding of `fields` (bypassing encodeRecord's validation). */
const decodeCode = (fields: Fields): string => codeOf(() => decodeRecord(encodeCanonical(fields as CborValue)))
const without = (f: Fields, ...keys: string[]): Fields => Object.fromEntries(Object.entries(f).filter(([k]) => !keys.includes(k)))

const T = VECTOR_TIME_MS
const ORIGIN = 'test.cairn/eu-centre'
const bytes = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill).map((b, i) => (b + i) & 0xff)
const key1 = vectorKey('records-test/1').publicKey
const key2 = vectorKey('records-test/2').publicKey
const base = (type: string): Fields => ({ v: 1, type, log: ORIGIN, seq: 5, time: T })
const indicator = (over: Fields = {}): Fields => ({ ...base('indicator'), alg: 'sha256', value: bytes(32), category: 'A1', kind: 'known_material', media: 'image', ...over })
const pdq = (over: Fields = {}): Fields => indicator({ alg: 'pdq', value: bytes(32), quality: 80, ...over })
const revocation = (over: Fields = {}): Fields => ({ ...base('revocation'), target: bytes(32), reason: 'legal_order', ...over })
const attestation = (over: Fields = {}): Fields => ({ ...base('attestation'), target: bytes(32), opinion: 'dispute', ...over })
const roster = (change: string, over: Fields = {}): Fields => ({ ...base('roster'), change, ...over })
const addMember = (over: Fields = {}): Fields =>
  roster('add_member', { member: 'c3p', origin: 'test.cairn/c3p', key: key1, witness_key: key2, peer_id: '12D3KooWabc', roles: ['publisher'], ...over })

/** [description, fields, expected code] — each through validateRecord, and through decodeRecord of its encoding. */
const CASES: Array<[string, Fields, string]> = [
  // valid
  ['sha256 indicator', indicator(), 'ACCEPTED'],
  ['md5', indicator({ alg: 'md5', value: bytes(16) }), 'ACCEPTED'],
  ['sha1', indicator({ alg: 'sha1', value: bytes(20) }), 'ACCEPTED'],
  ['pdq', pdq(), 'ACCEPTED'],
  ['pdq quality 50', pdq({ quality: 50 }), 'ACCEPTED'],
  ['pdq quality 100', pdq({ quality: 100 }), 'ACCEPTED'],
  ['photodna', indicator({ alg: 'photodna', value: bytes(144) }), 'ACCEPTED'],
  ['tmk_pdqf 1 byte', indicator({ alg: 'tmk_pdqf', value: bytes(1), media: 'video' }), 'ACCEPTED'],
  ['tmk_pdqf 4096 bytes', indicator({ alg: 'tmk_pdqf', value: bytes(4096), media: 'video' }), 'ACCEPTED'],
  ['url', indicator({ alg: 'url_sha256', kind: 'url', media: 'url' }), 'ACCEPTED'],
  ['every category/kind/media', indicator({ category: 'B2', kind: 'solicitation', media: 'text' }), 'ACCEPTED'],
  ['new_material video sha1', indicator({ alg: 'sha1', value: bytes(20), kind: 'new_material', media: 'video', category: 'A2' }), 'ACCEPTED'],
  ['ref and expires', indicator({ ref: 'p1:00112233445566778899aabbccddeeff', expires: T + 1 }), 'ACCEPTED'],
  ['seq 0 and 2^53-1', indicator({ seq: Number.MAX_SAFE_INTEGER }), 'ACCEPTED'],
  ['value with some 0x00 and 0xff', indicator({ value: new Uint8Array(32).fill(0xff).fill(0, 16) }), 'ACCEPTED'],
  ['revocation', revocation(), 'ACCEPTED'],
  ['attestation without reason', attestation(), 'ACCEPTED'],
  ['attestation with reason', attestation({ opinion: 'confirm', reason: 'reviewed' }), 'ACCEPTED'],
  ['add_member', addMember(), 'ACCEPTED'],
  ['add_member no roles', addMember({ roles: [] }), 'ACCEPTED'],
  ['add_member both roles', addMember({ roles: ['publisher', 'witness'] }), 'ACCEPTED'],
  ['remove_member', roster('remove_member', { member: 'c3p' }), 'ACCEPTED'],
  ['rotate_key key', roster('rotate_key', { member: 'c3p', key: key1 }), 'ACCEPTED'],
  ['rotate_key witness_key', roster('rotate_key', { member: 'c3p', witness_key: key2 }), 'ACCEPTED'],
  ['rotate_key peer_id', roster('rotate_key', { member: 'c3p', peer_id: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' }), 'ACCEPTED'],
  ['set_roles', roster('set_roles', { member: 'c3p', roles: ['witness'] }), 'ACCEPTED'],
  ['set_threshold', roster('set_threshold', { threshold: 1 }), 'ACCEPTED'],

  // common keys
  ['v missing', without(indicator(), 'v'), 'MISSING_FIELD'],
  ['v = 2', indicator({ v: 2 }), 'BAD_VERSION'],
  ['v = 0', indicator({ v: 0 }), 'BAD_VERSION'],
  ['v as text', indicator({ v: '1' }), 'BAD_VERSION'],
  ['type missing', without(indicator(), 'type'), 'MISSING_FIELD'],
  ['type as bytes', indicator({ type: bytes(3) }), 'BAD_FIELD'],
  ['unknown type', indicator({ type: 'Indicator' }), 'UNKNOWN_TYPE'],
  ['unknown key', indicator({ note: 'x' }), 'UNKNOWN_FIELD'],
  ['key of another type', indicator({ target: bytes(32) }), 'UNKNOWN_FIELD'],
  ['log missing', without(indicator(), 'log'), 'MISSING_FIELD'],
  ['log as bytes', indicator({ log: bytes(4) }), 'BAD_FIELD'],
  ['log with space', indicator({ log: 'test.cairn/eu centre' }), 'BAD_FIELD'],
  ['log with +', indicator({ log: 'test.cairn/eu+centre' }), 'BAD_FIELD'],
  ['log with three parts', indicator({ log: 'test.cairn/eu/centre' }), 'BAD_FIELD'],
  ['log empty member', indicator({ log: 'test.cairn/' }), 'BAD_FIELD'],
  ['log of 129 chars', indicator({ log: `${'f'.repeat(64)}/${'m'.repeat(64)}` }), 'BAD_FIELD'],
  ['seq missing', without(indicator(), 'seq'), 'MISSING_FIELD'],
  ['seq as text', indicator({ seq: '5' }), 'BAD_FIELD'],
  ['time missing', without(indicator(), 'time'), 'MISSING_FIELD'],
  ['time as bytes', indicator({ time: bytes(8) }), 'BAD_FIELD'],

  // indicator
  ['alg missing', without(indicator(), 'alg'), 'MISSING_FIELD'],
  ['alg unknown', indicator({ alg: 'SHA256' }), 'BAD_ALG'],
  ['alg as number', indicator({ alg: 256 }), 'BAD_FIELD'],
  ['value missing', without(indicator(), 'value'), 'MISSING_FIELD'],
  ['value as text', indicator({ value: toHex(bytes(32)) }), 'BAD_FIELD'],
  ['md5 17 bytes', indicator({ alg: 'md5', value: bytes(17) }), 'BAD_VALUE_LENGTH'],
  ['sha1 16 bytes', indicator({ alg: 'sha1', value: bytes(16) }), 'BAD_VALUE_LENGTH'],
  ['sha256 31 bytes', indicator({ value: bytes(31) }), 'BAD_VALUE_LENGTH'],
  ['pdq 33 bytes', pdq({ value: bytes(33) }), 'BAD_VALUE_LENGTH'],
  ['photodna 143 bytes', indicator({ alg: 'photodna', value: bytes(143) }), 'BAD_VALUE_LENGTH'],
  ['tmk_pdqf empty', indicator({ alg: 'tmk_pdqf', value: new Uint8Array(0), media: 'video' }), 'BAD_VALUE_LENGTH'],
  ['tmk_pdqf 4097', indicator({ alg: 'tmk_pdqf', value: bytes(4097), media: 'video' }), 'BAD_VALUE_LENGTH'],
  ['url_sha256 20 bytes', indicator({ alg: 'url_sha256', value: bytes(20), kind: 'url', media: 'url' }), 'BAD_VALUE_LENGTH'],
  ['all zero', indicator({ value: new Uint8Array(32) }), 'DEGENERATE_HASH'],
  ['all 0xff md5', indicator({ alg: 'md5', value: new Uint8Array(16).fill(0xff) }), 'DEGENERATE_HASH'],
  ['all zero tmk_pdqf', indicator({ alg: 'tmk_pdqf', value: new Uint8Array(100), media: 'video' }), 'DEGENERATE_HASH'],
  ['category missing', without(indicator(), 'category'), 'MISSING_FIELD'],
  ['category lower case', indicator({ category: 'a1' }), 'BAD_CATEGORY'],
  ['kind unknown', indicator({ kind: 'csam' }), 'BAD_KIND'],
  ['media unknown', indicator({ media: 'audio' }), 'BAD_MEDIA'],
  ['url_sha256 with kind known_material', indicator({ alg: 'url_sha256', media: 'url' }), 'BAD_FIELD'],
  ['url_sha256 with media image', indicator({ alg: 'url_sha256', kind: 'url' }), 'BAD_FIELD'],
  ['kind url with sha256', indicator({ kind: 'url', media: 'url' }), 'BAD_FIELD'],
  ['media url with sha256', indicator({ media: 'url' }), 'BAD_FIELD'],
  ['pdq media text', pdq({ media: 'text' }), 'BAD_FIELD'],
  ['photodna media video', indicator({ alg: 'photodna', value: bytes(144), media: 'video' }), 'BAD_FIELD'],
  ['tmk_pdqf media image', indicator({ alg: 'tmk_pdqf', value: bytes(10) }), 'BAD_FIELD'],
  ['pdq without quality', without(pdq(), 'quality'), 'MISSING_FIELD'],
  ['pdq quality 49', pdq({ quality: 49 }), 'LOW_QUALITY'],
  ['pdq quality 0', pdq({ quality: 0 }), 'LOW_QUALITY'],
  ['pdq quality 101', pdq({ quality: 101 }), 'BAD_FIELD'],
  ['pdq quality as text', pdq({ quality: '80' }), 'BAD_FIELD'],
  ['quality on md5', indicator({ alg: 'md5', value: bytes(16), quality: 80 }), 'UNKNOWN_FIELD'],
  ['ref empty', indicator({ ref: '' }), 'BAD_REF'],
  ['ref 65 chars', indicator({ ref: 'r'.repeat(65) }), 'BAD_REF'],
  ['ref raw name (John.Smith)', indicator({ ref: 'John.Smith' }), 'BAD_REF'],
  ['ref raw case number', indicator({ ref: 'NCMEC:CT/2026-00017_b.1' }), 'BAD_REF'],
  ['ref pseudonym with uppercase hex', indicator({ ref: 'p1:00112233445566778899AABBCCDDEEFF' }), 'BAD_REF'],
  ['ref pseudonym of 33 hex digits', indicator({ ref: 'p1:00112233445566778899aabbccddeeff0' }), 'BAD_REF'],
  ['ref pseudonym without prefix', indicator({ ref: '00112233445566778899aabbccddeeff' }), 'BAD_REF'],
  ['ref with space', indicator({ ref: 'case 1' }), 'BAD_REF'],
  ['ref with @', indicator({ ref: 'jane@example.org' }), 'BAD_REF'],
  ['ref non-ASCII', indicator({ ref: 'caf\u00e9' }), 'BAD_REF'],
  ['ref with newline', indicator({ ref: 'a\nb' }), 'BAD_REF'],
  ['ref as number', indicator({ ref: 12 }), 'BAD_FIELD'],
  ['expires = time', indicator({ expires: T }), 'BAD_FIELD'],
  ['expires before time', indicator({ expires: T - 1 }), 'BAD_FIELD'],
  ['expires as text', indicator({ expires: 'never' }), 'BAD_FIELD'],

  // revocation
  ['revocation target missing', without(revocation(), 'target'), 'MISSING_FIELD'],
  ['revocation target 33 bytes', revocation({ target: bytes(33) }), 'BAD_FIELD'],
  ['revocation target hex', revocation({ target: toHex(bytes(32)) }), 'BAD_FIELD'],
  ['revocation reason missing', without(revocation(), 'reason'), 'MISSING_FIELD'],
  ['revocation reason unknown', revocation({ reason: 'wrong_category' }), 'BAD_REASON'],
  ['revocation with opinion', revocation({ opinion: 'confirm' }), 'UNKNOWN_FIELD'],

  // attestation
  ['attestation opinion missing', without(attestation(), 'opinion'), 'MISSING_FIELD'],
  ['attestation opinion unknown', attestation({ opinion: 'agree' }), 'BAD_OPINION'],
  ['attestation reason free text', attestation({ reason: 'reported by J. Smith' }), 'BAD_REASON'],
  ['attestation reason expired (revocation only)', attestation({ reason: 'expired' }), 'BAD_REASON'],
  ['attestation target 0 bytes', attestation({ target: new Uint8Array(0) }), 'BAD_FIELD'],

  // roster
  ['change missing', without(addMember(), 'change'), 'MISSING_FIELD'],
  ['change unknown', roster('add_members', { member: 'c3p' }), 'BAD_ROSTER_CHANGE'],
  ['change as number', roster(1 as unknown as string, { member: 'c3p' }), 'BAD_FIELD'],
  ['add_member member missing', without(addMember(), 'member'), 'MISSING_FIELD'],
  ['add_member member with slash', addMember({ member: 'test.cairn/c3p' }), 'BAD_FIELD'],
  ['add_member origin missing', without(addMember(), 'origin'), 'MISSING_FIELD'],
  ['add_member origin malformed', addMember({ origin: 'c3p' }), 'BAD_FIELD'],
  ['add_member origin of another federation', addMember({ origin: 'other.cairn/c3p' }), 'BAD_ROSTER_CHANGE'],
  ['add_member origin of another member', addMember({ origin: 'test.cairn/ncmec' }), 'BAD_ROSTER_CHANGE'],
  ['add_member key missing', without(addMember(), 'key'), 'MISSING_FIELD'],
  ['add_member key 31 bytes', addMember({ key: bytes(31) }), 'BAD_FIELD'],
  ['add_member key small order', addMember({ key: fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a') }), 'BAD_PUBLIC_KEY'],
  ['add_member key identity', addMember({ key: fromHex('01' + '00'.repeat(31)) }), 'BAD_PUBLIC_KEY'],
  ['add_member witness_key non-canonical', addMember({ witness_key: fromHex('ee' + 'ff'.repeat(30) + '7f') }), 'BAD_PUBLIC_KEY'],
  ['add_member same keys', addMember({ witness_key: key1 }), 'BAD_ROSTER_CHANGE'],
  ['add_member peer_id missing', without(addMember(), 'peer_id'), 'MISSING_FIELD'],
  ['add_member peer_id with space', addMember({ peer_id: '12D3 KooW' }), 'BAD_FIELD'],
  ['add_member peer_id 129 chars', addMember({ peer_id: 'Q'.repeat(129) }), 'BAD_FIELD'],
  ['add_member roles missing', without(addMember(), 'roles'), 'MISSING_FIELD'],
  ['add_member roles as text', addMember({ roles: 'publisher' }), 'BAD_FIELD'],
  ['add_member roles with a number', addMember({ roles: [1] }), 'BAD_FIELD'],
  ['add_member unknown role', addMember({ roles: ['auditor'] }), 'BAD_ROSTER_CHANGE'],
  ['add_member unsorted roles', addMember({ roles: ['witness', 'publisher'] }), 'BAD_ROSTER_CHANGE'],
  ['add_member duplicate roles', addMember({ roles: ['witness', 'witness'] }), 'BAD_ROSTER_CHANGE'],
  ['add_member threshold', addMember({ threshold: 2 }), 'UNKNOWN_FIELD'],
  ['remove_member with roles', roster('remove_member', { member: 'c3p', roles: [] }), 'UNKNOWN_FIELD'],
  ['remove_member member missing', roster('remove_member'), 'MISSING_FIELD'],
  ['rotate_key nothing to rotate', roster('rotate_key', { member: 'c3p' }), 'BAD_ROSTER_CHANGE'],
  ['rotate_key same keys', roster('rotate_key', { member: 'c3p', key: key1, witness_key: key1 }), 'BAD_ROSTER_CHANGE'],
  ['rotate_key small-order key', roster('rotate_key', { member: 'c3p', key: fromHex('01' + '00'.repeat(31)) }), 'BAD_PUBLIC_KEY'],
  ['rotate_key with origin', roster('rotate_key', { member: 'c3p', key: key1, origin: 'test.cairn/c3p' }), 'UNKNOWN_FIELD'],
  ['set_roles roles missing', roster('set_roles', { member: 'c3p' }), 'MISSING_FIELD'],
  ['set_roles unknown role', roster('set_roles', { member: 'c3p', roles: ['operator'] }), 'BAD_ROSTER_CHANGE'],
  ['set_threshold 0', roster('set_threshold', { threshold: 0 }), 'BAD_ROSTER_CHANGE'],
  ['set_threshold missing', roster('set_threshold'), 'MISSING_FIELD'],
  ['set_threshold as text', roster('set_threshold', { threshold: 'two' }), 'BAD_FIELD'],
  ['set_threshold with member', roster('set_threshold', { threshold: 2, member: 'c3p' }), 'UNKNOWN_FIELD'],
]

test('record rules: validateRecord and decodeRecord agree on every case', () => {
  for (const [what, fields, code] of CASES) {
    assert.is(codeOf(() => validateRecord(fields)), code, `validateRecord: ${what}`)
    assert.is(codeOf(() => validateRecord(new Map(Object.entries(fields)))), code, `validateRecord(Map): ${what}`)
    assert.is(decodeCode(fields), code, `decodeRecord: ${what}`)
  }
})

test('check order: version, type, unknown keys, then the rest', () => {
  assert.is(codeOf(() => validateRecord(indicator({ v: 2, type: 'x', extra: 1 }))), 'BAD_VERSION')
  assert.is(codeOf(() => validateRecord(indicator({ type: 'x', extra: 1 }))), 'UNKNOWN_TYPE')
  assert.is(codeOf(() => validateRecord(indicator({ extra: 1, alg: 'nope' }))), 'UNKNOWN_FIELD')
  assert.is(codeOf(() => validateRecord(indicator({ log: 'bad', alg: 'nope' }))), 'BAD_FIELD')
  assert.is(codeOf(() => validateRecord(indicator({ alg: 'nope', category: 'Z' }))), 'BAD_ALG')
  assert.is(codeOf(() => validateRecord(roster('nope', { extra: 1 }))), 'BAD_ROSTER_CHANGE')
})

test('a record must be a map', () => {
  for (const v of [[], 'indicator', 1, null, bytes(3)]) assert.is(codeOf(() => validateRecord(v)), 'BAD_FIELD')
  assert.is(codeOf(() => decodeRecord(encodeCanonical([1, 2]))), 'BAD_FIELD')
})

test('encodeRecord is canonical, validates first, and round-trips through decodeRecord', () => {
  for (const [what, fields, code] of CASES) {
    if (code !== 'ACCEPTED') {
      assert.is(codeOf(() => encodeRecord(fields as unknown as CairnRecord)), code, what)
      continue
    }
    const encoded = encodeRecord(fields as unknown as CairnRecord)
    assert.equal(encoded, encodeCanonical(fields as CborValue), what)
    const decoded = decodeRecord(encoded)
    assert.equal(recordToJson(decoded), recordToJson(validateRecord(fields)), what)
    assert.equal(encodeRecord(decoded), encoded, what)
  }
})

test('decodeCheckedRecord (bytes accepted before) gives what decodeRecord gives, and still applies the rules', () => {
  for (const [what, fields, code] of CASES) {
    if (code !== 'ACCEPTED') continue
    const encoded = encodeRecord(fields as unknown as CairnRecord)
    assert.equal(recordToJson(decodeCheckedRecord(encoded)), recordToJson(decodeRecord(encoded)), what)
  }
  assert.is(codeOf(() => decodeCheckedRecord(Uint8Array.of(0xa1, 0x61))), 'MALFORMED_CBOR')
  const [, first] = CASES.find(([, , c]) => c === 'ACCEPTED')!
  assert.is(codeOf(() => decodeCheckedRecord(encodeCanonical({ ...(first as Fields), v: 2 } as CborValue))), 'BAD_VERSION')
})

test('time above 2^32 encodes in the 8-byte form', () => {
  const encoded = encodeRecord(indicator() as unknown as CairnRecord)
  assert.ok(toHex(encoded).includes('6474696d651b0000019b76daa800'), '"time" then 0x1b and 8 bytes')
  assert.is(decodeRecord(encoded).time, T)
})

test('decodeRecord rejects non-canonical bytes before the rules', () => {
  const good = encodeRecord(indicator() as unknown as CairnRecord)
  assert.is(codeOf(() => decodeRecord(Uint8Array.of(...good, 0))), 'NON_CANONICAL_CBOR')
  assert.is(codeOf(() => decodeRecord(good.subarray(0, good.length - 1))), 'MALFORMED_CBOR')
  // v: 1 written as 0x18 0x01
  const hex = toHex(good).replace('617601', '61761801')
  assert.is(codeOf(() => decodeRecord(fromHex(hex))), 'NON_CANONICAL_CBOR')
  assert.is(codeOf(() => decodeRecord(new Uint8Array(65536))), 'TOO_LARGE')
})

test('validateRecord normalises: fixed key order, undefined optional keys dropped', () => {
  const r = validateRecord({ ...indicator({ ref: undefined, expires: undefined }), media: 'image', time: T, v: 1 }) as IndicatorRecord
  assert.equal(Object.keys(r), ['v', 'type', 'log', 'seq', 'time', 'alg', 'value', 'category', 'kind', 'media'])
  assert.not.ok('ref' in r)
  const a = validateRecord(addMember())
  assert.equal(Object.keys(a), ['v', 'type', 'log', 'seq', 'time', 'change', 'member', 'origin', 'key', 'witness_key', 'peer_id', 'roles'])
})

test('JSON form: byte strings as lowercase hex, round trip', () => {
  const rec = validateRecord(addMember())
  const json = recordToJson(rec)
  assert.is(json.key, toHex(key1))
  assert.is(json.witness_key, toHex(key2))
  assert.equal(json.roles, ['publisher'])
  assert.equal(JSON.parse(JSON.stringify(json)), json)
  assert.equal(recordToJson(recordFromJson(JSON.parse(JSON.stringify(json)))), json)
  const ind = recordToJson(validateRecord(pdq({ ref: 'p1:00112233445566778899aabbccddeeff', expires: T + 5 })))
  assert.equal(ind, { v: 1, type: 'indicator', log: ORIGIN, seq: 5, time: T, alg: 'pdq', value: toHex(bytes(32)), category: 'A1', kind: 'known_material', media: 'image', quality: 80, ref: 'p1:00112233445566778899aabbccddeeff', expires: T + 5 })
  assert.equal(encodeRecord(recordFromJson(ind)), encodeRecord(validateRecord(pdq({ ref: 'p1:00112233445566778899aabbccddeeff', expires: T + 5 }))))
  for (const t of [revocation(), attestation({ reason: 'duplicate' })]) {
    const j = recordToJson(validateRecord(t))
    assert.equal(recordToJson(recordFromJson(j)), j)
  }
})

test('JSON form rejects what the rules reject', () => {
  const json = recordToJson(validateRecord(indicator()))
  assert.is(codeOf(() => recordFromJson({ ...json, value: (json.value as string).toUpperCase() })), 'BAD_FIELD')
  assert.is(codeOf(() => recordFromJson({ ...json, value: '00'.repeat(32) })), 'DEGENERATE_HASH')
  assert.is(codeOf(() => recordFromJson({ ...json, extra: 1 })), 'UNKNOWN_FIELD')
  assert.is(codeOf(() => recordFromJson({ ...json, seq: 1.5 })), 'BAD_FIELD')
  assert.is(codeOf(() => recordFromJson({ ...json, seq: -1 })), 'BAD_FIELD')
  assert.is(codeOf(() => recordFromJson({ ...json, ref: null })), 'BAD_FIELD')
  assert.is(codeOf(() => recordFromJson([json])), 'BAD_FIELD')
})

test('origins', () => {
  for (const o of ['demo.cairn/eu-centre', 'a/b', 'x_y.z/A-9']) assert.ok(isValidOrigin(o), o)
  for (const o of ['demo.cairn', '/b', 'a/', 'a/b/c', 'a b/c', 'a+b/c', 'a/b\n', `${'a'.repeat(64)}/${'b'.repeat(64)}`, 7]) {
    assert.not.ok(isValidOrigin(o), String(o))
  }
  assert.ok(isValidOrigin(`${'a'.repeat(63)}/${'b'.repeat(64)}`))
})

test('validateRecord accepts the Map that decodeCanonical returns', () => {
  const encoded = encodeRecord(revocation() as unknown as CairnRecord)
  const map = decodeCanonical(encoded)
  assert.is(validateRecord(map).type, 'revocation')
})

test('a published body is read in place: the header replaces its own v, log, seq and time; undefined and inherited keys are absent', () => {
  const header = { v: 1 as const, log: ORIGIN, seq: 9, time: T + 1 }
  const body = without(indicator({ ref: undefined }), 'v', 'log', 'seq', 'time')
  const expected = validateAndEncode({ ...body, ...header })
  // Header keys the body carries itself (even invalid ones) are replaced, as the node fills them in.
  const withOwn = validateAndEncode({ ...body, v: 7, log: 'not an origin', seq: -1, time: 'x' }, header)
  assert.equal(withOwn.record, expected.record)
  assert.equal(withOwn.bytes, expected.bytes)
  assert.equal(validateAndEncode(body, header).bytes, expected.bytes)
  // The same fields as a Map (as decoded) give the same record.
  assert.equal(validateRecord(new Map(Object.entries({ ...body, ...header }).filter(([, v]) => v !== undefined))), expected.record)
  // A Map body takes the header the same way.
  assert.equal(validateAndEncode(new Map(Object.entries({ ...body, seq: 1 }).filter(([, v]) => v !== undefined)), header).bytes, expected.bytes)
  // Non-enumerable own keys are not fields (as Object.entries saw them).
  const hidden = Object.defineProperty({ ...body }, 'type', { value: 'indicator', enumerable: false })
  assert.is(codeOf(() => validateAndEncode(hidden, header)), 'MISSING_FIELD')
  // Keys on the prototype are not fields; an unknown own key still fails, header or not.
  const inherited = Object.assign(Object.create({ note: 'x' }), body)
  assert.equal(validateAndEncode(inherited, header).bytes, expected.bytes)
  assert.is(codeOf(() => validateAndEncode({ ...body, note: 'x' }, header)), 'UNKNOWN_FIELD')
  assert.is(codeOf(() => validateAndEncode({ ...body, value: undefined }, header)), 'MISSING_FIELD')
  assert.is(codeOf(() => validateAndEncode({ ...body, alg: 'nope' }, header)), 'BAD_ALG')
})

test.run()
