/**
 * The malformed input of the garbage scenario, by kind: HTTP requests, gossip
 * messages, libp2p request bodies and bad responses. Each kind is built from
 * an index and a seeded random source, so a run can be replayed. Nothing here
 * is valid by accident: every item must be refused.
 */
import { encodeCanonical } from '../../protocol/cbor.ts'
import { signCheckpoint } from '../../protocol/checkpoint.ts'
import { encodeAddCheckpointRequest } from '../../protocol/witness-request.ts'
import { generateKeyPair } from '../../protocol/ed25519.ts'
import { utf8, toHex, concat } from '../../protocol/bytes.ts'
import { encodeGossip, encodeSyncRequest, MAX_SYNC_RANGE } from '../../node/replication/messages.ts'
import { sampleIndicator } from '../samples.ts'

export type Rand = () => number

export interface Target {
  /** Log names (URL segments) and origins, with each log's size and checkpoint now. */
  logs: { name: string; origin: string; size: number; note: string; oldNote: string }[]
  operator: string
  provider: string
  auditor: string
}

export interface HttpCase {
  kind: string
  method: string
  path: string
  headers: Record<string, string>
  body?: string | Uint8Array
  /** The witness endpoint answers in text (c2sp tlog-witness); everything else in JSON. */
  witness?: boolean
}

const bytes = (rand: Rand, n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
const json = (token: string | undefined, body: unknown, method = 'POST'): Pick<HttpCase, 'method' | 'headers' | 'body'> => ({
  method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body),
})

/** Records the publisher must refuse, each for its own reason. */
function badRecord(rand: Rand, i: number): unknown {
  const good = sampleIndicator('garbage', i)
  const variants: (() => unknown)[] = [
    () => ({ ...good, colour: 'red' }), // UNKNOWN_FIELD
    () => ({ ...good, alg: 'md6' }), // BAD_ALG
    () => ({ ...good, alg: 'md5', value: toHex(bytes(rand, 15)) }), // BAD_VALUE_LENGTH
    () => ({ ...good, alg: 'sha256', value: '00'.repeat(32), media: 'image', kind: 'known_material' }), // DEGENERATE_HASH
    () => ({ ...good, alg: 'pdq', value: toHex(bytes(rand, 32)), quality: 10, media: 'image', kind: 'known_material' }), // LOW_QUALITY
    () => ({ ...good, seq: 5 }), // BAD_FIELD: set by the node
    () => ({ ...good, value: String(good.value).toUpperCase() }), // BAD_FIELD: not lowercase hex
    () => ({ ...good, category: 'C9' }), // BAD_CATEGORY
    () => ({ type: 'revocation', target: toHex(bytes(rand, 32)), reason: 'false_positive' }), // UNKNOWN_TARGET
    () => ({ type: 'attestation', target: toHex(bytes(rand, 32)), opinion: 'maybe' }), // BAD_OPINION
    () => ({ type: 'roster', change: 'add_member', member: 'x' }), // roster change missing keys
    () => ({ type: 'poem', text: 'roses' }), // UNKNOWN_TYPE
    () => ({ ...good, ref: 'Jane Doe, 12 Main St' }), // BAD_REF
    () => [1, 2, 3], // not an object
  ]
  return variants[i % variants.length]!()
}

const BAD_TILES = ['tile/x001/002', 'tile/0/x', 'tile/0/-1', 'tile/0/000.p/0', 'tile/0/001.p/256', 'tile/64/000', 'tile/0/x000/001', 'tile/entries/001.p/00', 'tile/0/1/2/3/4/5/6/7', 'tile/0/abc']

/** The i-th HTTP request. `big` kinds (MiB bodies) are kept rare by the caller. */
export function httpCase(t: Target, i: number, rand: Rand): HttpCase {
  const log = t.logs[i % t.logs.length]!
  const kinds: (() => HttpCase)[] = [
    () => ({ kind: 'records_bad_json', path: '/records', ...json(t.operator, `{"records": [${'{'.repeat(1 + (i % 7))}`) }),
    () => ({ kind: 'records_invalid', path: '/records', ...json(t.operator, badRecord(rand, i)) }),
    () => ({ kind: 'records_invalid_batch', path: '/records', ...json(t.operator, { records: [] }) }),
    () => ({ kind: 'records_not_json_type', path: '/records', ...json(t.operator, bytesText(rand, 64)) }),
    () => ({ kind: 'token_malformed', path: '/feed', method: 'GET', headers: { authorization: `Bearer ${pick(rand, ['!!', 'a b', '', 'é'.repeat(5), 'x'.repeat(101)])}` } }),
    () => ({ kind: 'token_unknown', path: '/feed', method: 'GET', headers: { authorization: `Bearer ${Buffer.from(bytes(rand, 32)).toString('base64url')}` } }),
    () => ({ kind: 'token_missing', path: pick(rand, ['/feed', '/records', '/status', '/metrics', '/access-log']), method: 'GET', headers: {} }),
    () => ({ kind: 'token_wrong_role', path: '/records', ...json(t.provider, sampleIndicator('garbage-role', i)) }),
    () => ({ kind: 'tile_bad_path', path: `/logs/${log.name}/${pick(rand, BAD_TILES)}`, method: 'GET', headers: { authorization: `Bearer ${t.auditor}` } }),
    () => ({ kind: 'tile_beyond_tree', path: `/logs/${log.name}/tile/0/${String(100 + (i % 800)).padStart(3, '0')}`, method: 'GET', headers: { authorization: `Bearer ${t.auditor}` } }),
    () => ({ kind: 'unknown_log', path: `/logs/nolog${i % 97}/checkpoint`, method: 'GET', headers: {} }),
    () => ({ kind: 'proof_bad_index', path: `/logs/${log.name}/proof/${pick(rand, ['01', '-1', '1e3', 'x', '99999999999999999'])}`, method: 'GET', headers: { authorization: `Bearer ${t.auditor}` } }),
    () => ({ kind: 'feed_bad_cursor', path: `/feed?cursor=${encodeURIComponent(bytesText(rand, 12))}`, method: 'GET', headers: { authorization: `Bearer ${t.provider}` } }),
    () => ({ kind: 'lookup_bad', path: `/lookup/${pick(rand, ['md6/00', 'md5/zz', 'sha256/00', 'pdq/' + 'g'.repeat(64)])}`, method: 'GET', headers: { authorization: `Bearer ${t.auditor}` } }),
    () => ({ kind: 'no_route', path: `/${pick(rand, ['admin', 'wp-login.php', 'logs/x/y/z', '..%2f..%2fetc/passwd'])}`, method: pick(rand, ['GET', 'PUT', 'DELETE']), headers: {} }),
    () => witnessCase('witness_garbage', bytes(rand, 1 + Math.floor(rand() * 300))),
    // cut anywhere before the end of the log's own signature line (a cut after it could leave a valid note with fewer cosignatures)
    () => { const b = utf8(encodeAddCheckpointRequest({ oldSize: log.size, proof: [], checkpoint: logSignatureOnly(log.note) })); return witnessCase('witness_truncated', b.subarray(0, Math.floor(rand() * (b.length - 1)))) },
    () => witnessCase('witness_wrong_key', encodeAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: signCheckpoint({ origin: log.origin, size: log.size, root: bytes(rand, 32) }, { name: log.origin, seed: bytes(rand, 32) }) })),
    () => { const o = `nowhere.cairn/x${i % 13}`; return witnessCase('witness_unknown_log', encodeAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: signCheckpoint({ origin: o, size: 1, root: bytes(rand, 32) }, { name: o, seed: generateKeyPair(bytes(rand, 32)).seed }) })) },
    () => witnessCase('witness_replayed_old', encodeAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: log.oldNote })),
    () => witnessCase('witness_bad_proof', encodeAddCheckpointRequest({ oldSize: log.size, proof: [bytes(rand, 32)], checkpoint: log.note })),
  ]
  const k = kinds[i % kinds.length]!()
  return { ...k, headers: k.headers ?? {} }
}

/** Bodies over the limits: POST /records over 4 MiB, add-checkpoint over its 132 KiB. */
export function bigHttpCase(t: Target, i: number): HttpCase {
  if (i % 2 === 0) return { kind: 'records_oversized', path: '/records', ...json(t.operator, `{"records":["${'a'.repeat(5 * 1024 * 1024)}"]}`) }
  return witnessCase('witness_oversized', 'old 0\n\n' + 'x'.repeat(140 * 1024))
}

/** A signed note with its first signature line only (the log's). */
function logSignatureOnly(note: string): string {
  const sigs = note.indexOf('\n\n') + 2
  return note.slice(0, note.indexOf('\n', sigs) + 1)
}

function witnessCase(kind: string, body: string | Uint8Array): HttpCase {
  return { kind, method: 'POST', path: '/witness/add-checkpoint', headers: {}, body, witness: true }
}

function bytesText(rand: Rand, n: number): string {
  return Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rand() * 95))).join('')
}

// ---------------------------------------------------------------- CBOR by hand

/** A text string header with a non-shortest length (one extra byte): non-canonical. */
const longText = (s: string) => concat(Uint8Array.of(0x78, s.length), utf8(s))
const text = (s: string) => concat(Uint8Array.of(0x60 + s.length), utf8(s))

// ---------------------------------------------------------------- gossip

export interface GossipCase { kind: string; data: Uint8Array; /** valid and harmless: a replay, not counted as a rejection */ replay?: boolean }

export function gossipCase(t: Target, i: number, rand: Rand): GossipCase {
  const log = t.logs[i % t.logs.length]!
  const valid = encodeGossip({ t: 'cp', note: log.note })
  const kinds: (() => GossipCase)[] = [
    () => ({ kind: 'random_bytes', data: bytes(rand, 1 + Math.floor(rand() * 200)) }),
    () => ({ kind: 'truncated_cbor', data: valid.subarray(0, 1 + Math.floor(rand() * (valid.length - 2))) }),
    () => ({ kind: 'unsorted_keys', data: concat(Uint8Array.of(0xa2), text('note'), text('x'), text('t'), text('cp')) }),
    () => ({ kind: 'non_shortest_length', data: concat(Uint8Array.of(0xa2), text('t'), longText('cp'), text('note'), text('x')) }),
    () => ({ kind: 'indefinite_map', data: concat(Uint8Array.of(0xbf), text('t'), text('cp'), Uint8Array.of(0xff)) }),
    () => ({ kind: 'unknown_type', data: encodeCanonical({ t: 'xx' + (i % 10) }) }),
    () => ({ kind: 'extra_field', data: encodeCanonical({ t: 'cp', note: log.note, x: i }) }),
    () => ({ kind: 'not_a_note', data: encodeGossip({ t: 'cp', note: bytesText(rand, 80) }) }),
    () => ({ kind: 'unknown_origin', data: encodeGossip({ t: 'cp', note: signCheckpoint({ origin: `nowhere.cairn/x${i % 7}`, size: 1, root: bytes(rand, 32) }, { name: `nowhere.cairn/x${i % 7}`, seed: bytes(rand, 32) }) }) }),
    () => ({ kind: 'wrong_key', data: encodeGossip({ t: 'cp', note: signCheckpoint({ origin: log.origin, size: log.size + 1, root: bytes(rand, 32) }, { name: log.origin, seed: bytes(rand, 32) }) }) }),
    () => ({ kind: 'bad_equivocation_proof', data: encodeGossip({ t: 'eq', origin: log.origin, proof: `cairn/equivocation/v1\nsame-size\n${bytesText(rand, 40)}` }) }),
    () => ({ kind: 'equivocation_unknown_log', data: encodeGossip({ t: 'eq', origin: `nowhere.cairn/x${i % 5}`, proof: 'cairn/equivocation/v1\nsame-size\n' }) }),
    () => ({ kind: 'replayed_old_checkpoint', data: encodeGossip({ t: 'cp', note: log.oldNote }), replay: true }),
  ]
  // One in a hundred is over the 256 KiB gossip limit (kept rare: 300 KiB apiece).
  if (i % 100 === 50) return { kind: 'oversized', data: encodeGossip({ t: 'cp', note: 'x'.repeat(300 * 1024) }) }
  return kinds[i % kinds.length]!()
}

// ---------------------------------------------------------------- libp2p requests

export interface RequestCase { kind: string; frames: Uint8Array[]; /** cut the stream after the frames instead of ending the message */ cut?: boolean }

export function syncRequestCase(t: Target, i: number, rand: Rand): RequestCase {
  const log = t.logs[i % t.logs.length]!
  const kinds: (() => RequestCase)[] = [
    () => ({ kind: 'random_bytes', frames: [bytes(rand, 1 + Math.floor(rand() * 100))] }),
    // keys out of order and an integer in a longer form than needed
    () => ({ kind: 'non_canonical', frames: [concat(Uint8Array.of(0xa4), text('origin'), longText(log.origin), text('start'), Uint8Array.of(0x00), text('end'), Uint8Array.of(0x18, 0x01), text('to'), Uint8Array.of(0x01))] }),
    () => ({ kind: 'missing_field', frames: [encodeCanonical({ origin: log.origin, start: 0, end: 1 })] }),
    () => ({ kind: 'empty_range', frames: [encodeSyncRequest({ origin: log.origin, start: 3, end: 3, to: 3 })] }),
    () => ({ kind: 'range_too_long', frames: [encodeSyncRequest({ origin: log.origin, start: 0, end: MAX_SYNC_RANGE + 1, to: MAX_SYNC_RANGE + 1 })] }),
    () => ({ kind: 'unknown_log', frames: [encodeSyncRequest({ origin: `nowhere.cairn/x${i % 9}`, start: 0, end: 1, to: 1 })] }),
    () => ({ kind: 'beyond_log', frames: [encodeSyncRequest({ origin: log.origin, start: 0, end: 1, to: log.size + 1 + (i % 50) })] }),
    () => ({ kind: 'two_frames', frames: [encodeSyncRequest({ origin: log.origin, start: 0, end: 1, to: 1 }), new Uint8Array(3)] }),
    () => ({ kind: 'oversized_frame', frames: [new Uint8Array(100_000)] }),
    () => ({ kind: 'over_budget', frames: [new Uint8Array(5000)] }),
    () => ({ kind: 'cut_mid_request', frames: [encodeSyncRequest({ origin: log.origin, start: 0, end: 1, to: 1 })], cut: true }),
  ]
  return kinds[i % kinds.length]!()
}

export function witnessRequestCase(t: Target, i: number, rand: Rand): RequestCase {
  const c = httpCase(t, 21 * i + 15 + (i % 6), rand) // the six witness kinds of httpCase
  const body = typeof c.body === 'string' ? utf8(c.body) : c.body!
  return i % 7 === 6 ? { kind: 'two_frames', frames: [body, body] } : { kind: c.kind.replace('witness_', ''), frames: [body] }
}

export function statusRequestCase(_t: Target, i: number, rand: Rand): RequestCase {
  return i % 2 === 0 ? { kind: 'over_budget', frames: [bytes(rand, 2000)] } : { kind: 'two_frames', frames: [bytes(rand, 10), bytes(rand, 10)] }
}
