/**
 * Merkle tree structures in memory: MerkleTree keeps every complete-subtree
 * hash (tests, vectors, the demo); CompactRange keeps only the O(log n) hashes
 * of a range's frontier (sync and clients checking a range against a root).
 */
import { LedgerError } from './errors.ts'
import { HASH_SIZE, nodeHash } from './hash.ts'
import { checkHash, checkSize, isOdd } from './merkle-input.ts'
import { subtreesOfRange, foldSubtrees, inclusionProof, consistencyProof, rootAt, type NodeRef, type NodeHashAt } from './merkle.ts'

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
