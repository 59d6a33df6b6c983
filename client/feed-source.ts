/**
 * A node's provider feed as a sync source: GET /feed?entries=1 from the
 * copy's cursor (spec/api.md §A.5.3), each block's entries and proofs
 * decoded from base64; nothing in it is trusted before client/sync.ts checks it.
 */
import { z } from 'zod'
import { LedgerError } from '../protocol/errors.ts'
import { fromBase64 } from '../protocol/bytes.ts'
import { encodeCursor } from '../protocol/feed-cursor.ts'
import { subscriptionQuery, type Subscription } from '../protocol/subscription.ts'
import { api, type Endpoint } from './http.ts'
import { refuse, type SyncBlock, type SyncPage, type SyncPosition, type SyncSource } from './sync-source.ts'

const FeedBlock = z.object({
  origin: z.string().max(256),
  from: z.number().int().min(0),
  to: z.number().int().min(0),
  size: z.number().int().min(0),
  checkpoint: z.string().max(128 * 1024).optional(),
  proof: z.array(z.string()).max(64).optional(),
  verified_proof: z.array(z.string()).max(64).optional(),
  behind: z.literal(true).optional(),
  frozen: z.literal(true).optional(),
  entries: z.array(z.string()).optional(),
})
const FeedPageShape = z.object({ next: z.string(), more: z.boolean(), logs: z.array(FeedBlock).max(10_000) })
type FeedBlock = z.infer<typeof FeedBlock>

function decodeBlock(b: FeedBlock): SyncBlock {
  const entries = (b.entries ?? []).map((text, i) => {
    try {
      return fromBase64(text, 'entry')
    } catch {
      return refuse('MALFORMED_ENTRY', b.origin, `entry ${b.from + i} is not base64`)
    }
  })
  const proof = (list: string[] | undefined, what: string) => {
    try {
      return (list ?? []).map((h) => fromBase64(h, what))
    } catch {
      return refuse('BAD_PROOF', b.origin, `${what} is not base64`)
    }
  }
  return {
    origin: b.origin, from: b.from, to: b.to, size: b.size, checkpoint: b.checkpoint, behind: b.behind, frozen: b.frozen, entries,
    proof: proof(b.proof, 'proof'), verifiedProof: b.verified_proof === undefined ? undefined : proof(b.verified_proof, 'verified_proof'),
  }
}

export class FeedSource implements SyncSource {
  readonly kind = 'node'
  readonly url: string
  private readonly ep: Endpoint

  constructor(node: string, token: string | undefined, fetchImpl?: typeof fetch) {
    this.url = node.replace(/\/$/, '')
    this.ep = { url: this.url, token, fetch: fetchImpl }
  }

  listLogs(): Promise<unknown> {
    return api(this.ep, 'GET', '/logs')
  }

  async page(position: SyncPosition, limit: number, sub: Subscription | undefined): Promise<SyncPage> {
    // The subscription only thins the page's items (which are not used); entries are whole, for the checks.
    const raw = await api(this.ep, 'GET', `/feed?cursor=${encodeCursor(position.cursor)}&verified=${encodeCursor(position.verified)}&limit=${limit}&entries=1${subscriptionQuery(sub)}`)
    const parsed = FeedPageShape.safeParse(raw)
    if (!parsed.success) throw new LedgerError('PEER_ERROR', `${this.url}/feed answered with something that is not a feed page (${parsed.error.issues[0]?.message})`)
    return { more: parsed.data.more, logs: parsed.data.logs.map(decodeBlock) }
  }
}
