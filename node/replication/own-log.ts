/**
 * Before a node signs anything new in its own log, it asks its peers how far
 * that log goes, and syncs back what it lacks (spec/federation.md §11.7).
 *
 * A node restored from an older backup, or whose disk lost its last writes,
 * holds a prefix of the log its key signed. Signing a new batch at once
 * would sign a second tree at a size its peers already hold: an
 * equivocation that freezes the log on every node. So at start the node is
 * not yet *ready to sign*:
 *
 *   asking    it asks every other active member for the checkpoints it holds
 *             (/cairn/status/1; each answer goes through sync like any
 *             announcement, so only checkpoints signed by this log's key
 *             count), until every one has answered, or until `timeoutMs`
 *             has passed and at least one has;
 *   syncing   a peer holds a larger checkpoint of this log: its entries are
 *             pulled and verified exactly as another log's (sync.ts);
 *   no-peer   `timeoutMs` passed and no member answered: it keeps asking,
 *             and refuses to publish meanwhile (an error, not a wait);
 *   ready     it holds the largest checkpoint any peer reported: it signs.
 *
 * Records submitted while asking or syncing wait in the publisher's queue.
 * `alone` (node.json or `node start --alone`) skips the check, as does a
 * roster in which no other member is active (nobody could hold a copy).
 */
import { LedgerError } from '../../protocol/errors.ts'
import type { Store } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { Peer } from './peer.ts'
import type { SyncManager } from './sync.ts'
import { askStatus } from './status.ts'

export type OwnLogState = 'asking' | 'syncing' | 'no-peer' | 'ready'

export interface OwnLogStatus {
  state: OwnLogState
  /** Why it is ready without peers ('alone', 'no other member'), or what it waits for. */
  note: string
  /** Other active members, and how many of them answered. */
  members: number
  answered: number
  /** Largest verified checkpoint of this log heard from a peer, when larger than what was stored then. */
  peerSize?: number
  storedSize: number
}

export interface OwnLogCatchUpDeps {
  origin: string
  store: Store
  roster: Roster
  peer: Peer
  sync: SyncManager
  /** Sign without asking peers (a federation run on purpose without reachable peers). */
  alone: boolean
  /** How long to wait for every member before going on with those that answered (default 10 s). */
  timeoutMs?: number
  log: (level: 'info' | 'warn', msg: string) => void
}

export const OWN_LOG_TIMEOUT_MS = 10_000
const ASK_EVERY_MS = 200
const ASK_TIMEOUT_MS = 3000
const SYNC_RETRY_MS = 1000

export class OwnLogCatchUp {
  private state: OwnLogState = 'asking'
  private note = 'asking the other members how far this log goes'
  private readonly answered = new Set<string>()
  private members = 0
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = []
  private stopped = false
  private running: Promise<void> | undefined

  constructor(private readonly d: OwnLogCatchUpDeps) {}

  get ready(): boolean {
    return this.state === 'ready'
  }

  status(): OwnLogStatus {
    const { store, origin, sync } = this.d
    return { state: this.state, note: this.note, members: this.members, answered: this.answered.size, peerSize: sync.targetSizes()[origin], storedSize: store.size(origin) }
  }

  start(): void {
    this.running = this.run().catch((e) => this.d.log('warn', `own log check stopped: ${(e as Error).message}`))
  }

  /** Throws the error a submission gets right now, if any (no peer reached, or stopping). */
  admit(): void {
    if (this.stopped) throw new LedgerError('CONFLICT', 'the node is shutting down')
    if (this.state === 'no-peer') throw this.noPeerError()
  }

  /** Resolves once the node may sign its own log; rejects when it may not (no peer reached, stopping). */
  whenReady(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve()
    try {
      this.admit()
    } catch (e) {
      return Promise.reject(e)
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.settle(new LedgerError('CONFLICT', 'the node is shutting down'))
    await this.running
  }

  private noPeerError(): LedgerError {
    return new LedgerError('CONFLICT', `${this.d.origin} has reached none of the other ${this.members} members, so it cannot tell whether they hold a newer copy of its own log (after a restore from backup, say); it signs nothing until one answers. Check the network and the peers; start with --alone only if no member can hold this log`)
  }

  private set(state: OwnLogState, note: string): void {
    if (this.state === state && this.note === note) return
    this.state = state
    this.note = note
    if (state === 'ready') this.d.log('info', `own log: ready to sign (${note})`)
    else this.d.log(state === 'no-peer' ? 'warn' : 'info', `own log: ${state}: ${note}`)
    if (state === 'ready') this.settle()
    else if (state === 'no-peer') this.settle(this.noPeerError())
  }

  private settle(error?: unknown): void {
    const w = this.waiters
    this.waiters = []
    for (const x of w) error === undefined ? x.resolve() : x.reject(error)
  }

  private others(): Set<string> {
    return new Set(this.d.roster.active().filter((m) => m.origin !== this.d.origin).map((m) => m.peerId))
  }

  private async run(): Promise<void> {
    const { origin, store, peer, sync } = this.d
    if (this.d.alone) return this.set('ready', 'alone: started without asking peers')
    if (this.others().size === 0) return this.set('ready', 'no other active member holds a copy of this log')
    const timeoutMs = this.d.timeoutMs ?? OWN_LOG_TIMEOUT_MS
    const t0 = performance.now()
    while (!this.stopped) {
      const others = this.others()
      this.members = others.size
      const ask = peer.connectedPeers().filter((p) => others.has(p) && !this.answered.has(p))
      await Promise.all(ask.map(async (p) => {
        try {
          await askStatus(peer, sync, p, ASK_TIMEOUT_MS)
          this.answered.add(p)
        } catch {
          // not answering (yet): asked again next round
        }
      }))
      const heard = [...this.answered].filter((p) => others.has(p)).length
      const late = performance.now() - t0 >= timeoutMs
      if (heard >= others.size || (heard > 0 && late)) break
      if (heard === 0 && late) this.set('no-peer', `no other member has answered in ${(timeoutMs / 1000).toFixed(1)} s`)
      await new Promise((r) => setTimeout(r, ASK_EVERY_MS))
    }
    // Every checkpoint of this log that a peer holds went through sync: the best is its target.
    while (!this.stopped) {
      const want = sync.targetSizes()[origin] ?? 0
      if (store.size(origin) >= want || store.frozenProof(origin)) break
      this.set('syncing', `peers hold ${want} entries of this log, this node ${store.size(origin)}: syncing them back`)
      await sync.catchUp(origin)
      if (store.size(origin) < want) await new Promise((r) => setTimeout(r, SYNC_RETRY_MS))
    }
    if (!this.stopped) this.set('ready', `${this.answered.size} of ${this.members} members answered; this log holds ${store.size(origin)} entries`)
  }
}
