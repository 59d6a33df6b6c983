/**
 * Redaction on legal order, the node's part (spec/redaction.md):
 *
 *  - `redact`: the operator redacts an indicator of this node's own log. If it
 *    is still in the current set, a revocation {reason: legal_order} is
 *    published first, so the removal is in the log and every provider's feed
 *    sees it; then the log key signs the notice, the store swaps the entry for
 *    its marker, and the notice is gossiped.
 *  - `receive`: a notice from gossip, the exchange or a test; verified with
 *    the log's keys (current or rotated out), then applied or kept pending.
 *    Never throws; rejections are counted.
 *  - `/cairn/redactions/1`: anti-entropy. Every few seconds the node sends
 *    each connected peer the digest of the notices it keeps; a peer with
 *    another digest answers with all of its notices. A node that was down
 *    during a redaction learns it here even when its log is already complete.
 *
 * Sync carries markers where entries were redacted (node/sync.ts), so a node
 * that never held the entry stores the marker, never the payload.
 */
import { toHex } from '../../protocol/bytes.ts'
import { decodeEntry } from '../../protocol/entry.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { leafHash } from '../../protocol/hash.ts'
import { decodeCheckedRecord } from '../../protocol/records.ts'
import { openRedactionWithKeys } from '../../protocol/log-keys.ts'
import {
  readNoticeUnverified, signRedaction, isRedactionMarker, noticeToJson,
  type RedactionReason, type RedactionNotice,
} from '../../protocol/redaction.ts'
import type { Store, RedactionOutcome } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { Peer } from './peer.ts'
import type { Published, RecordBody } from '../publisher.ts'
import { PROTO_REDACTIONS, encodeGossip, encodeRedactionsRequest, decodeRedactionsRequest } from './messages.ts'

export interface RedactionServiceOptions {
  store: Store
  roster: Roster
  peer: Peer
  /** This node's log. */
  origin: string
  logSeed: Uint8Array
  /** Publishes a record in this node's log (the node's Publisher). */
  submit: (body: RecordBody) => Promise<Published>
  now: () => number
  log: (level: 'info' | 'warn' | 'error', msg: string) => void
  /** The node's shared rejection counter (status `sync.rejected`); rejections are counted there too. */
  rejected?: Record<string, number>
  /** Anti-entropy period (default 3 s). */
  exchangeMs?: number
}

export interface RedactRequest {
  /** Record id of the entry, or its index in this node's log. */
  id?: Uint8Array
  index?: number
  reason: RedactionReason
}

export interface RedactResult {
  index: number
  id: string
  /** The signed notice, hex. */
  notice: string
  redaction: Record<string, unknown>
  /** Record id of the revocation published first (null when the indicator had already left the set). */
  revocation: string | null
  /** True when the entry was redacted before: nothing changed. */
  already: boolean
}

const MAX_EXCHANGE_FRAMES = 100_000

export class RedactionService {
  readonly stats = { applied: 0, pending: 0, known: 0, replaced: 0, rejected: {} as Record<string, number> }
  private timer: NodeJS.Timeout | undefined
  private round: Promise<void> | undefined
  private chain: Promise<unknown> = Promise.resolve()
  private stopped = false

  constructor(private readonly o: RedactionServiceOptions) {}

  private count(e: unknown): string {
    const code = e instanceof LedgerError ? e.code : 'BAD_REQUEST'
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
    if (this.o.rejected) this.o.rejected[code] = (this.o.rejected[code] ?? 0) + 1
    this.o.log('warn', `redaction notice rejected: ${code}: ${(e as Error)?.message ?? String(e)}`)
    return code
  }

  /** Verifies and applies (or keeps pending) a signed notice from anywhere. Never throws. */
  async receive(signed: Uint8Array): Promise<RedactionOutcome | undefined> {
    try {
      return await this.accept(signed)
    } catch (e) {
      this.count(e)
      return undefined
    }
  }

  private async accept(signed: Uint8Array): Promise<RedactionOutcome> {
    const claimed = readNoticeUnverified(signed)
    const keys = this.o.roster.logKeys(claimed.log)
    if (!this.o.store.hasLog(claimed.log)) throw new LedgerError('UNKNOWN_LOG', `this node holds no log ${claimed.log}`)
    const { notice } = openRedactionWithKeys(signed, keys, { log: claimed.log })
    const outcome = await this.o.store.applyRedaction(notice.log, signed, notice)
    this.stats[outcome]++
    if (outcome === 'applied' || outcome === 'replaced') this.o.log('info', `redacted entry ${notice.index} of ${notice.log} (${notice.reason})`)
    return outcome
  }

  /** The operator's redaction of one of this node's own indicators (one at a time). */
  redact(req: RedactRequest): Promise<RedactResult> {
    const run = this.chain.then(() => this.redactOne(req))
    this.chain = run.catch(() => undefined)
    return run
  }

  private async redactOne(req: RedactRequest): Promise<RedactResult> {
    const { store, origin } = this.o
    let index: number
    if (req.id) {
      const at = await store.locate(req.id)
      if (!at || at.origin !== origin) throw new LedgerError('UNKNOWN_TARGET', `${toHex(req.id)} is not an entry of this node's log ${origin}; only a log's owner can redact its entries`)
      index = at.index
    } else if (req.index !== undefined && Number.isSafeInteger(req.index) && req.index >= 0) {
      index = req.index
      if (index >= store.size(origin)) throw new LedgerError('OUT_OF_RANGE', `${origin} has no entry ${index}`)
    } else {
      throw new LedgerError('BAD_REQUEST', 'name the entry to redact by id (hex) or index')
    }
    const stored = await store.entry(origin, index)
    if (isRedactionMarker(stored)) {
      const have = (await store.redaction(origin, index))!
      const n = readNoticeUnverified(have)
      return { index, id: toHex(n.id), notice: toHex(have), redaction: noticeToJson(n), revocation: null, already: true }
    }
    const id = leafHash(stored)
    const record = decodeCheckedRecord(decodeEntry(stored).recordBytes)
    if (record.type !== 'indicator') throw new LedgerError('BAD_REDACTION', `entry ${index} is a ${record.type}; only indicators can be redacted`)
    // The removal goes into the log first, so every provider's feed carries it (spec/redaction.md §R.6).
    let revocation: string | null = null
    if (await store.inCurrentSet(id)) revocation = (await this.o.submit({ type: 'revocation', target: id, reason: 'legal_order' })).id
    const notice: RedactionNotice = { v: 1, log: origin, index, id, reason: req.reason, time: this.o.now() }
    const signed = signRedaction(this.o.logSeed, notice)
    const outcome = await store.applyRedaction(origin, signed, notice)
    this.stats[outcome]++
    this.o.log('info', `redacted entry ${index} of ${origin} (${req.reason})`)
    this.announce(signed)
    return { index, id: toHex(id), notice: toHex(signed), redaction: noticeToJson(notice), revocation, already: false }
  }

  private announce(signed: Uint8Array): void {
    this.o.peer.publish(encodeGossip({ t: 'rd', origin: this.o.origin, notice: signed })).catch(() => undefined)
  }

  /** Registers /cairn/redactions/1 (before the peer starts). */
  async register(): Promise<void> {
    await this.o.peer.handle(PROTO_REDACTIONS, async (request) => {
      const frames: Uint8Array[] = []
      for await (const f of request) frames.push(f)
      if (frames.length !== 1) throw new LedgerError('BAD_REQUEST', 'a redactions request is one frame')
      const theirs = decodeRedactionsRequest(frames[0]!)
      if (Buffer.compare(theirs, await this.o.store.redactionDigest()) === 0) return []
      const out: Uint8Array[] = []
      for await (const r of this.o.store.allRedactions(MAX_EXCHANGE_FRAMES)) out.push(r.notice)
      return out
    }, { maxRequestFrames: 1, maxRequestBytes: 1024, maxFrameBytes: 4096 })
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.round || this.stopped) return
      this.round = this.exchange().catch((e) => this.o.log('warn', `redaction exchange failed: ${String(e)}`)).finally(() => {
        this.round = undefined
      })
    }, this.o.exchangeMs ?? 3000)
    this.timer.unref()
  }

  /** One anti-entropy round with every connected peer. */
  async exchange(): Promise<void> {
    const digest = await this.o.store.redactionDigest()
    await Promise.all(this.o.peer.connectedPeers().map(async (p) => {
      let frames: Uint8Array[]
      try {
        frames = await this.o.peer.requestAll(p, PROTO_REDACTIONS, [encodeRedactionsRequest(digest)], {
          timeoutMs: 5000, maxResponseFrames: MAX_EXCHANGE_FRAMES, maxFrameBytes: 4096,
        })
      } catch {
        return // unreachable or old peer: the next round tries again
      }
      for (const f of frames) {
        if (this.stopped) return
        await this.receive(f)
      }
    }))
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.round
    await this.chain
  }
}
