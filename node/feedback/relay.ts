/**
 * Provider feedback between nodes (spec/api.md §A.11, spec/federation.md
 * §11.4 `/cairn/feedback/1`). The node a provider reports at (the serving
 * node) keeps a receipt and sends the report to the node of the centre whose
 * log holds the record (the adding centre), which keeps it for review. A
 * report that cannot be delivered stays pending and is sent again, with
 * exponential backoff, or at once when the adding centre's node is connected
 * again. The outcome flows back: the adding centre pushes it when it decides,
 * and the serving node asks for the outcomes of its undecided reports every
 * `pollMs` (so a push lost to a restart is not lost for good).
 *
 * Who sent a peer message is the authenticated libp2p peer, mapped to its
 * roster member: a node reports only as itself, is told only the outcomes of
 * its own reports, and accepts an outcome only from the report's adding centre.
 */
import { Rounds } from '../rounds.ts'
import { fromHex, toHex } from '../../protocol/bytes.ts'
import { LedgerError, isLedgerError } from '../../protocol/errors.ts'
import { decodeEntry } from '../../protocol/entry.ts'
import { decodeCheckedRecord, type IndicatorRecord } from '../../protocol/records.ts'
import { isRefPseudonym } from '../../protocol/case-ref.ts'
import {
  feedbackReportId, checkProviderName, isReasonFor, isVerdict, FEEDBACK_DECISIONS,
  type FeedbackDecision, type FeedbackInput,
} from '../../protocol/feedback.ts'
import type { Store } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { Peer } from '../replication/peer.ts'
import {
  PROTO_FEEDBACK, MAX_FEEDBACK_FRAME, MAX_OUTCOME_IDS, encodeFeedbackMessage, decodeFeedbackMessage, encodeFeedbackAck,
  decodeFeedbackAck, encodeOutcomeFrame, decodeOutcomeFrame, type FeedbackAck, type FeedbackReportMessage, type WireOutcome,
} from '../replication/messages.ts'
import { RateLimiter } from '../http/rate-limit.ts'
import type { FeedbackOutcome, FeedbackStore, Receipt, StoredReport } from './store.ts'

export interface FeedbackRelayOptions {
  origin: string
  store: Pick<Store, 'locate' | 'entry' | 'references' | 'inCurrentSet' | 'isRedacted'>
  roster: Pick<Roster, 'member' | 'byPeerId'>
  peer: Pick<Peer, 'handle' | 'requestAll' | 'connectedPeers'>
  feedback: FeedbackStore
  now: () => number
  log: (level: 'debug' | 'info' | 'warn', msg: string) => void
  /** How often due deliveries are looked for (default 1 s). */
  tickMs?: number
  /** How often the outcomes of delivered, undecided reports are asked for (default 30 s). */
  pollMs?: number
  /** Backoff between delivery attempts: from min, doubling, up to max (defaults 2 s and 5 min). */
  minBackoffMs?: number
  maxBackoffMs?: number
}

/** Counts since start: reports made here, repeats, refusals by code, deliveries. */
export interface FeedbackStats {
  received: number
  duplicates: number
  updated: number
  rejected: Record<string, number>
  delivered: number
  delivery_failures: number
  /** Reports from other nodes taken in, and refused. */
  peer_reports: number
  peer_rejected: Record<string, number>
}

/** Codes a peer answers a report with that another try would not change. */
const PERMANENT = new Set(['UNKNOWN_TARGET', 'BAD_REQUEST', 'BAD_FIELD', 'BAD_VERDICT', 'BAD_REASON', 'BAD_REF', 'FORBIDDEN', 'UNKNOWN_LOG'])
const PEER_TIMEOUT_MS = 5000
/** Reports another node may hand this one: a burst of 1,000, then 50 a second. */
const PEER_REPORTS = { rate_per_s: 50, burst: 1000 }

/** An indicator this node holds, by record id; UNKNOWN_TARGET for anything else. */
export async function indicatorOf(store: FeedbackRelayOptions['store'], recordHex: string): Promise<{ origin: string; index: number; record: IndicatorRecord }> {
  const at = await store.locate(fromHex(recordHex, 'record'))
  if (!at) throw new LedgerError('UNKNOWN_TARGET', `no record ${recordHex} in any log this node holds: check the id (cairn match prints it), or sync again`)
  if (await store.isRedacted(at.origin, at.index)) throw new LedgerError('UNKNOWN_TARGET', `record ${recordHex} was redacted on legal order: it is no longer in the set`)
  const record = decodeCheckedRecord(decodeEntry(await store.entry(at.origin, at.index)).recordBytes)
  if (record.type !== 'indicator') throw new LedgerError('UNKNOWN_TARGET', `record ${recordHex} is a ${record.type}, not an indicator`)
  return { ...at, record }
}

export const toWire = (o: FeedbackOutcome): WireOutcome => ({ decision: o.decision, record: fromHex(o.record, 'record'), time: o.time, reviewed: o.reviewed, ...(o.reason ? { reason: o.reason } : {}) })

function fromWire(o: WireOutcome): FeedbackOutcome {
  if (!(FEEDBACK_DECISIONS as readonly string[]).includes(o.decision)) throw new LedgerError('BAD_REQUEST', `unknown decision ${o.decision}`)
  return { decision: o.decision as FeedbackDecision, record: toHex(o.record), time: o.time, reviewed: o.reviewed, ...(o.reason ? { reason: o.reason } : {}) }
}

const sameInput = (a: Pick<Receipt, 'verdict' | 'reason' | 'ref'>, b: Pick<Receipt, 'verdict' | 'reason' | 'ref'>) => a.verdict === b.verdict && a.reason === b.reason && a.ref === b.ref

export class FeedbackRelay {
  readonly stats: FeedbackStats = { received: 0, duplicates: 0, updated: 0, rejected: {}, delivered: 0, delivery_failures: 0, peer_reports: 0, peer_rejected: {} }
  private readonly locks = new Map<string, Promise<unknown>>()
  /** Per pending receipt: whether the adding centre's node was connected when the last attempt failed. */
  private readonly failedWhileAway = new Set<string>()
  private readonly peerReports = new RateLimiter(PEER_REPORTS)
  private polledAt = 0
  private readonly rounds: Rounds

  constructor(private readonly o: FeedbackRelayOptions) {
    this.rounds = new Rounds(() => this.tick(), o.tickMs ?? 1000, (e) => o.log('warn', `feedback delivery round failed: ${String(e)}`))
  }

  /** Runs `fn` after every earlier call for the same report id. */
  private lock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(id) ?? Promise.resolve()).catch(() => undefined).then(fn)
    const tail = run.catch(() => undefined)
    this.locks.set(id, tail)
    void tail.then(() => { if (this.locks.get(id) === tail) this.locks.delete(id) })
    return run
  }

  count(code: string): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
  }

  // ------------------------------------------------------------ serving side

  /**
   * A provider's report made at this node: stored as a receipt (durably), then
   * delivered at once if the adding centre's node answers within a few
   * seconds; else it stays pending. A repeat with the same verdict, reason
   * and ref changes nothing; with others it updates the report and sends it again.
   */
  async submit(provider: { id: string; name: string }, input: FeedbackInput): Promise<{ receipt: Receipt; created: boolean; duplicate: boolean }> {
    const id = feedbackReportId(this.o.origin, provider.name, input.record)
    const result = await this.lock(id, async () => {
      const existing = this.o.feedback.receipts.get(id)
      if (existing && sameInput(existing, input)) return { receipt: existing, created: false, duplicate: true }
      const at = await indicatorOf(this.o.store, input.record)
      if (!existing && !(await this.o.store.inCurrentSet(fromHex(input.record, 'record')))) {
        throw new LedgerError('CONFLICT', `record ${input.record} was already revoked by ${at.origin}: your next cairn sync drops it; nothing to report`)
      }
      const now = this.o.now()
      const receipt: Receipt = {
        id, record: input.record, owner: at.origin, provider: provider.name, token: provider.id,
        verdict: input.verdict, reason: input.reason, ...(input.ref ? { ref: input.ref } : {}),
        created: existing?.created ?? now, updated: now, revision: (existing?.revision ?? 0) + 1,
        state: 'pending', attempts: 0, next_at: now, ...(existing?.outcome ? { outcome: existing.outcome } : {}),
      }
      await this.o.feedback.put({ receipts: [receipt] })
      return { receipt, created: !existing, duplicate: false }
    })
    if (result.duplicate) {
      this.stats.duplicates++
      return result
    }
    if (result.created) this.stats.received++
    else this.stats.updated++
    return { ...result, receipt: await this.deliver(id) }
  }

  /** The receipts of one provider (by its name at this node), newest first. */
  receiptsOf(provider: string): Receipt[] {
    return [...this.o.feedback.receipts.values()].filter((r) => r.provider === provider).sort((a, b) => b.updated - a.updated || (a.id < b.id ? -1 : 1))
  }

  pending(): number {
    let n = 0
    for (const r of this.o.feedback.receipts.values()) if (r.state === 'pending') n++
    return n
  }

  /** One delivery attempt of a pending receipt; returns the receipt as it stands after it. */
  private deliver(id: string): Promise<Receipt> {
    return this.lock(id, async () => {
      const r = this.o.feedback.receipts.get(id)!
      if (r.state !== 'pending') return r
      const msg: FeedbackReportMessage = {
        t: 'report', id: r.id, record: fromHex(r.record, 'record'), verdict: r.verdict, reason: r.reason,
        provider: r.provider, reported: r.updated, ...(r.ref ? { ref: r.ref } : {}),
      }
      const member = this.o.roster.member(r.owner)
      let next: Receipt
      try {
        let ack: FeedbackAck
        if (r.owner === this.o.origin) ack = await this.accept(this.o.origin, msg)
        else {
          if (!member?.active) throw new LedgerError('UNKNOWN_LOG', `${r.owner} is not an active member of the federation`)
          const frames = await this.o.peer.requestAll(member.peerId, PROTO_FEEDBACK, [encodeFeedbackMessage(msg)], {
            timeoutMs: PEER_TIMEOUT_MS, maxResponseFrames: 1, maxFrameBytes: MAX_FEEDBACK_FRAME, maxResponseBytes: MAX_FEEDBACK_FRAME,
          })
          if (frames.length !== 1) throw new LedgerError('PEER_ERROR', `${r.owner} answered a report with ${frames.length} frames`)
          ack = decodeFeedbackAck(frames[0]!)
        }
        next = { ...r, state: 'delivered', attempts: r.attempts + 1, delivered_at: this.o.now(), next_at: undefined, last_error: undefined }
        if (ack.outcome) next.outcome = fromWire(ack.outcome)
        this.stats.delivered++
        this.failedWhileAway.delete(id)
      } catch (e) {
        const le = isLedgerError(e) ? e : new LedgerError('INTERNAL', String(e))
        const code = isLedgerError(le.cause) ? le.cause.code : le.code
        const attempts = r.attempts + 1
        this.stats.delivery_failures++
        if (PERMANENT.has(code)) {
          next = { ...r, state: 'rejected', attempts, next_at: undefined, last_error: `${code}: ${le.message}`.slice(0, 300) }
          this.o.log('warn', `feedback report ${id} refused by ${r.owner} (${code}); it is not sent again`)
        } else {
          const min = this.o.minBackoffMs ?? 2000
          const delay = Math.min(this.o.maxBackoffMs ?? 300_000, min * 2 ** Math.min(attempts - 1, 20)) * (0.75 + Math.random() / 2)
          next = { ...r, attempts, next_at: this.o.now() + Math.round(delay), last_error: `${code}: ${le.message}`.slice(0, 300) }
          const connected = member !== undefined && this.o.peer.connectedPeers().includes(member.peerId)
          if (connected) this.failedWhileAway.delete(id)
          else this.failedWhileAway.add(id)
          this.o.log('debug', `feedback report ${id} to ${r.owner} not delivered (attempt ${attempts}, ${code}); next try in ${Math.round(delay)} ms or when it connects`)
        }
      }
      await this.o.feedback.put({ receipts: [next] })
      return next
    })
  }

  /** Sets the outcome of a receipt (from its adding centre). */
  private async settle(id: string, outcome: FeedbackOutcome): Promise<void> {
    await this.lock(id, async () => {
      const r = this.o.feedback.receipts.get(id)
      if (!r || (r.outcome && r.outcome.record === outcome.record)) return
      await this.o.feedback.put({ receipts: [{ ...r, outcome }] })
    })
  }

  start(): void {
    this.rounds.start()
  }

  async stop(): Promise<void> {
    await this.rounds.stop()
    await Promise.all([...this.locks.values()])
  }

  /** Delivers what is due (or whose node came back), and now and then asks for outcomes. */
  async tick(): Promise<void> {
    const now = this.o.now()
    const connected = new Set(this.o.peer.connectedPeers())
    const due = [...this.o.feedback.receipts.values()].filter((r) => {
      if (r.state !== 'pending') return false
      if ((r.next_at ?? 0) <= now) return true
      const peerId = this.o.roster.member(r.owner)?.peerId
      return this.failedWhileAway.has(r.id) && peerId !== undefined && connected.has(peerId)
    })
    for (let i = 0; i < due.length && !this.rounds.stopped; i += 8) await Promise.all(due.slice(i, i + 8).map((r) => this.deliver(r.id)))
    if (performance.now() - this.polledAt >= (this.o.pollMs ?? 30_000)) {
      this.polledAt = performance.now()
      await this.poll()
    }
  }

  /** Asks each adding centre for the outcomes of the delivered reports it has not decided yet. */
  async poll(): Promise<void> {
    const byOwner = new Map<string, string[]>()
    for (const r of this.o.feedback.receipts.values()) {
      if (r.state !== 'delivered' || (r.outcome && r.outcome.decision === 'revoke')) continue
      let l = byOwner.get(r.owner)
      if (!l) byOwner.set(r.owner, (l = []))
      l.push(r.id)
    }
    for (const [owner, ids] of byOwner) {
      for (let i = 0; i < ids.length && !this.rounds.stopped; i += MAX_OUTCOME_IDS) {
        const chunk = ids.slice(i, i + MAX_OUTCOME_IDS)
        try {
          const answers = owner === this.o.origin ? await this.outcomesFor(owner, chunk) : await this.askOutcomes(owner, chunk)
          for (const a of answers) await this.settle(a.id, a.outcome)
        } catch (e) {
          this.o.log('debug', `feedback: outcomes from ${owner} not fetched: ${String(e)}`)
          break
        }
      }
    }
  }

  private async askOutcomes(owner: string, ids: string[]): Promise<{ id: string; outcome: FeedbackOutcome }[]> {
    const member = this.o.roster.member(owner)
    if (!member?.active) return []
    const frames = await this.o.peer.requestAll(member.peerId, PROTO_FEEDBACK, [encodeFeedbackMessage({ t: 'outcomes', ids })], {
      timeoutMs: PEER_TIMEOUT_MS, maxResponseFrames: ids.length, maxFrameBytes: MAX_FEEDBACK_FRAME,
    })
    return frames.map(decodeOutcomeFrame).filter((a) => ids.includes(a.id)).map((a) => ({ id: a.id, outcome: fromWire(a.outcome) }))
  }

  // ------------------------------------------------------------ adding centre's side

  /** Registers /cairn/feedback/1 (before the peer starts). */
  async register(): Promise<void> {
    await this.o.peer.handle(PROTO_FEEDBACK, async (request, remote) => {
      const frames: Uint8Array[] = []
      for await (const f of request) frames.push(f)
      try {
        if (frames.length !== 1) throw new LedgerError('BAD_REQUEST', 'a feedback request is one frame')
        const from = this.o.roster.byPeerId(remote)?.origin
        if (!from) throw new LedgerError('FORBIDDEN', 'feedback is taken from active members only')
        const msg = decodeFeedbackMessage(frames[0]!)
        if (msg.t === 'report') {
          const wait = this.peerReports.take(from)
          if (wait) throw new LedgerError('RATE_LIMITED', `too many reports from ${from}; retry in ${wait} s`)
          return [encodeFeedbackAck(await this.lock(msg.id, () => this.accept(from, msg)))]
        }
        if (msg.t === 'outcomes') return (await this.outcomesFor(from, msg.ids)).map((a) => encodeOutcomeFrame(a.id, toWire(a.outcome)))
        const r = this.o.feedback.receipts.get(msg.id)
        if (!r || r.owner !== from) throw new LedgerError('NOT_FOUND', `no report ${msg.id} of this node was sent to ${from}`)
        await this.settle(msg.id, fromWire(msg.outcome))
        return []
      } catch (e) {
        const code = isLedgerError(e) ? e.code : 'INTERNAL'
        this.stats.peer_rejected[code] = (this.stats.peer_rejected[code] ?? 0) + 1
        throw e
      }
    }, { maxRequestFrames: 1, maxRequestBytes: MAX_FEEDBACK_FRAME, maxFrameBytes: MAX_FEEDBACK_FRAME })
  }

  /** Takes in a report about one of this node's records, from the node `from` (this one included). */
  async accept(from: string, msg: FeedbackReportMessage): Promise<FeedbackAck> {
    if (!isVerdict(msg.verdict)) throw new LedgerError('BAD_VERDICT', `unknown verdict ${msg.verdict}`)
    if (!isReasonFor(msg.verdict, msg.reason)) throw new LedgerError('BAD_REASON', `reason ${msg.reason} is not one for ${msg.verdict}`)
    if (msg.ref !== undefined && !isRefPseudonym(msg.ref)) throw new LedgerError('BAD_REF', 'ref must be a case-reference pseudonym')
    const provider = checkProviderName(msg.provider)
    const recordHex = toHex(msg.record)
    if (feedbackReportId(from, provider, recordHex) !== msg.id) throw new LedgerError('BAD_REQUEST', 'the report id is not the one its node, provider and record give')
    const at = await indicatorOf(this.o.store, recordHex)
    if (at.origin !== this.o.origin) throw new LedgerError('UNKNOWN_TARGET', `record ${recordHex} is in ${at.origin}'s log, not this node's`)
    const existing = this.o.feedback.reports.get(msg.id)
    let row = existing
    if (!existing || !sameInput(existing, msg as Pick<Receipt, 'verdict' | 'reason' | 'ref'>)) {
      const now = this.o.now()
      row = {
        id: msg.id, record: recordHex, log: this.o.origin, from, provider, verdict: msg.verdict, reason: msg.reason,
        ...(msg.ref ? { ref: msg.ref } : {}), alg: at.record.alg, category: at.record.category,
        reported: msg.reported, received: existing?.received ?? now, updated: now, revision: (existing?.revision ?? 0) + 1,
        ...(existing?.outcome ? { outcome: existing.outcome } : {}),
      }
      if (!row.outcome) {
        const outside = await this.revokedOutsideReview(recordHex)
        if (outside) row.outcome = outside
      }
      await this.o.feedback.put({ reports: [row] })
      this.stats.peer_reports++
    }
    return row!.outcome ? { state: 'decided', outcome: toWire(row!.outcome) } : { state: 'open' }
  }

  /** The outcomes of the decided reports among `ids` that `from` sent. */
  async outcomesFor(from: string, ids: string[]): Promise<{ id: string; outcome: FeedbackOutcome }[]> {
    const out: { id: string; outcome: FeedbackOutcome }[] = []
    for (const id of ids) {
      let r = this.o.feedback.reports.get(id)
      if (!r || r.from !== from) continue
      if (!r.outcome) {
        const outside = await this.revokedOutsideReview(r.record)
        if (outside) {
          r = { ...r, outcome: outside }
          await this.o.feedback.put({ reports: [r] })
        }
      }
      if (r.outcome) out.push({ id, outcome: r.outcome })
    }
    return out
  }

  /** A revocation of the record stored in this node's log, if any (a `cairn revoke` outside the review). */
  async revokedOutsideReview(recordHex: string): Promise<FeedbackOutcome | undefined> {
    for (const ref of await this.o.store.references(fromHex(recordHex, 'record'))) {
      if (ref.type !== 'revocation') continue
      const at = await this.o.store.locate(ref.id)
      if (!at) continue
      const rec = decodeCheckedRecord(decodeEntry(await this.o.store.entry(at.origin, at.index)).recordBytes)
      if (rec.type === 'revocation') return { decision: 'revoke', record: toHex(ref.id), time: rec.time, reason: rec.reason, reviewed: false }
    }
    return undefined
  }

  /** Tells the serving nodes of these reports their outcome (best effort: they also ask, see poll). */
  notify(reports: StoredReport[]): void {
    for (const r of reports) {
      if (!r.outcome) continue
      if (r.from === this.o.origin) {
        void this.settle(r.id, r.outcome)
        continue
      }
      const member = this.o.roster.member(r.from)
      if (!member?.active) continue
      this.o.peer.requestAll(member.peerId, PROTO_FEEDBACK, [encodeFeedbackMessage({ t: 'outcome', id: r.id, outcome: toWire(r.outcome) })], { timeoutMs: PEER_TIMEOUT_MS, maxResponseFrames: 0 })
        .catch((e) => this.o.log('debug', `feedback: outcome of ${r.id} not pushed to ${r.from} (it will ask): ${String(e)}`))
    }
  }
}
