/**
 * Which centres confirmed and which disputed each indicator, as of given log
 * sizes: what the feed, the snapshot and STIX/TAXII show providers
 * (spec/api.md §A.5.6). Derived from the attestation records alone, so every
 * node serving the same checkpoints gives the same answer.
 *
 * Attestations are few beside indicators, so they are all held in memory:
 * at start from the store's reference table (node/storage/attestations.ts),
 * then by reading each log's new entries before an answer needs them
 * (`upTo`). An attestation counts as of sizes S when its index in its log is
 * below S[log]; a centre that attested more than once counts once, with its
 * latest word (the highest index in its log). Attestations about anything
 * but an indicator (roster votes) name no indicator line and show nowhere.
 */
import { toHex } from '../../protocol/bytes.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { readStoredRecord } from '../../protocol/stored-record.ts'
import type { Sizes } from '../../protocol/feed-cursor.ts'
import type { Store } from '../storage/store.ts'
import { storedAttestations } from '../storage/attestations.ts'

const CHUNK = 4096

export interface Attestation {
  /** The attesting log (centre), the attestation's index there, its time. */
  origin: string
  index: number
  time: number
  opinion: 'confirm' | 'dispute'
  /** The attestation's record id. */
  id: Uint8Array
  reason?: string
}

/** Origins whose latest word is confirm, resp. dispute, sorted bytewise. */
export interface Opinions {
  confirmations: string[]
  disputes: string[]
}

/** Timeline order (spec/api.md §A.6.3): time, then origin, then index. */
export function byTimeline(a: Attestation, b: Attestation): number {
  return a.time - b.time || (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.index - b.index)
}

/** The opinions a list of attestations gives (each centre's latest word). */
export function opinionsOf(atts: readonly Attestation[]): Opinions {
  const latest = new Map<string, Attestation>()
  for (const a of atts) {
    const had = latest.get(a.origin)
    if (!had || had.index < a.index) latest.set(a.origin, a)
  }
  const out: Opinions = { confirmations: [], disputes: [] }
  for (const [origin, a] of latest) (a.opinion === 'confirm' ? out.confirmations : out.disputes).push(origin)
  out.confirmations.sort()
  out.disputes.sort()
  return out
}

/** `,"confirmations":[…],"disputes":[…]` (each only when not empty): what a jsonl line or feed item gains. */
export function opinionFragment(o: Opinions | undefined): string {
  if (!o) return ''
  let s = ''
  if (o.confirmations.length > 0) s += `,"confirmations":${JSON.stringify(o.confirmations)}`
  if (o.disputes.length > 0) s += `,"disputes":${JSON.stringify(o.disputes)}`
  return s
}

export class OpinionIndex {
  /** Target id (hex) → its attestations. */
  private readonly byTarget = new Map<string, Attestation[]>()
  /** Target log → target index → target id (hex): where attested records lie. */
  private readonly targetsByLog = new Map<string, Map<number, string>>()
  /** Targets not located yet (attested before this node held them). */
  private readonly unlocated = new Set<string>()
  /** Entries of each log read for attestations. */
  private readonly scanned = new Map<string, number>()
  private chain: Promise<void>

  private constructor(private readonly store: Store) {
    this.chain = this.build()
    this.chain.catch(() => undefined)
  }

  /** Starts reading the stored attestations in the background. */
  static start(store: Store): OpinionIndex {
    return new OpinionIndex(store)
  }

  private async build(): Promise<void> {
    const sizes = new Map(this.store.listLogs().map((l) => [l.origin, this.store.size(l.origin)]))
    for await (const { target, id } of storedAttestations(this.store)) {
      const at = await this.store.locate(id)
      // Entries past the sizes taken first are read by upTo, in order.
      if (!at || at.index >= (sizes.get(at.origin) ?? 0)) continue
      try {
        const { entries } = await this.store.entriesWithIds(at.origin, at.index, at.index + 1)
        await this.add(at.origin, at.index, id, readStoredRecord(entries[0]!), target)
      } catch (e) {
        if (!(e instanceof LedgerError) || e.code !== 'STORAGE_CORRUPT') throw e
        sizes.set(at.origin, 0) // a damaged log is read again from the start once healed
      }
    }
    for (const [origin, size] of sizes) this.scanned.set(origin, size)
  }

  private async add(origin: string, index: number, id: Uint8Array, r: ReturnType<typeof readStoredRecord>, target = r.target): Promise<void> {
    if (r.type !== 'attestation' || !target || (r.opinion !== 'confirm' && r.opinion !== 'dispute')) return
    const key = toHex(target)
    let list = this.byTarget.get(key)
    if (!list) {
      this.byTarget.set(key, (list = []))
      const loc = await this.store.locate(target)
      if (loc) this.place(loc.origin, loc.index, key)
      else this.unlocated.add(key)
    }
    if (list.some((a) => a.origin === origin && a.index === index)) return
    const a: Attestation = { origin, index, time: r.time, opinion: r.opinion, id }
    if (r.reason) a.reason = r.reason
    list.push(a)
    list.sort(byTimeline)
  }

  private place(origin: string, index: number, key: string): void {
    let m = this.targetsByLog.get(origin)
    if (!m) this.targetsByLog.set(origin, (m = new Map()))
    m.set(index, key)
  }

  /** Reads every log's entries not read yet (at least up to `sizes`, where the store holds them). */
  upTo(): Promise<void> {
    const run = this.chain.then(() => this.catchUp())
    this.chain = run.catch(() => undefined)
    return run
  }

  private async catchUp(): Promise<void> {
    for (const l of this.store.listLogs()) {
      if (l.damaged) continue
      const size = this.store.size(l.origin)
      let from = this.scanned.get(l.origin) ?? 0
      if (size < from) {
        // The log was cut back (fork resolution): what lay past its new end is gone.
        for (const [key, list] of this.byTarget) this.byTarget.set(key, list.filter((a) => a.origin !== l.origin || a.index < size))
        from = size
      }
      for (; from < size; from = Math.min(size, from + CHUNK)) {
        let got
        try {
          got = await this.store.entriesWithIds(l.origin, from, Math.min(size, from + CHUNK))
        } catch (e) {
          if (!(e instanceof LedgerError) || e.code !== 'STORAGE_CORRUPT') throw e
          break
        }
        for (let i = 0; i < got.entries.length; i++) {
          const r = readStoredRecord(got.entries[i]!)
          if (r.type === 'attestation') await this.add(l.origin, from + i, got.ids[i]!, r)
        }
        this.scanned.set(l.origin, Math.min(size, from + CHUNK))
      }
      this.scanned.set(l.origin, Math.max(from, this.scanned.get(l.origin) ?? 0))
    }
    for (const key of [...this.unlocated]) {
      const loc = await this.store.locate(Buffer.from(key, 'hex'))
      if (!loc) continue
      this.place(loc.origin, loc.index, key)
      this.unlocated.delete(key)
    }
  }

  /** The attestations of `target` counted as of `sizes`, in timeline order. */
  attestations(target: string | Uint8Array, sizes: ReadonlyMap<string, number>): Attestation[] {
    const list = this.byTarget.get(typeof target === 'string' ? target : toHex(target))
    return list ? list.filter((a) => a.index < (sizes.get(a.origin) ?? 0)) : []
  }

  /** The opinions on `target` as of `sizes`; undefined when there are none. */
  opinions(target: string | Uint8Array, sizes: ReadonlyMap<string, number>): Opinions | undefined {
    const atts = this.attestations(target, sizes)
    if (atts.length === 0) return undefined
    const o = opinionsOf(atts)
    return o.confirmations.length + o.disputes.length > 0 ? o : undefined
  }

  /** Entries of `origin` below `size` that have opinions as of `sizes` (index → them), by index. */
  attestedEntries(origin: string, size: number, sizes: Sizes | ReadonlyMap<string, number>): Map<number, Opinions> {
    const out = new Map<number, Opinions>()
    const m = this.targetsByLog.get(origin)
    if (!m) return out
    for (const index of [...m.keys()].sort((a, b) => a - b)) {
      if (index >= size) continue
      const o = this.opinions(m.get(index)!, sizes)
      if (o) out.set(index, o)
    }
    return out
  }
}
