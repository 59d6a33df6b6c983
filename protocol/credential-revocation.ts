/**
 * A revocation of a credential (spec/credentials.md): a statement by the
 * issuing member, signed with the same kind of key as the credential (its
 * log key) under its own domain, "cairn credential revocation v1\n" ‖ payload:
 *
 *   cairn1r.<base64url(canonical CBOR {v: 1, issuer, id, exp, time})>.<base64url(signature)>
 *
 * `exp` is the revoked credential's expiry: past it the statement is no
 * longer needed and nodes may drop it. `time` (seconds) is when it was made.
 * Pure: the issuers are looked up by the caller's roster.
 */
import { utf8, concat } from './bytes.ts'
import { decodeCanonical, encodeCanonical } from './cbor.ts'
import { sign } from './ed25519.ts'
import { LedgerError } from './errors.ts'
import {
  b64url, checkCredentialId, checkIssuerName, exactFields, isSeconds, splitCompact, verifyIssuerSignature, type IssuerLookup,
} from './credential.ts'

export const REVOCATION_PREFIX = 'cairn1r.'
export const MAX_REVOCATION_CHARS = 512
export const MAX_REVOCATION_PAYLOAD = 256

const DOMAIN = utf8('cairn credential revocation v1\n')
const FIELDS = ['exp', 'id', 'issuer', 'time', 'v']

export interface CredentialRevocation {
  v: 1
  issuer: string
  /** The revoked credential's id. */
  id: string
  /** The revoked credential's expiry (seconds). */
  exp: number
  /** When the issuer revoked it (seconds). */
  time: number
}

export function revocationMessage(payload: Uint8Array): Uint8Array {
  return concat(DOMAIN, payload)
}

function checkFields(r: CredentialRevocation): CredentialRevocation {
  if (r.v !== 1) throw new LedgerError('BAD_VERSION', 'revocation version must be 1')
  checkIssuerName(r.issuer, 'revocation')
  checkCredentialId(r.id, 'revocation')
  if (!isSeconds(r.exp) || !isSeconds(r.time)) throw new LedgerError('BAD_CREDENTIAL', 'a revocation\'s exp and time are whole seconds since the epoch')
  return r
}

export function signRevocation(seed: Uint8Array, r: CredentialRevocation): string {
  checkFields(r)
  const payload = encodeCanonical({ v: r.v, issuer: r.issuer, id: r.id, exp: r.exp, time: r.time })
  return `${REVOCATION_PREFIX}${b64url(payload)}.${b64url(sign(seed, revocationMessage(payload)))}`
}

/** The statement, when well formed and signed by its issuer under a log key that is not compromised (credential.ts). */
export function verifyRevocation(text: string, issuers: IssuerLookup): CredentialRevocation {
  const { payload, signature } = splitCompact(text, REVOCATION_PREFIX, MAX_REVOCATION_CHARS, MAX_REVOCATION_PAYLOAD, 'revocation')
  const m = exactFields(decodeCanonical(payload, { maxBytes: MAX_REVOCATION_PAYLOAD, maxDepth: 1, maxItems: 2 * FIELDS.length }), FIELDS, 'revocation')
  const r = checkFields({ v: m.get('v') as 1, issuer: m.get('issuer') as string, id: m.get('id') as string, exp: m.get('exp') as number, time: m.get('time') as number })
  verifyIssuerSignature(issuers, r.issuer, revocationMessage(payload), signature, 'revocation')
  return r
}
