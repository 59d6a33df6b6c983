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
import { mkdtempSync, rmSync, readFileSync, writeFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ValueFilter } from '../node/storage/value-filter.ts'
import { MemoryKV, LevelKV } from '../node/storage/kv.ts'
import { loadValueFilter, saveValueFilter, valueFilterPath } from '../node/storage/open.ts'
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
  assert.ok(scanned !== undefined && scanned >= 300 && scanned <= 350, `the scan saw the values stored before it began (${scanned})`)
  assert.ok(store.valueFilter.usable)
  const after = Array.from({ length: 50 }, (_, i) => indicator(350 + i))
  await store.append(ORIGIN, 350, after, { durable: false })
  const all = [...before, ...during, ...after]
  const ids = await store.idsForValues(all.map((x) => ({ alg: 'sha256' as const, value: valueOf(x) })))
  for (const [i, x] of all.entries()) assert.equal(ids[i]!.map(toHex), [toHex(x.id)], `value ${i}`)
  const absent = await store.idsForValues([{ alg: 'sha256', value: new Uint8Array(32).fill(7) }, { alg: 'md5', value: valueOf(before[0]!).subarray(0, 16) }])
  assert.equal(absent, [[], []])
})

test('a closing node keeps the filter; it is taken back only for a store whose logs have the roots it was kept with', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-value-filter-'))
  const db = join(dir, 'db')
  const items = Array.from({ length: 400 }, (_, i) => indicator(i))
  const values = items.map((x) => ({ alg: 'sha256' as const, value: valueOf(x) }))
  const reopen = async () => Store.open(await LevelKV.open(db))
  try {
    let store = await reopen()
    assert.not.ok(await saveValueFilter(db, store), 'nothing kept before it is filled')
    await store.registerLog(ORIGIN)
    await store.append(ORIGIN, 0, items.slice(0, 300))
    await store.fillValueFilter()
    assert.ok(await saveValueFilter(db, store))
    assert.is(statSync(valueFilterPath(db)).mode & 0o777, 0o600)
    await store.close()

    store = await reopen()
    assert.is(await loadValueFilter(db, store), true)
    assert.ok(store.valueFilter.usable, 'usable at once, without a scan')
    await store.append(ORIGIN, 300, items.slice(300)) // added to the filter as they are stored
    const ids = await store.idsForValues(values)
    for (const [i, x] of items.entries()) assert.equal(ids[i]!.map(toHex), [toHex(x.id)], `value ${i}`)
    await store.close() // not kept: the file still names the log at 300 entries

    store = await reopen()
    assert.match(String(await loadValueFilter(db, store)), /has changed since \(300 entries then, 400 now\)/)
    assert.not.ok(store.valueFilter.usable)
    await store.fillValueFilter()
    assert.ok(await saveValueFilter(db, store))
    await store.close()

    const good = readFileSync(valueFilterPath(db))
    const broken = Buffer.from(good)
    broken[broken.length - 100]! ^= 0x10
    writeFileSync(valueFilterPath(db), broken)
    store = await reopen()
    assert.match(String(await loadValueFilter(db, store)), /does not match its checksum/)
    const nl = good.indexOf(10)
    const head = JSON.parse(good.subarray(0, nl).toString()) as { redactions: string }
    writeFileSync(valueFilterPath(db), Buffer.concat([Buffer.from(JSON.stringify({ ...head, redactions: '00'.repeat(32) })), good.subarray(nl)]))
    assert.match(String(await loadValueFilter(db, store)), /redactions are not the ones the filter was kept with/)
    writeFileSync(valueFilterPath(db), good.subarray(0, 40))
    assert.match(String(await loadValueFilter(db, store)), /JSON line/)
    rmSync(valueFilterPath(db))
    assert.match(String(await loadValueFilter(db, store)), /no value-filter file/)
    assert.not.ok(store.valueFilter.usable, 'none of them was taken')
    // A store closed under its scan: the scan ends quietly, the filter unused.
    const filling = store.fillValueFilter()
    await store.close()
    assert.is(await filling, undefined)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
