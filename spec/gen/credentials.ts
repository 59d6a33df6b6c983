/**
 * spec/vectors/credentials/: credentials and revocation statements
 * (spec/credentials.md) for the federation `vectors.cairn`.
 *
 * Each case: `description`, `kind` ("credential" or "revocation"), `now`
 * (seconds: the verifier's clock), `issuers` (what the verifier's roster
 * says: origin, active, log keys as hex public keys with `compromised`),
 * `text` (the compact string), `valid`; valid cases add `payload` (the
 * decoded fields), invalid ones `error` (the LedgerError code).
 */
import { concat, toHex, utf8 } from '../../protocol/bytes.ts'
import { encodeCanonical, type CborValue } from '../../protocol/cbor.ts'
import { sign } from '../../protocol/ed25519.ts'
import { b64url, credentialMessage, signCredential, CREDENTIAL_PREFIX, MAX_CREDENTIAL_CHARS, type Credential } from '../../protocol/credential.ts'
import { revocationMessage, signRevocation, REVOCATION_PREFIX, MAX_REVOCATION_CHARS, type CredentialRevocation } from '../../protocol/credential-revocation.ts'
import type { ErrorCode } from '../../protocol/errors.ts'
import { vectorKey, VECTOR_TIME_S, type VectorCase } from './seeds.ts'

const ISSUER = 'vectors.cairn/eu-centre'
const OTHER = 'vectors.cairn/ncmec'
const REMOVED = 'vectors.cairn/gone'
const key = vectorKey('eu-centre/log')
const otherKey = vectorKey('ncmec/log')
const oldKey = vectorKey('eu-centre/log-compromised')
const removedKey = vectorKey('gone/log')
const NOW = VECTOR_TIME_S + 86_400

/** The verifier's roster: eu-centre with a current key and an older compromised one, ncmec, and a removed member. */
const issuers = [
  { origin: ISSUER, active: true, keys: [{ public_key: toHex(key.publicKey), compromised: false }, { public_key: toHex(oldKey.publicKey), compromised: true }] },
  { origin: OTHER, active: true, keys: [{ public_key: toHex(otherKey.publicKey), compromised: false }] },
  { origin: REMOVED, active: false, keys: [{ public_key: toHex(removedKey.publicKey), compromised: false }] },
]

const base: Credential = { v: 1, issuer: ISSUER, holder: 'Example Platform', role: 'provider', id: '00112233445566778899aabbccddeeff', iat: VECTOR_TIME_S, exp: VECTOR_TIME_S + 90 * 86_400 }
const revocation: CredentialRevocation = { v: 1, issuer: ISSUER, id: base.id, exp: base.exp, time: VECTOR_TIME_S + 3600 }

type Kind = 'credential' | 'revocation'

function ok(kind: Kind, name: string, description: string, text: string, payload: object): VectorCase {
  return { name: `valid-${kind}-${name}`, data: { description, kind, now: NOW, issuers, text, valid: true, payload } }
}

function bad(kind: Kind, name: string, description: string, text: string, error: ErrorCode): VectorCase {
  return { name: `invalid-${kind}-${name}`, data: { description, kind, now: NOW, issuers, text, valid: false, error } }
}

/** A payload of any shape, validly signed by `seed` under the credential domain. */
function signedRaw(payload: Uint8Array, seed = key.seed, prefix = CREDENTIAL_PREFIX, message = credentialMessage): string {
  return `${prefix}${b64url(payload)}.${b64url(sign(seed, message(payload)))}`
}

const rawMap = (over: Record<string, CborValue | undefined>) =>
  encodeCanonical(Object.fromEntries(Object.entries({ ...base, ...over }).filter(([, v]) => v !== undefined)) as Record<string, CborValue>)

/** The canonical payload with `iat` written as an 8-byte integer: the same value, not the shortest form. */
function nonCanonicalPayload(): Uint8Array {
  const p = encodeCanonical({ ...base })
  const at = toHex(p).indexOf(toHex(concat(utf8('iat'), new Uint8Array([0x1a])))) / 2 + 3
  const wide = new Uint8Array(9)
  wide[0] = 0x1b
  wide.set(p.subarray(at + 1, at + 5), 5)
  return concat(p.subarray(0, at), wide, p.subarray(at + 5))
}

export function credentialCases(): VectorCase[] {
  const valid = signCredential(key.seed, base)
  const [, payloadPart, sigPart] = valid.split('.')
  const flipped = (sigPart![0] === 'A' ? 'B' : 'A') + sigPart!.slice(1)
  const tampered = signCredential(key.seed, { ...base, holder: 'Someone Else' }).split('.')[1]
  return [
    ok('credential', 'provider', 'a provider credential signed by the issuer\'s current log key', valid, base),
    ok('credential', 'auditor', 'an auditor credential', signCredential(key.seed, { ...base, role: 'auditor' }), { ...base, role: 'auditor' }),
    ok('credential', 'last-second', 'valid until the second before exp', signCredential(key.seed, { ...base, exp: NOW + 1 }), { ...base, exp: NOW + 1 }),
    bad('credential', 'bad-signature', 'one signature character changed', `${CREDENTIAL_PREFIX}${payloadPart}.${flipped}`, 'BAD_SIGNATURE'),
    bad('credential', 'tampered-holder', 'the payload of another holder with this credential\'s signature', `${CREDENTIAL_PREFIX}${tampered}.${sigPart}`, 'BAD_SIGNATURE'),
    bad('credential', 'other-members-key', 'eu-centre\'s credential signed by ncmec\'s key', signCredential(otherKey.seed, base), 'BAD_SIGNATURE'),
    bad('credential', 'expired', 'exp is the verifier\'s now', signCredential(key.seed, { ...base, exp: NOW }), 'CREDENTIAL_EXPIRED'),
    bad('credential', 'unknown-issuer', 'an issuer the roster does not know', signCredential(key.seed, { ...base, issuer: 'vectors.cairn/stranger' }), 'UNKNOWN_ISSUER'),
    bad('credential', 'removed-issuer', 'an issuer removed from the federation', signCredential(removedKey.seed, { ...base, issuer: REMOVED }), 'UNKNOWN_ISSUER'),
    bad('credential', 'compromised-key', 'signed by a log key the roster marks compromised, dated before the compromise', signCredential(oldKey.seed, base), 'KEY_COMPROMISED'),
    bad('credential', 'wrong-role-operator', 'role operator: node-local, never in a credential', signedRaw(rawMap({ role: 'operator' })), 'ROLE_FORBIDDEN'),
    bad('credential', 'wrong-role-oversight', 'role oversight', signedRaw(rawMap({ role: 'oversight' })), 'ROLE_FORBIDDEN'),
    bad('credential', 'oversized', `more than ${MAX_CREDENTIAL_CHARS} characters`, signedRaw(rawMap({ holder: 'x'.repeat(800) })), 'TOO_LARGE'),
    bad('credential', 'non-canonical', 'iat as an 8-byte integer', signedRaw(nonCanonicalPayload()), 'NON_CANONICAL_CBOR'),
    bad('credential', 'unknown-field', 'an extra field', signedRaw(rawMap({ scope: 'all' })), 'UNKNOWN_FIELD'),
    bad('credential', 'missing-field', 'no exp', signedRaw(rawMap({ exp: undefined })), 'MISSING_FIELD'),
    bad('credential', 'too-long', 'valid for 401 days', signedRaw(rawMap({ exp: base.iat + 401 * 86_400 })), 'BAD_CREDENTIAL'),
    bad('credential', 'from-the-future', 'issued an hour after the verifier\'s now', signedRaw(rawMap({ iat: NOW + 3600, exp: NOW + 7200 })), 'BAD_CREDENTIAL'),
    bad('credential', 'padded-base64', 'base64url with padding', `${valid}=`, 'BAD_CREDENTIAL'),
    bad('credential', 'no-prefix', 'the payload and signature without cairn1.', valid.slice(CREDENTIAL_PREFIX.length), 'BAD_CREDENTIAL'),
    bad('credential', 'revocation-domain', 'a credential payload signed under the revocation domain', signedRaw(encodeCanonical({ ...base }), key.seed, CREDENTIAL_PREFIX, revocationMessage), 'BAD_SIGNATURE'),
    ok('revocation', 'plain', 'eu-centre revokes a credential', signRevocation(key.seed, revocation), revocation),
    bad('revocation', 'bad-signature', 'signed by ncmec\'s key', signRevocation(otherKey.seed, revocation), 'BAD_SIGNATURE'),
    bad('revocation', 'unknown-issuer', 'an issuer the roster does not know', signRevocation(key.seed, { ...revocation, issuer: 'vectors.cairn/stranger' }), 'UNKNOWN_ISSUER'),
    bad('revocation', 'oversized', `more than ${MAX_REVOCATION_CHARS} characters`, signedRaw(encodeCanonical({ ...revocation, pad: 'x'.repeat(400) }), key.seed, REVOCATION_PREFIX, revocationMessage), 'TOO_LARGE'),
    bad('revocation', 'credential-domain', 'a revocation payload signed under the credential domain', signedRaw(encodeCanonical({ ...revocation }), key.seed, REVOCATION_PREFIX, credentialMessage), 'BAD_SIGNATURE'),
  ]
}
