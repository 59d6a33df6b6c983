/**
 * One storage contract suite, run against the memory KV and the level KV:
 * appends, tiles, roots and proofs (checked against a naive RFC 9162
 * implementation in this file), indexes, the current set, atomicity, reopen.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryKV, LevelKV, type KV } from '../node/storage/kv.ts'
import { keys, u32, u64, readU32, readU64 } from '../node/storage/keys.ts'
import { Store, type AppendItem } from '../node/storage/store.ts'
import { leafHash, nodeHash, EMPTY_ROOT } from '../protocol/hash.ts'
import { utf8, toHex } from '../protocol/bytes.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { rejects, storeIndicator } from './helpers.ts'

function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT
  if (leaves.length === 1) return leaves[0]!
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)))
}

function path(m: number, leaves: Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return []
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return m < k ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))] : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))]
}

function subproof(m: number, leaves: Uint8Array[], b: boolean): Uint8Array[] {
  const n = leaves.length
  if (m === n) return b ? [] : [mth(leaves)]
  let k = 1
  while (k * 2 < n) k *= 2
  return m <= k ? [...subproof(m, leaves.slice(0, k), b), mth(leaves.slice(k))] : [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))]
}

const ORIGIN = 'test.cairn/eu-centre'

const indicator = (i: number): AppendItem => storeIndicator(ORIGIN, i)

function revocation(i: number, target: Uint8Array): AppendItem {
  const entry = utf8(`entry-${i}`)
  const record = { v: 1, type: 'revocation', log: ORIGIN, seq: i, time: 1767225600000, target, reason: 'false_positive' } as unknown as CairnRecord
  return { entry, id: leafHash(entry), record }
}

function contract(name: string, makeKV: () => Promise<{ kv: KV; reopen?: () => Promise<KV>; cleanup: () => void }>) {
  const t = suite(`storage contract: ${name}`)

  t('keysUnderPrefixes: the keys under each prefix, in the order asked, limited, with prefixes out of order, repeated, empty or at 0xff', async () => {
    const { kv, cleanup } = await makeKV()
    const k = (...b: number[]) => new Uint8Array(b)
    await kv.batch([[1, 1], [1, 2, 0], [1, 2, 1], [1, 2, 2], [1, 3], [2], [0xff, 0xff, 1], [0xff, 0xff, 2]].map((b) => ({ type: 'put' as const, key: k(...b), value: k(0) })))
    const hex = (ks: Uint8Array[][]) => ks.map((l) => l.map(toHex))
    assert.equal(hex(await kv.keysUnderPrefixes([k(1, 2), k(0xff, 0xff), k(1, 9), k(1), k(1, 2)], 10)), [
      ['010200', '010201', '010202'], ['ffff01', 'ffff02'], [], ['0101', '010200', '010201', '010202', '0103'], ['010200', '010201', '010202'],
    ])
    assert.equal(hex(await kv.keysUnderPrefixes([k(1), k(3)], 2)), [['0101', '010200'], []])
    assert.equal(await kv.keysUnderPrefixes([], 5), [])
    // Many keys under one prefix (read in growing steps), then the next prefix after them.
    await kv.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: k(4, i >> 8, i & 255), value: k(0) })))
    await kv.batch([{ type: 'put', key: k(5), value: k(0) }])
    const [many, capped, next] = await kv.keysUnderPrefixes([k(4), k(4), k(5)], 10_000).then((r) => [r[0]!, r[1]!, r[2]!])
    assert.is(many.length, 300)
    assert.ok(many.every((key, i) => toHex(key) === toHex(k(4, i >> 8, i & 255))), 'all 300, in order')
    assert.is(capped.length, 300)
    assert.equal(hex([next]), [['05']])
    assert.equal((await kv.keysUnderPrefixes([k(4), k(5)], 20)).map((l) => l.length), [20, 1])
    cleanup()
  })

  t('append in batches; roots, tiles and proofs match RFC 9162', async () => {
    const { kv, cleanup } = await makeKV()
    const store = await Store.open(kv)
    await store.registerLog(ORIGIN)
    const leaves: Uint8Array[] = []
    const sizes = [1, 2, 5, 250, 1, 0, 300, 70, 66000 - 629]
    let n = 0
    for (const batch of sizes) {
      const items = Array.from({ length: batch }, (_, j) => indicator(n + j))
      const { root } = await store.append(ORIGIN, n, items, { durable: false })
      n += batch
      leaves.push(...items.map((x) => x.id))
      assert.equal(toHex(root), toHex(mth(leaves)), `root at ${n}`)
      // Proofs at the current size read the right edge (cached per edge): still right after each append.
      for (const i of n > 0 ? [0, Math.floor(n / 2), n - 1] : []) {
        assert.equal((await store.inclusionProof(ORIGIN, i, n)).map(toHex), path(i, leaves).map(toHex), `inclusion ${i}@${n} after an append`)
      }
    }
    assert.is(store.size(ORIGIN), 66000)
    for (const s of [0, 1, 3, 256, 257, 511, 65536, 65537, 66000]) {
      assert.equal(toHex(await store.root(ORIGIN, s)), toHex(mth(leaves.slice(0, s))), `root(${s})`)
    }
    for (const [i, s] of [[0, 1], [0, 2], [5, 7], [255, 256], [256, 257], [1000, 66000], [65999, 66000], [12345, 40000]] as const) {
      const p = await store.inclusionProof(ORIGIN, i, s)
      assert.equal(p.map(toHex), path(i, leaves.slice(0, s)).map(toHex), `inclusion ${i}@${s}`)
    }
    for (const [m, s] of [[1, 2], [3, 7], [256, 257], [255, 66000], [65536, 66000], [1, 66000], [4, 8]] as const) {
      const p = await store.consistencyProof(ORIGIN, m, s)
      assert.equal(p.map(toHex), subproof(m, leaves.slice(0, s), true).map(toHex), `consistency ${m}->${s}`)
    }
    // Level-0 tile 0 is the first 256 leaf hashes; level-1 tile holds subtree roots of 256 leaves.
    const t0 = await store.tile(ORIGIN, 0, 0)
    assert.equal(toHex(t0!), leaves.slice(0, 256).map(toHex).join(''))
    const t1p = await store.tile(ORIGIN, 1, 0, 3)
    assert.equal(toHex(t1p!.subarray(64, 96)), toHex(mth(leaves.slice(512, 768))))
    assert.ok(await store.tile(ORIGIN, 1, 1, 1))
    assert.is(await store.tile(ORIGIN, 1, 1, 2), undefined, 'no such partial width yet')
    const partial = await store.tile(ORIGIN, 0, Math.floor(66000 / 256), 66000 % 256)
    assert.ok(partial)
    assert.is(await store.tile(ORIGIN, 0, Math.floor(66000 / 256)), undefined, 'partial tile is not served as full')
    await store.close()
    cleanup()
  })

  t('indexes, revocation removes from the current set, counters', async () => {
    const { kv, cleanup } = await makeKV()
    const store = await Store.open(kv)
    await store.registerLog(ORIGIN)
    const items = [indicator(0), indicator(1), indicator(2)]
    await store.append(ORIGIN, 0, items)
    assert.is(store.currentSetSize(), 3)
    await store.append(ORIGIN, 3, [revocation(3, items[1]!.id)])
    assert.is(store.currentSetSize(), 2)
    assert.not.ok(await store.inCurrentSet(items[1]!.id))
    assert.ok(await store.inCurrentSet(items[0]!.id))
    const refs = await store.references(items[1]!.id)
    assert.is(refs.length, 1)
    assert.is(refs[0]!.type, 'revocation')
    assert.equal(await store.locate(items[2]!.id), { origin: ORIGIN, index: 2 })
    const ids = await store.idsForValue('sha256', (items[0]!.record as { value: Uint8Array }).value)
    assert.equal(ids.map(toHex), [toHex(items[0]!.id)])
    const members = []
    for await (const m of store.currentSet()) members.push(toHex(m.id))
    assert.equal(members.sort(), [toHex(items[0]!.id), toHex(items[2]!.id)].sort())
    const c = store.counters(ORIGIN)
    assert.is(c.entries, 4)
    assert.is(c.byType.indicator, 3)
    assert.is(c.revocationsByReason.false_positive, 1)
    // Add and revoke inside one batch.
    const a = indicator(4)
    await store.append(ORIGIN, 4, [a, revocation(5, a.id)])
    assert.is(store.currentSetSize(), 2)
    await store.close()
    cleanup()
  })

  t('a wrong start index or a checkpoint that does not match is refused and changes nothing', async () => {
    const { kv, cleanup } = await makeKV()
    const store = await Store.open(kv)
    await store.registerLog(ORIGIN)
    await store.append(ORIGIN, 0, [indicator(0)])
    const before = toHex(store.rootNow(ORIGIN))
    await rejects(() => store.append(ORIGIN, 5, [indicator(5)]), 'SEQ_MISMATCH')
    const bogus = `${ORIGIN}\n2\n${Buffer.alloc(32).toString('base64')}\n\n— x AAAA\n`
    await rejects(() => store.append(ORIGIN, 1, [indicator(1)], { checkpoint: bogus }), 'INCONSISTENT_CHECKPOINT')
    assert.is(store.size(ORIGIN), 1)
    assert.is(toHex(store.rootNow(ORIGIN)), before)
    await rejects(() => store.entry(ORIGIN, 1), 'OUT_OF_RANGE')
    await store.close()
    cleanup()
  })

  t('reopen restores sizes, edge tiles, checkpoint and frozen state', async () => {
    const env = await makeKV()
    if (!env.reopen) { env.cleanup(); return }
    let store = await Store.open(env.kv)
    await store.registerLog(ORIGIN)
    const items = Array.from({ length: 700 }, (_, i) => indicator(i))
    const { root } = await store.append(ORIGIN, 0, items)
    const note = `${ORIGIN}\n700\n${Buffer.from(root).toString('base64')}\n\n— x AAAA\n`
    await store.setCheckpoint(ORIGIN, note)
    await store.freeze(ORIGIN, 'proof')
    await store.close()
    store = await Store.open(await env.reopen())
    assert.is(store.size(ORIGIN), 700)
    assert.is(toHex(store.rootNow(ORIGIN)), toHex(root))
    assert.is(store.checkpoint(ORIGIN), note)
    assert.ok(store.listLogs()[0]!.frozen)
    await rejects(() => store.append(ORIGIN, 700, [indicator(700)]), 'LOG_FROZEN')
    await store.close()
    env.cleanup()
  })

  t('a store that keeps the current set under the old S table is moved into I on open, also after a crash midway', async () => {
    const env = await makeKV()
    if (!env.reopen) { env.cleanup(); return }
    let store = await Store.open(env.kv)
    await store.registerLog(ORIGIN)
    const items = Array.from({ length: 30 }, (_, i) => indicator(i))
    await store.append(ORIGIN, 0, [...items, revocation(30, items[7]!.id)])
    const expected: string[] = []
    for await (const m of store.currentSet()) expected.push(`${toHex(m.id)} ${m.alg} ${m.category} ${toHex(m.value)}`)
    assert.is(expected.length, 29)
    // Rewrite it as the earlier layout had it: 'I' → log‖index only, members under 'S' → alg‖category‖value.
    const old = []
    for await (const [k, v] of store.kv.iterate({ gte: Uint8Array.of(0x49), lt: Uint8Array.of(0x4a) })) {
      old.push({ type: 'put' as const, key: new Uint8Array(k), value: v.slice(0, 12) })
      if (v.length > 12) old.push({ type: 'put' as const, key: keys.set(k.subarray(1)), value: v.slice(12) })
    }
    await store.kv.batch(old)
    // A crash midway through the move: one member already moved back onto 'I', its 'S' row gone.
    const movedId = items[3]!.id
    const movedTail = (await store.kv.get(keys.set(movedId)))!
    await store.kv.batch([
      { type: 'put', key: keys.id(movedId), value: Uint8Array.from([...(await store.kv.get(keys.id(movedId)))!, ...movedTail]) },
      { type: 'del', key: keys.set(movedId) },
    ])
    await store.close()
    const heard: [number, number][] = []
    store = await Store.open(await env.reopen(), { onUpgrade: (moved, members) => heard.push([moved, members]) })
    assert.is(store.upgradedSetMembers, 28, 'the 28 members still under S were moved')
    assert.equal(heard, [[28, 29]], 'progress is told after each chunk, against the size of the set')
    const got: string[] = []
    for await (const m of store.currentSet()) got.push(`${toHex(m.id)} ${m.alg} ${m.category} ${toHex(m.value)}`)
    assert.equal(got, expected)
    assert.is(store.currentSetSize(), 29)
    assert.not.ok(await store.inCurrentSet(items[7]!.id))
    assert.equal(await store.inCurrentSetMany([items[0]!.id, items[7]!.id, movedId]), [true, false, true])
    assert.equal(await store.locate(items[29]!.id), { origin: ORIGIN, index: 29 })
    let left = 0
    for await (const _ of store.kv.iterate({ gte: Uint8Array.of(0x53), lt: Uint8Array.of(0x54) })) left++
    assert.is(left, 0, 'nothing is left under S')
    // And the moved set works as the current one: a revocation takes a member out.
    await store.append(ORIGIN, 31, [revocation(31, items[0]!.id)])
    assert.not.ok(await store.inCurrentSet(items[0]!.id))
    assert.is(store.currentSetSize(), 28)
    await store.close()
    env.cleanup()
  })

  t.run()
}

contract('memory', async () => ({ kv: new MemoryKV(), cleanup: () => {} }))
contract('level', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-store-'))
  const loc = join(dir, 'db')
  return { kv: await LevelKV.open(loc), reopen: () => LevelKV.open(loc), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
})

const keyCodec = suite('storage keys')
keyCodec('integers are big-endian (byte order = numeric order), up to 2^53 - 1, and read back', () => {
  const big = (n: number, width: 4 | 8) => {
    const b = new Uint8Array(width)
    const dv = new DataView(b.buffer)
    if (width === 4) dv.setUint32(0, n)
    else dv.setBigUint64(0, BigInt(n))
    return toHex(b)
  }
  for (const n of [0, 1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
    assert.is(toHex(u64(n)), big(n, 8), `u64(${n})`)
    assert.is(readU64(u64(n)), n)
    if (n < 2 ** 32) {
      assert.is(toHex(u32(n)), big(n, 4), `u32(${n})`)
      assert.is(readU32(u32(n)), n)
    }
  }
  assert.is(toHex(keys.entry(3, 2 ** 33 + 7)), '45' + '00000003' + big(2 ** 33 + 7, 8))
  assert.is(toHex(keys.value(2, Uint8Array.of(1, 2), Uint8Array.of(9))), '56' + '02' + '0002' + '0102' + '09')
  assert.is(toHex(keys.id(Uint8Array.of(7, 8))), '490708')
})
keyCodec.run()
