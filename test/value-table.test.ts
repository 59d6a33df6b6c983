/**
 * ValueTable (cli/value-table.ts): the packed exact-match index of a
 * provider's local copy. Checked against a Map of hex strings on random
 * values, and on values built to share their hash bytes.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { ValueTable } from '../client/value-table.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

for (const width of [16, 20, 32, 144]) {
  test(`${width}-byte values: every stored value found with its category, absent ones not, duplicates kept once`, () => {
    const n = 5000
    const stored = Array.from({ length: n }, () => randomBytes(width))
    const t = new ValueTable(width, n + 10)
    stored.forEach((v, i) => t.insert(v, 0, width, (i % 4) + 1))
    t.insert(stored[7]!, 0, width, 4) // a second record naming the same value
    assert.is(t.count, n)
    stored.forEach((v, i) => {
      const at = t.indexOf(v)
      assert.ok(at >= 0, `value ${i} is found`)
      assert.is(t.categories[at], (i % 4) + 1)
    })
    for (let i = 0; i < n; i++) assert.is(t.indexOf(randomBytes(width)), -1)
    assert.is(t.indexOf(stored[0]!.subarray(0, width - 1)), -1, 'a shorter value is not a match')
    // A query inside a larger buffer at an odd offset (no alignment assumed, nothing copied).
    const framed = Buffer.concat([Buffer.from([1, 2, 3]), stored[42]!, Buffer.from([9])])
    assert.ok(t.indexOf(framed, 3, width) >= 0)
  })
}

test('fixed width: values equal in their first 12 bytes (same slot, same fingerprint) are told apart by their other bytes', () => {
  const prefix = randomBytes(12)
  const vs = Array.from({ length: 300 }, () => Buffer.concat([prefix, randomBytes(20)]))
  const t = new ValueTable(32, vs.length)
  for (const v of vs) t.insert(v, 0, 32, 1)
  assert.is(t.count, vs.length)
  for (const v of vs) assert.ok(t.indexOf(v) >= 0)
  const other = Buffer.from(vs[0]!)
  other[31]! ^= 1
  assert.is(t.indexOf(other), -1)
})

test('variable width (tmk_pdqf): lengths 1..600, prefixes of stored values are not matches', () => {
  const vs: Buffer[] = []
  const seen = new Set<string>()
  for (let i = 0; vs.length < 3000; i++) {
    const v = randomBytes(1 + (i % 600))
    if (!seen.has(hex(v))) {
      seen.add(hex(v))
      vs.push(v)
    }
  }
  const bytes = vs.reduce((a, v) => a + v.length, 0)
  const t = new ValueTable(0, vs.length, bytes)
  vs.forEach((v, i) => t.insert(v, 0, v.length, (i % 4) + 1))
  assert.is(t.count, vs.length)
  vs.forEach((v, i) => assert.is(t.categories[t.indexOf(v)], (i % 4) + 1))
  const long = vs.find((v) => v.length > 10)!
  assert.is(t.indexOf(long.subarray(0, long.length - 1)), -1)
  assert.is(t.indexOf(Buffer.concat([long, Buffer.from([0])])), -1)
  assert.is(t.indexOf(new Uint8Array(0)), -1)
  for (let i = 0; i < 2000; i++) {
    const q = randomBytes(1 + (i % 600))
    assert.is(t.indexOf(q) >= 0, seen.has(hex(q)))
  }
})

test('a full table refuses more values instead of overwriting', () => {
  const t = new ValueTable(16, 2)
  t.insert(randomBytes(16), 0, 16, 1)
  t.insert(randomBytes(16), 0, 16, 1)
  assert.throws(() => t.insert(randomBytes(16), 0, 16, 1), /full/)
  assert.throws(() => new ValueTable(8, 1), /at least 12/)
})

test.run()
