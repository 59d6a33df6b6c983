/**
 * GET /status (operator) and `cairn status`: what this node holds and how its
 * parts are doing, gathered from the parts themselves.
 */
import { countCosignatures } from '../protocol/cosignature.ts'
import type { Store } from './storage/store.ts'
import type { Roster } from './roster.ts'
import type { Publisher } from './publisher.ts'
import type { Peer } from './replication/peer.ts'
import type { SyncManager } from './replication/sync.ts'
import type { OwnLogCatchUp, OwnLogStatus } from './replication/own-log.ts'
import type { WitnessService, CosignCollector } from './replication/witness.ts'
import type { SetLines, SetLinesStats } from './provider/set-lines.ts'
import type { MirrorStatus } from './mirror/index.ts'
import type { CredentialStats, RevocationStats, RevocationRelayStats } from './credentials/index.ts'

export interface CredentialCounts {
  accepted: CredentialStats
  revocations: RevocationStats
  relay: RevocationRelayStats
}

export interface NodeStatus {
  origin: string
  peerId: string
  url: string
  multiaddrs: string[]
  peers: { peerId: string; origin?: string }[]
  logs: { origin: string; name: string; size: number; checkpointSize: number; cosignatures: number; frozen: boolean; target?: number }[]
  currentSetSize: number
  publisher: Publisher['stats']
  /** Whether the node may sign its own log yet, or is still catching it up from its peers. */
  ownLog: OwnLogStatus
  sync: SyncManager['stats']
  witness: WitnessService['stats']
  cosign: CosignCollector['stats']
  peer: ReturnType<Peer['stats']>
  /** The snapshot's line files: mismatches with the store found (each rebuilt a log's files), logs served from the store until checked. */
  setLines: SetLinesStats
  /** The static mirror (node.json `mirror`): what it holds, what was written, failures by cause. */
  mirror?: MirrorStatus
  /** Credentials from any member (node/credentials/): verifications, revocations held and relayed, refusals by code. */
  credentials?: CredentialCounts
  roster: { threshold: number; members: { origin: string; roles: string[]; active: boolean; peerId: string }[]; proposals: ReturnType<Roster['proposalStatus']> }
}

export interface StatusSources {
  origin: string
  peerId: string
  url: string
  store: Store
  roster: Roster
  peer: Peer
  publisher: Publisher
  ownLog: Pick<OwnLogCatchUp, 'status'>
  sync: SyncManager
  witness: WitnessService
  collector: CosignCollector
  setLines: Pick<SetLines, 'stats'>
  mirror?: { status(): MirrorStatus }
  credentials?: CredentialCounts
}

export function nodeStatus(s: StatusSources): NodeStatus {
  const { store, roster, peer, sync } = s
  return {
    origin: s.origin, peerId: s.peerId, url: s.url, multiaddrs: peer.multiaddrs(),
    peers: peer.connectedPeers().map((p) => ({ peerId: p, origin: roster.byPeerId(p)?.origin })),
    logs: store.listLogs().map((l) => ({
      origin: l.origin, name: l.origin.split('/')[1]!, size: l.size, checkpointSize: l.checkpointSize,
      cosignatures: l.checkpoint ? countCosignatures(l.checkpoint) : 0, frozen: l.frozen, target: sync.targetSizes()[l.origin],
    })),
    currentSetSize: store.currentSetSize(),
    publisher: s.publisher.stats, ownLog: s.ownLog.status(), sync: sync.stats, witness: s.witness.stats, cosign: s.collector.stats, peer: peer.stats(), setLines: s.setLines.stats(),
    ...(s.mirror ? { mirror: s.mirror.status() } : {}),
    ...(s.credentials ? { credentials: s.credentials } : {}),
    roster: {
      threshold: roster.threshold,
      members: roster.all().map((m) => ({ origin: m.origin, roles: [...m.roles], active: m.active, peerId: m.peerId })),
      proposals: roster.proposalStatus(),
    },
  }
}
