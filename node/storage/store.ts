/**
 * The node's store: every log it holds (entries, tlog tiles, checkpoints) and
 * the indexes the API needs, on top of a KV. Appends are one atomic KV batch:
 * entries, tiles, indexes, counters and (optionally) the checkpoint that
 * covers them land together or not at all, so a crash leaves the store before
 * or after a batch, never between.
 *
 * Tiles follow c2sp.org/tlog-tiles: tile (L, N) holds the hashes at tree level
 * 8L with indexes 256N…256N+255; the right-most tile of each level is kept
 * partial (same key, shorter value) and mirrored in memory as the "edge", so
 * appends and the current root need no reads. Reading the tree back (roots,
 * proofs, tiles served) is tree.ts.
 *
 * Redaction (spec/redaction.md): a redacted entry's bytes are replaced by its
 * marker under the same key, so `entries()` serves markers where bundles and
 * sync need them; its leaf hash stays in the tiles. The signed notice is kept
 * under 'D', also for indexes not held yet (pending: applied on arrival).
 *
 * Why one file of ~1,000 lines: every write (append, checkpoint, freeze,
 * redaction, expiry, repair of damaged data) goes through one lock and one
 * atomic batch over the same key layout (keys.ts) and in-memory log state,
 * and every read is checked against that state's tree; split, the invariants
 * of one batch would be spread over files that each see half of it. Reading
 * the tree back is tree.ts; what counts as damage is integrity.ts.
 */
import { ChecksumMismatch, type KV, type BatchOp } from './kv.ts'
import { ValueFilter } from './value-filter.ts'
import { keys, P, u32, u64, readU32, readU64, prefixEnd, key, logIndex, slab, entryIndexRows, type Alloc } from './keys.ts'
import { ALG_CODES, CATEGORY_CODES, TYPE_CODES, ALG_NAMES, CATEGORY_NAMES } from './codes.ts'
import { concat, compareBytes, equalBytes, fromUtf8, sha256, toHex, utf8 } from '../../protocol/bytes.ts'
import { HASH_SIZE } from '../../protocol/hash.ts'
import { TreeReader, edgeRoot, innerRows, innerNodesOf, TILE_WIDTH, type TreeDamage } from './tree.ts'
import { leafOf, damageMessage, type Damage, type LogCheck } from './integrity.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { decodeCheckedRecord, type CairnRecord } from '../../protocol/records.ts'
import { decodeEntry } from '../../protocol/entry.ts'
import { encodeRedactionMarker, isRedactionMarker, readNoticeUnverified, type RedactionNotice } from '../../protocol/redaction.ts'
import { parseCheckpoint } from '../../protocol/checkpoint.ts'
import { parseNote } from '../../protocol/note.ts'

/** An 'I' value is log u32 ‖ index u64, then alg ‖ category ‖ value while the indicator is in the current set. */
const LOG_INDEX_BYTES = 12
/** Reads of up to this many entries check each by its proof instead of checking its level-0 tile whole. */
const FEW_ENTRIES = 2

export interface AppendItem {
  entry: Uint8Array
  /** Leaf hash of `entry` (= record id); computed by the caller, who verified the entry. */
  id: Uint8Array
  record: CairnRecord
}

/** A position whose entry arrived redacted (a verified marker): only its leaf hash and notice are kept. */
export interface RedactedItem {
  marker: Uint8Array
  /** The notice's id: the leaf hash at this position. */
  id: Uint8Array
  /** The signed notice inside the marker. */
  notice: Uint8Array
}

/** Told of what the store committed (node/set-lines.ts keeps the snapshot lines with it); called inside the write lock, must not throw. */
export interface StoreObserver {
  /** A batch of `origin` from index `first` committed; `redacted` lists positions stored as markers. */
  appended(origin: string, first: number, items: readonly (AppendItem | RedactedItem)[], redacted: readonly number[]): void
  /** Entry `index` of `origin`, already held, was redacted. */
  redactedEntry(origin: string, index: number): void
  /** `origin` was cut back to `size` entries (fork resolution): what was derived from the entries past it is gone. */
  truncated?(origin: string, size: number): void
}

/** What `truncate` removed. */
export interface Truncation {
  /** Entries removed (0: the log held no more than the size asked). */
  removed: number
  /** A roster proposal or confirmation was among them: the roster must be replayed. */
  rosterEvents: boolean
}

/** What `applyRedaction` did: redacted a held entry, kept a notice for an index not held yet, or nothing new. */
export type RedactionOutcome = 'applied' | 'pending' | 'known' | 'replaced'

/** Pending notices kept per log (only the log owner can sign them; this bounds what a faulty owner can make us store). */
export const MAX_PENDING_REDACTIONS = 10_000

export interface LogCounters {
  entries: number
  byType: Record<string, number>
  byAlg: Record<string, number>
  byCategory: Record<string, number>
  revocationsByReason: Record<string, number>
  attestationsByOpinion: Record<string, number>
}

export interface LogInfo {
  origin: string
  size: number
  checkpoint?: string
  checkpointSize: number
  frozen: boolean
  /** Stored data of this log did not match its tree: its entries, tiles and proofs are not served until it is repaired. */
  damaged?: Damage
}

interface LogState {
  num: number
  origin: string
  size: number
  /** edge[L]: the hashes of the partial tile at level L (length multiple of 32, < 256 hashes). */
  edge: Uint8Array[]
  checkpoint?: string
  checkpointSize: number
  frozen?: string
  counters: LogCounters
  /** Signed notices for indexes ≥ size, applied when the entry arrives. */
  pending: Map<number, Uint8Array>
  /** Set when stored data did not match the tree (integrity.ts); cleared by a repair. */
  damaged?: Damage
}

/** The value filter as a closing node keeps it (Store.valueFilterState, open.ts). */
export interface ValueFilterState {
  /** Per log: its size and tree root (hex) when the filter was taken. */
  logs: Record<string, { size: number; root: string }>
  bits: Uint8Array
  added: number
  capacity: number
}

export interface SetMember {
  id: Uint8Array
  alg: string
  category: string
  value: Uint8Array
}

function emptyCounters(): LogCounters {
  return { entries: 0, byType: {}, byAlg: {}, byCategory: {}, revocationsByReason: {}, attestationsByOpinion: {} }
}

function bump(o: Record<string, number>, k: string, by = 1) {
  o[k] = (o[k] ?? 0) + by
}

/** The value of an index key that holds nothing but its key (shared: an empty array cannot be written to). */
const EMPTY = new Uint8Array(0)

/** The 'I' value of an indicator in the current set: log‖index, alg, category, value, in one allocation. */
function memberValue(at: Uint8Array, alg: number, category: number, value: Uint8Array, alloc: Alloc): Uint8Array {
  const v = alloc(LOG_INDEX_BYTES + 2 + value.length)
  v.set(at)
  v[LOG_INDEX_BYTES] = alg
  v[LOG_INDEX_BYTES + 1] = category
  v.set(value, LOG_INDEX_BYTES + 2)
  return v
}

/** An 'I' value with the current-set tail. */
function isMember(idValue: Uint8Array | undefined): idValue is Uint8Array {
  return idValue !== undefined && idValue.length > LOG_INDEX_BYTES
}

/** An 'I' value without its current-set tail: log‖index only (a copy, safe to write back). */
function recordIndexOnly(idValue: Uint8Array): Uint8Array {
  return idValue.slice(0, LOG_INDEX_BYTES)
}

export class Store {
  private readonly logs = new Map<string, LogState>()
  private readonly byNum = new Map<number, LogState>()
  private setSize = 0
  private writeChain: Promise<unknown> = Promise.resolve()
  private readonly tree: TreeReader
  /** Per log, its stored checkpoint's size and root (signedCheckpoint). */
  private readonly signedRoots = new Map<number, { note: string; size: number; root: Uint8Array }>()
  private readonly expiryLogs = new Set<number>()
  private redactionDigestCache: Uint8Array | undefined
  private observer: StoreObserver | undefined
  /** Hears of every damage found (once per log until it is repaired): the node logs it and heals the log from a peer. */
  onDamage: ((d: Damage) => void) | undefined
  /** Current-set members moved from the old 'S' table into the record index when this store was opened (0: nothing to upgrade). */
  upgradedSetMembers = 0

  /** Which values the value index may hold: lets the duplicate check skip it for new values. */
  readonly valueFilter = new ValueFilter()
  private closed = false

  private constructor(readonly kv: KV) {
    this.tree = new TreeReader(kv, (st, d) => this.corrupt(st.origin, d))
  }

  /**
   * `onUpgrade` hears how an older store's layout is being moved on open
   * (members moved so far, members in the set), after every chunk: on a
   * store of 10M it takes minutes, and an operator should see it move.
   */
  static async open(kv: KV, opts: { onUpgrade?: (moved: number, members: number) => void } = {}): Promise<Store> {
    const s = new Store(kv)
    await s.load(opts.onUpgrade)
    return s
  }

  private async load(onUpgrade?: (moved: number, members: number) => void) {
    for await (const [k, v] of this.kv.iterate({ gte: new Uint8Array([P.log]), lt: new Uint8Array([P.log + 1]) })) {
      const origin = fromUtf8(k.subarray(1))
      const num = readU32(v)
      const stateBytes = await this.kv.get(keys.meta(`log/${num}`))
      const saved = stateBytes ? (JSON.parse(fromUtf8(stateBytes)) as { size: number; counters: LogCounters }) : { size: 0, counters: emptyCounters() }
      const st: LogState = { num, origin, size: saved.size, edge: [], checkpointSize: 0, counters: saved.counters, pending: new Map() }
      // Rebuild the in-memory edge from the partial tiles the size implies.
      for (let level = 0; ; level++) {
        const hashesAtLevel = Math.floor(saved.size / TILE_WIDTH ** level)
        if (hashesAtLevel === 0) break
        const w = hashesAtLevel % TILE_WIDTH
        if (w === 0) {
          st.edge[level] = new Uint8Array(0)
          continue
        }
        let tile: Uint8Array | undefined
        try {
          tile = await this.kv.get(keys.tile(num, level, Math.floor(hashesAtLevel / TILE_WIDTH)))
        } catch (e) {
          if (!(e instanceof ChecksumMismatch)) throw e
          // Damaged on disk: an edge of zeros, which the check at start finds does not give the checkpoint's root, and heals.
          tile = new Uint8Array(w * HASH_SIZE)
        }
        if (!tile || tile.length < w * HASH_SIZE) {
          throw new LedgerError('STORAGE_CORRUPT', `log ${origin}: tile ${level}/${Math.floor(hashesAtLevel / TILE_WIDTH)} is missing or short; the store is damaged`)
        }
        st.edge[level] = tile.slice(0, w * HASH_SIZE)
      }
      const cp = await this.kv.get(keys.checkpoint(num))
      if (cp) {
        st.checkpoint = fromUtf8(cp)
        st.checkpointSize = Number(st.checkpoint.split('\n')[1])
      }
      const fz = await this.kv.get(keys.frozen(num))
      if (fz) st.frozen = fromUtf8(fz)
      this.logs.set(origin, st)
      this.byNum.set(num, st)
    }
    const ss = await this.kv.get(keys.meta('setsize'))
    this.setSize = ss ? readU64(ss) : 0
    this.upgradedSetMembers = await this.moveSetIntoIds(onUpgrade)
    for await (const [k, v] of this.kv.iterate({ gte: new Uint8Array([P.redaction]), lt: new Uint8Array([P.redaction + 1]) })) {
      const st = this.byNum.get(readU32(k, 1))
      const index = readU64(k, 5)
      if (st && index >= st.size) st.pending.set(index, v)
    }
  }

  /**
   * Stores written before the current set moved into 'I' (keys.ts) keep it
   * under 'S': each member's tail moves onto its 'I' value, in atomic chunks.
   * Every chunk is whole, so a crash midway leaves some members moved and the
   * rest still under 'S', and the next open finishes the move.
   */
  private async moveSetIntoIds(onProgress?: (moved: number, members: number) => void): Promise<number> {
    let moved = 0
    for (;;) {
      const rows: [Uint8Array, Uint8Array][] = []
      for await (const row of this.kv.iterate({ gte: new Uint8Array([P.set]), lt: new Uint8Array([P.set + 1]), limit: 10_000 })) rows.push(row)
      if (rows.length === 0) return moved
      const at = await this.kv.getMany(rows.map(([k]) => keys.id(k.subarray(1))))
      const ops: BatchOp[] = []
      rows.forEach(([k, v], i) => {
        const idValue = at[i]
        if (!idValue) throw new LedgerError('STORAGE_CORRUPT', `current-set member ${toHex(k.subarray(1))} has no record index; the store is damaged`)
        ops.push({ type: 'put', key: keys.id(k.subarray(1)), value: concat(idValue.subarray(0, LOG_INDEX_BYTES), v) })
        ops.push({ type: 'del', key: new Uint8Array(k) })
      })
      await this.kv.batch(ops, { durable: true })
      moved += rows.length
      onProgress?.(moved, this.setSize)
    }
  }

  /** Serialises writes: appends to the store happen one batch at a time. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeChain.then(fn, fn)
    this.writeChain = run.catch(() => undefined)
    return run
  }

  /** Tells `o` of every later append and redaction (one observer). */
  observe(o: StoreObserver): void {
    this.observer = o
  }

  /** The number the store knows `origin` by (stable; names its derived files). */
  logNumber(origin: string): number {
    return this.state(origin).num
  }

  listLogs(): LogInfo[] {
    return [...this.logs.values()].map((l) => ({
      origin: l.origin, size: l.size, checkpoint: l.checkpoint, checkpointSize: l.checkpointSize, frozen: l.frozen !== undefined,
      ...(l.damaged ? { damaged: l.damaged } : {}),
    }))
  }

  hasLog(origin: string): boolean {
    return this.logs.has(origin)
  }

  size(origin: string): number {
    return this.logs.get(origin)?.size ?? 0
  }

  counters(origin: string): LogCounters {
    return structuredClone(this.state(origin).counters)
  }

  currentSetSize(): number {
    return this.setSize
  }

  private state(origin: string): LogState {
    const st = this.logs.get(origin)
    if (!st) throw new LedgerError('UNKNOWN_LOG', `this node holds no log named ${origin}`)
    return st
  }

  /** The state of a log whose data may be served: not one found damaged and not repaired yet. */
  private served(origin: string): LogState {
    const st = this.state(origin)
    if (st.damaged) throw new LedgerError('STORAGE_CORRUPT', damageMessage(st.damaged, true))
    return st
  }

  /**
   * Records that stored data of `origin` does not match its tree, tells
   * `onDamage` (once, until repaired) and throws STORAGE_CORRUPT naming the
   * log, the index and the key.
   */
  corrupt(origin: string, d: TreeDamage | { what: 'entry' | 'edge'; index: number; level?: number }): never {
    const st = this.state(origin)
    const level = d.level ?? 0
    const key = d.what === 'entry' ? keys.entry(st.num, d.index) : d.what === 'inner' ? keys.inner(st.num, level, d.index) : keys.tile(st.num, level, d.index)
    const damage: Damage = { origin, what: d.what, level, index: d.index, key: toHex(key) }
    if (!st.damaged) {
      st.damaged = damage
      this.onDamage?.(damage)
    }
    throw new LedgerError('STORAGE_CORRUPT', damageMessage(damage, false))
  }

  async registerLog(origin: string): Promise<void> {
    await this.exclusive(async () => {
      if (this.logs.has(origin)) return
      const num = this.byNum.size === 0 ? 1 : Math.max(...this.byNum.keys()) + 1
      const st: LogState = { num, origin, size: 0, edge: [], checkpointSize: 0, counters: emptyCounters(), pending: new Map() }
      await this.kv.batch([
        { type: 'put', key: keys.log(origin), value: u32(num) },
        { type: 'put', key: keys.meta(`log/${num}`), value: utf8(JSON.stringify({ size: 0, counters: st.counters })) },
      ], { durable: true })
      this.logs.set(origin, st)
      this.byNum.set(num, st)
    })
  }

  /**
   * Appends verified entries at the end of `origin`'s log, with their indexes,
   * and optionally the checkpoint note that covers the new size, atomically.
   * `firstIndex` must equal the current size (guards against racing writers).
   */
  append(
    origin: string,
    firstIndex: number,
    items: readonly (AppendItem | RedactedItem)[],
    options: {
      checkpoint?: string | ((size: number, root: Uint8Array) => string); durable?: boolean; /** Rows written in the same atomic batch (the publisher's idempotency answers). */ extra?: readonly BatchOp[]
      /**
       * Called with the new size and root (from the tiles this append computes) before anything is
       * written; if it throws, nothing is (sync proves a range against its checkpoint here, so the
       * range's interior nodes are hashed once, not once for the proof and again for the tiles).
       */
      verify?: (size: number, root: Uint8Array) => void
    } = {},
  ): Promise<{ size: number; root: Uint8Array; checkpoint?: string; redacted: number[]; droppedNotices: number[] }> {
    return this.exclusive(async () => {
      const st = this.state(origin)
      if (st.frozen) throw new LedgerError('LOG_FROZEN', `log ${origin} is frozen after an equivocation; it accepts no new entries`)
      if (firstIndex !== st.size) throw new LedgerError('SEQ_MISMATCH', `append to ${origin} at ${firstIndex} but the log holds ${st.size} entries`)
      const ops: BatchOp[] = []
      const alloc = slab()
      const counters = structuredClone(st.counters)
      const dirty = new Set<number>()
      const pendingSet = new Map<string, Uint8Array | false>() // id hex → its log‖index while in the set after this batch, false once out
      const revocationsInBatch = items.some((it) => !('marker' in it) && it.record.type === 'revocation')
      let setDelta = 0
      let size = st.size
      const redacted: number[] = []
      const droppedNotices: number[] = []

      // The right edge of each tile level, in buffers of one full tile that fill up in place.
      const work: Uint8Array[] = []
      const fill: number[] = []
      const workAt = (level: number) => {
        if (work[level]) return
        const cur = st.edge[level] ?? new Uint8Array(0)
        work[level] = new Uint8Array(TILE_WIDTH * HASH_SIZE)
        work[level]!.set(cur)
        fill[level] = cur.length
      }
      const push = (level: number, hash: Uint8Array, hashIndex: number) => {
        workAt(level)
        const buf = work[level]!
        buf.set(hash, fill[level]!)
        fill[level]! += HASH_SIZE
        const tileIndex = Math.floor(hashIndex / TILE_WIDTH)
        if (fill[level] === TILE_WIDTH * HASH_SIZE) {
          ops.push({ type: 'put', key: keys.tile(st.num, level, tileIndex), value: buf })
          // Its inner nodes are kept too: an inclusion proof then reads hashes instead of recomputing 255 of them.
          const inner = innerRows(buf)
          ops.push({ type: 'put', key: keys.inner(st.num, level, tileIndex), value: innerNodesOf(inner) })
          dirty.delete(level)
          work[level] = new Uint8Array(TILE_WIDTH * HASH_SIZE)
          fill[level] = 0
          push(level + 1, inner[inner.length - 1]!, tileIndex)
        } else {
          dirty.add(level)
        }
      }

      for (const item of items) {
        const index = size++
        push(0, item.id, index)
        const at = logIndex(st.num, index, undefined, alloc)
        const idOp = { type: 'put' as const, key: keys.id(item.id, alloc), value: at }
        ops.push(idOp)
        counters.entries++
        // A redacted position keeps its leaf hash, id and notice only: no payload, no derived index.
        const waiting = st.pending.get(index)
        let notice = 'marker' in item ? item.notice : waiting
        if ('marker' in item && waiting && compareBytes(waiting, item.notice) < 0 && equalBytes(readNoticeUnverified(waiting).id, item.id)) {
          notice = waiting // of two valid notices for one index, the bytewise smaller is kept everywhere
        }
        if (notice && !('marker' in item)) {
          const n = readNoticeUnverified(notice)
          if (!equalBytes(n.id, item.id) || item.record.type !== 'indicator') {
            // The owner signed a notice that does not name this entry (or names a non-indicator): it is void.
            ops.push({ type: 'del', key: keys.redaction(st.num, index) })
            droppedNotices.push(index)
            notice = undefined
          }
        }
        if (notice) {
          ops.push({ type: 'put', key: keys.entry(st.num, index), value: 'marker' in item && notice === item.notice ? item.marker : encodeRedactionMarker(notice) })
          ops.push({ type: 'put', key: keys.redaction(st.num, index), value: notice })
          bump(counters.byType, 'redacted')
          redacted.push(index)
          continue
        }
        const entryItem = item as AppendItem
        ops.push({ type: 'put', key: keys.entry(st.num, index, alloc), value: entryItem.entry })
        const r = entryItem.record
        bump(counters.byType, r.type)
        if (r.type === 'indicator') {
          bump(counters.byAlg, r.alg)
          bump(counters.byCategory, r.category)
          const alg = ALG_CODES[r.alg]
          const valueKey = keys.value(alg, r.value, item.id, alloc)
          ops.push({ type: 'put', key: valueKey, value: EMPTY })
          this.valueFilter.add(valueKey.subarray(1, 4 + r.value.length)) // before the batch is written: never a false negative
          idOp.value = memberValue(at, alg, CATEGORY_CODES[r.category], r.value, alloc)
          if (r.expires !== undefined && this.expiryLogs.has(st.num)) ops.push({ type: 'put', key: keys.expiry(st.num, r.expires, item.id), value: EMPTY })
          if (revocationsInBatch) pendingSet.set(Buffer.from(item.id).toString('hex'), at)
          setDelta++
        } else if (r.type === 'roster') {
          ops.push({ type: 'put', key: keys.roster(st.num, index), value: EMPTY })
        } else if (r.type === 'revocation' || r.type === 'attestation') {
          ops.push({ type: 'put', key: keys.ref(r.target, item.id), value: new Uint8Array([TYPE_CODES[r.type]]) })
          if (r.type === 'attestation') {
            bump(counters.attestationsByOpinion, r.opinion)
            if (r.opinion === 'confirm') ops.push({ type: 'put', key: keys.roster(st.num, index), value: EMPTY })
          }
          else {
            bump(counters.revocationsByReason, r.reason)
            const t = Buffer.from(r.target).toString('hex')
            let member = pendingSet.get(t)
            if (member === undefined) {
              const v = await this.kv.get(keys.id(r.target))
              member = isMember(v) ? recordIndexOnly(v) : false
            }
            if (member) {
              // Out of the set: the record index keeps only log‖index (a later put of a key wins within a batch).
              ops.push({ type: 'put', key: keys.id(r.target), value: member })
              pendingSet.set(t, false)
              setDelta--
            }
          }
        }
      }
      const edge = st.edge.slice()
      work.forEach((buf, level) => { edge[level] = buf.slice(0, fill[level]) })
      for (const level of dirty) {
        const hashesAtLevel = Math.floor(size / TILE_WIDTH ** level)
        ops.push({ type: 'put', key: keys.tile(st.num, level, Math.floor(hashesAtLevel / TILE_WIDTH)), value: edge[level]! })
      }
      ops.push({ type: 'put', key: keys.meta(`log/${st.num}`), value: utf8(JSON.stringify({ size, counters })) })
      ops.push({ type: 'put', key: keys.meta('setsize'), value: u64(this.setSize + setDelta) })
      const root = edgeRoot(edge, size)
      options.verify?.(size, root)
      const note = typeof options.checkpoint === 'function' ? options.checkpoint(size, root) : options.checkpoint
      if (note) {
        this.checkCheckpointCovers(note, origin, size, root)
        ops.push({ type: 'put', key: keys.checkpoint(st.num), value: utf8(note) })
        ops.push({ type: 'put', key: keys.history(st.num, size), value: utf8(note) })
      }
      if (options.extra) ops.push(...options.extra)
      await this.kv.batch(ops, { durable: options.durable ?? true })
      st.edge = edge
      st.size = size
      st.counters = counters
      this.setSize += setDelta
      if (note) {
        st.checkpoint = note
        st.checkpointSize = size
      }
      for (const i of [...redacted, ...droppedNotices]) st.pending.delete(i)
      if (redacted.length > 0 || droppedNotices.length > 0) this.redactionDigestCache = undefined
      this.observer?.appended(origin, firstIndex, items, redacted)
      return { size, root, checkpoint: note, redacted, droppedNotices }
    })
  }

  /** The note's body must name this log, this size and this root (its signatures are the caller's business). */
  private checkCheckpointCovers(note: string, origin: string, size: number, root: Uint8Array): void {
    const [o, s, r] = note.split('\n')
    if (o !== origin || Number(s) !== size || !equalBytes(new Uint8Array(Buffer.from(r ?? '', 'base64')), root)) {
      throw new LedgerError('INCONSISTENT_CHECKPOINT', `checkpoint for ${origin} does not match the stored tree at size ${size}`)
    }
  }

  /** Root of the current tree, from the in-memory edge. */
  rootNow(origin: string): Uint8Array {
    const st = this.state(origin)
    return edgeRoot(st.edge, st.size)
  }

  /** Hash of the complete subtree at (level, index); it must lie within the log's current size. */
  nodeHashAt(origin: string, level: number, index: number): Promise<Uint8Array> {
    return this.tree.nodeHashAt(this.state(origin), level, index)
  }

  /** RFC 9162 MTH of the entries in [start, end). */
  rangeHash(origin: string, start: number, end: number): Promise<Uint8Array> {
    return this.tree.rangeHash(this.state(origin), start, end)
  }

  root(origin: string, size: number): Promise<Uint8Array> {
    return this.tree.root(this.state(origin), size)
  }

  /**
   * RFC 9162 §2.1.3.1 inclusion proof for `index` in the tree of `size`: one
   * that folds the stored leaf to the root the log's edge or its stored
   * checkpoint gives for `size` (tree.ts inclusionProofTo), else from checked tiles.
   */
  inclusionProof(origin: string, index: number, size: number): Promise<Uint8Array[]> {
    const st = this.served(origin)
    const signed = this.signedCheckpoint(st)
    return this.tree.inclusionProofTo(st, index, size, signed?.size === size ? signed.root : undefined)
  }

  /** The size and root the log's stored checkpoint signs, parsed once per checkpoint (undefined: none held). */
  private signedCheckpoint(st: LogState): { size: number; root: Uint8Array } | undefined {
    const note = st.checkpoint
    if (!note) return undefined
    let c = this.signedRoots.get(st.num)
    if (!c || c.note !== note) {
      const cp = parseCheckpoint(parseNote(note).body)
      c = { note, size: cp.size, root: cp.root }
      this.signedRoots.set(st.num, c)
    }
    return c
  }

  /** RFC 9162 §2.1.4.1 consistency proof between sizes m ≤ n (from checked tiles). */
  consistencyProof(origin: string, m: number, n: number): Promise<Uint8Array[]> {
    return this.tree.consistencyProof(this.served(origin), m, n)
  }

  /** Tile bytes per tlog-tiles, checked against the tree: full (width 256) or the first `width` hashes; undefined if not (yet) that large. */
  tile(origin: string, level: number, index: number, width = TILE_WIDTH): Promise<Uint8Array | undefined> {
    return this.tree.tile(this.served(origin), level, index, width)
  }

  /** The stored bytes at `index`, checked against its leaf hash: the entry, or the marker of a redacted entry (spec/redaction.md). */
  async entry(origin: string, index: number): Promise<Uint8Array> {
    const st = this.served(origin)
    if (index < 0 || index >= st.size) throw new LedgerError('OUT_OF_RANGE', `${origin} has no entry ${index}`)
    return (await this.checkedEntries(st, index, index + 1)).entries[0]!
  }

  /** Entries [start, end), in order, each checked against its leaf hash; a redacted position gives its marker. */
  async entries(origin: string, start: number, end: number): Promise<Uint8Array[]> {
    return (await this.entriesWithIds(origin, start, end)).entries
  }

  /** entries() with their leaf hashes (record ids; a marker's is its notice's id), read from the checked tiles. */
  async entriesWithIds(origin: string, start: number, end: number): Promise<{ entries: Uint8Array[]; ids: Uint8Array[] }> {
    const st = this.served(origin)
    if (start < 0 || end > st.size || start > end) throw new LedgerError('OUT_OF_RANGE', `${origin} has no entries ${start}..${end}`)
    return this.checkedEntries(st, start, end)
  }

  private async checkedEntries(st: LogState, start: number, end: number): Promise<{ entries: Uint8Array[]; ids: Uint8Array[] }> {
    if (end - start <= FEW_ENTRIES) {
      // A lookup's entry or two: each shown by its proof to the current root (tree.ts leafInTree), not by checking its whole tile.
      for (let i = start; i < end; i++) await this.tree.warm(st, i)
      const entries = await Promise.all(Array.from({ length: end - start }, (_, i) => this.storedEntry(st, start + i)))
      const ids = entries.map((e, i) => {
        const leaf = e === undefined ? undefined : leafOf(e)
        return leaf && this.tree.leafInTree(st, start + i, leaf) ? leaf : undefined
      })
      if (ids.every((id) => id !== undefined)) return { entries: entries as Uint8Array[], ids: ids as Uint8Array[] }
    }
    const [entries, ids] = await Promise.all([this.rawEntries(st, start, end), this.tree.leafHashes(st, start, end)])
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]
      const leaf = e === undefined ? undefined : leafOf(e)
      if (!leaf || !equalBytes(leaf, ids[i]!)) this.corrupt(st.origin, { what: 'entry', index: start + i })
    }
    return { entries: entries as Uint8Array[], ids }
  }

  /** Stored entries [start, end) as they are (undefined where one is missing or unreadable); nothing checked. */
  private async rawEntries(st: LogState, start: number, end: number): Promise<(Uint8Array | undefined)[]> {
    let out: (Uint8Array | undefined)[]
    try {
      out = await this.kv.values({ gte: keys.entry(st.num, start), lt: keys.entry(st.num, end) })
    } catch (e) {
      if (!isLevelCorruption(e)) throw e
      out = []
    }
    if (out.length === end - start) return out
    // Some are missing or LevelDB could not read their block: find which, one by one.
    const one: (Uint8Array | undefined)[] = []
    for (let i = start; i < end; i++) one.push(await this.storedEntry(st, i))
    return one
  }

  /** The stored entry at `index` as it is; undefined if missing or unreadable (a LevelDB block failing its checksum). */
  private async storedEntry(st: LogState, index: number): Promise<Uint8Array | undefined> {
    try {
      return await this.kv.get(keys.entry(st.num, index))
    } catch (e) {
      if (!isLevelCorruption(e)) throw e
      return undefined
    }
  }

  /**
   * Cuts `origin` back to its first `size` entries (fork resolution,
   * spec/federation.md §10.10), undoing everything their appends derived, in
   * one atomic batch, so a crash leaves the log before or after, never
   * between: record index ('I'), entries, value index, references, roster
   * events, expiry index, applied redaction notices, current-set membership
   * (an indicator that a removed revocation took out comes back unless a kept
   * revocation or a redaction keeps it out), counters, tiles and their inner
   * nodes (the partial right edge rewritten), checkpoints of sizes past
   * `size` (the latest becomes the largest one left, or `checkpoint`). With
   * `unfreeze` the log's equivocation proof goes in the same batch. Allowed
   * on a frozen log. Tells the observer (set-lines rebuild the log's files).
   */
  truncate(origin: string, to: number, options: { checkpoint?: string; unfreeze?: boolean } = {}): Promise<Truncation> {
    return this.exclusive(async () => {
      const st = this.state(origin)
      const oldSize = st.size
      if (!Number.isSafeInteger(to) || to < 0 || (to > oldSize && options.checkpoint !== undefined)) {
        throw new LedgerError('OUT_OF_RANGE', `cannot cut ${origin} back to ${to} entries (it holds ${oldSize})`)
      }
      const size = Math.min(to, oldSize)
      const removed = Math.max(0, oldSize - size)
      const ops: BatchOp[] = []
      const counters = structuredClone(st.counters)
      let setDelta = 0
      let rosterEvents = false
      const ids = removed ? await this.tree.leafHashes(st, size, oldSize) : []
      const entries = removed ? await this.rawEntries(st, size, oldSize) : []
      const gone = new Set(ids.map((id) => toHex(id)))
      const revokedTargets = new Map<string, Uint8Array>()
      for (let k = 0; k < removed; k++) {
        const index = size + k
        const id = ids[k]!
        const e = entries[k]
        counters.entries--
        ops.push({ type: 'del', key: keys.id(id) }, { type: 'del', key: keys.entry(st.num, index) })
        if (await this.kv.get(keys.redaction(st.num, index))) {
          ops.push({ type: 'del', key: keys.redaction(st.num, index) })
          bump(counters.byType, 'redacted', -1)
          continue
        }
        if (!e || isRedactionMarker(e)) continue
        const r = decodeCheckedRecord(decodeEntry(e).recordBytes)
        bump(counters.byType, r.type, -1)
        for (const row of entryIndexRows(st.num, index, id, r)) ops.push({ type: 'del', key: row.key })
        if (r.type === 'indicator') {
          bump(counters.byAlg, r.alg, -1)
          bump(counters.byCategory, r.category, -1)
          if (r.expires !== undefined) ops.push({ type: 'del', key: keys.expiry(st.num, r.expires, id) })
          if (isMember(await this.kv.get(keys.id(id)))) setDelta--
        } else if (r.type === 'roster') {
          rosterEvents = true
        } else {
          if (r.type === 'attestation') {
            bump(counters.attestationsByOpinion, r.opinion, -1)
            if (r.opinion === 'confirm') rosterEvents = true
          } else {
            bump(counters.revocationsByReason, r.reason, -1)
            if (!gone.has(toHex(r.target))) revokedTargets.set(toHex(r.target), r.target)
          }
        }
      }
      // Indicators kept whose only revocations were removed return to the current set.
      for (const target of revokedTargets.values()) {
        if ((await this.references(target)).some((ref) => ref.type === 'revocation' && !gone.has(toHex(ref.id)))) continue
        const at = await this.kv.get(keys.id(target))
        if (!at || at.length > LOG_INDEX_BYTES || readU32(at) !== st.num) continue
        const index = readU64(at, 4)
        if (await this.kv.get(keys.redaction(st.num, index))) continue
        const stored = (await this.rawEntries(st, index, index + 1))[0]
        if (!stored || isRedactionMarker(stored)) continue
        const r = decodeCheckedRecord(decodeEntry(stored).recordBytes)
        if (r.type !== 'indicator') continue
        const alg = ALG_CODES[r.alg]
        ops.push({ type: 'put', key: keys.id(target), value: memberValue(at.subarray(0, LOG_INDEX_BYTES), alg, CATEGORY_CODES[r.category], r.value, (n) => new Uint8Array(n)) })
        if (r.expires !== undefined && this.expiryLogs.has(st.num)) ops.push({ type: 'put', key: keys.expiry(st.num, r.expires, target), value: EMPTY })
        setDelta++
      }
      // Tiles: a hash at level L, index j depends only on leaves [j·256^L, (j+1)·256^L), so the kept prefix of each tile stands.
      const edge: Uint8Array[] = []
      for (let level = 0; Math.floor(oldSize / TILE_WIDTH ** level) > 0; level++) {
        const oldCount = Math.floor(oldSize / TILE_WIDTH ** level)
        const newCount = Math.floor(size / TILE_WIDTH ** level)
        const keep = Math.floor(newCount / TILE_WIDTH)
        const w = newCount % TILE_WIDTH
        for (let j = keep + (w > 0 ? 1 : 0); j <= Math.floor(oldCount / TILE_WIDTH); j++) {
          ops.push({ type: 'del', key: keys.tile(st.num, level, j) }, { type: 'del', key: keys.inner(st.num, level, j) })
        }
        if (newCount === 0) continue
        if (w === 0) {
          edge[level] = new Uint8Array(0)
          continue
        }
        const oldEdgeTile = Math.floor(oldCount / TILE_WIDTH)
        const have = keep === oldEdgeTile ? st.edge[level] : await this.kv.get(keys.tile(st.num, level, keep))
        if (!have || have.length < w * HASH_SIZE) this.corrupt(origin, { what: 'tile', index: keep, level } as TreeDamage)
        edge[level] = have.slice(0, w * HASH_SIZE)
        if (removed) ops.push({ type: 'put', key: keys.tile(st.num, level, keep), value: edge[level]! }, { type: 'del', key: keys.inner(st.num, level, keep) })
      }
      // Checkpoints past the new size go; the latest is the largest one left (or the one given).
      const historyPrefix = key(P.history, u32(st.num))
      for await (const [k] of this.kv.iterate({ gte: keys.history(st.num, size + 1), lt: prefixEnd(historyPrefix) })) ops.push({ type: 'del', key: new Uint8Array(k) })
      let checkpoint = st.checkpoint
      let checkpointSize = st.checkpointSize
      if (options.checkpoint !== undefined) {
        checkpoint = options.checkpoint
        checkpointSize = Number(checkpoint.split('\n')[1])
        if (checkpointSize !== size) throw new LedgerError('INCONSISTENT_CHECKPOINT', `the checkpoint adopted for ${origin} is of size ${checkpointSize}, not ${size}`)
        this.checkCheckpointCovers(checkpoint, origin, size, edgeRoot(edge, size))
        ops.push({ type: 'put', key: keys.history(st.num, size), value: utf8(checkpoint) })
      } else if (checkpointSize > size) {
        checkpoint = undefined
        checkpointSize = 0
        for await (const [, v] of this.kv.iterate({ gte: historyPrefix, lt: keys.history(st.num, size + 1), reverse: true, limit: 1 })) {
          checkpoint = fromUtf8(v)
          checkpointSize = Number(checkpoint.split('\n')[1])
        }
      }
      if (checkpoint !== st.checkpoint) ops.push(checkpoint === undefined ? { type: 'del', key: keys.checkpoint(st.num) } : { type: 'put', key: keys.checkpoint(st.num), value: utf8(checkpoint) })
      if (options.unfreeze && st.frozen) ops.push({ type: 'del', key: keys.frozen(st.num) })
      ops.push({ type: 'put', key: keys.meta(`log/${st.num}`), value: utf8(JSON.stringify({ size, counters })) })
      ops.push({ type: 'put', key: keys.meta('setsize'), value: u64(this.setSize + setDelta) })
      await this.kv.batch(ops, { durable: true })
      if (removed) {
        st.size = size
        st.edge = edge
      }
      st.counters = counters
      this.setSize += setDelta
      if (checkpoint === undefined) delete st.checkpoint
      else st.checkpoint = checkpoint
      st.checkpointSize = checkpointSize
      if (options.unfreeze) delete st.frozen
      this.tree.forget(st.num)
      this.redactionDigestCache = undefined
      if (removed) this.observer?.truncated?.(origin, size)
      return { removed, rosterEvents }
    })
  }

  // ------------------------------------------------------------- integrity

  /**
   * The check at start (integrity.ts): the root at the stored checkpoint's
   * size, from the in-memory edge and the checked full tiles on its right
   * border, must be the one the checkpoint signs, and the newest entries
   * (the last full and the partial level-0 tile) must match their leaves.
   * A log that fails is marked damaged (onDamage); returns what was found.
   */
  async quickCheck(): Promise<Damage[]> {
    const found: Damage[] = []
    for (const st of this.logs.values()) {
      if (st.damaged) {
        found.push(st.damaged)
        continue
      }
      try {
        const root = this.signedCheckpoint(st)?.root
        if (root && st.checkpointSize <= st.size && !equalBytes(await this.tree.root(st, st.checkpointSize), root)) {
          this.corrupt(st.origin, { what: 'edge', index: st.checkpointSize, level: 0 })
        }
        const from = Math.max(0, (Math.floor(st.size / TILE_WIDTH) - 1) * TILE_WIDTH)
        if (st.size > from) await this.checkedEntries(st, from, st.size)
      } catch (e) {
        if (!(e instanceof LedgerError) || e.code !== 'STORAGE_CORRUPT') throw e
        if (!st.damaged) this.corrupt(st.origin, { what: 'edge', index: st.checkpointSize, level: 0 })
        found.push(st.damaged!)
      }
    }
    return found
  }

  /**
   * The full check of one log (`cairn node check`): every full tile against
   * the tree, top level first, the root against the checkpoint, every entry
   * against its leaf. Problems are listed (at most `maxProblems`), not thrown.
   */
  async fullCheck(origin: string, onProgress?: (entries: number) => void, maxProblems = 100): Promise<LogCheck> {
    const st = this.state(origin)
    const out: LogCheck = { origin, size: st.size, checkpointSize: st.checkpointSize, entriesChecked: 0, tilesChecked: 0, problems: [] }
    const note = (e: unknown) => {
      if (!(e instanceof LedgerError) || e.code !== 'STORAGE_CORRUPT') throw e
      if (out.problems.length < maxProblems) out.problems.push(e.message)
    }
    const root = this.signedCheckpoint(st)?.root
    try {
      if (root && !equalBytes(await this.tree.root(st, st.checkpointSize), root)) {
        this.corrupt(origin, { what: 'edge', index: st.checkpointSize, level: 0 })
      }
    } catch (e) {
      note(e)
    }
    const levels: number[] = []
    for (let level = 0; Math.floor(st.size / TILE_WIDTH ** (level + 1)) > 0; level++) levels.push(level)
    for (const level of levels.reverse()) {
      const full = Math.floor(st.size / TILE_WIDTH ** (level + 1))
      for (let index = 0; index < full; index++) {
        try {
          await this.tree.checkTile(st, level, index)
          out.tilesChecked++
        } catch (e) {
          note(e)
        }
      }
    }
    for (let start = 0; start < st.size; start += 4096) {
      const end = Math.min(st.size, start + 4096)
      try {
        await this.checkedEntries(st, start, end)
      } catch (e) {
        note(e)
        for (let i = start; i < end && out.problems.length < maxProblems; i++) {
          try {
            await this.checkedEntries(st, i, i + 1)
          } catch (e2) {
            if (!(e2 instanceof LedgerError) || !e2.message.includes(`entry ${i} `)) continue
            note(e2)
          }
        }
      }
      out.entriesChecked = end
      onProgress?.(end)
    }
    return out
  }

  /**
   * Leaf hashes of [start, end) from the checked tiles, for a repair: the
   * log may be damaged (that is why it is repaired), but the tiles these come
   * from are checked against the tree.
   */
  leafHashesForRepair(origin: string, start: number, end: number): Promise<Uint8Array[]> {
    return this.tree.leafHashes(this.state(origin), start, end)
  }

  /**
   * Replaces stored entries of a damaged log by `entries` (from a peer): each
   * must have the leaf hash its checked tile holds; a position this node
   * redacted keeps its marker. Then the log is checked and served again.
   */
  async repairEntries(origin: string, start: number, entries: readonly Uint8Array[]): Promise<number> {
    return this.exclusive(async () => {
      const st = this.state(origin)
      const ids = await this.tree.leafHashes(st, start, start + entries.length)
      const stored = await this.rawEntries(st, start, start + entries.length)
      const ops: BatchOp[] = []
      for (let i = 0; i < entries.length; i++) {
        const have = stored[i]
        if (have && equalBytes(leafOf(have) ?? new Uint8Array(0), ids[i]!)) continue
        let e = entries[i]!
        if (!equalBytes(leafOf(e) ?? new Uint8Array(0), ids[i]!)) throw new LedgerError('BAD_PROOF', `entry ${start + i} of ${origin} from the peer does not have the leaf hash of the tree`)
        const notice = await this.kv.get(keys.redaction(st.num, start + i))
        if (notice && !isRedactionMarker(e)) e = encodeRedactionMarker(notice)
        ops.push({ type: 'put', key: keys.entry(st.num, start + i), value: e })
      }
      await this.kv.batch(ops, { durable: true })
      return ops.length
    })
  }

  /** Rewrites a full tile of a damaged log (recomputed from below and matched against the level above by the caller). */
  async repairTile(origin: string, level: number, index: number, tile: Uint8Array): Promise<void> {
    await this.exclusive(async () => {
      const st = this.state(origin)
      await this.kv.batch([
        { type: 'put', key: keys.tile(st.num, level, index), value: tile },
        { type: 'put', key: keys.inner(st.num, level, index), value: innerNodesOf(innerRows(tile)) },
      ], { durable: true })
      this.tree.forget(st.num)
    })
  }

  /**
   * Replaces the edge (the partial right-most tile of each level) of a
   * damaged log by `edge`, recomputed from below by the caller: its root at
   * the stored checkpoint's size must be the one the checkpoint signs.
   */
  async repairEdge(origin: string, edge: Uint8Array[]): Promise<void> {
    await this.exclusive(async () => {
      const st = this.state(origin)
      const root = this.signedCheckpoint(st)?.root
      this.tree.forget(st.num)
      const candidate = { ...st, edge }
      if (root && !equalBytes(await this.tree.root(candidate, st.checkpointSize), root)) {
        throw new LedgerError('BAD_PROOF', `the edge recomputed for ${origin} does not give the root its checkpoint signs`)
      }
      const ops: BatchOp[] = []
      edge.forEach((hashes, level) => {
        if (hashes.length > 0) ops.push({ type: 'put', key: keys.tile(st.num, level, Math.floor(st.size / TILE_WIDTH ** level / TILE_WIDTH)), value: hashes })
      })
      await this.kv.batch(ops, { durable: true })
      st.edge = edge
    })
  }

  /** The size and the in-memory edge of a log (for a repair that recomputes the edge). */
  edgeForRepair(origin: string): { size: number; edge: Uint8Array[] } {
    const st = this.state(origin)
    return { size: st.size, edge: st.edge.slice() }
  }

  /** A full tile's stored bytes as they are, or undefined (for a repair that recomputes the level above). */
  rawTile(origin: string, level: number, index: number): Uint8Array | undefined {
    try {
      return this.kv.getSync(keys.tile(this.state(origin).num, level, index))
    } catch (e) {
      if (!isLevelCorruption(e)) throw e
      return undefined
    }
  }

  /** Stored entries as they are (for a repair that recomputes a level-0 tile). */
  rawEntriesForRepair(origin: string, start: number, end: number): Promise<(Uint8Array | undefined)[]> {
    return this.rawEntries(this.state(origin), start, end)
  }

  /**
   * After a repair: forgets what was checked, checks the log again (the
   * quick check, plus the range repaired) and serves it again if it passes;
   * else it stays damaged (the new damage is reported) and this throws.
   */
  async recheck(origin: string, start: number, end: number): Promise<void> {
    const st = this.state(origin)
    this.tree.forget(st.num)
    const was = st.damaged
    st.damaged = undefined
    try {
      const root = this.signedCheckpoint(st)?.root
      if (root && !equalBytes(await this.tree.root(st, st.checkpointSize), root)) this.corrupt(origin, { what: 'edge', index: st.checkpointSize, level: 0 })
      if (end > start) await this.checkedEntries(st, start, end)
    } catch (e) {
      if (!st.damaged) st.damaged = was
      throw e
    }
  }

  async setCheckpoint(origin: string, note: string): Promise<void> {
    await this.exclusive(async () => {
      const st = this.state(origin)
      const size = Number(note.split('\n')[1])
      if (!Number.isSafeInteger(size) || size > st.size) throw new LedgerError('OUT_OF_RANGE', `checkpoint size ${size} is beyond the ${st.size} entries held for ${origin}`)
      this.checkCheckpointCovers(note, origin, size, await this.root(origin, size))
      const ops: BatchOp[] = [{ type: 'put', key: keys.history(st.num, size), value: utf8(note) }]
      if (size >= st.checkpointSize) ops.push({ type: 'put', key: keys.checkpoint(st.num), value: utf8(note) })
      await this.kv.batch(ops, { durable: true })
      if (size >= st.checkpointSize) {
        st.checkpoint = note
        st.checkpointSize = size
      }
    })
  }

  checkpoint(origin: string): string | undefined {
    return this.state(origin).checkpoint
  }

  async checkpointAt(origin: string, size: number): Promise<string | undefined> {
    const v = await this.kv.get(keys.history(this.state(origin).num, size))
    return v ? fromUtf8(v) : undefined
  }

  async checkpointHistory(origin: string, limit = 1000): Promise<string[]> {
    const st = this.state(origin)
    const out: string[] = []
    const gte = key(P.history, u32(st.num))
    for await (const [, v] of this.kv.iterate({ gte, lt: prefixEnd(gte), limit })) out.push(fromUtf8(v))
    return out
  }

  async freeze(origin: string, proof: string): Promise<void> {
    await this.exclusive(async () => {
      const st = this.state(origin)
      if (st.frozen) return
      await this.kv.batch([{ type: 'put', key: keys.frozen(st.num), value: utf8(proof) }], { durable: true })
      st.frozen = proof
    })
  }

  frozenProof(origin: string): string | undefined {
    return this.state(origin).frozen
  }

  async locate(id: Uint8Array): Promise<{ origin: string; index: number } | undefined> {
    const v = await this.kv.get(keys.id(id))
    if (!v) return undefined
    const st = this.byNum.get(readU32(v))
    if (!st) throw new LedgerError('STORAGE_CORRUPT', 'record index points at an unknown log')
    return { origin: st.origin, index: readU64(v, 4) }
  }

  async idsForValue(alg: keyof typeof ALG_CODES, value: Uint8Array): Promise<Uint8Array[]> {
    return (await this.idsForValues([{ alg, value }]))[0]!
  }

  /** idsForValue for many values in one pass over the value index (the publisher's duplicate check of a batch). */
  async idsForValues(items: readonly { alg: keyof typeof ALG_CODES; value: Uint8Array }[]): Promise<Uint8Array[][]> {
    const prefixes = items.map((x) => keys.value(ALG_CODES[x.alg], x.value))
    // Values the filter has never seen have no ids: only the others are looked up.
    const look = prefixes.flatMap((p, i) => this.valueFilter.mightHold(p.subarray(1)) ? [i] : [])
    const found = await this.kv.keysUnderPrefixes(look.map((i) => prefixes[i]!), 10_000)
    const out: Uint8Array[][] = prefixes.map(() => [])
    for (const [k, i] of look.entries()) out[i] = found[k]!.map((key) => key.slice(prefixes[i]!.length))
    return out
  }

  /**
   * Fills the value filter (./value-filter.ts) from the value index, in the
   * background of a running node: until it is done the duplicate check reads
   * the index for every value. A closed store ends the scan; the filter then
   * stays unused.
   */
  async fillValueFilter(): Promise<number | undefined> {
    let entries = 0
    for (const l of this.listLogs()) entries += l.size
    this.valueFilter.reset(entries)
    let n = 0
    try {
      for await (const [k] of this.kv.iterate({ gte: new Uint8Array([P.value]), lt: new Uint8Array([P.value + 1]) })) {
        this.valueFilter.add(k.subarray(1, 4 + ((k[2]! << 8) | k[3]!)))
        n++
      }
    } catch (e) {
      if (this.closed) return undefined // the store closed under the scan: nothing went wrong
      throw e
    }
    if (this.closed) return undefined
    this.valueFilter.markReady()
    return n
  }

  /** The filled value filter with the size and root of every log it covers (the file a closing node keeps, open.ts); undefined if it is not filled. */
  valueFilterState(): ValueFilterState | undefined {
    const f = this.valueFilter.toBytes()
    if (!f) return undefined
    const logs: ValueFilterState['logs'] = {}
    for (const st of this.logs.values()) logs[st.origin] = { size: st.size, root: toHex(edgeRoot(st.edge, st.size)) }
    return { logs, ...f }
  }

  /**
   * Uses a filter valueFilterState() gave if this store has exactly its logs,
   * each at its size and root (so every value in the index went through it);
   * else says why not, and the filter is to be filled by a scan.
   */
  adoptValueFilter(state: ValueFilterState): true | string {
    const logs = Object.entries(state.logs ?? {})
    if (logs.length !== this.logs.size) return `it covers ${logs.length} logs, the store holds ${this.logs.size}`
    for (const [origin, l] of logs) {
      const st = this.logs.get(origin)
      if (!st) return `the store holds no log ${origin}`
      if (st.size !== l.size || toHex(edgeRoot(st.edge, st.size)) !== l.root) return `${origin} has changed since (${l.size} entries then, ${st.size} now)`
    }
    if (!this.valueFilter.fromBytes(state.bits, state.added, state.capacity)) return 'its sizes are not ones a filter has'
    return true
  }

  /** Revocations and attestations that name `target`. */
  async references(target: Uint8Array): Promise<{ id: Uint8Array; type: 'revocation' | 'attestation' }[]> {
    const prefix = keys.ref(target)
    const out: { id: Uint8Array; type: 'revocation' | 'attestation' }[] = []
    for await (const [k, v] of this.kv.iterate({ gte: prefix, lt: prefixEnd(prefix), limit: 10_000 })) {
      out.push({ id: k.slice(prefix.length), type: v[0] === TYPE_CODES.revocation ? 'revocation' : 'attestation' })
    }
    return out
  }

  async inCurrentSet(id: Uint8Array): Promise<boolean> {
    return isMember(await this.kv.get(keys.id(id)))
  }

  /** inCurrentSet for many ids in one read. */
  async inCurrentSetMany(ids: Uint8Array[]): Promise<boolean[]> {
    if (ids.length === 0) return []
    return (await this.kv.getMany(ids.map((id) => keys.id(id)))).map(isMember)
  }

  /** The current indicator set (indicators not revoked by their author), in record-id order, streamed. */
  async *currentSet(afterId?: Uint8Array): AsyncIterable<SetMember> {
    const gte = afterId ? keys.id(concat(afterId, new Uint8Array([0]))) : new Uint8Array([P.id])
    for await (const [k, v] of this.kv.iterate({ gte, lt: new Uint8Array([P.id + 1]) })) {
      if (!isMember(v)) continue
      const t = LOG_INDEX_BYTES
      yield { id: k.slice(1), alg: ALG_NAMES.get(v[t]!)!, category: CATEGORY_NAMES.get(v[t + 1]!)!, value: v.slice(t + 2) }
    }
  }

  /** Roster proposals and confirming attestations ever stored, as (origin, index), in key order. */
  async *rosterEvents(): AsyncIterable<{ origin: string; index: number }> {
    for await (const [k] of this.kv.iterate({ gte: new Uint8Array([P.roster]), lt: new Uint8Array([P.roster + 1]) })) {
      const st = this.byNum.get(readU32(k, 1))
      if (st) yield { origin: st.origin, index: readU64(k, 5) }
    }
  }

  // ------------------------------------------------------------ redaction

  /**
   * Records a redaction notice whose signature the caller verified. For a held
   * entry: its leaf must be the notice's id (BAD_REDACTION) and it must be an
   * indicator (BAD_REDACTION); the entry bytes become the marker and the
   * derived indexes (value, current set, expiry) go, atomically. For an index
   * not held yet the notice waits (`pending`) and `append` applies it. Of two
   * valid notices for one index every node keeps the bytewise smaller, so the
   * served marker converges.
   */
  applyRedaction(origin: string, signed: Uint8Array, notice: RedactionNotice): Promise<RedactionOutcome> {
    return this.exclusive(async () => {
      const st = this.state(origin)
      const index = notice.index
      if (index >= st.size) {
        const have = st.pending.get(index)
        if (have && compareBytes(have, signed) <= 0) return 'known'
        if (!have && st.pending.size >= MAX_PENDING_REDACTIONS) {
          throw new LedgerError('TOO_LARGE', `${origin} already has ${MAX_PENDING_REDACTIONS} redaction notices for entries this node does not hold`)
        }
        await this.kv.batch([{ type: 'put', key: keys.redaction(st.num, index), value: signed }], { durable: true })
        st.pending.set(index, signed)
        this.redactionDigestCache = undefined
        return have ? 'replaced' : 'pending'
      }
      const leaf = await this.nodeHashAt(origin, 0, index)
      if (!equalBytes(leaf, notice.id)) {
        throw new LedgerError('BAD_REDACTION', `the notice names leaf ${Buffer.from(notice.id).toString('hex')} but entry ${index} of ${origin} has another`)
      }
      const stored = await this.entry(origin, index)
      const marker = encodeRedactionMarker(signed)
      if (isRedactionMarker(stored)) {
        const have = await this.kv.get(keys.redaction(st.num, index))
        if (have && compareBytes(have, signed) <= 0) return 'known'
        await this.kv.batch([
          { type: 'put', key: keys.entry(st.num, index), value: marker },
          { type: 'put', key: keys.redaction(st.num, index), value: signed },
        ], { durable: true })
        this.redactionDigestCache = undefined
        return 'replaced'
      }
      const r = decodeCheckedRecord(decodeEntry(stored).recordBytes)
      if (r.type !== 'indicator') throw new LedgerError('BAD_REDACTION', `entry ${index} of ${origin} is a ${r.type}; only indicators can be redacted`)
      const counters = structuredClone(st.counters)
      bump(counters.byType, 'indicator', -1)
      bump(counters.byAlg, r.alg, -1)
      bump(counters.byCategory, r.category, -1)
      bump(counters.byType, 'redacted')
      const idValue = await this.kv.get(keys.id(notice.id))
      const inSet = isMember(idValue)
      const ops: BatchOp[] = [
        { type: 'put', key: keys.entry(st.num, index), value: marker },
        { type: 'put', key: keys.redaction(st.num, index), value: signed },
        { type: 'del', key: keys.value(ALG_CODES[r.alg], r.value, notice.id) },
        { type: 'put', key: keys.meta(`log/${st.num}`), value: utf8(JSON.stringify({ size: st.size, counters })) },
      ]
      if (r.expires !== undefined) ops.push({ type: 'del', key: keys.expiry(st.num, r.expires, notice.id) })
      if (inSet) {
        ops.push({ type: 'put', key: keys.id(notice.id), value: recordIndexOnly(idValue) })
        ops.push({ type: 'put', key: keys.meta('setsize'), value: u64(this.setSize - 1) })
      }
      await this.kv.batch(ops, { durable: true })
      st.counters = counters
      if (inSet) this.setSize--
      this.redactionDigestCache = undefined
      this.observer?.redactedEntry(origin, index)
      return 'applied'
    })
  }

  /** The signed notice kept for (origin, index), applied or pending. */
  async redaction(origin: string, index: number): Promise<Uint8Array | undefined> {
    return this.kv.get(keys.redaction(this.state(origin).num, index))
  }

  /** True when the entry at `index` is held and redacted. */
  async isRedacted(origin: string, index: number): Promise<boolean> {
    const st = this.state(origin)
    return index < st.size && (await this.kv.get(keys.redaction(st.num, index))) !== undefined
  }

  /** Notices of one log from index `from`, in index order; `applied` is false for pending ones. */
  async *redactions(origin: string, from = 0, limit = 1000): AsyncIterable<{ index: number; notice: Uint8Array; applied: boolean }> {
    const st = this.state(origin)
    for await (const [k, v] of this.kv.iterate({ gte: keys.redaction(st.num, from), lt: prefixEnd(key(P.redaction, u32(st.num))), limit })) {
      const index = readU64(k, 5)
      yield { index, notice: v, applied: index < st.size }
    }
  }

  /** Every notice this node keeps (all logs), for the anti-entropy exchange. */
  async *allRedactions(limit = MAX_PENDING_REDACTIONS * 10): AsyncIterable<{ origin: string; index: number; notice: Uint8Array }> {
    for await (const [k, v] of this.kv.iterate({ gte: new Uint8Array([P.redaction]), lt: new Uint8Array([P.redaction + 1]), limit })) {
      const st = this.byNum.get(readU32(k, 1))
      if (st) yield { origin: st.origin, index: readU64(k, 5), notice: v }
    }
  }

  /** SHA-256 over the sorted SHA-256s of every kept notice: equal digests, equal notice sets. */
  async redactionDigest(): Promise<Uint8Array> {
    if (this.redactionDigestCache) return this.redactionDigestCache
    const hashes: Uint8Array[] = []
    for await (const r of this.allRedactions()) hashes.push(sha256(r.notice))
    hashes.sort(compareBytes)
    this.redactionDigestCache = sha256(...hashes)
    return this.redactionDigestCache
  }

  // ------------------------------------------------------------- retention

  /** Index the `expires` of indicators appended to `origin` from now on (the owner's log; node/retention.ts). */
  trackExpiry(origin: string): void {
    this.expiryLogs.add(this.state(origin).num)
  }

  /** Indexed indicators of `origin` with `expires` ≤ `now`, earliest first. */
  async *expiring(origin: string, now: number, limit = 10_000): AsyncIterable<{ expires: number; id: Uint8Array }> {
    const st = this.state(origin)
    for await (const [k] of this.kv.iterate({ gte: keys.expiry(st.num), lt: keys.expiry(st.num, Math.floor(now) + 1), limit })) {
      yield { expires: readU64(k, 5), id: k.slice(13) }
    }
  }

  /** Drops one entry of the expiry index (the indicator left the set). */
  async clearExpiry(origin: string, expires: number, id: Uint8Array): Promise<void> {
    await this.kv.batch([{ type: 'del', key: keys.expiry(this.state(origin).num, expires, id) }])
  }

  async getMeta(name: string): Promise<Uint8Array | undefined> {
    return this.kv.get(keys.meta(name))
  }

  async putMeta(name: string, value: Uint8Array): Promise<void> {
    await this.kv.batch([{ type: 'put', key: keys.meta(name), value }], { durable: true })
  }

  async close(): Promise<void> {
    this.closed = true
    await this.exclusive(() => this.kv.close())
  }
}

/**
 * The store as its readers see it (HTTP routes, metrics, report, dashboard,
 * provenance): the read methods only, so they are handed no way to write.
 */
export type StoreReader = Pick<Store,
  | 'listLogs' | 'hasLog' | 'counters' | 'currentSetSize'
  | 'checkpoint' | 'checkpointHistory' | 'frozenProof'
  | 'entry' | 'entries' | 'entriesWithIds' | 'tile' | 'inclusionProof'
  | 'locate' | 'idsForValue' | 'references' | 'redactions' | 'getMeta' | 'rosterEvents'>

/** True when LevelDB could not read a block (a checksum or decompression failure) or a row fails its own checksum (kv.ts): damaged data, as a mismatch is. */
function isLevelCorruption(e: unknown): boolean {
  if (e instanceof ChecksumMismatch) return true
  const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown }
  return code === 'LEVEL_CORRUPTION' || (typeof message === 'string' && /\bCorruption:/.test(message))
}
