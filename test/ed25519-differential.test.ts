/**
 * Differential fuzz of the strict Ed25519 rule: libsodium and node:crypto
 * behind protocol/ed25519.ts's pre-checks must give the same verdict (and sign
 * the same bytes) on every input, or two nodes could disagree on a record.
 * Seeded (a failure names its case and replays), bounded by a case count and
 * a few seconds of wall time; nothing here asserts on timing.
 *
 * Inputs: fresh signatures; bit flips in S, R, A and the message; S + L and
 * S with high bits set; R replaced by an encoding of a small-order point
 * (canonical or not); keys of mixed order ([a]B + T) with signatures made by
 * hand, valid or not as the torsion cancels; random and mis-sized signatures.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import * as ed from '@noble/ed25519'
import { concat, toHex } from '../protocol/bytes.ts'
import { availableBackends, generateKeyPair, sign, verify, type Ed25519Backend, type KeyPair } from '../protocol/ed25519.ts'
import { codeOf } from './helpers.ts'
import { L, P, bigToLe, leToBig, secretScalar, sha512 } from '../spec/gen/scalars.ts'

const SEED = 'cairn/ed25519-differential/1'
const MAX_CASES = 6000
const MAX_MS = 6000


/** Deterministic bytes: SHA-512 of (seed, counter), as a stream. */
class Stream {
  #n = 0
  #buf = new Uint8Array(0)
  #at = 0
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) {
      if (this.#at === this.#buf.length) {
        this.#buf = new Uint8Array(createHash('sha512').update(`${SEED}/${this.#n++}`).digest())
        this.#at = 0
      }
      out[i] = this.#buf[this.#at++]!
    }
    return out
  }
  /** 0 ≤ x < n. */
  int(n: number): number {
    const b = this.bytes(4)
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % n
  }
}

function flip(b: Uint8Array, bit: number): Uint8Array {
  const c = new Uint8Array(b)
  c[bit >> 3]! ^= 1 << (bit & 7)
  return c
}

const T8 = ed.Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')
const torsion: ed.Point[] = [ed.Point.ZERO]
for (let j = 1; j < 8; j++) torsion.push(torsion[j - 1]!.add(T8))
/** Encodings of small-order points: the 8 canonical ones and the non-canonical ones (y ≥ p, x = 0 with the sign bit). */
const SMALL_ORDER_R: Uint8Array[] = [
  ...torsion.map((t) => t.toBytes()),
  bigToLe(P), bigToLe(P + 1n), concat(bigToLe(1n).subarray(0, 31), new Uint8Array([0x80])),
].flatMap((b) => [b, flip(b, 255)])

const backends = availableBackends()

function verdict(backend: Ed25519Backend, A: Uint8Array, M: Uint8Array, S: Uint8Array): boolean | string {
  let ok = false
  const code = codeOf(() => { ok = verify(A, M, S, backend) })
  return code === 'ACCEPTED' ? ok : code
}

test('libsodium and node:crypto agree on every fuzzed case', () => {
  assert.is(backends.length, 2, 'both backends load')
  const rnd = new Stream()
  const keys: KeyPair[] = Array.from({ length: 16 }, () => generateKeyPair(rnd.bytes(32)))
  const counts: Record<string, number> = {}
  const verdicts: Record<string, number> = {}
  const started = performance.now()
  let n = 0
  for (; n < MAX_CASES && performance.now() - started < MAX_MS; n++) {
    const key = keys[rnd.int(keys.length)]!
    let M = rnd.bytes(rnd.int(4) === 0 ? rnd.int(4) : rnd.int(300))
    const sigs = backends.map((b) => sign(key.seed, M, b))
    for (const s of sigs) assert.is(toHex(s), toHex(sigs[0]!), `case ${n}: both backends sign the same bytes`)
    let A = key.publicKey
    let S = sigs[0]!
    let expect: boolean | undefined
    const kind = ['valid', 'flip-s', 'flip-r', 'flip-a', 'flip-m', 's-plus-l', 's-high', 'small-r', 'mixed-a', 'random-sig', 'sig-length'][rnd.int(11)]!
    switch (kind) {
      case 'valid': expect = true; break
      case 'flip-s': S = flip(S, 256 + rnd.int(256)); break
      case 'flip-r': S = flip(S, rnd.int(256)); break
      case 'flip-a': A = flip(A, rnd.int(256)); break
      case 'flip-m': if (M.length) M = flip(M, rnd.int(8 * M.length)); else M = new Uint8Array([1 << rnd.int(8)]); break
      case 's-plus-l': S = concat(S.subarray(0, 32), bigToLe(leToBig(S.subarray(32)) + L)); expect = false; break
      case 's-high': { const s = new Uint8Array(S); s[63]! |= 0x20 << rnd.int(3); S = s; expect = false; break }
      case 'small-r': S = concat(SMALL_ORDER_R[rnd.int(SMALL_ORDER_R.length)]!, S.subarray(32)); expect = false; break
      case 'mixed-a': {
        // A = [a]B + T_j, R = [r]B (+ T_i), S = r + k·a: valid exactly when T_i + [k]T_j is the identity.
        const a = secretScalar(key.seed)
        const j = 1 + rnd.int(7), i = rnd.int(8)
        A = ed.Point.fromBytes(key.publicKey).add(torsion[j]!).toBytes()
        const r = 1n + (leToBig(rnd.bytes(32)) % (L - 1n))
        const R = ed.Point.BASE.multiply(r).add(torsion[i]!).toBytes()
        const k = leToBig(sha512(R, A, M)) % L
        S = concat(R, bigToLe((r + k * a) % L))
        expect = (i + Number(k % 8n) * j) % 8 === 0
        break
      }
      case 'random-sig': S = rnd.bytes(64); break
      case 'sig-length': S = rnd.int(2) ? S.subarray(0, rnd.int(64)) : concat(S, rnd.bytes(1 + rnd.int(4))); expect = false; break
    }
    const got = backends.map((b) => verdict(b, A, M, S))
    assert.ok(got.every((v) => v === got[0]), `case ${n} (${kind}): ${backends.map((b, x) => `${b.name} ${got[x]}`).join(', ')}; A ${toHex(A)} M ${toHex(M)} sig ${toHex(S)}`)
    if (expect !== undefined) assert.is(got[0], expect, `case ${n} (${kind})`)
    counts[kind] = (counts[kind] ?? 0) + 1
    verdicts[String(got[0])] = (verdicts[String(got[0])] ?? 0) + 1
  }
  console.log(`  ${n} cases, seed ${SEED}: ${JSON.stringify(counts)}; verdicts ${JSON.stringify(verdicts)}`)
})

test.run()
