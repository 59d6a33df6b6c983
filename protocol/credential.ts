/**
 * Provider and auditor credentials that every member node accepts
 * (spec/credentials.md): a compact bearer string
 *
 *   cairn1.<base64url(canonical CBOR payload)>.<base64url(Ed25519 signature)>
 *
 * payload {v: 1, issuer, holder, role, id, iat, exp}, signed by the issuing
 * member's log key over "cairn credential v1\n" ‖ payload. Every node checks
 * it offline against the roster it holds: the issuer is an active member and
 * the signature verifies (strictly, protocol/ed25519.ts) under one of the
 * issuer's log keys that is not compromised. Revocations are separate
 * statements (./credential-revocation.ts). Pure: the clock is an argument.
 */
import { concat, utf8 } from './bytes.ts'
import { decodeCanonical, encodeCanonical, type CborDecoded } from './cbor.ts'
import { sign, verify, SIGNATURE_BYTES } from './ed25519.ts'
import { LedgerError } from './errors.ts'
import { isValidOrigin } from './records.ts'

export const CREDENTIAL_PREFIX = 'cairn1.'
/** The whole compact string, in characters. */
export const MAX_CREDENTIAL_CHARS = 1024
/** The payload's CBOR bytes. */
export const MAX_CREDENTIAL_PAYLOAD = 512
/** Longest validity, exp − iat. */
export const MAX_CREDENTIAL_LIFETIME_S = 400 * 86_400
/** A credential issued up to this far in the future (the issuer's clock ahead of ours) is accepted. */
export const CREDENTIAL_CLOCK_SKEW_S = 300
/** Roles a credential may carry: operator, oversight and metrics tokens stay node-local. */
export const CREDENTIAL_ROLES = ['provider', 'auditor'] as const
export type CredentialRole = (typeof CREDENTIAL_ROLES)[number]

const DOMAIN = utf8('cairn credential v1\n')
const FIELDS = ['exp', 'holder', 'iat', 'id', 'issuer', 'role', 'v']
const HOLDER_RE = /^[A-Za-z0-9 ._@-]{1,64}$/
const ID_RE = /^[0-9a-f]{32}$/
const B64URL_RE = /^[A-Za-z0-9_-]+$/

export interface Credential {
  v: 1
  /** The issuing member's origin, as in the roster. */
  issuer: string
  holder: string
  role: CredentialRole
  /** 16 random bytes, hex. */
  id: string
  /** Issued at and expires at, seconds since the epoch. */
  iat: number
  exp: number
}

/** A log key of a member as the roster lists it. */
export interface IssuerKey {
  publicKey: Uint8Array
  compromised?: boolean
}

/** What a verifier knows of an issuer: whether it is an active member, and its log keys. Undefined: not a member. */
export type IssuerLookup = (origin: string) => { active: boolean; keys: readonly IssuerKey[] } | undefined

export function credentialMessage(payload: Uint8Array): Uint8Array {
  return concat(DOMAIN, payload)
}

export function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/** Strict unpadded base64url: one encoding per value. */
export function fromB64url(text: string, what: string): Uint8Array {
  if (!B64URL_RE.test(text)) throw new LedgerError('BAD_CREDENTIAL', `${what} is not base64url`)
  const out = new Uint8Array(Buffer.from(text, 'base64url'))
  if (b64url(out) !== text) throw new LedgerError('BAD_CREDENTIAL', `${what} is not canonical base64url`)
  return out
}

/** Splits `<prefix><payload>.<signature>` into payload bytes and signature, with the size caps. */
export function splitCompact(text: string, prefix: string, maxChars: number, maxPayload: number, what: string): { payload: Uint8Array; signature: Uint8Array } {
  if (typeof text !== 'string') throw new LedgerError('BAD_CREDENTIAL', `a ${what} is a string`)
  if (text.length > maxChars) throw new LedgerError('TOO_LARGE', `a ${what} is at most ${maxChars} characters, got ${text.length}`)
  if (!text.startsWith(prefix)) throw new LedgerError('BAD_CREDENTIAL', `a ${what} starts with ${prefix}`)
  const parts = text.slice(prefix.length).split('.')
  if (parts.length !== 2) throw new LedgerError('BAD_CREDENTIAL', `a ${what} is ${prefix}<payload>.<signature>`)
  const payload = fromB64url(parts[0]!, `the ${what} payload`)
  if (payload.length > maxPayload) throw new LedgerError('TOO_LARGE', `a ${what} payload is at most ${maxPayload} bytes, got ${payload.length}`)
  const signature = fromB64url(parts[1]!, `the ${what} signature`)
  if (signature.length !== SIGNATURE_BYTES) throw new LedgerError('BAD_CREDENTIAL', `a ${what} signature is ${SIGNATURE_BYTES} bytes`)
  return { payload, signature }
}

/** The payload map's fields, exactly `fields` (UNKNOWN_FIELD / MISSING_FIELD otherwise). */
export function exactFields(decoded: CborDecoded, fields: readonly string[], what: string): Map<string, CborDecoded> {
  if (!(decoded instanceof Map)) throw new LedgerError('BAD_CREDENTIAL', `a ${what} payload is a CBOR map`)
  for (const k of decoded.keys()) if (!fields.includes(k)) throw new LedgerError('UNKNOWN_FIELD', `unknown ${what} field ${k}`)
  for (const f of fields) if (!decoded.has(f)) throw new LedgerError('MISSING_FIELD', `a ${what} has a field ${f}`)
  return decoded
}

export const isSeconds = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0

export function checkIssuerName(x: unknown, what: string): string {
  if (!isValidOrigin(x)) throw new LedgerError('BAD_CREDENTIAL', `a ${what}'s issuer is a member origin (federation/name)`)
  return x
}

export function checkCredentialId(x: unknown, what: string): string {
  if (typeof x !== 'string' || !ID_RE.test(x)) throw new LedgerError('BAD_CREDENTIAL', `a ${what}'s id is 32 lowercase hex digits`)
  return x
}

/** Checks the fields of a credential about to be signed (the issuing node and CLI). */
export function checkCredentialFields(c: Credential): Credential {
  if (c.v !== 1) throw new LedgerError('BAD_VERSION', 'credential version must be 1')
  checkIssuerName(c.issuer, 'credential')
  if (typeof c.holder !== 'string' || !HOLDER_RE.test(c.holder)) throw new LedgerError('BAD_CREDENTIAL', 'a credential holder name is 1–64 letters, digits, spaces or ._@-')
  if (!(CREDENTIAL_ROLES as readonly string[]).includes(c.role)) {
    throw new LedgerError('ROLE_FORBIDDEN', `a credential's role is ${CREDENTIAL_ROLES.join(' or ')}; ${String(c.role)} tokens are granted by each node for itself (cairn token grant)`)
  }
  checkCredentialId(c.id, 'credential')
  if (!isSeconds(c.iat) || !isSeconds(c.exp)) throw new LedgerError('BAD_CREDENTIAL', 'a credential\'s iat and exp are whole seconds since the epoch')
  if (c.exp <= c.iat) throw new LedgerError('BAD_CREDENTIAL', 'a credential expires after it is issued')
  if (c.exp - c.iat > MAX_CREDENTIAL_LIFETIME_S) throw new LedgerError('BAD_CREDENTIAL', `a credential is valid for at most ${MAX_CREDENTIAL_LIFETIME_S / 86_400} days`)
  return c
}

export function encodeCredentialPayload(c: Credential): Uint8Array {
  checkCredentialFields(c)
  return encodeCanonical({ v: c.v, issuer: c.issuer, holder: c.holder, role: c.role, id: c.id, iat: c.iat, exp: c.exp })
}

/** The compact string of `c`, signed with the issuer's log key seed. */
export function signCredential(seed: Uint8Array, c: Credential): string {
  const payload = encodeCredentialPayload(c)
  return `${CREDENTIAL_PREFIX}${b64url(payload)}.${b64url(sign(seed, credentialMessage(payload)))}`
}

/** Parses a compact credential without checking its signature or dates (shape, sizes, canonical CBOR, exact fields). */
export function parseCredential(text: string): { credential: Credential; payload: Uint8Array; signature: Uint8Array } {
  const { payload, signature } = splitCompact(text, CREDENTIAL_PREFIX, MAX_CREDENTIAL_CHARS, MAX_CREDENTIAL_PAYLOAD, 'credential')
  const m = exactFields(decodeCanonical(payload, { maxBytes: MAX_CREDENTIAL_PAYLOAD, maxDepth: 1, maxItems: 2 * FIELDS.length }), FIELDS, 'credential')
  const credential = checkCredentialFields({
    v: m.get('v') as 1, issuer: m.get('issuer') as string, holder: m.get('holder') as string, role: m.get('role') as CredentialRole,
    id: m.get('id') as string, iat: m.get('iat') as number, exp: m.get('exp') as number,
  })
  return { credential, payload, signature }
}

/**
 * Verifies a signature by an issuer: it must be an active member, and the
 * signature must verify under one of its log keys. A key the roster marks
 * compromised is refused whatever the statement's dates say (they are
 * written by whoever holds the key): KEY_COMPROMISED.
 */
export function verifyIssuerSignature(issuers: IssuerLookup, issuer: string, message: Uint8Array, signature: Uint8Array, what: string): void {
  const m = issuers(issuer)
  if (!m) throw new LedgerError('UNKNOWN_ISSUER', `the ${what}'s issuer ${issuer} is not a member of this federation`)
  if (!m.active) throw new LedgerError('UNKNOWN_ISSUER', `the ${what}'s issuer ${issuer} was removed from the federation`)
  for (const k of m.keys) {
    if (!verify(k.publicKey, message, signature)) continue
    if (k.compromised) throw new LedgerError('KEY_COMPROMISED', `the ${what} is signed by a log key of ${issuer} that the roster marks compromised`)
    return
  }
  throw new LedgerError('BAD_SIGNATURE', `the ${what}'s signature does not verify under any log key of ${issuer}`)
}

/**
 * The credential, when it is well formed, signed by its issuer (see
 * verifyIssuerSignature), issued no later than `nowS` + the clock skew,
 * and not expired at `nowS` (seconds). Revocation is the caller's check.
 */
export function verifyCredential(text: string, issuers: IssuerLookup, nowS: number): Credential {
  const { credential, payload, signature } = parseCredential(text)
  verifyIssuerSignature(issuers, credential.issuer, credentialMessage(payload), signature, 'credential')
  if (credential.iat > nowS + CREDENTIAL_CLOCK_SKEW_S) throw new LedgerError('BAD_CREDENTIAL', `the credential is issued in the future (${credential.iat}, now ${nowS})`)
  if (nowS >= credential.exp) throw new LedgerError('CREDENTIAL_EXPIRED', `the credential expired at ${new Date(credential.exp * 1000).toISOString()}; ask ${credential.issuer} for a new one`)
  return credential
}
