/**
 * protocol/log-keys.ts: opening entries, redaction notices and checkpoints
 * with a log's list of keys. Ranges are honoured (a key outside its range is
 * refused), the current key is tried first, and the error codes are those of
 * a single-key open; roster.logKeys gives the list after a rotation.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '../protocol/ed25519.ts'
import { signEntry } from '../protocol/entry.ts'
import { signCheckpoint, parseCheckpointNote } from '../protocol/checkpoint.ts'
import { verifierKey } from '../protocol/note.ts'
import { sha256, utf8 } from '../protocol/bytes.ts'
import { EMPTY_ROOT } from '../protocol/hash.ts'
import { signRedaction, encodeRedactionMarker } from '../protocol/redaction.ts'
import {
  checkpointIndex, logKeyFromVkey, openCheckpointWithKeys, openEntryWithKeys, openRedactionWithKeys, openRedactionMarkerWithKeys, validAt,
  type LogKey, type LogKeys,
} from '../protocol/log-keys.ts'
import { Roster } from '../node/roster.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { throws } from './helpers.ts'

const ORIGIN = 'test.cairn/eu-centre'
const oldKey = generateKeyPair(new Uint8Array(32).fill(1))
const newKey = generateKeyPair(new Uint8Array(32).fill(2))
const stranger = generateKeyPair(new Uint8Array(32).fill(3))

const key = (kp: { publicKey: Uint8Array }, from = 0, until?: number): LogKey => logKeyFromVkey(verifierKey(ORIGIN, kp.publicKey), from, until)

function indicator(seq: number): CairnRecord {
  return { v: 1, type: 'indicator', log: ORIGIN, seq, time: 1_767_225_600_000 + seq, alg: 'sha256', value: sha256(utf8(`v${seq}`)), category: 'A1', kind: 'known_material', media: 'image' } as CairnRecord
}
const entry = (kp: { seed: Uint8Array }, seq: number) => signEntry(kp.seed, indicator(seq))
const checkpoint = (kp: { seed: Uint8Array }, size: number) =>
  signCheckpoint({ origin: ORIGIN, size, root: size === 0 ? EMPTY_ROOT : sha256(utf8(`root ${size}`)) }, { name: ORIGIN, seed: kp.seed })
const notice = (kp: { seed: Uint8Array }, index: number) =>
  signRedaction(kp.seed, { v: 1, log: ORIGIN, index, id: sha256(utf8(`leaf ${index}`)), reason: 'legal_order', time: 1_767_225_600_000 })

/** A cut-over at index 10: the old key signs [0, 10), the new one [10, ...); the current key first. */
const CUT = 10
const rotated: LogKeys = [key(newKey, CUT), key(oldKey, 0, CUT)]
/** Today's roster: no cut-over, every key valid everywhere. */
const whole: LogKeys = [key(newKey), key(oldKey)]

test('validAt and checkpointIndex: [from, until), a checkpoint of size n is tied to entry n - 1', () => {
  assert.ok(validAt(key(oldKey, 0, CUT), 0))
  assert.ok(validAt(key(oldKey, 0, CUT), CUT - 1))
  assert.not.ok(validAt(key(oldKey, 0, CUT), CUT))
  assert.not.ok(validAt(key(newKey, CUT), CUT - 1))
  assert.ok(validAt(key(newKey, CUT), Number.MAX_SAFE_INTEGER))
  assert.is(checkpointIndex(0), 0)
  assert.is(checkpointIndex(1), 0)
  assert.is(checkpointIndex(CUT), CUT - 1)
})

test('openEntryWithKeys: each key inside its range opens, outside it BAD_SIGNATURE', () => {
  assert.is(openEntryWithKeys(entry(oldKey, 3), rotated, ORIGIN, 3).record.seq, 3)
  assert.is(openEntryWithKeys(entry(newKey, CUT), rotated, ORIGIN, CUT).record.seq, CUT)
  throws(() => openEntryWithKeys(entry(oldKey, CUT), rotated, ORIGIN, CUT), 'BAD_SIGNATURE', 'old key after the cut-over')
  throws(() => openEntryWithKeys(entry(newKey, 3), rotated, ORIGIN, 3), 'BAD_SIGNATURE', 'new key before the cut-over')
  throws(() => openEntryWithKeys(entry(stranger, 3), rotated, ORIGIN, 3), 'BAD_SIGNATURE', 'a key the log never had')
  // Without a cut-over (today), every key the log had is valid everywhere.
  assert.is(openEntryWithKeys(entry(oldKey, CUT), whole, ORIGIN, CUT).record.seq, CUT)
  assert.is(openEntryWithKeys(entry(newKey, 3), whole, ORIGIN, 3).record.seq, 3)
})

test('openEntryWithKeys: the error codes of openEntry, decoding before the signature', () => {
  throws(() => openEntryWithKeys(entry(oldKey, 3), whole, 'test.cairn/ncmec', 3), 'WRONG_LOG')
  throws(() => openEntryWithKeys(entry(oldKey, 3), whole, ORIGIN, 4), 'SEQ_MISMATCH')
  throws(() => openEntryWithKeys(new Uint8Array([0x83, 0x00, 0x00, 0x00]), whole, ORIGIN, 0), 'MALFORMED_ENTRY')
  // No key valid at the index at all: the entry is still decoded first, then refused.
  throws(() => openEntryWithKeys(new Uint8Array([0x83, 0x00, 0x00, 0x00]), [key(newKey, CUT)], ORIGIN, 0), 'MALFORMED_ENTRY')
  throws(() => openEntryWithKeys(entry(oldKey, 0), [key(newKey, CUT)], ORIGIN, 0), 'BAD_SIGNATURE')
  throws(() => openEntryWithKeys(entry(oldKey, 0), [], ORIGIN, 0), 'BAD_SIGNATURE')
})

test('openEntryWithKeys tries the current key first and stops at the first that opens', () => {
  // A second key that cannot even be used (small order) is never reached when the first opens...
  const unusable: LogKey = { publicKey: new Uint8Array(32), from: 0 }
  assert.is(openEntryWithKeys(entry(newKey, 5), [key(newKey), unusable], ORIGIN, 5).record.seq, 5)
  // ... and is reached only after the first fails with BAD_SIGNATURE.
  throws(() => openEntryWithKeys(entry(oldKey, 5), [key(newKey), unusable], ORIGIN, 5), 'BAD_PUBLIC_KEY')
  // A failure other than the signature stops at once: the next key is not tried.
  throws(() => openEntryWithKeys(entry(newKey, 5), [key(newKey), unusable], ORIGIN, 6), 'SEQ_MISMATCH')
})

test('the key list is plain data: a structured clone opens the same', () => {
  const clone = structuredClone(rotated)
  assert.is(openEntryWithKeys(entry(newKey, CUT + 1), clone, ORIGIN, CUT + 1).record.seq, CUT + 1)
  throws(() => openEntryWithKeys(entry(oldKey, CUT + 1), clone, ORIGIN, CUT + 1), 'BAD_SIGNATURE')
})

test('openCheckpointWithKeys: the key that signed the last entry the checkpoint covers', () => {
  // Size CUT covers entries up to CUT - 1: the old key's last checkpoint stays valid, the new key cannot sign it.
  assert.is(openCheckpointWithKeys(checkpoint(oldKey, CUT), rotated).checkpoint.size, CUT)
  throws(() => openCheckpointWithKeys(checkpoint(newKey, CUT), rotated), 'UNKNOWN_KEY', 'new key, size CUT')
  assert.is(openCheckpointWithKeys(checkpoint(newKey, CUT + 1), rotated).checkpoint.size, CUT + 1)
  throws(() => openCheckpointWithKeys(checkpoint(oldKey, CUT + 1), rotated), 'UNKNOWN_KEY', 'old key, size CUT + 1')
  // The empty tree belongs to index 0.
  assert.is(openCheckpointWithKeys(checkpoint(oldKey, 0), rotated).checkpoint.size, 0)
  throws(() => openCheckpointWithKeys(checkpoint(newKey, 0), rotated), 'UNKNOWN_KEY')
  // No cut-over: any key the log had, at any size.
  assert.is(openCheckpointWithKeys(checkpoint(oldKey, CUT + 1), whole).checkpoint.size, CUT + 1)
  throws(() => openCheckpointWithKeys(checkpoint(stranger, 4), whole), 'UNKNOWN_KEY')
  throws(() => openCheckpointWithKeys(checkpoint(oldKey, 4), []), 'UNKNOWN_KEY')
})

test('openCheckpointWithKeys: text, bytes or a parsed CheckpointNote; the errors of openCheckpoint', () => {
  const note = checkpoint(oldKey, 4)
  const parsed = parseCheckpointNote(note)
  assert.is(parsed.text, note)
  assert.is(parsed.checkpoint.size, 4)
  assert.equal(openCheckpointWithKeys(parsed, whole).checkpoint, openCheckpointWithKeys(utf8(note), whole).checkpoint)
  // Without a vkey, the verifier key is built from the checkpoint's origin.
  assert.is(openCheckpointWithKeys(note, [{ publicKey: oldKey.publicKey, from: 0 }]).checkpoint.size, 4)
  throws(() => openCheckpointWithKeys(note.replace('\n4\n', '\n5\n'), [key(oldKey)]), 'BAD_SIGNATURE', 'tampered size')
  // With several keys the first error is reported: the current key did not sign it at all.
  throws(() => openCheckpointWithKeys(note.replace('\n4\n', '\n5\n'), whole), 'UNKNOWN_KEY', 'tampered size, two keys')
  throws(() => openCheckpointWithKeys(note.replace(ORIGIN, 'test.cairn/ncmec'), whole), 'WRONG_ORIGIN')
  throws(() => openCheckpointWithKeys('not a note', whole), 'MALFORMED_NOTE')
  throws(() => parseCheckpointNote(note.replace('\n4\n', '\n04\n')), 'MALFORMED_CHECKPOINT')
})

test('openRedactionWithKeys: any key still valid at the notice\'s index or later', () => {
  // The old key, retired at CUT, may have redacted an entry before CUT, not one after.
  assert.is(openRedactionWithKeys(notice(oldKey, 3), rotated, { log: ORIGIN }).notice.index, 3)
  throws(() => openRedactionWithKeys(notice(oldKey, CUT + 2), rotated, { log: ORIGIN }), 'BAD_SIGNATURE')
  // A key rotated in later may redact an earlier entry.
  assert.is(openRedactionWithKeys(notice(newKey, 3), rotated, { log: ORIGIN }).notice.index, 3)
  assert.is(openRedactionWithKeys(notice(oldKey, CUT + 2), whole, { log: ORIGIN }).notice.index, CUT + 2)
  throws(() => openRedactionWithKeys(notice(stranger, 3), whole), 'BAD_SIGNATURE')
  throws(() => openRedactionWithKeys(notice(oldKey, 3), []), 'UNKNOWN_KEY')
  const marker = encodeRedactionMarker(notice(newKey, 7))
  assert.is(openRedactionMarkerWithKeys(marker, rotated, { log: ORIGIN, index: 7 }).notice.index, 7)
  throws(() => openRedactionMarkerWithKeys(marker, rotated, { log: ORIGIN, index: 8 }), 'SEQ_MISMATCH')
})

test('roster.logKeys: a member\'s own rotation at index r: the old key signs up to r, the new one from r + 1', () => {
  const roster = new Roster({
    federation: 'test.cairn', threshold: 1,
    members: [{
      name: 'eu-centre', origin: ORIGIN, vkey: verifierKey(ORIGIN, oldKey.publicKey), witness_vkey: verifierKey(ORIGIN, stranger.publicKey, 0x04),
      peer_id: 'peer1', roles: ['publisher', 'witness'], addrs: [],
    }],
  })
  assert.equal(roster.logKeys(ORIGIN).map((k) => [k.vkey, k.from, k.until]), [[verifierKey(ORIGIN, oldKey.publicKey), 0, undefined]])
  const rotate = { v: 1, type: 'roster', log: ORIGIN, seq: 2, time: 0, change: 'rotate_key', member: 'eu-centre', key: newKey.publicKey } as CairnRecord
  assert.ok(roster.observe(ORIGIN, sha256(utf8('rotate')), rotate))
  const keys = roster.logKeys(ORIGIN)
  assert.equal(keys.map((k) => [k.publicKey, k.from, k.until]), [[newKey.publicKey, 3, undefined], [oldKey.publicKey, 0, 3]])
  assert.is(openEntryWithKeys(entry(oldKey, 2), keys, ORIGIN, 2).record.seq, 2)
  throws(() => openEntryWithKeys(entry(oldKey, 3), keys, ORIGIN, 3), 'BAD_SIGNATURE')
  assert.is(openEntryWithKeys(entry(newKey, 3), keys, ORIGIN, 3).record.seq, 3)
  throws(() => openEntryWithKeys(entry(newKey, 2), keys, ORIGIN, 2), 'BAD_SIGNATURE')
  throws(() => roster.logKeys('test.cairn/nobody'), 'UNKNOWN_LOG')
})

test.run()
