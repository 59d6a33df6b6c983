/**
 * Baselines, measured in the same run on the same machine as the measures:
 * what the hardware does with the raw primitives cairn is built on, one core.
 *
 *  - sha256_per_s: node:crypto SHA-256 of 100-byte messages.
 *  - sign_per_s / verify_per_s: Ed25519 with node:crypto (OpenSSL) and cached
 *    KeyObjects over a typical signed record message (an indicator's
 *    "cairn/record/v1" ‖ 0 ‖ record bytes).
 *  - libsodium_sign_per_s / libsodium_verify_per_s: the same with libsodium
 *    (sodium-native, the 64-byte secret key derived once), the library
 *    protocol/ed25519.ts uses where it loads; absent where it does not.
 *  - level_put_per_s: `level` (classic-level) chained batches of 10,000 puts,
 *    16-byte keys, 200-byte values, not fsynced, into a fresh database.
 *
 * Each primitive runs in rounds of `roundMs` after a warm-up; the median
 * round counts (a busy neighbour spoils a round, not the figure).
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { encodeRecord } from '../../protocol/records.ts'
import { signedMessage } from '../../protocol/entry.ts'
import { benchRecord } from './records.ts'
import type { Baselines } from './report.ts'

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

export function rate(roundMs: number, rounds: number, step: () => number): number {
  const rates: number[] = []
  step() // warm-up
  for (let r = 0; r < rounds; r++) {
    let n = 0
    const t0 = performance.now()
    let t = t0
    while (t - t0 < roundMs) {
      n += step()
      t = performance.now()
    }
    rates.push(n / ((t - t0) / 1000))
  }
  rates.sort((a, b) => a - b)
  return rates[Math.floor(rates.length / 2)]!
}

export async function asyncRate(roundMs: number, rounds: number, step: () => Promise<number>): Promise<number> {
  const rates: number[] = []
  await step()
  for (let r = 0; r < rounds; r++) {
    let n = 0
    const t0 = performance.now()
    let t = t0
    while (t - t0 < roundMs) {
      n += await step()
      t = performance.now()
    }
    rates.push(n / ((t - t0) / 1000))
  }
  rates.sort((a, b) => a - b)
  return rates[Math.floor(rates.length / 2)]!
}

/** The Ed25519 baselines alone: sign/s and verify/s on one core. */
export function measureEd25519(roundMs: number, rounds = 3): Pick<Baselines, 'sign_per_s' | 'verify_per_s'> {
  const seed = randomBytes(32)
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const pub = createPublicKey(priv)
  const message = signedMessage(encodeRecord(benchRecord('baseline.cairn/x', 3)))
  const sig = sign(null, message, priv)
  const sign_per_s = rate(roundMs, rounds, () => {
    for (let i = 0; i < 100; i++) sign(null, message, priv)
    return 100
  })
  const verify_per_s = rate(roundMs, rounds, () => {
    for (let i = 0; i < 100; i++) if (!verify(null, message, pub, sig)) throw new Error('baseline signature does not verify')
    return 100
  })
  return { sign_per_s, verify_per_s }
}

/** The sodium-native calls measured (the package ships no types). */
interface Sodium {
  crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
}

function loadSodium(): Sodium | undefined {
  try {
    return createRequire(import.meta.url)('sodium-native') as Sodium
  } catch {
    return undefined
  }
}

/** libsodium's sign/s and verify/s on one core, as measureEd25519; {} where sodium-native does not load. */
export function measureLibsodium(roundMs: number, rounds = 3): Pick<Baselines, 'libsodium_sign_per_s' | 'libsodium_verify_per_s'> {
  const sodium = loadSodium()
  if (!sodium) return {}
  const publicKey = new Uint8Array(32)
  const secretKey = new Uint8Array(64)
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, randomBytes(32))
  const message = signedMessage(encodeRecord(benchRecord('baseline.cairn/x', 3)))
  const sig = new Uint8Array(64)
  sodium.crypto_sign_detached(sig, message, secretKey)
  const out = new Uint8Array(64)
  const libsodium_sign_per_s = rate(roundMs, rounds, () => {
    for (let i = 0; i < 100; i++) sodium.crypto_sign_detached(out, message, secretKey)
    return 100
  })
  const libsodium_verify_per_s = rate(roundMs, rounds, () => {
    for (let i = 0; i < 100; i++) if (!sodium.crypto_sign_verify_detached(sig, message, publicKey)) throw new Error('libsodium baseline signature does not verify')
    return 100
  })
  return { libsodium_sign_per_s, libsodium_verify_per_s }
}

/** libsodium's rates over node:crypto's, or undefined when libsodium was not measured. */
export function libsodiumRatios(b: Baselines): { sign: number; verify: number } | undefined {
  const sign = (b.libsodium_sign_per_s ?? NaN) / b.sign_per_s
  const verify = (b.libsodium_verify_per_s ?? NaN) / b.verify_per_s
  return Number.isFinite(sign) && Number.isFinite(verify) ? { sign, verify } : undefined
}

export async function measureBaselines(roundMs: number): Promise<Baselines> {
  const rounds = 3
  const msg100 = randomBytes(100)
  const sha256_per_s = rate(roundMs, rounds, () => {
    for (let i = 0; i < 1000; i++) createHash('sha256').update(msg100).digest()
    return 1000
  })
  const { sign_per_s, verify_per_s } = measureEd25519(roundMs, rounds)
  const libsodium = measureLibsodium(roundMs, rounds)

  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-level-'))
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const value = new Uint8Array(randomBytes(200))
  let n = 0
  let level_put_per_s: number
  try {
    level_put_per_s = await asyncRate(roundMs, rounds, async () => {
      const b = db.batch()
      for (let i = 0; i < 10_000; i++) {
        const k = new Uint8Array(16)
        const v = new DataView(k.buffer)
        v.setUint32(0, 0x9e3779b9 * n)
        v.setUint32(12, n++)
        b.put(k, value)
      }
      await b.write()
      return 10_000
    })
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return { sha256_per_s, sign_per_s, verify_per_s, level_put_per_s, ...libsodium }
}

/** Field by field mean of two sets of figures measured at the start and the end of the run (baselines, ceilings). */
export function meanOf<T extends { [K in keyof T]: number }>(a: T, b: T): T {
  return Object.fromEntries(Object.keys(a).map((k) => [k, (a[k as keyof T] + b[k as keyof T]) / 2])) as T
}
