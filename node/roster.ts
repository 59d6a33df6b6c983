/**
 * The federation's membership as this node currently knows it: the genesis
 * roster plus every roster change that reached its threshold of confirmations.
 *
 * A roster record is a proposal; it counts as its writer's confirmation, and
 * every `attestation` with opinion `confirm` whose target is the proposal's
 * record id counts as the confirmation of the attestation's log. When the
 * number of distinct current members confirming reaches `threshold`, the
 * change applies, once. Gates read from here: which peers may connect, which
 * logs are accepted, which record types a log may write.
 */
import { parseVerifierKey } from '../protocol/note.ts'
import { verifierKey } from '../protocol/note.ts'
import { witnessVerifierKey } from '../protocol/cosignature.ts'
import { toHex } from '../protocol/bytes.ts'
import { LedgerError } from '../protocol/errors.ts'
import { logKeyFromVkey, type LogKeys } from '../protocol/log-keys.ts'
import type { CairnRecord, RecordType, Role, RosterRecord } from '../protocol/records.ts'
import type { Genesis } from '../protocol/genesis.ts'

export interface Member {
  name: string
  origin: string
  vkey: string
  witnessVkey: string
  logKey: Uint8Array
  /** Earlier log keys after a rotation: entries and checkpoints signed by them stay valid. */
  previousVkeys: string[]
  peerId: string
  roles: Set<Role>
  addrs: string[]
  active: boolean
}

interface Proposal {
  record: RosterRecord
  confirmations: Set<string>
  applied: boolean
}

/** Which record types each role allows; attestations and roster votes are open to every member. */
function allowedTypes(roles: Set<Role>): Set<RecordType> {
  const s = new Set<RecordType>(['attestation', 'roster'])
  if (roles.has('publisher')) {
    s.add('indicator')
    s.add('revocation')
  }
  return s
}

export class Roster {
  readonly federation: string
  threshold: number
  private readonly members = new Map<string, Member>()
  private readonly proposals = new Map<string, Proposal>()
  /** Confirmations seen before their proposal arrived (logs replicate in any order). */
  private readonly earlyVotes = new Map<string, Set<string>>()
  private readonly listeners: ((m: Member, change: string) => void)[] = []

  constructor(genesis: Genesis) {
    this.federation = genesis.federation
    this.threshold = genesis.threshold
    for (const g of genesis.members) {
      this.members.set(g.origin, {
        name: g.name, origin: g.origin, vkey: g.vkey, witnessVkey: g.witness_vkey,
        logKey: parseVerifierKey(g.vkey).publicKey, previousVkeys: [], peerId: g.peer_id,
        roles: new Set(g.roles), addrs: g.addrs, active: true,
      })
    }
  }

  onChange(fn: (m: Member, change: string) => void): void {
    this.listeners.push(fn)
  }

  /** Every member ever known, removed ones included (their logs stay readable). */
  all(): Member[] {
    return [...this.members.values()]
  }

  active(): Member[] {
    return this.all().filter((m) => m.active)
  }

  member(origin: string): Member | undefined {
    return this.members.get(origin)
  }

  byPeerId(peerId: string): Member | undefined {
    return this.active().find((m) => m.peerId === peerId)
  }

  allowedPeerIds(): Set<string> {
    return new Set(this.active().map((m) => m.peerId))
  }

  witnesses(): Member[] {
    return this.active().filter((m) => m.roles.has('witness'))
  }

  /**
   * The keys `origin`'s log may be signed with, the current one first, then
   * the rotated-out ones (most recent first). There is no cut-over index yet:
   * each is valid over the whole log. UNKNOWN_LOG if the roster never knew it.
   */
  logKeys(origin: string): LogKeys {
    const m = this.members.get(origin)
    if (!m) throw new LedgerError('UNKNOWN_LOG', `${origin} is not a member of federation ${this.federation}`)
    return [{ publicKey: m.logKey, vkey: m.vkey, from: 0 }, ...m.previousVkeys.map((v) => logKeyFromVkey(v))]
  }

  /** Throws unless `origin` is an active member allowed to write `type`. */
  checkWriter(origin: string, type: RecordType): void {
    const m = this.members.get(origin)
    if (!m) throw new LedgerError('UNKNOWN_LOG', `${origin} is not a member of federation ${this.federation}`)
    if (!m.active) throw new LedgerError('UNKNOWN_LOG', `${origin} was removed from the federation and may not write`)
    if (!allowedTypes(m.roles).has(type)) {
      throw new LedgerError('ROLE_FORBIDDEN', `${origin} has roles [${[...m.roles].join(', ')}], which do not allow ${type} records`)
    }
  }

  /**
   * Feeds a record stored in `origin`'s log to the roster. Returns true when a
   * change was applied (callers then re-read gates, e.g. allowed peers).
   */
  observe(origin: string, id: Uint8Array, record: CairnRecord): boolean {
    const idHex = toHex(id)
    if (record.type === 'roster') {
      if (this.proposals.has(idHex)) return false
      const p: Proposal = { record, confirmations: new Set([origin, ...(this.earlyVotes.get(idHex) ?? [])]), applied: false }
      this.earlyVotes.delete(idHex)
      this.proposals.set(idHex, p)
      return this.maybeApply(p)
    }
    if (record.type === 'attestation' && record.opinion === 'confirm') {
      const t = toHex(record.target)
      const p = this.proposals.get(t)
      if (!p) {
        const early = this.earlyVotes.get(t) ?? new Set<string>()
        if (early.size < 1000) early.add(origin)
        if (this.earlyVotes.size < 10_000) this.earlyVotes.set(t, early)
        return false
      }
      p.confirmations.add(origin)
      return this.maybeApply(p)
    }
    return false
  }

  proposalStatus(): { id: string; change: string; member?: string; confirmations: string[]; applied: boolean }[] {
    return [...this.proposals.entries()].map(([id, p]) => ({
      id, change: p.record.change, member: 'member' in p.record ? p.record.member : undefined,
      confirmations: [...p.confirmations].sort(), applied: p.applied,
    }))
  }

  private maybeApply(p: Proposal): boolean {
    if (p.applied) return false
    const votes = [...p.confirmations].filter((o) => this.members.get(o)?.active).length
    if (votes < this.threshold) return false
    p.applied = true
    this.apply(p.record)
    return true
  }

  private apply(r: RosterRecord): void {
    const origin = 'member' in r ? `${this.federation}/${r.member}` : ''
    switch (r.change) {
      case 'add_member': {
        if (r.origin !== origin) return // a proposal naming a foreign origin never applies
        const existing = this.members.get(origin)
        const m: Member = {
          name: r.member, origin, vkey: verifierKey(origin, r.key), witnessVkey: witnessVerifierKey(origin, r.witness_key),
          logKey: r.key, previousVkeys: existing ? [existing.vkey, ...existing.previousVkeys] : [], peerId: r.peer_id,
          roles: new Set(r.roles), addrs: existing?.addrs ?? [], active: true,
        }
        this.members.set(origin, m)
        return this.emit(m, 'add_member')
      }
      case 'remove_member': {
        const m = this.members.get(origin)
        if (!m) return
        m.active = false
        return this.emit(m, 'remove_member')
      }
      case 'rotate_key': {
        const m = this.members.get(origin)
        if (!m) return
        if (r.key) {
          m.previousVkeys.unshift(m.vkey)
          m.vkey = verifierKey(origin, r.key)
          m.logKey = r.key
        }
        if (r.witness_key) m.witnessVkey = witnessVerifierKey(origin, r.witness_key)
        if (r.peer_id) m.peerId = r.peer_id
        return this.emit(m, 'rotate_key')
      }
      case 'set_roles': {
        const m = this.members.get(origin)
        if (!m) return
        m.roles = new Set(r.roles)
        return this.emit(m, 'set_roles')
      }
      case 'set_threshold': {
        const n = this.active().length
        this.threshold = Math.min(r.threshold, Math.max(n, 1))
        const any = this.active()[0]
        if (any) this.emit(any, 'set_threshold')
      }
    }
  }

  private emit(m: Member, change: string): void {
    for (const fn of this.listeners) fn(m, change)
  }
}
