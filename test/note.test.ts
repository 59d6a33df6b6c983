import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { concat, sha256, toBase64, utf8 } from '../protocol/bytes.ts'
import { sign } from '../protocol/ed25519.ts'
import {
  appendSignatureLines,
  isValidKeyName,
  keyId,
  keyIdHex,
  noteVerifier,
  openNote,
  parseNote,
  parseVerifierKey,
  signNote,
  verifierKey,
  MAX_NOTE_SIGNATURES,
  SIG_TYPE_ED25519,
} from '../protocol/note.ts'
import { vectorKey } from '../spec/gen/seeds.ts'
import { throws as throwsCode } from './helpers.ts'


const alice = { name: 'example.com/alice', ...vectorKey('note-test/alice') }
const bob = { name: 'example.com/bob', ...vectorKey('note-test/bob') }
const aliceVkey = verifierKey(alice.name, alice.publicKey)
const bobVkey = verifierKey(bob.name, bob.publicKey)
const body = 'hello\nworld\n'

test('spec example: vkey and note from c2sp.org/signed-note verify', () => {
  const vk = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'
  const k = parseVerifierKey(vk)
  assert.is(k.name, 'example.com/foo')
  assert.is(keyIdHex(k.keyId), '530d903a')
  assert.is(k.type, SIG_TYPE_ED25519)
  assert.is(verifierKey(k.name, k.publicKey), vk)
  const note =
    'This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n'
  const opened = openNote(note, [vk])
  assert.is(opened.body, 'This is an example message.\n')
  assert.is(opened.verified.length, 1)
  assert.is(opened.verified[0]!.vkey, vk)
})

test('key ID is SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]', () => {
  const h = sha256(utf8(alice.name), new Uint8Array([0x0a, 0x01]), alice.publicKey)
  const want = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0
  assert.is(keyId(alice.name, 1, alice.publicKey), want)
  assert.is.not(keyId(alice.name, 4, alice.publicKey), want)
  assert.is(aliceVkey, `${alice.name}+${keyIdHex(want)}+${toBase64(concat(new Uint8Array([1]), alice.publicKey))}`)
})

test('parseVerifierKey rejects malformed keys', () => {
  const [name, id, b64] = aliceVkey.split('+') as [string, string, string]
  const cases: Array<[string, string]> = [
    ['no pluses', 'example.com'],
    ['one plus', `${name}+${id}`],
    ['empty name', `+${id}+${b64}`],
    ['name with space', `a b+${id}+${b64}`],
    ['uppercase key ID', `${name}+${id.toUpperCase()}+${b64}`],
    ['short key ID', `${name}+${id.slice(1)}+${b64}`],
    ['wrong key ID', `${name}+00000000+${b64}`],
    ['bad base64', `${name}+${id}+${b64.slice(0, -1)}!`],
    ['truncated key', `${name}+${id}+${toBase64(concat(new Uint8Array([1]), alice.publicKey.subarray(0, 31)))}`],
    ['unsupported type', verifierKeyRaw(name, 0x02, alice.publicKey)],
    ['small-order key', verifierKeyRaw(name, 0x01, new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? 1 : 0)))],
  ]
  for (const [what, vk] of cases) throwsCode(() => parseVerifierKey(vk), 'BAD_VERIFIER_KEY', what)
  throwsCode(() => noteVerifier(verifierKey(name, alice.publicKey, 0x04)), 'BAD_VERIFIER_KEY', 'cosignature key as note key')
})

/** A vkey with a correct key ID for any type/material (to reach the later checks). */
function verifierKeyRaw(name: string, type: number, pub: Uint8Array): string {
  return `${name}+${keyIdHex(keyId(name, type, pub))}+${toBase64(concat(new Uint8Array([type]), pub))}`
}

test('key names: non-empty, no Unicode spaces, no plus', () => {
  assert.ok(isValidKeyName('demo.cairn/eu-centre'))
  assert.ok(isValidKeyName('例え.jp/ログ'))
  for (const bad of ['', 'a b', 'a+b', 'a\tb', 'a\u00a0b', 'a\u0085b', 'a\u2003b', 'a\u3000b', 'a\ufeffb', 'x'.repeat(256)]) {
    assert.not.ok(isValidKeyName(bad), JSON.stringify(bad))
  }
})

test('signNote / openNote round trip with two signers', () => {
  const note = signNote(body, [alice, bob])
  assert.ok(note.startsWith(body + '\n— example.com/alice '))
  const both = openNote(note, [aliceVkey, bobVkey])
  assert.is(both.body, body)
  assert.equal(both.verified.map((v) => v.name), [alice.name, bob.name])
  const onlyBob = openNote(note, [bobVkey])
  assert.equal(onlyBob.verified.map((v) => v.name), [bob.name])
  assert.equal(onlyBob.unverified.map((v) => v.name), [alice.name])
})

test('openNote: no known signer is UNKNOWN_KEY; a bad known signature is BAD_SIGNATURE', () => {
  const note = signNote(body, [alice])
  throwsCode(() => openNote(note, [bobVkey]), 'UNKNOWN_KEY', 'other key')
  throwsCode(() => openNote(note, []), 'UNKNOWN_KEY', 'no keys')
  const tampered = note.replace('hello', 'hellO')
  throwsCode(() => openNote(tampered, [aliceVkey]), 'BAD_SIGNATURE', 'tampered body')
  // A valid signature by Alice does not excuse a bad one by Bob.
  const forged = signNote(body, [alice]) + signNote('other\n', [bob]).split('\n\n')[1]!
  throwsCode(() => openNote(forged, [aliceVkey, bobVkey]), 'BAD_SIGNATURE', 'bad second signature')
  assert.is(openNote(forged, [aliceVkey]).verified.length, 1, 'unknown bad signature is ignored')
})

test('openNote: same name, different key ID is an unknown key (ignored)', () => {
  const note = signNote(body, [alice])
  const sig = note.split('\n\n')[1]!.trim().split(' ')[2]!
  const raw = Buffer.from(sig, 'base64')
  raw[0]! ^= 0xff
  const wrongId = `${body}\n— ${alice.name} ${raw.toString('base64')}\n`
  throwsCode(() => openNote(wrongId, [aliceVkey]), 'UNKNOWN_KEY', 'wrong key ID')
  assert.is(parseNote(wrongId).signatures[0]!.keyId, (keyId(alice.name, 1, alice.publicKey) ^ 0xff000000) >>> 0)
})

test('openNote: duplicate identical signature lines count once', () => {
  const note = signNote(body, [alice])
  const line = note.split('\n\n')[1]!
  const dup = note + line
  const opened = openNote(dup, [aliceVkey])
  assert.is(opened.verified.length, 1)
  assert.is(opened.signatures.length, 2)
})

test('notes whose text has blank lines split at the last blank line', () => {
  const text = 'a\n\nb\n\n'
  const note = signNote(text, [alice])
  const opened = openNote(note, [aliceVkey])
  assert.is(opened.body, text)
})

test('malformed notes are MALFORMED_NOTE', () => {
  const good = signNote(body, [alice])
  const sigLine = good.split('\n\n')[1]!
  const b64 = sigLine.trim().split(' ')[2]!
  const cases: Array<[string, string | Uint8Array]> = [
    ['missing blank line', body + sigLine],
    ['no signatures', body + '\n'],
    ['no final newline', good.slice(0, -1)],
    ['trailing blank line', good + '\n'],
    ['trailing data', good + 'extra'],
    ['hyphen instead of em dash', good.replace('—', '-')],
    ['en dash instead of em dash', good.replace('—', '–')],
    ['no space after dash', good.replace('— ', '—')],
    ['two spaces', good.replace(`${alice.name} `, `${alice.name}  `)],
    ['no signature', `${body}\n— ${alice.name}\n`],
    ['empty signature', `${body}\n— ${alice.name} \n`],
    ['bad base64', good.replace(b64, b64.slice(0, -2) + '*=')],
    ['unpadded base64', good.replace(b64, b64.replace(/=+$/, ''))],
    ['non-canonical base64', `${body}\n— ${alice.name} AAAAAAB=\n`],
    ['signature shorter than 5 bytes', `${body}\n— ${alice.name} AAAAAA==\n`],
    ['name with plus', `${body}\n— a+b ${b64}\n`],
    ['empty name', `${body}\n—  ${b64}\n`],
    ['carriage return', good.replace('hello\n', 'hello\r\n')],
    ['tab', good.replace('hello', 'hel\tlo')],
    ['NUL', good.replace('hello', 'hel\u0000lo')],
    ['lone surrogate', good.replace('hello', 'hel\ud800lo')],
    ['invalid UTF-8', concat(new Uint8Array([0x68, 0xff, 0x0a]), utf8(good.slice(body.length)))],
    ['overlong UTF-8', concat(new Uint8Array([0xc0, 0xaf, 0x0a]), utf8(good.slice(body.length)))],
    ['UTF-8 surrogate', concat(new Uint8Array([0xed, 0xa0, 0x80, 0x0a]), utf8(good.slice(body.length)))],
  ]
  for (const [what, input] of cases) throwsCode(() => openNote(input, [aliceVkey]), 'MALFORMED_NOTE', what)
})

test('signature count and byte limits', () => {
  const line = signNote(body, [alice]).split('\n\n')[1]!
  const atLimit = body + '\n' + line.repeat(MAX_NOTE_SIGNATURES)
  assert.is(parseNote(atLimit).signatures.length, MAX_NOTE_SIGNATURES)
  throwsCode(() => parseNote(atLimit + line), 'MALFORMED_NOTE', '101 signatures')
  throwsCode(() => parseNote(signNote(body, [alice]), { maxSignatures: 0 }), 'MALFORMED_NOTE', 'custom cap')
  const note = signNote(body, [alice])
  throwsCode(() => parseNote(note, { maxBytes: 50 }), 'TOO_LARGE', 'string over budget')
  throwsCode(() => parseNote(utf8(note), { maxBytes: 50 }), 'TOO_LARGE', 'bytes over budget')
  // 16 signatures by distinct unknown keys must be accepted (spec minimum).
  const signers = Array.from({ length: 16 }, (_, i) => ({ name: `w${i}.example`, ...vectorKey(`note-test/w${i}`) }))
  const many = signNote(body, [alice, ...signers])
  assert.is(openNote(many, [aliceVkey]).unverified.length, 16)
})

test('signNote validates its input', () => {
  throwsCode(() => signNote('no newline', [alice]), 'MALFORMED_NOTE')
  throwsCode(() => signNote('bad\u0001\n', [alice]), 'MALFORMED_NOTE')
  throwsCode(() => signNote(body, []), 'BAD_FIELD')
  throwsCode(() => signNote(body, [{ name: 'has space', seed: alice.seed }]), 'BAD_FIELD')
})

test('signatures are plain Ed25519 over the note text', () => {
  const note = signNote(body, [alice])
  const s = parseNote(note).signatures[0]!
  assert.equal(s.sig, sign(alice.seed, utf8(body)))
})

test('appendSignatureLines adds new lines once', () => {
  const note = signNote(body, [alice])
  const bobLine = signNote(body, [bob]).split('\n\n')[1]!
  const both = appendSignatureLines(note, [bobLine, bobLine])
  assert.is(both, signNote(body, [alice, bob]))
  assert.is(appendSignatureLines(both, [bobLine]), both)
  throwsCode(() => appendSignatureLines(note, ['- bad line']), 'MALFORMED_NOTE')
})

test.run()
