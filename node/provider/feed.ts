/**
 * The provider feed (DESIGN §4), derived deterministically from the logs
 * themselves: nothing here keeps state of its own, so any node that serves
 * the same logs gives the same answer for the same cursor.
 *
 * A cursor is the list of (log origin, size) it covers: base64url (no
 * padding) of the canonical CBOR map {v: 1, logs: [[origin, size], ...]},
 * origins ascending, sizes > 0 (a log at size 0 is left out). A feed page
 * scans each log, in origin order, from the cursor's size up to the size of
 * the checkpoint the node publishes for it (never past it), emitting `add`
 * for indicators, `remove` for revocations and `attest` for attestations of
 * indicators (with the opinions on it, opinions.ts); roster records emit
 * nothing. Every page names, per log, that signed checkpoint and
 * a consistency proof from the page's end to it, so a client can check what
 * it received against signed, cosigned checkpoints.
 *
 * A redacted entry (spec/redaction.md) is stored as its marker: it reads as
 * a record of type `redacted` and changes nothing; the revocation its owner
 * published before redacting it removes it, without alg, value or category.
 *
 * Stored entries were fully verified on the way in, and every read checks
 * them against their leaf hashes in the tiles (Store.entriesWithIds, which
 * also gives the record ids), so they are read here with a small trusting
 * CBOR reader (readStoredRecord), not the validating decoder: a 10,000-entry
 * page is a range read plus a hash per entry.
 */
import { LedgerError } from '../../protocol/errors.ts'
import { equalBytes, toBase64, toHex } from '../../protocol/bytes.ts'
import type { Store } from '../storage/store.ts'
import { encodeCursor, type Sizes } from '../../protocol/feed-cursor.ts'
import { readStoredRecord, type StoredRecord } from '../../protocol/stored-record.ts'
import { wanted, isEmptySubscription, type Subscription } from '../../protocol/subscription.ts'
import type { OpinionIndex } from './opinions.ts'


export const FEED_DEFAULT_LIMIT = 1000
export const FEED_MAX_LIMIT = 10_000

// ------------------------------------------------------------------ changes

/** One change of the current set, as DESIGN §4 shapes it, plus where it comes from. */
export interface FeedItem {
  op: 'add' | 'remove' | 'attest'
  /** Absent on the remove of a redacted indicator (its payload is gone; `redacted` is set). */
  alg?: string
  /** Lowercase hex. */
  value?: string
  /** Record id of the indicator added, removed or attested. */
  id: string
  category?: string
  kind?: string
  media?: string
  /** The indicator's PDQ quality, case-reference pseudonym and expiry, where it has them. */
  quality?: number
  ref?: string
  expires?: number
  /** The indicator was redacted on legal order: remove it by `id`. */
  redacted?: true
  /** Log and index of the entry that made the change. */
  log: string
  seq: number
  /** Removes: the revocation's record id and reason. */
  revocation?: string
  /** Removes: the revocation's reason; attests: the attestation's, if it gave one. */
  reason?: string
  /** Attests: the attestation's record id and opinion. */
  attestation?: string
  opinion?: 'confirm' | 'dispute'
  /** Centres whose latest word on the indicator is confirm, resp. dispute, as of the page's checkpoints (adds: only when not empty; attests: always). */
  confirmations?: string[]
  disputes?: string[]
}

/**
 * What one entry changes in the set: an indicator adds itself, a revocation
 * removes its target; a redaction marker changes nothing. Expiry needs no
 * case here: the owner's node revokes an expired indicator with reason
 * `expired` (node/retention.ts), so the remove is an entry of the log and no
 * serving node's clock decides anything.
 */
export type Change =
  | { op: 'add'; id: Uint8Array; record: StoredRecord }
  | { op: 'remove'; target: Uint8Array; revocationId: Uint8Array; record: StoredRecord }

export function changeOf(id: Uint8Array, record: StoredRecord): Change | undefined {
  if (record.type === 'indicator') return { op: 'add', id, record }
  if (record.type === 'revocation') return { op: 'remove', target: record.target!, revocationId: id, record }
  return undefined
}

/** The indicator a revocation names: an earlier entry of the same log (ingest guarantees it). */
export async function revokedIndicator(store: Store, origin: string, before: number, target: Uint8Array): Promise<StoredRecord> {
  const rec = await revokedTarget(store, origin, before, target)
  if (rec.type !== 'indicator') throw new LedgerError('STORAGE_CORRUPT', `revocation in ${origin} names a ${rec.type}, not an indicator`)
  return rec
}

/** As revokedIndicator, but a redacted target comes back as its `redacted` record. */
export async function revokedTarget(store: Store, origin: string, before: number, target: Uint8Array): Promise<StoredRecord> {
  const at = await store.locate(target)
  if (!at || at.origin !== origin || at.index >= before) {
    throw new LedgerError('STORAGE_CORRUPT', `revocation in ${origin} names ${toHex(target)}, which is not an earlier entry of that log`)
  }
  const { entries, ids } = await store.entriesWithIds(origin, at.index, at.index + 1)
  // The record index ('I') is derived data: the entry it points at must be the one the revocation names.
  if (!equalBytes(ids[0]!, target)) store.corrupt(origin, { what: 'entry', index: at.index })
  const rec = readStoredRecord(entries[0]!)
  if (rec.type !== 'indicator' && rec.type !== 'redacted') throw new LedgerError('STORAGE_CORRUPT', `revocation in ${origin} names a ${rec.type}, not an indicator`)
  return rec
}

/** True when a revocation's target (an earlier entry of `origin`) is redacted on this node. */
export async function targetRedacted(store: Store, origin: string, target: Uint8Array): Promise<boolean> {
  const at = await store.locate(target)
  return at !== undefined && at.origin === origin && (await store.isRedacted(origin, at.index))
}

// --------------------------------------------------------------------- pages

/** Per log: what this page covers and the signed checkpoint to check it against. */
export interface FeedLogBlock {
  origin: string
  /** Entries [from, to) of the log are in this page. */
  from: number
  to: number
  /** Size of the checkpoint below (0 if none is held yet). */
  size: number
  /** The signed checkpoint note this node publishes for the log, with its cosignatures. */
  checkpoint?: string
  /** Consistency proof (base64 hashes) from size `to` to `size`. */
  proof?: string[]
  /** Consistency proof from the caller's `verified` size to `size`. */
  verified_proof?: string[]
  /** The node cannot serve this log from the cursor (it holds less than the cursor or `verified` says, or `unavailable`): nothing is read. */
  behind?: true
  /** The node found its stored copy of this log damaged and serves nothing of it until it is healed from a peer (with `behind`). */
  unavailable?: true
  frozen?: true
  /** With entries=1: every entry in [from, to), base64. */
  entries?: string[]
}

export interface FeedPage {
  items: FeedItem[]
  next: string
  more: boolean
  logs: FeedLogBlock[]
}

export interface FeedRequest {
  cursor: Sizes
  /** Sizes of the checkpoints the caller verified last; the page proves its checkpoints consistent with them. */
  verified?: Sizes
  /** Most log entries the page covers (each yields at most one item). */
  limit: number
  withEntries?: boolean
  /** Gives adds and attests the opinions on their indicator. */
  opinions?: OpinionIndex
  /** Only items about indicators the subscription wants (log blocks and entries are whole: a client verifies them all). */
  filter?: Subscription
}

export function byOrigin<T extends { origin: string }>(a: T, b: T): number {
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0
}

const b64list = (hashes: Uint8Array[]) => hashes.map(toBase64)

export async function feedPage(store: Store, req: FeedRequest): Promise<FeedPage> {
  const logs = store.listLogs().sort(byOrigin)
  const next: Sizes = new Map(req.cursor) // logs this node does not hold keep their place
  const items: FeedItem[] = []
  const blocks: FeedLogBlock[] = []
  // Opinions are given as of the checkpoints the page names.
  const sizes: Sizes = new Map(logs.filter((l) => l.checkpoint && !l.damaged).map((l) => [l.origin, l.checkpointSize]))
  await req.opinions?.upTo()
  const ctx: ItemContext = { store, opinions: req.opinions, sizes, filter: isEmptySubscription(req.filter) ? undefined : req.filter }
  let budget = req.limit
  let more = false
  for (const l of logs) {
    const from = req.cursor.get(l.origin) ?? 0
    const size = l.checkpoint ? l.checkpointSize : 0
    const block: FeedLogBlock = { origin: l.origin, from, to: from, size }
    if (l.checkpoint) block.checkpoint = l.checkpoint
    if (l.frozen) block.frozen = true
    blocks.push(block)
    const verified = req.verified?.get(l.origin)
    if (l.damaged) {
      block.behind = true
      block.unavailable = true
      continue
    }
    if (from > size || (verified !== undefined && verified > size)) {
      block.behind = true
      continue
    }
    if (!l.checkpoint) continue
    const to = Math.min(size, from + budget)
    try {
      const got = to > from ? await store.entriesWithIds(l.origin, from, to) : { entries: [], ids: [] }
      const logItems = await itemsFor(ctx, l.origin, from, got.entries, got.ids)
      const proof = b64list(await store.consistencyProof(l.origin, to, size))
      const verifiedProof = verified === undefined ? undefined : b64list(await store.consistencyProof(l.origin, verified, size))
      items.push(...logItems)
      if (req.withEntries) block.entries = got.entries.map(toBase64)
      block.proof = proof
      if (verifiedProof) block.verified_proof = verifiedProof
    } catch (e) {
      // Stored data of this log did not match its tree (the store withholds it and it heals from a peer): nothing of it in this page.
      if (!(e instanceof LedgerError) || e.code !== 'STORAGE_CORRUPT') throw e
      block.behind = true
      block.unavailable = true
      continue
    }
    budget -= to - from
    block.to = to
    if (to < size) more = true
    next.set(l.origin, to)
  }
  return { items, next: encodeCursor(next), more, logs: blocks }
}

/** What items are made with: the store, the opinions as of the page's sizes, the subscription. */
interface ItemContext {
  store: Store
  opinions?: OpinionIndex
  sizes: Sizes
  filter?: Subscription
}

/** An indicator's fields as an item shows them (absent ones stay absent). */
function indicatorFields(r: StoredRecord): Pick<FeedItem, 'alg' | 'value' | 'category' | 'kind' | 'media' | 'quality' | 'ref' | 'expires'> {
  const f: ReturnType<typeof indicatorFields> = { alg: r.alg!, value: toHex(r.value!), category: r.category!, kind: r.kind!, media: r.media! }
  if (r.quality !== undefined) f.quality = r.quality
  if (r.ref !== undefined) f.ref = r.ref
  if (r.expires !== undefined) f.expires = r.expires
  return f
}

/** The record an attestation names, wherever it lies: an indicator, a redacted one, or undefined (not an indicator, or not held). */
async function attestedRecord(store: Store, target: Uint8Array): Promise<StoredRecord | undefined> {
  const at = await store.locate(target)
  if (!at) return undefined
  const { entries, ids } = await store.entriesWithIds(at.origin, at.index, at.index + 1)
  if (!equalBytes(ids[0]!, target)) store.corrupt(at.origin, { what: 'entry', index: at.index })
  const rec = readStoredRecord(entries[0]!)
  return rec.type === 'indicator' || rec.type === 'redacted' ? rec : undefined
}

/** The items of entries [start, start + entries.length) of a log, in order. */
async function itemsFor(ctx: ItemContext, origin: string, start: number, entries: Uint8Array[], ids: Uint8Array[]): Promise<FeedItem[]> {
  const { store, filter } = ctx
  const out: (FeedItem | undefined | Promise<FeedItem | undefined>)[] = []
  const pageIndicators = new Map<string, StoredRecord>()
  const opinionsOn = (id: string) => ctx.opinions?.opinions(id, ctx.sizes)
  for (let i = 0; i < entries.length; i++) {
    const id = ids[i]!
    const rec = readStoredRecord(entries[i]!)
    const seq = start + i
    if (rec.type === 'attestation') {
      if (rec.opinion !== 'confirm' && rec.opinion !== 'dispute') continue
      const t = toHex(rec.target!)
      const attested = (ind: StoredRecord | undefined): FeedItem | undefined => {
        if (!ind) return undefined
        if (ind.type === 'indicator' && !wanted(filter, { ...ind, log: ind.log })) return undefined
        const o = opinionsOn(t)
        const item: FeedItem = ind.type === 'redacted' ? { op: 'attest', id: t, redacted: true, log: origin, seq } : { op: 'attest', ...indicatorFields(ind), id: t, log: origin, seq }
        Object.assign(item, { attestation: toHex(id), opinion: rec.opinion })
        if (rec.reason) item.reason = rec.reason
        item.confirmations = o?.confirmations ?? []
        item.disputes = o?.disputes ?? []
        return item
      }
      const local = pageIndicators.get(t)
      out.push(local ? attested(local) : attestedRecord(store, rec.target!).then(attested))
      continue
    }
    const ch = changeOf(id, rec)
    if (!ch) continue
    if (ch.op === 'add') {
      const hex = toHex(id)
      pageIndicators.set(hex, rec)
      if (!wanted(filter, { ...rec, log: origin })) continue
      const item: FeedItem = { op: 'add', ...indicatorFields(rec), id: hex, log: origin, seq }
      const o = opinionsOn(hex)
      if (o?.confirmations.length) item.confirmations = o.confirmations
      if (o?.disputes.length) item.disputes = o.disputes
      out.push(item)
    } else {
      const t = toHex(ch.target)
      const removed = (ind: StoredRecord): FeedItem | undefined => {
        if (ind.type === 'redacted') return { op: 'remove', id: t, redacted: true, log: origin, seq, revocation: toHex(id), reason: rec.reason }
        if (!wanted(filter, { ...ind, log: origin })) return undefined
        return { op: 'remove', ...indicatorFields(ind), id: t, log: origin, seq, revocation: toHex(id), reason: rec.reason }
      }
      const local = pageIndicators.get(t)
      out.push(local ? removed(local) : revokedTarget(store, origin, seq, ch.target).then(removed))
    }
  }
  return (await Promise.all(out)).filter((x): x is FeedItem => x !== undefined)
}

// ------------------------------------------------------------------ the set

/**
 * The published checkpoint size of every log this node holds and serves (the
 * sizes a snapshot or TAXII view covers): a log found damaged is left out
 * until it is healed, so a snapshot's cursor does not claim it.
 */
export function publishedSizes(store: Store): Sizes {
  const out: Sizes = new Map()
  for (const l of store.listLogs()) if (l.checkpoint && !l.damaged) out.set(l.origin, l.checkpointSize)
  return out
}

/** An indicator in the set, with where it was written. */
export interface SetRow {
  id: Uint8Array
  record: StoredRecord
  seq: number
  /** The stored signed entry, as read (and checked against its leaf hash) from the store. */
  entry: Uint8Array
}

export type SetEvent =
  | { kind: 'log'; origin: string; firstTime: number }
  | { kind: 'indicator'; origin: string; row: SetRow }

/**
 * True if the indicator `id` (at `index` of `origin`) is revoked by an entry
 * below `size`. `inSet` is the store's current-set answer: members are not
 * revoked at all, so only the rare non-members need a closer look.
 */
export async function revokedBelow(store: Store, origin: string, size: number, id: Uint8Array, inSet: boolean): Promise<boolean> {
  if (inSet) return false
  for (const ref of await store.references(id)) {
    if (ref.type !== 'revocation') continue
    const at = await store.locate(ref.id)
    if (at && at.origin === origin && at.index < size) return true
  }
  return false
}

/**
 * Streams the indicator set exactly as of `sizes` (log origin order, then
 * entry order): every indicator in entries [0, size) not revoked by an entry
 * in [0, size). Reads entries in chunks; only a chunk is held in memory.
 * `from` starts a log's scan at an entry (the rest of a snapshot whose
 * beginning came from elsewhere).
 */
export async function* scanSet(store: Store, sizes: Sizes, chunk = 4000, from?: Sizes): AsyncGenerator<SetEvent> {
  const origins = [...sizes.keys()].sort()
  // One chunk: its entries read, their indicators found, and the current set asked about them in one read.
  const load = async (origin: string, start: number, end: number) => {
    const { entries, ids } = await store.entriesWithIds(origin, start, end)
    const rows: SetRow[] = []
    let firstTime: number | undefined
    for (let i = 0; i < entries.length; i++) {
      const record = readStoredRecord(entries[i]!)
      if (start === 0 && i === 0) firstTime = record.time
      if (record.type === 'indicator') rows.push({ id: ids[i]!, record, seq: start + i, entry: entries[i]! })
    }
    return { rows, firstTime, inSet: await store.inCurrentSetMany(rows.map((r) => r.id)) }
  }
  for (const origin of origins) {
    const size = sizes.get(origin)!
    const first = Math.min(from?.get(origin) ?? 0, size)
    let next = size > first ? load(origin, first, Math.min(size, first + chunk)) : undefined
    for (let start = first; start < size; start += chunk) {
      const { rows, firstTime, inSet } = await next!
      // The next chunk is read while this one is sent.
      next = start + chunk < size ? load(origin, start + chunk, Math.min(size, start + 2 * chunk)) : undefined
      next?.catch(() => undefined) // awaited in the next round; not unhandled if this round ends the stream
      if (firstTime !== undefined) yield { kind: 'log', origin, firstTime }
      for (let i = 0; i < rows.length; i++) {
        // Members of the current set are not revoked at all; only the rare others need a closer look.
        if (inSet[i] || !(await revokedBelow(store, origin, size, rows[i]!.id, false))) yield { kind: 'indicator', origin, row: rows[i]! }
      }
    }
  }
}

/** Entries per read while walking a log in time order. */
const TIMELINE_CHUNK = 256

/** One event of the time-ordered view of the logs (TAXII): a log's first appearance, an indicator, a revocation, an attestation. */
export interface TimelineEvent {
  origin: string
  /** Position in the log's timeline: 0 = the log itself, i + 1 = entry i. */
  pos: number
  time: number
  kind: 'log' | 'indicator' | 'revocation' | 'attestation'
  /** For entries: record id and record. */
  id?: Uint8Array
  record?: StoredRecord
}

/** First index in [0, size) whose record time is after `after` (records are time-ordered within a log). */
async function firstAfter(store: Store, origin: string, size: number, after: number): Promise<number> {
  let lo = 0
  let hi = size
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if (readStoredRecord(await store.entry(origin, mid)).time > after) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** Reads one log's timeline forward from a position, a chunk at a time. */
class TimelineReader {
  private buf: TimelineEvent[] = []
  private nextIndex: number
  constructor(private readonly store: Store, readonly origin: string, private readonly size: number, public pos: number) {
    this.nextIndex = Math.max(0, pos - 1)
  }

  /** The next event at or after `pos`, or undefined at the end. */
  async head(): Promise<TimelineEvent | undefined> {
    while (this.buf.length === 0) {
      if (this.nextIndex >= this.size) return undefined
      const end = Math.min(this.size, this.nextIndex + TIMELINE_CHUNK)
      const { entries, ids } = await this.store.entriesWithIds(this.origin, this.nextIndex, end)
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!
        const index = this.nextIndex + i
        const record = readStoredRecord(e)
        if (index === 0 && this.pos === 0) this.buf.push({ origin: this.origin, pos: 0, time: record.time, kind: 'log' })
        // A redacted indicator has left the timeline, and so has its revocation (it can name no value).
        if (record.type === 'revocation' && (await targetRedacted(this.store, this.origin, record.target!))) continue
        if (record.type === 'indicator' || record.type === 'revocation' || record.type === 'attestation') {
          this.buf.push({ origin: this.origin, pos: index + 1, time: record.time, kind: record.type, id: ids[i]!, record })
        }
      }
      this.nextIndex = end
      if (this.buf.length === 0) this.pos = end + 1
    }
    return this.buf[0]
  }

  take(): TimelineEvent {
    const ev = this.buf.shift()!
    this.pos = ev.pos + 1
    if (this.buf.length === 0) this.pos = Math.max(this.pos, this.nextIndex + 1)
    return ev
  }
}

/**
 * Walks every log's timeline merged by (time, origin, position) from the
 * given positions (or, for logs without one, from the first entry after
 * `addedAfter`). Returns the readers so the caller can read their positions
 * after taking what it needs.
 */
export async function openTimeline(store: Store, sizes: Sizes, positions: Sizes | undefined, addedAfter: number | undefined) {
  const readers: TimelineReader[] = []
  for (const origin of [...sizes.keys()].sort()) {
    const size = sizes.get(origin)!
    let pos = positions?.get(origin)
    if (pos === undefined) {
      if (addedAfter === undefined) pos = 0
      else {
        const first = await firstAfter(store, origin, size, addedAfter)
        pos = first === 0 ? 0 : first + 1
      }
    }
    readers.push(new TimelineReader(store, origin, size, Math.min(pos, size + 1)))
  }
  return {
    readers,
    /** The next event in merged order, or undefined when every log is exhausted. */
    async next(): Promise<TimelineEvent | undefined> {
      let best: TimelineReader | undefined
      let bestEv: TimelineEvent | undefined
      for (const r of readers) {
        const ev = await r.head()
        if (!ev) continue
        if (!bestEv || ev.time < bestEv.time || (ev.time === bestEv.time && (ev.origin < bestEv.origin || (ev.origin === bestEv.origin && ev.pos < bestEv.pos)))) {
          best = r
          bestEv = ev
        }
      }
      return best ? best.take() : undefined
    },
    positions(): Sizes {
      return new Map(readers.map((r) => [r.origin, r.pos]))
    },
  }
}
