/**
 * Minimised case references (spec/encoding.md §ref). A centre's own case
 * reference ("raw ref") never enters a record: the centre's node replaces it
 * with a keyed pseudonym, `p1:` ‖ hex(first 16 bytes of HMAC-SHA-256(secret,
 * raw)). The secret stays in the centre's node directory, so the centre can
 * recompute a pseudonym to find its records and nobody else can test a guess.
 *
 * Why 16 bytes: a pseudonym only has to tell one centre's references apart
 * and resist guessing without the secret; 128 bits give no collision among
 * any realistic number of references (2^64 before one is likely) and an
 * HMAC truncated to 128 bits keeps 128-bit forgery resistance (RFC 2104 §5,
 * NIST SP 800-107 §5.3.3), in 35 characters instead of 67.
 */
import { createHmac } from 'node:crypto'
import { LedgerError } from './errors.ts'

/** The version tag of the pseudonym form; a later scheme would take `p2:`. */
export const REF_PSEUDONYM_PREFIX = 'p1:'
export const REF_PSEUDONYM_BYTES = 16
export const REF_SECRET_BYTES = 32
/** A raw case reference: 1..64 ASCII characters without spaces, so that recomputing it needs no normalisation. */
export const MAX_RAW_REF_LENGTH = 64
const RAW_REF_RE = /^[A-Za-z0-9._:/-]+$/
const PSEUDONYM_RE = /^p1:[0-9a-f]{32}$/

/** True for the only form a record's `ref` may take: `p1:` and 32 lowercase hex digits. */
export function isRefPseudonym(ref: string): boolean {
  return PSEUDONYM_RE.test(ref)
}

/** Throws BAD_REF unless `raw` is a raw case reference the node can pseudonymise. */
export function checkRawRef(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length < 1 || raw.length > MAX_RAW_REF_LENGTH || !RAW_REF_RE.test(raw)) {
    throw new LedgerError('BAD_REF', `a case reference is 1..${MAX_RAW_REF_LENGTH} characters from A-Z a-z 0-9 . _ : / - (the node stores only its pseudonym)`)
  }
  return raw
}

/** The pseudonym of a raw case reference under a centre's secret (32 bytes). */
export function refPseudonym(secret: Uint8Array, raw: string): string {
  if (secret.length !== REF_SECRET_BYTES) throw new LedgerError('BAD_CONFIG', `the case-reference secret is ${REF_SECRET_BYTES} bytes, got ${secret.length}`)
  const mac = createHmac('sha256', secret).update(checkRawRef(raw), 'utf8').digest()
  return REF_PSEUDONYM_PREFIX + mac.subarray(0, REF_PSEUDONYM_BYTES).toString('hex')
}

/**
 * What the node records for a `ref` a client sent: a raw reference becomes
 * its pseudonym; one already in pseudonym form (e.g. from this centre's own
 * export) is kept, since hashing it again would lose the link to its case.
 */
export function minimiseRef(secret: Uint8Array, given: unknown): string {
  if (typeof given === 'string' && isRefPseudonym(given)) return given
  return refPseudonym(secret, checkRawRef(given))
}
