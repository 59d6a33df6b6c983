/**
 * A client's view of the roster, followed from the logs (spec/federation.md
 * §10.9): start from the genesis file, feed it every roster record and every
 * confirmation read from any log, each checked under its log's key valid at
 * its index, and read each log's keys as the roster defines them at each
 * index. The rules are protocol/roster.ts, the ones nodes apply.
 *
 * What is kept between runs (a provider's copy keeps it in state.json) is
 * the entries that matter to the roster: roster proposals, and
 * confirmations whose target is a proposal or not known yet (a confirmation
 * may be read before its proposal); at most MAX_EARLY of the latter.
 */
import { fromHex, toHex } from '../protocol/bytes.ts'
import { leafHash } from '../protocol/hash.ts'
import { openEntryWithKeys, type OpenedEntryWithKeys } from '../protocol/log-keys.ts'
import { Roster } from '../protocol/roster.ts'
import { readStoredRecord } from '../protocol/stored-record.ts'
import type { Genesis } from '../protocol/genesis.ts'
import type { CairnRecord } from '../protocol/records.ts'

/** One saved entry: its log and the entry bytes (hex). */
export type SavedRosterEntry = [origin: string, entry: string]

const MAX_EARLY = 10_000

export class FollowedRoster {
  readonly roster: Roster
  private readonly saved: SavedRosterEntry[] = []
  private readonly seen = new Set<string>()
  private early = 0

  constructor(genesis: Genesis, saved: readonly SavedRosterEntry[] = []) {
    this.roster = new Roster(genesis)
    // Saved entries were checked when saved; a confirmation saved before its proposal is replayed as an early vote.
    for (const [origin, hex] of saved) this.feed(origin, fromHex(hex), undefined)
  }

  /** What to save: every entry fed that matters to the roster. */
  entries(): SavedRosterEntry[] {
    return [...this.saved]
  }

  /** True when `record` may change the roster (a proposal or a confirmation). */
  static matters(record: Pick<CairnRecord, 'type'> & { opinion?: string }): boolean {
    return record.type === 'roster' || (record.type === 'attestation' && record.opinion === 'confirm')
  }

  /**
   * Checks entry `index` of `origin`'s log under the key the roster gives
   * that index, and feeds it to the roster with the key that signed it.
   * Throws what openEntryWithKeys throws (BAD_SIGNATURE when no key is valid
   * there yet: a rotation whose quorum this client has not read). Returns
   * true when a change applied.
   */
  observe(origin: string, index: number, entry: Uint8Array): boolean {
    const opened = openEntryWithKeys(entry, this.roster.logKeys(origin), origin, index)
    if (opened.compromised && !this.isOwnRotation(origin, opened.record)) return false // only what a valid key signed speaks for the member
    return this.feed(origin, entry, opened)
  }

  /**
   * A member's own rotate_key is fed even as compromised content: it speaks
   * for nothing, but the roster lists its key (as compromised) so that what
   * that key signed is compromised content here as on a node that read the
   * rotation before the compromise (protocol/roster.ts recompute).
   */
  private isOwnRotation(origin: string, record: CairnRecord): boolean {
    return record.type === 'roster' && record.change === 'rotate_key' && origin === `${this.roster.federation}/${record.member}`
  }

  private feed(origin: string, entry: Uint8Array, checked: OpenedEntryWithKeys | undefined): boolean {
    const id = leafHash(entry)
    const idHex = toHex(id)
    if (this.seen.has(idHex)) return false
    const opened = checked ?? openEntryWithKeys(entry, this.roster.logKeys(origin), origin, readStoredRecord(entry).seq)
    const record = opened.record
    if (!FollowedRoster.matters(record)) return false
    if (record.type === 'attestation') {
      const known = this.roster.confirmationsOf(toHex(record.target)) !== undefined
      if (!known && this.early >= MAX_EARLY) return false
      if (!known) this.early++
    }
    this.seen.add(idHex)
    this.saved.push([origin, toHex(entry)])
    return this.roster.observe(origin, id, record, opened.signer)
  }
}
