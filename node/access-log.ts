/**
 * The access log: every authenticated API call (and every CLI sync, which is
 * one), append-only and hash-chained: each row carries the SHA-256 of the
 * previous row's canonical JSON, so deleting or editing a row breaks the chain
 * that `verify()` (and oversight, from an export) recomputes. Rows are
 * buffered and written in batches so logging never slows a request down.
 * A batch that cannot be written (a full disk) stays buffered, in order, and
 * is written again every second until it lands; every failure is counted
 * and reported to `onWriteError` (the node log). Rows beyond
 * MAX_BUFFERED_ROWS waiting are dropped and counted: the chain then shows
 * the gap (`verify()`), as it should.
 */
import { sha256, toHex, utf8, fromUtf8 } from '../protocol/bytes.ts'
import { keys, P, readU64 } from './storage/keys.ts'
import type { KV } from './storage/kv.ts'

export interface AccessRow {
  seq: number
  time: number
  token: string
  name: string
  role: string
  /** For a request made with a credential: the member that issued it (absent: a token of this node). */
  issuer?: string
  method: string
  path: string
  status: number
  bytes: number
  /** SHA-256 (hex) of the previous row's JSON; 64 zeros for the first row. */
  prev: string
}

export interface AccessQuery {
  after?: number
  limit?: number
  name?: string
  role?: string
  from?: number
  to?: number
}

const GENESIS = '0'.repeat(64)
const MAX_BUFFERED_ROWS = 100_000
const RETRY_MS = 1000

export function rowHash(row: AccessRow): string {
  return toHex(sha256(utf8(JSON.stringify(row))))
}

export class AccessLog {
  private seq = 0
  private prev = GENESIS
  private buffer: AccessRow[] = []
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> = Promise.resolve()
  /** Batches that failed to be written, rows dropped because too many waited. */
  readonly stats = { writeFailures: 0, droppedRows: 0 }
  /** Told of every failed write (the HTTP layer logs it); the rows stay buffered. */
  onWriteError: ((e: unknown, info: { rows: number; buffered: number; dropped: number }) => void) | undefined

  private constructor(private readonly kv: KV) {}

  static async open(kv: KV): Promise<AccessLog> {
    const log = new AccessLog(kv)
    for await (const [k, v] of kv.iterate({ gte: new Uint8Array([P.access]), lt: new Uint8Array([P.access + 1]), reverse: true, limit: 1 })) {
      log.seq = readU64(k, 1) + 1
      log.prev = rowHash(JSON.parse(fromUtf8(v)) as AccessRow)
    }
    return log
  }

  append(row: Omit<AccessRow, 'seq' | 'prev'>): AccessRow {
    const full: AccessRow = { seq: this.seq++, ...row, prev: this.prev }
    this.prev = rowHash(full)
    if (this.buffer.length >= MAX_BUFFERED_ROWS) {
      this.stats.droppedRows++
      return full
    }
    this.buffer.push(full)
    this.schedule(100)
    return full
  }

  private schedule(ms: number): void {
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), ms)
  }

  /** Writes what is buffered; never rejects (a failed batch goes back to the buffer, see above). */
  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const rows = this.buffer
    this.buffer = []
    if (rows.length === 0) return this.writing
    this.writing = this.writing.then(async () => {
      try {
        await this.kv.batch(rows.map((r) => ({ type: 'put' as const, key: keys.access(r.seq), value: utf8(JSON.stringify(r)) })))
      } catch (e) {
        this.stats.writeFailures++
        this.buffer = rows.concat(this.buffer)
        if (this.buffer.length > MAX_BUFFERED_ROWS) {
          this.stats.droppedRows += this.buffer.length - MAX_BUFFERED_ROWS
          this.buffer.length = MAX_BUFFERED_ROWS
        }
        this.schedule(RETRY_MS)
        try {
          this.onWriteError?.(e, { rows: rows.length, buffered: this.buffer.length, dropped: this.stats.droppedRows })
        } catch {
          // a reporter that fails must not stop the retries
        }
      }
    })
    return this.writing
  }

  async query(q: AccessQuery): Promise<{ rows: AccessRow[]; next?: number }> {
    await this.flush()
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000)
    const rows: AccessRow[] = []
    let next: number | undefined
    for await (const [, v] of this.kv.iterate({ gte: keys.access(q.after !== undefined ? q.after + 1 : 0), lt: new Uint8Array([P.access + 1]) })) {
      const r = JSON.parse(fromUtf8(v)) as AccessRow
      if (q.name && r.name !== q.name) continue
      if (q.role && r.role !== q.role) continue
      if (q.from !== undefined && r.time < q.from) continue
      if (q.to !== undefined && r.time >= q.to) continue
      if (rows.length === limit) {
        next = rows[rows.length - 1]!.seq
        break
      }
      rows.push(r)
    }
    return { rows, next }
  }

  /** Rows written: one more than the last sequence number stored (after flushing the buffer). */
  async rows(): Promise<number> {
    await this.flush()
    for await (const [k] of this.kv.iterate({ gte: new Uint8Array([P.access]), lt: new Uint8Array([P.access + 1]), reverse: true, limit: 1 })) {
      return readU64(k, 1) + 1
    }
    return 0
  }

  /**
   * Recomputes the chain: `rows` rows hold together, the first broken
   * sequence number (undefined when intact), and `head`, the hash of the last
   * row that holds (null for none). From the start, or from a check made
   * before (`after`: its rows and head), reading only the rows since.
   */
  async verify(after?: { rows: number; head: string }): Promise<{ rows: number; brokenAt?: number; head: string | null }> {
    await this.flush()
    let prev = after?.head ?? GENESIS
    let n = after?.rows ?? 0
    for await (const [, v] of this.kv.iterate({ gte: keys.access(n), lt: new Uint8Array([P.access + 1]) })) {
      const r = JSON.parse(fromUtf8(v)) as AccessRow
      if (r.prev !== prev || r.seq !== n) return { rows: n, brokenAt: r.seq, head: n === 0 ? null : prev }
      prev = rowHash(r)
      n++
    }
    return { rows: n, head: n === 0 ? null : prev }
  }

  /** Writes what is buffered (one last try) and stops retrying. */
  async close(): Promise<void> {
    await this.flush()
    clearTimeout(this.timer)
    this.timer = undefined
  }
}
