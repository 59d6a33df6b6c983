/**
 * A frozen log's way back (spec/federation.md §10.10): once a `resolve_fork`
 * change applies, this node converges on the standing branch — exactly its
 * first N entries of the log, none of the other branch, nothing past N —
 * then lifts the freeze; the log goes on under the member's new key from N.
 *
 *   1. the prefix this node holds that is a prefix of the standing tree:
 *      all of [0, N) when its root at N is the standing root; else the
 *      largest k (binary search) for which a peer holding the standing
 *      tree proves [0, k) plus its leaf k consistent with the standing
 *      checkpoint (a range request [k, k + 1) with `to` = N: the proof only
 *      verifies if this node's first k leaves are the standing ones);
 *   2. the rest is cut off (Store.truncate: one atomic batch, the freeze
 *      lifted in it) and, if a roster record went with it, the roster is
 *      replayed;
 *   3. [k, N) is range-synced from the peers against the standing
 *      checkpoint (the normal verified sync), which is then the log's
 *      checkpoint at N;
 *   4. done is kept in the store (meta `fork/<id>`), so a restart midway
 *      starts again from step 1, and a later start skips it.
 *
 * While the node's own log is being resolved it signs nothing (a SigningGate
 * for the publisher); after, it writes a confirmation of the resolution, the
 * first entry under its new key.
 */
import { equalBytes, fromHex, toBase64, utf8 } from '../../protocol/bytes.ts'
import { parseCheckpointNote, type CheckpointNote } from '../../protocol/checkpoint.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { CompactRange, subtreesOfRange, verifyConsistency } from '../../protocol/merkle.ts'
import type { ForkResolution } from '../../protocol/fork-resolution.ts'
import type { Store } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { SigningGate } from '../publisher.ts'
import { leafOf } from '../storage/integrity.ts'
import type { Peer } from './peer.ts'
import type { SyncManager } from './sync.ts'
import { PROTO_SYNC, encodeSyncRequest, decodeSyncHeader } from './messages.ts'

export interface ForkResolverDeps {
  store: Store
  roster: Roster
  peer: Pick<Peer, 'connectedPeers' | 'request'>
  sync: Pick<SyncManager, 'standOn' | 'catchUp'>
  /** This node's origin. */
  origin: string
  /** Rebuilds the roster from the genesis and the stored records (after a cut took a roster record). */
  replayRoster: () => Promise<void>
  /** The own log was cut back: the publisher numbers from the stored size again. */
  restartNumbering: () => Promise<void>
  /** Writes a record in the own log (the confirmation under the new key). */
  confirm: (proposalId: string) => Promise<void>
  log: (level: 'info' | 'warn' | 'error', msg: string) => void
  /** Delay between attempts while no peer holding the standing tree is reachable (ms). */
  retryMs?: number
}

const doneKey = (id: string) => `fork/${id}`

export class ForkResolver implements SigningGate {
  private readonly running = new Map<string, Promise<void>>()
  private stopped = false
  private waiters: (() => void)[] = []
  readonly stats = { resolved: 0, entriesRemoved: 0, probes: 0 }

  constructor(private readonly d: ForkResolverDeps) {}

  /** Converges every log whose applied resolutions are not done yet (at start), then each one as it applies. */
  start(): void {
    for (const m of this.d.roster.all()) for (const r of this.d.roster.resolutions(m.origin)) this.resolve(m.origin, r)
    this.d.roster.onChange((m, change, id) => {
      if (change !== 'resolve_fork') return
      const r = this.d.roster.resolutions(m.origin).find((x) => x.id === id)
      if (r) this.resolve(m.origin, r)
    })
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.wake()
    await Promise.all(this.running.values())
  }

  // ---------------------------------------------------------------- SigningGate (own log)

  get ready(): boolean {
    return !this.running.has(this.d.origin)
  }

  admit(): void {
    if (!this.ready) throw new LedgerError('CONFLICT', `${this.d.origin} is converging on the branch the federation chose after its fork; it signs again once it holds it`)
  }

  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const r of w) r()
  }

  /** True while `origin` is being converged. */
  resolving(origin: string): boolean {
    return this.running.has(origin)
  }

  /** Resolves when no convergence is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values())
  }

  private resolve(origin: string, r: ForkResolution): void {
    const before = this.running.get(origin) ?? Promise.resolve()
    const run = before.then(() => this.converge(origin, r))
      .catch((e) => this.d.log('error', `resolving the fork of ${origin} stopped: ${(e as Error).message}`))
      .finally(() => {
        if (this.running.get(origin) === run) this.running.delete(origin)
        if (origin === this.d.origin) this.wake()
      })
    this.running.set(origin, run)
  }

  // ---------------------------------------------------------------- convergence

  private async converge(origin: string, r: ForkResolution): Promise<void> {
    const { store, log } = this.d
    if (await store.getMeta(doneKey(r.id))) return
    if (!store.hasLog(origin)) await store.registerLog(origin)
    const standing = parseCheckpointNote(r.checkpoint)
    const n = r.size
    log('warn', `fork resolution ${r.id}: ${origin} stands as the branch of the checkpoint of size ${n}; converging on it`)
    await this.resetWitness(origin, r)
    for (let attempt = 0; !this.stopped; attempt++) {
      const size = store.size(origin)
      const holdsStanding = size >= n && equalBytes(await store.root(origin, n), r.root)
      let keep: number
      let peer: string | undefined
      if (holdsStanding) keep = n
      else {
        peer = await this.standingPeer(origin, standing)
        if (!peer) {
          if (attempt % 10 === 0) log('warn', `fork resolution ${r.id}: no reachable peer holds the standing tree of ${origin} yet; retrying`)
          await this.pause()
          continue
        }
        keep = await this.commonPrefix(origin, Math.min(size, n), standing, peer)
      }
      const stored = await store.checkpointAt(origin, n)
      const adopt = keep === n && !(stored && stored.startsWith(standing.note.body)) ? r.checkpoint : undefined
      if (keep < size || store.frozenProof(origin) || adopt) {
        const cut = await store.truncate(origin, keep, { unfreeze: true, checkpoint: adopt })
        if (cut.removed) {
          this.stats.entriesRemoved += cut.removed
          log('warn', `fork resolution ${r.id}: removed entries ${keep}..${size - 1} of ${origin} (not on the standing branch)`)
          if (origin === this.d.origin) await this.d.restartNumbering()
        }
        if (cut.rosterEvents) await this.d.replayRoster()
      }
      if (store.size(origin) < n) {
        this.d.sync.standOn(origin, standing, peer)
        await this.d.sync.catchUp(origin)
      }
      if (store.size(origin) >= n && equalBytes(await store.root(origin, n), r.root)) break
      await this.pause()
    }
    if (this.stopped) return
    await store.putMeta(doneKey(r.id), utf8('1'))
    this.stats.resolved++
    log('info', `fork resolution ${r.id}: ${origin} holds the standing branch (${n} entries); the log is no longer frozen`)
    if (origin === this.d.origin) {
      this.running.delete(origin) // the gate opens for the confirmation
      this.wake()
      await this.d.confirm(r.id)
    }
  }

  private pause(): Promise<void> {
    return new Promise((res) => setTimeout(res, this.d.retryMs ?? 1000))
  }

  /**
   * This node as a witness of `origin`: the last checkpoint it cosigned may
   * be on the other branch, or past N under the old key; it goes on from the
   * standing one (once per resolution).
   */
  private async resetWitness(origin: string, r: ForkResolution): Promise<void> {
    const marker = `${doneKey(r.id)}/witness`
    if (await this.d.store.getMeta(marker)) return
    if (await this.d.store.getMeta(`witness/${origin}`)) {
      await this.d.store.putMeta(`witness/${origin}`, utf8(JSON.stringify({ size: r.size, root: toBase64(r.root) })))
    }
    await this.d.store.putMeta(marker, utf8('1'))
  }

  /** A connected peer whose tree at N is the standing one (its proof from size 1 verifies on its leaf alone), or undefined. */
  private async standingPeer(origin: string, standing: CheckpointNote): Promise<string | undefined> {
    for (const p of this.d.peer.connectedPeers()) {
      if (await this.proves(origin, 0, standing, p)) return p
    }
    return undefined
  }

  /** The largest k ≤ upTo whose first k leaves here are the standing tree's (binary search over `proves`). */
  private async commonPrefix(origin: string, upTo: number, standing: CheckpointNote, peer: string): Promise<number> {
    if (upTo < standing.checkpoint.size ? await this.proves(origin, upTo, standing, peer) : equalBytes(await this.d.store.root(origin, upTo), standing.checkpoint.root)) return upTo
    let lo = 0
    let hi = upTo
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2)
      if (await this.proves(origin, mid, standing, peer)) lo = mid
      else hi = mid
    }
    return lo
  }

  /**
   * True when `peer` proves that this node's first k leaves of `origin` are
   * the standing tree's: it sends entry k with the consistency proof from
   * k + 1 to N, which verifies against the standing root only if the
   * stored leaves [0, k) and the sent leaf are the standing tree's. Any
   * failure (the peer holds another branch, is short, does not answer) is
   * false.
   */
  private async proves(origin: string, k: number, standing: CheckpointNote, peer: string): Promise<boolean> {
    this.stats.probes++
    const { size, root } = standing.checkpoint
    try {
      const frames = await collect(this.d.peer.request(peer, PROTO_SYNC, [encodeSyncRequest({ origin, start: k, end: k + 1, to: size })], { maxResponseFrames: 2, maxFrameBytes: 70_000 }))
      if (frames.length !== 2) return false
      const header = decodeSyncHeader(frames[0]!)
      if (header.start !== k || header.count !== 1) return false
      const leaf = leafOf(frames[1]!)
      if (!leaf) return false
      const prefix = await Promise.all(subtreesOfRange(0, k).map(({ level, index }) => this.d.store.nodeHashAt(origin, level, index)))
      const range = new CompactRange(0, k, prefix)
      range.append(leaf)
      verifyConsistency(k + 1, size, range.root(), root, header.proof)
      return true
    } catch {
      return false
    }
  }
}

async function collect(frames: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const f of frames) out.push(f)
  return out
}

/** The confirmation the owner writes once its log stands on the resolved branch (first entry under its new key). */
export const confirmation = (proposalId: string) => ({ type: 'attestation' as const, target: fromHex(proposalId), opinion: 'confirm' as const })
