/**
 * The federation's membership as the logs define it: the genesis roster plus
 * every roster change that reached its threshold of confirmations, with each
 * member's log keys and witness keys and the range where each is valid
 * (spec/federation.md §10.4, §10.7, §10.8). Pure: nodes (node/roster.ts) and
 * clients (client/roster-follow.ts) feed it the records they verified and
 * read the same answers.
 *
 * A roster record is a proposal; it counts as its writer's confirmation, and
 * every `attestation` with opinion `confirm` whose target is the proposal's
 * record id counts as the confirmation of the attestation's log. When the
 * number of distinct active members confirming reaches `threshold`, the
 * change applies, once.
 *
 * Key ranges (log keys by entry index, witness keys by cosignature time in
 * seconds) are fixed by records alone, so every node and client computes the
 * same ones whatever order the logs arrive in:
 *  - rotate_key by the member itself at index r of its own log: its log key
 *    stops at r + 1 as soon as the proposal is stored (a key may retire
 *    itself without anyone's leave); the new key signs from r + 1 once the
 *    change applies. Witness key: the old one is valid for cosignatures dated
 *    up to the proposal's time (seconds), the new one after it.
 *  - compromise of member M from index f (written by another member): once
 *    it applies, every log key of M stops at f and is marked compromised;
 *    the new key signs from f.
 * To make that so, a member's ranges are not edited record by record: the
 * roster keeps its key facts (base key; its own rotation proposals with
 * index, keys, time, the key that signed the proposal's entry; applied
 * compromises) and recomputes the ranges from scratch, in a canonical order
 * (recompute below, spec/federation.md §10.7), whenever one changes.
 */
import { parseVerifierKey, verifierKey } from './note.ts'
import { witnessVerifierKey, verifyCosignatures } from './cosignature.ts'
import { toHex } from './bytes.ts'
import { LedgerError } from './errors.ts'
import { keyAt, validAt, type LogKey, type LogKeys } from './log-keys.ts'
import type { ParsedNote } from './note.ts'
import type { CairnRecord, CompromiseChange, RecordType, ResolveForkChange, Role, RosterRecord, RotateKeyChange } from './records.ts'
import { checkStandingCheckpoint, equivocationFreezes, parseStandingCheckpoint, type ForkResolution } from './fork-resolution.ts'
import type { Genesis } from './genesis.ts'

/** A witness key of a member, valid for cosignatures dated [from, until) (seconds since the epoch). */
export interface WitnessKey {
  vkey: string
  from: number
  until?: number
}

/** A log-key rotation the member proposed that has not applied yet: its log signs nothing from `from` on. */
export interface PendingRotation {
  id: string
  from: number
}

export interface Member {
  name: string
  origin: string
  /** The newest log key's verifier key (the one that signs the log's next entries once any pending change applies). */
  vkey: string
  /** The newest witness key's verifier key. */
  witnessVkey: string
  logKey: Uint8Array
  /** Every log key the roster gave this log, newest first, each with its range of entry indexes. */
  logKeys: LogKey[]
  /** Every witness key, newest first, each with its range of cosignature times. */
  witnessKeys: WitnessKey[]
  pending?: PendingRotation
  peerId: string
  roles: Set<Role>
  addrs: string[]
  active: boolean
}

interface Proposal {
  origin: string
  record: RosterRecord
  confirmations: Set<string>
  applied: boolean
}

/** A member's own rotate_key proposal at index `r` of its log, and the log key that signed that entry (undefined: the caller vouches it is the key valid at r). */
interface RotationFact {
  id: string
  r: number
  time: number
  key?: Uint8Array
  witnessKey?: Uint8Array
  signer?: Uint8Array
}

/** An applied compromise of the member (written by another member). */
interface CompromiseFact {
  id: string
  from: number
  time: number
  key: Uint8Array
  witnessKey?: Uint8Array
}

/** What a member's key ranges are computed from (recompute). */
interface KeyFacts {
  base?: { logKey: Uint8Array; witnessVkey: string }
  rotations: Map<string, RotationFact>
  compromises: Map<string, CompromiseFact>
}

const sameKey = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])
/** Canonical listing: open keys first, then by end and start, newest first. */
const byRangeDesc = (a: { from: number; until?: number }, b: { from: number; until?: number }) =>
  (b.until ?? Infinity) - (a.until ?? Infinity) || b.from - a.from

/** Told of every change applied: the member it concerns (any member for set_threshold) and the proposal's record id. */
export type RosterListener = (m: Member, change: string, proposalId: string) => void

/** Which record types each role allows; attestations and roster votes are open to every member. */
function allowedTypes(roles: Set<Role>): Set<RecordType> {
  const s = new Set<RecordType>(['attestation', 'roster'])
  if (roles.has('publisher')) {
    s.add('indicator')
    s.add('revocation')
  }
  return s
}

/** Cosignature times are whole seconds; a record's time is in ms. */
const seconds = (ms: number) => Math.floor(ms / 1000)

export class Roster {
  readonly federation: string
  threshold: number
  private readonly members = new Map<string, Member>()
  private readonly proposals = new Map<string, Proposal>()
  /** Confirmations seen before their proposal arrived (logs replicate in any order). */
  private readonly earlyVotes = new Map<string, Set<string>>()
  private readonly listeners: RosterListener[] = []
  /** Per origin: the facts its key ranges are computed from (kept even before the member is known). */
  private readonly keyFacts = new Map<string, KeyFacts>()
  /** Per origin: the fork resolutions that applied (§10.10), in the order they applied. */
  private readonly forkResolutions = new Map<string, ForkResolution[]>()

  /** While true (a rebuild), applied changes are not told to the listeners: they were told when they first applied. */
  private muted = false

  constructor(genesis: Genesis) {
    this.federation = genesis.federation
    this.threshold = genesis.threshold
    this.seed(genesis)
  }

  private seed(genesis: Genesis): void {
    for (const g of genesis.members) {
      const logKey = parseVerifierKey(g.vkey).publicKey
      this.members.set(g.origin, {
        name: g.name, origin: g.origin, vkey: g.vkey, witnessVkey: g.witness_vkey, logKey,
        logKeys: [{ publicKey: logKey, vkey: g.vkey, from: 0 }], witnessKeys: [{ vkey: g.witness_vkey, from: 0 }],
        peerId: g.peer_id, roles: new Set(g.roles), addrs: g.addrs, active: true,
      })
      this.factsOf(g.origin).base = { logKey, witnessVkey: g.witness_vkey }
    }
  }

  /**
   * Forgets every change and rebuilds the roster from `genesis` by `replay`
   * (a node's stored records, after a fork resolution cut some away). The
   * listeners hear nothing meanwhile: what re-applies applied before.
   */
  async rebuild(genesis: Genesis, replay: () => Promise<void>): Promise<void> {
    this.members.clear()
    this.proposals.clear()
    this.earlyVotes.clear()
    this.keyFacts.clear()
    this.forkResolutions.clear()
    this.threshold = genesis.threshold
    this.seed(genesis)
    this.muted = true
    try {
      await replay()
    } finally {
      this.muted = false
    }
  }

  private factsOf(origin: string): KeyFacts {
    let f = this.keyFacts.get(origin)
    if (!f) this.keyFacts.set(origin, f = { rotations: new Map(), compromises: new Map() })
    return f
  }

  onChange(fn: RosterListener): void {
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

  private known(origin: string): Member {
    const m = this.members.get(origin)
    if (!m) throw new LedgerError('UNKNOWN_LOG', `${origin} is not a member of federation ${this.federation}`)
    return m
  }

  /** The keys `origin`'s log may be signed with, newest first, each with its range. UNKNOWN_LOG if the roster never knew it. */
  logKeys(origin: string): LogKeys {
    return this.known(origin).logKeys
  }

  /** The one key that may sign index `index` of `origin`'s log, or undefined (none yet: a rotation waits for its quorum). */
  logKeyAt(origin: string, index: number): LogKey | undefined {
    return keyAt(this.known(origin).logKeys, index)
  }

  /** Witness keys of every member but `except` (the log being cosigned), with their time ranges. */
  cosignerKeys(except?: string): { origin: string; keys: WitnessKey[] }[] {
    return this.all().filter((m) => m.origin !== except).map((m) => ({ origin: m.origin, keys: m.witnessKeys }))
  }

  /** Every witness verifier key of every member but `except`: what a cosignature line may be checked against. */
  witnessVkeys(except?: string): string[] {
    return this.cosignerKeys(except).flatMap((c) => c.keys.map((k) => k.vkey))
  }

  /** Throws unless `origin` is an active member allowed to write `type`. */
  checkWriter(origin: string, type: RecordType): void {
    const m = this.known(origin)
    if (!m.active) throw new LedgerError('UNKNOWN_LOG', `${origin} was removed from the federation and may not write`)
    if (!allowedTypes(m.roles).has(type)) {
      throw new LedgerError('ROLE_FORBIDDEN', `${origin} has roles [${[...m.roles].join(', ')}], which do not allow ${type} records`)
    }
  }

  /**
   * Feeds a record stored at index record.seq of `origin`'s log (its
   * signature checked by the caller). `signer`: the log key (public key
   * bytes) that signed the entry, as openEntryWithKeys returns it; it decides
   * whether a member's own rotation counts (§10.7). Without it the caller
   * vouches that the key valid at the entry's index signed it. Returns true
   * when a change was applied (callers then re-read gates, e.g. allowed
   * peers).
   */
  observe(origin: string, id: Uint8Array, record: CairnRecord, signer?: Uint8Array): boolean {
    const idHex = toHex(id)
    if (record.type === 'roster') {
      if (this.proposals.has(idHex)) return false
      const p: Proposal = { origin, record, confirmations: new Set([origin, ...(this.earlyVotes.get(idHex) ?? [])]), applied: false }
      this.earlyVotes.delete(idHex)
      this.proposals.set(idHex, p)
      if (record.change === 'rotate_key') this.noteRotation(origin, idHex, record, signer)
      return this.maybeApply(idHex, p)
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
      return this.maybeApply(t, p)
    }
    return false
  }

  proposalStatus(): { id: string; change: string; member?: string; confirmations: string[]; applied: boolean }[] {
    return [...this.proposals.entries()].map(([id, p]) => ({
      id, change: p.record.change, member: 'member' in p.record ? p.record.member : undefined,
      confirmations: [...p.confirmations].sort(), applied: p.applied,
    }))
  }

  /** Active members that confirmed proposal `id` so far (undefined: unknown proposal). */
  confirmationsOf(id: string): number | undefined {
    const p = this.proposals.get(id)
    return p && [...p.confirmations].filter((o) => this.members.get(o)?.active).length
  }

  /** True when `origin` wrote `r` about its own keys: only then do its key parts count. */
  private isSelfRotation(origin: string, r: RotateKeyChange): boolean {
    return origin === `${this.federation}/${r.member}`
  }

  /** A member's own rotation is a key fact as soon as it is stored (its old keys retire at once). */
  private noteRotation(origin: string, id: string, r: RosterRecord & RotateKeyChange, signer: Uint8Array | undefined): void {
    if (!this.isSelfRotation(origin, r) || (!r.key && !r.witness_key)) return
    const fact: RotationFact = { id, r: r.seq, time: r.time }
    if (r.key) fact.key = r.key
    if (r.witness_key) fact.witnessKey = r.witness_key
    if (signer) fact.signer = signer
    this.factsOf(origin).rotations.set(id, fact)
    this.recompute(origin)
  }

  /**
   * A member's log keys, witness keys and pending rotation from its key
   * facts alone (spec/federation.md §10.7-10.8), so that they are the same
   * whatever order the facts arrived in. Canonical order: facts by index —
   * a compromise at its `from`, a rotation at its index r —, a compromise
   * before a rotation at the same index (the entry at r is then past the
   * compromise), compromises among themselves by time then record id.
   *  - rotation at r: counts only if the key that signed its entry is the
   *    key valid at r so far (a compromised key is not valid past its end).
   *    Then that key ends at r + 1 and, once the change applied, the new key
   *    is valid from r + 1 (until then it is pending); with a witness key,
   *    every witness key ends after the proposal's second and the new one
   *    is valid after it once applied. A rotation that does not count
   *    changes nothing, but its log key is listed as compromised with the
   *    empty range [r + 1, r + 1): what it signed is compromised content on
   *    every node, whichever read the rotation before the compromise.
   *  - compromise from f: unless its key is one listed already, every key
   *    listed ends at f (never before its start) and is compromised, the
   *    pending rotation is dropped, the new key is valid from f; with a
   *    witness key, likewise by the record's second.
   * Listed newest first: open ranges first, then by end, then by start.
   */
  private recompute(origin: string): void {
    const m = this.members.get(origin)
    const f = this.keyFacts.get(origin)
    if (!m || !f?.base) return
    const keys: LogKey[] = [{ publicKey: f.base.logKey, vkey: verifierKey(origin, f.base.logKey), from: 0 }]
    const wkeys: WitnessKey[] = [{ vkey: f.base.witnessVkey, from: 0 }]
    let pending: PendingRotation | undefined
    const endWitnessKeys = (t: number) => {
      for (const w of wkeys) if (w.until === undefined || w.until > t + 1) w.until = Math.max(w.from, t + 1)
    }
    type Step = { at: number; c?: CompromiseFact; r?: RotationFact }
    const steps: Step[] = [
      ...[...f.compromises.values()].map((c) => ({ at: c.from, c })),
      ...[...f.rotations.values()].map((r) => ({ at: r.r, r })),
    ]
    steps.sort((a, b) => a.at - b.at || (a.c ? 0 : 1) - (b.c ? 0 : 1)
      || (a.c && b.c ? a.c.time - b.c.time : 0)
      || ((a.c ?? a.r)!.id < (b.c ?? b.r)!.id ? -1 : (a.c ?? a.r)!.id > (b.c ?? b.r)!.id ? 1 : 0))
    for (const { c, r } of steps) {
      if (c) {
        if (keys.some((k) => sameKey(k.publicKey, c.key))) continue // a key it held before is no way out
        for (const k of keys) {
          if (k.until === undefined || k.until > c.from) k.until = Math.max(k.from, c.from)
          k.compromised = true
        }
        pending = undefined
        keys.push({ publicKey: c.key, vkey: verifierKey(origin, c.key), from: c.from })
        if (c.witnessKey) {
          const t = seconds(c.time)
          endWitnessKeys(t)
          wkeys.push({ vkey: witnessVerifierKey(origin, c.witnessKey), from: t + 1 })
        }
        continue
      }
      const rot = r!
      const signedBy = keyAt(keys, rot.r)
      if (!signedBy || (rot.signer && !sameKey(signedBy.publicKey, rot.signer))) {
        if (rot.key && !keys.some((k) => sameKey(k.publicKey, rot.key!))) {
          keys.push({ publicKey: rot.key, vkey: verifierKey(origin, rot.key), from: rot.r + 1, until: rot.r + 1, compromised: true })
        }
        continue
      }
      const applied = this.proposals.get(rot.id)?.applied === true
      if (rot.key) {
        signedBy.until = rot.r + 1
        if (applied) keys.push({ publicKey: rot.key, vkey: verifierKey(origin, rot.key), from: rot.r + 1 })
        else pending = { id: rot.id, from: rot.r + 1 }
      }
      if (rot.witnessKey) {
        const t = seconds(rot.time)
        endWitnessKeys(t)
        if (applied) wkeys.push({ vkey: witnessVerifierKey(origin, rot.witnessKey), from: t + 1 })
      }
    }
    keys.reverse().sort(byRangeDesc)
    wkeys.reverse().sort(byRangeDesc)
    m.logKeys = keys
    m.witnessKeys = wkeys
    m.vkey = keys[0]!.vkey!
    m.logKey = keys[0]!.publicKey
    m.witnessVkey = wkeys[0]!.vkey
    if (pending) m.pending = pending
    else delete m.pending
  }

  private maybeApply(id: string, p: Proposal): boolean {
    if (p.applied) return false
    const votes = [...p.confirmations].filter((o) => this.members.get(o)?.active).length
    if (votes < this.threshold) return false
    p.applied = true
    this.apply(id, p)
    return true
  }

  private apply(id: string, p: Proposal): void {
    const r = p.record
    const origin = 'member' in r ? `${this.federation}/${r.member}` : ''
    switch (r.change) {
      case 'add_member': {
        if (r.origin !== origin) return // a proposal naming a foreign origin never applies
        const existing = this.members.get(origin)
        if (existing) {
          // Known already (perhaps removed): its keys change only by rotate_key or compromise.
          existing.peerId = r.peer_id
          existing.roles = new Set(r.roles)
          existing.active = true
          return this.emit(existing, 'add_member', id)
        }
        const vkey = verifierKey(origin, r.key)
        const witnessVkey = witnessVerifierKey(origin, r.witness_key)
        const m: Member = {
          name: r.member, origin, vkey, witnessVkey, logKey: r.key,
          logKeys: [{ publicKey: r.key, vkey, from: 0 }], witnessKeys: [{ vkey: witnessVkey, from: 0 }],
          peerId: r.peer_id, roles: new Set(r.roles), addrs: [], active: true,
        }
        this.members.set(origin, m)
        this.factsOf(origin).base = { logKey: r.key, witnessVkey }
        this.recompute(origin) // a compromise of it may have applied before it was added
        return this.emit(m, 'add_member', id)
      }
      case 'remove_member': {
        const m = this.members.get(origin)
        if (!m) return
        m.active = false
        return this.emit(m, 'remove_member', id)
      }
      case 'rotate_key': {
        const m = this.members.get(origin)
        if (!m) return
        if (this.isSelfRotation(p.origin, r)) this.recompute(origin) // applied: its new keys count (if the rotation does)
        if (r.peer_id) m.peerId = r.peer_id
        return this.emit(m, 'rotate_key', id)
      }
      case 'compromise':
        return this.applyCompromise(id, p.origin, origin, r)
      case 'resolve_fork':
        return this.applyResolution(id, p.origin, origin, r)
      case 'set_roles': {
        const m = this.members.get(origin)
        if (!m) return
        m.roles = new Set(r.roles)
        return this.emit(m, 'set_roles', id)
      }
      case 'set_threshold': {
        const n = this.active().length
        this.threshold = Math.min(r.threshold, Math.max(n, 1))
        const any = this.active()[0]
        if (any) this.emit(any, 'set_threshold', id)
      }
    }
  }

  /** Every key of the member stops at `from` and is marked compromised; the new key signs from `from` (recompute). */
  private applyCompromise(id: string, writer: string, origin: string, r: RosterRecord & CompromiseChange): void {
    if (writer === origin) return // a member cannot vouch for its own compromised key
    const fact: CompromiseFact = { id, from: r.from, time: r.time, key: r.key }
    if (r.witness_key) fact.witnessKey = r.witness_key
    this.factsOf(origin).compromises.set(id, fact)
    const m = this.members.get(origin)
    if (!m) return
    this.recompute(origin)
    this.emit(m, 'compromise', id)
  }

  /**
   * A fork resolution (§10.10), written by another member: the standing
   * checkpoint must open under the member's log key valid at its last entry
   * (as the keys are when the change applies) and `key` must be new to the
   * member, else it never applies. Then it acts on the key ranges exactly as
   * a compromise from N (every key ends at N, compromised; `key` from N),
   * and the log's resolutions gain it.
   */
  private applyResolution(id: string, writer: string, origin: string, r: RosterRecord & ResolveForkChange): void {
    if (writer === origin) return // a member cannot settle its own fork
    const m = this.members.get(origin)
    if (!m) return
    if (m.logKeys.some((k) => sameKey(k.publicKey, r.key))) return // the owner must rotate: a key it held before is no way out
    let cp
    try {
      cp = parseStandingCheckpoint(r.checkpoint, origin)
      checkStandingCheckpoint(cp, m.logKeys)
    } catch {
      return
    }
    const { size, root } = cp.checkpoint
    const fact: CompromiseFact = { id, from: size, time: r.time, key: r.key }
    if (r.witness_key) fact.witnessKey = r.witness_key
    this.factsOf(origin).compromises.set(id, fact)
    const list = this.forkResolutions.get(origin) ?? []
    list.push({ id, size, root, checkpoint: r.checkpoint })
    this.forkResolutions.set(origin, list)
    this.recompute(origin)
    this.emit(m, 'resolve_fork', id)
  }

  /**
   * What a node checks before it writes a resolve_fork proposal (its
   * operator gets a clear error instead of a proposal that never applies):
   * the member is known (UNKNOWN_LOG), the writer is another member
   * (BAD_ROSTER_CHANGE), the key is new to the member (BAD_ROSTER_CHANGE),
   * the standing checkpoint opens under the member's log key valid at its
   * last entry (UNKNOWN_KEY, BAD_SIGNATURE).
   */
  checkResolution(writer: string, r: ResolveForkChange): void {
    const origin = `${this.federation}/${r.member}`
    const m = this.members.get(origin)
    if (!m) throw new LedgerError('UNKNOWN_LOG', `resolve_fork: ${r.member} is not a member of federation ${this.federation}`)
    if (writer === origin) throw new LedgerError('BAD_ROSTER_CHANGE', `resolve_fork: ${origin} cannot resolve its own fork; another member proposes the resolution and the others confirm it`)
    if (m.logKeys.some((k) => sameKey(k.publicKey, r.key))) throw new LedgerError('BAD_ROSTER_CHANGE', `resolve_fork: ${r.member} held that log key before; the owner must rotate (cairn roster new-key --dir <its node>)`)
    const cp = parseStandingCheckpoint(r.checkpoint, origin)
    try {
      checkStandingCheckpoint(cp, m.logKeys)
    } catch (e) {
      const code = e instanceof LedgerError ? e.code : 'BAD_SIGNATURE'
      throw new LedgerError(code, `resolve_fork: the standing checkpoint (size ${cp.checkpoint.size}) is not signed by ${origin}'s log key valid at index ${cp.checkpoint.size - 1}: ${(e as Error).message}`)
    }
  }

  /** The fork resolutions of `origin`'s log that applied, in the order they applied. */
  resolutions(origin: string): ForkResolution[] {
    return [...(this.forkResolutions.get(origin) ?? [])]
  }

  /**
   * Verifies an equivocation proof about `origin` under any of its log keys
   * and says whether it freezes the log (false: it lies within a resolved
   * fork, §10.10). Throws UNKNOWN_LOG, or what proof verification throws.
   */
  equivocationFreezes(origin: string, proof: string | Uint8Array): boolean {
    return equivocationFreezes(proof, this.known(origin).logKeys, origin, this.forkResolutions.get(origin) ?? [])
  }

  private emit(m: Member, change: string, id: string): void {
    if (this.muted) return
    for (const fn of this.listeners) fn(m, change, id)
  }
}

/** True when a witness key may have made a cosignature dated `timestamp` (seconds). */
export function witnessKeyValidAt(key: WitnessKey, timestamp: number): boolean {
  return timestamp >= key.from && (key.until === undefined || timestamp < key.until)
}

/**
 * The members that validly cosigned a checkpoint note: a line counts when it
 * verifies under one of the member's witness keys valid at the line's
 * timestamp; each member counts once. A line that fails under a known key is
 * BAD_COSIGNATURE (verifyCosignatures); fewer than `quorum` members, too.
 */
export function cosigners(note: string | ParsedNote, cosignerKeys: readonly { origin: string; keys: readonly WitnessKey[] }[], quorum = 0): Set<string> {
  const byVkey = new Map<string, { origin: string; key: WitnessKey }>()
  for (const c of cosignerKeys) for (const key of c.keys) byVkey.set(key.vkey, { origin: c.origin, key })
  const valid = verifyCosignatures(note, [...byVkey.keys()])
  const out = new Set<string>()
  for (const c of valid) {
    const k = byVkey.get(c.vkey)
    if (k && witnessKeyValidAt(k.key, c.timestamp)) out.add(k.origin)
  }
  if (out.size < quorum) {
    throw new LedgerError('BAD_COSIGNATURE', `checkpoint has cosignatures from ${out.size} of the required ${quorum} witnesses (${[...out].join(', ') || 'none'})`)
  }
  return out
}

/** The witness key of `keys` valid at `timestamp`, if any. */
export function witnessKeyAt(keys: readonly WitnessKey[], timestamp: number): WitnessKey | undefined {
  return keys.find((k) => witnessKeyValidAt(k, timestamp))
}

export { validAt }
