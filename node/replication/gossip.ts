/**
 * The federation's gossip topic: what the node announces (its checkpoints,
 * equivocation proofs) and how it dispatches what it hears — a checkpoint to
 * sync, a redaction notice to the redaction service, an equivocation proof
 * checked against the log's key and then acted on. Every message refused is
 * counted under its LedgerError code (cairn_sync_rejected_total).
 */
import { LedgerError } from '../../protocol/errors.ts'
import type { Store } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { Peer } from './peer.ts'
import type { SyncManager } from './sync.ts'
import type { RedactionService } from './redaction.ts'
import { decodeGossip, encodeGossip } from './messages.ts'

export interface GossipDeps {
  peer: Peer
  store: Store
  roster: Roster
  log: { debug(obj: object, msg: string): void; error(obj: object, msg: string): void }
}

export class Gossip {
  constructor(private readonly d: GossipDeps) {}

  /** Announces a signed checkpoint (fire and forget: a missed announcement is repaired by the status loop). */
  checkpoint(note: string): void {
    this.d.peer.publish(encodeGossip({ t: 'cp', note })).catch((e) => this.d.log.debug({ err: String(e) }, 'gossip publish failed'))
  }

  /** Freezes a log that equivocated (once) and passes the proof on; a proof within a resolved fork (spec/federation.md §10.10) freezes nothing. */
  async equivocation(origin: string, proof: string, sync: SyncManager): Promise<void> {
    const { store, peer, log } = this.d
    if (store.frozenProof(origin)) return
    if (this.resolved(origin, proof)) return
    sync.stats.equivocations++
    await store.freeze(origin, proof)
    log.error({ log: origin }, `EQUIVOCATION: log ${origin} signed two conflicting checkpoints; it is frozen on this node and the proof is gossiped`)
    peer.publish(encodeGossip({ t: 'eq', origin, proof })).catch(() => undefined)
  }

  /** True when the proof lies within a resolved fork of the log (both checkpoints at or below its N). */
  private resolved(origin: string, proof: string): boolean {
    try {
      return !this.d.roster.equivocationFreezes(origin, proof)
    } catch {
      return false // built by this node from checkpoints it verified: it stands
    }
  }

  /** Dispatches every message heard on the topic. */
  listen(sync: SyncManager, redactions: RedactionService): void {
    const refuse = (e: unknown) => void sync.count(e)
    this.d.peer.onGossip(async (data, from) => {
      let g
      try {
        g = decodeGossip(data)
      } catch (e) {
        return refuse(e)
      }
      if (g.t === 'cp') return sync.onAnnouncement(g.note, from)
      if (g.t === 'rd') return void (await redactions.receive(g.notice))
      const m = this.d.roster.member(g.origin)
      if (!m) return refuse(new LedgerError('UNKNOWN_LOG', `an equivocation proof for ${g.origin}, which is not a member's log`))
      try {
        if (!this.d.roster.equivocationFreezes(g.origin, g.proof)) return // a fork the federation resolved
      } catch (e) {
        return refuse(e)
      }
      await this.equivocation(g.origin, g.proof, sync)
    })
  }
}
