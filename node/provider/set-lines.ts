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
 *
 * No file is trusted because it is there. At start each log's lines are
 * checked against the store in the background (set-lines-check.ts) and
 * snapshots of it are rendered from the store until that is done; a line,
 * mark, revocation pair or state that does not match is logged (one JSON
 * line: log, index, what), counted (stats(), cairn_set_lines_mismatches_total)
 * and the log's files are rebuilt from the store. Lines checked or written
 * by this process have a checksum per 1024 (set-lines-sums.ts), and a
 * snapshot read from a file is checked block by block before it is sent: a
 * block changed under the running node is found, that log is rebuilt, and
 * the snapshot goes on from the store.
 */
import { open, mkdir, chmod, readFile, type FileHandle } from 'node:fs/promises'
import { constants } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { toHex } from '../../protocol/bytes.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { replaceFile } from '../../client/durable-file.ts'
import type { Store, AppendItem, RedactedItem, StoreObserver } from '../storage/store.ts'
import { readStoredRecord } from '../../protocol/stored-record.ts'
import type { Logger } from '../logger.ts'
import { putJsonlLine, lineLength, snapshotTrailer, type LineFields } from './jsonl-line.ts'
import { checkChunk, readChunk, readLines, type LineMismatch } from './set-lines-check.ts'
import { BlockSums, blockSum } from './set-lines-sums.ts'
import { keptLines, liveLines } from './set-lines-read.ts'

/**
 * 2: lines carry quality, ref and expires (files of format 1 are rebuilt from
 * the store). A change in how jsonl-line.ts renders a line needs a new format:
 * files checked by their recorded sums are not rendered again.
 */
const STATE_FORMAT = 'cairn-set-lines/2'
const MARK_EVERY = 1024
const CATCH_UP_CHUNK = 4096
/**
 * Lines per step of the check at start: a step's compare runs on the main
 * thread without yielding, so it is kept short (requests wait behind it;
 * 4096 held the loop for tens of ms). A multiple of MARK_EVERY.
 */
const CHECK_CHUNK = 1024
const FLUSH_MS = 1000
/** Bytes read at a time when a log's files are checked against their recorded sums (whole blocks, at least one). */
const SUMS_READ = 8 << 20
const NL = 10
const SPACE = 0x20
const OPEN_BRACE = 0x7b
const EMPTY = (origin: string): Durable => ({ origin, lines: 0, bytes: 0, removed: 0, marks: 0 })

interface Durable {
  origin: string
  lines: number
  bytes: number
  removed: number
  marks: number
  /**
   * What the next start checks the files against instead of every line
   * (checkBySums): the tree root of the store's log at `lines` entries (hex),
   * each block's sum (CRC-32, u32 LE, base64) and the CRC-32 of the marks and
   * of the revocation pairs. Recorded only of files known to match the store.
   */
  root?: string
  sums?: string
  marksSum?: number
  removedSum?: number
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
  /** CRC-32 of the bytes of [0, marks.length) marks and of [0, removedCount) revocation pairs. */
  marksCrc: number
  removedCrc: number
  /** Lines redacted since open: never streamed, even by a stream that read them before they were blanked. */
  redacted: Set<number>
  durable: Durable
  dirty: boolean
  /**
   * Lines [0, written) are what the store gives (checked at start, or written
   * by this process) and `sums` hold their blocks: snapshots may be read from
   * the file. False while the check runs or the files are being rebuilt.
   */
  checked: boolean
  sums: BlockSums
}

/** Where a mismatch was found: checking the files at start, or reading them for a snapshot. */
export type MismatchStage = 'start' | 'serve'

export interface SetLinesStats {
  /** Mismatches found (each rebuilt the log's files), by log and stage. */
  mismatches: { log: string; stage: MismatchStage; count: number }[]
  /** Logs whose files are being checked or rebuilt: their snapshots are rendered from the store meanwhile. */
  unchecked: number
}

/** A state.json entry that could have been written: whole numbers, one mark per 1024 lines, a byte at least per line. */
function plausible(d: Durable): boolean {
  const whole = [d.lines, d.bytes, d.removed, d.marks].every((n) => Number.isSafeInteger(n) && n >= 0)
  return whole && d.marks === Math.ceil(d.lines / MARK_EVERY) && d.bytes >= d.lines
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
  private readonly mismatches = new Map<string, number>()
  /** The store's redaction digest (Store.redactionDigest, hex) as state.json last recorded it with the sums, and as this process last wrote it. */
  private savedRedactions: string | undefined
  private writtenRedactions: string | undefined

  private constructor(private readonly dir: string, private readonly store: Store, private readonly log?: Logger, private readonly everyLine = false) {}

  /**
   * Opens the files under `dir` for `store`, cuts them back to their last
   * durable state, registers as the store's observer and starts catching up
   * with the store in the background (`caughtUp()` resolves when done).
   * `everyLine`: files are checked line by line against the store even if
   * their recorded sums match (`cairn node check`).
   */
  static async open(dir: string, store: Store, log?: Logger, opts: { everyLine?: boolean } = {}): Promise<SetLines> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await chmod(dir, 0o700)
    const s = new SetLines(dir, store, log, opts.everyLine)
    let saved: Record<string, Durable> = {}
    // Without a state that can be read, files that hold lines are not trusted: each such log is rebuilt (and the mismatch counted).
    let stateProblem: string | undefined
    let text: string | undefined
    try {
      text = await readFile(join(dir, 'state.json'), 'utf8')
    } catch {
      stateProblem = 'state.json is missing' // a new node, or lost
    }
    if (text !== undefined) {
      try {
        const st = JSON.parse(text) as { format?: string; logs?: Record<string, Durable>; redactions?: unknown }
        if (typeof st.redactions === 'string') s.savedRedactions = st.redactions
        if (st.format === STATE_FORMAT && st.logs && typeof st.logs === 'object') saved = st.logs
        else stateProblem = `state.json is not of format ${STATE_FORMAT}`
      } catch {
        stateProblem = 'state.json is not valid JSON'
      }
    }
    for (const info of store.listLogs()) {
      const num = store.logNumber(info.origin)
      await s.openLog(num, info.origin, saved[String(num)], stateProblem)
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
      .then(() => this.checkThenCatchUp(l))
  }

  /** Lines the files hold, over all logs. */
  get lines(): number {
    let n = 0
    for (const l of this.logs.values()) n += l.written
    return n
  }

  /** Mismatches found and logs not (yet) served from their files. */
  stats(): SetLinesStats {
    const mismatches = [...this.mismatches].map(([key, count]) => {
      const [stage, log] = [key.slice(0, key.indexOf(' ')), key.slice(key.indexOf(' ') + 1)]
      return { log, stage: stage as MismatchStage, count }
    })
    return { mismatches, unchecked: [...this.logs.values()].filter((l) => !l.checked).length }
  }

  /** Resolves once every log's lines are written up to the store's size at the time of the call. */
  async caughtUp(): Promise<void> {
    await this.catchingUp
    await this.queue
  }

  private async openLog(num: number, origin: string, saved: Durable | undefined, stateProblem?: string): Promise<LogFiles> {
    // Read-write without O_APPEND: lines are written at known offsets, and a redaction overwrites one in place.
    const file = (ext: string) => open(join(this.dir, `${num}.${ext}`), constants.O_RDWR | constants.O_CREAT, 0o600)
    const lines = await file('jsonl')
    const removedFile = await file('removed')
    const marksFile = await file('marks')
    const [ls, rs, ms] = await Promise.all([lines.stat(), removedFile.stat(), marksFile.stat()])
    let d: Durable = saved ?? EMPTY(origin)
    let problem: string | undefined
    if (!saved && stateProblem && ls.size > 0) problem = stateProblem
    else if (saved && saved.origin !== origin) problem = `state.json names ${String(saved.origin)} for ${num}.jsonl`
    else if (saved && !plausible(saved)) problem = `state.json holds ${JSON.stringify(saved)} for ${num}.jsonl, which no node writes`
    if (problem) {
      this.found(origin, num, { index: 0, what: problem }, 'start')
      d = EMPTY(origin)
    }
    // Bytes past the durable state (written before a crash) are cut off; a file shorter than its state is left as it is, for the check to name the first line missing.
    await Promise.all(([[lines, ls.size, d.bytes], [removedFile, rs.size, d.removed * 16], [marksFile, ms.size, d.marks * 8]] as const)
      .map(([fh, size, want]) => (size > want ? fh.truncate(want) : undefined)))
    const removed = new Map<number, number>()
    let removedCount = 0
    let removedCrc = 0
    if (d.removed > 0) {
      const b = Buffer.alloc(d.removed * 16)
      removedCount = Math.floor((await removedFile.read(b, 0, b.length, 0)).bytesRead / 16)
      for (let i = 0; i < removedCount; i++) removed.set(Number(b.readBigUInt64LE(i * 16)), Number(b.readBigUInt64LE(i * 16 + 8)))
      removedCrc = crc32(b.subarray(0, removedCount * 16))
    }
    const marks: number[] = []
    let marksCrc = 0
    if (d.marks > 0) {
      const b = Buffer.alloc(d.marks * 8)
      const n = Math.floor((await marksFile.read(b, 0, b.length, 0)).bytesRead / 8)
      for (let i = 0; i < n; i++) marks.push(Number(b.readBigUInt64LE(i * 8)))
      marksCrc = crc32(b.subarray(0, n * 8))
    }
    const l: LogFiles = {
      num, origin, lines, removedFile, marksFile, next: d.lines, written: d.lines, bytes: d.bytes, marks, removed,
      removedCount, marksCrc, removedCrc, redacted: new Set(), durable: { ...d }, dirty: d !== saved,
      checked: d.lines === 0, sums: new BlockSums(),
    }
    this.logs.set(origin, l)
    return l
  }

  // ---------------------------------------------------------------- checking

  /** Logs a mismatch (one JSON line: log, index, what) and counts it; the caller rebuilds the log's files. */
  private found(origin: string, num: number, m: LineMismatch, stage: MismatchStage): void {
    const key = `${stage} ${origin}`
    this.mismatches.set(key, (this.mismatches.get(key) ?? 0) + 1)
    this.log?.error({ event: 'set_lines_mismatch', log: origin, index: m.index, what: m.what, stage, file: `${num}.jsonl` },
      `set-lines: ${num}.jsonl does not match the store at line ${m.index} (${m.what}); it is rebuilt from the store, and snapshots of ${origin} are rendered from the store until then`)
  }

  /**
   * Checks lines [0, written) of a log against the store (set-lines-check.ts)
   * and takes their block sums; true if all match. Each chunk is compared in
   * the queue (a redaction's blanking does not run under it); the next
   * chunk's entries are read from the store meanwhile.
   */
  private async check(l: LogFiles): Promise<LineMismatch | undefined> {
    const lines = l.written
    const read = (first: number) => this.store.entriesWithIds(l.origin, first, Math.min(lines, first + CHECK_CHUNK))
      .then(async ({ entries, ids }) => {
        const chunk = readChunk(entries, ids)
        // Revocation pairs the store gives for these lines (as write() makes them); the record index is asked for all of them at once.
        const located = await Promise.all(chunk.revocations.map((r) => this.store.locate(r.target)))
        const pairs: [number, number][] = []
        chunk.revocations.forEach(({ i }, k) => {
          const target = located[k]
          if (target && target.origin === l.origin && target.index < first + i) pairs.push([target.index, first + i])
        })
        return { chunk, pairs }
      })
    l.sums.reset()
    let at = 0
    let pairs = 0
    let next = lines > 0 ? read(0) : undefined
    for (let first = 0; first < lines; first += CHECK_CHUNK) {
      if (this.closed) return undefined
      const got = await next!
      next = first + CHECK_CHUNK < lines ? read(first + CHECK_CHUNK) : undefined
      next?.catch(() => undefined)
      for (const [target, by] of got.pairs) {
        if (l.removed.get(target) !== by) return { index: by, what: `its revocation of line ${target} is not in ${l.num}.removed` }
      }
      pairs += got.pairs.length
      const m = await this.enqueue(async () => {
        const count = got.chunk.entries.length
        const guess = (l.marks[(first + count) / MARK_EVERY] ?? l.bytes) - at
        const buf = await readLines(l.lines, at, count, Math.min(Math.max(guess, 0), 16 << 20))
        const c = checkChunk(l.origin, first, got.chunk, buf, at, l.marks, l.redacted)
        if (c.mismatch) return c.mismatch
        // Values of entries redacted while nobody kept the files: blanked now, in the file and in what is summed.
        for (const p of c.pending) {
          buf.fill(SPACE, p.start, p.end)
          await l.lines.write(buf, p.start, p.end - p.start, at + p.start)
          l.redacted.add(p.index)
        }
        if (c.pending.length > 0) await l.lines.datasync()
        const starts: number[] = []
        for (let k = Math.ceil(first / MARK_EVERY); k * MARK_EVERY < first + count; k++) starts.push(l.marks[k]!)
        l.sums.append(buf.subarray(0, c.end - at), at, starts)
        at = c.end
        return undefined
      })
      if (m) return m
    }
    if (at !== l.bytes) return { index: lines, what: `state.json says the lines end at byte ${l.bytes}, they end at ${at}` }
    if (l.marks.length !== Math.ceil(lines / MARK_EVERY)) return { index: lines, what: `${l.num}.marks holds ${l.marks.length} marks, not ${Math.ceil(lines / MARK_EVERY)}` }
    if (pairs !== l.removedCount) return { index: lines, what: `${l.num}.removed holds ${l.removedCount} revocations, the store ${pairs}` }
    return undefined
  }

  /**
   * What a flush records for the next start to check by (Durable.root etc.):
   * only of files known to match the store, with a sum for every block.
   */
  private async sumsOf(l: LogFiles): Promise<Pick<Durable, 'root' | 'sums' | 'marksSum' | 'removedSum'>> {
    if (!l.checked || l.written === 0 || l.sums.length !== l.marks.length) return {}
    let root: Uint8Array
    try {
      root = await this.store.root(l.origin, l.written)
    } catch {
      return {} // the log cannot be read now (damaged, withheld until healed): the next start checks every line
    }
    const sums = Buffer.alloc(l.sums.length * 4)
    for (let k = 0; k < l.sums.length; k++) sums.writeUInt32LE(l.sums.sum(k)!, k * 4)
    return { root: toHex(root), sums: sums.toString('base64'), marksSum: l.marksCrc, removedSum: l.removedCrc }
  }

  /**
   * The check at start when the last flush recorded sums: the store's log
   * still has the root it had at that many lines (so the lines it gives are
   * the ones summed; a redaction since is blanked by catchUpAll), the marks
   * and revocation pairs have their CRC-32, and every block of the lines file
   * its sum. A sequential read of the file instead of every entry of the
   * store. True, or why every line is to be checked against the store.
   */
  private async checkBySums(l: LogFiles): Promise<true | string> {
    const d = l.durable
    if (typeof d.root !== 'string' || typeof d.sums !== 'string') return 'no sums were recorded'
    const sums = Buffer.from(d.sums, 'base64')
    const blocks = l.marks.length
    if (sums.length !== blocks * 4 || l.removedCount !== d.removed) return 'the recorded sums do not cover the files'
    if (d.marksSum !== l.marksCrc || d.removedSum !== l.removedCrc) return `${l.num}.marks or ${l.num}.removed does not match its recorded sum`
    if (this.store.size(l.origin) < d.lines) return `the store holds fewer than ${d.lines} entries`
    let root: string
    try {
      root = toHex(await this.store.root(l.origin, d.lines))
      // A store whose redactions differ (an older copy of it, say) may hold values the files have blanked.
      if (this.savedRedactions !== toHex(await this.store.redactionDigest())) return 'the store\'s redactions are not the ones recorded with the sums'
    } catch (e) {
      return `the store could not be read: ${(e as Error).message}`
    }
    if (root !== d.root) return `the store's root at ${d.lines} entries is not the one recorded`
    const want: number[] = []
    for (let k = 0; k < blocks; k++) want.push(sums.readUInt32LE(k * 4))
    const ends = (k: number) => l.marks[k + 1] ?? l.bytes
    l.sums.reset()
    for (let k = 0; k < blocks && !this.closed;) {
      let last = k
      while (last + 1 < blocks && ends(last + 1) - l.marks[k]! <= SUMS_READ) last++
      const start = l.marks[k]!
      // Read and summed in the queue, so a line blanked meanwhile is not half read; the blocks' sums are
      // taken at once, so a line blanked after this (a redaction) is summed anew (blankLine).
      const bad = await this.enqueue(async () => {
        const buf = Buffer.allocUnsafe(ends(last) - start)
        const { bytesRead } = await l.lines.read(buf, 0, buf.length, start)
        if (bytesRead !== buf.length) return `${l.num}.jsonl ends at byte ${start + bytesRead}, before ${start + buf.length}`
        for (let j = k; j <= last; j++) {
          if (blockSum(buf.subarray(l.marks[j]! - start, ends(j) - start)) !== want[j]) return `lines ${j * MARK_EVERY}..${j * MARK_EVERY + MARK_EVERY - 1} do not match their recorded sum`
        }
        l.sums.load(want.slice(0, last + 1))
        return undefined
      })
      if (bad) {
        l.sums.reset()
        return bad
      }
      k = last + 1
    }
    if (this.closed) return 'closed'
    // Redactions applied since (the node stopped before their lines were blanked): never served, blanked now.
    await this.blankRedactions(l)
    return true
  }

  /**
   * Marks the log's applied redactions of lines it holds as redacted (never
   * streamed) and blanks those lines, one after another in the queue; lines
   * already marked are left as they are.
   */
  private async blankRedactions(l: LogFiles): Promise<void> {
    for (let from = 0; ;) {
      let n = 0
      for await (const r of this.store.redactions(l.origin, from, 1000)) {
        n++
        from = r.index + 1
        if (!r.applied || r.index >= l.next || l.redacted.has(r.index)) continue
        l.redacted.add(r.index)
        await this.enqueue(() => this.blankLine(l, r.index, true))
      }
      if (n < 1000) break
    }
  }

  /** Checks a log's files if they are not known good (rebuilding them on a mismatch), then catches them up with the store. */
  private async checkThenCatchUp(l: LogFiles): Promise<void> {
    if (!l.checked && !this.closed) {
      let m: LineMismatch | undefined
      let bySums: true | string
      const t0 = performance.now()
      try {
        bySums = this.everyLine ? 'asked to check every line' : await this.checkBySums(l)
        if (bySums !== true && !this.closed) {
          this.log?.info({ log: l.origin, lines: l.written, reason: bySums }, `set-lines: checking every line of ${l.num}.jsonl against the store (${bySums}); its snapshots are rendered from the store until then`)
          m = await this.check(l)
        }
      } catch (e) {
        // The store could not be read (a damaged log is withheld until healed; resume() checks again): the files stay unused.
        this.log?.warn(`set-lines: checking the files of ${l.origin} failed: ${(e as Error).message}; its snapshots are rendered from the store`)
        return
      }
      if (this.closed) return
      if (m) {
        this.found(l.origin, l.num, m, 'start')
        l.next = 0
        await this.enqueue(() => this.reset(l))
      } else {
        l.checked = true
        // Sums taken by a check of every line are recorded, so that the next start checks by them.
        if (bySums !== true) l.dirty = true
        const how = bySums === true ? 'the sums recorded with the store\'s root' : 'the store'
        this.log?.info({ log: l.origin, lines: l.written, seconds: Math.round(performance.now() - t0) / 1000 }, `set-lines: the files match ${how}; snapshots are read from them`)
      }
    }
    await this.catchUp(l.origin)
  }

  /** Empties a log's files (a mismatch was found): the catch-up writes them again from the store. Runs in the queue. */
  private async reset(l: LogFiles): Promise<void> {
    await Promise.all([l.lines.truncate(0), l.removedFile.truncate(0), l.marksFile.truncate(0)])
    // `next` was set to 0 when the rebuild was decided: a catch-up may have reserved lines since.
    Object.assign(l, { written: 0, bytes: 0, marks: [], removedCount: 0, marksCrc: 0, removedCrc: 0, dirty: true, checked: true })
    l.removed.clear()
    l.redacted.clear()
    l.sums.reset()
  }

  /** A mismatch found while serving: the log is no longer read from its files; they are rebuilt from the store. */
  private rebuild(l: LogFiles, m: LineMismatch): void {
    if (!l.checked || this.closed) return // already being rebuilt (or checked)
    this.found(l.origin, l.num, m, 'serve')
    l.checked = false
    l.next = 0 // from now on appended() leaves the log to the catch-up
    void this.enqueue(() => this.reset(l))
    this.catchingUp = this.catchingUp.catch(() => undefined).then(() => this.catchUp(l.origin))
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
    // A log this object does not know yet, that is behind, or whose files are being checked: the catch-up loop reads these entries from the store.
    if (this.closed || !l || !l.checked || first !== l.next) {
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
    void this.enqueue(() => this.blankLine(l, index, false))
  }

  /** Store observer: `origin` was cut back to `size` entries (fork resolution): its files are written again from the store. */
  truncated(origin: string, size: number): void {
    const l = this.logs.get(origin)
    if (!l || this.closed || size >= l.next) return
    l.checked = false
    l.next = 0
    void this.enqueue(() => this.reset(l))
    this.catchingUp = this.catchingUp.catch(() => undefined).then(() => this.catchUp(l.origin))
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
    l.sums.append(buf, at, newMarks)
    await l.lines.write(buf, 0, buf.length, at)
    at += buf.length
    if (newMarks.length > 0) {
      const mb = Buffer.alloc(newMarks.length * 8)
      newMarks.forEach((m, i) => mb.writeBigUInt64LE(BigInt(m), i * 8))
      await l.marksFile.write(mb, 0, mb.length, l.marks.length * 8)
      l.marks.push(...newMarks)
      l.marksCrc = crc32(mb, l.marksCrc)
    }
    if (pairs.length > 0) {
      const pb = Buffer.alloc(pairs.length * 8)
      pairs.forEach((v, i) => pb.writeBigUInt64LE(BigInt(v), i * 8))
      await l.removedFile.write(pb, 0, pb.length, l.removedCount * 16)
      l.removedCrc = crc32(pb, l.removedCrc)
      for (let i = 0; i < pairs.length; i += 2) l.removed.set(pairs[i]!, pairs[i + 1]!)
      l.removedCount += pairs.length / 2
    }
    l.bytes = at
    l.written = first + rows.length
    l.dirty = true
    this.linesWritten += rows.length
  }

  /**
   * Overwrites line `index` with spaces (its value leaves the file) and makes
   * that durable at once; with `onlyValue`, only a line that holds a value.
   * Its block is read whole: checked against its sum first (a change found
   * here rebuilds the log), summed again after.
   */
  private async blankLine(l: LogFiles, index: number, onlyValue: boolean): Promise<void> {
    if (index >= l.written) return
    const k = Math.floor(index / MARK_EVERY)
    const start = l.marks[k]!
    const buf = Buffer.alloc((l.marks[k + 1] ?? l.bytes) - start)
    await l.lines.read(buf, 0, buf.length, start)
    const summed = k < l.sums.length
    if (summed && !l.sums.matches(k, buf)) return this.rebuild(l, { index: k * MARK_EVERY, what: `lines ${k * MARK_EVERY}..${k * MARK_EVERY + MARK_EVERY - 1} do not match their checksum` })
    let p = 0
    let nl = buf.indexOf(NL, p)
    for (let skip = index % MARK_EVERY; skip > 0 && nl !== -1; skip--) {
      p = nl + 1
      nl = buf.indexOf(NL, p)
    }
    if (nl === -1) throw new LedgerError('STORAGE_CORRUPT', `set-lines of ${l.origin}: line ${index} is not in its block`)
    if (nl === p || (onlyValue && buf[p] !== OPEN_BRACE)) return
    buf.fill(SPACE, p, nl)
    await l.lines.write(buf, p, nl - p, start + p)
    await l.lines.datasync()
    if (summed) l.sums.set(k, buf)
    l.dirty = true // the block's new sum is recorded at the next flush
  }

  // ---------------------------------------------------------------- catching up

  private async catchUpAll(): Promise<void> {
    for (const info of this.store.listLogs()) await this.checkThenCatchUp(await this.logFor(info.origin))
    // Redactions applied while the files were not being written (or lost in a crash): blank their lines.
    for (const l of this.logs.values()) if (l.checked) await this.blankRedactions(l)
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
      const redactions = toHex(await this.store.redactionDigest())
      if (dirty.length === 0 && redactions === this.writtenRedactions) return
      for (const l of dirty) {
        await Promise.all([l.lines.datasync(), l.removedFile.datasync(), l.marksFile.datasync()])
        l.durable = { origin: l.origin, lines: l.written, bytes: l.bytes, removed: l.removedCount, marks: l.marks.length, ...await this.sumsOf(l) }
        l.dirty = false
      }
      const logs: Record<string, Durable> = {}
      for (const l of this.logs.values()) logs[String(l.num)] = l.durable
      await replaceFile(join(this.dir, 'state.json'), JSON.stringify({ format: STATE_FORMAT, logs, redactions }) + '\n', 0o600)
      this.writtenRedactions = redactions
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
    const held = (origin: string, size: number) => {
      const l = this.logs.get(origin)
      return size === 0 || (l !== undefined && l.checked && l.written >= size)
    }
    const ok = () => [...sizes].every(([origin, size]) => held(origin, size))
    if (ok()) return true
    // A log being checked or rebuilt will not be ready within a short wait.
    if ([...sizes].some(([origin, size]) => size > 0 && this.logs.get(origin)?.checked === false)) return false
    await Promise.race([this.queue, new Promise((r) => setTimeout(r, waitMs).unref())])
    return ok()
  }

  /**
   * The snapshot as of `sizes` (logs in origin order), a block of 1024 lines
   * at a time, ending with the cursor line; `extrasOf` gives, per log, text
   * to put before the closing brace of some lines (their opinions). Call `ready(sizes)` first. Each
   * block is checked against its sum before anything of it is sent; from a
   * block that does not match (or for a log whose files are not checked),
   * the log's lines are rendered from the store, and the log is rebuilt.
   */
  async *stream(sizes: ReadonlyMap<string, number>, cursor: string, extrasOf?: (origin: string, size: number) => ReadonlyMap<number, string>): AsyncGenerator<Buffer> {
    let count = 0
    for (const origin of [...sizes.keys()].sort()) {
      const size = sizes.get(origin)!
      if (size === 0) continue
      const l = this.logs.get(origin)
      // Text added to some lines (their opinions), by line; few lines have any.
      const extras = extrasOf?.(origin, size)
      const extraBlocks = new Set(extras ? [...extras.keys()].map((i) => Math.floor(i / MARK_EVERY)) : [])
      if (!l || !l.checked || l.written < size) {
        count += yield* liveLines(this.store, origin, 0, size, extras)
        continue
      }
      const fh = await open(join(this.dir, `${l.num}.jsonl`), 'r')
      try {
        const blocks = Math.ceil(size / MARK_EVERY)
        // The next block is read while this one is checked and sent.
        let next: Promise<Block | undefined> | undefined = this.readBlock(fh, l, 0)
        for (let k = 0; k < blocks; k++) {
          let block = await next!
          next = k + 1 < blocks ? this.readBlock(fh, l, k + 1) : undefined
          next?.catch(() => undefined)
          if (block && blockSum(block.bytes) !== block.sum) {
            // A redaction may have blanked a line between the read and its sum: read again once the queue is idle.
            await this.queue
            block = await this.readBlock(fh, l, k)
            if (block && blockSum(block.bytes) !== block.sum) {
              this.rebuild(l, { index: k * MARK_EVERY, what: `lines ${k * MARK_EVERY}..${k * MARK_EVERY + MARK_EVERY - 1} do not match their checksum` })
              block = undefined
            }
            next = undefined
          }
          if (!block || !l.checked) {
            count += yield* liveLines(this.store, origin, k * MARK_EVERY, size, extras)
            break
          }
          const { out, kept } = keptLines(block.bytes, k * MARK_EVERY, size, l.removed, l.redacted, extraBlocks.has(k) ? extras : undefined)
          count += kept
          if (out.length === 1) yield out[0]!
          else if (out.length > 1) yield Buffer.concat(out)
          if (!next && k + 1 < blocks) next = this.readBlock(fh, l, k + 1)
        }
      } finally {
        await fh.close()
      }
    }
    yield Buffer.from(await snapshotTrailer(this.store, sizes, cursor, count))
  }

  /** Block k of a log's file with its sum, taken together (the last block grows as lines are written); undefined if the log is not served from its files. */
  private async readBlock(fh: FileHandle, l: LogFiles, k: number): Promise<Block | undefined> {
    const start = l.marks[k]
    const sum = l.sums.sum(k)
    if (!l.checked || start === undefined || sum === undefined) return undefined
    const bytes = Buffer.allocUnsafe((l.marks[k + 1] ?? l.bytes) - start)
    const { bytesRead } = await fh.read(bytes, 0, bytes.length, start)
    return { bytes: bytes.subarray(0, bytesRead), sum }
  }
}

interface Block {
  bytes: Buffer
  sum: number
}

/** Where a node keeps its set lines. */
export function setLinesDir(dataDir: string): string {
  return join(dataDir, 'set-lines')
}
