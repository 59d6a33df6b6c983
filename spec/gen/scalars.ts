/**
 * Ed25519 arithmetic on scalars, written out for the generators and tests
 * that build signatures by hand (edge cases no library will sign): the group
 * order L, the field prime P, little-endian conversions, SHA-512 and the
 * secret scalar of a seed (RFC 8032 §5.1.5).
 */
import { createHash } from 'node:crypto'
import { toHex } from '../../protocol/bytes.ts'

export const L = 2n ** 252n + 27742317777372353535851937790883648493n
export const P = 2n ** 255n - 19n

export const leToBig = (b: Uint8Array): bigint => BigInt('0x' + (toHex(b.slice().reverse()) || '0'))

export function bigToLe(n: bigint, len = 32): Uint8Array {
  const out = new Uint8Array(len)
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn)
    n >>= 8n
  }
  return out
}

export function sha512(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha512')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** The secret scalar a of a seed (clamped low half of SHA-512(seed)). */
export function secretScalar(seed: Uint8Array): bigint {
  const h = sha512(seed).slice(0, 32)
  h[0]! &= 248
  h[31]! &= 127
  h[31]! |= 64
  return leToBig(h)
}
