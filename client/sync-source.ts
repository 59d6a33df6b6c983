/**
 * Where `cairn sync` reads a log's new entries from: a node's feed
 * (client/feed-source.ts) or a static mirror of the node's files
 * (client/mirror-source.ts). Both hand the same per-log blocks to the one
 * checking code in client/sync.ts, so a copy made from either can continue
 * from the other.
 */
import { LedgerError, type ErrorCode } from '../protocol/errors.ts'
import type { Subscription } from '../protocol/subscription.ts'

/** One log's part of a page: entries [from, to) and what proves them inside the checkpoint of `size`. */
export interface SyncBlock {
  origin: string
  from: number
  to: number
  /** Size of the checkpoint the source serves (what `checkpoint` says, checked). */
  size: number
  /** The signed checkpoint note with its cosignatures (absent: the source holds no checkpoint of the log). */
  checkpoint?: string
  /** Consistency proof from the tree of the entries [0, to) to the checkpoint. */
  proof: Uint8Array[]
  /** Consistency proof from the checkpoint this copy verified before (`verified`) to this one. */
  verifiedProof?: Uint8Array[]
  /** The source is behind this copy for the log: nothing of it is taken from there. */
  behind?: true
  /** The source holds an equivocation proof for the log. */
  frozen?: true
  entries: Uint8Array[]
  /** Names the file or page an entry was read from, for error messages (a mirror's bundle). */
  where?: (index: number) => string
  /** Where the checkpoint was read from, for error messages (a mirror's checkpoint file). */
  checkpointAt?: string
  /** Why the source could not prove the entries against the checkpoint (refused once the checkpoint itself verifies). */
  unproven?: { code: ErrorCode; why: string }
}

export interface SyncPage {
  logs: SyncBlock[]
  more: boolean
}

/** Where this copy stands: entries held and checkpoint verified, per log. */
export interface SyncPosition {
  cursor: Map<string, number>
  verified: Map<string, number>
}

export interface SyncSource {
  /** The node's API or the mirror's base, for messages. */
  readonly url: string
  /** What kind of source, for messages ("node", "mirror"). */
  readonly kind: string
  /** The JSON list of logs (GET /logs, or the mirror's logs.json): read for keys on first use. */
  listLogs(): Promise<unknown>
  /** The next page from `position`: at most `limit` entries in all, a block for every log the source holds. */
  page(position: SyncPosition, limit: number, subscription: Subscription | undefined): Promise<SyncPage>
}

export function refuse(code: ErrorCode, origin: string, why: string): never {
  throw new LedgerError(code, `refusing the feed for log ${origin}: ${why}; the local copy is unchanged`)
}
