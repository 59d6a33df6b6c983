/**
 * `cairn sync --from-snapshot`: a provider's first sync from a jsonl snapshot
 * with entries (GET /feed/snapshot?format=jsonl&entries=1, or a static
 * mirror's snapshot/<cursor>.jsonl; spec/api.md §A.5.5), as a SyncSource
 * wrapping the node's feed or the mirror the sync names. Nothing in the
 * snapshot is trusted: client/sync.ts checks what this hands it exactly as it
 * checks a feed page.
 *
 * Per log of the snapshot's trailer, the blocks cover the entries
 * [0, size of the trailer's checkpoint) and claim that checkpoint: the entry
 * of every index a line covers comes from the line, every other index (a
 * revocation, a revoked or redacted indicator, an attestation, a roster
 * change, a line left out) is read from the underlying source. So the copy
 * ends exactly at the snapshot's cosigned checkpoints, and a later normal
 * `cairn sync` continues from there.
 *
 * Before anything is handed on, the whole file is read once: every line's
 * entry must hash (SHA-256(0x00 ‖ entry)) to its `id`, decode to an indicator
 * of its `log` at its `seq`, and show the entry's own fields; lines of a log
 * come in entry order, at most one per index, below the checkpoint's size;
 * the trailer is the last line and counts the lines. Then the entries the
 * lines leave out are read from the source and every log's tree is hashed:
 * its root must be the checkpoint's. Any failure refuses the whole snapshot
 * with one line (line number and field), before the copy changes. From the
 * leaf hashes the wrapper keeps the hashes of full 256-entry tiles and the
 * last partial tile, from which it computes the consistency proof of each
 * block (blocks end on a multiple of 256, or at the checkpoint's size).
 * Memory: about 100 bytes a line (its place, its id), 32 bytes per 256 entries, and the entries
 * read from the source (up to 256 MiB; beyond that they are read again).
 */
import { createReadStream, createWriteStream, mkdtempSync, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { LedgerError, type ErrorCode } from '../protocol/errors.ts'
import { fromBase64, toHex, equalBytes } from '../protocol/bytes.ts'
import { leafHash, nodeHash } from '../protocol/hash.ts'
import { consistencyProof, rootAt } from '../protocol/merkle.ts'
import { parseCheckpointNote } from '../protocol/checkpoint.ts'
import { decodeCursor } from '../protocol/feed-cursor.ts'
import { readStoredRecord, type StoredRecord } from '../protocol/stored-record.ts'
import { isRedactionMarker, markerNotice, readNoticeUnverified } from '../protocol/redaction.ts'
import { TILE_WIDTH } from '../protocol/tiles.ts'
import type { Subscription } from '../protocol/subscription.ts'
import { request, type Endpoint } from './http.ts'
import { readMirrorFile } from './mirror-source.ts'
import type { SyncBlock, SyncPage, SyncPosition, SyncSource } from './sync-source.ts'

const TILE_LEVEL = 8 // log2(TILE_WIDTH)
const MAX_FETCH = 10_000
const CACHE_BYTES = 256 * 1024 * 1024
const MAX_LINE = 1024 * 1024

/** Where the snapshot is: a local file, a URL, or the word `node` / `mirror` for the sync's own source. */
export interface SnapshotOptions {
  snapshot: string
  node?: string
  from?: string
  token?: string
  fetch?: typeof fetch
}

/** What a snapshot sync read: lines verified and used, entries read from the source to complete the logs. */
export interface SnapshotCounts {
  lines: number
  fetched: number
}

/** One log of the snapshot: its checkpoint, its lines' places in the file, and its tree's hashes once computed. */
interface SnapLog {
  origin: string
  note: string
  size: number
  root: Uint8Array
  seqs: number[]
  offsets: number[]
  lengths: number[]
  lineNos: number[]
  ids: Uint8Array[]
  /** Hashes of the full tiles (level 8 nodes), and the leaves of the last partial tile. */
  tiles: Uint8Array[]
  tail: Uint8Array[]
  memo: Map<string, Uint8Array>
}

const Trailer = z.object({ cursor: z.string(), count: z.number().int().min(0), checkpoints: z.record(z.string(), z.string()) }).strict()
const Latest = z.object({ cursor: z.string(), path: z.string().regex(/^snapshot\/[A-Za-z0-9_-]+\.jsonl$/), checkpoints: z.record(z.string(), z.string()) }).passthrough()

/** The string fields a line shows, compared with its entry's. */
const TEXT_FIELDS = ['alg', 'category', 'kind', 'media', 'ref'] as const
const NUMBER_FIELDS = ['quality', 'expires', 'time'] as const

export class SnapshotSource implements SyncSource {
  readonly kind: string
  readonly url: string
  readonly counts: SnapshotCounts = { lines: 0, fetched: 0 }
  private loaded?: Promise<SnapLog[]>
  private file = ''
  private where = ''
  private tmp?: string
  private cache = new Map<string, Map<number, Uint8Array>>()
  private cached = 0
  private others: string[] = []
  /** Blocks of the logs the snapshot does not name (size 0 in it) that the source holds at size 0 too, as a first sync takes them. */
  private empties: SyncBlock[] = []

  constructor(private readonly under: SyncSource, private readonly o: SnapshotOptions) {
    this.kind = under.kind
    this.url = under.url
  }

  listLogs(): Promise<unknown> {
    return this.under.listLogs()
  }

  /** Removes a downloaded snapshot. */
  close(): void {
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true })
    this.tmp = undefined
  }

  private refuse(code: ErrorCode, why: string): never {
    throw new LedgerError(code, `refusing the snapshot ${this.where}: ${why}; the local copy is unchanged`)
  }

  async page(position: SyncPosition, limit: number, _sub: Subscription | undefined): Promise<SyncPage> {
    const logs = await (this.loaded ??= this.load())
    let budget = Math.max(limit, TILE_WIDTH)
    let more = false
    const blocks: SyncBlock[] = []
    for (const l of logs) {
      const from = position.cursor.get(l.origin) ?? 0
      const block: SyncBlock = { origin: l.origin, from, to: from, size: l.size, checkpoint: l.note, checkpointAt: `the trailer of the snapshot ${this.where}`, proof: [], entries: [] }
      blocks.push(block)
      if (from > l.size || (position.verified.get(l.origin) ?? 0) > l.size) {
        block.behind = true
        continue
      }
      let to = Math.min(l.size, from + budget)
      if (to < l.size) to -= to % TILE_WIDTH // proofs are computed from whole tiles (and the last partial one)
      if (to <= from) {
        if (from < l.size) more = true
        continue
      }
      block.entries = await this.entries(l, from, to)
      block.proof = to === l.size ? [] : consistencyProof(to, l.size, (level, index) => this.nodeAt(l, level, index))
      block.to = to
      block.where = (index) => {
        const k = this.lineOf(l, index)
        return k === undefined ? `${this.under.kind} ${this.under.url}` : `line ${l.lineNos[k]} of the snapshot ${this.where}`
      }
      budget -= to - from
      if (to < l.size) more = true
    }
    for (const e of this.empties) if ((position.cursor.get(e.origin) ?? 0) === 0) blocks.push({ ...e, entries: [], proof: [] })
    return { logs: blocks, more }
  }

  /** The index in l's lines of the line for entry `index`, if there is one. */
  private lineOf(l: SnapLog, index: number): number | undefined {
    const k = lowerBound(l.seqs, index)
    return l.seqs[k] === index ? k : undefined
  }

  // ---------------------------------------------------------------- reading the file

  private async load(): Promise<SnapLog[]> {
    const latest = await this.locate()
    try {
      const logs = await this.readLines(latest)
      for (const l of logs) await this.hashTree(l)
      // Logs of size 0 have no checkpoint in the trailer: the source's checkpoint of size 0 is taken as a first sync takes it (a larger one is not: the copy ends at the snapshot).
      const named = new Set(logs.map((l) => l.origin))
      const cursor = new Map(logs.map((l) => [l.origin, Number.MAX_SAFE_INTEGER] as [string, number]))
      const page = await this.under.page({ cursor, verified: new Map() }, 1, undefined)
      this.empties = page.logs.filter((b) => !named.has(b.origin) && !b.behind && b.checkpoint !== undefined && b.size === 0 && b.from === 0)
      return logs
    } catch (e) {
      this.close()
      throw e
    }
  }

  /** Puts the snapshot in a local file (downloading it when it is a URL); for `mirror`, returns latest.json's checkpoints. */
  private async locate(): Promise<Record<string, string> | undefined> {
    const o = this.o
    let url: string | undefined
    let token: string | undefined
    let latest: Record<string, string> | undefined
    if (o.snapshot === 'node') {
      if (!o.node) throw new LedgerError('BAD_REQUEST', '--from-snapshot node reads the snapshot of the node given with --node')
      url = `${o.node.replace(/\/$/, '')}/feed/snapshot?format=jsonl&entries=1`
      token = o.token
    } else if (o.snapshot === 'mirror') {
      if (!o.from) throw new LedgerError('BAD_REQUEST', '--from-snapshot mirror reads the latest snapshot of the mirror given with --from')
      const base = o.from.replace(/\/$/, '')
      const ep: Endpoint = { url: base, token: o.token, fetch: o.fetch }
      let parsed
      try {
        parsed = Latest.safeParse(JSON.parse(Buffer.from(await readMirrorFile(ep, 'snapshot/latest.json', 4 * 1024 * 1024)).toString('utf8')))
      } catch (e) {
        if (e instanceof LedgerError) throw e
        throw new LedgerError('PEER_ERROR', `mirror file ${base}/snapshot/latest.json is not JSON`)
      }
      if (!parsed.success) throw new LedgerError('PEER_ERROR', `mirror file ${base}/snapshot/latest.json does not name a snapshot (${parsed.error.issues[0]?.message})`)
      latest = parsed.data.checkpoints
      url = `${base}/${parsed.data.path}`
      token = o.token
    } else if (/^https?:\/\//i.test(o.snapshot)) {
      url = o.snapshot
      // The token goes only to the node or mirror this sync reads (a snapshot elsewhere, e.g. a presigned URL, gets none).
      const bases = [o.node, o.from].filter((b): b is string => !!b).map((b) => b.replace(/\/$/, '') + '/')
      token = bases.some((b) => url!.startsWith(b)) ? o.token : undefined
    }
    if (url === undefined) {
      this.file = o.snapshot
      this.where = o.snapshot
      try {
        if (!statSync(o.snapshot).isFile()) throw new Error('not a file')
      } catch (e) {
        throw new LedgerError('NOT_FOUND', `--from-snapshot ${o.snapshot}: no such file (give a file, an http(s) URL, "node" or "mirror")`)
      }
      return latest
    }
    this.where = url
    this.tmp = mkdtempSync(join(tmpdir(), 'cairn-snapshot-'))
    this.file = join(this.tmp, 'snapshot.jsonl')
    const res = await request({ url, token, fetch: o.fetch }, 'GET', '', { timeoutMs: 3_600_000 })
    const out = createWriteStream(this.file, { mode: 0o600 })
    try {
      const reader = res.body?.getReader()
      for (let r = await reader?.read(); r && !r.done; r = await reader!.read()) {
        if (!out.write(r.value)) await once(out, 'drain')
      }
    } finally {
      out.end()
      await once(out, 'close')
    }
    return latest
  }

  /** The first pass: every line checked against its entry, its place in the file noted; the trailer checked. */
  private async readLines(latest: Record<string, string> | undefined): Promise<SnapLog[]> {
    const byLog = new Map<string, { seqs: number[]; offsets: number[]; lengths: number[]; lineNos: number[]; ids: Uint8Array[] }>()
    let trailer: z.infer<typeof Trailer> | undefined
    let lineNo = 0
    let lines = 0
    let offset = 0
    let rest: Buffer = Buffer.alloc(0)
    const onLine = (bytes: Buffer, at: number) => {
      lineNo++
      if (trailer) this.refuse('MALFORMED_ENTRY', `line ${lineNo} comes after the trailer line`)
      if (bytes.length > MAX_LINE) this.refuse('TOO_LARGE', `line ${lineNo} is longer than ${MAX_LINE} bytes`)
      let o: unknown
      try {
        o = JSON.parse(bytes.toString('utf8'))
      } catch {
        this.refuse('MALFORMED_ENTRY', `line ${lineNo} is not JSON`)
      }
      if (o && typeof o === 'object' && !Array.isArray(o) && 'checkpoints' in o) {
        const t = Trailer.safeParse(o)
        if (!t.success) this.refuse('MALFORMED_ENTRY', `line ${lineNo}: not a trailer line {cursor, count, checkpoints} (${t.error.issues[0]?.path.join('.')}: ${t.error.issues[0]?.message})`)
        trailer = t.data
        return
      }
      const line = this.checkLine(o, lineNo)
      let log = byLog.get(line.origin)
      if (!log) byLog.set(line.origin, (log = { seqs: [], offsets: [], lengths: [], lineNos: [], ids: [] }))
      const last = log.seqs.length > 0 ? log.seqs[log.seqs.length - 1]! : -1
      if (line.seq === last) this.refuse('SEQ_MISMATCH', `line ${lineNo}: a second line for entry ${line.seq} of ${line.origin} (line ${log.lineNos[log.lineNos.length - 1]})`)
      if (line.seq < last) this.refuse('SEQ_MISMATCH', `line ${lineNo}: entry ${line.seq} of ${line.origin} comes after entry ${last} (lines of a log are in entry order)`)
      log.seqs.push(line.seq)
      log.offsets.push(at)
      log.lengths.push(bytes.length)
      log.lineNos.push(lineNo)
      log.ids.push(line.id)
      lines++
    }
    for await (const chunk of createReadStream(this.file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
      let buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk
      let start = 0
      for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
        onLine(buf.subarray(start, nl), offset + start)
        start = nl + 1
      }
      offset += start
      rest = Buffer.from(buf.subarray(start))
      if (rest.length > MAX_LINE) this.refuse('TOO_LARGE', `line ${lineNo + 1} is longer than ${MAX_LINE} bytes`)
      buf = rest
    }
    if (rest.length > 0) this.refuse('MALFORMED_ENTRY', `the snapshot is truncated: line ${lineNo + 1} does not end with a newline`)
    if (!trailer) this.refuse('MALFORMED_ENTRY', `the snapshot is truncated: it has no trailer line (cursor, count, checkpoints) after its ${lineNo} lines`)
    if (trailer.count !== lines) this.refuse('MALFORMED_ENTRY', `the trailer counts ${trailer.count} lines, the snapshot has ${lines}`)
    if (latest) {
      const same = Object.keys(latest).length === Object.keys(trailer.checkpoints).length && Object.entries(latest).every(([k, v]) => trailer!.checkpoints[k] === v)
      if (!same) this.refuse('INCONSISTENT_CHECKPOINT', 'the checkpoints of snapshot/latest.json are not the ones its trailer names')
    }
    let cursor: Map<string, number>
    try {
      cursor = decodeCursor(trailer.cursor, 'the trailer\'s cursor')
    } catch (e) {
      return this.refuse('MALFORMED_ENTRY', (e as Error).message)
    }
    const logs: SnapLog[] = []
    for (const [origin, note] of Object.entries(trailer.checkpoints)) {
      let cp
      try {
        cp = parseCheckpointNote(note).checkpoint
      } catch (e) {
        return this.refuse('MALFORMED_CHECKPOINT', `the trailer's checkpoint of ${origin} is not a checkpoint note (${(e as Error).message})`)
      }
      if (cp.origin !== origin) this.refuse('WRONG_ORIGIN', `the trailer's checkpoint for ${origin} is one of ${cp.origin}`)
      if ((cursor.get(origin) ?? 0) !== cp.size) this.refuse('INCONSISTENT_CHECKPOINT', `the trailer's cursor says ${cursor.get(origin) ?? 0} entries of ${origin}, its checkpoint ${cp.size}`)
      const log = byLog.get(origin) ?? { seqs: [], offsets: [], lengths: [], lineNos: [], ids: [] }
      const last = log.seqs.length - 1
      if (last >= 0 && log.seqs[last]! >= cp.size) this.refuse('OUT_OF_RANGE', `line ${log.lineNos[last]}: entry ${log.seqs[last]} of ${origin} is beyond the trailer's checkpoint of size ${cp.size}`)
      byLog.delete(origin)
      if (cp.size > 0) logs.push({ origin, note, size: cp.size, root: cp.root, ...log, tiles: [], tail: [], memo: new Map() })
    }
    for (const [origin, log] of byLog) this.refuse('OUT_OF_RANGE', `line ${log.lineNos[0]}: log ${origin} has no checkpoint in the trailer`)
    for (const [origin] of cursor) if (!(origin in trailer.checkpoints)) this.refuse('INCONSISTENT_CHECKPOINT', `the trailer's cursor names ${origin}, its checkpoints do not`)
    this.counts.lines = lines
    logs.sort((a, b) => (a.origin < b.origin ? -1 : 1))
    const listed = z.array(z.object({ origin: z.string() }).passthrough()).safeParse(await this.under.listLogs())
    this.others = [...new Set([...(listed.success ? listed.data.map((l) => l.origin) : []), ...logs.map((l) => l.origin)])]
    return logs
  }

  /** One indicator line: its entry hashes to its id, decodes to an indicator of its log at its seq, with the fields the line shows. */
  private checkLine(o: unknown, n: number): { origin: string; seq: number; id: Uint8Array } {
    if (!o || typeof o !== 'object' || Array.isArray(o)) this.refuse('MALFORMED_ENTRY', `line ${n} is not a JSON object`)
    const line = o as Record<string, unknown>
    if (typeof line.entry !== 'string') this.refuse('MALFORMED_ENTRY', `line ${n} has no "entry" (take the snapshot with entries=1)`)
    let entry: Uint8Array
    try {
      entry = fromBase64(line.entry, 'entry')
    } catch {
      return this.refuse('MALFORMED_ENTRY', `line ${n}: "entry" is not base64`)
    }
    const id = leafHash(entry)
    if (line.id !== toHex(id)) this.refuse('MALFORMED_ENTRY', `line ${n}: "id" is not the leaf hash of the line's entry`)
    let r: StoredRecord
    try {
      if (isRedactionMarker(entry)) throw new Error('a marker')
      r = readStoredRecord(entry)
    } catch {
      return this.refuse('MALFORMED_ENTRY', `line ${n}: "entry" is not a cairn entry`)
    }
    if (r.type !== 'indicator') this.refuse('MALFORMED_ENTRY', `line ${n}: its entry is a ${r.type}, not an indicator`)
    const differs = (field: string) => this.refuse('BAD_FIELD', `line ${n}: "${field}" differs from the line's signed entry (${r.log} #${r.seq})`)
    if (line.log !== r.log) differs('log')
    if (line.seq !== r.seq) differs('seq')
    if (line.value !== toHex(r.value!)) differs('value')
    for (const f of TEXT_FIELDS) if (line[f] !== r[f]) differs(f)
    for (const f of NUMBER_FIELDS) if (line[f] !== r[f]) differs(f)
    return { origin: r.log, seq: r.seq, id }
  }

  // ---------------------------------------------------------------- the trees

  /** Every leaf of the log, from its lines and the source; keeps tile hashes and the tail; the root must be the checkpoint's. */
  private async hashTree(l: SnapLog): Promise<void> {
    let leaves: Uint8Array[] = []
    const push = (leaf: Uint8Array) => {
      leaves.push(leaf)
      if (leaves.length === TILE_WIDTH) {
        l.tiles.push(perfectRoot(leaves))
        leaves = []
      }
    }
    let k = 0
    for (let i = 0; i < l.size;) {
      if (l.seqs[k] === i) {
        push(l.ids[k++]!)
        i++
        continue
      }
      const end = Math.min(l.seqs[k] ?? l.size, l.size)
      for (const [, entry] of await this.uncovered(l, i, end, true)) push(entryLeaf(entry))
      i = end
    }
    l.tail = leaves
    let root: Uint8Array
    try {
      root = rootAt(l.size, (level, index) => this.nodeAt(l, level, index))
    } catch (e) {
      return this.refuse('INCONSISTENT_CHECKPOINT', `the tree of ${l.origin} could not be hashed (${(e as Error).message})`)
    }
    if (!equalBytes(root, l.root)) {
      this.refuse('INCONSISTENT_CHECKPOINT', `the lines of ${l.origin} and the entries ${this.under.kind} ${this.under.url} gives between them do not hash to the root of the trailer's checkpoint of size ${l.size}`)
    }
  }

  /** A node of the log's tree: from the tile hashes (level ≥ 8) or the last partial tile's leaves. */
  private nodeAt(l: SnapLog, level: number, index: number): Uint8Array {
    if (level === TILE_LEVEL) {
      const h = l.tiles[index]
      if (!h) throw new LedgerError('OUT_OF_RANGE', `no full tile ${index}`)
      return h
    }
    const key = `${level}/${index}`
    const had = l.memo.get(key)
    if (had) return had
    let h: Uint8Array
    if (level > TILE_LEVEL) h = nodeHash(this.nodeAt(l, level - 1, 2 * index), this.nodeAt(l, level - 1, 2 * index + 1))
    else {
      const start = index * 2 ** level - l.tiles.length * TILE_WIDTH
      if (start < 0 || start + 2 ** level > l.tail.length) throw new LedgerError('OUT_OF_RANGE', `node ${key} is not in the last partial tile`)
      h = perfectRoot(l.tail.slice(start, start + 2 ** level))
    }
    if (level > TILE_LEVEL || l.memo.size < 1_000_000) l.memo.set(key, h)
    return h
  }

  // ---------------------------------------------------------------- entries

  /** Entries [from, to) of the log: lines' entries where there are lines, the source's elsewhere. */
  private async entries(l: SnapLog, from: number, to: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = new Array(to - from)
    const lo = lowerBound(l.seqs, from)
    const hi = lowerBound(l.seqs, to)
    if (hi > lo) {
      const fd = openSync(this.file, 'r')
      try {
        const start = l.offsets[lo]!
        const end = l.offsets[hi - 1]! + l.lengths[hi - 1]!
        const contiguous = end - start < 256 * 1024 * 1024
        const region = contiguous ? readAt(fd, start, end - start) : undefined
        for (let k = lo; k < hi; k++) {
          const bytes = region ? region.subarray(l.offsets[k]! - start, l.offsets[k]! - start + l.lengths[k]!) : readAt(fd, l.offsets[k]!, l.lengths[k]!)
          let entry: Uint8Array | undefined
          try {
            entry = fromBase64((JSON.parse(bytes.toString('utf8')) as { entry: string }).entry, 'entry')
          } catch {
            entry = undefined
          }
          // Checked against the leaf hashes the first pass kept in the tree: a file changed since is refused.
          if (!entry || !equalBytes(l.ids[k]!, leafHash(entry))) this.refuse('MALFORMED_ENTRY', `line ${l.lineNos[k]} changed while the snapshot was read`)
          out[l.seqs[k]! - from] = entry
        }
      } finally {
        closeSync(fd)
      }
    }
    let i = from
    for (let k = lo; k <= hi; k++) {
      const end = k < hi ? l.seqs[k]! : to
      if (end > i) for (const [index, entry] of await this.uncovered(l, i, end, false)) out[index - from] = entry
      i = end + 1
    }
    return out
  }

  /** Entries [from, to) that no line covers: from the cache, else read from the source (in runs of at most 10,000). */
  private async uncovered(l: SnapLog, from: number, to: number, keep: boolean): Promise<[number, Uint8Array][]> {
    const cache = this.cache.get(l.origin)
    const out: [number, Uint8Array][] = []
    let i = from
    while (i < to) {
      const hit = cache?.get(i)
      if (hit) {
        out.push([i, hit])
        i++
        continue
      }
      let end = i + 1
      while (end < to && end - i < MAX_FETCH && !cache?.has(end)) end++
      // The first pass reads on over short runs of lines to the next entries they leave out (one request, or one mirror bundle, for many).
      const upTo = keep ? this.window(l, end) : end
      const got = await this.fetchRange(l.origin, i, upTo)
      got.forEach((e, j) => {
        const index = i + j
        if (index < end) out.push([index, e])
        else if (this.lineOf(l, index) !== undefined) return
        if (keep && this.cached < CACHE_BYTES) {
          if (!this.cache.has(l.origin)) this.cache.set(l.origin, new Map())
          this.cache.get(l.origin)!.set(index, e)
          this.cached += e.length + 64
        }
      })
      i = end
    }
    return out
  }

  /**
   * Where a read from the source that covers entries up to `end` (the end of a run no line covers) should stop: on
   * over runs of lines shorter than a mirror bundle (or 32 entries from a node) to the runs of entries without lines
   * after them, at most 10,000 entries from the run's start.
   */
  private window(l: SnapLog, end: number): number {
    const gap = this.under.kind === 'mirror' ? TILE_WIDTH : 32
    const limit = end - 1 + MAX_FETCH
    let e = end
    for (let k = lowerBound(l.seqs, e); e < l.size;) {
      let u = e
      while (k < l.seqs.length && l.seqs[k] === u) {
        k++
        u++
      }
      if (u >= l.size || u - e > gap) break
      const runEnd = Math.min(l.seqs[k] ?? l.size, l.size, limit)
      if (runEnd <= u) break
      e = runEnd
    }
    return e
  }

  /** Entries [from, to) of a log from the underlying source: its page from that position, every other log left out. */
  private async fetchRange(origin: string, from: number, to: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    while (from + out.length < to) {
      const at = from + out.length
      const cursor = new Map(this.others.map((o) => [o, Number.MAX_SAFE_INTEGER] as [string, number]))
      cursor.set(origin, at)
      const page = await this.under.page({ cursor, verified: new Map() }, Math.min(MAX_FETCH, to - at), undefined)
      const b = page.logs.find((x) => x.origin === origin)
      const cannot = (why: string): never => {
        throw new LedgerError('PEER_ERROR', `${this.under.kind} ${this.under.url} cannot give entries ${at}..${to} of ${origin}, which the snapshot does not hold: ${why}`)
      }
      if (!b) return cannot('it does not hold the log')
      if (b.behind) cannot('it is behind')
      if (b.unproven) cannot(b.unproven.why)
      if (b.from !== at || b.entries.length !== b.to - b.from || b.to <= at) cannot(`it sent entries ${b.from}..${b.to} (of a tree of size ${b.size})`)
      out.push(...b.entries.slice(0, to - at))
    }
    this.counts.fetched += out.length
    return out
  }
}

/** The leaf hash of an entry (a redaction marker's is its notice's id; one that does not read hashes to nothing the tree holds). */
function entryLeaf(entry: Uint8Array): Uint8Array {
  if (!isRedactionMarker(entry)) return leafHash(entry)
  try {
    return readNoticeUnverified(markerNotice(entry)).id
  } catch {
    return new Uint8Array(32)
  }
}

/** Root of a perfect tree over `leaves` (a power of two of them). */
function perfectRoot(leaves: Uint8Array[]): Uint8Array {
  let level = leaves
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!))
    level = next
  }
  return level[0]!
}

/** First k with a[k] ≥ x (a ascending). */
function lowerBound(a: number[], x: number): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid]! < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length)
  let n = 0
  while (n < length) {
    const got = readSync(fd, buf, n, length - n, position + n)
    if (got === 0) throw new LedgerError('MALFORMED_ENTRY', 'the snapshot file became shorter while it was read')
    n += got
  }
  return buf
}
