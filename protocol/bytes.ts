/** Byte helpers shared by the protocol layer: hex, base64, concatenation, comparison, SHA-256. */
import { createHash, hash } from 'node:crypto'
import { LedgerError } from './errors.ts'

const HEX_RE = /^(?:[0-9a-f]{2})*$/

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Strict lowercase hex; the `what` names the field in the error message. */
export function fromHex(hex: string, what = 'value'): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
    throw new LedgerError('BAD_FIELD', `${what} must be lowercase hex with an even number of digits`)
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Strict standard base64 with padding (Node's decoder alone would accept garbage). */
export function fromBase64(text: string, what = 'value'): Uint8Array {
  if (typeof text !== 'string' || !B64_RE.test(text)) {
    throw new LedgerError('BAD_FIELD', `${what} is not valid padded base64`)
  }
  const out = new Uint8Array(Buffer.from(text, 'base64'))
  // Reject non-zero padding bits so that each value has exactly one encoding.
  if (toBase64(out) !== text) throw new LedgerError('BAD_FIELD', `${what} is not canonical base64`)
  return out
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Bytewise lexicographic comparison (shorter prefix sorts first). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** Inputs up to this size are joined here and hashed in one call (no Hash object per hash). */
const HASH_SCRATCH = new Uint8Array(4096)

/** SHA-256 of one buffer; the result is a Uint8Array over the digest's own memory (no copy). */
function sha256Of(data: Uint8Array): Uint8Array {
  const d = hash('sha256', data, 'buffer')
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return sha256Of(parts[0]!)
  let n = 0
  for (const p of parts) n += p.length
  if (n > HASH_SCRATCH.length) {
    const h = createHash('sha256')
    for (const p of parts) h.update(p)
    return new Uint8Array(h.digest())
  }
  let at = 0
  for (const p of parts) {
    HASH_SCRATCH.set(p, at)
    at += p.length
  }
  return sha256Of(HASH_SCRATCH.subarray(0, n))
}

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text)
}

/** Decodes UTF-8, throwing `LedgerError(code)` on invalid sequences. */
export function fromUtf8(bytes: Uint8Array, code: 'MALFORMED_NOTE' | 'MALFORMED_CBOR' | 'BAD_FIELD' = 'BAD_FIELD'): string {
  try {
    return utf8Decoder.decode(bytes)
  } catch {
    throw new LedgerError(code, 'text is not valid UTF-8')
  }
}
