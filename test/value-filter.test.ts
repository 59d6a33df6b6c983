/**
 * The value filter (node/storage/value-filter.ts) that lets the duplicate
 * check skip the value index: never a false negative — for values scanned at
 * fill, appended while the scan runs, or appended later — few false
 * positives, and no answer at all (everything "may be held") before its scan
 * has finished or once more values were added than it was sized for.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { ValueFilter } from '../node/storage/value-filter.ts'
import { MemoryKV } from '../node/storage/kv.ts'
import { Store, type AppendItem } from '../node/storage/store.ts'
import { leafHash } from '../protocol/hash.ts'
import { utf8, toHex } from '../protocol/bytes.ts'
import type { CairnRecord } from '../protocol/records.ts'

test('no false negatives over 200,000 keys; false positives about 1 %; unusable before ready and over capacity', () => {
  const f = new ValueFilter()
  f.reset(200_000)
  const keys = Array.from({ length: 200_000 }, () => randomBytes(35))
  for (const k of keys) f.add(k)
  assert.ok(f.mightHold(randomBytes(35)), 'before the scan is done: everything may be held')
  f.markReady()
  for (const k of keys) assert.ok(f.mightHold(k))
  let positives = 0
  for (let i = 0; i < 100_000; i++) if (f.mightHold(randomBytes(35))) positives++
  assert.ok(positives < 2_000, `false positives: ${positives} of 100,000`)
  const small = new ValueFilter()
  small.reset(10)
  small.markReady()
  for (let i = 0; i < 200_000; i++) small.add(randomBytes(8))
  assert.not.ok(small.usable, 'over capacity: no longer used')
  assert.ok(small.mightHold(randomBytes(8)))
})

const ORIGIN = 'test.cairn/eu-centre'
function indicator(i: number): AppendItem {
  const value = new Uint8Array(32)
  value.set(utf8(`filter ${i}`))
  const entry = utf8(`entry-${i}`)
  const record = { v: 1, type: 'indicator', log: ORIGIN, seq: i, time: 1767225600000, alg: 'sha256', value, category: 'A1', kind: 'known_material', media: 'image' } as unknown as CairnRecord
  return { entry, id: leafHash(entry), record }
}
const valueOf = (item: AppendItem) => (item.record as unknown as { value: Uint8Array }).value

test('a store finds every value it holds through the filter: scanned at fill, appended during the scan, appended after', async () => {
  const store = await Store.open(new MemoryKV())
  await store.registerLog(ORIGIN)
  const before = Array.from({ length: 300 }, (_, i) => indicator(i))
  await store.append(ORIGIN, 0, before, { durable: false })
  const filling = store.fillValueFilter()
  const during = Array.from({ length: 50 }, (_, i) => indicator(300 + i))
  await store.append(ORIGIN, 300, during, { durable: false })
  const scanned = await filling
  assert.ok(scanned >= 300 && scanned <= 350, `the scan saw the values stored before it began (${scanned})`)
  assert.ok(store.valueFilter.usable)
  const after = Array.from({ length: 50 }, (_, i) => indicator(350 + i))
  await store.append(ORIGIN, 350, after, { durable: false })
  const all = [...before, ...during, ...after]
  const ids = await store.idsForValues(all.map((x) => ({ alg: 'sha256' as const, value: valueOf(x) })))
  for (const [i, x] of all.entries()) assert.equal(ids[i]!.map(toHex), [toHex(x.id)], `value ${i}`)
  const absent = await store.idsForValues([{ alg: 'sha256', value: new Uint8Array(32).fill(7) }, { alg: 'md5', value: valueOf(before[0]!).subarray(0, 16) }])
  assert.equal(absent, [[], []])
})

test.run()
