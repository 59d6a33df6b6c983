/**
 * The node's own log: records submitted through the API are queued,
 * integrated in batches (at most `maxRecords` or every `maxMs`), signed, and
 * appended with one signed checkpoint per batch, durably, before anyone is
 * told. A record that fails validation is rejected on its own; it takes no
 * sequence number and the rest of the batch goes on.
 */
import { signEntry } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { toHex } from '../protocol/bytes.ts'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import { LedgerError } from '../protocol/errors.ts'
import type { CairnRecord } from '../protocol/records.ts'
import type { Store, AppendItem } from './storage/store.ts'
import type { Roster } from './roster.ts'
import { checkRecordSemantics, type BatchContext } from './ingest.ts'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
/** A record as a client submits it: the node fills in v, log, seq and time. */
export type RecordBody = DistributiveOmit<CairnRecord, 'v' | 'log' | 'seq' | 'time'>

export interface Published {
  id: string
  seq: number
  log: string
}

interface Pending {
  body: RecordBody
  resolve: (p: Published) => void
  reject: (e: unknown) => void
}

export interface PublisherOptions {
  store: Store
  roster: Roster
  origin: string
  logSeed: Uint8Array
  maxRecords: number
  maxMs: number
  now: () => number
  /** Called after each batch is durable, with the new signed checkpoint. */
  onCheckpoint: (note: string) => void
  /** Called for every stored record (the roster watches these). */
  onRecord: (id: Uint8Array, record: CairnRecord) => void
  /** Largest number of records waiting; beyond it submissions are refused (back-pressure). */
  maxQueue?: number
}

export class Publisher {
  private queue: Pending[] = []
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined
  private stopped = false
  readonly stats = { accepted: 0, rejected: {} as Record<string, number>, batches: 0 }

  constructor(private readonly o: PublisherOptions) {}

  submit(body: RecordBody): Promise<Published> {
    if (this.stopped) return Promise.reject(new LedgerError('CONFLICT', 'the node is shutting down'))
    if (this.queue.length >= (this.o.maxQueue ?? 1_000_000)) {
      return Promise.reject(new LedgerError('CONFLICT', 'the publishing queue is full; retry shortly'))
    }
    return new Promise<Published>((resolve, reject) => {
      this.queue.push({ body, resolve, reject })
      if (this.queue.length >= this.o.maxRecords) this.kick(0)
      else this.kick(this.o.maxMs)
    })
  }

  private kick(delay: number) {
    if (this.flushing) return
    if (this.timer && delay > 0) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined
        if (this.queue.length > 0) this.kick(this.queue.length >= this.o.maxRecords ? 0 : this.o.maxMs)
      })
    }, delay)
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.o.maxRecords)
    if (batch.length === 0) return
    const { store, origin, roster } = this.o
    const start = store.size(origin)
    const time = this.o.now()
    const items: AppendItem[] = []
    const accepted: Pending[] = []
    const earlier: BatchContext = new Map()
    for (const p of batch) {
      try {
        const record = { ...p.body, v: 1, log: origin, seq: start + items.length, time } as CairnRecord
        const entry = signEntry(this.o.logSeed, record)
        await checkRecordSemantics(store, roster, origin, record, earlier)
        const id = leafHash(entry)
        earlier.set(toHex(id), record.type)
        items.push({ entry, id, record })
        accepted.push(p)
      } catch (e) {
        const code = e instanceof LedgerError ? e.code : 'BAD_REQUEST'
        this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
        p.reject(e)
      }
    }
    if (items.length === 0) return
    let note: string | undefined
    try {
      const r = await store.append(origin, start, items, {
        durable: true,
        checkpoint: (size, root) => signCheckpoint({ origin, size, root }, { name: origin, seed: this.o.logSeed }),
      })
      note = r.checkpoint
    } catch (e) {
      for (const p of accepted) p.reject(e)
      return
    }
    this.stats.batches++
    this.stats.accepted += items.length
    items.forEach((it, i) => {
      this.o.onRecord(it.id, it.record)
      accepted[i]!.resolve({ id: toHex(it.id), seq: start + i, log: origin })
    })
    if (note) this.o.onCheckpoint(note)
  }

  /** Integrates what is queued, then refuses new submissions. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    while (this.flushing || this.queue.length > 0) {
      if (this.flushing) await this.flushing
      else {
        this.flushing = this.flush()
        await this.flushing
        this.flushing = undefined
      }
    }
  }
}
