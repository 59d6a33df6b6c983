/**
 * SetLines: the jsonl snapshot (GET /feed/snapshot, spec/api.md A.5.5) kept
 * ready on disk, one append-only file per log, so that a snapshot of 10M
 * indicators is a sequential file read instead of 10M store reads, parses and
 * renders (hash-list services serve their lists the same way: as files).
 *
 * Per log (store number n), under <data>/set-lines/:
 *   n.jsonl    one line per entry index: an indicator's snapshot line, or an
 *              empty line for any other entry (revocation, attestation,
 *              roster, redaction marker); a line redacted later is
 *              overwritten in place with spaces (the value leaves the disk)
 *   n.removed  revocations: (target index u64 LE, revocation index u64 LE)
 *   n.marks    the byte offset (u64 LE) of every 1024th line, to find a line
 *   state.json per log: lines, bytes, removed pairs and marks made durable
 * The files are derived data: the store is the truth. state.json advances
 * only after the files are fsynced (at most once a second), so after a crash
 * the files are cut back to it and the missing lines are rendered again from
 * the store. A snapshot as of sizes S is then: every line below S[log] that
 * starts with '{', is not revoked by an entry below S[log] (n.removed) and is
 * not being redacted — byte for byte what rendering from the store gives.
 *
 * Lines are written after the store commits (Store observer), in index
 * order through one queue; a log that is behind (new node, files lost) is
 * caught up from the store in the background, and until every log is caught
 * up to the sizes asked for, `stream` says so and the caller renders live.
 */
import { open, mkdir, chmod, readFile, rename, type FileHandle } from 'node:fs/promises'
import { constants } from 'node:fs'
import { join } from 'node:path'
import { LedgerError } from '../../protocol/errors.ts'
import type { Store, AppendItem, RedactedItem, StoreObserver } from '../storage/store.ts'
import { readStoredRecord } from '../../protocol/stored-record.ts'
import type { Logger } from '../logger.ts'
import { putJsonlLine, lineLength, type LineFields } from './jsonl-line.ts'

const STATE_FORMAT = 'cairn-set-lines/1'
const MARK_EVERY = 1024
const CATCH_UP_CHUNK = 4096
const FLUSH_MS = 1000
const READ_CHUNK = 256 * 1024
const NL = 10
const OPEN_BRACE = 0x7b

interface Durable {
  origin: string
  lines: number
  bytes: number
  removed: number
  marks: number
}

interface LogFiles {
  num: number
  origin: string
  lines: FileHandle
  removedFile: FileHandle
  marksFile: FileHandle
  /** Lines reserved by the queue (written or about to be). */
  next: number
  /** Lines written. */
  written: number
  bytes: number
  marks: number[]
  /** Revoked line → index of the revocation. */
  removed: Map<number, number>
  removedCount: number
  /** Lines redacted since open: never streamed, even by a stream that read them before they were blanked. */
  redacted: Set<number>
  durable: Durable
  dirty: boolean
}

/** One unit of queued work: lines [first, first + rows.length) of a log. */
interface Row {
  id: Uint8Array
  /** Undefined: not an indicator (empty line). */
  fields?: LineFields
  /** A revocation: the id it revokes. */
  revokes?: Uint8Array
}

/** The row of an entry: an indicator's line fields, a revocation's target, or nothing (an empty line). */
function rowOf(id: Uint8Array, r: { type: string; target?: Uint8Array } & LineFields): Row {
  if (r.type === 'indicator') return { id, fields: r }
  if (r.type === 'revocation') return { id, revokes: r.target }
  return { id }
}

export class SetLines implements StoreObserver {
  private readonly logs = new Map<string, LogFiles>()
  private queue: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private catchingUp: Promise<void> = Promise.resolve()
  /** Lines written since open (for status and tests). */
  linesWritten = 0

  private constructor(private readonly dir: string, private readonly store: Store, private readonly log?: Logger) {}

  /**
   * Opens the files under `dir` for `store`, cuts them back to their last
   * durable state, registers as the store's observer and starts catching up
   * with the store in the background (`caughtUp()` resolves when done).
   */
  static async open(dir: string, store: Store, log?: Logger): Promise<SetLines> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await chmod(dir, 0o700)
    const s = new SetLines(dir, store, log)
    let saved: Record<string, Durable> = {}
    try {
      const st = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { format?: string; logs?: Record<string, Durable> }
      if (st.format === STATE_FORMAT && st.logs) saved = st.logs
    } catch {
      // No state (new node, or lost): every log starts from its first line.
    }
    for (const info of store.listLogs()) {
      const num = store.logNumber(info.origin)
      await s.openLog(num, info.origin, saved[String(num)])
    }
    store.observe(s)
    s.catchingUp = s.catchUpAll()
    s.timer = setInterval(() => void s.flush().catch((e) => s.log?.error(`set-lines: flush failed: ${(e as Error).message}`)), FLUSH_MS)
    s.timer.unref()
    return s
  }

  /** Catches up with a log again (after it was healed: reading it failed while it was damaged). */
  resume(origin: string): void {
    const l = this.logs.get(origin)
    if (!l || this.closed) return
    // Lines reserved by a catch-up that failed were never written: start again from the last line written.
    this.catchingUp = this.catchingUp.catch(() => undefined)
      .then(() => this.enqueue(async () => { l.next = l.written }))
      .then(() => this.catchUp(origin))
  }

  /** Resolves once every log's lines are written up to the store's size at the time of the call. */
  async caughtUp(): Promise<void> {
    await this.catchingUp
    await this.queue
  }

  private async openLog(num: number, origin: string, saved: Durable | undefined): Promise<LogFiles> {
    // Read-write without O_APPEND: lines are written at known offsets, and a redaction overwrites one in place.
    const file = (ext: string) => open(join(this.dir, `${num}.${ext}`), constants.O_RDWR | constants.O_CREAT, 0o600)
    const lines = await file('jsonl')
    const removedFile = await file('removed')
    const marksFile = await file('marks')
    let d: Durable = saved && saved.origin === origin ? saved : { origin, lines: 0, bytes: 0, removed: 0, marks: 0 }
    const [ls, rs, ms] = await Promise.all([lines.stat(), removedFile.stat(), marksFile.stat()])
    if (ls.size < d.bytes || rs.size < d.removed * 16 || ms.size < d.marks * 8 || d.marks !== Math.ceil(d.lines / MARK_EVERY)) {
      this.log?.warn(`set-lines: the files of ${origin} are shorter than their state; rebuilding them from the store`)
      d = { origin, lines: 0, bytes: 0, removed: 0, marks: 0 }
    }
    await Promise.all([lines.truncate(d.bytes), removedFile.truncate(d.removed * 16), marksFile.truncate(d.marks * 8)])
    const removed = new Map<number, number>()
    if (d.removed > 0) {
      const b = Buffer.alloc(d.removed * 16)
      await removedFile.read(b, 0, b.length, 0)
      for (let i = 0; i < d.removed; i++) removed.set(Number(b.readBigUInt64LE(i * 16)), Number(b.readBigUInt64LE(i * 16 + 8)))
    }
    const marks: number[] = []
    if (d.marks > 0) {
      const b = Buffer.alloc(d.marks * 8)
      await marksFile.read(b, 0, b.length, 0)
      for (let i = 0; i < d.marks; i++) marks.push(Number(b.readBigUInt64LE(i * 8)))
    }
    const l: LogFiles = {
      num, origin, lines, removedFile, marksFile, next: d.lines, written: d.lines, bytes: d.bytes, marks, removed,
      removedCount: d.removed, redacted: new Set(), durable: { ...d }, dirty: d !== saved,
    }
    this.logs.set(origin, l)
    return l
  }

  private async logFor(origin: string): Promise<LogFiles> {
    return this.logs.get(origin) ?? this.openLog(this.store.logNumber(origin), origin, undefined)
  }

  // ---------------------------------------------------------------- writing

  /** Runs `job` after every job queued before it. */
  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job)
    this.queue = run.catch((e) => this.log?.error(`set-lines: ${(e as Error).message}`))
    return run
  }

  /** Store observer: a batch of `origin` from `first` committed. */
  appended(origin: string, first: number, items: readonly (AppendItem | RedactedItem)[], redacted: readonly number[]): void {
    const l = this.logs.get(origin)
    // A log this object does not know yet, or that is behind: the catch-up loop reads these entries from the store.
    if (this.closed || !l || first !== l.next) {
      if (!l && !this.closed) this.catchingUp = this.catchingUp.then(() => this.catchUp(origin))
      return
    }
    const blank = new Set(redacted)
    const rows: Row[] = items.map((it, i) => ('marker' in it || blank.has(first + i) ? { id: it.id } : rowOf(it.id, it.record)))
    l.next += rows.length
    void this.enqueue(() => this.write(l, first, rows))
  }

  /** Store observer: entry `index` of `origin` was redacted after it was stored. */
  redactedEntry(origin: string, index: number): void {
    const l = this.logs.get(origin)
    if (!l || this.closed || index >= l.next) return // not written yet: it is rendered from the store's marker
    l.redacted.add(index)
    void this.enqueue(() => this.blank(l, index))
  }

  private async write(l: LogFiles, first: number, rows: Row[]): Promise<void> {
    if (first !== l.written) throw new LedgerError('STORAGE_CORRUPT', `set-lines of ${l.origin}: lines ${first}.. queued after ${l.written}`)
    const newMarks: number[] = []
    const pairs: number[] = []
    let at = l.bytes
    let length = 0
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!
      length += row.fields ? lineLength(l.origin, first + i, row.id, row.fields) : 1
    }
    const buf = Buffer.allocUnsafe(length)
    let end = 0
    for (let i = 0; i < rows.length; i++) {
      const index = first + i
      const row = rows[i]!
      if (index % MARK_EVERY === 0) newMarks.push(at + end)
      if (row.fields) end = putJsonlLine(buf, end, l.origin, index, row.id, row.fields)
      else buf[end++] = NL
      if (row.revokes) {
        const target = await this.store.locate(row.revokes)
        if (target && target.origin === l.origin && target.index < index) pairs.push(target.index, index)
      }
    }
    if (end !== length) throw new LedgerError('STORAGE_CORRUPT', `set-lines of ${l.origin}: lines ${first}.. came to ${end} bytes, not ${length}`)
    await l.lines.write(buf, 0, buf.length, at)
    at += buf.length
    if (newMarks.length > 0) {
      const mb = Buffer.alloc(newMarks.length * 8)
      newMarks.forEach((m, i) => mb.writeBigUInt64LE(BigInt(m), i * 8))
      await l.marksFile.write(mb, 0, mb.length, l.marks.length * 8)
      l.marks.push(...newMarks)
    }
    if (pairs.length > 0) {
      const pb = Buffer.alloc(pairs.length * 8)
      pairs.forEach((v, i) => pb.writeBigUInt64LE(BigInt(v), i * 8))
      await l.removedFile.write(pb, 0, pb.length, l.removedCount * 16)
      for (let i = 0; i < pairs.length; i += 2) l.removed.set(pairs[i]!, pairs[i + 1]!)
      l.removedCount += pairs.length / 2
    }
    l.bytes = at
    l.written = first + rows.length
    l.dirty = true
    this.linesWritten += rows.length
  }

  /** Overwrites line `index` with spaces (its value leaves the file) and makes that durable at once. */
  private async blank(l: LogFiles, index: number): Promise<void> {
    await this.blankAt(l, await this.findLine(l, index))
  }

  private async blankAt(l: LogFiles, { offset, length }: { offset: number; length: number }): Promise<void> {
    if (length === 0) return
    await l.lines.write(Buffer.alloc(length, 0x20), 0, length, offset)
    await l.lines.datasync()
  }

  /** Byte offset and length (without the newline) of a written line. */
  private async findLine(l: LogFiles, index: number): Promise<{ offset: number; length: number }> {
    if (index >= l.written) throw new LedgerError('STORAGE_CORRUPT', `set-lines of ${l.origin}: line ${index} is not written`)
    let offset = l.marks[Math.floor(index / MARK_EVERY)]!
    let skip = index % MARK_EVERY
    const buf = Buffer.alloc(READ_CHUNK)
    for (;;) {
      const { bytesRead } = await l.lines.read(buf, 0, buf.length, offset)
      if (bytesRead === 0) throw new LedgerError('STORAGE_CORRUPT', `set-lines of ${l.origin}: line ${index} is past the end of the file`)
      let p = 0
      while (skip > 0) {
        const nl = buf.indexOf(NL, p)
        if (nl === -1 || nl >= bytesRead) break
        p = nl + 1
        skip--
      }
      if (skip > 0) {
        offset += bytesRead
        continue
      }
      const nl = buf.indexOf(NL, p)
      if (nl !== -1 && nl < bytesRead) return { offset: offset + p, length: nl - p }
      // The line runs past this read: read again from its start.
      offset += p
      if (p === 0) throw new LedgerError('STORAGE_CORRUPT', `set-lines of ${l.origin}: line ${index} is longer than ${READ_CHUNK} bytes`)
    }
  }

  // ---------------------------------------------------------------- catching up

  private async catchUpAll(): Promise<void> {
    for (const info of this.store.listLogs()) await this.catchUp(info.origin)
    // Redactions applied while the files were not being written (or lost in a crash): blank their lines.
    for await (const r of this.store.allRedactions()) {
      const l = this.logs.get(r.origin)
      if (!l || r.index >= l.next) continue
      await this.enqueue(async () => {
        const line = await this.findLine(l, r.index)
        const head = Buffer.alloc(1)
        if (line.length > 0) await l.lines.read(head, 0, 1, line.offset)
        if (line.length > 0 && head[0] === OPEN_BRACE) {
          l.redacted.add(r.index)
          await this.blankAt(l, line)
        }
      })
    }
  }

  /** Queues lines for `origin` from the store until the files reach the store's size. */
  private async catchUp(origin: string): Promise<void> {
    const l = await this.logFor(origin)
    while (!this.closed && l.next < this.store.size(origin)) {
      const start = l.next
      const end = Math.min(this.store.size(origin), start + CATCH_UP_CHUNK)
      l.next = end // reserved now, so a batch committed meanwhile is not taken twice
      const rows = this.store.entriesWithIds(origin, start, end).then(({ entries, ids }) => entries.map((e, i) => rowOf(ids[i]!, readStoredRecord(e))))
      await this.enqueue(async () => this.write(l, start, await rows))
    }
  }

  // ---------------------------------------------------------------- durability

  /** Makes written lines durable and advances state.json to them. */
  async flush(): Promise<void> {
    await this.enqueue(async () => {
      const dirty = [...this.logs.values()].filter((l) => l.dirty)
      if (dirty.length === 0) return
      for (const l of dirty) {
        await Promise.all([l.lines.datasync(), l.removedFile.datasync(), l.marksFile.datasync()])
        l.durable = { origin: l.origin, lines: l.written, bytes: l.bytes, removed: l.removedCount, marks: l.marks.length }
        l.dirty = false
      }
      const logs: Record<string, Durable> = {}
      for (const l of this.logs.values()) logs[String(l.num)] = l.durable
      const tmp = join(this.dir, 'state.json.tmp')
      const fh = await open(tmp, 'w', 0o600)
      try {
        await fh.writeFile(JSON.stringify({ format: STATE_FORMAT, logs }) + '\n')
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, join(this.dir, 'state.json'))
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    await this.catchingUp.catch(() => undefined)
    await this.flush()
    for (const l of this.logs.values()) await Promise.all([l.lines.close(), l.removedFile.close(), l.marksFile.close()])
  }

  // ---------------------------------------------------------------- reading

  /** True if every log's lines are written up to `sizes` (waits briefly for queued writes). */
  async ready(sizes: ReadonlyMap<string, number>, waitMs = 2000): Promise<boolean> {
    const ok = () => [...sizes].every(([origin, size]) => size === 0 || (this.logs.get(origin)?.written ?? 0) >= size)
    if (ok()) return true
    await Promise.race([this.queue, new Promise((r) => setTimeout(r, waitMs).unref())])
    return ok()
  }

  /**
   * The snapshot as of `sizes` (logs in origin order), in chunks of about
   * READ_CHUNK bytes, ending with the cursor line. Call `ready(sizes)` first.
   */
  async *stream(sizes: ReadonlyMap<string, number>, cursor: string): AsyncGenerator<Buffer> {
    let count = 0
    for (const origin of [...sizes.keys()].sort()) {
      const size = sizes.get(origin)!
      if (size === 0) continue
      const l = this.logs.get(origin)
      if (!l || l.written < size) throw new LedgerError('STORAGE_CORRUPT', `set-lines of ${origin} hold ${l?.written ?? 0} lines, not ${size}`)
      const fh = await open(join(this.dir, `${l.num}.jsonl`), 'r')
      try {
        let line = 0
        let offset = 0
        let carry: Buffer | undefined
        while (line < size) {
          const fresh = Buffer.allocUnsafe(READ_CHUNK)
          const { bytesRead } = await fh.read(fresh, 0, READ_CHUNK, offset)
          if (bytesRead === 0) throw new LedgerError('STORAGE_CORRUPT', `set-lines of ${origin} end at line ${line} of ${size}`)
          offset += bytesRead
          const buf: Buffer = carry ? Buffer.concat([carry, fresh.subarray(0, bytesRead)]) : fresh.subarray(0, bytesRead)
          carry = undefined
          const out: Buffer[] = []
          let runStart = 0
          let p = 0
          while (line < size) {
            const nl = buf.indexOf(NL, p)
            if (nl === -1) break
            // Keep the line if it is an indicator's, not revoked below `size`, not redacted.
            const revokedAt = l.removed.get(line)
            const keep = nl > p && buf[p] === OPEN_BRACE && (revokedAt === undefined || revokedAt >= size) && !l.redacted.has(line)
            if (keep) count++
            else {
              if (p > runStart) out.push(buf.subarray(runStart, p))
              runStart = nl + 1
            }
            p = nl + 1
            line++
          }
          if (p > runStart) out.push(buf.subarray(runStart, p))
          if (line < size && p < buf.length) carry = Buffer.from(buf.subarray(p))
          if (out.length === 1) yield out[0]!
          else if (out.length > 1) yield Buffer.concat(out)
        }
      } finally {
        await fh.close()
      }
    }
    yield Buffer.from(JSON.stringify({ cursor, count }) + '\n')
  }
}

/** Where a node keeps its set lines. */
export function setLinesDir(dataDir: string): string {
  return join(dataDir, 'set-lines')
}
