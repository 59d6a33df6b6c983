/**
 * spec/vectors/trees/: RFC 9162 Merkle trees with their roots, inclusion and
 * consistency proofs. Entry i of every tree is the UTF-8 bytes of
 * `cairn-tree-vector-<i>` (decimal i), so tree n is a prefix of every larger
 * tree. Small trees list every (index, size) and (old, new) pair; large ones a
 * deterministic spread: the edges, both sides of every power of two, and
 * pairs picked by SHA-256("cairn-tree-vector-pick/<n>/<kind>/<k>").
 */
import { sha256, toHex, utf8 } from '../../protocol/bytes.ts'
import { leafHash } from '../../protocol/hash.ts'
import { MerkleTree } from '../../protocol/merkle.ts'
import type { VectorCase } from './seeds.ts'

export const TREE_SIZES = [0, 1, 2, 3, 7, 8, 255, 256, 257, 1000]
const ALL_PAIRS_UP_TO = 8
const SPREAD = 50

export function treeEntry(i: number): Uint8Array {
  return utf8(`cairn-tree-vector-${i}`)
}

function pick(n: number, kind: string, k: number, below: number): number {
  const h = sha256(utf8(`cairn-tree-vector-pick/${n}/${kind}/${k}`))
  return (((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0) % below
}

function powersOfTwoUpTo(n: number): number[] {
  const out: number[] = []
  for (let p = 1; p <= n; p *= 2) out.push(p)
  return out
}

/** Sorted, distinct [a, b] pairs. */
function sortedPairs(pairs: Map<string, [number, number]>): Array<[number, number]> {
  return [...pairs.values()].sort((x, y) => x[1] - y[1] || x[0] - y[0])
}

/** (index, size) pairs with index < size <= n. */
function inclusionPairs(n: number): Array<[number, number]> {
  const out = new Map<string, [number, number]>()
  const add = (index: number, size: number): void => {
    if (index >= 0 && index < size && size <= n) out.set(`${index}/${size}`, [index, size])
  }
  if (n <= ALL_PAIRS_UP_TO) {
    for (let size = 1; size <= n; size++) for (let index = 0; index < size; index++) add(index, size)
    return sortedPairs(out)
  }
  add(0, 1)
  add(0, n)
  add(n - 1, n)
  add(n - 2, n - 1)
  for (const p of powersOfTwoUpTo(n)) {
    add(p - 1, n)
    add(p, n)
    add(p - 1, p)
    add(p, p + 1)
  }
  for (let k = 0; out.size < SPREAD; k++) {
    const size = 1 + pick(n, 'inclusion-size', k, n)
    add(pick(n, 'inclusion-index', k, size), size)
  }
  return sortedPairs(out)
}

/** (old, new) pairs with 0 <= old <= new <= n. */
function consistencyPairs(n: number): Array<[number, number]> {
  const out = new Map<string, [number, number]>()
  const add = (m: number, k: number): void => {
    if (m >= 0 && m <= k && k <= n) out.set(`${m}/${k}`, [m, k])
  }
  if (n <= ALL_PAIRS_UP_TO) {
    for (let k = 0; k <= n; k++) for (let m = 0; m <= k; m++) add(m, k)
    return sortedPairs(out)
  }
  add(0, 0)
  add(0, n)
  add(n, n)
  add(1, n)
  add(n - 1, n)
  add(1, 2)
  for (const p of powersOfTwoUpTo(n)) {
    add(p, n)
    add(p - 1, n)
    add(p + 1, n)
    add(p, p + 1)
  }
  for (let k = 0; out.size < SPREAD; k++) {
    const size = pick(n, 'consistency-new', k, n + 1)
    add(pick(n, 'consistency-old', k, size + 1), size)
  }
  return sortedPairs(out)
}

export function treeCases(): VectorCase[] {
  const entries = Array.from({ length: Math.max(...TREE_SIZES) }, (_, i) => treeEntry(i))
  const tree = MerkleTree.from(entries.map((e) => leafHash(e)))
  return TREE_SIZES.map((n) => ({
    name: `tree-size-${String(n).padStart(4, '0')}`,
    data: {
      entries: entries.slice(0, n).map((e) => toHex(e)),
      root: toHex(tree.root(n)),
      inclusion: inclusionPairs(n).map(([index, size]) => ({ index, size, proof: tree.inclusionProof(index, size).map((h) => toHex(h)) })),
      consistency: consistencyPairs(n).map(([old, size]) => ({ old, new: size, proof: tree.consistencyProof(old, size).map((h) => toHex(h)) })),
    },
  }))
}
