/**
 * Ed25519 with one verification rule for every node: RFC 8032 §5.1.7, strict
 * (spec/encoding.md §4.2).
 *
 *  - signature is 64 bytes, S < L (non-canonical S is rejected),
 *  - the public key is a canonical encoding (y < p; x = 0 with the sign bit set
 *    is rejected) and not a point of small order (mixed-order keys are accepted),
 *  - R is not one of the 8 canonical encodings of a point of small order,
 *  - the cofactorless equation [S]B = R + [k]A, checked by comparing the
 *    encoding of [S]B - [k]A with R byte for byte, so a non-canonical R never
 *    matches.
 *
 * This file makes every check but the equation itself, so the verdict does
 * not depend on which library computes it (protocol/ed25519-backend.ts:
 * libsodium where it loads, else node:crypto): libsodium rejects a few more
 * R encodings up front (non-canonical small-order ones) and OpenSSL decodes A
 * loosely, but neither difference survives these pre-checks.
 * spec/vectors/ed25519 pins the edge cases, and a differential fuzz test holds
 * both libraries to the same verdict. Key checks use @noble/ed25519 (once per
 * key, cached).
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import * as ed from '@noble/ed25519'
import { LedgerError } from './errors.ts'
import { toHex } from './bytes.ts'
import { chooseBackend, type Ed25519Backend } from './ed25519-backend.ts'

/** The library the equation and signing run in (CAIRN_ED25519 overrides). */
export const ed25519Backend: Ed25519Backend = chooseBackend()

export const PUBLIC_KEY_BYTES = 32
export const SEED_BYTES = 32
export const SIGNATURE_BYTES = 64

/** Group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const L_LE = new Uint8Array([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
])

/** Canonical encodings of the 8 points of small order (the torsion subgroup); non-canonical R never verifies anyway. */
const SMALL_ORDER_ENCODINGS = new Set([
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
])

/** DER wrappings of a seed and of a public key, for node:crypto's key generation. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX_BYTES = 12

export interface KeyPair {
  /** 32-byte RFC 8032 private key (seed). */
  seed: Uint8Array
  publicKey: Uint8Array
}

/** Key generation is the one place the protocol layer uses randomness. */
export function generateKeyPair(seed?: Uint8Array): KeyPair {
  const s = seed ?? new Uint8Array(randomBytes(SEED_BYTES))
  if (s.length !== SEED_BYTES) throw new LedgerError('BAD_FIELD', `an Ed25519 seed is ${SEED_BYTES} bytes, got ${s.length}`)
  const spki = createPublicKey(createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, s]), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' })
  return { seed: new Uint8Array(s), publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX_BYTES)) }
}

/** Signs with one seed, its key material derived once (for a batch). Each signature is an array of its own. */
export function signerFor(seed: Uint8Array, backend: Ed25519Backend = ed25519Backend): (message: Uint8Array) => Uint8Array {
  return backend.signer(seed)
}

export function sign(seed: Uint8Array, message: Uint8Array, backend: Ed25519Backend = ed25519Backend): Uint8Array {
  return backend.signer(seed)(message)
}

/** First bytes of the small-order encodings: only an R starting with one of them is looked up. */
const SMALL_ORDER_FIRST = new Set([...SMALL_ORDER_ENCODINGS].map((h) => Number.parseInt(h.slice(0, 2), 16)))

/**
 * Keys that passed assertValidPublicKey (hex). The check decodes the point
 * with BigInt arithmetic (~1 ms); every checkpoint a node hears parses the
 * same handful of roster keys again, so each is checked once. Only keys
 * that passed are kept, so a bad key is refused every time.
 */
const validKeys = new Set<string>()

/** Throws BAD_PUBLIC_KEY unless the key is a canonical encoding of a point not of small order. */
export function assertValidPublicKey(publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new LedgerError('BAD_PUBLIC_KEY', `an Ed25519 public key is ${PUBLIC_KEY_BYTES} bytes`)
  }
  const id = toHex(publicKey)
  if (validKeys.has(id)) return
  checkPoint(publicKey)
  if (validKeys.size >= 4096) validKeys.clear()
  validKeys.add(id)
}

function checkPoint(publicKey: Uint8Array): void {
  let point: ed.Point
  try {
    point = ed.Point.fromBytes(publicKey, false)
  } catch {
    throw new LedgerError('BAD_PUBLIC_KEY', 'the public key is not a canonical Ed25519 point encoding')
  }
  // noble's strict decoding accepts y >= p for some inputs only in zip215 mode; re-encode to be sure.
  if (toHex(point.toBytes()) !== toHex(publicKey)) {
    throw new LedgerError('BAD_PUBLIC_KEY', 'the public key is not a canonical Ed25519 point encoding')
  }
  if (point.isSmallOrder()) throw new LedgerError('BAD_PUBLIC_KEY', 'the public key is a point of small order')
}

/** True when the 32-byte little-endian scalar is < L. */
export function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i]! < L_LE[i]!) return true
    if (s[i]! > L_LE[i]!) return false
  }
  return false // equal to L
}

/** The last key that passed assertValidPublicKey: a log's entries are checked under one key, one after another. */
let lastValidKey: Uint8Array | undefined

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < PUBLIC_KEY_BYTES; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Strict verification (see the file comment) on the chosen backend, or on
 * the one given (tests hold both to the same verdicts). Returns false for a
 * bad signature; throws BAD_PUBLIC_KEY for a key that no signature can be
 * valid under.
 */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, backend: Ed25519Backend = ed25519Backend): boolean {
  if (!(lastValidKey && publicKey instanceof Uint8Array && publicKey.length === PUBLIC_KEY_BYTES && sameKey(publicKey, lastValidKey))) {
    assertValidPublicKey(publicKey)
    lastValidKey = new Uint8Array(publicKey)
  }
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false
  if (!isCanonicalScalar(signature.subarray(32))) return false
  if (SMALL_ORDER_FIRST.has(signature[0]!) && SMALL_ORDER_ENCODINGS.has(toHex(signature.subarray(0, 32)))) return false
  return backend.verify(publicKey, message, signature)
}

export { availableBackends, nodeBackend, type Ed25519Backend } from './ed25519-backend.ts'
