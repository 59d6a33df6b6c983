import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { toBase64, utf8 } from '../protocol/bytes.ts'
import { leafHash } from '../protocol/hash.ts'
import { MerkleTree } from '../protocol/merkle.ts'
import { verifierKey } from '../protocol/note.ts'
import { formatCheckpoint, signCheckpoint } from '../protocol/checkpoint.ts'
import { addCosignatures, cosign } from '../protocol/cosignature.ts'
import { encodeTlogProof } from '../protocol/tlog-proof.ts'
import {
  buildEquivocationProof,
  detectEquivocation,
  encodeEquivocationProof,
  parseEquivocationProof,
  verifyEquivocationProof,
  EQUIVOCATION_HEADER,
} from '../protocol/equivocation.ts'
import { vectorKey, VECTOR_TIME_S } from '../spec/gen/seeds.ts'
import { throws as throwsCode } from './helpers.ts'


// A non-ASCII origin checks that block lengths count bytes, not characters.
const origin = 'test.cairn/zürich'
const log = { name: origin, ...vectorKey('equivocation-test/log') }
const vkey = verifierKey(origin, log.publicKey)
const witness = { name: 'test.cairn/ncmec', ...vectorKey('equivocation-test/witness') }

// Two histories that agree on entries 0-4 and diverge from index 5.
const common = Array.from({ length: 5 }, (_, i) => utf8(`common ${i}`))
const entriesA = [...common, ...Array.from({ length: 4 }, (_, i) => utf8(`a ${i}`))]
const entriesB = [...common, ...Array.from({ length: 4 }, (_, i) => utf8(`b ${i}`))]
const treeA = MerkleTree.from(entriesA.map(leafHash))
const treeB = MerkleTree.from(entriesB.map(leafHash))
const cpA = (size: number) => signCheckpoint({ origin, size, root: treeA.root(size) }, log)
const cpB = (size: number) => signCheckpoint({ origin, size, root: treeB.root(size) }, log)
const proofA = (i: number, size: number) => encodeTlogProof({ index: i, proof: treeA.inclusionProof(i, size), checkpoint: cpA(size) })
const proofB = (i: number, size: number) => encodeTlogProof({ index: i, proof: treeB.inclusionProof(i, size), checkpoint: cpB(size) })

test('detectEquivocation finds same size, different root', () => {
  const text = detectEquivocation(cpA(9), cpB(9), vkey)
  assert.ok(text)
  assert.ok(text!.startsWith(`${EQUIVOCATION_HEADER}\nsame-size\ncheckpoint `))
  const v = verifyEquivocationProof(text!, vkey)
  assert.is(v.kind, 'same-size')
  assert.is(v.origin, origin)
  assert.is(v.checkpoints[0].size, 9)
  // Order of arguments and cosignatures do not change the canonical proof.
  const cosigned = addCosignatures(cpB(9), [cosign(formatCheckpoint({ origin, size: 9, root: treeB.root() }), witness, VECTOR_TIME_S)])
  assert.is(detectEquivocation(cosigned, cpA(9), vkey), text)
})

test('detectEquivocation returns null for consistent views', () => {
  assert.is(detectEquivocation(cpA(9), cpA(9), vkey), null)
  assert.is(detectEquivocation(cpA(9), cpB(7), vkey), null)
  assert.is(detectEquivocation(cpA(5), cpB(5), vkey), null, 'shared prefix has equal roots')
  const other = vectorKey('equivocation-test/other')
  throwsCode(() => detectEquivocation(cpA(9), cpB(9), verifierKey(origin, other.publicKey)), 'UNKNOWN_KEY')
})

test('same-index proofs: different leaves at one index under two checkpoints', () => {
  const la = leafHash(entriesA[6]!)
  const lb = leafHash(entriesB[6]!)
  const text = buildEquivocationProof({ kind: 'same-index', proofs: [{ leafHash: la, proof: proofA(6, 9) }, { leafHash: lb, proof: proofB(6, 7) }] }, vkey)
  const v = verifyEquivocationProof(text, vkey)
  assert.is(v.kind, 'same-index')
  assert.is(v.index, 6)
  assert.equal(new Set(v.checkpoints.map((c) => c.size)), new Set([7, 9]))
  // Canonical: input order and extra data do not matter.
  const withExtra = encodeTlogProof({ extra: utf8('x'), index: 6, proof: treeA.inclusionProof(6, 9), checkpoint: cpA(9) })
  const again = buildEquivocationProof({ kind: 'same-index', proofs: [{ leafHash: lb, proof: proofB(6, 7) }, { leafHash: la, proof: withExtra }] }, vkey)
  assert.is(again, text)
  const parsed = parseEquivocationProof(text)
  assert.is(encodeEquivocationProof(parsed), text)
})

test('evidence that shows no fork is NOT_EQUIVOCATION', () => {
  throwsCode(() => buildEquivocationProof({ kind: 'same-size', checkpoints: [cpA(9), cpB(7)] }, vkey), 'NOT_EQUIVOCATION', 'different sizes')
  throwsCode(() => buildEquivocationProof({ kind: 'same-size', checkpoints: [cpA(5), cpB(5)] }, vkey), 'NOT_EQUIVOCATION', 'same root')
  throwsCode(() => buildEquivocationProof({ kind: 'same-size', checkpoints: [cpA(9), cpA(9)] }, vkey), 'NOT_EQUIVOCATION', 'same note')
  const l3 = leafHash(entriesA[3]!)
  throwsCode(
    () => buildEquivocationProof({ kind: 'same-index', proofs: [{ leafHash: l3, proof: proofA(3, 9) }, { leafHash: l3, proof: proofB(3, 9) }] }, vkey),
    'NOT_EQUIVOCATION',
    'same leaf',
  )
  throwsCode(
    () =>
      buildEquivocationProof(
        { kind: 'same-index', proofs: [{ leafHash: leafHash(entriesA[6]!), proof: proofA(6, 9) }, { leafHash: leafHash(entriesB[7]!), proof: proofB(7, 9) }] },
        vkey,
      ),
    'NOT_EQUIVOCATION',
    'different indexes',
  )
  // A proof that does not include its leaf is not evidence at all.
  throwsCode(
    () =>
      buildEquivocationProof(
        { kind: 'same-index', proofs: [{ leafHash: leafHash(entriesA[6]!), proof: proofA(6, 9) }, { leafHash: leafHash(utf8('never logged')), proof: proofB(6, 9) }] },
        vkey,
      ),
    'BAD_PROOF',
    'leaf not included',
  )
})

test('verification needs only the log key, and the right one', () => {
  const text = detectEquivocation(cpA(9), cpB(9), vkey)!
  const other = vectorKey('equivocation-test/other')
  throwsCode(() => verifyEquivocationProof(text, verifierKey(origin, other.publicKey)), 'UNKNOWN_KEY', 'other key')
  throwsCode(() => verifyEquivocationProof(text, verifierKey('test.cairn/other', log.publicKey)), 'WRONG_ORIGIN', 'other origin')
})

test('parse is strict and canonical', () => {
  const text = detectEquivocation(cpA(9), cpB(9), vkey)!
  const p = parseEquivocationProof(text)
  assert.is(p.kind, 'same-size')
  if (p.kind !== 'same-size') return
  const [a, b] = p.checkpoints
  const n = (s: string) => utf8(s).length
  const cosignedA = addCosignatures(a, [cosign(a.split('\n\n')[0]! + '\n', witness, VECTOR_TIME_S)])
  const cases: Array<[string, string]> = [
    ['wrong header', text.replace(EQUIVOCATION_HEADER, 'cairn/equivocation/v2')],
    ['unknown kind', text.replace('same-size', 'other-kind')],
    ['swapped order', encodeEquivocationProof({ kind: 'same-size', checkpoints: [b, a] })],
    ['duplicate', encodeEquivocationProof({ kind: 'same-size', checkpoints: [a, a] })],
    ['trailing data', text + '\n'],
    ['truncated', text.slice(0, -1)],
    ['length too short', text.replace(`checkpoint ${n(a)}\n`, `checkpoint ${n(a) - 1}\n`)],
    ['length in characters', text.replace(`checkpoint ${n(a)}\n`, `checkpoint ${a.length}\n`)],
    ['leading zero length', text.replace(`checkpoint ${n(a)}\n`, `checkpoint 0${n(a)}\n`)],
    ['cosignatures kept', encodeEquivocationProof({ kind: 'same-size', checkpoints: [cosignedA, b] })],
    ['one checkpoint', `${EQUIVOCATION_HEADER}\nsame-size\ncheckpoint ${n(a)}\n${a}`],
    ['empty', ''],
  ]
  for (const [what, t] of cases) throwsCode(() => parseEquivocationProof(t), 'MALFORMED_PROOF', what)
  throwsCode(() => parseEquivocationProof(text, 100), 'TOO_LARGE', 'budget')

  const la = leafHash(entriesA[6]!)
  const lb = leafHash(entriesB[6]!)
  const [lo, hi] = Buffer.compare(Buffer.from(la), Buffer.from(lb)) < 0 ? [la, lb] : [lb, la]
  const pLo = lo === la ? proofA(6, 9) : proofB(6, 9)
  const pHi = lo === la ? proofB(6, 9) : proofA(6, 9)
  const good = encodeEquivocationProof({ kind: 'same-index', proofs: [{ leafHash: lo, proof: pLo }, { leafHash: hi, proof: pHi }] })
  assert.is(verifyEquivocationProof(good, vkey).index, 6)
  const idxCases: Array<[string, string]> = [
    ['leaves out of order', encodeEquivocationProof({ kind: 'same-index', proofs: [{ leafHash: hi, proof: pHi }, { leafHash: lo, proof: pLo }] })],
    ['bad leaf base64', good.replace(`leaf ${toBase64(lo)}`, 'leaf !!')],
    ['short leaf', good.replace(`leaf ${toBase64(lo)}`, `leaf ${toBase64(lo.subarray(1))}`)],
    [
      'extra data',
      encodeEquivocationProof({
        kind: 'same-index',
        proofs: [{ leafHash: lo, proof: pLo.replace('index 6', 'extra eA==\nindex 6') }, { leafHash: hi, proof: pHi }],
      }),
    ],
  ]
  for (const [what, t] of idxCases) throwsCode(() => parseEquivocationProof(t), 'MALFORMED_PROOF', what)
  // Swapping which leaf goes with which proof breaks inclusion.
  const crossed = encodeEquivocationProof({ kind: 'same-index', proofs: [{ leafHash: lo, proof: pHi }, { leafHash: hi, proof: pLo }] })
  throwsCode(() => verifyEquivocationProof(crossed, vkey), 'BAD_PROOF', 'crossed')
})

test.run()
