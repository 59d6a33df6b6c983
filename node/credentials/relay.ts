/**
 * Credential revocations between members (spec/credentials.md §5,
 * spec/federation.md §11 `/cairn/credential-revocations/1`). One request
 * frame, canonical CBOR:
 *   {t: "push", s: [statement, …]}  → no response frames; the receiver keeps
 *                                     the new ones and pushes them on to its
 *                                     other connected members;
 *   {t: "pull"}                     → frames, each a CBOR array of up to
 *                                     PULL_FRAME statements: every one held.
 * A node pushes a revocation it makes to every connected member at once,
 * and pulls from each member when it connects (and every `pollMs`), so a
 * node that was down catches up. Only active members may call; each
 * statement is verified (revocations.ts) before it is kept: bad ones are
 * refused, counted and never stored.
 */
import { Rounds } from '../rounds.ts'
import { decodeCanonical, encodeCanonical } from '../../protocol/cbor.ts'
import { LedgerError, isLedgerError } from '../../protocol/errors.ts'
import { MAX_REVOCATION_CHARS } from '../../protocol/credential-revocation.ts'
import type { Peer } from '../replication/peer.ts'
import type { Roster } from '../roster.ts'
import { MAX_REVOCATIONS, type RevocationSet } from './revocations.ts'

export const PROTO_CREDENTIAL_REVOCATIONS = '/cairn/credential-revocations/1'
/** Statements in one push or one pull response frame. */
export const PULL_FRAME = 100
const MAX_FRAME = PULL_FRAME * (MAX_REVOCATION_CHARS + 8) + 64
const PEER_TIMEOUT_MS = 5000

export interface RevocationRelayStats {
  pushed: number
  pulls: number
  /** Statements from peers that were new here. */
  received: number
  /** Statements from peers refused, by error code (never stored). */
  peer_rejected: Record<string, number>
  /** Pushes and pulls that failed (the peer away); pull-on-connect retries. */
  failures: number
}

export interface RevocationRelayOptions {
  roster: Pick<Roster, 'byPeerId' | 'active'>
  peer: Pick<Peer, 'handle' | 'requestAll' | 'connectedPeers'>
  revocations: Pick<RevocationSet, 'add' | 'texts'>
  selfPeerId: string
  log: (level: 'debug' | 'info' | 'warn', msg: string) => void
  tickMs?: number
  pollMs?: number
}

type Message = { t: 'push'; s: string[] } | { t: 'pull' }

function decodeMessage(bytes: Uint8Array): Message {
  const m = decodeCanonical(bytes, { maxBytes: MAX_FRAME, maxDepth: 2, maxItems: PULL_FRAME })
  if (!(m instanceof Map)) throw new LedgerError('BAD_REQUEST', 'a revocations request is a CBOR map')
  const t = m.get('t')
  if (t === 'pull' && m.size === 1) return { t }
  const s = m.get('s')
  if (t === 'push' && m.size === 2 && Array.isArray(s) && s.every((x) => typeof x === 'string')) return { t, s: s as string[] }
  throw new LedgerError('BAD_REQUEST', 'a revocations request is {t: "pull"} or {t: "push", s: [statements]}')
}

function decodeStatements(bytes: Uint8Array): string[] {
  const a = decodeCanonical(bytes, { maxBytes: MAX_FRAME, maxDepth: 1, maxItems: PULL_FRAME })
  if (!Array.isArray(a) || !a.every((x) => typeof x === 'string')) throw new LedgerError('BAD_REQUEST', 'a revocations frame is an array of statements')
  return a as string[]
}

export class RevocationRelay {
  readonly stats: RevocationRelayStats = { pushed: 0, pulls: 0, received: 0, peer_rejected: {}, failures: 0 }
  private known = new Set<string>()
  private polledAt = 0
  private readonly rounds: Rounds

  constructor(private readonly o: RevocationRelayOptions) {
    this.rounds = new Rounds(() => this.tick(), o.tickMs ?? 1000, (e) => o.log('warn', `credential revocations round failed: ${String(e)}`))
  }

  /** Takes statements from a peer: the new ones, after verification. */
  private takeIn(statements: string[]): string[] {
    const fresh: string[] = []
    for (const s of statements) {
      try {
        if (this.o.revocations.add(s)) fresh.push(s)
      } catch (e) {
        const code = isLedgerError(e) ? e.code : 'BAD_CREDENTIAL'
        this.stats.peer_rejected[code] = (this.stats.peer_rejected[code] ?? 0) + 1
      }
    }
    this.stats.received += fresh.length
    return fresh
  }

  /** Registers the protocol (before the peer starts). */
  async register(): Promise<void> {
    await this.o.peer.handle(PROTO_CREDENTIAL_REVOCATIONS, async (request, remote) => {
      try {
        if (!this.o.roster.byPeerId(remote)) throw new LedgerError('FORBIDDEN', 'credential revocations are exchanged with active members only')
        if (request.length !== 1) throw new LedgerError('BAD_REQUEST', 'a revocations request is one frame')
        const msg = decodeMessage(request[0]!)
        if (msg.t === 'pull') return this.frames()
        const fresh = this.takeIn(msg.s)
        if (fresh.length) this.push(fresh, remote)
        return []
      } catch (e) {
        const code = isLedgerError(e) ? e.code : 'INTERNAL'
        this.stats.peer_rejected[code] = (this.stats.peer_rejected[code] ?? 0) + 1
        throw e
      }
    }, { maxRequestFrames: 1, maxRequestBytes: MAX_FRAME, maxFrameBytes: MAX_FRAME })
  }

  private frames(): Uint8Array[] {
    const all = this.o.revocations.texts()
    const out: Uint8Array[] = []
    for (let i = 0; i < all.length; i += PULL_FRAME) out.push(encodeCanonical(all.slice(i, i + PULL_FRAME)))
    return out
  }

  /** Sends statements to every connected member but `except` (best effort: they also pull). */
  push(statements: string[], except?: string): void {
    const members = new Set(this.o.roster.active().map((m) => m.peerId))
    for (const p of this.o.peer.connectedPeers()) {
      if (p === except || p === this.o.selfPeerId || !members.has(p)) continue
      for (let i = 0; i < statements.length; i += PULL_FRAME) {
        const frame = encodeCanonical({ t: 'push', s: statements.slice(i, i + PULL_FRAME) })
        this.stats.pushed++
        this.o.peer.requestAll(p, PROTO_CREDENTIAL_REVOCATIONS, [frame], { timeoutMs: PEER_TIMEOUT_MS, maxResponseFrames: 0, maxFrameBytes: MAX_FRAME })
          .catch((e) => {
            this.stats.failures++
            this.o.log('debug', `credential revocations: push to ${p} failed (it pulls when it connects): ${String(e)}`)
          })
      }
    }
  }

  /** Asks one member for every revocation it holds. */
  async pull(peerId: string): Promise<number> {
    this.stats.pulls++
    const frames = await this.o.peer.requestAll(peerId, PROTO_CREDENTIAL_REVOCATIONS, [encodeCanonical({ t: 'pull' })], {
      timeoutMs: PEER_TIMEOUT_MS, maxResponseFrames: Math.ceil(MAX_REVOCATIONS / PULL_FRAME), maxFrameBytes: MAX_FRAME,
    })
    let fresh = 0
    for (const f of frames) {
      let statements: string[]
      try {
        statements = decodeStatements(f)
      } catch (e) {
        this.stats.peer_rejected.BAD_REQUEST = (this.stats.peer_rejected.BAD_REQUEST ?? 0) + 1
        throw e
      }
      fresh += this.takeIn(statements).length
    }
    return fresh
  }

  start(): void {
    this.rounds.start()
  }

  async stop(): Promise<void> {
    await this.rounds.stop()
  }

  /** Pulls from each member that connected since the last tick, and from all every `pollMs`. */
  async tick(): Promise<void> {
    const members = new Set(this.o.roster.active().map((m) => m.peerId))
    const connected = new Set(this.o.peer.connectedPeers().filter((p) => members.has(p) && p !== this.o.selfPeerId))
    const all = performance.now() - this.polledAt >= (this.o.pollMs ?? 60_000)
    if (all) this.polledAt = performance.now()
    const due = [...connected].filter((p) => all || !this.known.has(p))
    const pulled = new Set<string>()
    for (const p of due) {
      if (this.rounds.stopped) break
      try {
        const fresh = await this.pull(p)
        pulled.add(p)
        if (fresh) this.o.log('info', `credential revocations: ${fresh} new from ${this.o.roster.byPeerId(p)?.origin ?? p}`)
      } catch (e) {
        this.stats.failures++
        this.o.log('debug', `credential revocations: pull from ${p} failed: ${String(e)}`)
      }
    }
    // A member counts as caught up only once a pull from it succeeded.
    this.known = new Set([...connected].filter((p) => pulled.has(p) || (this.known.has(p))))
  }
}
