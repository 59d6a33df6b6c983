/**
 * The node's own log: records submitted through the API are queued,
 * integrated in batches (at most `maxRecords` or every `maxMs`), signed, and
 * appended with one signed checkpoint per batch, durably, before anyone is
 * told. A record that fails validation is rejected on its own; it takes no
 * sequence number and the rest of the batch goes on.
 */
import { decodeEntry } from '../protocol/entry.ts'
import { toHex } from '../protocol/bytes.ts'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import { LedgerError } from '../protocol/errors.ts'
import { encodeRecord, validateRecord, decodeRecord, type CairnRecord } from '../protocol/records.ts'
import type { Store, AppendItem } from './storage/store.ts'
import type { Roster } from './roster.ts'
import { checkRecordSemantics, type BatchContext } from './ingest.ts'
import type { SignInput, SignOutput } from './crypto-jobs.ts'

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
  /** Signs canonical record bytes into entries (in worker threads). */
  sign: (input: SignInput) => Promise<SignOutput>
  /** Called after each batch is durable, with the new signed checkpoint. */
  onCheckpoint: (note: string) => void
  /** Called for every stored record (the roster watches these). */
  onRecord: (id: Uint8Array, record: CairnRecord) => void
  /** Largest number of records waiting; beyond it submissions are refused (back-pressure). */
  maxQueue?: number
}

/** Batches signed and waiting for the store; more than this and preparing waits. */
const MAX_APPENDS_IN_FLIGHT = 2

export class Publisher {
  private queue: Pending[] = []
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined
  private stopped = false
  /** Sequence number of the next record, counting batches signed but not yet stored. */
  private nextSeq: number | undefined
  /** Record times never go backwards within the log (feeds and TAXII rely on it). */
  private lastTime = 0
  private appending: Promise<void> = Promise.resolve()
  private appendsInFlight = 0
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

  private reject(p: Pending, e: unknown) {
    const code = e instanceof LedgerError ? e.code : 'BAD_REQUEST'
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
    p.reject(e)
  }

  private async lastRecordTime(): Promise<number> {
    const size = this.o.store.size(this.o.origin)
    if (size === 0 || (await this.o.store.isRedacted(this.o.origin, size - 1))) return 0
    return decodeRecord(decodeEntry(await this.o.store.entry(this.o.origin, size - 1)).recordBytes).time
  }

  /**
   * Validates and signs one batch, then queues its append behind the previous
   * one: the next batch is signed while this one is written.
   */
  private async flush(): Promise<void> {
    if (this.appendsInFlight >= MAX_APPENDS_IN_FLIGHT) await this.appending
    const batch = this.queue.splice(0, this.o.maxRecords)
    if (batch.length === 0) return
    const { store, origin, roster } = this.o
    if (this.nextSeq === undefined) {
      await this.appending
      this.nextSeq = store.size(origin)
      this.lastTime = Math.max(this.lastTime, await this.lastRecordTime())
    }
    const start = this.nextSeq
    const time = (this.lastTime = Math.max(this.o.now(), this.lastTime))
    const records: CairnRecord[] = []
    const recordBytes: Uint8Array[] = []
    const accepted: Pending[] = []
    const none: BatchContext = new Map() // a record can only name records already stored: ids exist once signed
    for (const p of batch) {
      try {
        const record = validateRecord({ ...p.body, v: 1, log: origin, seq: start + records.length, time })
        const bytes = encodeRecord(record)
        if (record.type === 'revocation') await checkRecordSemantics(store, roster, origin, record, none)
        else roster.checkWriter(origin, record.type)
        records.push(record)
        recordBytes.push(bytes)
        accepted.push(p)
      } catch (e) {
        this.reject(p, e)
      }
    }
    if (records.length === 0) return
    let signed: SignOutput
    try {
      signed = await this.o.sign({ seed: this.o.logSeed, records: recordBytes })
    } catch (e) {
      for (const p of accepted) this.reject(p, e)
      return
    }
    const items: AppendItem[] = records.map((record, i) => ({ entry: signed.entries[i]!, id: signed.ids.subarray(32 * i, 32 * i + 32), record }))
    this.nextSeq = start + items.length
    this.appendsInFlight++
    this.appending = this.appending.then(async () => {
      try {
        const r = await store.append(origin, start, items, {
          durable: true,
          checkpoint: (size, root) => signCheckpoint({ origin, size, root }, { name: origin, seed: this.o.logSeed }),
        })
        this.stats.batches++
        this.stats.accepted += items.length
        items.forEach((it, i) => {
          this.o.onRecord(it.id, it.record)
          accepted[i]!.resolve({ id: toHex(it.id), seq: start + i, log: origin })
        })
        if (r.checkpoint) this.o.onCheckpoint(r.checkpoint)
      } catch (e) {
        // Later batches were numbered after this one: start again from what is stored.
        this.nextSeq = undefined
        for (const p of accepted) this.reject(p, e)
      } finally {
        this.appendsInFlight--
      }
    })
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
    await this.appending
  }
}
