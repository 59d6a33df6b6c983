/**
 * Keeping every member's log: checkpoints arrive by gossip, by the periodic
 * status exchange, or through the witness endpoint; for each log the node
 * tracks the best verified checkpoint and the peers that hold it, and pulls
 * the missing entries with the range-sync protocol:
 *
 *   request {origin, start, end, to}  →  header {start, count, proof} + entries
 *
 * Each range is checked completely before it is stored: every entry's
 * signature and record rules (ingest.ts), then the tree: the compact range of
 * the stored prefix plus the new leaves gives the root at `end`, and the
 * consistency proof from `end` to the signed checkpoint at `to` must verify.
 * So every stored prefix is proven part of a tree the log owner signed, sync
 * resumes from whatever is stored after a restart, and any peer holding the
 * data can serve it — its word is never trusted.
 *
 * The serving side is `serveSyncRanges` at the end of this file: it answers a
 * range request from the store, with the consistency proof to the size asked.
 *
 * A redacted entry travels as its marker (spec/redaction.md): the signed
 * notice in it is checked with the log's keys and its `id` is the leaf the
 * tree check uses; the marker is stored, never a payload.
 */
import { parseCheckpoint, parseCheckpointNote, type CheckpointNote } from '../../protocol/checkpoint.ts'
import { CompactRange, subtreesOfRange, verifyConsistency } from '../../protocol/merkle.ts'
import { parseNote } from '../../protocol/note.ts'
import { checkpointIndex, openCheckpointWithKeys, openRedactionMarkerWithKeys, type LogKeys } from '../../protocol/log-keys.ts'
import { detectEquivocation } from '../../protocol/equivocation.ts'
import { equalBytes } from '../../protocol/bytes.ts'
import { LedgerError } from '../../protocol/errors.ts'
import type { CairnRecord } from '../../protocol/records.ts'
import { isRedactionMarker } from '../../protocol/redaction.ts'
import type { Store, AppendItem, RedactedItem } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { Peer } from './peer.ts'
import { openRange, checkSemantics, type CheckedEntry } from './ingest.ts'
import { mergeCosignatureLines, withoutStaleCosignatures } from './witness.ts'
import { PROTO_SYNC, MAX_SYNC_RANGE, encodeSyncRequest, decodeSyncHeader, decodeSyncRequest, encodeSyncHeader } from './messages.ts'

interface Target {
  /** The best verified checkpoint of the log, with every valid cosignature heard for it. */
  cp: CheckpointNote
  size: number
  root: Uint8Array
  peers: Set<string>
}

export interface SyncOptions {
  store: Store
  roster: Roster
  peer: Peer
  self: string
  /** Entries per range request (≤ MAX_SYNC_RANGE). */
  rangeSize?: number
  /** Bytes ranges fetched ahead may hold (SYNC_AHEAD_MAX_BYTES unless set; tests set it small). */
  aheadMaxBytes?: number
  onRecord: (origin: string, id: Uint8Array, record: CairnRecord, signer?: Uint8Array) => void
  /** A log's stored checkpoint changed (new entries or new cosignatures): announce it. */
  onCheckpoint: (origin: string, note: string) => void
  onEquivocation: (origin: string, proof: string) => void
  log: (level: 'info' | 'warn' | 'error', msg: string) => void
  /** Verifies signatures and records of a range, possibly in worker threads. */
  openRangeImpl?: (origin: string, start: number, entries: Uint8Array[], keys: LogKeys) => Promise<ReturnType<typeof openRange>>
}

/** Ranges fetched and opened ahead of the one being stored (4,096 entries of ~250 B: ~1 MiB each). */
const SYNC_RANGES_AHEAD = 3
/**
 * Bytes of entries that ranges fetched ahead may hold between them before
 * they stop reading from the peer until the ranges before them are stored.
 * The range being stored next is never held back, so a sync holds at most
 * this plus one range (a range of near-maximal entries is ~270 MiB, and a
 * member's log may hold such entries), whatever sizes a peer sends in turn.
 */
export const SYNC_AHEAD_MAX_BYTES = 64 * 1024 * 1024

/**
 * The bytes held by the ranges of one sync that are fetched but not yet
 * stored. A range that is not next in line waits (and stops reading its
 * stream, so the transport holds the peer back) while the ranges hold more
 * than the budget; the next range in line never waits. close() ends every
 * wait with an error (the sync stopped).
 */
export class RangeBudget {
  private held = 0
  private waiters: (() => void)[] = []
  private closed = false
  /** Start of the range that is stored next. */
  head: number

  constructor(private readonly budget: number, head: number) {
    this.head = head
  }

  get bytes(): number {
    return this.held
  }

  /** The range starting at `start` received `bytes` more; resolves when it may read on. */
  async take(start: number, bytes: number): Promise<void> {
    if (!this.takeNow(start, bytes)) await this.turn(start)
  }

  /**
   * take() without a promise when none is needed (a sync takes once per
   * entry): adds the bytes and says whether the range may read on at once;
   * if not, the caller awaits turn(start).
   */
  takeNow(start: number, bytes: number): boolean {
    this.held += bytes
    return !this.closed && (this.held <= this.budget || start === this.head)
  }

  /** Resolves when the range starting at `start` may read on; throws once the sync stopped. */
  async turn(start: number): Promise<void> {
    while (!this.closed && this.held > this.budget && start !== this.head) await new Promise<void>((r) => this.waiters.push(r))
    if (this.closed) throw new LedgerError('PEER_ERROR', 'the sync stopped')
  }

  /** A range is done with (stored, or dropped): its bytes go back, and `nextHead` is next in line. */
  release(bytes: number, nextHead: number): void {
    this.held -= bytes
    this.head = nextHead
    this.wake()
  }

  close(): void {
    this.closed = true
    this.wake()
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const r of w) r()
  }
}

interface FetchedRange {
  start: number
  end: number
  /** Consistency proof from `end` to the target checkpoint. */
  proof: Uint8Array[]
  entries: Uint8Array[]
  /** Bytes of its entries, held against the RangeBudget until it is stored. */
  bytes: number
  markers: Map<number, RedactedItem>
  runs: { from: number; to: number }[]
  opened: CheckedEntry[][]
}

export class SyncManager {
  private readonly targets = new Map<string, Target>()
  private readonly running = new Map<string, Promise<void>>()
  private stopped = false
  readonly stats = {
    entriesSynced: 0,
    rangesSynced: 0,
    rejected: {} as Record<string, number>,
    checkpointsSeen: 0,
    /** Valid checkpoints older than the verified tree (replays, late gossip): counted, nothing changes but cosignatures. */
    checkpointsStale: 0,
    equivocations: 0,
  }

  constructor(private readonly o: SyncOptions) {}

  private reject(code: string) {
    this.o.log('warn', `rejected: ${code}`)
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
  }

  /** Counts a refused peer input under its LedgerError code (anything else: PEER_ERROR); returns the code. */
  count(e: unknown): string {
    const code = e instanceof LedgerError ? e.code : 'PEER_ERROR'
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
    return code
  }

  /** The best checkpoint this node knows for each log (maybe not yet fully synced). */
  targetSizes(): Record<string, number> {
    return Object.fromEntries([...this.targets].map(([o, t]) => [o, t.size]))
  }

  /**
   * A signed checkpoint from `fromPeer` (undefined: from a local source). Checks
   * the signature, looks for equivocation, merges cosignatures, and schedules
   * a sync when it is ahead of the store. Never throws for bad input.
   *
   * This is where a checkpoint enters sync (gossip and the status exchange
   * hand over the text, the witness the value it decoded): it is decoded here,
   * once, and travels on as a CheckpointNote.
   */
  async onAnnouncement(announced: string | CheckpointNote, fromPeer?: string): Promise<void> {
    let cp: CheckpointNote
    let origin: string
    try {
      const decoded = this.decode(announced)
      if (!decoded) {
        this.stats.checkpointsSeen++
        return
      }
      cp = decoded
      origin = cp.checkpoint.origin
      openCheckpointWithKeys(cp, this.o.roster.logKeys(origin))
    } catch (e) {
      this.count(e)
      return
    }
    this.stats.checkpointsSeen++
    const { size, root } = cp.checkpoint
    const { store } = this.o
    if (!store.hasLog(origin)) await store.registerLog(origin)
    if (store.frozenProof(origin)) return
    // Equivocation: a signed checkpoint we hold at the same size with another root.
    const mine = await store.checkpointAt(origin, size)
    // The key that may sign a checkpoint of this size (spec/federation.md §10.7): the one an equivocation proof names.
    const vkey = this.o.roster.logKeyAt(origin, checkpointIndex(size))?.vkey ?? this.o.roster.member(origin)!.vkey
    // The same body (origin, size, root) cannot conflict; only another body is opened and compared.
    if (mine && noteBody(mine) !== cp.note.body) {
      const proof = this.tryDetect(mine, cp.text, vkey)
      if (proof) return this.o.onEquivocation(origin, proof)
    }
    const t = this.targets.get(origin)
    if (t && t.size === size && !equalBytes(t.root, root)) {
      const proof = this.tryDetect(t.cp.text, cp.text, vkey)
      if (proof) return this.o.onEquivocation(origin, proof)
    }
    // A resolved fork (spec/federation.md §10.10): below its N only the standing checkpoint leads anywhere.
    const resolved = this.o.roster.resolutions(origin)
    if (size > store.size(origin) && resolved.some((r) => size <= r.size) && !resolved.some((r) => r.size === size && equalBytes(r.root, root))) {
      this.stats.checkpointsStale++
      return
    }
    if (size <= store.size(origin)) {
      const have = await store.root(origin, size)
      if (!equalBytes(have, root)) {
        this.o.log('error', `log ${origin} signed a checkpoint at size ${size} that conflicts with the verified tree this node holds`)
        this.reject('INCONSISTENT_CHECKPOINT')
        return
      }
      if (size < store.size(origin)) this.stats.checkpointsStale++
      await this.mergeCosignatures(origin, cp, size)
      return
    }
    if (!t || size > t.size) {
      this.targets.set(origin, { cp, size, root, peers: new Set(fromPeer ? [fromPeer] : []) })
    } else if (size === t.size) {
      if (fromPeer) t.peers.add(fromPeer)
      t.cp = this.mergeLines(t.cp, cp)
    }
    this.kick(origin)
  }

  /**
   * Decodes an announced checkpoint (text only), in the order whose errors are
   * counted: the note (MALFORMED_NOTE); the log in the roster (UNKNOWN_LOG);
   * the checkpoint body (MALFORMED_CHECKPOINT). Undefined for the very
   * checkpoint this node stores, signatures and all: every member re-announces
   * what it stores; it was checked when stored, and there is nothing to merge
   * or fetch.
   */
  private decode(announced: string | CheckpointNote): CheckpointNote | undefined {
    const text = typeof announced === 'string' ? announced : announced.text
    const note = typeof announced === 'string' ? parseNote(text) : announced.note
    const origin = note.body.slice(0, note.body.indexOf('\n'))
    if (this.o.store.hasLog(origin) && text === this.o.store.checkpoint(origin)) return undefined
    if (!this.o.roster.member(origin)) throw new LedgerError('UNKNOWN_LOG', `checkpoint for ${origin}, which is not in the roster`)
    return typeof announced === 'string' ? { text, note, checkpoint: parseCheckpoint(note.body) } : announced
  }

  private tryDetect(a: string, b: string, vkey: string): string | null {
    try {
      return detectEquivocation(a, b, vkey)
    } catch {
      return null
    }
  }

  /** Adds valid cosignatures from `incoming` to the stored checkpoint of that size. */
  private async mergeCosignatures(origin: string, incoming: CheckpointNote, size: number): Promise<void> {
    const stored = await this.o.store.checkpointAt(origin, size)
    const base = stored === undefined ? incoming : parseCheckpointNote(stored) // decoded as it leaves the store
    const merged = this.mergeLines(base, incoming)
    if (stored && merged.text === stored) return
    await this.o.store.setCheckpoint(origin, merged.text)
    if (size === this.o.store.size(origin)) this.o.onCheckpoint(origin, merged.text)
  }

  /** `base` plus the valid witness cosignatures of `incoming` that base lacks (same checkpoint body). */
  private mergeLines(base: CheckpointNote, incoming: CheckpointNote): CheckpointNote {
    if (base.note.body !== incoming.note.body) return base
    const origin = base.checkpoint.origin
    const witnesses = this.o.roster.cosignerKeys(origin)
    // A line that no longer counts (its witness key was replaced for its time) gives way to the witness's new one.
    return mergeCosignatureLines(withoutStaleCosignatures(base, witnesses), incoming.note.signatures.map((s) => s.line), witnesses, (e) => this.count(e))
  }

  /**
   * Makes the standing checkpoint of a resolved fork the log's target
   * (whatever larger one of the other branch was heard before), with `peer`
   * first among the peers to ask (fork-resolution.ts).
   */
  standOn(origin: string, cp: CheckpointNote, peer?: string): void {
    const t = this.targets.get(origin)
    if (t && t.size > cp.checkpoint.size && this.opensNow(t.cp)) return // a checkpoint past N under the new key covers it
    this.targets.set(origin, { cp, size: cp.checkpoint.size, root: cp.checkpoint.root, peers: new Set(peer ? [peer] : []) })
  }

  private opensNow(cp: CheckpointNote): boolean {
    try {
      openCheckpointWithKeys(cp, this.o.roster.logKeys(cp.checkpoint.origin))
      return true
    } catch {
      return false
    }
  }

  kick(origin: string): void {
    if (this.running.has(origin) || this.stopped) return
    this.running.set(origin, this.run(origin)
      .catch((e) => this.o.log('error', `sync of ${origin} stopped: ${(e as Error).message}`))
      .finally(() => this.running.delete(origin)))
  }

  private async run(origin: string): Promise<void> {
    const { store } = this.o
    let failures = 0
    while (!this.stopped) {
      const t = this.targets.get(origin)
      if (!t || store.size(origin) >= t.size || store.frozenProof(origin)) break
      const candidates = this.candidatePeers(t)
      if (candidates.length === 0) break
      const peerId = candidates[failures % candidates.length]!
      try {
        await this.syncFrom(origin, t, peerId)
        failures = 0
      } catch (e) {
        const code = this.count(e)
        this.o.log('warn', `sync of ${origin} from ${peerId} failed (${code}): ${(e as Error).message}`)
        if (++failures >= candidates.length * 3) break
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * failures)))
      }
    }
  }

  private candidatePeers(t: Target): string[] {
    const connected = new Set(this.o.peer.connectedPeers())
    const first = [...t.peers].filter((p) => connected.has(p))
    const rest = [...connected].filter((p) => !t.peers.has(p))
    return [...first, ...rest]
  }

  /**
   * Pulls [stored size, t.size) from one peer, range by range, pipelined:
   * up to SYNC_RANGES_AHEAD ranges are being fetched and opened (signatures
   * in worker threads) while the oldest is checked against the tree and
   * stored, in order; the ranges ahead stop reading once they hold
   * SYNC_AHEAD_MAX_BYTES (RangeBudget). With one range ahead the workers sat
   * idle while the next range crossed the network, and the network while
   * they verified.
   */
  private async syncFrom(origin: string, t: Target, peerId: string): Promise<void> {
    const step = Math.min(this.o.rangeSize ?? MAX_SYNC_RANGE, MAX_SYNC_RANGE)
    const ahead: Promise<FetchedRange>[] = []
    let next = this.o.store.size(origin)
    const budget = new RangeBudget(this.o.aheadMaxBytes ?? SYNC_AHEAD_MAX_BYTES, next)
    const fill = () => {
      while (ahead.length < SYNC_RANGES_AHEAD && next < t.size && !this.stopped) {
        const end = Math.min(t.size, next + step)
        const p = this.fetchAndOpen(origin, t, peerId, next, end, budget)
        p.catch(() => undefined) // awaited below, in order; a failure of a prefetch surfaces there
        ahead.push(p)
        next = end
      }
    }
    try {
      fill()
      while (ahead.length > 0) {
        const range = await ahead.shift()!
        fill()
        const stored = await this.apply(origin, t, range)
        budget.release(range.bytes, range.end)
        if (!stored) return
      }
    } finally {
      budget.close() // ranges still fetching stop reading and fail; nothing awaits them
    }
  }

  /** Fetches one range and opens its entries (signatures, record rules, log, seq) and redaction markers. */
  private async fetchAndOpen(origin: string, t: Target, peerId: string, start: number, end: number, budget: RangeBudget): Promise<FetchedRange> {
    const { roster } = this.o
    const frames = this.o.peer.request(peerId, PROTO_SYNC, [encodeSyncRequest({ origin, start, end, to: t.size })], {
      maxResponseFrames: end - start + 1,
      maxFrameBytes: 70_000,
    })
    let header: ReturnType<typeof decodeSyncHeader> | undefined
    const entries: Uint8Array[] = []
    let bytes = 0
    for await (const f of frames) {
      if (!header) {
        header = decodeSyncHeader(f)
        if (header.start !== start || header.count !== end - start) {
          throw new LedgerError('PEER_ERROR', `peer answered range ${header.start}+${header.count}, asked ${start}..${end}`)
        }
      } else {
        entries.push(f)
        bytes += f.length
        if (!budget.takeNow(start, f.length)) await budget.turn(start)
      }
    }
    if (!header) throw new LedgerError('PEER_ERROR', 'empty sync response')
    if (entries.length !== header.count) throw new LedgerError('PEER_ERROR', `peer sent ${entries.length} of ${header.count} entries`)
    const { markers, runs, opened } = await openFetchedRange(origin, start, entries, roster.logKeys(origin), this.o.openRangeImpl)
    return { start, end, proof: header.proof, entries, bytes, markers, runs, opened }
  }

  /**
   * Checks an opened range against the tree (stored prefix + its leaves must be
   * consistent with the signed checkpoint), then the roster and reference
   * rules, and stores it. False when the store moved meanwhile (another source).
   */
  private async apply(origin: string, t: Target, r: FetchedRange): Promise<boolean> {
    const { store, roster } = this.o
    const { start, end, entries, markers, runs, opened } = r
    if (store.size(origin) !== start) return false
    // A range of entries only (no redaction markers) is stored in one append, which proves it
    // against the checkpoint with the root its own tiles give before it writes anything: the
    // range's interior nodes are hashed once. A range with markers is stored run by run (so a
    // revocation can find a redacted target stored before it), so the whole range is proven first.
    const whole = runs.length === 1 && !markers.has(0)
    if (!whole) await this.prove(origin, t, r)
    for (let k = 0; k < runs.length; k++) {
      const { from, to } = runs[k]!
      if (store.size(origin) !== start + from) return false
      let items: (AppendItem | RedactedItem)[]
      if (markers.has(from)) items = Array.from({ length: to - from }, (_, i) => markers.get(from + i)!)
      else {
        try {
          items = await checkSemantics(store, roster, origin, opened[k]!)
        } catch (e) {
          if (whole && store.size(origin) === start) await this.prove(origin, t, r) // a range outside the signed tree is refused as such first, as when it was proven before these checks
          throw e
        }
      }
      const last = to === entries.length
      const verify = whole ? (size: number, root: Uint8Array) => {
        if (size !== end) throw new LedgerError('PEER_ERROR', `range ${start}..${end} of ${origin} would leave the log at ${size} entries`)
        verifyConsistency(end, t.size, root, t.root, r.proof)
      } : undefined
      const done = await store.append(origin, start + from, items, { checkpoint: last && end === t.size ? t.cp.text : undefined, durable: false, verify })
      for (let i = 0; i < done.droppedNotices.length; i++) this.reject('BAD_REDACTION')
      this.stats.entriesSynced += items.length
      items.forEach((it, i) => { if ('record' in it) this.o.onRecord(origin, it.id, it.record, opened[k]?.[i]?.signer) })
    }
    this.stats.rangesSynced++
    if (end === t.size) this.o.onCheckpoint(origin, t.cp.text)
    return true
  }

  /** Proves a range against the target: the stored prefix's subtrees plus its leaves give the root at `end`, consistent with the checkpoint. */
  private async prove(origin: string, t: Target, r: FetchedRange): Promise<void> {
    const { store } = this.o
    const { start, end, markers, runs, opened } = r
    const prefix = await Promise.all(subtreesOfRange(0, start).map(({ level, index }) => store.nodeHashAt(origin, level, index)))
    const range = new CompactRange(0, start, prefix)
    runs.forEach(({ from, to }, k) => {
      for (let i = from; i < to; i++) range.append(markers.get(i)?.id ?? opened[k]![i - from]!.id)
    })
    verifyConsistency(end, t.size, range.root(), t.root, r.proof)
  }

  /**
   * Catching up this node's own log (node/replication/own-log.ts): syncs
   * `origin` towards the best checkpoint heard for it, exactly as any other
   * log, and resolves when that run ends (caught up, or out of peers to
   * try); the caller compares the sizes.
   */
  async catchUp(origin: string): Promise<void> {
    this.kick(origin)
    await this.running.get(origin)
  }

  /** Stops syncing; resolves when the ranges in flight are done. */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.all(this.running.values())
  }
}

/**
 * Opens entries a peer sent for [start, start + entries.length) of `origin`
 * as sync does before the tree check: redaction markers with the log's keys
 * (their notice names the leaf), runs of entries between them with
 * `openImpl` (signature of a log key valid at the index, record rules, log,
 * seq). Throws the first failure. Also used by replication/heal.ts.
 */
export async function openFetchedRange(
  origin: string, start: number, entries: Uint8Array[], keys: LogKeys,
  openImpl: (origin: string, start: number, entries: Uint8Array[], keys: LogKeys) => CheckedEntry[] | Promise<CheckedEntry[]> = openRange,
): Promise<{ markers: Map<number, RedactedItem>; runs: { from: number; to: number }[]; opened: CheckedEntry[][] }> {
  // Runs of entries between redaction markers; markers carry their leaf hash in a signed notice.
  const markers = new Map<number, RedactedItem>()
  entries.forEach((e, i) => {
    if (!isRedactionMarker(e)) return
    const { notice, signed } = openRedactionMarkerWithKeys(e, keys, { log: origin, index: start + i })
    markers.set(i, { marker: e, id: notice.id, notice: signed })
  })
  const runs: { from: number; to: number }[] = []
  for (let i = 0; i < entries.length;) {
    let j = i
    const isMarker = markers.has(i)
    while (j < entries.length && markers.has(j) === isMarker) j++
    runs.push({ from: i, to: j })
    i = j
  }
  const opened = await Promise.all(runs.map(({ from, to }) => (markers.has(from) ? [] : openImpl(origin, start + from, entries.slice(from, to), keys))))
  return { markers, runs, opened }
}

/** The checkpoint text a note signs (up to the blank line before its signatures). */
function noteBody(note: string): string {
  const end = note.indexOf('\n\n')
  return end < 0 ? note : note.slice(0, end + 1)
}

/**
 * The serving side of range sync: answers {origin, start, end, to} with the
 * header {start, count, proof from end to to} and the stored entries. A peer
 * asking for more than this node holds gets NOT_FOUND.
 */
export async function serveSyncRanges(peer: Peer, store: Store): Promise<void> {
  await peer.handle(PROTO_SYNC, async (request) => {
    const frames: Uint8Array[] = []
    for await (const f of request) frames.push(f)
    if (frames.length !== 1) throw new LedgerError('BAD_REQUEST', 'a sync request is one frame')
    const r = decodeSyncRequest(frames[0]!)
    if (!store.hasLog(r.origin)) throw new LedgerError('UNKNOWN_LOG', `no log ${r.origin} here`)
    if (store.size(r.origin) < r.to) throw new LedgerError('NOT_FOUND', `this node holds ${store.size(r.origin)} entries of ${r.origin}, fewer than ${r.to}`)
    const proof = await store.consistencyProof(r.origin, r.end, r.to)
    const entries = await store.entries(r.origin, r.start, r.end)
    return [encodeSyncHeader({ start: r.start, count: entries.length, proof }), ...entries]
  }, { maxRequestFrames: 1, maxRequestBytes: 4096, maxFrameBytes: 70_000 })
}
