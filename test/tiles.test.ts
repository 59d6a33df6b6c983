import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { sha256, toHex, utf8 } from '../protocol/bytes.ts'
import { leafHash } from '../protocol/hash.ts'
import { inclusionProofPlan, consistencyProofPlan, assembleProof, planNodes, MerkleTree, verifyInclusion, verifyConsistency } from '../protocol/merkle.ts'
import {
  authenticateTiles,
  decodeEntryBundle,
  encodeEntryBundle,
  entriesPath,
  hashFromTile,
  parseTilePath,
  partialTiles,
  tileBytes,
  tileCoordinatesForHash,
  tileForHash,
  tilePath,
  tilesForNodes,
  tilesForTree,
  tileWidthInTree,
  tileWithinTree,
  verifyEntryBundle,
  type FetchedTile,
  type TileRef,
} from '../protocol/tiles.ts'
import { throws as throwsCode } from './helpers.ts'


const entryFor = (i: number): Uint8Array => utf8(`tile-test-entry-${i}`)

// One tree shared by the tests: big enough for two full tile levels.
const N = 70000
const tree = new MerkleTree()
for (let i = 0; i < N; i++) tree.append(leafHash(entryFor(i)))
const at = (level: number, index: number): Uint8Array => tree.nodeHash(level, index)

test('paths: the spec examples', () => {
  assert.is(tilePath({ level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067')
  assert.is(tilePath({ level: 0, index: 0, width: 256 }), 'tile/0/000')
  assert.is(tilePath({ level: 2, index: 5, width: 1 }), 'tile/2/005.p/1')
  assert.is(tilePath({ level: 63, index: 999, width: 255 }), 'tile/63/999.p/255')
  assert.is(tilePath({ level: 1, index: 1000, width: 256 }), 'tile/1/x001/000')
  assert.is(entriesPath(1234067), 'tile/entries/x001/x234/067')
  assert.is(entriesPath(273, 112), 'tile/entries/273.p/112')
  assert.is(tilePath({ level: 0, index: Number.MAX_SAFE_INTEGER, width: 256 }), 'tile/0/x009/x007/x199/x254/x740/991')
})

test('paths: parse inverts tilePath/entriesPath', () => {
  for (const index of [0, 1, 999, 1000, 1234067, 999999, 1000000, Number.MAX_SAFE_INTEGER]) {
    for (const width of [1, 17, 255, 256]) {
      for (const level of [0, 1, 9, 63]) {
        assert.equal(parseTilePath(tilePath({ level, index, width })), { kind: 'tile', level, index, width })
      }
      assert.equal(parseTilePath(entriesPath(index, width)), { kind: 'entries', index, width })
    }
  }
})

test('paths: anything but the one spelling is BAD_TILE', () => {
  for (const bad of [
    'tile/0/1', // not 3 digits
    'tile/0/0001',
    'tile/0/x000/067', // leading zero element
    'tile/entries/x000/001',
    'tile/0/001/234', // inner element without x
    'tile/0/x001/x234', // last element with x
    'tile/0/x1234/067',
    'tile/00/000', // leading zero in level
    'tile/01/000',
    'tile/64/000', // level out of range
    'tile/100/000',
    'tile/-1/000',
    'tile/0/000.p/0', // width 0
    'tile/0/000.p/256', // full width as partial
    'tile/0/000.p/300',
    'tile/0/000.p/01', // leading zero width
    'tile/0/000.p/',
    'tile/0/000.p',
    'tile/0/000/',
    '/tile/0/000',
    'tile/0/000 ',
    'tile/0/+00',
    'tile/data/000',
    'tile/8/0/000', // sumdb's height element
    'tile/0/x009/x007/x199/x254/x740/992', // 2^53
    'tile/0/x001/x001/x001/x001/x001/x001/001', // too many elements
    'tile/0/٠٠٠', // non-ASCII digits
    '',
  ]) {
    throwsCode(() => parseTilePath(bad), 'BAD_TILE', bad)
  }
  throwsCode(() => tilePath({ level: 64, index: 0, width: 256 }), 'BAD_TILE')
  throwsCode(() => tilePath({ level: 0, index: -1, width: 256 }), 'BAD_TILE')
  throwsCode(() => tilePath({ level: 0, index: 0, width: 0 }), 'BAD_TILE')
  throwsCode(() => tilePath({ level: 0, index: 0, width: 257 }), 'BAD_TILE')
  throwsCode(() => entriesPath(1.5), 'BAD_TILE')
})

test('which tiles exist: the spec examples (70,000 and 256)', () => {
  const all = [...tilesForTree(70000)]
  const count = (level: number, width: number): number => all.filter((t) => t.level === level && t.width === width).length
  assert.is(count(0, 256), 273)
  assert.equal(all.filter((t) => t.level === 0 && t.width < 256), [{ level: 0, index: 273, width: 112 }])
  assert.is(count(1, 256), 1)
  assert.equal(all.filter((t) => t.level === 1 && t.width < 256), [{ level: 1, index: 1, width: 17 }])
  assert.equal(all.filter((t) => t.level === 2), [{ level: 2, index: 0, width: 1 }])
  assert.is(all.length, 273 + 1 + 1 + 1 + 1)
  assert.equal([...tilesForTree(256)], [{ level: 0, index: 0, width: 256 }, { level: 1, index: 0, width: 1 }])
  assert.equal([...tilesForTree(0)], [])
  assert.equal(partialTiles(70000), [{ level: 0, index: 273, width: 112 }, { level: 1, index: 1, width: 17 }, { level: 2, index: 0, width: 1 }])
  assert.is(tileWidthInTree(0, 272, 70000), 256)
  assert.is(tileWidthInTree(0, 273, 70000), 112)
  assert.is(tileWidthInTree(0, 274, 70000), 0)
  assert.is(tileWidthInTree(3, 0, 70000), 0)
  // earlier partial tiles stay determined by a larger tree; later ones are not
  assert.ok(tileWithinTree({ level: 0, index: 273, width: 50 }, 70000))
  assert.ok(tileWithinTree({ level: 0, index: 3, width: 50 }, 70000))
  assert.not.ok(tileWithinTree({ level: 0, index: 273, width: 113 }, 70000))
  assert.not.ok(tileWithinTree({ level: 0, index: 273, width: 256 }, 70000))
  assert.not.ok(tileWithinTree({ level: 2, index: 0, width: 2 }, 70000))
})

test('tile bytes: known answers cross-checked with golang.org/x/mod/sumdb/tlog (ReadTileData, height 8)', () => {
  // SHA-256 of each tile's bytes for the 70,000-entry tree above.
  const known: Array<[TileRef, string]> = [
    [{ level: 0, index: 0, width: 256 }, '443570d9b6408f12a41521f33272108874bc5dc2469a4c30415447db031fb22a'],
    [{ level: 0, index: 272, width: 256 }, '78ea59fbb3f44a1db0c0961a6e52b122cc77e9220fad3eae5cdc340be11b2305'],
    [{ level: 0, index: 273, width: 112 }, '112e064ab6a976231418ad889e5373715034e44be2aa5dd447feb562dfca6adf'],
    [{ level: 1, index: 0, width: 256 }, '9c9928f2c673fbd642b2af93ab16ed9115d9982201cf0f7d179908e9592aed45'],
    [{ level: 1, index: 1, width: 17 }, '90865a1f947a022dd5705681a73a4ab4ab622428e321b1b719eb5b37b07c4c35'],
    [{ level: 2, index: 0, width: 1 }, '658a5dd634bc27c4485cd6c7281cb316b76e4e6d0096211b664430994f662b28'],
    [{ level: 0, index: 273, width: 50 }, 'fd08133d4b29e96a5fd7e42483719b4ecdff9a3bdf66fb5920983f4dcd82072e'],
  ]
  for (const [t, digest] of known) assert.is(toHex(sha256(tileBytes(t.level, t.index, t.width, at))), digest, tilePath(t))
})

test('node hashes: coordinates and recomputation from tiles', () => {
  assert.equal(tileCoordinatesForHash(0, 1234067), { tileLevel: 0, tileIndex: 4820, offset: 147, count: 1 })
  assert.equal(tileCoordinatesForHash(7, 3), { tileLevel: 0, tileIndex: 1, offset: 128, count: 128 })
  assert.equal(tileCoordinatesForHash(8, 300), { tileLevel: 1, tileIndex: 1, offset: 44, count: 1 })
  assert.equal(tileCoordinatesForHash(10, 3), { tileLevel: 1, tileIndex: 0, offset: 12, count: 4 })
  for (const t of tilesForTree(N)) {
    const data = tileBytes(t.level, t.index, t.width, at)
    assert.is(data.length, t.width * 32)
    if (t.level === 0 && t.index % 50 !== 0 && t.width === 256) continue // sample level 0
    for (let h = 8 * t.level; h < 8 * t.level + 8; h++) {
      const per = 2 ** (h - 8 * t.level)
      for (let j = 0; (j + 1) * per <= t.width; j++) {
        const index = (t.index * 256) / per + j
        assert.equal(hashFromTile(data, t.level, h, index), tree.nodeHash(h, index), `node ${h}/${index} from ${tilePath(t)}`)
      }
    }
    if (t.width === 256) {
      // a full tile's Merkle hash is the hash stored one level up
      const parent = tileForHash(8 * (t.level + 1), t.index, N)
      const pdata = tileBytes(parent.level, parent.index, parent.width, at)
      assert.equal(hashFromTile(pdata, parent.level, 8 * (t.level + 1), t.index), tree.nodeHash(8 * t.level + 8, t.index))
    }
  }
  const partial = tileBytes(0, 273, 112, at)
  throwsCode(() => hashFromTile(partial, 0, 7, 273 * 2), 'BAD_TILE', 'node past the partial width')
  throwsCode(() => hashFromTile(partial, 1, 7, 0), 'OUT_OF_RANGE', 'wrong tile level')
  throwsCode(() => hashFromTile(partial.subarray(1), 0, 0, 0), 'BAD_TILE')
  throwsCode(() => hashFromTile(new Uint8Array(0), 0, 0, 0), 'BAD_TILE')
  throwsCode(() => tileForHash(7, 546, N), 'OUT_OF_RANGE')
})

/** What a tile server holds for `tree` at its current size. */
function fetchAll(refs: TileRef[]): FetchedTile[] {
  return refs.map((tile) => ({ tile, data: tileBytes(tile.level, tile.index, tile.width, at) }))
}

test('client: fetch tiles for a proof, authenticate them against the root, build and verify the proof', () => {
  for (const size of [1, 2, 255, 256, 257, 511, 512, 65535, 65536, 65537, 69999, N]) {
    const root = tree.root(size)
    for (const index of [0, Math.floor(size / 2), size - 1]) {
      const plan = inclusionProofPlan(index, size)
      const refs = tilesForNodes([...planNodes(plan), { level: 0, index }], size)
      const read = authenticateTiles(size, root, fetchAll(refs))
      assert.equal(read(0, index), leafHash(entryFor(index)))
      verifyInclusion(read(0, index), index, size, assembleProof(plan, read), root)
    }
    const old = Math.max(1, Math.floor(size / 3))
    const plan = consistencyProofPlan(old, size)
    const read = authenticateTiles(size, root, fetchAll(tilesForNodes(planNodes(plan), size)))
    verifyConsistency(old, size, tree.root(old), root, assembleProof(plan, read))
  }
  assert.ok(authenticateTiles(0, sha256(), []))
})

test('client: tampered, missing, oversized or unanchored tiles are BAD_TILE', () => {
  const size = 70000
  const root = tree.root(size)
  const refs = tilesForNodes([{ level: 0, index: 12345 }], size)
  const good = fetchAll(refs)
  authenticateTiles(size, root, good)
  for (let i = 0; i < good.length; i++) {
    const bad = good.map((f) => ({ ...f }))
    const data = bad[i]!.data.slice()
    data[(i * 97) % data.length]! ^= 1
    bad[i]!.data = data
    throwsCode(() => authenticateTiles(size, root, bad), 'BAD_TILE', `tampered ${tilePath(good[i]!.tile)}`)
    throwsCode(() => authenticateTiles(size, root, good.filter((_, j) => j !== i))(0, 12345), 'BAD_TILE', `missing ${tilePath(good[i]!.tile)}`)
  }
  const wrongRoot = root.slice()
  wrongRoot[0]! ^= 1
  throwsCode(() => authenticateTiles(size, wrongRoot, good), 'BAD_TILE', 'wrong root')
  // a full tile whose parent was not fetched cannot be trusted
  throwsCode(() => authenticateTiles(size, root, [...fetchAll(partialTiles(size)), ...fetchAll([{ level: 0, index: 3, width: 256 }])]), 'BAD_TILE')
  // tiles that do not belong to a tree of this size
  throwsCode(() => authenticateTiles(size, root, [...good, { tile: { level: 0, index: 273, width: 113 }, data: new Uint8Array(113 * 32) }]), 'BAD_TILE')
  throwsCode(() => authenticateTiles(size, root, [...good, { tile: { level: 0, index: 274, width: 1 }, data: new Uint8Array(32) }]), 'BAD_TILE')
  // a narrower partial tile of an earlier size is fine when it agrees with the wider one
  authenticateTiles(size, root, [...good, ...fetchAll([{ level: 0, index: 273, width: 100 }])])
  const narrow = fetchAll([{ level: 0, index: 273, width: 100 }])[0]!
  const wrongNarrow = narrow.data.slice()
  wrongNarrow[5]! ^= 1
  throwsCode(() => authenticateTiles(size, root, [...good, { ...narrow, data: wrongNarrow }]), 'BAD_TILE')
  throwsCode(() => authenticateTiles(size, root, [...good, { ...narrow, data: narrow.data.subarray(32) }]), 'BAD_TILE', 'length mismatch')
  // a reader never returns hashes from tiles it was not given
  const read = authenticateTiles(size, root, good)
  throwsCode(() => read(0, 0), 'BAD_TILE')
})

test('entry bundles: round trip, framing, limits', () => {
  const entries = [new Uint8Array(0), utf8('a'), new Uint8Array(300).fill(7), new Uint8Array(65535).fill(1)]
  const bytes = encodeEntryBundle(entries)
  assert.equal([...bytes.subarray(0, 5)], [0, 0, 0, 1, 0x61])
  assert.equal([...bytes.subarray(5, 7)], [0x01, 0x2c])
  assert.equal(decodeEntryBundle(bytes), entries)
  assert.equal(decodeEntryBundle(bytes, { count: 4 }), entries)
  assert.equal(decodeEntryBundle(new Uint8Array(0)), [])
  throwsCode(() => encodeEntryBundle([new Uint8Array(65536)]), 'TOO_LARGE')
  throwsCode(() => encodeEntryBundle(Array(257).fill(new Uint8Array(1))), 'TOO_LARGE')
  throwsCode(() => decodeEntryBundle(bytes, { count: 3 }), 'BAD_TILE')
  throwsCode(() => decodeEntryBundle(bytes, { maxEntries: 3 }), 'TOO_LARGE')
  for (const cut of [1, 3, 6, 100, bytes.length - 1]) throwsCode(() => decodeEntryBundle(bytes.subarray(0, cut)), 'BAD_TILE', `cut at ${cut}`)
  throwsCode(() => decodeEntryBundle(new Uint8Array(257 * 2)), 'TOO_LARGE', 'more than 256 empty entries')
})

test('entry bundles: match their level-0 tile', () => {
  for (const [index, width] of [[0, 256], [272, 256], [273, 112]] as const) {
    const entries = Array.from({ length: width }, (_, i) => entryFor(index * 256 + i))
    const bundle = decodeEntryBundle(encodeEntryBundle(entries), { count: width })
    const tile = tileBytes(0, index, width, at)
    verifyEntryBundle(bundle, tile)
    const swapped = [bundle[1]!, bundle[0]!, ...bundle.slice(2)]
    throwsCode(() => verifyEntryBundle(swapped, tile), 'BAD_TILE')
    throwsCode(() => verifyEntryBundle([...bundle, utf8('extra')], tile), 'BAD_TILE')
    throwsCode(() => verifyEntryBundle([utf8('wrong'), ...bundle.slice(1)], tile), 'BAD_TILE')
  }
})

test.run()
