import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type ErrorCode } from '../protocol/errors.ts'
import { toBase64, utf8 } from '../protocol/bytes.ts'
import { EMPTY_ROOT, leafHash } from '../protocol/hash.ts'
import { MerkleTree } from '../protocol/merkle.ts'
import { signNote, verifierKey } from '../protocol/note.ts'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import {
  decideAddCheckpoint,
  encodeAddCheckpointRequest,
  parseAddCheckpointRequest,
  MAX_CONSISTENCY_PROOF_LINES,
  type AddCheckpointDecision,
  type WitnessedLog,
} from '../protocol/witness-request.ts'
import { vectorKey } from '../spec/gen/seeds.ts'
import { throws as throwsCode } from './helpers.ts'


const origin = 'test.cairn/eu-centre'
const log = { name: origin, ...vectorKey('witness-test/log') }
const vkey = verifierKey(origin, log.publicKey)
const tree = MerkleTree.from(Array.from({ length: 9 }, (_, i) => leafHash(utf8(`e${i}`))))
const signedAt = (size: number) => signCheckpoint({ origin, size, root: size === 0 ? EMPTY_ROOT : tree.root(size) }, log)

function decide(body: string, last?: { size: number }): AddCheckpointDecision {
  const state: WitnessedLog = { vkey, ...(last ? { last: { size: last.size, root: last.size === 0 ? EMPTY_ROOT : tree.root(last.size) } } : {}) }
  return decideAddCheckpoint(body, (o) => (o === origin ? state : undefined))
}

function request(oldSize: number, newSize: number, over: { proof?: Uint8Array[]; checkpoint?: string } = {}): string {
  return encodeAddCheckpointRequest({
    oldSize,
    proof: over.proof ?? (oldSize === 0 ? [] : tree.consistencyProof(oldSize, newSize)),
    checkpoint: over.checkpoint ?? signedAt(newSize),
  })
}

test('spec example request parses', () => {
  const body = `old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
`
  const r = parseAddCheckpointRequest(body)
  assert.is(r.oldSize, 20852014)
  assert.is(r.proof.length, 4)
  assert.is(toBase64(r.proof[0]!), 'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=')
  assert.ok(r.checkpoint.startsWith('example.com/behind-the-sofa\n'))
  assert.is(encodeAddCheckpointRequest(r), body)
})

test('malformed requests are BAD_FIELD (framing) or MALFORMED_NOTE (checkpoint)', () => {
  const good = request(5, 9)
  const h = toBase64(tree.consistencyProof(5, 9)[0]!)
  const cases: Array<[string, string, ErrorCode]> = [
    ['no old line', good.replace('old 5\n', ''), 'BAD_FIELD'],
    ['leading zero', good.replace('old 5', 'old 05'), 'BAD_FIELD'],
    ['old without size', good.replace('old 5', 'old '), 'BAD_FIELD'],
    ['bad hash', good.replace(h, 'not base64'), 'BAD_FIELD'],
    ['short hash', good.replace(h, toBase64(new Uint8Array(16))), 'BAD_FIELD'],
    ['too many proof lines', good.replace('old 5\n', 'old 5\n' + `${h}\n`.repeat(MAX_CONSISTENCY_PROOF_LINES + 1)), 'BAD_FIELD'],
    ['no empty line', 'old 0\n', 'BAD_FIELD'],
    ['checkpoint not a note', 'old 0\n\nhello\n', 'MALFORMED_NOTE'],
    ['trailing data', good + 'x', 'MALFORMED_NOTE'],
  ]
  for (const [what, body, code] of cases) {
    throwsCode(() => parseAddCheckpointRequest(body), code, what)
    const d = decide(body, { size: 5 })
    assert.is(d.kind, 'malformed', what)
    assert.is(d.status, 400, what)
  }
  throwsCode(() => parseAddCheckpointRequest(good, 64), 'TOO_LARGE')
})

test('first contact: old 0 and an empty proof is accepted', () => {
  const d = decide(request(0, 9))
  assert.is(d.kind, 'ok')
  if (d.kind !== 'ok') return
  assert.is(d.checkpoint.size, 9)
  assert.is(d.body, `${origin}\n9\n${toBase64(tree.root(9))}\n`)
  assert.is(d.note, signedAt(9))
})

test('consistent growth is accepted; same size and root is accepted', () => {
  assert.is(decide(request(5, 9), { size: 5 }).kind, 'ok')
  assert.is(decide(request(9, 9, { proof: [] }), { size: 9 }).kind, 'ok')
  assert.is(decide(request(0, 0), undefined).kind, 'ok')
})

test('old size mismatch is 409 with the cosigned size as text/x.tlog.size', () => {
  const d = decide(request(3, 9), { size: 5 })
  assert.is(d.kind, 'conflict')
  if (d.kind !== 'conflict') return
  assert.is(d.status, 409)
  assert.is(d.size, 5)
  assert.is(d.responseBody, '5\n')
  assert.is(d.contentType, 'text/x.tlog.size')
  const never = decide(request(5, 9))
  assert.is(never.kind, 'conflict')
  if (never.kind === 'conflict') assert.is(never.responseBody, '0\n')
})

test('old size above the checkpoint size is 400', () => {
  const d = decide(request(9, 5, { proof: [] }), { size: 9 })
  assert.is(d.status, 400)
})

test('bad proofs are 422', () => {
  const p = tree.consistencyProof(5, 9)
  const cases: Array<[string, string, number]> = [
    ['truncated proof', request(5, 9, { proof: p.slice(0, -1) }), 5],
    ['wrong proof', request(5, 9, { proof: tree.consistencyProof(4, 9) }), 5],
    ['proof from size 0', request(0, 9, { proof: p }), 0],
    ['same size, different root', request(5, 5, { proof: [], checkpoint: signCheckpoint({ origin, size: 5, root: tree.root(6) }, log) }), 5],
    ['size 0 with non-empty root', request(0, 0, { checkpoint: signNote(`${origin}\n0\n${toBase64(tree.root(1))}\n`, [log]) }), 0],
  ]
  for (const [what, body, last] of cases) {
    const d = decide(body, last === 0 ? undefined : { size: last })
    assert.is(d.kind, 'bad-proof', `${what}: ${d.kind} ${'message' in d ? d.message : ''}`)
    assert.is(d.status, 422, what)
  }
})

test('unknown origin is 404, missing or bad log signature is 403', () => {
  const stranger = { name: 'test.cairn/unknown', ...vectorKey('witness-test/stranger') }
  const foreign = signCheckpoint({ origin: stranger.name, size: 9, root: tree.root(9) }, stranger)
  const d404 = decide(request(0, 9, { checkpoint: foreign }))
  assert.is(d404.kind, 'unknown-origin')
  assert.is(d404.status, 404)
  // Signed under the right name by the wrong key.
  const impostor = signCheckpoint({ origin, size: 9, root: tree.root(9) }, { name: origin, seed: stranger.seed })
  const d403 = decide(request(0, 9, { checkpoint: impostor }))
  assert.is(d403.kind, 'forbidden')
  assert.is(d403.status, 403)
  assert.is(d403.kind === 'forbidden' && d403.code, 'UNKNOWN_KEY')
  const tampered = signedAt(9).replace(toBase64(tree.root(9)), toBase64(tree.root(8)))
  const bad = decide(request(0, 9, { checkpoint: tampered }))
  assert.is(bad.status, 403)
  assert.is(bad.kind === 'forbidden' && bad.code, 'BAD_SIGNATURE')
})

test('extra signatures on the submitted checkpoint are ignored', () => {
  const other = { name: 'test.cairn/c3p', ...vectorKey('witness-test/other') }
  const cp = signNote(`${origin}\n9\n${toBase64(tree.root(9))}\n`, [log, other])
  assert.is(decide(request(0, 9, { checkpoint: cp })).kind, 'ok')
})

test.run()
