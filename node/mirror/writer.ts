/**
 * The mirror writer: after each new checkpoint of any log the node holds
 * (its own or a peer's), copies what is new into the mirror (./layout.ts),
 * in an order that never lets a reader see a checkpoint before what it
 * covers: new hash tiles and entry bundles (full ones once, partial ones
 * for the new width), bundles a redaction changed, then the checkpoint;
 * logs.json last; and at most every `snapshotMinutes` a jsonl snapshot.
 *
 * Rounds run one at a time, off the log's path: `notify()` only schedules
 * one. A round that fails (disk full, bucket unreachable) is logged once
 * per cause, counted, shown in /status and retried with backoff; what it
 * had written stays written and is not written again (./state.ts).
 */
import { join } from 'node:path'
import { createWriteStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { once } from 'node:events'
import { sha256, toHex, utf8 } from '../../protocol/bytes.ts'
import { encodeEntryBundle, TILE_WIDTH, type TileRef } from '../../protocol/tiles.ts'
import { asLedgerError } from '../http/errors.ts'
import type { Store } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import { logList } from '../log-list.ts'
import { publishedSizes } from '../provider/feed.ts'
import { encodeCursor } from '../../protocol/feed-cursor.ts'
import { jsonlSnapshot, snapshotCheckpoints, type JsonlSnapshotDeps } from '../provider/snapshot-jsonl.ts'
import { bundleFile, checkpointFile, logsFile, snapshotFile, snapshotLatestFile, tileFile, type MirrorFile, type MirrorKind } from './layout.ts'
import type { MirrorTarget } from './target.ts'
import { emptyState, loadMirrorState, saveMirrorState, type MirrorLogState, type MirrorState } from './state.ts'

export interface MirrorWriterDeps {
  target: MirrorTarget
  store: Store
  roster: Pick<Roster, 'member'>
  snapshot: JsonlSnapshotDeps
  /** The node directory: mirror-state.json, and a temporary file while a snapshot is written. */
  dir: string
  now: () => number
  snapshotMinutes: number
  log: (level: 'info' | 'warn' | 'error', obj: object, msg: string) => void
  /** Backoff after a failed round: the first wait and the longest (ms). */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** How often the writer looks for changes nobody told it about (cosignatures merged, redactions). */
  pollMs?: number
}

export interface MirrorStatus {
  target: string
  rounds: number
  failures: Record<string, number>
  filesWritten: Partial<Record<MirrorKind, number>>
  bytesWritten: number
  /** ms since the epoch of the last round that finished without error. */
  lastSuccess?: number
  /** The cause of the failing rounds since the last success, if any. */
  failing?: { cause: string; since: number; message: string; retryInMs: number }
  /** Per log: the checkpoint size the mirror holds. */
  logs: Record<string, number>
  snapshot?: { cursor: string; at: number }
}

export const MIRROR_STATE_FILE = 'mirror-state.json'

const MIN_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 5 * 60_000
const POLL_MS = 10_000
/** Redaction notices a round reads per log. */
const MAX_REDACTIONS_SCANNED = 1_000_000

const digest = (text: string | Uint8Array) => toHex(sha256(typeof text === 'string' ? utf8(text) : text))

/** The tiles of level `level` whose width differs between trees of `oldSize` and `newSize` (new or grown). */
function changedTiles(level: number, oldSize: number, newSize: number): TileRef[] {
  const per = TILE_WIDTH ** level
  const hashesOld = Math.floor(oldSize / per)
  const hashesNew = Math.floor(newSize / per)
  const out: TileRef[] = []
  for (let index = Math.floor(hashesOld / TILE_WIDTH); index * TILE_WIDTH < hashesNew; index++) {
    const width = Math.min(TILE_WIDTH, hashesNew - index * TILE_WIDTH)
    const before = Math.max(0, Math.min(TILE_WIDTH, hashesOld - index * TILE_WIDTH))
    if (width !== before) out.push({ level, index, width })
  }
  return out
}

export class MirrorWriter {
  private readonly statePath: string
  private state: MirrorState
  private running: Promise<void> | undefined
  private chain: Promise<void> = Promise.resolve()
  private again = false
  private timer: NodeJS.Timeout | undefined
  private poller: NodeJS.Timeout | undefined
  private stopped = false
  private backoffMs = 0
  private readonly loggedCauses = new Set<string>()
  readonly stats: Omit<MirrorStatus, 'target' | 'logs' | 'snapshot'> = { rounds: 0, failures: {}, filesWritten: {}, bytesWritten: 0 }

  constructor(private readonly d: MirrorWriterDeps) {
    this.statePath = join(d.dir, MIRROR_STATE_FILE)
    try {
      this.state = loadMirrorState(this.statePath, d.target.describe)
    } catch (e) {
      // Not worth stopping the node for: the mirror is written again in full (same bytes).
      d.log('warn', { err: (e as Error).message }, 'mirror: the state file is unreadable; writing the whole mirror again')
      this.state = emptyState(d.target.describe)
    }
  }

  start(): void {
    this.poller = setInterval(() => this.notify(), this.d.pollMs ?? POLL_MS)
    this.poller.unref()
    this.notify()
  }

  /** A log has a new checkpoint (or something else changed): a round runs soon, unless one is waiting out a backoff. */
  notify(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.run()
    }, this.backoffMs)
    this.timer.unref()
  }

  /** Runs a round after any running one: the mirror then holds what the store held when it began; throws its failure. For tests and `writeMirrorOnce`. */
  flush(): Promise<void> {
    return this.serial(() => this.round())
  }

  /** One round at a time, whoever asks for it. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const p = this.chain.then(fn)
    this.chain = p.catch(() => undefined)
    return p
  }

  status(): MirrorStatus {
    return {
      target: this.d.target.describe, ...this.stats,
      logs: Object.fromEntries(Object.entries(this.state.logs).map(([o, l]) => [o, l.size])),
      ...(this.state.snapshot ? { snapshot: this.state.snapshot } : {}),
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    if (this.poller) clearInterval(this.poller)
    while (this.running) await this.running.catch(() => undefined)
    await this.chain
  }

  private async run(): Promise<void> {
    const p = (async () => {
      try {
        await this.serial(() => this.round())
        if (this.stats.failing) this.d.log('info', { target: this.d.target.describe, cause: this.stats.failing.cause }, 'mirror: writing works again')
        this.stats.failing = undefined
        this.loggedCauses.clear()
        this.backoffMs = 0
      } catch (e) {
        this.failed(e)
      }
    })()
    this.running = p
    await p
    this.running = undefined
    if (this.again || this.backoffMs > 0) {
      this.again = false
      this.notify()
    }
  }

  private failed(e: unknown): void {
    const le = asLedgerError(e)
    const raw = e as { name?: string; code?: string; Code?: string }
    // The cause: an OS error code (ENOSPC, ECONNREFUSED), an S3 error name, or the LedgerError code.
    const cause = String(raw?.code ?? raw?.Code ?? (raw?.name && raw.name !== 'Error' && raw.name !== 'LedgerError' ? raw.name : le.code)).slice(0, 64)
    this.stats.failures[cause] = (this.stats.failures[cause] ?? 0) + 1
    this.backoffMs = Math.min(this.d.maxBackoffMs ?? MAX_BACKOFF_MS, Math.max(this.d.minBackoffMs ?? MIN_BACKOFF_MS, this.backoffMs * 2))
    const message = (e as Error)?.message ?? String(e)
    this.stats.failing = { cause, since: this.stats.failing?.since ?? this.d.now(), message: message.slice(0, 500), retryInMs: this.backoffMs }
    if (!this.loggedCauses.has(cause)) {
      this.loggedCauses.add(cause)
      this.d.log('error', { target: this.d.target.describe, cause, err: message }, 'mirror: writing failed; retrying with backoff (logged once per cause until it works again)')
    }
  }

  private async put(file: MirrorFile, body: Uint8Array): Promise<void> {
    await this.d.target.put(file, body)
    this.stats.filesWritten[file.kind] = (this.stats.filesWritten[file.kind] ?? 0) + 1
    this.stats.bytesWritten += body.length
  }

  private save(): Promise<void> {
    return saveMirrorState(this.statePath, this.state)
  }

  /** One pass over every log, then logs.json and perhaps a snapshot. */
  private async round(): Promise<void> {
    const { store } = this.d
    const redactionDigest = toHex(await store.redactionDigest())
    const redactionsChanged = redactionDigest !== this.state.redaction_digest
    const written: { origin: string; checkpointSize: number; frozen: boolean }[] = []
    for (const l of store.listLogs()) {
      if (l.checkpoint && !l.damaged) await this.writeLog(l.origin, l.checkpoint, redactionsChanged)
      const st = this.state.logs[l.origin]
      if (st) written.push({ origin: l.origin, checkpointSize: st.size, frozen: l.frozen })
    }
    if (redactionsChanged) {
      this.state.redaction_digest = redactionDigest
      await this.save()
    }
    // logs.json last, naming the sizes whose checkpoints are on the mirror.
    const body = utf8(JSON.stringify(logList(store, this.d.roster, written)))
    const sum = digest(body)
    if (sum !== this.state.logs_json) {
      await this.put(logsFile(), body)
      this.state.logs_json = sum
      await this.save()
    }
    await this.maybeSnapshot()
    this.stats.rounds++
    this.stats.lastSuccess = this.d.now()
  }

  private async writeLog(origin: string, note: string, redactionsChanged: boolean): Promise<void> {
    const { store } = this.d
    const name = origin.split('/')[1]!
    const size = Number(note.split('\n')[1])
    let st: MirrorLogState = this.state.logs[origin] ?? { size: 0, root: '', note: '', redactions: {} }
    const noteSum = digest(note)
    if (st.size === size && st.note === noteSum && !redactionsChanged) return
    const root = toHex(await store.root(origin, size))
    // A tree that is not an extension of the one written (a fork resolution cut the log back): write it again.
    if (st.size > size || (st.size > 0 && (st.size > store.size(origin) || toHex(await store.root(origin, st.size)) !== st.root))) {
      this.d.log('warn', { log: origin, mirrored: st.size, size }, 'mirror: the log is not an extension of what the mirror holds; writing it again')
      st = { size: 0, root: '', note: '', redactions: {} }
    }
    // Redactions first: a notice applied after this scan shows next round as a change and its bundles are written again.
    const redactions = { ...st.redactions }
    const rewrite = new Map<number, number>() // bundle index → lowest offset in it whose marker changed
    if (redactionsChanged || st.size !== size) {
      for await (const r of store.redactions(origin, 0, MAX_REDACTIONS_SCANNED)) {
        if (!r.applied || r.index >= size) continue
        const h = digest(r.notice).slice(0, 16)
        if (redactions[r.index] === h) continue
        redactions[r.index] = h
        if (r.index < st.size) {
          const b = Math.floor(r.index / TILE_WIDTH)
          const off = r.index % TILE_WIDTH
          rewrite.set(b, Math.min(off, rewrite.get(b) ?? off))
        }
      }
    }

    for (let level = 0; TILE_WIDTH ** level <= size; level++) {
      for (const t of changedTiles(level, st.size, size)) {
        const body = await store.tile(origin, t.level, t.index, t.width)
        if (!body) throw new Error(`tile ${t.level}/${t.index}.p/${t.width} of ${origin} is not in the store`)
        await this.put(tileFile(name, t), body)
      }
    }
    for (const b of changedTiles(0, st.size, size)) await this.putBundle(origin, name, b.index, b.width)
    // A redacted entry's value is also in every narrower bundle written before this bundle filled up: all of them again.
    for (const [b, off] of rewrite) {
      const before = Math.min(TILE_WIDTH, st.size - b * TILE_WIDTH)
      for (let w = off + 1; w <= before; w++) await this.putBundle(origin, name, b, w)
    }

    if (st.note !== noteSum || st.size !== size) await this.put(checkpointFile(name), utf8(note))
    this.state.logs[origin] = { size, root, note: noteSum, redactions }
    await this.save()
  }

  private async putBundle(origin: string, name: string, index: number, width: number): Promise<void> {
    const start = index * TILE_WIDTH
    await this.put(bundleFile(name, index, width), encodeEntryBundle(await this.d.store.entries(origin, start, start + width)))
  }

  /** A jsonl snapshot when the last is `snapshotMinutes` old and the set moved, taken only at sizes whose checkpoints the mirror holds. */
  private async maybeSnapshot(): Promise<void> {
    const last = this.state.snapshot
    if (last && this.d.now() - last.at < this.d.snapshotMinutes * 60_000) return
    const sizes = publishedSizes(this.d.store)
    for (const [origin, size] of sizes) if (this.state.logs[origin]?.size !== size) return // the next round writes them first
    const cursor = encodeCursor(sizes)
    if (last?.cursor === cursor) return
    const tmp = join(this.d.dir, `mirror-snapshot.${process.pid}.tmp`)
    try {
      const out = createWriteStream(tmp, { mode: 0o600 })
      try {
        for await (const chunk of jsonlSnapshot(this.d.snapshot, sizes, cursor, { entries: true })) {
          if (!out.write(chunk)) await once(out, 'drain')
        }
      } finally {
        out.end()
        await once(out, 'close')
      }
      const file = snapshotFile(cursor)
      const { size } = await stat(tmp)
      await this.d.target.putFile(file, tmp, size)
      this.stats.filesWritten.snapshot = (this.stats.filesWritten.snapshot ?? 0) + 1
      this.stats.bytesWritten += size
    } finally {
      await rm(tmp, { force: true })
    }
    const latest = { cursor, path: snapshotFile(cursor).path, checkpoints: await snapshotCheckpoints(this.d.store, sizes) }
    await this.put(snapshotLatestFile(), utf8(JSON.stringify(latest) + '\n'))
    this.state.snapshot = { cursor, at: this.d.now() }
    await this.save()
  }
}
