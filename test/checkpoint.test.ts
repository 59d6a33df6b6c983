import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { sha256, toBase64, utf8 } from '../protocol/bytes.ts'
import { EMPTY_ROOT } from '../protocol/hash.ts'
import { signNote, verifierKey } from '../protocol/note.ts'
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../protocol/checkpoint.ts'
import { vectorKey } from '../spec/gen/seeds.ts'
import { throws as throwsCode } from './helpers.ts'


const origin = 'test.cairn/eu-centre'
const log = { name: origin, ...vectorKey('checkpoint-test/log') }
const vkey = verifierKey(origin, log.publicKey)
const root = sha256(utf8('root'))
const b64 = toBase64(root)

test('spec example checkpoint body parses', () => {
  const cp = parseCheckpoint('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n')
  assert.is(cp.origin, 'example.com/behind-the-sofa')
  assert.is(cp.size, 20852163)
  assert.is(toBase64(cp.root), 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=')
  assert.is(cp.extensions, undefined)
})

test('format / parse round trip, with and without extension lines', () => {
  const body = formatCheckpoint({ origin, size: 42, root })
  assert.is(body, `${origin}\n42\n${b64}\n`)
  assert.equal(parseCheckpoint(body), { origin, size: 42, root })
  const ext = formatCheckpoint({ origin, size: 42, root, extensions: ['a b c', '— x'] })
  assert.is(ext, `${origin}\n42\n${b64}\na b c\n— x\n`)
  assert.equal(parseCheckpoint(ext).extensions, ['a b c', '— x'])
  assert.is(formatCheckpoint({ origin, size: 0, root: EMPTY_ROOT }), `${origin}\n0\n${toBase64(EMPTY_ROOT)}\n`)
})

test('malformed checkpoint bodies are MALFORMED_CHECKPOINT', () => {
  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['two lines', `${origin}\n42\n`],
    ['no final newline', `${origin}\n42\n${b64}`],
    ['empty origin', `\n42\n${b64}\n`],
    ['leading zero', `${origin}\n042\n${b64}\n`],
    ['plus sign', `${origin}\n+42\n${b64}\n`],
    ['negative', `${origin}\n-1\n${b64}\n`],
    ['hex size', `${origin}\n0x2a\n${b64}\n`],
    ['space in size', `${origin}\n 42\n${b64}\n`],
    ['size beyond 2^53', `${origin}\n9007199254740992\n${b64}\n`],
    ['empty size', `${origin}\n\n${b64}\n`],
    ['short root', `${origin}\n42\n${toBase64(root.subarray(0, 31))}\n`],
    ['long root', `${origin}\n42\n${toBase64(new Uint8Array(33))}\n`],
    ['unpadded root', `${origin}\n42\n${b64.replace('=', '')}\n`],
    ['url-safe root', `${origin}\n42\n${toBase64(new Uint8Array(32).fill(0xfb))}\n`.replace(/\+/g, '-').replace(/\//g, '_')],
    ['non-canonical root', `${origin}\n42\n${b64.slice(0, 42)}B=\n`],
    ['empty extension line', `${origin}\n42\n${b64}\n\n`],
    ['carriage return', `${origin}\r\n42\n${b64}\n`],
  ]
  for (const [what, body] of cases) throwsCode(() => parseCheckpoint(body), 'MALFORMED_CHECKPOINT', what)
  throwsCode(() => parseCheckpoint(new Uint8Array([0xff, 0x0a, 0x30, 0x0a])), 'MALFORMED_CHECKPOINT', 'invalid UTF-8')
})

test('formatCheckpoint refuses invalid input', () => {
  throwsCode(() => formatCheckpoint({ origin: 'has space', size: 1, root }), 'MALFORMED_CHECKPOINT')
  throwsCode(() => formatCheckpoint({ origin, size: -1, root }), 'MALFORMED_CHECKPOINT')
  throwsCode(() => formatCheckpoint({ origin, size: 1.5, root }), 'MALFORMED_CHECKPOINT')
  throwsCode(() => formatCheckpoint({ origin, size: 1, root: root.subarray(1) }), 'MALFORMED_CHECKPOINT')
  throwsCode(() => formatCheckpoint({ origin, size: 1, root, extensions: [''] }), 'MALFORMED_CHECKPOINT')
})

test('signCheckpoint / openCheckpoint', () => {
  const note = signCheckpoint({ origin, size: 42, root }, log)
  const opened = openCheckpoint(note, vkey)
  assert.is(opened.checkpoint.size, 42)
  assert.equal(opened.checkpoint.root, root)
  assert.is(opened.body, `${origin}\n42\n${b64}\n`)
  assert.equal(opened.cosignatures, [])
  throwsCode(() => signCheckpoint({ origin: 'test.cairn/other', size: 1, root }, log), 'WRONG_ORIGIN')
})

test('openCheckpoint: wrong key, wrong origin, tampered size and root', () => {
  const note = signCheckpoint({ origin, size: 42, root }, log)
  const other = vectorKey('checkpoint-test/other')
  throwsCode(() => openCheckpoint(note, verifierKey(origin, other.publicKey)), 'UNKNOWN_KEY', 'wrong key')
  // Signed by the right key, but the body names another origin.
  const foreign = signNote(`test.cairn/other\n42\n${b64}\n`, [log])
  throwsCode(() => openCheckpoint(foreign, vkey), 'WRONG_ORIGIN', 'wrong origin')
  throwsCode(() => openCheckpoint(note.replace('\n42\n', '\n43\n'), vkey), 'BAD_SIGNATURE', 'tampered size')
  const otherRoot = toBase64(sha256(utf8('other')))
  throwsCode(() => openCheckpoint(note.replace(b64, otherRoot), vkey), 'BAD_SIGNATURE', 'tampered root')
  throwsCode(() => openCheckpoint(signNote(`${origin}\n042\n${b64}\n`, [log]), vkey), 'MALFORMED_CHECKPOINT', 'signed but malformed')
  throwsCode(() => openCheckpoint(note, verifierKey(origin, log.publicKey, 0x04)), 'BAD_VERIFIER_KEY', 'witness key as log key')
})

test('openCheckpoint: size 0 must carry the empty-tree root', () => {
  assert.is(openCheckpoint(signCheckpoint({ origin, size: 0, root: EMPTY_ROOT }, log), vkey).checkpoint.size, 0)
  throwsCode(() => openCheckpoint(signNote(`${origin}\n0\n${b64}\n`, [log]), vkey), 'MALFORMED_CHECKPOINT')
})

test('openCheckpoint ignores signatures by other keys, including other names', () => {
  const stranger = { name: 'someone.example', ...vectorKey('checkpoint-test/stranger') }
  const note = signNote(formatCheckpoint({ origin, size: 7, root }), [stranger, log])
  assert.is(openCheckpoint(note, vkey).note.verified.length, 1)
})

test.run()
