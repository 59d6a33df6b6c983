import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { toBase64, utf8 } from '../protocol/bytes.ts'
import { leafHash } from '../protocol/hash.ts'
import { MerkleTree } from '../protocol/merkle.ts'
import { verifierKey } from '../protocol/note.ts'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import { addCosignatures, cosign, witnessVerifierKey } from '../protocol/cosignature.ts'
import { encodeTlogProof, parseTlogProof, verifyTlogProof, verifyTlogProofForLeaf, MAX_TLOG_PROOF_HASHES } from '../protocol/tlog-proof.ts'
import { vectorKey, VECTOR_TIME_S } from '../spec/gen/seeds.ts'
import { throws as throwsCode } from './helpers.ts'


const origin = 'test.cairn/eu-centre'
const log = { name: origin, ...vectorKey('tlog-proof-test/log') }
const vkey = verifierKey(origin, log.publicKey)
const witness = { name: 'test.cairn/ncmec', ...vectorKey('tlog-proof-test/witness') }
const witnessVkey = witnessVerifierKey(witness.name, witness.publicKey)

const entries = Array.from({ length: 13 }, (_, i) => utf8(`entry ${i}`))
const tree = MerkleTree.from(entries.map(leafHash))
const size = tree.size
const checkpoint = signCheckpoint({ origin, size, root: tree.root() }, log)

function proofFor(index: number, over: Partial<{ proof: Uint8Array[]; checkpoint: string; extra: Uint8Array }> = {}): string {
  return encodeTlogProof({ index, proof: tree.inclusionProof(index), checkpoint, ...over })
}

test('encode / parse / verify every index', () => {
  for (let i = 0; i < size; i++) {
    const text = proofFor(i)
    const p = parseTlogProof(text)
    assert.is(p.index, i)
    assert.is(p.checkpoint, checkpoint)
    assert.is(encodeTlogProof(p), text)
    const v = verifyTlogProof(text, entries[i]!, vkey)
    assert.is(v.index, i)
    assert.is(v.checkpoint.size, size)
    assert.equal(v.leafHash, leafHash(entries[i]!))
  }
})

test('layout matches c2sp.org/tlog-proof', () => {
  const text = proofFor(3, { extra: utf8('hello') })
  const lines = text.split('\n')
  assert.is(lines[0], 'c2sp.org/tlog-proof@v1')
  assert.is(lines[1], `extra ${toBase64(utf8('hello'))}`)
  assert.is(lines[2], 'index 3')
  const hashes = tree.inclusionProof(3).map(toBase64)
  assert.equal(lines.slice(3, 3 + hashes.length), hashes)
  assert.is(lines[3 + hashes.length], '')
  assert.ok(text.endsWith('\n\n' + checkpoint.split('\n\n')[1]))
  assert.equal(verifyTlogProof(text, entries[3]!, vkey).extra, utf8('hello'))
})

test('an empty extra line is accepted and round-trips', () => {
  const text = proofFor(2, { extra: new Uint8Array(0) })
  assert.ok(text.includes('\nextra \nindex 2\n'))
  const p = parseTlogProof(text)
  assert.equal(p.extra, new Uint8Array(0))
  assert.is(encodeTlogProof(p), text)
  verifyTlogProof(text, entries[2]!, vkey)
})

test('a single-entry tree has an empty proof', () => {
  const one = MerkleTree.from([leafHash(entries[0]!)])
  const cp = signCheckpoint({ origin, size: 1, root: one.root() }, log)
  const text = encodeTlogProof({ index: 0, proof: [], checkpoint: cp })
  assert.ok(text.startsWith('c2sp.org/tlog-proof@v1\nindex 0\n\n'))
  verifyTlogProof(text, entries[0]!, vkey)
})

test('wrong entry, index, truncated or padded proof are BAD_PROOF', () => {
  throwsCode(() => verifyTlogProof(proofFor(4), entries[5]!, vkey), 'BAD_PROOF', 'wrong entry')
  const p = tree.inclusionProof(4)
  throwsCode(() => verifyTlogProof(encodeTlogProof({ index: 5, proof: p, checkpoint }), entries[4]!, vkey), 'BAD_PROOF', 'wrong index')
  throwsCode(() => verifyTlogProof(proofFor(4, { proof: p.slice(0, -1) }), entries[4]!, vkey), 'BAD_PROOF', 'truncated')
  throwsCode(() => verifyTlogProof(proofFor(4, { proof: [...p, p[0]!] }), entries[4]!, vkey), 'BAD_PROOF', 'extra hash')
  const swapped = [p[1]!, p[0]!, ...p.slice(2)]
  throwsCode(() => verifyTlogProof(proofFor(4, { proof: swapped }), entries[4]!, vkey), 'BAD_PROOF', 'reordered')
  throwsCode(() => verifyTlogProof(encodeTlogProof({ index: size, proof: p, checkpoint }), entries[4]!, vkey), 'BAD_PROOF', 'index = size')
  throwsCode(() => verifyTlogProofForLeaf(proofFor(4), entries[4]!, vkey), 'BAD_PROOF', 'entry given as leaf hash')
})

test('checkpoint problems surface with their own codes', () => {
  const other = vectorKey('tlog-proof-test/other')
  throwsCode(() => verifyTlogProof(proofFor(1), entries[1]!, verifierKey(origin, other.publicKey)), 'UNKNOWN_KEY', 'wrong key')
  throwsCode(() => verifyTlogProof(proofFor(1), entries[1]!, verifierKey('test.cairn/other', log.publicKey)), 'WRONG_ORIGIN', 'wrong origin')
  const lied = checkpoint.replace(`\n${size}\n`, `\n${size + 1}\n`)
  throwsCode(() => verifyTlogProof(proofFor(1, { checkpoint: lied }), entries[1]!, vkey), 'BAD_SIGNATURE', 'tampered size')
})

test('cosignature policy applies to the embedded checkpoint', () => {
  const body = checkpoint.split('\n\n')[0]! + '\n'
  const cosigned = addCosignatures(checkpoint, [cosign(body, witness, VECTOR_TIME_S)])
  const v = verifyTlogProof(proofFor(2, { checkpoint: cosigned }), entries[2]!, vkey, { witnesses: [witnessVkey], quorum: 1 })
  assert.is(v.cosignatures.length, 1)
  throwsCode(() => verifyTlogProof(proofFor(2), entries[2]!, vkey, { witnesses: [witnessVkey], quorum: 1 }), 'BAD_COSIGNATURE', 'missing')
})

test('malformed proofs are MALFORMED_PROOF', () => {
  const good = proofFor(6)
  const [head, rest] = [good.slice(0, good.indexOf('\n\n') + 1), good.slice(good.indexOf('\n\n') + 1)]
  const h = toBase64(tree.inclusionProof(6)[0]!)
  const cases: Array<[string, string | Uint8Array]> = [
    ['empty', ''],
    ['wrong header', good.replace('c2sp.org/tlog-proof@v1', 'c2sp.org/tlog-proof@v2')],
    ['missing index', good.replace('index 6\n', '')],
    ['index with leading zero', good.replace('index 6', 'index 06')],
    ['negative index', good.replace('index 6', 'index -6')],
    ['index too large', good.replace('index 6', 'index 9007199254740992')],
    ['index without space', good.replace('index 6', 'index\t6')],
    ['bad extra', good.replace('index 6', 'extra !!\nindex 6')],
    ['extra after index', good.replace('index 6\n', 'index 6\nextra aGk=\n')],
    ['short hash', good.replace(h, toBase64(new Uint8Array(31)))],
    ['unpadded hash', good.replace(h, h.replace('=', ''))],
    ['no blank line before checkpoint', head + rest.slice(1)],
    ['no checkpoint', head + '\n'],
    ['too many hashes', good.replace('index 6\n', 'index 6\n' + `${h}\n`.repeat(MAX_TLOG_PROOF_HASHES + 1))],
    ['invalid UTF-8', new Uint8Array([0xff, 0x0a])],
  ]
  for (const [what, text] of cases) throwsCode(() => parseTlogProof(text), 'MALFORMED_PROOF', what)
  throwsCode(() => parseTlogProof(good + 'trailing'), 'MALFORMED_NOTE', 'trailing data after the checkpoint')
  throwsCode(() => parseTlogProof(good.replace(/\n\n— /, '\n— ')), 'MALFORMED_NOTE', 'checkpoint without blank line')
  throwsCode(() => parseTlogProof(good, 100), 'TOO_LARGE', 'byte budget')
})

test.run()
