/**
 * spec/vectors/ed25519/: the edges of the strict verification rule
 * (encoding.md §4.2) on bare (public key, message, signature) triples.
 *
 * Each case: `description`, `public_key`, `message`, `signature` (hex; the
 * signature is 64 bytes unless the case is about its length), `valid`, and for
 * an invalid case `error`: `BAD_PUBLIC_KEY` (§4.2 step 1: no signature is
 * valid under the key) or `BAD_SIGNATURE`. Cases made by signing carry `seed`,
 * so a signer can be checked too. `source` names where the case comes from:
 * RFC 8032 §7.1, or the numbered cases of "Taming the many EdDSAs" (Chalkias,
 * Garillot, Nikolaenko, SSR 2020), rebuilt here from their descriptions.
 *
 * Every forgery is built with the scalar arithmetic of RFC 8032 §5.1.6 and
 * checked as it is built: the generator throws unless the equation holds
 * (or fails) exactly as the case says, so what a case exercises is the rule
 * that decides it, not a typo. Messages are searched (`"cairn-ed25519-vector/
 * <case>/<i>"`) until the challenge k falls in the wanted residue mod 8.
 */
import * as ed from '@noble/ed25519'
import { concat, toHex, utf8 } from '../../protocol/bytes.ts'
import { vectorSeed, type VectorCase } from './seeds.ts'
import { L, P, bigToLe, leToBig, sha512 } from './scalars.ts'

type Point = ed.Point
const B = ed.Point.BASE
const ZERO = ed.Point.ZERO

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'))

/** [n]Q for any n ≥ 0 and any point, torsion included (noble's multiply reduces by L). */
function mul(Q: Point, n: bigint): Point {
  let acc = ZERO
  for (let add = Q; n > 0n; n >>= 1n, add = add.double()) if (n & 1n) acc = acc.add(add)
  return acc
}

/** The point of order 8 whose canonical encoding is c7176a70…7a; [j]T8 for j = 0…7 are the 8 points of small order. */
const T8 = ed.Point.fromBytes(hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'))
const torsion = (j: bigint): Point => mul(T8, ((j % 8n) + 8n) % 8n)
/** j with [j]T8 = Q, for Q of small order. */
function torsionIndex(Q: Point): bigint {
  for (let j = 0n; j < 8n; j++) if (torsion(j).equals(Q)) return j
  throw new Error('not a point of small order')
}

/** RFC 8032 §5.1.5: the clamped secret scalar and the nonce prefix of a seed. */
function expand(seed: Uint8Array): { a: bigint; prefix: Uint8Array } {
  const h = sha512(seed)
  const s = h.slice(0, 32)
  s[0]! &= 248
  s[31]! &= 127
  s[31]! |= 64
  return { a: leToBig(s), prefix: h.slice(32) }
}
const challenge = (R: Uint8Array, A: Uint8Array, M: Uint8Array): bigint => leToBig(sha512(R, A, M)) % L

/** RFC 8032 §5.1.6, written out (independent of protocol/ed25519.ts). */
function rfcSign(seed: Uint8Array, M: Uint8Array): { A: Uint8Array; sig: Uint8Array } {
  const { a, prefix } = expand(seed)
  const A = B.multiply(a % L).toBytes()
  const r = leToBig(sha512(prefix, M)) % L
  const R = B.multiply(r).toBytes()
  return { A, sig: concat(R, bigToLe((r + challenge(R, A, M) * a) % L)) }
}

/** Decodes like a lax verifier: y may be ≥ p (ZIP 215); undefined when not on the curve. */
function looseDecode(bytes: Uint8Array): Point | undefined {
  try {
    return ed.Point.fromBytes(bytes, true)
  } catch {
    return undefined
  }
}

/** Does [S]B = R + [k]A hold (as points, [8] applied to both sides when cofactored)? R and A decoded loosely; k over the bytes given. */
function equation(A: Uint8Array, M: Uint8Array, sig: Uint8Array, cofactored: boolean, hashR = sig.subarray(0, 32), hashA = A): boolean {
  const Ap = looseDecode(A)
  const Rp = looseDecode(sig.subarray(0, 32))
  if (!Ap || !Rp) return false
  const k = challenge(hashR, hashA, M)
  const lhs = mul(B, leToBig(sig.subarray(32)))
  const rhs = Rp.add(mul(Ap, k))
  return cofactored ? mul(lhs, 8n).equals(mul(rhs, 8n)) : lhs.equals(rhs)
}

/** The first message "cairn-ed25519-vector/<label>/<i>" for which `ok` holds. */
function searchMessage(label: string, ok: (M: Uint8Array) => boolean): Uint8Array {
  for (let i = 0; i < 1000; i++) {
    const M = utf8(`cairn-ed25519-vector/${label}/${i}`)
    if (ok(M)) return M
  }
  throw new Error(`no message found for ${label}`)
}

// ------------------------------------------------------------ cases

interface Case {
  name: string
  description: string
  source: string
  publicKey: Uint8Array
  message: Uint8Array
  signature: Uint8Array
  error?: 'BAD_PUBLIC_KEY' | 'BAD_SIGNATURE'
  seed?: Uint8Array
  /** Checked while generating: the cofactorless / cofactored equations, as points (undefined: not checked). */
  cofactorless?: boolean
  cofactored?: boolean
  /** The bytes k is hashed over when they differ from the signature's R and the key (the "reduced" encodings). */
  hashR?: Uint8Array
  hashA?: Uint8Array
}

const CHALKIAS = 'Chalkias, Garillot, Nikolaenko, "Taming the many EdDSAs" (2020), case'

/** A fixed secret scalar a and the prime-order key [a]B. */
const { a: secret } = expand(vectorSeed('ed25519/signer'))
const primeKey = B.multiply(secret % L)
/** A mixed-order key: [a]B + T8 (its secret is still a, up to the torsion). */
const mixedKey = primeKey.add(T8)
/** A nonce for the hand-made signatures. */
const nonce = leToBig(sha512(utf8('cairn-ed25519-vector/nonce'))) % L

/**
 * R = [r]B + T_R and S = r + k·a under A = [a]B + T_A: then [S]B − [k]A − R = −(T_R + [k]T_A),
 * so the cofactorless equation holds iff T_R = −[k]T_A; the cofactored one always holds.
 */
function forge(label: string, opts: { r: bigint; rTorsion?: bigint; aTorsion?: bigint; a?: bigint; want: (k: bigint) => boolean; rBytes?: Uint8Array; aBytes?: Uint8Array; hashReduced?: boolean }) {
  const a = opts.a ?? secret
  const Apoint = mul(B, a).add(torsion(opts.aTorsion ?? 0n))
  const Rpoint = mul(B, opts.r).add(torsion(opts.rTorsion ?? 0n))
  const A = opts.aBytes ?? Apoint.toBytes()
  const R = opts.rBytes ?? Rpoint.toBytes()
  const hashR = opts.hashReduced ? Rpoint.toBytes() : R
  const hashA = opts.hashReduced ? Apoint.toBytes() : A
  const M = searchMessage(label, (m) => opts.want(challenge(hashR, hashA, m)))
  const k = challenge(hashR, hashA, M)
  const S = (opts.r + k * a) % L
  return { publicKey: A, message: M, signature: concat(R, bigToLe(S)), hashR, hashA, k }
}

/** k such that T_R = −[k]T_A, i.e. the torsion parts cancel: j_R + k·j_A ≡ 0 (mod 8). */
const cancels = (jR: bigint, jA: bigint) => (k: bigint) => (((jR + k * jA) % 8n) + 8n) % 8n === 0n

function cases(): Case[] {
  const out: Case[] = []
  const add = (c: Case) => out.push(c)

  // RFC 8032 §7.1 TEST 1–3 (seeds and messages from the RFC; signatures derived here).
  for (const [n, seedHex, msgHex] of [
    [1, '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', ''],
    [2, '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '72'],
    [3, 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'af82'],
  ] as const) {
    const seed = hex(seedHex)
    const M = hex(msgHex)
    const { A, sig } = rfcSign(seed, M)
    add({ name: `valid-rfc8032-test-${n}`, description: `RFC 8032 §7.1 TEST ${n}: the signature of its seed over its ${M.length}-byte message`, source: `RFC 8032 §7.1 TEST ${n}`, publicKey: A, message: M, signature: sig, seed, cofactorless: true })
    if (n === 1) {
      add({ name: 'invalid-rfc8032-test-1-s-plus-l', description: 'TEST 1 with S + L (< 2^253) in place of S: the same value mod L, so a verifier that reduces S accepts; S ≥ L is invalid', source: `${CHALKIAS} 6`, publicKey: A, message: M, signature: concat(sig.subarray(0, 32), bigToLe(leToBig(sig.subarray(32)) + L)), error: 'BAD_SIGNATURE', cofactorless: true })
      const big = leToBig(sig.subarray(32)) + ((2n ** 256n - 1n - leToBig(sig.subarray(32))) / L) * L
      add({ name: 'invalid-rfc8032-test-1-s-plus-many-l', description: 'TEST 1 with S + n·L, the largest such value < 2^256 (top bits set): rejected even by verifiers that only check the top 3 bits of S', source: `${CHALKIAS} 7`, publicKey: A, message: M, signature: concat(sig.subarray(0, 32), bigToLe(big)), error: 'BAD_SIGNATURE', cofactorless: true })
      add({ name: 'invalid-rfc8032-test-1-s-equals-l', description: 'TEST 1 with S = L exactly: not < L', source: 'RFC 8032 §5.1.7', publicKey: A, message: M, signature: concat(sig.subarray(0, 32), bigToLe(L)), error: 'BAD_SIGNATURE' })
      add({ name: 'invalid-rfc8032-test-1-other-message', description: 'TEST 1 over the 1-byte message 00 instead of the empty one', source: 'RFC 8032 §5.1.7', publicKey: A, message: hex('00'), signature: sig, error: 'BAD_SIGNATURE', cofactorless: false })
      add({ name: 'invalid-rfc8032-test-1-signature-63-bytes', description: 'TEST 1 with the last byte of the signature dropped', source: 'RFC 8032 §5.1.7', publicKey: A, message: M, signature: sig.subarray(0, 63), error: 'BAD_SIGNATURE' })
    }
  }

  // Chalkias et al. 0–5: small-order and mixed-order A and R.
  {
    // 0: S = 0, A and R of small order: [0]B = R + [k]A holds when R = −[k]A.
    const f = forge('case-0', { r: 0n, a: 0n, aTorsion: 1n, rTorsion: 7n, want: cancels(7n, 1n) })
    add({ name: 'invalid-small-order-a-small-order-r-s-zero', description: 'A = T8 (order 8), R = −[k]A (order 8), S = 0: the equation holds for this message; A of small order is refused', source: `${CHALKIAS} 0`, ...f, error: 'BAD_PUBLIC_KEY', cofactorless: true, cofactored: true })
  }
  {
    const f = forge('case-1', { r: nonce, a: 0n, aTorsion: 1n, rTorsion: 3n, want: cancels(3n, 1n) })
    add({ name: 'invalid-small-order-a-mixed-order-r', description: 'A = T8 (order 8), R = [r]B + T of mixed order, 0 < S < L: the equation holds; A of small order is refused', source: `${CHALKIAS} 1`, ...f, error: 'BAD_PUBLIC_KEY', cofactorless: true, cofactored: true })
  }
  {
    const f = forge('case-2', { r: 0n, aTorsion: 1n, rTorsion: 5n, want: cancels(5n, 1n) })
    add({ name: 'invalid-mixed-order-a-small-order-r', description: 'A = [a]B + T8 (mixed order), R of small order (order 8), S = k·a: the equation holds; R of small order is refused', source: `${CHALKIAS} 2`, ...f, error: 'BAD_SIGNATURE', cofactorless: true, cofactored: true })
  }
  {
    const f = forge('case-3', { r: nonce, aTorsion: 1n, rTorsion: 6n, want: cancels(6n, 1n) })
    add({ name: 'valid-mixed-order-a-mixed-order-r', description: 'A = [a]B + T8, R = [r]B + T4 (both of mixed order), S = r + k·a, with T4 = −[k]T8: the cofactorless equation holds, and neither A nor R is of small order, so the signature is valid (a verifier that also requires A or R to be torsion-free refuses it)', source: `${CHALKIAS} 3`, ...f, cofactorless: true, cofactored: true })
  }
  {
    const f = forge('case-4', { r: nonce, aTorsion: 1n, rTorsion: 6n, want: (k) => !cancels(6n, 1n)(k) })
    add({ name: 'invalid-mixed-order-a-mixed-order-r-cofactored-only', description: 'A = [a]B + T8, R = [r]B + T4, S = r + k·a with T4 ≠ −[k]T8: only the cofactored equation holds; cairn is cofactorless', source: `${CHALKIAS} 4`, ...f, error: 'BAD_SIGNATURE', cofactorless: false, cofactored: true })
  }
  {
    const f = forge('case-5', { r: nonce, aTorsion: 1n, want: (k) => k % 8n !== 0n })
    add({ name: 'invalid-mixed-order-a-prime-order-r-cofactored-only', description: 'A = [a]B + T8, R = [r]B, S = r + k·a with 8 ∤ k: only the cofactored equation holds (and only when [8] is applied to the points, not pre-reduced into k mod L)', source: `${CHALKIAS} 5`, ...f, error: 'BAD_SIGNATURE', cofactorless: false, cofactored: true })
  }
  {
    const f = forge('mixed-a-prime-r', { r: nonce, aTorsion: 1n, want: (k) => k % 8n === 0n })
    add({ name: 'valid-mixed-order-a-prime-order-r', description: 'A = [a]B + T8 (mixed order), R = [r]B, S = r + k·a with 8 | k: [k]T8 vanishes and the cofactorless equation holds; mixed-order keys are not refused', source: 'encoding.md §4.2', ...f, cofactorless: true, cofactored: true })
  }
  {
    const f = forge('prime-a-mixed-r', { r: nonce, rTorsion: 1n, want: () => true })
    add({ name: 'invalid-prime-order-a-mixed-order-r', description: 'A = [a]B, R = [r]B + T8, S = r + k·a: [S]B − [k]A = [r]B ≠ R, only the cofactored equation holds', source: 'encoding.md §4.2', ...f, error: 'BAD_SIGNATURE', cofactorless: false, cofactored: true })
  }

  // Every small-order R, the cofactorless equation holding (mixed-order A whose torsion cancels it).
  for (let j = 0n; j < 8n; j++) {
    const f = j === 0n ? forge(`small-r-${j}`, { r: 0n, want: () => true }) : forge(`small-r-${j}`, { r: 0n, aTorsion: 1n, rTorsion: j, want: cancels(j, 1n) })
    add({ name: `invalid-small-order-r-${j}`, description: `R = [${j}]T8 = ${toHex(f.signature.subarray(0, 32))} (small order), S = k·a under ${j === 0n ? 'a prime-order' : 'a mixed-order'} A: the cofactorless equation holds; R of small order is refused`, source: 'encoding.md §4.2 step 3', ...f, error: 'BAD_SIGNATURE', cofactorless: true, cofactored: true })
  }

  // Chalkias et al. 8–9 and the other non-canonical encodings of small-order R: the equation holds
  // on the decoded points; only comparing encodings (or refusing y ≥ p) rejects them.
  const withSign = (b: Uint8Array): Uint8Array => { const c = new Uint8Array(b); c[31]! |= 0x80; return c }
  const nonCanonicalR: [string, Uint8Array][] = [
    ['y-p', bigToLe(P)], // y = p ≡ 0: a point of order 4
    ['y-p-sign', withSign(bigToLe(P))],
    ['y-p-plus-1', bigToLe(P + 1n)], // y = p + 1 ≡ 1: the identity
    ['y-p-plus-1-sign', withSign(bigToLe(P + 1n))],
    ['identity-sign', withSign(bigToLe(1n))], // x = 0 with the sign bit set
    ['order-2-sign', withSign(bigToLe(P - 1n))],
  ]
  for (const [label, bytes] of nonCanonicalR) {
    const decoded = looseDecode(bytes)
    if (!decoded) continue // noble refuses this one; the others still cover the class
    const j = torsionIndex(decoded)
    for (const hashReduced of label === 'y-p' ? [true, false] : [false]) {
      const f = forge(`nc-r-${label}-${hashReduced}`, { r: 0n, aTorsion: 1n, rTorsion: j, rBytes: bytes, hashReduced, want: cancels(j, 1n) })
      const which = label === 'y-p' ? ` (k over the ${hashReduced ? 'canonical re-encoding of R' : 'bytes of R as sent'})` : ''
      add({ name: `invalid-non-canonical-r-${label}${label === 'y-p' ? (hashReduced ? '-reduced-hash' : '-raw-hash') : ''}`, description: `R = ${toHex(bytes)}, a non-canonical encoding of a small-order point, under a mixed-order A whose torsion cancels it${which}: the equation holds on the decoded points; R's encoding never equals a computed one`, source: label === 'y-p' ? `${CHALKIAS} ${hashReduced ? 8 : 9}` : 'encoding.md §4.2 step 4', ...f, hashR: f.hashR, hashA: f.hashA, error: 'BAD_SIGNATURE', cofactorless: true, cofactored: true })
    }
  }

  // Chalkias et al. 10–11: a non-canonical A (y ≥ p: only points with y < 19 have one; here the order-4 point y = 0).
  for (const hashReduced of [true, false]) {
    const aBytes = bigToLe(P)
    const jA = torsionIndex(looseDecode(aBytes)!)
    const f = forge(`nc-a-${hashReduced}`, { r: nonce, a: 0n, aTorsion: jA, rTorsion: 2n, aBytes, hashReduced, want: cancels(2n, jA) })
    add({ name: `invalid-non-canonical-a-${hashReduced ? 'reduced' : 'raw'}-hash`, description: `A = ${toHex(aBytes)} (y = p, the order-4 point y = 0), R = [r]B + T4, S = r, k over the ${hashReduced ? 'canonical re-encoding of A' : 'bytes of A as sent'}: the equation holds on the decoded points; a key with y ≥ p is refused`, source: `${CHALKIAS} ${hashReduced ? 10 : 11}`, ...f, error: 'BAD_PUBLIC_KEY', cofactorless: true, cofactored: true })
  }

  // Keys: the 8 small-order encodings, their non-canonical forms, not on the curve, y ≥ p of a full point.
  const good = rfcSign(vectorSeed('ed25519/signer'), utf8('cairn-ed25519-vector/keys'))
  const keyCase = (name: string, description: string, A: Uint8Array) => add({ name, description, source: 'encoding.md §4.2 step 1', publicKey: A, message: utf8('cairn-ed25519-vector/keys'), signature: good.sig, error: 'BAD_PUBLIC_KEY' })
  for (let j = 0n; j < 8n; j++) {
    const A = torsion(j).toBytes()
    keyCase(`invalid-public-key-small-order-${j}`, `A = [${j}]T8 = ${toHex(A)}, a point of small order`, A)
  }
  for (const [label, bytes] of [['y-p-plus-1', bigToLe(P + 1n)], ['identity-sign', hex('01' + '00'.repeat(30) + '80')], ['order-2-sign', hex('ec' + 'ff'.repeat(30) + 'ff')]] as const) {
    keyCase(`invalid-public-key-non-canonical-${label}`, `A = ${toHex(bytes)}, a non-canonical encoding of a point of small order`, bytes)
  }
  for (let y = 2n; y < 19n; y++) {
    const p = looseDecode(bigToLe(y))
    if (p && !p.isSmallOrder()) {
      keyCase('invalid-public-key-non-canonical-y', `A = y + p for y = ${y}: the point y = ${y} (not of small order) encoded with y ≥ p`, bigToLe(y + P))
      break
    }
  }
  for (let y = 2n; ; y++) {
    if (!looseDecode(bigToLe(y))) {
      keyCase('invalid-public-key-not-on-curve', `A = ${toHex(bigToLe(y))}: no x for y = ${y}`, bigToLe(y))
      break
    }
  }
  keyCase('invalid-public-key-all-ff', 'A = ff…ff: y ≥ p', hex('ff'.repeat(32)))
  {
    let y = 2n
    while (looseDecode(bigToLe(y))) y++
    const sig = concat(bigToLe(y), good.sig.subarray(32))
    add({ name: 'invalid-r-not-on-curve', description: `R = ${toHex(bigToLe(y))}: no point has y = ${y}`, source: 'encoding.md §4.2 step 4', publicKey: good.A, message: utf8('cairn-ed25519-vector/keys'), signature: sig, error: 'BAD_SIGNATURE' })
  }
  add({ name: 'valid-signer', description: 'a plain signature by the key of seed SHA-256("cairn/vectors/ed25519/signer")', source: 'RFC 8032 §5.1.6', publicKey: good.A, message: utf8('cairn-ed25519-vector/keys'), signature: good.sig, seed: vectorSeed('ed25519/signer'), cofactorless: true })
  return out
}

/** Throws unless each case's equations hold as its fields say. */
function check(c: Case): void {
  if (c.signature.length !== 64) return
  if (c.cofactorless !== undefined && equation(c.publicKey, c.message, c.signature, false, c.hashR, c.hashA) !== c.cofactorless) throw new Error(`${c.name}: cofactorless equation is not ${c.cofactorless}`)
  if (c.cofactored !== undefined && equation(c.publicKey, c.message, c.signature, true, c.hashR, c.hashA) !== c.cofactored) throw new Error(`${c.name}: cofactored equation is not ${c.cofactored}`)
  if (c.seed && toHex(rfcSign(c.seed, c.message).sig) !== toHex(c.signature)) throw new Error(`${c.name}: not the signature of its seed`)
}

export function ed25519Cases(): VectorCase[] {
  return cases().map((c) => {
    check(c)
    return {
      name: c.name,
      data: {
        description: c.description,
        source: c.source,
        public_key: toHex(c.publicKey),
        message: toHex(c.message),
        signature: toHex(c.signature),
        ...(c.seed ? { seed: toHex(c.seed) } : {}),
        valid: c.error === undefined,
        ...(c.error ? { error: c.error } : {}),
      },
    }
  })
}
