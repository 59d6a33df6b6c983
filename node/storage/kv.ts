/**
 * The key-value contract under cairn's store: ordered byte keys, atomic
 * batches, range iteration. Two implementations: MemoryKV (tests, tools) and
 * LevelKV (the node). Nothing outside node/storage constructs either; the node
 * is wired in node/node.ts.
 */
import { Level } from 'level'
import { chmodSync, mkdirSync, readdirSync, statfsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { isMainThread } from 'node:worker_threads'
import { compareBytes, equalBytes, toHex } from '../../protocol/bytes.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { prefixEnd } from './keys.ts'

export type BatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

export interface Range {
  gte?: Uint8Array
  lt?: Uint8Array
  reverse?: boolean
  limit?: number
}

export interface KV {
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  /**
   * The same read, answered on the calling thread: for small hot reads (hash
   * tiles for proofs), where handing each read to a thread costs more than
   * the read. Data the OS holds in memory comes back in microseconds.
   */
  getSync(key: Uint8Array): Uint8Array | undefined
  getMany(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]>
  /** All operations land, or none do (also across a crash). `durable` forces an fsync. */
  batch(ops: BatchOp[], options?: { durable?: boolean }): Promise<void>
  iterate(range: Range): AsyncIterable<[Uint8Array, Uint8Array]>
  /** The values of a range, in key order, read in bulk (for ranges known to be small enough to hold). */
  values(range: Range): Promise<Uint8Array[]>
  /**
   * The keys under each prefix (at most `limitEach` each), for many prefixes
   * at once: one pass over the store in key order, seeking from prefix to
   * prefix, instead of an iterator made and closed for each (the publisher's
   * duplicate check: one prefix per record of a batch).
   */
  keysUnderPrefixes(prefixes: readonly Uint8Array[], limitEach: number): Promise<Uint8Array[][]>
  /**
   * Every row of the store, in key order, in chunks of up to `rows`, as of
   * the moment the scan begins: later writes are not seen, and the scan
   * blocks none of them (node/backup reads the whole store this way).
   */
  snapshot(rows?: number): AsyncIterable<[Uint8Array, Uint8Array][]>
  close(): Promise<void>
}

export class MemoryKV implements KV {
  private readonly map = new Map<string, [Uint8Array, Uint8Array]>()
  private closed = false

  async get(key: Uint8Array) {
    return this.getSync(key)
  }

  getSync(key: Uint8Array) {
    this.check()
    return this.map.get(toHex(key))?.[1]
  }

  async getMany(keys: Uint8Array[]) {
    this.check()
    return keys.map((k) => this.map.get(toHex(k))?.[1])
  }

  async batch(ops: BatchOp[]) {
    this.check()
    for (const op of ops) {
      if (op.type === 'put') this.map.set(toHex(op.key), [new Uint8Array(op.key), new Uint8Array(op.value)])
      else this.map.delete(toHex(op.key))
    }
  }

  async *iterate(range: Range): AsyncIterable<[Uint8Array, Uint8Array]> {
    this.check()
    const rows = [...this.map.values()]
      .filter(([k]) => (!range.gte || compareBytes(k, range.gte) >= 0) && (!range.lt || compareBytes(k, range.lt) < 0))
      .sort((a, b) => compareBytes(a[0], b[0]))
    if (range.reverse) rows.reverse()
    const limit = range.limit ?? Infinity
    let n = 0
    for (const row of rows) {
      if (n++ >= limit) return
      yield row
    }
  }

  async values(range: Range): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for await (const [, v] of this.iterate(range)) out.push(v)
    return out
  }

  async keysUnderPrefixes(prefixes: readonly Uint8Array[], limitEach: number): Promise<Uint8Array[][]> {
    const out: Uint8Array[][] = []
    for (const prefix of prefixes) {
      const keys: Uint8Array[] = []
      for await (const [k] of this.iterate({ gte: prefix, lt: prefixEnd(prefix), limit: limitEach })) keys.push(k)
      out.push(keys)
    }
    return out
  }

  async *snapshot(rows = 1000): AsyncIterable<[Uint8Array, Uint8Array][]> {
    this.check()
    const all = [...this.map.values()].sort((a, b) => compareBytes(a[0], b[0])).map(([k, v]): [Uint8Array, Uint8Array] => [k.slice(), v.slice()])
    for (let i = 0; i < all.length; i += rows) yield all.slice(i, i + rows)
  }

  async close() {
    this.closed = true
  }

  private check() {
    if (this.closed) throw new Error('store is closed')
  }
}

/** Bytes the file system holding `path` has free for this user, or undefined when it cannot say. */
function freeBytes(path: string): number | undefined {
  try {
    const s = statfsSync(path)
    return s.bavail * s.bsize
  } catch {
    return undefined
  }
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.length >= prefix.length && equalBytes(key.subarray(0, prefix.length), prefix)
}

const isNoSpace = (e: Error) => /no space left on device|ENOSPC/i.test(e.message)

/** LevelDB's memtable size (see LevelKV.open). */
const WRITE_BUFFER_BYTES = 64 << 20

export class LevelKV implements KV {
  /**
   * The write that failed with an I/O error (a full disk), after which no
   * write is let through: LevelDB keeps appending to its write-ahead log
   * after a failed, torn append, and on the next open it drops the log's
   * damaged block — with the later, acknowledged writes in it (seen on a
   * real full tmpfs). Reads go on; a restart reopens the log cleanly.
   */
  private failedWrite?: Error

  private constructor(private readonly db: Level<Uint8Array, Uint8Array>, private readonly location: string, private readonly minFreeBytes: number) {}

  /** `minFreeBytes`: writes are refused (STORAGE_FULL) while the disk has less free than this, so LevelDB never meets a full disk. */
  static async open(location: string, o: { minFreeBytes?: number } = {}): Promise<LevelKV> {
    keepPrivate(location)
    // LevelDB keeps `maxOpenFiles` table files open (with their index blocks in memory). Its default, 1000,
    // is about half the tables of a 10M-entry store (~2 MiB each): random reads (proofs, lookups) then
    // reopen a table, reading its footer and index, on most calls. 4096 covers ~8 GiB of tables.
    // A 64 MiB write buffer (LevelDB's default is 4 MiB): the record-id and value indexes take random keys, and each
    // memtable flushed to level 0 is compacted into every overlapping table below it: runs 16× larger make
    // 16× fewer flushes, fewer level-0 compactions and write stalls while a sync appends (docs/performance.md).
    const db = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view', maxOpenFiles: 4096, writeBufferSize: WRITE_BUFFER_BYTES })
    await db.open()
    return new LevelKV(db, location, o.minFreeBytes ?? 0)
  }

  async get(key: Uint8Array) {
    const v = await this.db.get(key)
    return v ?? undefined
  }

  getSync(key: Uint8Array) {
    return this.db.getSync(key) ?? undefined
  }

  async getMany(keys: Uint8Array[]) {
    if (keys.length === 0) return []
    const vs = await this.db.getMany(keys)
    return vs.map((v) => v ?? undefined)
  }

  async batch(ops: BatchOp[], options?: { durable?: boolean }) {
    if (ops.length === 0) return
    if (this.failedWrite) {
      throw new LedgerError(isNoSpace(this.failedWrite) ? 'STORAGE_FULL' : 'STORAGE_UNAVAILABLE',
        `a write to the store failed (${this.failedWrite.message.split('\n')[0]}); writes stay refused until the node is restarted, so that LevelDB reopens its write-ahead log whole — free space, then restart the node; reads go on`, { cause: this.failedWrite })
    }
    if (this.minFreeBytes > 0) {
      const free = freeBytes(this.location)
      if (free !== undefined && free < this.minFreeBytes) {
        throw new LedgerError('STORAGE_FULL', `the disk holding the store has ${Math.floor(free / 2 ** 20)} MiB free, under the ${Math.floor(this.minFreeBytes / 2 ** 20)} MiB kept in reserve (node.json storage.min_free_mib); writes resume by themselves once space is freed`)
      }
    }
    // A chained batch: about 2x faster than the array form, which clones every operation.
    const b = this.db.batch()
    for (const op of ops) {
      if (op.type === 'put') b.put(op.key, op.value)
      else b.del(op.key)
    }
    try {
      await b.write({ sync: options?.durable ?? false })
    } catch (e) {
      if ((e as { code?: unknown }).code === 'LEVEL_IO_ERROR') this.failedWrite = e as Error
      throw e
    }
  }

  /** Why writes are refused until a restart, if they are. */
  get writesRefused(): string | undefined {
    return this.failedWrite?.message
  }

  async *iterate(range: Range): AsyncIterable<[Uint8Array, Uint8Array]> {
    const opts: Record<string, unknown> = { reverse: range.reverse ?? false, limit: range.limit ?? -1 }
    if (range.gte) opts.gte = range.gte
    if (range.lt) opts.lt = range.lt
    for await (const [k, v] of this.db.iterator(opts)) yield [k, v]
  }

  async values(range: Range): Promise<Uint8Array[]> {
    const opts: Record<string, unknown> = { reverse: range.reverse ?? false, limit: range.limit ?? -1 }
    if (range.gte) opts.gte = range.gte
    if (range.lt) opts.lt = range.lt
    return (await this.db.values(opts).all()) as Uint8Array[]
  }

  async keysUnderPrefixes(prefixes: readonly Uint8Array[], limitEach: number): Promise<Uint8Array[][]> {
    const out: Uint8Array[][] = prefixes.map(() => [])
    if (prefixes.length === 0) return out
    // In key order, so the iterator only ever moves forward.
    const order = prefixes.map((_, i) => i).sort((a, b) => compareBytes(prefixes[a]!, prefixes[b]!))
    const it = this.db.keys()
    try {
      for (const i of order) {
        const prefix = prefixes[i]!
        it.seek(prefix)
        for (let n = 0; n < limitEach; n++) {
          const key = (await it.next()) as Uint8Array | undefined
          if (key === undefined || !startsWith(key, prefix)) break
          out[i]!.push(key)
        }
      }
    } finally {
      await it.close()
    }
    return out
  }

  async *snapshot(rows = 1000): AsyncIterable<[Uint8Array, Uint8Array][]> {
    // A LevelDB iterator reads from the snapshot taken when it is created, whatever is written meanwhile.
    const it = this.db.iterator()
    try {
      for (;;) {
        const chunk = (await it.nextv(rows)) as [Uint8Array, Uint8Array][]
        if (chunk.length === 0) return
        yield chunk
      }
    } finally {
      await it.close()
    }
  }

  async close() {
    await this.db.close()
  }
}

/**
 * The store is readable by its owner only, whatever the umask: LevelDB
 * creates its files as it goes with mode 0644 less the umask, so the
 * process's umask becomes 077 (every file a node writes is then 0600, every
 * folder 0700); the directory, its parent (the node directory) and the files
 * already there (a store made before) are set once more.
 */
function keepPrivate(location: string): void {
  if (isMainThread) process.umask(0o077) // a worker may not set it; the main thread that opens the node's store does
  mkdirSync(location, { recursive: true, mode: 0o700 })
  chmodSync(dirname(location), 0o700)
  chmodSync(location, 0o700)
  for (const f of readdirSync(location, { withFileTypes: true })) chmodSync(join(location, f.name), f.isDirectory() ? 0o700 : 0o600)
}
