/**
 * RFC 9162 §2.1 Merkle trees: proof verification, proof construction from
 * complete-subtree hashes, an in-memory tree and a compact range.
 *
 * A store never needs to hold the tree in memory: every hash a root or a proof
 * is made of is the hash of a *complete* subtree, named `{level, index}`
 * (height, and position at that height; it covers leaves
 * [index·2^level, (index+1)·2^level)). The `*Plan` functions list the nodes a
 * proof needs so an async store can fetch them all first, then call
 * `assembleProof`. Sizes are JS safe integers (< 2^53), so all arithmetic here
 * uses division, never 32-bit bit operators.
 */
import { equalBytes } from './bytes.ts'
import { LedgerError } from './errors.ts'
import { checkSize, checkHash, checkProof, half, isOdd, splitPoint, isPowerOfTwo } from './merkle-input.ts'
import { EMPTY_ROOT, nodeHash } from './hash.ts'

/** Longest proof accepted; trees below 2^53 leaves never need more than 54 hashes. */
export const MAX_PROOF_HASHES = 64

/** A complete subtree: height `level`, `index`-th at that height. */
export interface NodeRef {
  level: number
  index: number
}

/** Returns the hash of the complete subtree at (level, index). */
export type NodeHashAt = (level: number, index: number) => Uint8Array

/** One entry per proof hash: the complete subtrees it is the Merkle hash of, left to right. */
export type ProofPlan = NodeRef[][]

// ---------------------------------------------------------------------------
// Verification (RFC 9162 §2.1.3.2 and §2.1.4.2)

/**
 * Checks that `leafHash` is the leaf at `index` of the tree of `size` leaves
 * with root `root`. Throws OUT_OF_RANGE when index >= size, BAD_PROOF otherwise.
 */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: Uint8Array[], root: Uint8Array): void {
  checkSize(index, 'leaf index')
  checkSize(size, 'tree size')
  if (index >= size) throw new LedgerError('OUT_OF_RANGE', `leaf index ${index} is not in a tree of size ${size}`)
  checkHash(leafHash, 'leaf hash', 'BAD_PROOF')
  checkHash(root, 'root hash', 'BAD_PROOF')
  checkProof(proof, 'BAD_PROOF')
  let fn = index
  let sn = size - 1
  let r = leafHash
  for (const p of proof) {
    if (sn === 0) throw new LedgerError('BAD_PROOF', `inclusion proof is longer than a tree of size ${size} needs`)
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r)
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn)
        sn = half(sn)
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = half(fn)
    sn = half(sn)
  }
  if (sn !== 0) throw new LedgerError('BAD_PROOF', `inclusion proof is shorter than a tree of size ${size} needs`)
  if (!equalBytes(r, root)) throw new LedgerError('BAD_PROOF', `inclusion proof for leaf ${index} does not lead to the tree root`)
}

/**
 * Checks that the tree (newSize, newRoot) extends (oldSize, oldRoot).
 * Throws INCONSISTENT_CHECKPOINT when the proof does not verify, OUT_OF_RANGE
 * when oldSize > newSize, BAD_PROOF when a proof hash is malformed. The empty
 * tree (whose root must be EMPTY_ROOT) is a prefix of every tree, with an empty proof.
 */
export function verifyConsistency(oldSize: number, newSize: number, oldRoot: Uint8Array, newRoot: Uint8Array, proof: Uint8Array[]): void {
  checkSize(oldSize, 'old tree size')
  checkSize(newSize, 'new tree size')
  if (oldSize > newSize) throw new LedgerError('OUT_OF_RANGE', `old tree size ${oldSize} is larger than new tree size ${newSize}`)
  checkHash(oldRoot, 'old root hash', 'BAD_PROOF')
  checkHash(newRoot, 'new root hash', 'BAD_PROOF')
  checkProof(proof, 'BAD_PROOF')
  const fail = (why: string): never => {
    throw new LedgerError('INCONSISTENT_CHECKPOINT', `tree of size ${newSize} is not shown to extend tree of size ${oldSize}: ${why}`)
  }
  if (oldSize === newSize) {
    if (proof.length !== 0) fail('a proof between equal sizes must be empty')
    if (!equalBytes(oldRoot, newRoot)) fail('same size, different roots')
    if (oldSize === 0 && !equalBytes(oldRoot, EMPTY_ROOT)) fail('the root of the empty tree must be SHA-256 of nothing')
    return
  }
  if (oldSize === 0) {
    if (proof.length !== 0) fail('a proof from the empty tree must be empty')
    if (!equalBytes(oldRoot, EMPTY_ROOT)) fail('the root of the empty tree must be SHA-256 of nothing')
    return
  }
  if (proof.length === 0) fail('the proof is empty')
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof
  let fn = oldSize - 1
  let sn = newSize - 1
  while (isOdd(fn)) {
    fn = half(fn)
    sn = half(sn)
  }
  let fr = path[0]!
  let sr = path[0]!
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!
    if (sn === 0) fail('the proof is too long')
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn)
        sn = half(sn)
      }
    } else {
      sr = nodeHash(sr, c)
    }
    fn = half(fn)
    sn = half(sn)
  }
  if (sn !== 0) fail('the proof is too short')
  if (!equalBytes(fr, oldRoot)) fail('the proof does not lead to the old root')
  if (!equalBytes(sr, newRoot)) fail('the proof does not lead to the new root')
}

// ---------------------------------------------------------------------------
// Plans: which complete subtrees a root or proof is made of

/** Decomposes [start, end) into maximal aligned complete subtrees, left to right. */
export function subtreesOfRange(start: number, end: number): NodeRef[] {
  checkSize(start, 'range start')
  checkSize(end, 'range end')
  if (start > end) throw new LedgerError('OUT_OF_RANGE', `range start ${start} is after range end ${end}`)
  const out: NodeRef[] = []
  while (start < end) {
    let level = 0
    let width = 1
    while (start % (width * 2) === 0 && start + width * 2 <= end) {
      width *= 2
      level++
    }
    out.push({ level, index: start / width })
    start += width
  }
  return out
}

/** Merkle hash of a range from its subtrees' hashes (as listed by subtreesOfRange). */
export function foldSubtrees(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return EMPTY_ROOT.slice()
  let h = hashes[hashes.length - 1]!
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i]!, h)
  return h
}

/** RFC 9162 §2.1.3.1 PATH(index, D[0:size]), leaf side first. */
export function inclusionProofPlan(index: number, size: number): ProofPlan {
  checkSize(index, 'leaf index')
  checkSize(size, 'tree size')
  if (index >= size) throw new LedgerError('OUT_OF_RANGE', `leaf index ${index} is not in a tree of size ${size}`)
  const ranges: Array<[number, number]> = []
  let lo = 0
  let n = size
  let m = index
  while (n > 1) {
    const k = splitPoint(n)
    if (m < k) {
      ranges.push([lo + k, lo + n])
      n = k
    } else {
      ranges.push([lo, lo + k])
      lo += k
      m -= k
      n -= k
    }
  }
  return ranges.reverse().map(([a, b]) => subtreesOfRange(a, b))
}

/** RFC 9162 §2.1.4.1 PROOF(oldSize, D[0:newSize]); empty when oldSize is 0 or equal to newSize. */
export function consistencyProofPlan(oldSize: number, newSize: number): ProofPlan {
  checkSize(oldSize, 'old tree size')
  checkSize(newSize, 'new tree size')
  if (oldSize > newSize) throw new LedgerError('OUT_OF_RANGE', `old tree size ${oldSize} is larger than new tree size ${newSize}`)
  if (oldSize === 0 || oldSize === newSize) return []
  const ranges: Array<[number, number]> = []
  let lo = 0
  let m = oldSize
  let n = newSize
  let complete = true // SUBPROOF's flag b: the old tree is a complete subtree of the current one
  for (;;) {
    if (m === n) {
      if (!complete) ranges.push([lo, lo + m])
      break
    }
    const k = splitPoint(n)
    if (m <= k) {
      ranges.push([lo + k, lo + n])
      n = k
    } else {
      ranges.push([lo, lo + k])
      lo += k
      m -= k
      n -= k
      complete = false
    }
  }
  return ranges.reverse().map(([a, b]) => subtreesOfRange(a, b))
}

/** Every distinct node a plan needs, in first-use order: what an async store should fetch. */
export function planNodes(plan: ProofPlan): NodeRef[] {
  const seen = new Set<string>()
  const out: NodeRef[] = []
  for (const el of plan) {
    for (const n of el) {
      const key = `${n.level}/${n.index}`
      if (!seen.has(key)) {
        seen.add(key)
        out.push(n)
      }
    }
  }
  return out
}

/**
 * Turns a plan into proof hashes. `hashes` is either a NodeHashAt or, for async
 * stores, the fetched hashes in the same shape as the plan.
 */
export function assembleProof(plan: ProofPlan, hashes: NodeHashAt | Uint8Array[][]): Uint8Array[] {
  return plan.map((el, i) => {
    const hs = typeof hashes === 'function' ? el.map((n) => hashes(n.level, n.index)) : hashes[i]
    if (!hs || hs.length !== el.length) throw new LedgerError('BAD_PROOF', `proof element ${i} needs ${el.length} subtree hashes`)
    hs.forEach((h) => checkHash(h, `subtree hash for proof element ${i}`, 'BAD_PROOF'))
    return foldSubtrees(hs)
  })
}

export function inclusionProof(index: number, size: number, nodeHashAt: NodeHashAt): Uint8Array[] {
  return assembleProof(inclusionProofPlan(index, size), nodeHashAt)
}

export function consistencyProof(oldSize: number, newSize: number, nodeHashAt: NodeHashAt): Uint8Array[] {
  return assembleProof(consistencyProofPlan(oldSize, newSize), nodeHashAt)
}

/** Root of the first `size` leaves. */
export function rootAt(size: number, nodeHashAt: NodeHashAt): Uint8Array {
  return foldSubtrees(subtreesOfRange(0, size).map((n) => nodeHashAt(n.level, n.index)))
}

export { MerkleTree, CompactRange } from './merkle-tree.ts'
