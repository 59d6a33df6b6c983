/** RFC 9162 §2.1.1 hashing: the only two hash functions of a cairn log. */
import { sha256 } from './bytes.ts'

export const HASH_SIZE = 32

const LEAF_PREFIX = new Uint8Array([0x00])
const NODE_PREFIX = new Uint8Array([0x01])

/** SHA-256(0x00 ‖ entry): the Merkle leaf and, for cairn entries, the record id. */
export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, entry)
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right)
}

const NODE_INPUT = new Uint8Array(1 + 2 * HASH_SIZE)
NODE_INPUT[0] = 0x01

/**
 * nodeHash of the two adjacent hashes at byte `from` of `src`, written into
 * `dst` at byte `to` (tile rows: no views of the two hashes).
 */
export function nodeHashInto(src: Uint8Array, from: number, dst: Uint8Array, to: number): void {
  for (let i = 0; i < 2 * HASH_SIZE; i++) NODE_INPUT[1 + i] = src[from + i]!
  dst.set(sha256(NODE_INPUT), to)
}

/** Root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256()
