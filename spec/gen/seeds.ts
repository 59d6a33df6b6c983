/** Deterministic key material for test vectors: seed = SHA-256("cairn/vectors/" ‖ label). */
import { sha256, utf8 } from '../../protocol/bytes.ts'
import { generateKeyPair, type KeyPair } from '../../protocol/ed25519.ts'

export function vectorSeed(label: string): Uint8Array {
  return sha256(utf8(`cairn/vectors/${label}`))
}

export function vectorKey(label: string): KeyPair {
  return generateKeyPair(vectorSeed(label))
}

/** Fixed instant for records and cosignatures in vectors: 2026-01-01T00:00:00Z. */
export const VECTOR_TIME_MS = 1767225600000
export const VECTOR_TIME_S = 1767225600

export interface VectorCase {
  name: string
  data: Record<string, unknown>
}
