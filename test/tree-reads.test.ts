/**
 * Single reads (one proof, one entry) are taken as stored and shown by their
 * proof to a root the reader trusts (node/storage/tree.ts): a damaged node
 * on the path never reaches the caller (the read is redone the checked way,
 * which either repairs the answer from the tile or reports STORAGE_CORRUPT),
 * and damage off the path does not disturb reads that do not need it.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryKV } from '../node/storage/kv.ts'
import { keys } from '../node/storage/keys.ts'
import { Store, type AppendItem } from '../node/storage/store.ts'
import { leafHash, nodeHash } from '../protocol/hash.ts'
import { verifyInclusion } from '../protocol/merkle.ts'
import { utf8, toHex } from '../protocol/bytes.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { rejects, storeIndicator } from './helpers.ts'

const ORIGIN = 'test.cairn/eu-centre'
const SIZE = 1300 // five full level-0 tiles and a partial one; level 1 is the in-memory edge

const item = (i: number): AppendItem => storeIndicator(ORIGIN, i)

/** A store of SIZE entries in `kv`, reopened (nothing read yet is cached), and its root. */
async function filled(): Promise<{ kv: MemoryKV; store: Store; num: number; root: Uint8Array }> {
  const kv = new MemoryKV()
  const first = await Store.open(kv)
  await first.registerLog(ORIGIN)
  await first.append(ORIGIN, 0, Array.from({ length: SIZE }, (_, i) => item(i)))
  const root = first.rootNow(ORIGIN)
  const store = await Store.open(kv)
  return { kv, store, num: store.logNumber(ORIGIN), root }
}

/** Replaces the 32 bytes at hash position `at` of the stored value under `key` (the new row is written whole, as a bug would). */
async function damage(kv: MemoryKV, key: Uint8Array, at: number): Promise<void> {
  const v = new Uint8Array((await kv.get(key))!)
  v.fill(0xab, at * 32, at * 32 + 32)
  await kv.batch([{ type: 'put', key, value: v }])
}

async function provenBy(store: Store, index: number, root: Uint8Array): Promise<void> {
  const proof = await store.inclusionProof(ORIGIN, index, SIZE)
  verifyInclusion(leafHash(utf8(`entry-${index}`)), index, SIZE, proof, root)
}

test('undamaged: proofs and entries read as stored verify against the root', async () => {
  const { store, root } = await filled()
  for (const i of [0, 1, 255, 256, 700, 1279, 1280, SIZE - 1]) {
    await provenBy(store, i, root)
    assert.equal(toHex(await store.entry(ORIGIN, i)), toHex(utf8(`entry-${i}`)))
  }
})

test('a damaged stored inner node on the path: the proof is rebuilt from the checked tile, still correct', async () => {
  const { kv, store, num, root } = await filled()
  await damage(kv, keys.inner(num, 0, 0), (10 >> 1) ^ 1) // the height-1 sibling of entry 10's pair
  await provenBy(store, 10, root)
})

test('a damaged level-0 tile: reads off its path are served, reads on it are refused as STORAGE_CORRUPT, never wrong', async () => {
  const { kv, store, num, root } = await filled()
  await damage(kv, keys.tile(num, 0, 0), 11) // entry 11's leaf hash: on the path of entries 10 and 11
  await provenBy(store, 600, root) // tile 2: untouched
  assert.equal(toHex(await store.entry(ORIGIN, 600)), toHex(utf8('entry-600')))
  await rejects(() => store.inclusionProof(ORIGIN, 10, SIZE), 'STORAGE_CORRUPT', 'proof of 10')
  await rejects(() => store.entry(ORIGIN, 10), 'STORAGE_CORRUPT', 'entry 10')
})

test('a damaged entry is refused even when its tile is sound', async () => {
  const { kv, store, num } = await filled()
  await kv.batch([{ type: 'put', key: keys.entry(num, 42), value: utf8('entry-4200') }])
  await rejects(() => store.entry(ORIGIN, 42), 'STORAGE_CORRUPT', 'entry 42')
})

test('proofs that meet a subtree shown before stop there: still right for every leaf, a damaged upper row never used, a damaged leaf tile still refused', async () => {
  const BIG = 70_000 // level-0 tiles under a full stored level-1 tile (65,536 entries) and the edge
  const kv = new MemoryKV()
  const first = await Store.open(kv)
  await first.registerLog(ORIGIN)
  for (let at = 0; at < BIG; at += 10_000) await first.append(ORIGIN, at, Array.from({ length: 10_000 }, (_, i) => item(at + i)), { durable: false })
  const root = first.rootNow(ORIGIN)
  const store = await Store.open(kv)
  const num = store.logNumber(ORIGIN)
  const proven = async (i: number) => verifyInclusion(leafHash(utf8(`entry-${i}`)), i, BIG, await store.inclusionProof(ORIGIN, i, BIG), root)
  let seed = 11
  const within = () => (seed = (seed * 1103515245 + 12345) >>> 0) % 256
  // Each tile is asked for once at most before its damage: a second ask would check it whole and keep it
  // (TreeReader.warm), and the damage would then be found or never read — not what is tested here.
  const DAMAGED_TILE = 100
  const later = (t: number) => t === 2 || (t > 150 && t % 2 === 1) // asked for only after the upper row is damaged
  const fullTiles = Math.floor(BIG / 256)
  for (let t = 0; t < fullTiles; t++) if (t !== DAMAGED_TILE && !later(t)) await proven(t * 256 + within()) // shows the upper subtrees
  // A stored row of level 1 (subtrees of 256 entries) damaged now: hash 3, the root of tile 3, shown by tile 3's proof.
  await damage(kv, keys.tile(num, 1, 0), 3)
  // Tile 2's proof takes tile 3's root as its sibling: the shown hash, never the damaged stored copy.
  for (let t = 0; t < fullTiles; t++) if (t !== DAMAGED_TILE && later(t)) await proven(t * 256 + within())
  // A damaged leaf in a level-0 tile: the proof of that entry does not fold to a shown subtree and is refused.
  await damage(kv, keys.tile(num, 0, DAMAGED_TILE), 7)
  await rejects(() => store.inclusionProof(ORIGIN, DAMAGED_TILE * 256 + 6, BIG), 'STORAGE_CORRUPT', 'proof of a sibling of the damaged leaf')
  await rejects(() => store.entry(ORIGIN, DAMAGED_TILE * 256 + 7), 'STORAGE_CORRUPT', 'the entry of the damaged leaf (the log is withheld until healed)')
})

test('a tile asked for twice is checked whole and kept: damage elsewhere in it is found then, and once kept, later damage on disk is never served', async () => {
  const { kv, store, num, root } = await filled()
  // Entry 3's proof takes leaves 2 and 3 and stored inner nodes; leaf 200 is off its path.
  await damage(kv, keys.tile(num, 0, 0), 200)
  await provenBy(store, 3, root) // first ask: read as stored, it folds to the root
  await rejects(() => store.inclusionProof(ORIGIN, 3, SIZE), 'STORAGE_CORRUPT', 'second ask: the whole tile is checked')

  const sound = await filled()
  await provenBy(sound.store, 300, sound.root)
  await provenBy(sound.store, 301, sound.root) // tile 1 checked and kept
  await damage(sound.kv, keys.tile(sound.num, 0, 1), 45)
  await damage(sound.kv, keys.inner(sound.num, 0, 1), 3)
  for (const i of [300, 301, 256 + 45, 256 + 7, 256 + 4]) await provenBy(sound.store, i, sound.root) // 256 + 4: the damaged inner node is its sibling
  assert.equal(toHex(await sound.store.entry(ORIGIN, 256 + 45)), toHex(utf8(`entry-${256 + 45}`)))
})

test('a proof against an older size (no trusted root held for it) comes from checked tiles', async () => {
  const { store } = await filled()
  const leaves = Array.from({ length: 1000 }, (_, i) => leafHash(utf8(`entry-${i}`)))
  const mth = (l: Uint8Array[]): Uint8Array => {
    if (l.length === 1) return l[0]!
    let k = 1
    while (k * 2 < l.length) k *= 2
    return nodeHash(mth(l.slice(0, k)), mth(l.slice(k)))
  }
  verifyInclusion(leaves[333]!, 333, 1000, await store.inclusionProof(ORIGIN, 333, 1000), mth(leaves))
})

test.run()
