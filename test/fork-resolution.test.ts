/**
 * Fork resolution (spec/federation.md §10.10, protocol/fork-resolution.ts):
 * the resolve_fork record rule, how it applies (another member, M of N, the
 * standing checkpoint under the key valid at N - 1, a new key; key ranges as
 * a compromise from N), which equivocation proofs still freeze, and the
 * clear errors a node gives its operator for a proposal that would never
 * apply.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { signEntry } from '../protocol/entry.ts'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import { cosign } from '../protocol/cosignature.ts'
import { verifierKey, appendSignatureLines } from '../protocol/note.ts'
import { sha256, toHex, utf8 } from '../protocol/bytes.ts'
import { openEntryWithKeys, openCheckpointWithKeys } from '../protocol/log-keys.ts'
import { buildEquivocationProof } from '../protocol/equivocation.ts'
import { standingCheckpointText, isResolvedEquivocation } from '../protocol/fork-resolution.ts'
import { recordFromJson, validateRecord, type CairnRecord, type RosterRecord } from '../protocol/records.ts'
import { Roster } from '../protocol/roster.ts'
import { throws } from './helpers.ts'
import { threeMembers } from './support/three-members.ts'

const FED = 'fork.cairn'
const { log, wit, origin, genesis, header, next } = threeMembers(FED)
const leaf = (e: Uint8Array) => sha256(new Uint8Array([0, ...e]))
const cp = (seed: Uint8Array, size: number, tag = '') => signCheckpoint({ origin: origin('a'), size, root: sha256(utf8(`${tag}${size}`)) }, { name: origin('a'), seed })
const resolveFork = (writer: string, seq: number, checkpoint: string, key = next.publicKey) =>
  ({ ...header(writer, seq), type: 'roster', change: 'resolve_fork', member: 'a', checkpoint, key }) as CairnRecord

function feed(r: Roster, n: string, seq: number, record: CairnRecord, seed = log[n]!.seed): { id: Uint8Array; applied: boolean } {
  const e = signEntry(seed, record)
  const opened = openEntryWithKeys(e, r.logKeys(origin(n)), origin(n), seq)
  return { id: leaf(e), applied: r.observe(origin(n), leaf(e), opened.record, opened.signer) }
}

function resolved(standing = cp(log.a!.seed, 10)): { r: Roster; id: Uint8Array } {
  const r = new Roster(genesis)
  const { id } = feed(r, 'b', 0, resolveFork('b', 0, standing))
  assert.ok(feed(r, 'c', 0, { ...header('c', 0), type: 'attestation', target: id, opinion: 'confirm' } as CairnRecord).applied)
  return { r, id }
}

test('record rule: one signature line, the member\'s log, at least one entry', () => {
  const standing = cp(log.a!.seed, 10)
  const ok = validateRecord(resolveFork('b', 0, standing)) as RosterRecord
  assert.is(ok.change, 'resolve_fork')
  const w = cosign(standing.slice(0, standing.indexOf('\n\n') + 1), { name: origin('b'), seed: wit.b!.seed }, 1000)
  const cosigned = appendSignatureLines(standing, [w])
  throws(() => validateRecord(resolveFork('b', 0, cosigned)), 'BAD_ROSTER_CHANGE')
  assert.is(standingCheckpointText(cosigned), standing, 'the CLI drops the cosignatures')
  throws(() => validateRecord({ ...resolveFork('b', 0, signCheckpoint({ origin: origin('b'), size: 3, root: sha256(utf8('x')) }, { name: origin('b'), seed: log.b!.seed })) }), 'WRONG_ORIGIN')
  throws(() => validateRecord(resolveFork('b', 0, signCheckpoint({ origin: origin('a'), size: 0, root: sha256(new Uint8Array(0)) }, { name: origin('a'), seed: log.a!.seed }))), 'BAD_ROSTER_CHANGE')
  throws(() => validateRecord(resolveFork('b', 0, 'not a note')), 'MALFORMED_NOTE')
  throws(() => validateRecord({ ...resolveFork('b', 0, standing), from: 3 }), 'UNKNOWN_FIELD')
  throws(() => validateRecord({ ...resolveFork('b', 0, standing), witness_key: next.publicKey }), 'BAD_ROSTER_CHANGE')
  // JSON round trip (the CLI and vectors).
  const j = { ...resolveFork('b', 0, standing), key: toHex(next.publicKey) }
  assert.is((recordFromJson(j) as RosterRecord).change, 'resolve_fork')
})

test('applies like a compromise from N: old keys end at N, compromised; the new key signs from N', () => {
  const { r, id } = resolved()
  const keys = r.logKeys(origin('a'))
  assert.equal(keys.map((k) => [k.from, k.until, k.compromised ?? false]), [[10, undefined, false], [0, 10, true]])
  assert.equal(r.resolutions(origin('a')).map((x) => [x.id, x.size]), [[toHex(id), 10]])
  // The standing checkpoint (size 10, index 9) and every old-key checkpoint up to it still open; past it only the new key.
  assert.is(openCheckpointWithKeys(cp(log.a!.seed, 10), keys).checkpoint.size, 10)
  assert.is(openCheckpointWithKeys(cp(log.a!.seed, 10, 'other'), keys).checkpoint.size, 10, 'the other branch\'s checkpoint is still the old key\'s')
  throws(() => openCheckpointWithKeys(cp(log.a!.seed, 11), keys), 'UNKNOWN_KEY')
  assert.is(openCheckpointWithKeys(cp(next.seed, 11), keys).checkpoint.size, 11)
  const e = signEntry(next.seed, { ...header('a', 10), type: 'attestation', target: id, opinion: 'confirm' } as CairnRecord)
  assert.not.ok(openEntryWithKeys(e, keys, origin('a'), 10).compromised)
  const old = signEntry(log.a!.seed, { ...header('a', 10), type: 'attestation', target: id, opinion: 'confirm' } as CairnRecord)
  assert.ok(openEntryWithKeys(old, keys, origin('a'), 10).compromised, 'the old key past N is compromised content')
})

test('resolved proofs no longer freeze; a new fork under the new key does', () => {
  const before = new Roster(genesis)
  const oldProof = buildEquivocationProof({ kind: 'same-size', checkpoints: [cp(log.a!.seed, 10), cp(log.a!.seed, 10, 'other')] }, genesis.members[0]!.vkey)
  const smaller = buildEquivocationProof({ kind: 'same-size', checkpoints: [cp(log.a!.seed, 7), cp(log.a!.seed, 7, 'other')] }, genesis.members[0]!.vkey)
  assert.ok(before.equivocationFreezes(origin('a'), oldProof), 'before the resolution it freezes')
  const { r } = resolved()
  assert.not.ok(r.equivocationFreezes(origin('a'), oldProof))
  assert.not.ok(r.equivocationFreezes(origin('a'), smaller))
  const nv = verifierKey(origin('a'), next.publicKey)
  const newProof = buildEquivocationProof({ kind: 'same-size', checkpoints: [cp(next.seed, 12), cp(next.seed, 12, 'other')] }, nv)
  assert.ok(r.equivocationFreezes(origin('a'), newProof))
  // The old key past N makes no proof at all.
  const past = buildEquivocationProof({ kind: 'same-size', checkpoints: [cp(log.a!.seed, 12), cp(log.a!.seed, 12, 'other')] }, genesis.members[0]!.vkey)
  throws(() => r.equivocationFreezes(origin('a'), past), 'UNKNOWN_KEY')
  assert.ok(isResolvedEquivocation({ checkpoints: [{ size: 10 }, { size: 3 }] as never }, r.resolutions(origin('a'))))
  assert.not.ok(isResolvedEquivocation({ checkpoints: [{ size: 11 }, { size: 3 }] as never }, r.resolutions(origin('a'))))
})

test('never applies: written by the member itself, a checkpoint the log did not sign, a key it held, an unknown member', () => {
  const self = new Roster(genesis)
  const { id } = feed(self, 'a', 0, resolveFork('a', 0, cp(log.a!.seed, 10)))
  feed(self, 'b', 0, { ...header('b', 0), type: 'attestation', target: id, opinion: 'confirm' } as CairnRecord)
  feed(self, 'c', 0, { ...header('c', 0), type: 'attestation', target: id, opinion: 'confirm' } as CairnRecord)
  assert.equal(self.resolutions(origin('a')), [])
  assert.equal(self.logKeys(origin('a')).map((k) => [k.from, k.until]), [[0, undefined]])
  const forged = resolved(signCheckpoint({ origin: origin('a'), size: 10, root: sha256(utf8('10')) }, { name: origin('a'), seed: log.b!.seed })).r
  assert.equal(forged.resolutions(origin('a')), [], 'a checkpoint not signed by a\'s log key')
  const reused = new Roster(genesis)
  const p = feed(reused, 'b', 0, resolveFork('b', 0, cp(log.a!.seed, 10), log.a!.publicKey))
  feed(reused, 'c', 0, { ...header('c', 0), type: 'attestation', target: p.id, opinion: 'confirm' } as CairnRecord)
  assert.equal(reused.resolutions(origin('a')), [], 'the owner must rotate')
})

test('a node\'s checks before it writes the proposal: clear errors', () => {
  const r = new Roster(genesis)
  const rec = (over: Partial<Record<string, unknown>>) => validateRecord({ ...resolveFork('b', 0, cp(log.a!.seed, 10)), ...over }) as RosterRecord & { change: 'resolve_fork' }
  r.checkResolution(origin('b'), rec({}))
  throws(() => r.checkResolution(origin('a'), rec({ log: origin('a') })), /cannot resolve its own fork/)
  throws(() => r.checkResolution(origin('b'), rec({ member: 'zz', checkpoint: signCheckpoint({ origin: `${FED}/zz`, size: 3, root: sha256(utf8('x')) }, { name: `${FED}/zz`, seed: log.b!.seed }) })), 'UNKNOWN_LOG')
  throws(() => r.checkResolution(origin('b'), rec({ checkpoint: signCheckpoint({ origin: origin('a'), size: 10, root: sha256(utf8('x')) }, { name: origin('a'), seed: log.c!.seed }) })), /not signed by fork.cairn\/a's log key/)
  throws(() => r.checkResolution(origin('b'), rec({ key: log.a!.publicKey })), /must rotate/)
})

test.run()
