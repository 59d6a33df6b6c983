/**
 * protocol/roster.ts key ranges (spec/federation.md §10.7-10.9): a member's
 * own rotation and its cut-over, a rotation written by someone else, a
 * compromise and its compromised content, witness keys by time, and a
 * client's followed roster reaching the same ranges whatever order it reads
 * the logs in.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { signEntry } from '../protocol/entry.ts'
import { signCheckpoint, parseCheckpointNote, appendCheckpointSignatures } from '../protocol/checkpoint.ts'
import { cosign } from '../protocol/cosignature.ts'
import { sha256, utf8 } from '../protocol/bytes.ts'
import { openEntryWithKeys, openCheckpointWithKeys, entrySigner } from '../protocol/log-keys.ts'
import { readStoredRecord } from '../protocol/stored-record.ts'
import { Roster, cosigners } from '../protocol/roster.ts'
import { FollowedRoster } from '../client/roster-follow.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { throws } from './helpers.ts'
import { threeMembers } from './support/three-members.ts'

const FED = 'keys.cairn'
const { kp, log, wit, origin, genesis, T, header, next } = threeMembers(FED)
const nextWitness = kp('a/witness-2')
const indicator = (n: string, seq: number) => ({ ...header(n, seq), type: 'indicator', alg: 'sha256', value: sha256(utf8(`${n}${seq}`)), category: 'A1', kind: 'known_material', media: 'image' }) as CairnRecord
const signed = (seed: Uint8Array, r: CairnRecord) => signEntry(seed, r)
const leaf = (e: Uint8Array) => sha256(new Uint8Array([0, ...e]))
const readSeq = (e: Uint8Array) => readStoredRecord(e).seq

/** a's own rotation at index 4 (log and witness key), b's confirmation at b#0. */
function rotation() {
  const proposal = signed(log.a!.seed, { ...header('a', 4), type: 'roster', change: 'rotate_key', member: 'a', key: next.publicKey, witness_key: nextWitness.publicKey } as CairnRecord)
  const confirm = signed(log.b!.seed, { ...header('b', 0), type: 'attestation', target: leaf(proposal), opinion: 'confirm' } as CairnRecord)
  return { proposal, confirm }
}

test('own rotation: the old key stops at the proposal at once, the new one signs from r + 1 once it applies', () => {
  const r = new Roster(genesis)
  const { proposal, confirm } = rotation()
  assert.not.ok(r.observe(origin('a'), leaf(proposal), openEntryWithKeys(proposal, r.logKeys(origin('a')), origin('a'), 4).record))
  assert.is(r.logKeyAt(origin('a'), 4)?.vkey, genesis.members[0]!.vkey)
  assert.is(r.logKeyAt(origin('a'), 5), undefined, 'paused: no key valid past the proposal until the quorum')
  assert.ok(r.member(origin('a'))!.pending)
  assert.ok(r.observe(origin('b'), leaf(confirm), openEntryWithKeys(confirm, r.logKeys(origin('b')), origin('b'), 0).record))
  const keys = r.logKeys(origin('a'))
  assert.equal(keys.map((k) => [k.from, k.until]), [[5, undefined], [0, 5]])
  assert.is(openEntryWithKeys(signed(next.seed, indicator('a', 5)), keys, origin('a'), 5).record.seq, 5)
  throws(() => openEntryWithKeys(signed(log.a!.seed, indicator('a', 5)), keys, origin('a'), 5), 'BAD_SIGNATURE')
  assert.is(openEntryWithKeys(signed(log.a!.seed, indicator('a', 3)), keys, origin('a'), 3).record.seq, 3)
  // Checkpoints: size n is tied to n - 1; the old key's last is size 5.
  const cp = (seed: Uint8Array, size: number) => signCheckpoint({ origin: origin('a'), size, root: sha256(utf8(`${size}`)) }, { name: origin('a'), seed })
  assert.is(openCheckpointWithKeys(cp(log.a!.seed, 5), keys).checkpoint.size, 5)
  throws(() => openCheckpointWithKeys(cp(log.a!.seed, 6), keys), 'UNKNOWN_KEY')
  assert.is(openCheckpointWithKeys(cp(next.seed, 6), keys).checkpoint.size, 6)
})

test('a rotation of a\'s keys written by b changes no key', () => {
  const r = new Roster(genesis)
  const proposal = signed(log.b!.seed, { ...header('b', 0), type: 'roster', change: 'rotate_key', member: 'a', key: next.publicKey } as CairnRecord)
  const confirm = signed(log.c!.seed, { ...header('c', 0), type: 'attestation', target: leaf(proposal), opinion: 'confirm' } as CairnRecord)
  r.observe(origin('b'), leaf(proposal), openEntryWithKeys(proposal, r.logKeys(origin('b')), origin('b'), 0).record)
  assert.ok(r.observe(origin('c'), leaf(confirm), openEntryWithKeys(confirm, r.logKeys(origin('c')), origin('c'), 0).record))
  assert.equal(r.logKeys(origin('a')).map((k) => [k.vkey, k.from, k.until]), [[genesis.members[0]!.vkey, 0, undefined]])
})

test('compromise from f: old key entries past f open only as compromised content, its checkpoints past f under no key', () => {
  const r = new Roster(genesis)
  const proposal = signed(log.b!.seed, { ...header('b', 0), type: 'roster', change: 'compromise', member: 'a', from: 7, key: next.publicKey } as CairnRecord)
  const confirm = signed(log.c!.seed, { ...header('c', 0), type: 'attestation', target: leaf(proposal), opinion: 'confirm' } as CairnRecord)
  r.observe(origin('b'), leaf(proposal), openEntryWithKeys(proposal, r.logKeys(origin('b')), origin('b'), 0).record)
  assert.ok(r.observe(origin('c'), leaf(confirm), openEntryWithKeys(confirm, r.logKeys(origin('c')), origin('c'), 0).record))
  const keys = r.logKeys(origin('a'))
  assert.equal(keys.map((k) => [k.from, k.until, k.compromised]), [[7, undefined, undefined], [0, 7, true]])
  assert.is(openEntryWithKeys(signed(log.a!.seed, indicator('a', 6)), keys, origin('a'), 6).compromised, undefined)
  assert.is(openEntryWithKeys(signed(log.a!.seed, indicator('a', 9)), keys, origin('a'), 9).compromised, true)
  assert.is(openEntryWithKeys(signed(next.seed, indicator('a', 9)), keys, origin('a'), 9).compromised, undefined)
  const cp = (seed: Uint8Array, size: number) => signCheckpoint({ origin: origin('a'), size, root: sha256(utf8(`${size}`)) }, { name: origin('a'), seed })
  assert.ok(openCheckpointWithKeys(cp(log.a!.seed, 7), keys))
  throws(() => openCheckpointWithKeys(cp(log.a!.seed, 8), keys), 'UNKNOWN_KEY')
  assert.ok(openCheckpointWithKeys(cp(next.seed, 12), keys))
  // A compromise a member writes about itself never applies.
  const r2 = new Roster({ ...genesis, threshold: 1 })
  const self = { ...header('a', 3), type: 'roster', change: 'compromise', member: 'a', from: 0, key: next.publicKey } as CairnRecord
  r2.observe(origin('a'), sha256(utf8('self')), self)
  assert.is(r2.logKeys(origin('a')).length, 1)
})

test('witness keys by time: old cosignatures stay valid, the old key past the proposal\'s time does not count', () => {
  const r = new Roster(genesis)
  const { proposal, confirm } = rotation()
  const t = Math.floor((T + 4000) / 1000)
  r.observe(origin('a'), leaf(proposal), openEntryWithKeys(proposal, r.logKeys(origin('a')), origin('a'), 4).record)
  r.observe(origin('b'), leaf(confirm), openEntryWithKeys(confirm, r.logKeys(origin('b')), origin('b'), 0).record)
  const note = signCheckpoint({ origin: origin('c'), size: 3, root: sha256(utf8('c3')) }, { name: origin('c'), seed: log.c!.seed })
  const body = parseCheckpointNote(note).note.body
  const withLine = (seed: Uint8Array, ts: number) => appendCheckpointSignatures(parseCheckpointNote(note), [cosign(body, { name: origin('a'), seed }, ts)]).text
  const keys = r.cosignerKeys(origin('c'))
  assert.equal([...cosigners(withLine(wit.a!.seed, t), keys)], [origin('a')], 'old key, before the proposal: valid for ever')
  assert.equal([...cosigners(withLine(wit.a!.seed, t + 5), keys)], [], 'old key after the proposal: not counted')
  assert.equal([...cosigners(withLine(nextWitness.seed, t + 5), keys)], [origin('a')])
  assert.equal([...cosigners(withLine(nextWitness.seed, t), keys)], [], 'new key before its time')
  throws(() => cosigners(withLine(wit.a!.seed, t + 5), keys, 1), 'BAD_COSIGNATURE')
})

/** Every order of `items`. */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items]
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]))
}

test('a rotation and a compromise give the same ranges in every order they are read (signer decides whether the rotation counts)', () => {
  const third = kp('a/log-3')
  const { proposal, confirm } = rotation() // a's own rotation at 4, signed by a's genesis key, confirmed by b
  for (const [from, want] of [
    // From 2: the proposal at 4 was signed by a key compromised there, so the rotation does not count; its key is listed, compromised, empty.
    [2, [[third.publicKey, 2, undefined, undefined], [next.publicKey, 5, 5, true], [log.a!.publicKey, 0, 2, true]]],
    // From 6: the rotation counts; its key is compromised from 6.
    [6, [[third.publicKey, 6, undefined, undefined], [next.publicKey, 5, 6, true], [log.a!.publicKey, 0, 5, true]]],
  ] as const) {
    const comp = signed(log.b!.seed, { ...header('b', 1), type: 'roster', change: 'compromise', member: 'a', from, key: third.publicKey } as CairnRecord)
    const compConfirm = signed(log.c!.seed, { ...header('c', 0), type: 'attestation', target: leaf(comp), opinion: 'confirm' } as CairnRecord)
    const facts: [string, Uint8Array, Uint8Array][] = [['a', proposal, log.a!.publicKey], ['b', confirm, log.b!.publicKey], ['b', comp, log.b!.publicKey], ['c', compConfirm, log.c!.publicKey]]
    for (const order of permutations(facts)) {
      const r = new Roster(genesis)
      for (const [n, e, signer] of order) r.observe(origin(n), leaf(e), openEntryWithKeys(e, [{ publicKey: signer, from: 0 }], origin(n), readSeq(e)).record, signer)
      assert.equal(r.logKeys(origin('a')).map((k) => [k.publicKey, k.from, k.until, k.compromised]), want, `from ${from}, order ${order.map(([n, e]) => `${n}#${readSeq(e)}`).join(' ')}`)
      assert.is(r.member(origin('a'))!.pending, undefined)
    }
  }
  assert.equal(entrySigner(proposal, [{ publicKey: next.publicKey, from: 0 }, { publicKey: log.a!.publicKey, from: 0, until: 1 }]), log.a!.publicKey)
  assert.is(entrySigner(proposal, [{ publicKey: next.publicKey, from: 0 }]), undefined)
})

test('a client following the roster reaches the same ranges whatever order it reads the logs in', () => {
  const { proposal, confirm } = rotation()
  const ack = signed(next.seed, { ...header('a', 5), type: 'attestation', target: leaf(proposal), opinion: 'confirm' } as CairnRecord)
  const orders: [string, number, Uint8Array][][] = [
    [['a', 4, proposal], ['b', 0, confirm], ['a', 5, ack]],
    [['b', 0, confirm], ['a', 4, proposal], ['a', 5, ack]],
  ]
  const results = orders.map((order) => {
    const f = new FollowedRoster(genesis)
    for (const [n, i, e] of order) f.observe(origin(n), i, e)
    const again = new FollowedRoster(genesis, f.entries()) // what a provider's copy replays
    return [f, again].map((x) => JSON.stringify(x.roster.logKeys(origin('a')).map((k) => [k.vkey, k.from, k.until])))
  })
  assert.is(results[0]![0], results[1]![0])
  assert.is(results[0]![0], results[0]![1])
  assert.is(results[1]![0], results[1]![1])
  // The new key's entry before the quorum is read: not yet (BAD_SIGNATURE), fine after.
  const f = new FollowedRoster(genesis)
  f.observe(origin('a'), 4, proposal)
  throws(() => f.observe(origin('a'), 5, ack), 'BAD_SIGNATURE')
})

test.run()
