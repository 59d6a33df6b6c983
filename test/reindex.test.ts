/**
 * `cairn node check` mending the indexes each entry alone determines
 * (node/storage/reindex.ts): rows of the value, reference and roster indexes
 * that fail their checksums — and rows that went missing — are written again
 * from the checked entries, byte for byte what the appends wrote (a
 * redacted indicator keeps no value row), and a damaged row no entry gives
 * is removed; a bad row of another table is still reported as damage the
 * check could not mend.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { sha256, utf8, toHex } from '../protocol/bytes.ts'
import { signEntry } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { generateKeyPair } from '../protocol/ed25519.ts'
import { signRedaction, type RedactionNotice } from '../protocol/redaction.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { LevelKV } from '../node/storage/kv.ts'
import { Store } from '../node/storage/store.ts'
import { P } from '../node/storage/keys.ts'
import { checkNodeStore, REBUILT } from '../node/storage/check.ts'
import { rebuildEntryIndexes } from '../node/storage/reindex.ts'

const A = 'a.cairn/one'
const B = 'b.cairn/two'
const key = generateKeyPair(sha256(utf8('reindex-test')))

function indicator(origin: string, seq: number): CairnRecord {
  return { v: 1, type: 'indicator', log: origin, seq, time: 1_000 + seq, alg: 'sha256', value: sha256(utf8(`${origin}-${seq}`)), category: 'A1', kind: 'known_material', media: 'image' } as CairnRecord
}

async function append(store: Store, origin: string, records: CairnRecord[]): Promise<Uint8Array[]> {
  const items = records.map((record) => {
    const entry = signEntry(key.seed, record)
    return { entry, id: leafHash(entry), record }
  })
  await store.append(origin, store.size(origin), items)
  return items.map((i) => i.id)
}

/** A node directory's store with indicators in two logs, a redacted one, revocations and attestations (one confirming). */
async function build(dir: string): Promise<void> {
  const store = await Store.open(await LevelKV.open(join(dir, 'db')))
  await store.registerLog(A)
  await store.registerLog(B)
  const ids = await append(store, A, Array.from({ length: 600 }, (_, i) => indicator(A, i)))
  let seq = store.size(A)
  await append(store, A, [
    { v: 1, type: 'revocation', log: A, seq: seq++, time: 5_000, target: ids[3]!, reason: 'false_positive' } as CairnRecord,
    { v: 1, type: 'attestation', log: A, seq: seq++, time: 5_001, target: ids[4]!, opinion: 'dispute' } as CairnRecord,
    { v: 1, type: 'attestation', log: A, seq: seq++, time: 5_002, target: ids[5]!, opinion: 'confirm' } as CairnRecord,
  ])
  await append(store, B, Array.from({ length: 300 }, (_, i) => indicator(B, i)))
  const notice: RedactionNotice = { v: 1, log: A, index: 7, id: ids[7]!, reason: 'legal_order', time: 9 }
  assert.is(await store.applyRedaction(A, signRedaction(key.seed, notice), notice), 'applied')
  await store.close()
}

/** Runs `fn` on a fresh node directory holding build()'s store; removes it after. */
async function withBuilt(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-reindex-'))
  try {
    await build(dir)
    await fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The rows of a table as stored (key and value hex, checksums included), read past the store's checks. */
async function rawRows(dir: string, prefixes: readonly number[]): Promise<string[]> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
  const out: string[] = []
  try {
    for (const p of prefixes) {
      for await (const [k, v] of db.iterator({ gte: new Uint8Array([p]), lt: new Uint8Array([p + 1]) })) out.push(`${toHex(k)}=${toHex(v)}`)
    }
  } finally {
    await db.close()
  }
  return out
}

/** Writes rows (and deletes keys) past the store's checksums, as damage in the table files would read. */
async function tamper(dir: string, fn: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
  try {
    await fn(db)
  } finally {
    await db.close()
  }
}

const fromHexKey = (row: string) => Buffer.from(row.split('=')[0]!, 'hex')
const INDEXES = [P.value, P.ref, P.roster]

test('rows of the value, reference and roster indexes that fail their checksums are mended from the entries, byte for byte', () => withBuilt(async (dir) => {
  const good = await rawRows(dir, INDEXES)
  const value = good.filter((r) => r.startsWith('56'))
  const refs = good.filter((r) => r.startsWith('52'))
  const roster = good.filter((r) => r.startsWith('4f'))
  assert.is(value.length, 899, 'a value row per indicator but the redacted one')
  assert.is(refs.length, 3)
  assert.is(roster.length, 1, 'the confirming attestation')
  writeFileSync(join(dir, 'value-filter'), 'kept by the last close')

  await tamper(dir, async (db) => {
    await db.put(fromHexKey(value[10]!), new Uint8Array([1, 2, 3, 4, 5])) // its checksum no longer matches
    await db.put(fromHexKey(refs[0]!).subarray(0, 20), new Uint8Array([9, 9, 9, 9])) // a row nobody wrote, bad checksum
    await db.del(fromHexKey(roster[0]!)) // a missing row: no checksum can tell, the rebuild restores it
    await db.del(fromHexKey(value[500]!))
  })
  const report = await checkNodeStore(dir)
  for (const c of report.filter((x) => x.rowsChecked === undefined && x.linesChecked === undefined)) assert.equal(c.problems, [], c.origin)
  const rows = report.find((c) => c.rowsChecked !== undefined)!
  assert.is(rows.problems.length, 3, rows.problems.join('\n'))
  for (const p of rows.problems) assert.ok(p.endsWith(REBUILT), p)
  assert.ok(rows.problems.some((p) => p.startsWith(`store key ${value[10]!.split('=')[0]} `) && p.includes('written again from the checked entries')), rows.problems.join('\n'))
  assert.ok(rows.problems.some((p) => p.includes('no entry gives: removed')), rows.problems.join('\n'))
  assert.match(rows.problems[2]!, /against the 903 rows the checked entries give: 3 missing, damaged or different rows written again, 1 damaged rows no entry gives removed/)
  assert.equal(await rawRows(dir, INDEXES), good, 'the three tables as the appends wrote them, checksums included')
  assert.not.ok(existsSync(join(dir, 'value-filter')), 'the kept value filter is dropped: the next start scans the index again')
  for (const c of await checkNodeStore(dir)) assert.equal(c.problems, [], `${c.origin} after the rebuild`)
}))

test('a bad row of a table not rebuilt from the entries stays a problem (the record index)', () => withBuilt(async (dir) => {
  const ids = await rawRows(dir, [P.id])
  await tamper(dir, (db) => db.put(fromHexKey(ids[0]!), new Uint8Array([0, 0, 0, 0, 0, 0, 0])))
  const rows = (await checkNodeStore(dir)).find((c) => c.rowsChecked !== undefined)!
  assert.is(rows.problems.length, 1)
  assert.ok(!rows.problems[0]!.endsWith(REBUILT), rows.problems[0])
  assert.match(rows.problems[0]!, new RegExp(`store key ${ids[0]!.split('=')[0]} does not match`))
}))

test('mending a sound store writes and removes nothing (it never takes a right row out, so a run cut short leaves no gap)', () => withBuilt(async (dir) => {
  const good = await rawRows(dir, INDEXES)
  const kv = await LevelKV.open(join(dir, 'db'))
  try {
    const r = await rebuildEntryIndexes(kv, await Store.open(kv))
    assert.equal({ written: r.written.size, removed: r.removed.size, rows: r.rows }, { written: 0, removed: 0, rows: 903 })
  } finally {
    await kv.close()
  }
  assert.equal(await rawRows(dir, INDEXES), good)
}))

test.run()
