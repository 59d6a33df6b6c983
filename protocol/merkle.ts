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
import { LedgerError, type ErrorCode } from './errors.ts'
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from './hash.ts'

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
// Input checks

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new LedgerError('OUT_OF_RANGE', `${what} must be a non-negative integer below 2^53, got ${String(n)}`)
  }
}

function checkHash(h: Uint8Array, what: string, code: ErrorCode): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    throw new LedgerError(code, `${what} must be a ${HASH_SIZE}-byte hash`)
  }
}

function checkProof(proof: Uint8Array[], code: ErrorCode): void {
  if (!Array.isArray(proof)) throw new LedgerError(code, 'proof must be a list of hashes')
  if (proof.length > MAX_PROOF_HASHES) {
    throw new LedgerError(code, `proof has ${proof.length} hashes; at most ${MAX_PROOF_HASHES} are allowed`)
  }
  proof.forEach((h, i) => checkHash(h, `proof hash ${i}`, code))
}

const half = (x: number): number => Math.floor(x / 2)
const isOdd = (x: number): boolean => x % 2 === 1

/** Largest power of two strictly below n (n >= 2): the RFC 9162 split point k. */
function splitPoint(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && splitPoint(n + 1) === n
}

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

// ---------------------------------------------------------------------------
// In-memory tree

/**
 * Every complete-subtree hash of a tree, one growable byte array per level
 * (level h holds floor(size / 2^h) hashes). For tests, vectors and the demo;
 * the node's store keeps the same hashes on disk.
 */
export class MerkleTree {
  #levels: Uint8Array[] = []
  #size = 0

  static from(leafHashes: Iterable<Uint8Array>): MerkleTree {
    const t = new MerkleTree()
    for (const h of leafHashes) t.append(h)
    return t
  }

  get size(): number {
    return this.#size
  }

  append(leafHash: Uint8Array): void {
    checkHash(leafHash, 'leaf hash', 'BAD_FIELD')
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new LedgerError('OUT_OF_RANGE', 'tree is full')
    let level = 0
    let index = this.#size
    let hash = leafHash
    this.#write(level, index, hash)
    while (isOdd(index)) {
      hash = nodeHash(this.#read(level, index - 1), hash)
      level++
      index = (index - 1) / 2
      this.#write(level, index, hash)
    }
    this.#size++
  }

  /** Hash of the complete subtree at (level, index); it must lie inside the tree. */
  nodeHash(level: number, index: number): Uint8Array {
    checkSize(level, 'level')
    checkSize(index, 'index')
    if (level > 53 || (index + 1) * 2 ** level > this.#size) {
      throw new LedgerError('OUT_OF_RANGE', `subtree (level ${level}, index ${index}) is not complete in a tree of size ${this.#size}`)
    }
    return this.#read(level, index).slice()
  }

  root(size = this.#size): Uint8Array {
    this.#checkWithin(size)
    return rootAt(size, this.#at)
  }

  inclusionProof(index: number, size = this.#size): Uint8Array[] {
    this.#checkWithin(size)
    return inclusionProof(index, size, this.#at)
  }

  consistencyProof(oldSize: number, newSize = this.#size): Uint8Array[] {
    this.#checkWithin(newSize)
    return consistencyProof(oldSize, newSize, this.#at)
  }

  #at: NodeHashAt = (level, index) => this.nodeHash(level, index)

  #checkWithin(size: number): void {
    checkSize(size, 'tree size')
    if (size > this.#size) throw new LedgerError('OUT_OF_RANGE', `tree size ${size} is beyond the ${this.#size} leaves held`)
  }

  #read(level: number, index: number): Uint8Array {
    return this.#levels[level]!.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE)
  }

  #write(level: number, index: number, hash: Uint8Array): void {
    let buf = this.#levels[level]
    const need = (index + 1) * HASH_SIZE
    if (!buf || buf.length < need) {
      const grown = new Uint8Array(Math.max(need, (buf?.length ?? 0) * 2, 16 * HASH_SIZE))
      if (buf) grown.set(buf)
      this.#levels[level] = buf = grown
    }
    buf.set(hash, index * HASH_SIZE)
  }
}

// ---------------------------------------------------------------------------
// Compact range

/**
 * The O(log n) hashes of the maximal complete subtrees of [begin, end). Append
 * leaf hashes to extend it; with begin = 0 its root() is the tree root. Sync
 * starts one from the stored subtrees of [0, m) (`subtreesOfRange(0, m)`),
 * appends the downloaded leaves and compares root() with the checkpoint's.
 */
export class CompactRange {
  #begin: number
  #end: number
  #nodes: NodeRef[]
  #hashes: Uint8Array[]

  /** `hashes` are those of subtreesOfRange(begin, end), left to right. */
  constructor(begin = 0, end = begin, hashes: Uint8Array[] = []) {
    this.#nodes = subtreesOfRange(begin, end)
    if (!Array.isArray(hashes) || hashes.length !== this.#nodes.length) {
      throw new LedgerError('BAD_FIELD', `range [${begin}, ${end}) needs ${this.#nodes.length} subtree hashes`)
    }
    hashes.forEach((h, i) => checkHash(h, `subtree hash ${i}`, 'BAD_FIELD'))
    this.#begin = begin
    this.#end = end
    this.#hashes = hashes.map((h) => h.slice())
  }

  get begin(): number {
    return this.#begin
  }

  get end(): number {
    return this.#end
  }

  /** The subtrees and their hashes, left to right (copies). */
  nodes(): Array<NodeRef & { hash: Uint8Array }> {
    return this.#nodes.map((n, i) => ({ ...n, hash: this.#hashes[i]!.slice() }))
  }

  /**
   * Appends the leaf at index `end`. `onNode` sees every subtree this completes,
   * the leaf itself first, so a store can persist each new node hash.
   */
  append(leafHash: Uint8Array, onNode?: (level: number, index: number, hash: Uint8Array) => void): void {
    checkHash(leafHash, 'leaf hash', 'BAD_FIELD')
    if (this.#end >= Number.MAX_SAFE_INTEGER) throw new LedgerError('OUT_OF_RANGE', 'range is full')
    this.#push({ level: 0, index: this.#end }, leafHash.slice(), onNode)
    this.#end++
  }

  /** Appends another range that starts where this one ends. */
  merge(other: CompactRange): void {
    if (other.begin !== this.#end) {
      throw new LedgerError('OUT_OF_RANGE', `cannot merge range starting at ${other.begin} onto range ending at ${this.#end}`)
    }
    for (const { hash, ...node } of other.nodes()) this.#push(node, hash)
    this.#end = other.end
  }

  /** Merkle tree root of leaves [0, end); only defined for ranges starting at 0. */
  root(): Uint8Array {
    if (this.#begin !== 0) throw new LedgerError('OUT_OF_RANGE', `a range starting at ${this.#begin} has no tree root`)
    return foldSubtrees(this.#hashes)
  }

  #push(node: NodeRef, hash: Uint8Array, onNode?: (level: number, index: number, hash: Uint8Array) => void): void {
    onNode?.(node.level, node.index, hash)
    for (;;) {
      const n = this.#nodes.length
      const prev = this.#nodes[n - 1]
      if (!prev || prev.level !== node.level || !isOdd(node.index)) break
      hash = nodeHash(this.#hashes[n - 1]!, hash)
      node = { level: node.level + 1, index: prev.index / 2 }
      this.#nodes.pop()
      this.#hashes.pop()
      onNode?.(node.level, node.index, hash)
    }
    this.#nodes.push(node)
    this.#hashes.push(hash)
  }
}
