/**
 * spec/vectors/ed25519/: the strict rule (encoding.md §4.2) on every backend
 * that loads here (libsodium and node:crypto): each case has its stated
 * verdict on each, the files are what spec/gen/ed25519.ts writes, and cases
 * made from a seed are what each backend signs. The signature of every
 * entries/ vector gets the same verdict from both backends too.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fromHex, toHex } from '../protocol/bytes.ts'
import { availableBackends, ed25519Backend, sign, verify, type Ed25519Backend } from '../protocol/ed25519.ts'
import { decodeEntry, signedMessage } from '../protocol/entry.ts'
import { ed25519Cases } from '../spec/gen/ed25519.ts'
import { vectorFolder, assertGenerated, codeOf } from './helpers.ts'

interface Ed25519Vector {
  description: string
  source: string
  public_key: string
  message: string
  signature: string
  seed?: string
  valid: boolean
  error?: 'BAD_PUBLIC_KEY' | 'BAD_SIGNATURE'
}

const dir = new URL('../spec/vectors/ed25519', import.meta.url).pathname
const { files, load } = vectorFolder<Ed25519Vector>(dir)
const backends = availableBackends()

/** true, false, or the LedgerError code verify throws. */
function verdict(backend: Ed25519Backend, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean | string {
  let ok = false
  const code = codeOf(() => { ok = verify(publicKey, message, signature, backend) })
  return code === 'ACCEPTED' ? ok : code
}

test('both backends load here (sodium-native is a dependency), and the default is libsodium unless CAIRN_ED25519 says otherwise', () => {
  assert.equal(backends.map((b) => b.name), ['libsodium', 'node:crypto'])
  assert.is(ed25519Backend.name, process.env.CAIRN_ED25519 === 'node' ? 'node:crypto' : 'libsodium')
})

test('spec/vectors/ed25519 is what spec/gen/ed25519.ts generates', () => {
  assertGenerated(dir, files, ed25519Cases())
})

test('the set covers every class of the rule', () => {
  assert.ok(files.length >= 40, `${files.length} cases`)
  const names = files.map((f) => f.slice(0, -5))
  for (const n of names) assert.match(n, /^(valid|invalid)-[a-z0-9]+(-[a-z0-9]+)*$/)
  for (const want of [
    /^valid-rfc8032-test-/, /s-plus-l$/, /s-equals-l$/, /^invalid-small-order-r-/, /^invalid-public-key-small-order-/,
    /^invalid-non-canonical-r-/, /^invalid-non-canonical-a-/, /^valid-mixed-order-a-/, /cofactored-only$/, /^invalid-public-key-non-canonical-y$/,
  ]) assert.ok(names.some((n) => want.test(n)), String(want))
  // The 12 cases of "Taming the many EdDSAs".
  const sources = files.map((f) => load(f).source)
  for (let i = 0; i < 12; i++) assert.ok(sources.some((s) => s.endsWith(`case ${i}`)), `case ${i}`)
})

for (const f of files) {
  const v = load(f)
  test(`ed25519/${f.slice(0, -5)}`, () => {
    assert.is(f.startsWith('valid-'), v.valid)
    const want = v.valid ? true : v.error === 'BAD_SIGNATURE' ? false : v.error
    const A = fromHex(v.public_key), M = fromHex(v.message), S = fromHex(v.signature)
    for (const b of backends) assert.is(verdict(b, A, M, S), want, b.name)
    if (v.seed) for (const b of backends) assert.is(toHex(sign(fromHex(v.seed), M, b)), v.signature, `${b.name} signs`)
  })
}

test('every entries/ vector: the entry signature gets the same verdict from both backends', () => {
  const entries = vectorFolder<{ public_key: string; entry: string; valid: boolean; error?: string }>(new URL('../spec/vectors/entries', import.meta.url).pathname)
  let checked = 0
  for (const f of entries.files) {
    const v = entries.load(f)
    let decoded
    try {
      decoded = decodeEntry(fromHex(v.entry))
    } catch {
      continue // not an entry: the signature is never looked at
    }
    const verdicts = backends.map((b) => verdict(b, fromHex(v.public_key), signedMessage(decoded.recordBytes), decoded.signature))
    assert.ok(verdicts.every((x) => x === verdicts[0]), `${f}: ${verdicts.join(' / ')}`)
    if (v.valid) assert.is(verdicts[0], true, f)
    if (v.error === 'BAD_SIGNATURE') assert.is(verdicts[0], false, f)
    if (f.startsWith('invalid-public-key-')) assert.is(verdicts[0], 'BAD_PUBLIC_KEY', f)
    checked++
  }
  assert.ok(checked > 100, `${checked} entries checked`)
})

test.run()
