/**
 * Dashboard aggregates that the store's counters do not keep: log growth over
 * time, additions by kind and media, disputes by the centre disputed and the
 * reason. Computed incrementally: each log's entries are decoded once, from
 * where the previous run stopped, and the result is kept in the store's
 * metadata so a restart does not rescan. A page load never waits for more than
 * a short budget; a first scan of a big log goes on in the background and the
 * dashboard shows how far it got.
 *
 * Growth is kept as a sample of (time, entries) points: one point every
 * `step` entries, the step doubling whenever there are more than
 * MAX_POINTS, so the curve stays the same size for ten entries or ten million.
 */
import { fromUtf8, utf8 } from '../../protocol/bytes.ts'
import type { CairnRecord } from '../../protocol/records.ts'
import type { Store, StoreReader } from '../storage/store.ts'
import { bump, logRecords, recordById } from './scan.ts'

const MAX_POINTS = 512
/** Entries decoded between two yields to the event loop (~50 ms of work). */
const RUN_CHUNK = 1024
const FORMAT = 2

export interface LogAggregate {
  v: number
  /** Entries [0, indexed) are counted. */
  indexed: number
  byKind: Record<string, number>
  byMedia: Record<string, number>
  /** Dispute attestations written by this log: origin of the disputed indicator's log → reason → count. */
  disputes: Record<string, Record<string, number>>
  growth: { step: number; points: [time: number, entries: number][] }
  /** Time of the last entry counted (ms), null while none is. */
  lastTime: number | null
  /** Redaction markers among the entries counted. */
  redacted: number
}

function empty(): LogAggregate {
  return { v: FORMAT, indexed: 0, byKind: {}, byMedia: {}, disputes: {}, growth: { step: 1, points: [] }, lastTime: null, redacted: 0 }
}

const metaName = (origin: string) => `oversight/aggregate/${origin}`

/** What the aggregator reads, and the one write it makes: its own metadata. */
export type AggregateStore = Pick<StoreReader, 'listLogs' | 'counters' | 'getMeta' | 'entries' | 'entry' | 'locate'> & Pick<Store, 'putMeta'>

export class Aggregator {
  private readonly logs = new Map<string, LogAggregate>()
  private run: Promise<void> | undefined
  /** Logs to count again from the start (see forgetRedacted). */
  private readonly stale = new Set<string>()
  /** The store's redaction count each log was last counted again for: once per change, even if they still differ. */
  private readonly recountedFor = new Map<string, number>()
  private loaded: Promise<void> | undefined
  /** Why the last scan stopped early, if it did (it resumes on the next refresh). */
  lastError: string | undefined

  constructor(private readonly store: AggregateStore) {}

  /** Counts new entries; resolves when caught up or after `budgetMs`, whichever is first (the scan goes on). */
  async refresh(budgetMs = 1500): Promise<void> {
    this.loaded ??= this.load()
    await this.loaded
    if (!this.run) this.forgetRedacted()
    if (!this.run && this.behind() > 0) {
      this.run = this.catchUp().then(() => {
        this.lastError = undefined
      }, (e: unknown) => {
        this.lastError = e instanceof Error ? e.message : String(e)
      }).finally(() => {
        this.run = undefined
      })
    }
    if (!this.run) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.run, new Promise<void>((r) => (timer = setTimeout(r, budgetMs)))])
    clearTimeout(timer)
  }

  /** The aggregate of one log (empty when it has not been scanned yet). */
  get(origin: string): LogAggregate {
    return this.logs.get(origin) ?? empty()
  }

  progress(): { indexed: number; total: number } {
    const total = this.store.listLogs().reduce((n, l) => n + l.size, 0)
    return { indexed: total - this.behind(), total }
  }

  /**
   * An entry redacted after it was counted left its kind and media in the
   * aggregate; the store counts redactions, so a difference means: count that
   * log again (redactions are rare, on legal order). The old aggregate stays
   * visible until the new one is complete.
   */
  private forgetRedacted(): void {
    for (const l of this.store.listLogs()) {
      const a = this.logs.get(l.origin)
      if (!a || a.indexed !== l.size) continue
      const redacted = this.store.counters(l.origin).byType.redacted ?? 0
      if (redacted !== a.redacted && this.recountedFor.get(l.origin) !== redacted) {
        this.stale.add(l.origin)
        this.recountedFor.set(l.origin, redacted)
      }
    }
  }

  private behind(): number {
    return this.store.listLogs().reduce((n, l) => n + (this.stale.has(l.origin) ? l.size : Math.max(0, l.size - (this.logs.get(l.origin)?.indexed ?? 0))), 0)
  }

  private async load(): Promise<void> {
    for (const l of this.store.listLogs()) {
      const raw = await this.store.getMeta(metaName(l.origin))
      if (!raw) continue
      try {
        const a = JSON.parse(fromUtf8(raw)) as LogAggregate
        if (a.v === FORMAT && a.indexed <= l.size) this.logs.set(l.origin, a)
      } catch {
        // A damaged cache is rebuilt from the log.
      }
    }
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      this.forgetRedacted()
      if (this.behind() === 0) return
      for (const l of this.store.listLogs()) {
        const again = this.stale.has(l.origin)
        const a = again ? empty() : (this.logs.get(l.origin) ?? empty())
        if (!again) this.logs.set(l.origin, a)
        if (a.indexed >= l.size) continue
        while (a.indexed < l.size) {
          const end = Math.min(l.size, a.indexed + RUN_CHUNK)
          // Work on a copy: a published aggregate always covers a whole prefix of the log.
          const next = structuredClone(a)
          for await (const item of logRecords(this.store, l.origin, a.indexed, end, RUN_CHUNK)) {
            if (item.record) await this.count(next, item.index, item.record)
            else next.redacted++
          }
          next.indexed = end
          Object.assign(a, next)
          await new Promise((r) => setImmediate(r))
        }
        if (again) {
          this.logs.set(l.origin, a)
          this.stale.delete(l.origin)
        }
        await this.store.putMeta(metaName(l.origin), utf8(JSON.stringify(a)))
      }
    }
  }

  private async count(a: LogAggregate, index: number, record: CairnRecord): Promise<void> {
    let against: string | undefined
    if (record.type === 'attestation' && record.opinion === 'dispute') {
      against = (await recordById(this.store, record.target))?.origin ?? 'unknown'
    }
    countRecord(a, index, record, against)
  }
}

/** Adds one record (at `index`) to an aggregate; `against` is the log of a disputed indicator. */
export function countRecord(a: LogAggregate, index: number, record: CairnRecord, against?: string): void {
  if (record.type === 'indicator') {
    bump(a.byKind, record.kind)
    bump(a.byMedia, record.media)
  } else if (record.type === 'attestation' && record.opinion === 'dispute') {
    const by = (a.disputes[against ?? 'unknown'] ??= {})
    bump(by, record.reason ?? 'unspecified')
  }
  a.lastTime = record.time
  if (index % a.growth.step === 0) {
    a.growth.points.push([record.time, index + 1])
    if (a.growth.points.length > MAX_POINTS) {
      a.growth.step *= 2
      a.growth.points = a.growth.points.filter(([, n]) => (n - 1) % a.growth.step === 0)
    }
  }
}

const aggregators = new WeakMap<AggregateStore, Aggregator>()

/** The node's one aggregator (several nodes may share a process in tests). */
export function aggregatorFor(store: AggregateStore): Aggregator {
  let a = aggregators.get(store)
  if (!a) {
    a = new Aggregator(store)
    aggregators.set(store, a)
  }
  return a
}
