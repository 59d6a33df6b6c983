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
import { crc32 } from 'node:zlib'
import { compareBytes, equalBytes, toHex, utf8 } from '../../protocol/bytes.ts'
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

/**
 * A row whose stored bytes do not match their checksum: the value (or the
 * key) changed on disk after it was written. Read as damage, as LevelDB's
 * own block-checksum failures are (node/storage/store.ts).
 */
export class ChecksumMismatch extends LedgerError {
  constructor(readonly key: string) {
    super('STORAGE_CORRUPT', `store key ${key} does not match the checksum it was written with: the store's files are damaged (run cairn node check --dir <node dir>)`)
  }
}

/**
 * Rows of the store's own bookkeeping, below every table (node/storage/keys.ts
 * prefixes are letters): the format marker, and while a store written before
 * checksums is upgraded, the last row upgraded. Never shown to callers.
 */
const FORMAT_KEY = utf8('\x00kv-format')
const UPGRADE_KEY = utf8('\x00kv-upgrade')
const FORMAT_CRC32 = utf8('crc32/1')
/** The first key callers may see. */
const FIRST_KEY = new Uint8Array([0x01])
/** Rows rewritten per durable batch while a store is upgraded to checksums. */
const UPGRADE_BATCH = 16_384

/** CRC-32 of key ‖ value, what every stored value carries in its last 4 bytes (big-endian). */
function checksum(key: Uint8Array, value: Uint8Array): number {
  // An empty array level hands back may have no data pointer, and zlib's crc32 answers 0 for one, whatever the start value.
  const k = key.length === 0 ? 0 : crc32(key)
  return value.length === 0 ? k : crc32(value, k)
}

/** The batch's values with their checksums, cut from one buffer. */
function seal(ops: readonly BatchOp[]): Uint8Array[] {
  let total = 0
  for (const op of ops) if (op.type === 'put') total += op.value.length + 4
  const buf = new Uint8Array(total)
  const view = new DataView(buf.buffer)
  const out: Uint8Array[] = []
  let at = 0
  for (const op of ops) {
    if (op.type !== 'put') continue
    buf.set(op.value, at)
    view.setUint32(at + op.value.length, checksum(op.key, op.value))
    out.push(buf.subarray(at, at + op.value.length + 4))
    at += op.value.length + 4
  }
  return out
}

/** The value a stored row holds, once its checksum is found to match. */
function unseal(key: Uint8Array, stored: Uint8Array): Uint8Array {
  const value = sealedValue(key, stored)
  if (value === undefined) throw new ChecksumMismatch(toHex(key))
  return value
}

/** The value a stored row holds if its checksum matches; undefined if it does not (the scans that count or mend bad rows). */
function sealedValue(key: Uint8Array, stored: Uint8Array): Uint8Array | undefined {
  const n = stored.length - 4
  if (n < 0) return undefined
  const value = stored.subarray(0, n)
  const want = ((stored[n]! << 24) | (stored[n + 1]! << 16) | (stored[n + 2]! << 8) | stored[n + 3]!) >>> 0
  return checksum(key, value) === want ? value : undefined
}

/** A range's lower bound, never below the first key callers may see. */
function lowerBound(gte: Uint8Array | undefined): Uint8Array {
  return gte && compareBytes(gte, FIRST_KEY) > 0 ? gte : FIRST_KEY
}

/**
 * LevelDB under the KV contract. Every value is stored with a CRC-32 of its
 * key and value and checked on every read (get, range, snapshot, the
 * duplicate check's key scan): LevelDB checks its blocks' checksums only
 * when asked, and classic-level never asks (it exposes neither
 * verify_checksums nor paranoid_checks), so a flipped byte in a table file
 * would otherwise be read as data. A mismatch throws ChecksumMismatch. A
 * store written before the checksums is upgraded when it is opened, in
 * durable batches that a crash resumes.
 */
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

  /**
   * `minFreeBytes`: writes are refused (STORAGE_FULL) while the disk has less free than this, so LevelDB never meets a full disk.
   * `onUpgrade`: hears how many rows of a store written before checksums have been given theirs so far.
   */
  static async open(location: string, o: { minFreeBytes?: number; onUpgrade?: (rows: number) => void } = {}): Promise<LevelKV> {
    keepPrivate(location)
    // LevelDB keeps `maxOpenFiles` table files open (with their index blocks in memory). Its default, 1000,
    // is about half the tables of a 10M-entry store (~2 MiB each): random reads (proofs, lookups) then
    // reopen a table, reading its footer and index, on most calls. 4096 covers ~8 GiB of tables.
    // A 64 MiB write buffer (LevelDB's default is 4 MiB): the record-id and value indexes take random keys, and each
    // memtable flushed to level 0 is compacted into every overlapping table below it: runs 16× larger make
    // 16× fewer flushes, fewer level-0 compactions and write stalls while a sync appends (docs/performance.md).
    const db = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view', maxOpenFiles: 4096, writeBufferSize: WRITE_BUFFER_BYTES })
    await db.open()
    try {
      await settleFormat(db, o.onUpgrade)
    } catch (e) {
      await db.close()
      throw e
    }
    return new LevelKV(db, location, o.minFreeBytes ?? 0)
  }

  async get(key: Uint8Array) {
    const v = await this.db.get(key)
    return v == null ? undefined : unseal(key, v)
  }

  getSync(key: Uint8Array) {
    const v = this.db.getSync(key)
    return v == null ? undefined : unseal(key, v)
  }

  async getMany(keys: Uint8Array[]) {
    if (keys.length === 0) return []
    const vs = await this.db.getMany(keys)
    return vs.map((v, i) => (v == null ? undefined : unseal(keys[i]!, v)))
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
    const sealed = seal(ops)
    // A chained batch: about 2x faster than the array form, which clones every operation.
    const b = this.db.batch()
    let p = 0
    for (const op of ops) {
      if (op.key[0] === 0 && op.key.length > 1) throw new Error('keys 0x00 ‖ … are the store format\'s own')
      if (op.type === 'put') b.put(op.key, sealed[p++]!)
      else b.del(op.key)
    }
    try {
      await b.write({ sync: options?.durable ?? false })
    } catch (e) {
      if ((e as { code?: unknown }).code === 'LEVEL_IO_ERROR') this.failedWrite = e as Error
      throw e
    }
  }

  /**
   * Writes each of `rows` whose stored row is missing, fails its checksum or
   * holds another value (reindex.ts), in one durable batch; the rows
   * written. A row already as it should be is left alone.
   */
  async putDiffering(rows: readonly { key: Uint8Array; value: Uint8Array }[]): Promise<Uint8Array[]> {
    if (rows.length === 0) return []
    const stored = await this.db.getMany(rows.map((r) => r.key))
    const differing = rows.filter((r, i) => {
      const v = stored[i]
      const value = v == null ? undefined : sealedValue(r.key, v)
      return value === undefined || !equalBytes(value, r.value)
    })
    await this.batch(differing.map((r) => ({ type: 'put' as const, key: r.key, value: r.value })), { durable: true })
    return differing.map((r) => r.key)
  }

  /** Deletes the rows in [gte, lt) that fail their checksums, in durable batches; their keys. */
  async deleteBadRows(gte: Uint8Array, lt: Uint8Array): Promise<Uint8Array[]> {
    const bad: Uint8Array[] = []
    for await (const chunk of this.storedChunks({ gte: lowerBound(gte), lt }, 4096)) {
      for (const [k, v] of chunk) if (sealedValue(k, v) === undefined) bad.push(k)
    }
    for (let i = 0; i < bad.length; i += 4096) await this.batch(bad.slice(i, i + 4096).map((key) => ({ type: 'del' as const, key })), { durable: true })
    return bad
  }

  /** Why writes are refused until a restart, if they are. */
  get writesRefused(): string | undefined {
    return this.failedWrite?.message
  }

  private rangeOptions(range: Range): Record<string, unknown> {
    const opts: Record<string, unknown> = { reverse: range.reverse ?? false, limit: range.limit ?? -1, gte: lowerBound(range.gte) }
    if (range.lt) opts.lt = range.lt
    return opts
  }

  async *iterate(range: Range): AsyncIterable<[Uint8Array, Uint8Array]> {
    for await (const [k, v] of this.db.iterator(this.rangeOptions(range))) yield [k, unseal(k, v)]
  }

  async values(range: Range): Promise<Uint8Array[]> {
    // Rows, not values alone: a value's checksum covers its key.
    const rows = (await this.db.iterator(this.rangeOptions(range)).all()) as [Uint8Array, Uint8Array][]
    return rows.map(([k, v]) => unseal(k, v))
  }

  async keysUnderPrefixes(prefixes: readonly Uint8Array[], limitEach: number): Promise<Uint8Array[][]> {
    const out: Uint8Array[][] = prefixes.map(() => [])
    if (prefixes.length === 0) return out
    // In key order, so the iterator only ever moves forward. Rows, not keys alone, so that each key's checksum is checked.
    // Read in growing steps (2, 16, 128, … rows): a value has one id or none, and a plain next() after a seek
    // would fill classic-level's cache with up to 1,000 rows past the prefix — 6× the cost of a lookup's other reads.
    const order = prefixes.map((_, i) => i).sort((a, b) => compareBytes(prefixes[a]!, prefixes[b]!))
    const it = this.db.iterator({ gte: FIRST_KEY })
    try {
      for (const i of order) {
        const prefix = prefixes[i]!
        it.seek(lowerBound(prefix) as Uint8Array<ArrayBuffer>)
        const keys = out[i]!
        for (let step = 2; keys.length < limitEach; step = Math.min(step * 8, 1024)) {
          const rows = (await it.nextv(Math.min(step, limitEach - keys.length))) as [Uint8Array, Uint8Array][]
          let past = rows.length === 0
          for (const [k, v] of rows) {
            if (!startsWith(k, prefix)) {
              past = true
              break
            }
            unseal(k, v)
            keys.push(k)
          }
          if (past) break
        }
      }
    } finally {
      await it.close()
    }
    return out
  }

  async *snapshot(rows = 1000): AsyncIterable<[Uint8Array, Uint8Array][]> {
    for await (const chunk of this.storedChunks({ gte: FIRST_KEY }, rows)) yield chunk.map(([k, v]): [Uint8Array, Uint8Array] => [k, unseal(k, v)])
  }

  /**
   * The rows of a range as stored (checksums not checked or removed), in
   * chunks of up to `rows`. A LevelDB iterator reads from the snapshot taken
   * when it is created, whatever is written meanwhile.
   */
  private async *storedChunks(range: { gte: Uint8Array; lt?: Uint8Array }, rows: number): AsyncIterable<[Uint8Array, Uint8Array][]> {
    const it = this.db.iterator(range)
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

  /**
   * Reads every row and checks its checksum (`cairn node check`): the keys
   * of the rows that fail (up to `maxBad`), and how many rows there are.
   */
  async checkRows(maxBad = 100, onProgress?: (rows: number) => void): Promise<{ rows: number; bad: string[]; badCount: number }> {
    const out = { rows: 0, bad: [] as string[], badCount: 0 }
    for await (const chunk of this.storedChunks({ gte: FIRST_KEY }, 4096)) {
      for (const [k, v] of chunk) {
        if (sealedValue(k, v) !== undefined) continue
        out.badCount++
        if (out.bad.length < maxBad) out.bad.push(toHex(k))
      }
      out.rows += chunk.length
      onProgress?.(out.rows)
    }
    return out
  }

  async close() {
    await this.db.close()
  }
}

/**
 * Makes the store's format the checksummed one: an empty store is marked so;
 * a store written before checksums has every row rewritten with its checksum,
 * in durable batches that each record the last row done, so a crash resumes
 * where it stopped (rows after that key are still plain); a store with an
 * unknown marker is refused.
 */
async function settleFormat(db: Level<Uint8Array, Uint8Array>, onUpgrade?: (rows: number) => void): Promise<void> {
  const marker = await db.get(FORMAT_KEY)
  if (marker != null) {
    if (equalBytes(marker, FORMAT_CRC32)) return
    throw new LedgerError('STORAGE_CORRUPT', `the store's format marker is ${JSON.stringify(Buffer.from(marker).toString('latin1'))}, not one this version of cairn reads (a newer cairn wrote it, or the store is damaged)`)
  }
  const done = await db.get(UPGRADE_KEY)
  const it = db.iterator({ ...(done == null ? { gte: FIRST_KEY } : { gt: done }) })
  let rows = 0
  try {
    for (;;) {
      // nextv hands back what its buffer holds (a few hundred small rows): gather a batch's worth.
      const chunk: [Uint8Array, Uint8Array][] = []
      for (;;) {
        const more = (await it.nextv(UPGRADE_BATCH - chunk.length)) as [Uint8Array, Uint8Array][]
        chunk.push(...more)
        if (more.length === 0 || chunk.length >= UPGRADE_BATCH) break
      }
      if (chunk.length === 0) break
      const sealed = seal(chunk.map(([key, value]) => ({ type: 'put', key, value })))
      const b = db.batch()
      chunk.forEach(([k], i) => b.put(k, sealed[i]!))
      b.put(UPGRADE_KEY, chunk[chunk.length - 1]![0])
      await b.write({ sync: true })
      rows += chunk.length
      onUpgrade?.(rows)
    }
  } finally {
    await it.close()
  }
  await db.batch().del(UPGRADE_KEY).put(FORMAT_KEY, FORMAT_CRC32).write({ sync: true })
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
