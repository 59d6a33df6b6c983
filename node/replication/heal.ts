/**
 * Healing a damaged log (node/storage/integrity.ts): when a read finds that
 * stored data of a log does not match its signed tree, the store withholds
 * the log and tells the Healer, which replaces the damaged data and hands
 * the log back to the readers once it checks out again.
 *
 *   a tile     recomputed from the level below (level-0 tiles from the
 *              entries' leaf hashes), and kept only if it folds to the hash
 *              the level above holds for it;
 *   the edge   (the partial right-most tiles) recomputed the same way, kept
 *              only if it gives the root the stored checkpoint signs;
 *   entries    fetched from a peer with the range-sync protocol and opened
 *              exactly as sync opens them (ingest.ts openRange: signature of
 *              a log key valid at the index, record rules, log and seq;
 *              redaction markers with the log's keys), then kept only if each
 *              has the leaf hash the checked tree holds at its index.
 *
 * A peer's word is never trusted: what it sends must match the tree this
 * node already checked against the log's signed checkpoint. Until a repair
 * succeeds the log stays withheld; the Healer retries, peer after peer.
 */
import { LedgerError } from '../../protocol/errors.ts'
import { HASH_SIZE } from '../../protocol/hash.ts'
import { concat, equalBytes } from '../../protocol/bytes.ts'
import { innerRows, TILE_WIDTH } from '../storage/tree.ts'
import { leafOf, type Damage } from '../storage/integrity.ts'
import type { Store } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { Peer } from './peer.ts'
import { openFetchedRange } from './sync.ts'
import { PROTO_SYNC, encodeSyncRequest, decodeSyncHeader } from './messages.ts'

export interface HealOptions {
  store: Store
  roster: Pick<Roster, 'logKeys'>
  peer: Pick<Peer, 'connectedPeers' | 'request'>
  log: (level: 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string) => void
  /** A log is served again (set-lines catch up with it). */
  onHealed?: (origin: string) => void
  /** Delay between attempts (ms; tests set it small). */
  retryMs?: number
}

export class Healer {
  private readonly running = new Map<string, Promise<void>>()
  private stopped = false
  /** Logs healed since start, and repairs made (for status and tests). */
  readonly stats = { healed: 0, entriesReplaced: 0, tilesReplaced: 0, failures: 0 }

  constructor(private readonly o: HealOptions) {
    o.store.onDamage = (d) => this.damaged(d)
  }

  /**
   * A Healer listening to `store`, after the check at start
   * (Store.quickCheck: every log's newest checkpoint against its tiles and
   * newest entries), healing every log found damaged so far.
   */
  static async start(o: HealOptions): Promise<Healer> {
    const h = new Healer(o)
    o.store.onDamage = undefined // found below, and reported once
    try {
      for (const d of await o.store.quickCheck()) h.damaged(d)
    } finally {
      o.store.onDamage = (d) => h.damaged(d)
    }
    return h
  }

  /** Store damage listener: logs the damage and heals the log in the background (once per log at a time). */
  damaged(d: Damage): void {
    this.o.log('error', { log: d.origin, what: d.what, level: d.level, index: d.index, key: d.key },
      `stored data of ${d.origin} does not match its signed tree (${d.what} ${d.what === 'entry' ? d.index : `${d.level}/${d.index}`}); the log is withheld until it is healed`)
    if (this.running.has(d.origin) || this.stopped) return
    this.running.set(d.origin, this.run(d.origin).finally(() => this.running.delete(d.origin)))
  }

  /** Resolves when no heal is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values())
  }

  async stop(): Promise<void> {
    this.stopped = true
    await Promise.allSettled(this.running.values())
  }

  private async run(origin: string): Promise<void> {
    const { store } = this.o
    for (let attempt = 0; !this.stopped; attempt++) {
      const d = store.listLogs().find((l) => l.origin === origin)?.damaged
      if (!d) return
      try {
        const range = await this.repair(d)
        await store.recheck(origin, range.start, range.end)
        this.stats.healed++
        this.o.log('info', { log: origin, what: d.what, index: d.index }, `${origin} healed: the damaged data was replaced and checks out against the signed tree; served again`)
        this.o.onHealed?.(origin)
      } catch (e) {
        this.stats.failures++
        const again = store.listLogs().find((l) => l.origin === origin)?.damaged
        if (again && (again.what !== d.what || again.index !== d.index || again.level !== d.level)) continue // another damage found: repair that one now
        this.o.log('warn', { log: origin, code: e instanceof LedgerError ? e.code : 'INTERNAL' }, `healing ${origin} failed (${(e as Error).message}); trying again`)
        await new Promise((r) => setTimeout(r, Math.min(30_000, (this.o.retryMs ?? 1000) * (attempt + 1))).unref())
      }
    }
  }

  /** Repairs one damage; returns the entry range to check again. */
  private async repair(d: Damage): Promise<{ start: number; end: number }> {
    const { store } = this.o
    const { size } = store.edgeForRepair(d.origin)
    if (d.what === 'entry') {
      const start = Math.floor(d.index / TILE_WIDTH) * TILE_WIDTH
      const end = Math.min(size, start + TILE_WIDTH)
      await this.replaceEntries(d.origin, start, end)
      return { start, end }
    }
    if (d.what === 'tile' || d.what === 'inner') {
      await this.rebuildTile(d.origin, d.level, d.index)
      const start = d.level === 0 ? d.index * TILE_WIDTH : 0
      return { start, end: d.level === 0 ? Math.min(size, start + TILE_WIDTH) : 0 }
    }
    await this.rebuildEdge(d.origin)
    return { start: Math.floor(size / TILE_WIDTH) * TILE_WIDTH, end: size }
  }

  /** Fetches [start, end) from a peer, opens it as sync does, and stores each entry whose stored copy is damaged. */
  private async replaceEntries(origin: string, start: number, end: number): Promise<void> {
    const entries = await this.fetch(origin, start, end)
    this.stats.entriesReplaced += await this.o.store.repairEntries(origin, start, entries)
  }

  /** Full tile (level, index) recomputed from below; kept only if it folds to the hash the level above holds. */
  private async rebuildTile(origin: string, level: number, index: number): Promise<void> {
    const { store } = this.o
    const expected = await store.nodeHashAt(origin, 8 * (level + 1), index)
    let tile = await this.tileFromBelow(origin, level, index, false)
    if (!tile || !equalBytes(rootOf(tile), expected)) {
      if (level > 0) throw new LedgerError('STORAGE_CORRUPT', `tile ${level}/${index} of ${origin} cannot be recomputed: a tile below it is damaged too`)
      tile = await this.tileFromBelow(origin, 0, index, true) // the entries are damaged too: from a peer
      if (!tile || !equalBytes(rootOf(tile), expected)) throw new LedgerError('BAD_PROOF', `the entries of tile 0/${index} of ${origin} from the peers do not fold to the signed tree`)
      await store.repairTile(origin, 0, index, tile)
      await this.replaceEntries(origin, index * TILE_WIDTH, (index + 1) * TILE_WIDTH)
    } else {
      await store.repairTile(origin, level, index, tile)
    }
    this.stats.tilesReplaced++
  }

  /**
   * The hashes of tile (level, index) (its first `count` hashes, default all
   * 256) from the level below: the leaf hashes of the stored entries (or of
   * entries fetched from a peer), or the roots of the stored tiles below.
   */
  private async tileFromBelow(origin: string, level: number, index: number, fromPeer: boolean, count = TILE_WIDTH): Promise<Uint8Array | undefined> {
    const { store } = this.o
    if (level === 0) {
      const start = index * TILE_WIDTH
      const entries = fromPeer ? await this.fetch(origin, start, start + count) : await store.rawEntriesForRepair(origin, start, start + count)
      const leaves = entries.map((e) => (e ? leafOf(e) : undefined))
      return leaves.every((l) => l !== undefined) ? concat(...(leaves as Uint8Array[])) : undefined
    }
    const roots: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      const below = store.rawTile(origin, level - 1, index * TILE_WIDTH + i)
      if (!below || below.length !== TILE_WIDTH * HASH_SIZE) return undefined
      roots.push(rootOf(below))
    }
    return concat(...roots)
  }

  /**
   * The partial right-most tiles: for each level either the one held or one
   * recomputed from below (level 0 from the stored entries, else from a
   * peer's), the first combination that gives the root the checkpoint signs
   * is kept (a damaged full tile below makes the recomputed one wrong while
   * the held one is right; a damaged edge tile the reverse).
   */
  private async rebuildEdge(origin: string): Promise<void> {
    const { store } = this.o
    const { size, edge: held } = store.edgeForRepair(origin)
    const levels: number[] = []
    for (let level = 0; Math.floor(size / TILE_WIDTH ** level) > 0; level++) levels.push(level)
    const below = async (level: number, fromPeer: boolean) => {
      const hashes = Math.floor(size / TILE_WIDTH ** level)
      const w = hashes % TILE_WIDTH
      return w === 0 ? new Uint8Array(0) : this.tileFromBelow(origin, level, Math.floor(hashes / TILE_WIDTH), fromPeer, w)
    }
    const options: (Uint8Array | undefined)[][] = []
    for (const level of levels) options[level] = [held[level], await below(level, false).catch(() => undefined)]
    for (const fromPeer of [false, true]) {
      if (fromPeer) options[0] = [await below(0, true)]
      for (let pick = 0; pick < 2 ** levels.length; pick++) {
        const edge = levels.map((l) => options[l]![(pick >> l) & 1])
        if (edge.some((t) => t === undefined)) continue
        try {
          await store.repairEdge(origin, edge as Uint8Array[])
        } catch {
          continue
        }
        if (fromPeer) await this.replaceEntries(origin, Math.floor(size / TILE_WIDTH) * TILE_WIDTH, size)
        this.stats.tilesReplaced++
        return
      }
    }
    throw new LedgerError('STORAGE_CORRUPT', `the right edge of ${origin}'s tree cannot be recomputed to the root its checkpoint signs`)
  }

  /** Entries [start, end) of `origin` from the first connected peer that serves them, opened as sync opens them. */
  private async fetch(origin: string, start: number, end: number): Promise<Uint8Array[]> {
    const peers = this.o.peer.connectedPeers()
    let last: unknown = new LedgerError('PEER_UNREACHABLE', `no peer is connected to heal ${origin} from`)
    for (const peerId of peers) {
      try {
        const frames: Uint8Array[] = []
        for await (const f of this.o.peer.request(peerId, PROTO_SYNC, [encodeSyncRequest({ origin, start, end, to: end })], { maxResponseFrames: end - start + 1, maxFrameBytes: 70_000 })) frames.push(f)
        const header = frames.length > 0 ? decodeSyncHeader(frames[0]!) : undefined
        if (!header || header.start !== start || header.count !== end - start || frames.length !== end - start + 1) {
          throw new LedgerError('PEER_ERROR', `peer answered range ${header?.start}+${header?.count} with ${frames.length - 1} entries, asked ${start}..${end}`)
        }
        const entries = frames.slice(1)
        await openFetchedRange(origin, start, entries, this.o.roster.logKeys(origin))
        return entries
      } catch (e) {
        last = e
        this.o.log('warn', { log: origin, peer: peerId }, `healing ${origin}: entries ${start}..${end} from ${peerId} were refused: ${(e as Error).message}`)
      }
    }
    throw last
  }
}

/** The root of a full tile's 256 hashes. */
function rootOf(tile: Uint8Array): Uint8Array {
  const rows = innerRows(tile)
  return rows[rows.length - 1] ?? tile
}
