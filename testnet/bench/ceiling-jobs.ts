/**
 * A worker job for the bench's ceilings only (testnet/bench/ceilings.ts):
 * the strict Ed25519 verification of protocol/ed25519.ts and nothing else,
 * over signed messages held in memory. Run on every worker at once, it is
 * what the signature checks alone reach on this machine's cores together,
 * beside openJob, which does them with the rest of an entry's checks.
 */
import { verify } from '../../protocol/ed25519.ts'
import { unpack, type Packed } from '../../workers/crypto-jobs.ts'
import type { Job } from '../../workers/pool.ts'

export interface VerifyOnlyInput {
  publicKey: Uint8Array
  /** The signed messages ("cairn/record/v1" ‖ 0 ‖ record bytes). */
  messages: Packed
  /** 64 bytes per message, in order. */
  signatures: Uint8Array
}

/** Verifies every message; throws at the first that does not verify (the ceiling's input is all valid). */
export const verifyOnlyJob: Job<VerifyOnlyInput, number> = ({ publicKey, messages, signatures }) => {
  const list = unpack(messages)
  for (let i = 0; i < list.length; i++) {
    if (!verify(publicKey, list[i]!, signatures.subarray(64 * i, 64 * i + 64))) throw new Error(`ceiling message ${i} does not verify`)
  }
  return { result: list.length }
}
