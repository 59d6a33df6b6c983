/**
 * The two implementations of Ed25519 that protocol/ed25519.ts can run its
 * strict rule on: libsodium (sodium-native, ~2× faster to verify and to sign
 * on this machine) and node:crypto (OpenSSL), the fallback where the addon
 * cannot load. Both compute the same thing once ed25519.ts's pre-checks have
 * passed: RFC 8032 signatures (deterministic, so byte-identical), and the
 * cofactorless equation with the encoding of [S]B − [k]A compared to R byte
 * for byte. spec/vectors/ed25519 and test/ed25519-backends.test.ts hold them
 * to the same verdict.
 *
 * CAIRN_ED25519=node forces node:crypto, =libsodium requires libsodium; unset,
 * libsodium when it loads.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import { toHex } from './bytes.ts'

export type Ed25519BackendName = 'libsodium' | 'node:crypto'

export interface Ed25519Backend {
  name: Ed25519BackendName
  /** A signer for one seed (its key material derived once). Signatures are fresh arrays unless the backend says otherwise. */
  signer(seed: Uint8Array): (message: Uint8Array) => Uint8Array
  /**
   * The equation alone, for a key and signature that passed the strict
   * pre-checks (canonical key not of small order, 64 bytes, S < L, R not of
   * small order).
   */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean
}

// ------------------------------------------------------------ node:crypto

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Bounded caches keyed by hex: a node signs with a handful of seeds and verifies under a few hundred keys. */
function cached<T>(limit: number, make: (bytes: Uint8Array) => T): (bytes: Uint8Array) => T {
  const cache = new Map<string, T>()
  let last: { bytes: Uint8Array; value: T } | undefined
  return (bytes) => {
    // A log's entries are checked under one key, one after another: compare with the last key first.
    if (last && sameBytes(bytes, last.bytes)) return last.value
    const id = toHex(bytes)
    let v = cache.get(id)
    if (v === undefined) {
      v = make(bytes)
      if (cache.size >= limit) cache.clear()
      cache.set(id, v)
    }
    last = { bytes: new Uint8Array(bytes), value: v }
    return v
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const nodePrivateKey = cached(1024, (seed): KeyObject => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }))
const nodePublicKey = cached(4096, (publicKey): KeyObject => createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }))

export const nodeBackend: Ed25519Backend = {
  name: 'node:crypto',
  signer(seed) {
    const key = nodePrivateKey(seed)
    // node:crypto's Buffers may be views into a shared pool: copy into an array of its own.
    return (message) => new Uint8Array(nodeSign(null, message, key))
  },
  verify: (publicKey, message, signature) => nodeVerify(null, message, nodePublicKey(publicKey), signature),
}

// ------------------------------------------------------------ libsodium

/** The few sodium-native functions used (the package ships no types). */
interface Sodium {
  crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
}

function sodiumBackend(sodium: Sodium): Ed25519Backend {
  // libsodium signs with seed ‖ public key (64 bytes), derived once per seed.
  const secretKey = cached(1024, (seed) => {
    const sk = new Uint8Array(64)
    sodium.crypto_sign_seed_keypair(new Uint8Array(32), sk, seed)
    return sk
  })
  return {
    name: 'libsodium',
    signer(seed) {
      const sk = secretKey(seed)
      return (message) => {
        const sig = new Uint8Array(64)
        sodium.crypto_sign_detached(sig, message, sk)
        return sig
      }
    },
    verify: (publicKey, message, signature) => sodium.crypto_sign_verify_detached(signature, message, publicKey),
  }
}

/** libsodium, or the reason it is not available here. */
function loadSodium(): Ed25519Backend | Error {
  try {
    return sodiumBackend(createRequire(import.meta.url)('sodium-native') as Sodium)
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e))
  }
}

const sodium = loadSodium()

/** The backends that load on this machine, libsodium first when present (for tests and the bench). */
export function availableBackends(): Ed25519Backend[] {
  return sodium instanceof Error ? [nodeBackend] : [sodium, nodeBackend]
}

/** The backend protocol/ed25519.ts uses: CAIRN_ED25519 (`node`, `libsodium`), else libsodium when it loads. */
export function chooseBackend(wanted = process.env.CAIRN_ED25519): Ed25519Backend {
  if (wanted === 'node') return nodeBackend
  if (wanted === 'libsodium') {
    if (sodium instanceof Error) throw new Error(`CAIRN_ED25519=libsodium, but sodium-native does not load: ${sodium.message}`)
    return sodium
  }
  if (wanted !== undefined && wanted !== '') throw new Error(`CAIRN_ED25519 is 'node' or 'libsodium', not '${wanted}'`)
  return sodium instanceof Error ? nodeBackend : sodium
}
