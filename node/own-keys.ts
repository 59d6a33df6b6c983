/**
 * This node's own keys over time: keys.json holds every log and witness key
 * the node was given (the first ones and each rotation's), and the roster
 * says which one is valid at each index of its log and at each cosignature
 * time (spec/federation.md §10.7-10.8). So after a rotation or a compromise
 * applies, the node signs with the new key without anyone editing a file.
 *
 * When a change of its own keys applies, the node writes:
 *  - a confirmation of the proposal, the first entry under the new key (so a
 *    checkpoint under the new key follows at once, and the log says when the
 *    owner took the change up);
 *  - after a compromise, a `key_compromise` revocation of every indicator of
 *    its log that only the compromised key signed, still current (so
 *    providers' copies drop what the attacker published).
 */
import { toHex, fromHex } from '../protocol/bytes.ts'
import { generateKeyPair } from '../protocol/ed25519.ts'
import { LedgerError } from '../protocol/errors.ts'
import { openEntryWithKeys } from '../protocol/log-keys.ts'
import { witnessKeyAt } from '../protocol/roster.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import type { CairnRecord } from '../protocol/records.ts'
import type { Roster } from './roster.ts'
import type { NodeKeys } from './config.ts'
import type { Store } from './storage/store.ts'
import type { RecordBody, Published } from './publisher.ts'

export class OwnKeys {
  private readonly logSeeds = new Map<string, Uint8Array>()
  private readonly witnessSeeds = new Map<string, Uint8Array>()

  /** `reload` re-reads keys.json: `cairn roster rotate-key` adds keys while the node runs. */
  constructor(private readonly roster: Roster, private readonly origin: string, keys: Pick<NodeKeys, 'logSeeds' | 'witnessSeeds'>, private readonly reload?: () => Pick<NodeKeys, 'logSeeds' | 'witnessSeeds'>) {
    this.add(keys)
  }

  private add(keys: Pick<NodeKeys, 'logSeeds' | 'witnessSeeds'>): void {
    for (const seed of keys.logSeeds) this.logSeeds.set(toHex(generateKeyPair(seed).publicKey), seed)
    for (const seed of keys.witnessSeeds) this.witnessSeeds.set(toHex(generateKeyPair(seed).publicKey), seed)
  }

  private seed(map: Map<string, Uint8Array>, publicKey: Uint8Array): Uint8Array | undefined {
    const hex = toHex(publicKey)
    if (!map.has(hex) && this.reload) {
      try {
        this.add(this.reload())
      } catch {
        // keys.json unreadable now: the caller reports the missing key
      }
    }
    return map.get(hex)
  }

  /** The seed that signs entry `index` of this node's log (and a checkpoint whose last entry it is). */
  logSeedAt(index: number): Uint8Array {
    const key = this.roster.logKeyAt(this.origin, index)
    if (!key) {
      const pending = this.roster.member(this.origin)?.pending
      const votes = pending ? this.roster.confirmationsOf(pending.id) : undefined
      throw new LedgerError('CONFLICT', pending
        ? `${this.origin} rotates its log key: it signs again once the federation confirms proposal ${pending.id} (${votes} of ${this.roster.threshold} confirmations); resubmit then`
        : `no log key of ${this.origin} is valid at index ${index}`)
    }
    const seed = this.seed(this.logSeeds, key.publicKey)
    if (!seed) throw new LedgerError('BAD_CONFIG', `the roster's log key for ${this.origin} at index ${index} (${key.vkey}) is not in keys.json`)
    return seed
  }

  /** The newest log key this node holds that the roster lists (redaction notices are signed with it). */
  currentLogSeed(): Uint8Array {
    for (const k of this.roster.member(this.origin)?.logKeys ?? []) {
      const seed = this.logSeeds.get(toHex(k.publicKey))
      if (seed && !k.compromised) return seed
    }
    return this.logSeeds.values().next().value!
  }

  /** The witness seed valid at `seconds`, or undefined (a witness-key rotation waits for its quorum). */
  witnessSeedAt(seconds: number): Uint8Array | undefined {
    const m = this.roster.member(this.origin)
    if (!m) return this.witnessSeeds.values().next().value
    const key = witnessKeyAt(m.witnessKeys, seconds)
    return key && this.seed(this.witnessSeeds, parseVerifierKey(key.vkey).publicKey)
  }

  /** A batch ends after this node's own key rotation: the entries after it need the new key. */
  endsBatch(record: CairnRecord): boolean {
    return record.type === 'roster' && record.change === 'rotate_key' && `${this.roster.federation}/${record.member}` === this.origin && record.key !== undefined
  }

  /**
   * At start-up, after the roster changes stored were replayed: the key that
   * signs the log's next entry must be in keys.json (BAD_CONFIG otherwise);
   * a rotation still waiting for its quorum needs its new key there too.
   */
  checkAtStart(nextIndex: number, peerId: string): void {
    const m = this.roster.member(this.origin)
    if (!m) return
    if (m.peerId !== peerId) throw new LedgerError('BAD_CONFIG', `the roster lists peer id ${m.peerId} for ${this.origin}, but keys.json gives ${peerId}`)
    const key = this.roster.logKeyAt(this.origin, nextIndex)
    if (key && !this.seed(this.logSeeds, key.publicKey)) {
      throw new LedgerError('BAD_CONFIG', `the roster's log key for ${this.origin} (${key.vkey}) is not in keys.json; it holds ${[...this.logSeeds.keys()].length} log key(s)`)
    }
    if (!key && m.pending && !this.seed(this.logSeeds, m.logKey)) {
      throw new LedgerError('BAD_CONFIG', `${this.origin} proposed a new log key that is not in keys.json`)
    }
  }
}

type TakeUp = { store: Store; roster: Roster; origin: string; submit: (body: RecordBody) => Promise<Published>; log: (msg: string) => void }

/**
 * Takes up every change of this node's own keys as it applies
 * (takeUpOwnKeyChange), one at a time; at start-up, also the last one if it
 * applied while the node was down (its log has no entry under the new key yet).
 */
export function watchOwnKeyChanges(o: TakeUp): void {
  let chain = Promise.resolve()
  const takeUp = (change: string, id: string) => {
    chain = chain.then(() => takeUpOwnKeyChange(o, change, id)).catch((e) => o.log(`taking up the key change ${id} failed: ${(e as Error).message}`))
  }
  o.roster.onChange((m, change, id) => {
    if (m.origin === o.origin && (change === 'rotate_key' || change === 'compromise')) takeUp(change, id)
  })
  const missed = missedKeyChange(o)
  if (missed) void missed.then((m) => m && takeUp(m.change, m.id))
}

/** The last applied change of this node's log key, if no entry of its log is signed with the new key yet. */
async function missedKeyChange(o: TakeUp): Promise<{ change: string; id: string } | undefined> {
  const name = o.origin.slice(o.origin.indexOf('/') + 1)
  const last = o.roster.proposalStatus().filter((p) => p.applied && p.member === name && (p.change === 'rotate_key' || p.change === 'compromise')).at(-1)
  const newest = o.roster.member(o.origin)?.logKeys[0]
  if (!last || !newest || newest.from === 0) return undefined
  const size = o.store.size(o.origin)
  if (size > newest.from && !(await o.store.isRedacted(o.origin, size - 1))) {
    const opened = openEntryWithKeys(await o.store.entry(o.origin, size - 1), o.roster.logKeys(o.origin), o.origin, size - 1)
    if (!opened.compromised) return undefined
  }
  return { change: last.change, id: last.id }
}

/**
 * What the node writes when a change of its own keys applies (see the
 * header). `proposalId` is the change's record id. Safe to call again: a
 * revocation is only written for an indicator still current.
 */
export async function takeUpOwnKeyChange(
  o: TakeUp,
  change: string,
  proposalId: string,
): Promise<void> {
  const { store, roster, origin, submit } = o
  if (change !== 'rotate_key' && change !== 'compromise') return
  if (change === 'compromise') {
    const keys = roster.logKeys(origin)
    const from = Math.min(...keys.filter((k) => k.compromised).map((k) => k.until ?? Infinity))
    const size = store.size(origin)
    let revoked = 0
    for (let i = from; i < size; i++) {
      if (await store.isRedacted(origin, i)) continue
      const entry = await store.entry(origin, i)
      const opened = openEntryWithKeys(entry, keys, origin, i)
      if (!opened.compromised || opened.record.type !== 'indicator' || !(await store.inCurrentSet(opened.id))) continue
      await submit({ type: 'revocation', target: opened.id, reason: 'key_compromise' })
      revoked++
    }
    if (revoked) o.log(`revoked ${revoked} indicator(s) that only the compromised key signed (entries ${from}..${size - 1})`)
  }
  await submit({ type: 'attestation', target: fromHex(proposalId), opinion: 'confirm' })
  o.log(`took up the new key of ${origin} (proposal ${proposalId})`)
}
