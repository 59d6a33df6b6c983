/** Input checks and small integer helpers shared by protocol/merkle.ts and protocol/merkle-tree.ts. */
import { LedgerError, type ErrorCode } from './errors.ts'
import { HASH_SIZE } from './hash.ts'
import { MAX_PROOF_HASHES } from './merkle.ts'
// ---------------------------------------------------------------------------
// Input checks

export function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new LedgerError('OUT_OF_RANGE', `${what} must be a non-negative integer below 2^53, got ${String(n)}`)
  }
}

export function checkHash(h: Uint8Array, what: string, code: ErrorCode): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    throw new LedgerError(code, `${what} must be a ${HASH_SIZE}-byte hash`)
  }
}

export function checkProof(proof: Uint8Array[], code: ErrorCode): void {
  if (!Array.isArray(proof)) throw new LedgerError(code, 'proof must be a list of hashes')
  if (proof.length > MAX_PROOF_HASHES) {
    throw new LedgerError(code, `proof has ${proof.length} hashes; at most ${MAX_PROOF_HASHES} are allowed`)
  }
  proof.forEach((h, i) => checkHash(h, `proof hash ${i}`, code))
}

export const half = (x: number): number => Math.floor(x / 2)
export const isOdd = (x: number): boolean => x % 2 === 1

/** Largest power of two strictly below n (n >= 2): the RFC 9162 split point k. */
export function splitPoint(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

export function isPowerOfTwo(n: number): boolean {
  return n > 0 && splitPoint(n + 1) === n
}

