/**
 * The node's own log: records submitted through the API are queued,
 * integrated in batches (at most `maxRecords` records; batches start at
 * least `maxMs` apart unless full, so a record waits at most `maxMs` and a
 * record arriving at an idle log goes at once), signed, and appended with
 * one signed checkpoint per batch, durably, before anyone is told. A record
 * that fails validation is rejected on its own; it takes no sequence number
 * and the rest of the batch goes on.
 */
import { decodeEntry } from '../protocol/entry.ts'
import { toHex } from '../protocol/bytes.ts'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import { LedgerError } from '../protocol/errors.ts'
import { validateAndEncode, decodeCheckedRecord, type CairnRecord } from '../protocol/records.ts'
import type { Store, AppendItem } from './storage/store.ts'
import type { BatchOp } from './storage/kv.ts'
import { findInForceMany, valueKey } from './in-force.ts'
import type { Roster } from './roster.ts'
import { checkRecordSemantics, type BatchContext } from './replication/ingest.ts'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
/** A record as a client submits it: the node fills in v, log, seq and time. */
export type RecordBody = DistributiveOmit<CairnRecord, 'v' | 'log' | 'seq' | 'time'>

export interface Published {
  id: string
  seq: number
  log: string
}

/** How one submission is published. */
export interface SubmitOptions {
  /** Publish an indicator even when this log has the same alg+value in force (e.g. under another category). */
  allowDuplicate?: boolean
  /** Store rows written in the same atomic batch as the record (an Idempotency-Key's answer for it). */
  alsoWrite?: (p: Published) => BatchOp[]
}

interface Pending {
  body: RecordBody
  opts: SubmitOptions
  resolve: (p: Published) => void
  reject: (e: unknown) => void
}

/** A batch of canonical record bytes to sign with the log's seed. */
export interface SignBatch {
  seed: Uint8Array
  records: Uint8Array[]
}

/** Its entries, in order, and their leaf hashes (32 bytes each, concatenated). */
export interface SignedBatch {
  entries: Uint8Array[]
  ids: Uint8Array
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
  sign: (input: SignBatch) => Promise<SignedBatch>
  /** Called after each batch is durable, with the new signed checkpoint. */
  onCheckpoint: (note: string) => void
  /** Called for every stored record (the roster watches these). */
  onRecord: (id: Uint8Array, record: CairnRecord) => void
  /** Largest number of records waiting; beyond it submissions are refused (back-pressure). */
  maxQueue?: number
  /**
   * Holds signing back until the node knows it holds the whole of its own log
   * (replication/own-log.ts): records queue meanwhile, or are refused with
   * the gate's error. Absent: signs at once.
   */
  gate?: SigningGate
  /** The seed that signs entry `index` (after a key rotation: the roster's key at that index); default logSeed. Throws while none is valid. */
  seedAt?: (index: number) => Uint8Array
  /** True for a record after which the batch must end (a key rotation: the entries after it need the next key). */
  endsBatch?: (record: CairnRecord) => boolean
}

export interface SigningGate {
  readonly ready: boolean
  /** Throws the error a submission gets now, if any. */
  admit(): void
  /** Resolves when the node may sign; rejects with the error the queued records get. */
  whenReady(): Promise<void>
}

/** A gate open when every one of `gates` is (the own-log catch-up, a fork resolution of the own log). */
export function allGates(...gates: SigningGate[]): SigningGate {
  return {
    get ready() {
      return gates.every((g) => g.ready)
    },
    admit() {
      for (const g of gates) g.admit()
    },
    async whenReady() {
      while (!gates.every((g) => g.ready)) for (const g of gates) await g.whenReady()
    },
  }
}

/**
 * Batches validated and not yet stored (being signed, or waiting for the
 * store); more than this and validating the next batch waits. Three keep
 * the main thread validating batch n+2 while the workers sign n+1 and the
 * store writes n.
 */
const MAX_BATCHES_IN_FLIGHT = 3

export class Publisher {
  private queue: Pending[] = []
  private timer: NodeJS.Timeout | undefined
  private timerDue = 0
  private flushing: Promise<void> | undefined
  private stopped = false
  /** When the last batch was taken from the queue (performance.now()); the next starts maxMs later at the earliest, unless full. */
  private lastFlushAt = -Infinity
  /** Sequence number of the next record, counting batches signed but not yet stored. */
  private nextSeq: number | undefined
  /** Record times never go backwards within the log (feeds and TAXII rely on it). */
  private lastTime = 0
  /** The append of the newest batch; each batch's append waits for the one before. */
  private appending: Promise<void> = Promise.resolve()
  /** Appends of the batches in flight, oldest first. */
  private inFlight: Promise<void>[] = []
  readonly stats = { accepted: 0, rejected: {} as Record<string, number>, batches: 0 }

  constructor(private readonly o: PublisherOptions) {}

  /** Indicators validated and not yet stored, by alg+value: each is in force for the duplicate check. */
  private publishing = new Map<string, Promise<Published>>()

  /** The log was cut back (fork resolution): the next batch is numbered from the stored size again. */
  async restartNumbering(): Promise<void> {
    await this.appending
    this.nextSeq = undefined
  }

  submit(body: RecordBody, opts: SubmitOptions = {}): Promise<Published> {
    if (this.stopped) return Promise.reject(new LedgerError('CONFLICT', 'the node is shutting down'))
    try {
      this.o.gate?.admit()
    } catch (e) {
      this.countRejected(e)
      return Promise.reject(e)
    }
    if (this.queue.length >= (this.o.maxQueue ?? 1_000_000)) {
      return Promise.reject(new LedgerError('CONFLICT', 'the publishing queue is full; retry shortly'))
    }
    return new Promise<Published>((resolve, reject) => {
      this.queue.push({ body, opts, resolve, reject })
      this.kick(this.wait())
    })
  }

  /**
   * How long the queue waits before the next batch: nothing when it holds a
   * full batch, else until maxMs after the last batch began. A lone record
   * at an idle log is signed at once (its latency is what a publisher
   * sees); under load batches still come every maxMs, as large as before.
   */
  private wait(): number {
    if (this.queue.length >= this.o.maxRecords) return 0
    return Math.max(0, this.lastFlushAt + this.o.maxMs - performance.now())
  }

  private kick(delay: number) {
    if (this.flushing) return
    const due = performance.now() + delay
    if (this.timer && this.timerDue <= due) return
    clearTimeout(this.timer)
    this.timerDue = due
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined
        if (this.queue.length > 0) this.kick(this.wait())
      })
    }, delay)
  }

  private reject(p: Pending, e: unknown) {
    this.countRejected(e)
    p.reject(e)
  }

  private countRejected(e: unknown) {
    const code = e instanceof LedgerError ? e.code : 'BAD_REQUEST'
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
  }

  private async lastRecordTime(): Promise<number> {
    const size = this.o.store.size(this.o.origin)
    if (size === 0 || (await this.o.store.isRedacted(this.o.origin, size - 1))) return 0
    return decodeCheckedRecord(decodeEntry(await this.o.store.entry(this.o.origin, size - 1)).recordBytes).time
  }

  /**
   * Validates one batch, hands it to the signers and queues its append behind
   * the previous batch's; returns once the batch is numbered, so the next
   * batch is validated while this one is signed and the one before written.
   */
  private async flush(): Promise<void> {
    if (this.o.gate && !this.o.gate.ready) {
      try {
        await this.o.gate.whenReady()
      } catch (e) {
        for (const p of this.queue.splice(0)) this.reject(p, e)
        return
      }
    }
    while (this.inFlight.length >= MAX_BATCHES_IN_FLIGHT) await this.inFlight[0]
    const batch = this.queue.splice(0, this.o.maxRecords)
    if (batch.length === 0) return
    this.lastFlushAt = performance.now()
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
    let seed: Uint8Array
    try {
      seed = this.o.seedAt?.(start) ?? this.o.logSeed
    } catch (e) {
      for (const p of batch) this.reject(p, e)
      return
    }
    let ended = false
    // In force already (spec/api.md §DUPLICATE_VALUE): looked up for the whole batch at once, before any is numbered.
    const checked = batch.flatMap((p, i) => p.body.type === 'indicator' && !p.opts.allowDuplicate ? [{ i, alg: p.body.alg, value: p.body.value }] : [])
    const found = await findInForceMany(store, origin, checked, time).catch(() => checked.map(() => undefined))
    const inForce: (string | undefined)[] = batch.map(() => undefined)
    for (const [k, c] of checked.entries()) inForce[c.i] = found[k]
    const publishingNow: { key: string; done: Promise<Published>; settle: (p: Published | undefined) => void; at: number }[] = []
    for (const [k, p] of batch.entries()) {
      if (ended) {
        this.queue.unshift(...batch.slice(k)) // signed with the next key, once the roster knows it
        break
      }
      try {
        // The body read in place, with the header the node fills in laid over it.
        const { record, bytes } = validateAndEncode(p.body, { v: 1, log: origin, seq: start + records.length, time })
        if (record.type === 'revocation') await checkRecordSemantics(store, roster, origin, record, none)
        else roster.checkWriter(origin, record.type)
        if (record.type === 'roster' && record.change === 'resolve_fork') roster.checkResolution(origin, record)
        if (record.type === 'indicator' && !p.opts.allowDuplicate) {
          const key = valueKey(record.alg, record.value)
          const existing = inForce[k]
          if (existing) throw duplicate(record.alg, existing)
          const earlier = this.publishing.get(key)
          if (earlier) {
            // The same value is being published: refused once the first has its id (or failed).
            earlier.then((first) => this.reject(p, duplicate(record.alg, first.id)), () => this.reject(p, new LedgerError('CONFLICT', `the same ${record.alg} value was being published and failed; retry`)))
            continue
          }
          let settle!: (x: Published | undefined) => void
          const done = new Promise<Published>((res, rej) => { settle = (x) => (x ? res(x) : rej(new Error('not stored'))) })
          done.catch(() => undefined)
          this.publishing.set(key, done)
          publishingNow.push({ key, done, settle, at: accepted.length }) // its place in `accepted` (pushed just below)
        }
        records.push(record)
        recordBytes.push(bytes)
        accepted.push(p)
        ended = this.o.endsBatch?.(record) ?? false
      } catch (e) {
        this.reject(p, e)
      }
    }
    const published: (Published | undefined)[] = []
    const settleDuplicates = () => {
      for (const x of publishingNow) {
        if (this.publishing.get(x.key) === x.done) this.publishing.delete(x.key)
        x.settle(published[x.at])
      }
    }
    if (records.length === 0) return settleDuplicates()
    const signing = this.o.sign({ seed, records: recordBytes })
    signing.catch(() => undefined) // awaited below, in turn; not an unhandled rejection meanwhile
    // After a rotation, the next batch is numbered once this one is stored (and the roster has seen it).
    this.nextSeq = ended ? undefined : start + records.length
    const append = this.appending.then(async () => {
      let items: AppendItem[]
      try {
        const signed: SignedBatch = await signing
        items = records.map((record, i) => ({ entry: signed.entries[i]!, id: signed.ids.subarray(32 * i, 32 * i + 32), record }))
        items.forEach((it, i) => { published[i] = { id: toHex(it.id), seq: start + i, log: origin } })
        const extra = accepted.flatMap((p, i) => p.opts.alsoWrite?.(published[i]!) ?? [])
        const r = await store.append(origin, start, items, {
          durable: true,
          extra,
          checkpoint: (size, root) => signCheckpoint({ origin, size, root }, { name: origin, seed }),
        })
        this.stats.batches++
        this.stats.accepted += items.length
        items.forEach((it, i) => {
          this.o.onRecord(it.id, it.record)
          accepted[i]!.resolve(published[i]!)
        })
        if (r.checkpoint) this.o.onCheckpoint(r.checkpoint)
      } catch (e) {
        // Later batches were numbered after this one: they fail in turn (their start is not the
        // log's size); the next batch validated starts again from what is stored.
        this.nextSeq = undefined
        published.length = 0
        for (const p of accepted) this.reject(p, e)
      } finally {
        settleDuplicates()
      }
    })
    this.appending = append
    this.inFlight.push(append)
    void append.finally(() => { this.inFlight.splice(this.inFlight.indexOf(append), 1) })
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

function duplicate(alg: string, id: string): LedgerError {
  return new LedgerError('DUPLICATE_VALUE', `this log already has this ${alg} value in force as record ${id}; revoke that record first, or send allow_duplicate (cairn publish/import --allow-duplicate) to publish a second record, e.g. under another category`)
}
