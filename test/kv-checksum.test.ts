/**
 * The store's row checksums (node/storage/kv.ts): every value carries a
 * CRC-32 of its key and value, checked on every read path; a byte flipped in
 * a table file on disk, an altered value or a row moved to another key is
 * refused (STORAGE_CORRUPT naming the key), never read as data. A store
 * written before the checksums is upgraded when opened, and an upgrade cut
 * short resumes.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { ChecksumMismatch, LevelKV } from '../node/storage/kv.ts'
import { isLedgerError } from '../protocol/errors.ts'
import { toHex, utf8 } from '../protocol/bytes.ts'

const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cairn-kv-crc-'))
  dirs.push(d)
  return join(d, 'db')
}
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const key = (i: number) => utf8(`V-row-${String(i).padStart(5, '0')}`)

async function raw(location: string): Promise<Level<Uint8Array, Uint8Array>> {
  const db = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  return db
}

/** Every read path of the contract on `k`, each expected to refuse. */
async function expectRefusedEverywhere(kv: LevelKV, k: Uint8Array): Promise<void> {
  const attempts: [string, () => Promise<unknown>][] = [
    ['get', () => kv.get(k)],
    ['getSync', async () => kv.getSync(k)],
    ['getMany', () => kv.getMany([key(0), k])],
    ['iterate', async () => {
      for await (const _ of kv.iterate({ gte: utf8('V'), lt: utf8('W') })) void _
    }],
    ['values', () => kv.values({ gte: utf8('V'), lt: utf8('W') })],
    ['keysUnderPrefixes', () => kv.keysUnderPrefixes([k], 5)],
    ['snapshot', async () => {
      for await (const _ of kv.snapshot(7)) void _
    }],
  ]
  for (const [name, read] of attempts) {
    try {
      await read()
      assert.unreachable(`${name} read a damaged row`)
    } catch (e) {
      assert.instance(e, ChecksumMismatch, `${name}: ${(e as Error).message}`)
      assert.ok(isLedgerError(e, 'STORAGE_CORRUPT'))
      assert.match((e as Error).message, toHex(k))
      assert.not.match((e as Error).message, /\n/)
    }
  }
}

test('rows read back as written; the format rows are never shown', async () => {
  const at = tempDir()
  const kv = await LevelKV.open(at)
  const values = Array.from({ length: 300 }, (_, i) => (i % 10 === 0 ? new Uint8Array(0) : randomBytes(1 + (i % 50))))
  await kv.batch(values.map((value, i) => ({ type: 'put' as const, key: key(i), value })))
  await kv.batch([{ type: 'del', key: key(1) }])
  assert.is(toHex((await kv.get(key(2)))!), toHex(values[2]!))
  assert.is(kv.getSync(key(10))!.length, 0)
  assert.equal(await kv.get(key(1)), undefined)
  assert.equal((await kv.values({ gte: key(0), lt: key(5) })).length, 4)
  assert.equal((await kv.keysUnderPrefixes([utf8('V-row-0000')], 100))[0]!.length, 9)
  let rows = 0
  for await (const chunk of kv.snapshot(64)) for (const [k, v] of chunk) {
    assert.ok(k[0] !== 0, 'a format row was shown')
    assert.is(toHex(v), toHex(values[Number(new TextDecoder().decode(k).slice(6))]!))
    rows++
  }
  assert.is(rows, 299)
  let all = 0
  for await (const [k] of kv.iterate({})) {
    assert.ok(k[0] !== 0)
    all++
  }
  assert.is(all, 299)
  try {
    await kv.batch([{ type: 'put', key: utf8('\x00kv-format'), value: utf8('x') }])
    assert.unreachable('a caller wrote a format row')
  } catch (e) {
    assert.match((e as Error).message, /store format/)
  }
  await kv.close()
})

test('an altered value, a row copied to another key: refused on every read path', async () => {
  const at = tempDir()
  let kv = await LevelKV.open(at)
  await kv.batch(Array.from({ length: 20 }, (_, i) => ({ type: 'put' as const, key: key(i), value: randomBytes(40) })))
  await kv.close()
  const db = await raw(at)
  const stored = (await db.get(key(3)))!
  const altered = new Uint8Array(stored) // a copy (a Buffer's slice is a view)
  altered[5]! ^= 0x01
  await db.put(key(3), altered)
  await db.put(key(30), (await db.get(key(4)))!) // the bytes of row 4 under another key: as if a key's byte flipped
  await db.close()
  kv = await LevelKV.open(at)
  await expectRefusedEverywhere(kv, key(3))
  await kv.close()
  const db2 = await raw(at)
  await db2.put(key(3), stored)
  await db2.close()
  kv = await LevelKV.open(at)
  assert.equal((await kv.get(key(3)))!.length, 40, 'the row put back is read again')
  await expectRefusedEverywhere(kv, key(30))
  await kv.close()
})

test('a byte flipped in a table file on disk is refused, not read as data', async () => {
  const at = tempDir()
  let kv = await LevelKV.open(at)
  const marker = utf8('THE-VALUE-TO-FLIP-0123456789abcdefghijklmnopqrstuvwxyz')
  await kv.batch(Array.from({ length: 200 }, (_, i) => ({ type: 'put' as const, key: key(i), value: i === 77 ? marker : randomBytes(64) })))
  await kv.close()
  // Into a table file (the rows are in the write-ahead log until a compaction).
  const db = await raw(at)
  await (db as unknown as { compactRange(a: Uint8Array, b: Uint8Array): Promise<void> }).compactRange(utf8('\x00'), utf8('\xff')) // classic-level's, not in level's types
  await db.close()
  const tables = readdirSync(at).filter((f) => f.endsWith('.ldb'))
  let flipped = 0
  for (const t of tables) {
    const bytes = readFileSync(join(at, t))
    const i = bytes.indexOf(Buffer.from(marker))
    if (i < 0) continue
    bytes[i + 10]! ^= 0x20
    writeFileSync(join(at, t), bytes)
    flipped++
  }
  assert.is(flipped, 1, `the value was found in one table file of ${tables.length}`)
  kv = await LevelKV.open(at)
  await expectRefusedEverywhere(kv, key(77))
  assert.is((await kv.get(key(78)))!.length, 64, 'the other rows are still read')
  await kv.close()
})

test('a store written before checksums is upgraded when opened; an upgrade cut short resumes', async () => {
  const at = tempDir()
  const rows = 40_000 // more than one upgrade batch (16,384 rows)
  const values = Array.from({ length: rows }, (_, i) => randomBytes(i % 33))
  const db = await raw(at)
  await db.batch(values.map((value, i) => ({ type: 'put' as const, key: key(i), value })))
  await db.close()
  // A crash after the first durable batch: the hook throws.
  let heard = 0
  try {
    await LevelKV.open(at, {
      onUpgrade: (n) => {
        heard = n
        throw new Error('killed')
      },
    })
    assert.unreachable('the upgrade went on')
  } catch (e) {
    assert.is((e as Error).message, 'killed')
  }
  assert.ok(heard > 0 && heard < rows, `first batch: ${heard} rows`)
  const seen: number[] = []
  const kv = await LevelKV.open(at, { onUpgrade: (n) => seen.push(n) })
  assert.is(seen.at(-1), rows - heard, 'the second open upgraded only the rest')
  for (let i = 0; i < rows; i += 997) assert.is(toHex((await kv.get(key(i)))!), toHex(values[i]!))
  assert.is((await kv.values({ gte: key(0), lt: key(rows) })).length, rows)
  await kv.close()
  const again: number[] = []
  await (await LevelKV.open(at, { onUpgrade: (n) => again.push(n) })).close()
  assert.equal(again, [], 'an upgraded store is not upgraded again')
})

test('a store whose format marker this version does not know is refused in one line', async () => {
  const at = tempDir()
  const db = await raw(at)
  await db.put(utf8('\x00kv-format'), utf8('crc64/9'))
  await db.close()
  try {
    await LevelKV.open(at)
    assert.unreachable('opened')
  } catch (e) {
    assert.ok(isLedgerError(e, 'STORAGE_CORRUPT'))
    assert.match((e as Error).message, /crc64\/9/)
    assert.not.match((e as Error).message, /\n/)
  }
})

test.run()
