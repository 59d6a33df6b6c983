import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fromHex, sha256, toHex, utf8 } from '../protocol/bytes.ts'
import { isLedgerError } from '../protocol/errors.ts'
import { EMPTY_ROOT, leafHash, nodeHash } from '../protocol/hash.ts'
import {
  assembleProof,
  CompactRange,
  consistencyProof,
  consistencyProofPlan,
  inclusionProof,
  inclusionProofPlan,
  MAX_PROOF_HASHES,
  MerkleTree,
  planNodes,
  rootAt,
  subtreesOfRange,
  verifyConsistency,
  verifyInclusion,
} from '../protocol/merkle.ts'
import { throws as throwsCode } from './helpers.ts'
import { mulberry32 } from '../testnet/random.ts'

/** Deterministic PRNG so failures reproduce: a whole number below n. */
function prng(seed: number): (n: number) => number {
  const random = mulberry32(seed)
  return (n) => (random() * n) | 0
}


function fails(fn: () => unknown): boolean {
  try {
    fn()
    return false
  } catch (e) {
    if (!isLedgerError(e)) throw e
    return true
  }
}

function flipped(h: Uint8Array, i: number, bit = 1): Uint8Array {
  const c = h.slice()
  c[i] = c[i]! ^ bit
  return c
}

const leafFor = (i: number): Uint8Array => leafHash(utf8(`merkle-test-${i}`))

// RFC 6962 test data as used by certificate-transparency-go and transparency-dev/merkle.
const RFC6962_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f']
const RFC6962_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
]
const RFC6962_NODES = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ],
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ],
  ['d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'],
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
]
const RFC6962_INCLUSION: Array<[number, number, string[]]> = [
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
]
const RFC6962_CONSISTENCY: Array<[number, number, string[]]> = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
  [6, 7, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
]

const rfcTree = MerkleTree.from(RFC6962_INPUTS.map((h) => leafHash(fromHex(h))))

test('root of the empty tree is SHA-256 of the empty string', () => {
  assert.is(toHex(EMPTY_ROOT), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  assert.equal(new MerkleTree().root(), sha256())
  assert.equal(new CompactRange().root(), EMPTY_ROOT)
  assert.equal(rootAt(0, () => assert.unreachable('no node is needed') as never), EMPTY_ROOT)
})

test('RFC 6962 test data: roots of every prefix, every complete subtree', () => {
  for (let s = 0; s <= 8; s++) assert.is(toHex(rfcTree.root(s)), RFC6962_ROOTS[s], `root of size ${s}`)
  RFC6962_NODES.forEach((row, level) => row.forEach((h, index) => assert.is(toHex(rfcTree.nodeHash(level, index)), h)))
})

test('RFC 6962 test data: known inclusion proofs are generated and verify', () => {
  for (const [index, size, proof] of RFC6962_INCLUSION) {
    assert.equal(rfcTree.inclusionProof(index, size).map(toHex), proof, `inclusion ${index}/${size}`)
    verifyInclusion(leafHash(fromHex(RFC6962_INPUTS[index]!)), index, size, proof.map((h) => fromHex(h)), fromHex(RFC6962_ROOTS[size]!))
  }
  assert.equal(rfcTree.inclusionProof(0, 1), [])
})

test('RFC 6962 test data: known consistency proofs are generated and verify', () => {
  for (const [m, n, proof] of RFC6962_CONSISTENCY) {
    assert.equal(rfcTree.consistencyProof(m, n).map(toHex), proof, `consistency ${m}->${n}`)
    verifyConsistency(m, n, fromHex(RFC6962_ROOTS[m]!), fromHex(RFC6962_ROOTS[n]!), proof.map((h) => fromHex(h)))
  }
})

test('RFC 6962 test data: compact ranges hold the expected subtrees', () => {
  const expected: Array<Array<[number, number]>> = [[], [[0, 0]], [[1, 0]], [[1, 0], [0, 2]], [[2, 0]], [[2, 0], [0, 4]], [[2, 0], [1, 2]], [[2, 0], [1, 2], [0, 6]], [[3, 0]]]
  const cr = new CompactRange()
  for (let s = 0; s <= 8; s++) {
    if (s > 0) cr.append(leafHash(fromHex(RFC6962_INPUTS[s - 1]!)))
    assert.equal(cr.nodes().map((n) => toHex(n.hash)), expected[s]!.map(([l, i]) => RFC6962_NODES[l]![i]))
    assert.is(toHex(cr.root()), RFC6962_ROOTS[s])
  }
})

test('subtreesOfRange: maximal aligned complete subtrees that tile the range', () => {
  assert.equal(subtreesOfRange(0, 0), [])
  assert.equal(subtreesOfRange(0, 7), [{ level: 2, index: 0 }, { level: 1, index: 2 }, { level: 0, index: 6 }])
  assert.equal(subtreesOfRange(3, 13), [{ level: 0, index: 3 }, { level: 2, index: 1 }, { level: 2, index: 2 }, { level: 0, index: 12 }])
  const r = prng(1)
  for (let k = 0; k < 500; k++) {
    const a = r(5000)
    const b = a + r(5000)
    let at = a
    for (const n of subtreesOfRange(a, b)) {
      const w = 2 ** n.level
      assert.is(n.index * w, at, 'contiguous and aligned')
      // maximal: the parent is not inside the range
      const parentStart = Math.floor(n.index / 2) * 2 * w
      assert.ok(parentStart < a || parentStart + 2 * w > b, 'maximal')
      at += w
    }
    assert.is(at, b)
  }
  throwsCode(() => subtreesOfRange(5, 4), 'OUT_OF_RANGE')
  throwsCode(() => subtreesOfRange(-1, 4), 'OUT_OF_RANGE')
})

const BIG = 1100
const tree = new MerkleTree()
for (let i = 0; i < BIG; i++) tree.append(leafFor(i))
const roots = Array.from({ length: BIG + 1 }, (_, s) => tree.root(s))

test('MerkleTree: roots agree with CompactRange and with the RFC recursion', () => {
  const mth = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return leafFor(lo)
    let k = 1
    while (k * 2 < hi - lo) k *= 2
    return nodeHash(mth(lo, lo + k), mth(lo + k, hi))
  }
  const cr = new CompactRange()
  for (let s = 0; s <= BIG; s++) {
    if (s > 0) cr.append(leafFor(s - 1))
    assert.equal(cr.root(), roots[s], `compact root ${s}`)
    if (s > 0 && (s < 70 || s % 97 === 0)) assert.equal(mth(0, s), roots[s], `recursive root ${s}`)
  }
})

test('property: inclusion proofs verify and every corruption fails', () => {
  const r = prng(2)
  for (let k = 0; k < 600; k++) {
    const size = 1 + r(BIG)
    const index = k % 5 === 0 ? size - 1 : k % 7 === 0 ? 0 : r(size)
    const proof = tree.inclusionProof(index, size)
    const leaf = leafFor(index)
    verifyInclusion(leaf, index, size, proof, roots[size]!)
    // async-store style: fetch the plan's hashes, then assemble
    const plan = inclusionProofPlan(index, size)
    assert.equal(assembleProof(plan, plan.map((el) => el.map((n) => tree.nodeHash(n.level, n.index)))), proof)
    assert.ok(planNodes(plan).length >= proof.length)
    // one flipped byte anywhere
    for (let i = 0; i < proof.length; i++) {
      const bad = proof.slice()
      bad[i] = flipped(proof[i]!, r(32), 1 << r(8))
      throwsCode(() => verifyInclusion(leaf, index, size, bad, roots[size]!), 'BAD_PROOF', `flip proof[${i}] ${index}/${size}`)
    }
    throwsCode(() => verifyInclusion(flipped(leaf, r(32)), index, size, proof, roots[size]!), 'BAD_PROOF', 'flip leaf')
    throwsCode(() => verifyInclusion(leaf, index, size, proof, flipped(roots[size]!, r(32))), 'BAD_PROOF', 'flip root')
    // truncated, extended, reordered
    if (proof.length > 0) throwsCode(() => verifyInclusion(leaf, index, size, proof.slice(0, -1), roots[size]!), 'BAD_PROOF')
    throwsCode(() => verifyInclusion(leaf, index, size, [...proof, roots[size]!], roots[size]!), 'BAD_PROOF')
    throwsCode(() => verifyInclusion(leaf, index, size, [leaf, ...proof], roots[size]!), 'BAD_PROOF')
    if (proof.length > 1) throwsCode(() => verifyInclusion(leaf, index, size, [proof[1]!, proof[0]!, ...proof.slice(2)], roots[size]!), 'BAD_PROOF')
    // another position, with that position's real leaf: a proof names exactly one position
    for (const other of [index - 1, index + 1, index ^ 2]) {
      if (other < 0 || other >= size || other === index) continue
      assert.ok(fails(() => verifyInclusion(leafFor(other), other, size, proof, roots[size]!)), `index ${other} instead of ${index}`)
      assert.ok(fails(() => verifyInclusion(leaf, other, size, proof, roots[size]!)), `same leaf at index ${other}`)
    }
    // another size with that size's real root: only a proof that is also honest for it may pass
    for (const other of [size - 1, size + 1, size * 2, Math.floor(size / 2)]) {
      if (other <= index || other > BIG || other === size) continue
      if (!fails(() => verifyInclusion(leaf, index, other, proof, roots[other]!))) {
        assert.equal(proof, tree.inclusionProof(index, other), `size ${other} instead of ${size}`)
      }
    }
    throwsCode(() => verifyInclusion(leaf, size, size, proof, roots[size]!), 'OUT_OF_RANGE')
  }
})

test('inclusion: every byte of every proof hash matters (exhaustive on a few proofs)', () => {
  for (const [index, size] of [[0, 1000], [999, 1000], [513, 777], [6, 7]] as const) {
    const proof = tree.inclusionProof(index, size)
    for (let i = 0; i < proof.length; i++) {
      for (let b = 0; b < 32; b++) {
        const bad = proof.slice()
        bad[i] = flipped(proof[i]!, b, 0x80)
        throwsCode(() => verifyInclusion(leafFor(index), index, size, bad, roots[size]!), 'BAD_PROOF')
      }
    }
  }
})

test('property: consistency proofs verify and every corruption fails', () => {
  const r = prng(3)
  for (let k = 0; k < 600; k++) {
    const n = r(BIG + 1)
    const m = k % 9 === 0 ? 0 : k % 11 === 0 ? n : r(n + 1)
    const proof = tree.consistencyProof(m, n)
    verifyConsistency(m, n, roots[m]!, roots[n]!, proof)
    const plan = consistencyProofPlan(m, n)
    assert.equal(assembleProof(plan, plan.map((el) => el.map((x) => tree.nodeHash(x.level, x.index)))), proof)
    if (m === 0 || m === n) {
      assert.equal(proof, [])
      throwsCode(() => verifyConsistency(m, n, roots[m]!, roots[n]!, [roots[m]!]), 'INCONSISTENT_CHECKPOINT')
      if (m === n && n > 0) throwsCode(() => verifyConsistency(m, n, roots[m]!, flipped(roots[n]!, r(32)), []), 'INCONSISTENT_CHECKPOINT')
      continue
    }
    for (let i = 0; i < proof.length; i++) {
      const bad = proof.slice()
      bad[i] = flipped(proof[i]!, r(32), 1 << r(8))
      throwsCode(() => verifyConsistency(m, n, roots[m]!, roots[n]!, bad), 'INCONSISTENT_CHECKPOINT', `flip proof[${i}] ${m}->${n}`)
    }
    throwsCode(() => verifyConsistency(m, n, flipped(roots[m]!, r(32)), roots[n]!, proof), 'INCONSISTENT_CHECKPOINT', 'flip old root')
    throwsCode(() => verifyConsistency(m, n, roots[m]!, flipped(roots[n]!, r(32)), proof), 'INCONSISTENT_CHECKPOINT', 'flip new root')
    throwsCode(() => verifyConsistency(m, n, roots[n]!, roots[m]!, proof), 'INCONSISTENT_CHECKPOINT', 'swapped roots')
    throwsCode(() => verifyConsistency(m, n, roots[m]!, roots[n]!, []), 'INCONSISTENT_CHECKPOINT', 'empty proof')
    throwsCode(() => verifyConsistency(m, n, roots[m]!, roots[n]!, proof.slice(0, -1)), 'INCONSISTENT_CHECKPOINT', 'truncated')
    throwsCode(() => verifyConsistency(m, n, roots[m]!, roots[n]!, [...proof, roots[n]!]), 'INCONSISTENT_CHECKPOINT', 'extended')
    throwsCode(() => verifyConsistency(m, n, roots[m]!, roots[n]!, [proof[0]!, ...proof]), 'INCONSISTENT_CHECKPOINT', 'prefixed')
    // other sizes with their real roots: only a proof that is also honest for them may pass
    for (const [m2, n2] of [[m - 1, n], [m + 1, n], [m, n - 1], [m, n + 1], [m ^ 2, n], [m, n * 2]] as const) {
      if (m2 < 1 || m2 >= n2 || n2 > BIG || (m2 === m && n2 === n)) continue
      if (!fails(() => verifyConsistency(m2, n2, roots[m2]!, roots[n2]!, proof))) {
        assert.equal(proof, tree.consistencyProof(m2, n2), `${m2}->${n2} instead of ${m}->${n}`)
      }
    }
  }
})

test('consistency: edge rules for empty and equal trees', () => {
  const a = roots[5]!
  const b = roots[6]!
  verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
  verifyConsistency(0, 6, EMPTY_ROOT, b, [])
  verifyConsistency(5, 5, a, a, [])
  throwsCode(() => verifyConsistency(0, 6, a, b, []), 'INCONSISTENT_CHECKPOINT', 'empty tree must have the empty root')
  throwsCode(() => verifyConsistency(0, 0, a, a, []), 'INCONSISTENT_CHECKPOINT')
  throwsCode(() => verifyConsistency(0, 6, EMPTY_ROOT, b, [EMPTY_ROOT]), 'INCONSISTENT_CHECKPOINT')
  throwsCode(() => verifyConsistency(5, 5, a, b, []), 'INCONSISTENT_CHECKPOINT')
  throwsCode(() => verifyConsistency(5, 5, a, a, [a]), 'INCONSISTENT_CHECKPOINT')
  throwsCode(() => verifyConsistency(6, 5, b, a, []), 'OUT_OF_RANGE')
  throwsCode(() => verifyConsistency(1, 2, a, b, []), 'INCONSISTENT_CHECKPOINT')
})

test('input validation: sizes, hash lengths, proof length cap', () => {
  const leaf = leafFor(0)
  const root = roots[1]!
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    throwsCode(() => verifyInclusion(leaf, 0, bad, [], root), 'OUT_OF_RANGE', `size ${bad}`)
    throwsCode(() => verifyInclusion(leaf, bad, 10, [], root), 'OUT_OF_RANGE', `index ${bad}`)
    throwsCode(() => verifyConsistency(bad, 10, root, root, []), 'OUT_OF_RANGE', `old ${bad}`)
    throwsCode(() => inclusionProofPlan(0, bad), 'OUT_OF_RANGE')
  }
  throwsCode(() => verifyInclusion(leaf, 0, 0, [], EMPTY_ROOT), 'OUT_OF_RANGE')
  throwsCode(() => verifyInclusion(leaf.subarray(1), 0, 1, [], root), 'BAD_PROOF')
  throwsCode(() => verifyInclusion(leaf, 0, 1, [], root.subarray(1)), 'BAD_PROOF')
  throwsCode(() => verifyInclusion(leaf, 0, 1, [], new Uint8Array(0)), 'BAD_PROOF')
  const proof = tree.inclusionProof(3, 1000)
  throwsCode(() => verifyInclusion(leafFor(3), 3, 1000, [...proof.slice(1), new Uint8Array(33)], roots[1000]!), 'BAD_PROOF')
  throwsCode(() => verifyInclusion(leafFor(3), 3, 1000, Array(MAX_PROOF_HASHES + 1).fill(root), roots[1000]!), 'BAD_PROOF')
  const cproof = tree.consistencyProof(3, 1000)
  throwsCode(() => verifyConsistency(3, 1000, roots[3]!, roots[1000]!, [...cproof.slice(1), new Uint8Array(31)]), 'BAD_PROOF')
  throwsCode(() => verifyConsistency(3, 1000, roots[3]!, roots[1000]!, Array(MAX_PROOF_HASHES + 1).fill(root)), 'BAD_PROOF')
  throwsCode(() => tree.nodeHash(1, 550), 'OUT_OF_RANGE')
  throwsCode(() => tree.root(BIG + 1), 'OUT_OF_RANGE')
  throwsCode(() => tree.inclusionProof(0, BIG + 1), 'OUT_OF_RANGE')
  throwsCode(() => tree.append(new Uint8Array(31)), 'BAD_FIELD')
  throwsCode(() => assembleProof(inclusionProofPlan(3, 10), [[]]), 'BAD_PROOF')
})

test('huge trees: plans stay short and proofs verify near 2^53 (uniform-leaf tree)', () => {
  // In a tree whose leaves are all equal, the subtree hash depends only on its level.
  const byLevel = [leafFor(42)]
  for (let l = 1; l <= 53; l++) byLevel.push(nodeHash(byLevel[l - 1]!, byLevel[l - 1]!))
  const at = (level: number): Uint8Array => byLevel[level]!
  const max = Number.MAX_SAFE_INTEGER
  for (const [index, size] of [[0, max], [max - 1, max], [2 ** 52, 2 ** 52 + 1], [123456789012345, 2 ** 50 + 3]] as const) {
    const proof = inclusionProof(index, size, at)
    assert.ok(proof.length <= 53)
    verifyInclusion(byLevel[0]!, index, size, proof, rootAt(size, at))
    throwsCode(() => verifyInclusion(byLevel[0]!, index, size, [flipped(proof[0]!, 7), ...proof.slice(1)], rootAt(size, at)), 'BAD_PROOF')
  }
  for (const [m, n] of [[1, max], [2 ** 52 + 1, max], [max - 1, max], [2 ** 40 - 1, 2 ** 41 + 5]] as const) {
    const proof = consistencyProof(m, n, at)
    assert.ok(proof.length <= MAX_PROOF_HASHES)
    verifyConsistency(m, n, rootAt(m, at), rootAt(n, at), proof)
  }
})

test('CompactRange: from stored subtrees, append reports every new node, merge', () => {
  const r = prng(4)
  for (let k = 0; k < 200; k++) {
    const begin = r(600)
    const mid = begin + r(300)
    const end = mid + r(200)
    const nodesOf = (a: number, b: number): Uint8Array[] => subtreesOfRange(a, b).map((n) => tree.nodeHash(n.level, n.index))
    const cr = new CompactRange(begin, mid, nodesOf(begin, mid))
    const seen: string[] = []
    for (let i = mid; i < end; i++) {
      cr.append(leafFor(i), (level, index, hash) => {
        assert.equal(hash, tree.nodeHash(level, index), `node ${level}/${index}`)
        seen.push(`${level}/${index}`)
      })
    }
    assert.is(cr.end, end)
    assert.equal(cr.nodes().map(({ level, index }) => ({ level, index })), subtreesOfRange(begin, end))
    assert.equal(cr.nodes().map((n) => n.hash), nodesOf(begin, end))
    // every complete subtree that ends in (mid, end] and starts at or after begin was reported
    let expected = 0
    for (let level = 0; 2 ** level <= end - begin; level++) {
      for (let index = Math.ceil(begin / 2 ** level); (index + 1) * 2 ** level <= end; index++) {
        if ((index + 1) * 2 ** level > mid) expected++
      }
    }
    assert.is(seen.length, expected)
    if (begin === 0) assert.equal(cr.root(), roots[end])
    else throwsCode(() => cr.root(), 'OUT_OF_RANGE')
    const left = new CompactRange(begin, mid, nodesOf(begin, mid))
    left.merge(new CompactRange(mid, end, nodesOf(mid, end)))
    assert.equal(left.nodes(), cr.nodes())
  }
  throwsCode(() => new CompactRange(0, 3, [leafFor(0)]), 'BAD_FIELD')
  throwsCode(() => new CompactRange(5, 5).merge(new CompactRange(6, 6)), 'OUT_OF_RANGE')
})

test('large tree (70,000 leaves): compact range, proofs across tile-sized boundaries', () => {
  const big = new MerkleTree()
  const cr = new CompactRange()
  const N = 70000
  const bigLeaf = (i: number): Uint8Array => sha256(utf8(`big-${i}`))
  const checkpoints = new Map<number, Uint8Array>()
  const marks = new Set([1, 255, 256, 257, 65535, 65536, 65537, 69999, N])
  for (let i = 0; i < N; i++) {
    big.append(bigLeaf(i))
    cr.append(bigLeaf(i))
    if (marks.has(i + 1)) checkpoints.set(i + 1, cr.root())
  }
  for (const [s, root] of checkpoints) assert.equal(big.root(s), root, `root ${s}`)
  const r = prng(5)
  const sizes = [...checkpoints.keys()]
  for (let k = 0; k < 100; k++) {
    const n = sizes[r(sizes.length)]!
    const m = sizes[r(sizes.length)]!
    const [a, b] = m <= n ? [m, n] : [n, m]
    verifyConsistency(a, b, checkpoints.get(a)!, checkpoints.get(b)!, big.consistencyProof(a, b))
    const index = r(b)
    verifyInclusion(bigLeaf(index), index, b, big.inclusionProof(index, b), checkpoints.get(b)!)
  }
})

test.run()
