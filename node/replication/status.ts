/**
 * Anti-entropy: every STATUS_INTERVAL_MS the node asks each connected peer
 * which checkpoints it holds (PROTO_STATUS) and treats each answer like a
 * gossiped announcement, so missed gossip, restarts and healed partitions
 * converge. The log's owner also asks again for the cosignatures its latest
 * checkpoint still lacks. `serveStatus` is the answering side.
 */
import { parseCheckpointNote } from '../../protocol/checkpoint.ts'
import type { Store } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { Peer } from './peer.ts'
import type { SyncManager } from './sync.ts'
import { countingCosigners, type CosignCollector } from './witness.ts'
import { PROTO_STATUS, textFrame, frameText } from './messages.ts'

export const STATUS_INTERVAL_MS = 1500

/** Answers a status request with every checkpoint this node holds, one frame each. */
export async function serveStatus(peer: Peer, store: Store): Promise<void> {
  await peer.handle(PROTO_STATUS, async () => {
    return store.listLogs().filter((l) => l.checkpoint).map((l) => textFrame(l.checkpoint!))
  }, { maxRequestFrames: 1, maxRequestBytes: 1024 })
}

/**
 * Asks one peer for every checkpoint it holds and hands each to sync as an
 * announcement from that peer (verified there, like gossip). Throws when the
 * peer does not answer (PEER_UNREACHABLE, PEER_ERROR).
 */
export async function askStatus(peer: Peer, sync: Pick<SyncManager, 'onAnnouncement' | 'count'>, peerId: string, timeoutMs = 5000): Promise<void> {
  const frames = await peer.requestAll(peerId, PROTO_STATUS, [new Uint8Array(0)], { timeoutMs, maxResponseFrames: 1000 })
  for (const f of frames) {
    let note: string
    try {
      note = frameText(f)
    } catch (e) {
      sync.count(e)
      continue
    }
    await sync.onAnnouncement(note, peerId)
  }
}

export interface StatusLoopDeps {
  peer: Peer
  store: Store
  roster: Roster
  sync: SyncManager
  collector: CosignCollector
  origin: string
  log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void }
}

export class StatusLoop {
  private run: Promise<void> | undefined
  private timer: ReturnType<typeof setInterval> | undefined
  private stopped = false

  constructor(private readonly d: StatusLoopDeps) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), STATUS_INTERVAL_MS)
  }

  private tick(): void {
    if (this.run || this.stopped) return
    this.run = this.round().catch((e) => this.d.log.warn({ err: String(e) }, 'status round failed')).finally(() => {
      this.run = undefined
    })
  }

  private async round(): Promise<void> {
    const { peer, sync, store, roster, collector, origin } = this.d
    await Promise.all(peer.connectedPeers().map(async (p) => {
      try {
        await askStatus(peer, sync, p)
      } catch (e) {
        this.d.log.debug({ peer: p, err: String(e) }, 'status exchange failed')
      }
    }))
    // Owner: keep asking for missing cosignatures on the latest checkpoint.
    const cp = store.checkpoint(origin)
    if (cp) {
      const have = countingCosigners(parseCheckpointNote(cp), roster.cosignerKeys(origin))
      if (roster.witnesses().some((w) => w.origin !== origin && !have.has(w.origin))) collector.request(cp)
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.run
  }
}
