/**
 * Wire messages between cairn nodes, all canonical CBOR maps (protocol/cbor),
 * decoded strictly with size limits: a hostile peer's message is rejected
 * with a LedgerError before anything reads it.
 *
 *   gossip  {t: "cp", note}                 a signed checkpoint (with cosignatures) its sender fully holds
 *           {t: "eq", origin, proof}        an equivocation proof (cairn/equivocation/v1 text)
 *           {t: "rd", origin, notice}       a signed redaction notice (spec/redaction.md)
 *   /cairn/sync/1     request  {origin, start, end, to}
 *                     response {start, count, proof: [hash]} then `count` entry frames
 *   /cairn/status/1   request  one empty frame  response: one frame per checkpoint note held
 *   /cairn/witness/1  request  add-checkpoint body (c2sp tlog-witness) as one frame
 *                     response {status, body}
 *   /cairn/redactions/1 request {digest}     response: nothing if the responder's notice digest
 *                                            is the same, else one frame per signed notice it keeps
 *   /cairn/feedback/1 request {t: "report", id, record, verdict, reason, provider, reported[, ref]}
 *                             response {state[, outcome]}              (to the adding centre)
 *                     request {t: "outcomes", ids}  response: one {id, outcome} frame per decided report
 *                     request {t: "outcome", id, outcome}  response: no frame  (from the adding centre)
 */
import { decodeCanonical, encodeCanonical, type CborDecoded, type CborValue } from '../../protocol/cbor.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { fromUtf8, utf8 } from '../../protocol/bytes.ts'

export const PROTO_SYNC = '/cairn/sync/1'
export const PROTO_STATUS = '/cairn/status/1'
export const PROTO_WITNESS = '/cairn/witness/1'
export const PROTO_REDACTIONS = '/cairn/redactions/1'
export const PROTO_FEEDBACK = '/cairn/feedback/1'
/** Largest signed redaction notice on the wire (protocol/redaction.ts MAX_NOTICE_BYTES). */
const MAX_NOTICE_FRAME = 1024

/** Largest range one sync request may ask for. */
export const MAX_SYNC_RANGE = 4096
const MAX_MESSAGE_BYTES = 256 * 1024

function decodeMap(bytes: Uint8Array, what: string): Map<string, CborDecoded> {
  const v = decodeCanonical(bytes, { maxBytes: MAX_MESSAGE_BYTES })
  if (!(v instanceof Map)) throw new LedgerError('BAD_REQUEST', `${what} must be a CBOR map`)
  return v
}

function field<T extends CborDecoded>(m: Map<string, CborDecoded>, k: string, check: (v: CborDecoded) => v is T, what: string): T {
  const v = m.get(k)
  if (v === undefined || !check(v)) throw new LedgerError('BAD_REQUEST', `${what}: field ${k} is missing or of the wrong type`)
  return v
}

const isUint = (v: CborDecoded): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isText = (v: CborDecoded): v is string => typeof v === 'string'
const isHashList = (v: CborDecoded): v is Uint8Array[] => Array.isArray(v) && v.length <= 64 && v.every((h) => h instanceof Uint8Array && h.length === 32)

function onlyKeys(m: Map<string, CborDecoded>, allowed: string[], what: string) {
  for (const k of m.keys()) if (!allowed.includes(k)) throw new LedgerError('BAD_REQUEST', `${what}: unknown field ${k}`)
}

export type Gossip = { t: 'cp'; note: string } | { t: 'eq'; origin: string; proof: string } | { t: 'rd'; origin: string; notice: Uint8Array }

export function encodeGossip(g: Gossip): Uint8Array {
  return encodeCanonical(g)
}

export function decodeGossip(bytes: Uint8Array): Gossip {
  const m = decodeMap(bytes, 'gossip message')
  const t = field(m, 't', isText, 'gossip message')
  if (t === 'cp') {
    onlyKeys(m, ['t', 'note'], 'checkpoint announcement')
    return { t, note: field(m, 'note', isText, 'checkpoint announcement') }
  }
  if (t === 'eq') {
    onlyKeys(m, ['t', 'origin', 'proof'], 'equivocation announcement')
    return { t, origin: field(m, 'origin', isText, 'equivocation announcement'), proof: field(m, 'proof', isText, 'equivocation announcement') }
  }
  if (t === 'rd') {
    const what = 'redaction announcement'
    onlyKeys(m, ['t', 'origin', 'notice'], what)
    const notice = field(m, 'notice', (v): v is Uint8Array => v instanceof Uint8Array && v.length <= MAX_NOTICE_FRAME, what)
    return { t, origin: field(m, 'origin', isText, what), notice }
  }
  throw new LedgerError('BAD_REQUEST', `unknown gossip message type ${t}`)
}

export interface SyncRequest {
  origin: string
  start: number
  end: number
  /** Size of the checkpoint the requester verifies against; the response proves [0, end) consistent with it. */
  to: number
}

export function encodeSyncRequest(r: SyncRequest): Uint8Array {
  return encodeCanonical({ origin: r.origin, start: r.start, end: r.end, to: r.to })
}

export function decodeSyncRequest(bytes: Uint8Array): SyncRequest {
  const what = 'sync request'
  const m = decodeMap(bytes, what)
  onlyKeys(m, ['origin', 'start', 'end', 'to'], what)
  const r = { origin: field(m, 'origin', isText, what), start: field(m, 'start', isUint, what), end: field(m, 'end', isUint, what), to: field(m, 'to', isUint, what) }
  if (r.end <= r.start || r.end - r.start > MAX_SYNC_RANGE || r.to < r.end) {
    throw new LedgerError('BAD_REQUEST', `${what}: need start < end ≤ to and at most ${MAX_SYNC_RANGE} entries`)
  }
  return r
}

export interface SyncHeader {
  start: number
  count: number
  /** Consistency proof from `start + count` to the requested `to`. */
  proof: Uint8Array[]
}

export function encodeSyncHeader(h: SyncHeader): Uint8Array {
  return encodeCanonical({ start: h.start, count: h.count, proof: h.proof })
}

export function decodeSyncHeader(bytes: Uint8Array): SyncHeader {
  const what = 'sync response header'
  const m = decodeMap(bytes, what)
  onlyKeys(m, ['start', 'count', 'proof'], what)
  return { start: field(m, 'start', isUint, what), count: field(m, 'count', isUint, what), proof: field(m, 'proof', isHashList, what) }
}

export interface WitnessResponse {
  status: number
  body: string
}

export function encodeWitnessResponse(r: WitnessResponse): Uint8Array {
  return encodeCanonical({ status: r.status, body: r.body })
}

export function decodeWitnessResponse(bytes: Uint8Array): WitnessResponse {
  const what = 'witness response'
  const m = decodeMap(bytes, what)
  onlyKeys(m, ['status', 'body'], what)
  return { status: field(m, 'status', isUint, what), body: field(m, 'body', isText, what) }
}

export const textFrame = (s: string): Uint8Array => utf8(s)
export const frameText = (b: Uint8Array): string => fromUtf8(b, 'BAD_FIELD')

/** /cairn/redactions/1 request: the digest of the notices the requester keeps (SHA-256 over their sorted SHA-256s). */
export function encodeRedactionsRequest(digest: Uint8Array): Uint8Array {
  return encodeCanonical({ digest })
}

export function decodeRedactionsRequest(bytes: Uint8Array): Uint8Array {
  const what = 'redactions request'
  const m = decodeMap(bytes, what)
  onlyKeys(m, ['digest'], what)
  return field(m, 'digest', (v): v is Uint8Array => v instanceof Uint8Array && v.length === 32, what)
}

// ---------------------------------------------------------------- /cairn/feedback/1 (spec/federation.md §11.4)

/** Report ids a node may ask the outcome of in one request. */
export const MAX_OUTCOME_IDS = 256
/** Largest feedback request frame. */
export const MAX_FEEDBACK_FRAME = 16 * 1024

export interface FeedbackReportMessage {
  t: 'report'
  id: string
  record: Uint8Array
  verdict: string
  reason: string
  provider: string
  reported: number
  ref?: string
}

export interface WireOutcome {
  decision: string
  record: Uint8Array
  time: number
  reason?: string
  reviewed: boolean
}

export type FeedbackMessage =
  | FeedbackReportMessage
  | { t: 'outcomes'; ids: string[] }
  | { t: 'outcome'; id: string; outcome: WireOutcome }

const isReportIdText = (v: CborDecoded): v is string => typeof v === 'string' && /^[0-9a-f]{32}$/.test(v)
const isShortText = (v: CborDecoded): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 64
const isHash = (v: CborDecoded): v is Uint8Array => v instanceof Uint8Array && v.length === 32
const isFlag = (v: CborDecoded): v is number => v === 0 || v === 1

/** `reviewed` travels as 0 or 1: canonical CBOR here has no booleans. */
function encodeOutcome(o: WireOutcome): Map<string, CborValue> {
  const m = new Map<string, CborValue>([['decision', o.decision], ['record', o.record], ['time', o.time], ['reviewed', o.reviewed ? 1 : 0]])
  if (o.reason !== undefined) m.set('reason', o.reason)
  return m
}

function decodeOutcome(v: CborDecoded | undefined, what: string): WireOutcome {
  if (!(v instanceof Map)) throw new LedgerError('BAD_REQUEST', `${what}: outcome must be a CBOR map`)
  const m = v as Map<string, CborDecoded>
  onlyKeys(m, ['decision', 'record', 'time', 'reason', 'reviewed'], what)
  const o: WireOutcome = {
    decision: field(m, 'decision', isShortText, what), record: field(m, 'record', isHash, what),
    time: field(m, 'time', isUint, what), reviewed: field(m, 'reviewed', isFlag, what) === 1,
  }
  if (m.has('reason')) o.reason = field(m, 'reason', isShortText, what)
  return o
}

export function encodeFeedbackMessage(msg: FeedbackMessage): Uint8Array {
  if (msg.t === 'report') {
    const { ref, ...rest } = msg
    return encodeCanonical(ref === undefined ? rest : { ...rest, ref })
  }
  if (msg.t === 'outcomes') return encodeCanonical({ t: msg.t, ids: msg.ids })
  return encodeCanonical(new Map<string, CborValue>([['t', msg.t], ['id', msg.id], ['outcome', encodeOutcome(msg.outcome)]]))
}

export function decodeFeedbackMessage(bytes: Uint8Array): FeedbackMessage {
  const what = 'feedback message'
  const m = decodeMap(bytes, what)
  const t = field(m, 't', isText, what)
  if (t === 'report') {
    onlyKeys(m, ['t', 'id', 'record', 'verdict', 'reason', 'provider', 'reported', 'ref'], what)
    const r: FeedbackReportMessage = {
      t, id: field(m, 'id', isReportIdText, what), record: field(m, 'record', isHash, what),
      verdict: field(m, 'verdict', isShortText, what), reason: field(m, 'reason', isShortText, what),
      provider: field(m, 'provider', isShortText, what), reported: field(m, 'reported', isUint, what),
    }
    if (m.has('ref')) r.ref = field(m, 'ref', isShortText, what)
    return r
  }
  if (t === 'outcomes') {
    onlyKeys(m, ['t', 'ids'], what)
    return { t, ids: field(m, 'ids', (v): v is string[] => Array.isArray(v) && v.length <= MAX_OUTCOME_IDS && v.every(isReportIdText), what) }
  }
  if (t === 'outcome') {
    onlyKeys(m, ['t', 'id', 'outcome'], what)
    return { t, id: field(m, 'id', isReportIdText, what), outcome: decodeOutcome(m.get('outcome'), what) }
  }
  throw new LedgerError('BAD_REQUEST', `unknown feedback message type ${t}`)
}

/** Response to a report: where it stands at the adding centre. */
export interface FeedbackAck {
  state: 'open' | 'decided'
  outcome?: WireOutcome
}

export function encodeFeedbackAck(a: FeedbackAck): Uint8Array {
  const m = new Map<string, CborValue>([['state', a.state]])
  if (a.outcome) m.set('outcome', encodeOutcome(a.outcome))
  return encodeCanonical(m)
}

export function decodeFeedbackAck(bytes: Uint8Array): FeedbackAck {
  const what = 'feedback answer'
  const m = decodeMap(bytes, what)
  onlyKeys(m, ['state', 'outcome'], what)
  const state = field(m, 'state', (v): v is 'open' | 'decided' => v === 'open' || v === 'decided', what)
  return m.has('outcome') ? { state, outcome: decodeOutcome(m.get('outcome'), what) } : { state }
}

/** One frame of the answer to {t: "outcomes"}. */
export function encodeOutcomeFrame(id: string, o: WireOutcome): Uint8Array {
  return encodeCanonical(new Map<string, CborValue>([['id', id], ['outcome', encodeOutcome(o)]]))
}

export function decodeOutcomeFrame(bytes: Uint8Array): { id: string; outcome: WireOutcome } {
  const what = 'feedback outcome'
  const m = decodeMap(bytes, what)
  onlyKeys(m, ['id', 'outcome'], what)
  return { id: field(m, 'id', isReportIdText, what), outcome: decodeOutcome(m.get('outcome'), what) }
}
