/**
 * PdqIndex (client/pdq-index.ts): exact Hamming search over PDQ hashes.
 * Property tests against bruteForce on random sets and on clustered sets
 * (near-duplicates, so a query hits many entries), at distances from 0 to
 * past 63, with removals and appends before and after compact(). A seeded
 * PRNG: a failure names its seed and reproduces.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PdqIndex, bruteForce, hammingDistance, popcount32, PDQ_BYTES, type PdqMatch } from '../client/pdq-index.ts'
import { openPdqIndex, PDQ_INDEX_FILE } from '../client/pdq-index-file.ts'
import { mulberry32 } from '../testnet/random.ts'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const rng = mulberry32

const randomHash = (random: () => number) => Uint8Array.from({ length: PDQ_BYTES }, () => Math.floor(random() * 256))

/** `base` with `flips` distinct bits flipped: exactly `flips` bits away. */
function flipped(base: Uint8Array, flips: number, random: () => number): Uint8Array {
  const out = Uint8Array.from(base)
  const bits = new Set<number>()
  while (bits.size < flips) bits.add(Math.floor(random() * 256))
  for (const b of bits) out[b >> 3]! ^= 1 << (b & 7)
  return out
}

function packed(hashes: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * PDQ_BYTES)
  hashes.forEach((h, i) => out.set(h, i * PDQ_BYTES))
  return out
}

/** Random hashes, or (clustered) near-duplicates of a few bases with up to 40 bits flipped. */
function makeSet(n: number, clustered: boolean, random: () => number): Uint8Array[] {
  if (!clustered) return Array.from({ length: n }, () => randomHash(random))
  const bases = Array.from({ length: 50 }, () => randomHash(random))
  return Array.from({ length: n }, () => flipped(bases[Math.floor(random() * bases.length)]!, Math.floor(random() * 41), random))
}

/** Queries: stored hashes with 0..40 bits flipped, and random hashes. */
function makeQueries(set: Uint8Array[], count: number, random: () => number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => (i % 3 === 2 ? randomHash(random) : flipped(set[Math.floor(random() * set.length)]!, Math.floor(random() * 41), random)))
}

function expectSame(got: PdqMatch[], want: PdqMatch[], what: string): void {
  if (got.length === want.length && got.every((m, i) => m.index === want[i]!.index && m.distance === want[i]!.distance)) return
  assert.fixture(JSON.stringify(got.slice(0, 20)), JSON.stringify(want.slice(0, 20)), `${what}: ${got.length} matches, brute force ${want.length}`)
}

const DISTANCES = [0, 1, 7, 15, 16, 31, 32, 47, 63, 64, 100]

for (const clustered of [false, true]) {
  const kind = clustered ? 'clustered' : 'random'
  test(`${kind} set of 20,000: search is brute force at d = ${DISTANCES.join(', ')}`, () => {
    const seed = clustered ? 1802 : 1801
    const random = rng(seed)
    const set = makeSet(20_000, clustered, random)
    const all = packed(set)
    const index = PdqIndex.build(all, set.length)
    assert.is(index.size, set.length)
    let hits = 0
    for (const q of makeQueries(set, 60, random)) {
      for (const d of DISTANCES) {
        const want = bruteForce(all, set.length, q, d)
        expectSame(index.search(q, d), want, `seed ${seed}, d ${d}`)
        hits += want.length
      }
    }
    assert.ok(hits > 60, 'the queries hit (near-duplicates are found)')
  })

  test(`${kind} set: removals and appends, before and after compact()`, () => {
    const seed = clustered ? 2802 : 2801
    const random = rng(seed)
    const n = 8000
    const set = makeSet(n + 2000, clustered, random)
    const removedAtBuild = new Set<number>()
    for (let i = 0; i < n; i += 7) removedAtBuild.add(i)
    const index = PdqIndex.build(packed(set.slice(0, n)), n, { removed: (i) => removedAtBuild.has(i) })
    const removed = new Set(removedAtBuild)
    // Appends: the rest of the set, a few of them removed, and some built entries removed later.
    for (let i = n; i < set.length; i++) assert.is(index.add(set[i]!), i)
    for (let k = 0; k < 600; k++) {
      const i = Math.floor(random() * set.length)
      assert.is(index.remove(i), !removed.has(i))
      removed.add(i)
    }
    const all = packed(set)
    const check = (label: string) => {
      assert.is(index.size, set.length - removed.size)
      for (const q of makeQueries(set, 40, random)) {
        for (const d of [0, 16, 31, 32, 63]) {
          const want = bruteForce(all, set.length, q, d, (i) => removed.has(i))
          expectSame(index.search(q, d), want, `${label}, seed ${seed}, d ${d}`)
        }
      }
    }
    assert.is(index.tailSize, 2000)
    check('with a tail')
    index.compact()
    assert.is(index.tailSize, 0)
    assert.is(index.count, set.length)
    check('compacted')
    // Removing after compact, then appending again.
    for (let i = 1; i < set.length; i += 11) if (index.remove(i)) removed.add(i)
    const more = makeSet(500, clustered, random)
    for (const h of more) {
      set.push(h)
      index.add(h)
    }
    const all2 = packed(set)
    for (const q of makeQueries(set, 40, random)) {
      const want = bruteForce(all2, set.length, q, 31, (i) => removed.has(i))
      expectSame(index.search(q, 31), want, `seed ${seed}, after compact, removals and appends`)
    }
    for (const i of removed) assert.ok(index.isRemoved(i))
  })
}

test('exact and hasExact are brute force at d = 0: present, absent and one-bit-off values, duplicates, removals, the tail, before and after compact()', () => {
  const random = rng(6801)
  const n = 6000
  // Near-duplicates (shared chunks pass the bucket and the chunk-1 and chunk-2 filters) and exact duplicates.
  const set = makeSet(n, true, random)
  for (let i = 0; i < 300; i++) set[Math.floor(random() * n)] = set[Math.floor(random() * n)]!
  const removed = new Set<number>()
  for (let i = 0; i < n; i += 13) removed.add(i)
  const index = PdqIndex.build(packed(set), n, { removed: (i) => removed.has(i) })
  const check = (label: string) => {
    const all = packed(set)
    const queries: Uint8Array[] = []
    for (let k = 0; k < 150; k++) {
      const stored = set[Math.floor(random() * set.length)]!
      queries.push(stored, flipped(stored, 1, random), flipped(stored, 2, random), randomHash(random))
    }
    // Every one-bit neighbour of one stored hash: each chunk's bits, chunk 2's low and high bytes included.
    const base = set[n - 1]!
    for (let b = 0; b < 256; b++) {
      const q = Uint8Array.from(base)
      q[b >> 3]! ^= 1 << (b & 7)
      queries.push(q)
    }
    for (const i of removed) if (queries.length < 1500) queries.push(set[i]!)
    let hits = 0
    for (const q of queries) {
      const want = bruteForce(all, set.length, q, 0, (i) => removed.has(i)).map((m) => m.index)
      assert.equal(index.exact(q), want, `${label}: exact`)
      assert.is(index.hasExact(q), want.length > 0, `${label}: hasExact`)
      assert.equal(index.search(q, 0).map((m) => m.index), want, `${label}: search at 0`)
      if (want.length > 0) hits++
    }
    assert.ok(hits > 100 && hits < queries.length - 300, `${label}: present and absent values (${hits} of ${queries.length} hit)`)
  }
  check('built, removals at build')
  // A tail: new hashes, copies of built ones (live and removed), one removed in the tail.
  const added = [randomHash(random), set[5]!, set[13]!, set[26]!, randomHash(random), set[7]!]
  for (const h of added) {
    set.push(h)
    index.add(h)
  }
  index.remove(n + 4)
  removed.add(n + 4)
  index.remove(7)
  removed.add(7)
  for (let i = 0; i < n; i += 29) if (index.remove(i)) removed.add(i)
  assert.is(index.tailSize, added.length)
  check('with a tail and later removals')
  for (const h of added) assert.is(index.hasExact(h), set.some((x, i) => !removed.has(i) && hammingDistance(x, 0, h, 0) === 0))
  assert.equal(index.exact(set[5]!), bruteForce(packed(set), set.length, set[5]!, 0, (i) => removed.has(i)).map((m) => m.index))
  assert.ok(index.exact(set[5]!).includes(n + 1), 'a copy in the tail is found after its built twin')
  const copy = PdqIndex.fromState(index.state())
  for (const h of added) assert.equal(copy.exact(h), index.exact(h), 'fromState answers the same')
  index.compact()
  check('compacted')
  assert.throws(() => index.exact(new Uint8Array(31)), RangeError)
  assert.throws(() => index.hasExact(new Uint8Array(33)), RangeError)
  const empty = PdqIndex.build(new Uint8Array(0), 0)
  assert.equal(empty.exact(set[0]!), [])
  empty.add(set[0]!)
  assert.equal(empty.exact(set[0]!), [0])
  assert.ok(empty.hasExact(set[0]!))
})

test('a removed entry is never returned, even when the query is that hash', () => {
  const random = rng(3801)
  const set = makeSet(1000, false, random)
  const index = PdqIndex.build(packed(set), set.length)
  assert.equal(index.search(set[5]!, 0), [{ index: 5, distance: 0 }])
  index.remove(5)
  assert.equal(index.search(set[5]!, 0), [])
  assert.is(index.remove(5), false, 'removing twice reports it')
  assert.throws(() => index.remove(1000), RangeError)
})

test('duplicates are all returned, by index; state() gives an index answering the same', () => {
  const random = rng(4801)
  const h = randomHash(random)
  const set = [randomHash(random), h, randomHash(random), h, flipped(h, 3, random)]
  const index = PdqIndex.build(packed(set), set.length, { shared: true })
  assert.equal(index.search(h, 3), [
    { index: 1, distance: 0 },
    { index: 3, distance: 0 },
    { index: 4, distance: 3 },
  ])
  index.add(h)
  const copy = PdqIndex.fromState(index.state())
  assert.equal(copy.search(h, 3), index.search(h, 3))
  assert.ok(index.memoryBytes() >= set.length * PDQ_BYTES)
})

test('an empty index, an unaligned input, and bad arguments', () => {
  const empty = PdqIndex.build(new Uint8Array(0), 0)
  assert.equal(empty.search(new Uint8Array(32), 31), [])
  const random = rng(5801)
  const set = makeSet(300, true, random)
  const framed = new Uint8Array(1 + set.length * PDQ_BYTES)
  framed.set(packed(set), 1)
  const unaligned = framed.subarray(1)
  const index = PdqIndex.build(unaligned, set.length)
  for (const q of makeQueries(set, 20, random)) expectSame(index.search(q, 31), bruteForce(unaligned, set.length, q, 31), 'unaligned input')
  assert.throws(() => index.search(new Uint8Array(31), 31), RangeError)
  assert.throws(() => index.search(new Uint8Array(32), -1), RangeError)
  assert.throws(() => index.search(new Uint8Array(32), 1.5), RangeError)
  assert.throws(() => PdqIndex.build(new Uint8Array(64), 3), RangeError)
})

test('pdq-index.idx: saved when missing, read when it is of these values, rebuilt when stale or damaged; answers stay exact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-pdq-index-'))
  try {
    const random = rng(7801)
    const set = makeSet(3000, true, random)
    const values = packed(set)
    const queries = makeQueries(set, 30, random)
    const check = (index: PdqIndex, what: string) => {
      for (const q of queries) expectSame(index.search(q, 31), bruteForce(values, set.length, q, 31), what)
    }
    const first = openPdqIndex(dir, values, set.length)
    assert.is(first.info.source, 'built')
    assert.is(first.info.rebuilt, 'missing')
    assert.is(first.info.written, true)
    check(first.index, 'built')
    const path = join(dir, PDQ_INDEX_FILE)
    const again = openPdqIndex(dir, values, set.length, { shared: true })
    assert.is(again.info.source, 'file')
    check(again.index, 'read from the file')
    assert.ok(again.index.state().ids[0]!.buffer instanceof SharedArrayBuffer, 'shared when asked')

    // Other values (one bit of one hash changed): stale, rebuilt, rewritten.
    const other = values.slice()
    other[5]! ^= 1
    assert.is(openPdqIndex(dir, other, set.length).info.rebuilt, 'stale')
    assert.is(openPdqIndex(dir, other, set.length).info.source, 'file')
    assert.is(openPdqIndex(dir, values, set.length).info.rebuilt, 'stale')

    // Any byte changed, the file cut short, or another version: never used.
    const good = readFileSync(path)
    for (const [what, bad] of [
      ['a table byte flipped', (b: Buffer) => { b[b.length >> 1]! ^= 0x10; return b }],
      ['the checksum flipped', (b: Buffer) => { b[b.length - 1]! ^= 1; return b }],
      ['cut short', (b: Buffer) => b.subarray(0, b.length - 100)],
      ['another version', (b: Buffer) => { b.writeUInt32LE(99, 8); return b }],
      ['empty', () => Buffer.alloc(0)],
    ] as const) {
      writeFileSync(path, bad(Buffer.from(good)))
      const r = openPdqIndex(dir, values, set.length)
      assert.is(r.info.source, 'built', what)
      check(r.index, what)
      assert.ok(readFileSync(path).equals(good), `${what}: rewritten`)
    }
    assert.equal(readdirSync(dir), [PDQ_INDEX_FILE], 'no temporary file left')

    // persist: false reads and writes nothing; a folder that cannot be written is not fatal.
    rmSync(path)
    assert.is(openPdqIndex(dir, values, set.length, { persist: false }).info.written, undefined)
    assert.not.ok(existsSync(path))
    if (process.getuid?.() !== 0) {
      chmodSync(dir, 0o555)
      const r = openPdqIndex(dir, values, set.length)
      chmodSync(dir, 0o755)
      assert.is(r.info.written, false)
      check(r.index, 'unwritable folder')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('popcount32 and hammingDistance', () => {
  const random = rng(6801)
  for (let k = 0; k < 1000; k++) {
    const x = Math.floor(random() * 2 ** 32)
    let bits = 0
    for (let b = 0; b < 32; b++) bits += Math.floor(x / 2 ** b) % 2
    assert.is(popcount32(x), bits)
    assert.is(popcount32(x | 0), bits, 'negative int32 too')
  }
  const a = randomHash(random)
  assert.is(hammingDistance(a, 0, flipped(a, 29, random), 0), 29)
  assert.is(hammingDistance(a, 0, a.map((v) => v ^ 0xff), 0), 256)
})

test.run()
