import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { concat, sha256, utf8 } from '../protocol/bytes.ts'
import { sign, verify } from '../protocol/ed25519.ts'
import { formatSignatureLine, keyId, openNote, parseNote, parseSignatureLine, parseVerifierKey, verifierKey } from '../protocol/note.ts'
import { formatCheckpoint, openCheckpoint, signCheckpoint } from '../protocol/checkpoint.ts'
import {
  addCosignatures,
  cosign,
  cosignatureMessage,
  cosignatureTimestamp,
  cosignatureVerifier,
  verifyCosignature,
  verifyCosignatures,
  witnessKeyId,
  witnessVerifierKey,
} from '../protocol/cosignature.ts'
import { vectorKey, VECTOR_TIME_S } from '../spec/gen/seeds.ts'
import { throws as throwsCode } from './helpers.ts'


const origin = 'test.cairn/eu-centre'
const log = { name: origin, ...vectorKey('cosig-test/log') }
const logVkey = verifierKey(origin, log.publicKey)
const w1 = { name: 'test.cairn/ncmec', ...vectorKey('cosig-test/w1') }
const w2 = { name: 'test.cairn/c3p', ...vectorKey('cosig-test/w2') }
const w1Vkey = witnessVerifierKey(w1.name, w1.publicKey)
const w2Vkey = witnessVerifierKey(w2.name, w2.publicKey)
const cp = { origin, size: 5, root: sha256(utf8('five')) }
const body = formatCheckpoint(cp)
const note = signCheckpoint(cp, log)
const T = VECTOR_TIME_S

/** A cosignature line over an arbitrary decimal timestamp string (for out-of-range cases). */
function rawCosignature(w: typeof w1, tsBytes: Uint8Array, tsText: string, text = body): string {
  const sig = sign(w.seed, utf8(`cosignature/v1\ntime ${tsText}\n${text}`))
  return formatSignatureLine(w.name, witnessKeyId(w.name, w.publicKey), concat(tsBytes, sig))
}

function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, n)
  return b
}

test('spec example cosignature line: key ID, then the timestamp of its "time" line', () => {
  const line = '— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=='
  const s = parseSignatureLine(line)
  assert.is(s.name, 'witness.example.com/w1')
  assert.is(s.sig.length, 72)
  assert.is(cosignatureTimestamp(s.sig), 1679315147)
})

test('witness vkey uses type 0x04 and its own key ID', () => {
  const k = parseVerifierKey(w1Vkey)
  assert.is(k.type, 0x04)
  assert.is(k.keyId, keyId(w1.name, 0x04, w1.publicKey))
  assert.is.not(k.keyId, keyId(w1.name, 0x01, w1.publicKey))
})

test('cosign signs "cosignature/v1\\ntime T\\n" ‖ body; bytes are keyID ‖ ts(8, BE) ‖ sig', () => {
  const line = cosign(body, w1, T)
  assert.ok(line.startsWith(`— ${w1.name} `))
  assert.ok(line.endsWith('\n'))
  const s = parseNote(note + line).signatures[1]!
  assert.is(s.keyId, witnessKeyId(w1.name, w1.publicKey))
  assert.is(s.sig.length, 72)
  assert.is(new DataView(s.sig.buffer, s.sig.byteOffset).getBigUint64(0), BigInt(T))
  const msg = utf8(`cosignature/v1\ntime ${T}\n${origin}\n5\n${Buffer.from(cp.root).toString('base64')}\n`)
  assert.equal(cosignatureMessage(body, T), msg)
  assert.ok(verify(w1.publicKey, msg, s.sig.subarray(8)))
})

test('verifyCosignature accepts a good line and rejects wrong witness, body, tampering', () => {
  const line = cosign(body, w1, T)
  const c = verifyCosignature(body, line, w1Vkey)
  assert.is(c.timestamp, T)
  assert.is(c.name, w1.name)
  assert.is(c.vkey, w1Vkey)
  throwsCode(() => verifyCosignature(body, line, w2Vkey), 'BAD_COSIGNATURE', 'other witness')
  throwsCode(() => verifyCosignature(formatCheckpoint({ ...cp, size: 6 }), line, w1Vkey), 'BAD_COSIGNATURE', 'other checkpoint')
  const tsTampered = rawCosignature(w1, u64(BigInt(T + 1)), String(T))
  throwsCode(() => verifyCosignature(body, tsTampered, w1Vkey), 'BAD_COSIGNATURE', 'timestamp changed after signing')
  throwsCode(() => verifyCosignature(body, line, logVkey), 'BAD_VERIFIER_KEY', 'log key is not a witness key')
  throwsCode(() => verifyCosignature(body, line, w1Vkey, { now: T - 1 }), 'BAD_COSIGNATURE', 'future timestamp')
  assert.is(verifyCosignature(body, line, w1Vkey, { now: T }).timestamp, T)
})

test('timestamps beyond 2^63 - 1 and beyond 2^53 are rejected even when signed', () => {
  const over63 = rawCosignature(w1, u64(1n << 63n), (1n << 63n).toString())
  throwsCode(() => verifyCosignature(body, over63, w1Vkey), 'BAD_COSIGNATURE', '2^63')
  const over53 = rawCosignature(w1, u64(1n << 53n), (1n << 53n).toString())
  throwsCode(() => verifyCosignature(body, over53, w1Vkey), 'BAD_COSIGNATURE', '2^53')
  const zero = rawCosignature(w1, u64(0n), '0')
  assert.is(verifyCosignature(body, zero, w1Vkey).timestamp, 0, 'a zero timestamp verifies (the cosignature spec allows it)')
})

test('wrong signature length is BAD_COSIGNATURE', () => {
  const plain = formatSignatureLine(w1.name, witnessKeyId(w1.name, w1.publicKey), sign(w1.seed, cosignatureMessage(body, T)))
  throwsCode(() => verifyCosignature(body, plain, w1Vkey), 'BAD_COSIGNATURE', 'missing timestamp')
  const long = formatSignatureLine(w1.name, witnessKeyId(w1.name, w1.publicKey), concat(u64(BigInt(T)), sign(w1.seed, cosignatureMessage(body, T)), new Uint8Array(1)))
  throwsCode(() => verifyCosignature(body, long, w1Vkey), 'BAD_COSIGNATURE', 'extra byte')
})

test('cosign refuses bad input', () => {
  throwsCode(() => cosign(body, w1, 0), 'BAD_FIELD', 'zero')
  throwsCode(() => cosign(body, w1, 1.5), 'BAD_FIELD', 'fraction')
  throwsCode(() => cosign('no newline', w1, T), 'MALFORMED_NOTE', 'body')
})

test('cosignatures on a note: add, collect, quorum', () => {
  const cosigned = addCosignatures(note, [cosign(body, w1, T), cosign(body, w2, T + 5)])
  const all = verifyCosignatures(cosigned, [w1Vkey, w2Vkey], { quorum: 2 })
  assert.equal(all.map((c) => [c.name, c.timestamp]), [[w1.name, T], [w2.name, T + 5]])
  // The log signature still verifies and is found by openCheckpoint.
  const opened = openCheckpoint(cosigned, logVkey, { witnesses: [w1Vkey, w2Vkey], quorum: 2 })
  assert.is(opened.cosignatures.length, 2)
  // Unknown witnesses are ignored; a quorum counts known ones only.
  const onlyW1 = addCosignatures(note, [cosign(body, w1, T)])
  assert.is(verifyCosignatures(onlyW1, [w1Vkey, w2Vkey]).length, 1)
  throwsCode(() => verifyCosignatures(onlyW1, [w1Vkey, w2Vkey], { quorum: 2 }), 'BAD_COSIGNATURE', 'quorum')
  throwsCode(() => openCheckpoint(onlyW1, logVkey, { witnesses: [w2Vkey], quorum: 1 }), 'BAD_COSIGNATURE', 'unknown witness')
  // Duplicate lines count once.
  const dup = addCosignatures(note, [cosign(body, w1, T)]) + cosign(body, w1, T)
  assert.is(verifyCosignatures(dup, [w1Vkey]).length, 1)
  throwsCode(() => verifyCosignatures(dup, [w1Vkey], { quorum: 2 }), 'BAD_COSIGNATURE', 'duplicates are one witness')
})

test('a bad cosignature by a known witness rejects; by an unknown one is ignored', () => {
  const forgedTs = rawCosignature(w1, u64(BigInt(T + 1)), String(T))
  const bad = addCosignatures(note, [forgedTs])
  throwsCode(() => openCheckpoint(bad, logVkey, { witnesses: [w1Vkey] }), 'BAD_COSIGNATURE', 'known witness')
  assert.is(openCheckpoint(bad, logVkey, { witnesses: [w2Vkey] }).cosignatures.length, 0)
  assert.is(openCheckpoint(bad, logVkey).cosignatures.length, 0)
  // A witness key with the same name but another key is a different (unknown) key.
  const impostor = { name: w1.name, ...vectorKey('cosig-test/impostor') }
  const byImpostor = addCosignatures(note, [cosign(body, impostor, T)])
  throwsCode(() => openCheckpoint(byImpostor, logVkey, { witnesses: [w1Vkey], quorum: 1 }), 'BAD_COSIGNATURE', 'impostor')
})

test('a cosignature over a checkpoint with extension lines covers them', () => {
  const ext = formatCheckpoint({ ...cp, extensions: ['ext line'] })
  const line = cosign(ext, w1, T)
  verifyCosignature(ext, line, w1Vkey)
  throwsCode(() => verifyCosignature(body, line, w1Vkey), 'BAD_COSIGNATURE')
})

test('cosignatureVerifier plugs into openNote', () => {
  const cosigned = addCosignatures(note, [cosign(body, w1, T)])
  const opened = openNote(cosigned, [cosignatureVerifier(w1Vkey)])
  assert.equal(opened.verified.map((v) => v.name), [w1.name])
  const logOnly = openNote(cosigned, [logVkey])
  assert.is(logOnly.verified.length, 1)
  assert.is(logOnly.unverified.length, 1)
  throwsCode(() => cosignatureVerifier(logVkey), 'BAD_VERIFIER_KEY')
})

test('the witness key name may equal the log origin: key IDs keep them apart', () => {
  const self = { name: origin, ...vectorKey('cosig-test/self-witness') }
  const selfVkey = witnessVerifierKey(origin, self.publicKey)
  const cosigned = addCosignatures(note, [cosign(body, self, T)])
  const opened = openCheckpoint(cosigned, logVkey, { witnesses: [selfVkey], quorum: 1 })
  assert.is(opened.cosignatures[0]!.name, origin)
})

test.run()
