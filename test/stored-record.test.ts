/**
 * The trusting stored-record reader (protocol/stored-record.ts) against the
 * validating decoder (protocol/records.ts decodeCheckedRecord): for every
 * valid entry vector and for generated records of every type and optional
 * field, the two give the same fields. The reader stays separate for speed
 * (see its header); this test is what holds it to the same answer.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fromHex, sha256, utf8 } from '../protocol/bytes.ts'
import { decodeEntry, signEntry } from '../protocol/entry.ts'
import { generateKeyPair } from '../protocol/ed25519.ts'
import { decodeCheckedRecord, validateAndEncode } from '../protocol/records.ts'
import { readStoredRecord } from '../protocol/stored-record.ts'

const FIELDS = ['type', 'log', 'seq', 'time', 'alg', 'value', 'category', 'kind', 'media', 'ref', 'quality', 'expires', 'target', 'reason', 'opinion'] as const

function assertSame(entry: Uint8Array, what: string) {
  const checked = decodeCheckedRecord(decodeEntry(entry).recordBytes) as unknown as Record<string, unknown>
  const stored = readStoredRecord(entry) as unknown as Record<string, unknown>
  for (const f of FIELDS) {
    // Roster records carry `reason`-less fields the reader does not need; every field it returns must match.
    if (stored[f] === undefined && checked[f] !== undefined && checked.type === 'roster') continue
    assert.equal(stored[f], checked[f], `${what}: field ${f}`)
  }
}

test('every valid entry vector reads the same through both', () => {
  const dir = new URL('../spec/vectors/entries', import.meta.url).pathname
  let n = 0
  for (const f of readdirSync(dir).filter((x) => x.startsWith('valid-'))) {
    const v = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { entry: string }
    assertSame(fromHex(v.entry), f)
    n++
  }
  assert.ok(n >= 10, `${n} valid vectors`)
})

test('generated records of every type and optional field read the same through both', () => {
  const key = generateKeyPair(sha256(utf8('stored-record test')))
  const log = 'test.cairn/eu-centre'
  const value = (tag: string, n: number) => sha256(utf8(tag)).slice(0, n)
  const bodies: Record<string, unknown>[] = [
    { type: 'indicator', alg: 'sha256', value: value('a', 32), category: 'A1', kind: 'known_material', media: 'image' },
    { type: 'indicator', alg: 'md5', value: value('b', 16), category: 'B2', kind: 'new_material', media: 'video', ref: 'p1:00112233445566778899aabbccddeeff', expires: 1_900_000_000_000 },
    { type: 'indicator', alg: 'pdq', value: value('c', 32), category: 'A2', kind: 'known_material', media: 'image', quality: 87 },
    { type: 'indicator', alg: 'url_sha256', value: value('d', 32), category: 'B1', kind: 'url', media: 'url' },
    { type: 'revocation', target: value('e', 32), reason: 'false_positive' },
    { type: 'attestation', target: value('f', 32), opinion: 'dispute', reason: 'wrong_category' },
    { type: 'attestation', target: value('g', 32), opinion: 'confirm' },
  ]
  bodies.forEach((body, seq) => {
    const { record } = validateAndEncode({ v: 1, log, seq, time: 1_765_000_000_000 + seq, ...body })
    assertSame(signEntry(key.seed, record), `${record.type} #${seq}`)
  })
})

test('bytes that are not an entry are MALFORMED_ENTRY, never a made-up record', () => {
  for (const bad of [new Uint8Array(0), new Uint8Array([0x82]), new Uint8Array([0x82, 0x41, 0x00, 0x40]), new Uint8Array([0xa0])]) {
    try {
      readStoredRecord(bad)
      assert.unreachable('read a record from garbage')
    } catch (e) {
      assert.is((e as { code?: string }).code, 'MALFORMED_ENTRY')
    }
  }
})

test.run()
