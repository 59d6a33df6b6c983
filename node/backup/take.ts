/**
 * Taking a backup (`cairn node backup --dir D --out FILE`).
 *
 * The store is read through one LevelDB iterator, which reads the snapshot
 * taken when it was created: every store write is one atomic batch, so the
 * copy holds the store as it was between two batches, and writes go on
 * meanwhile. A running node holds its store's lock, so it is read by the
 * node itself and streamed over the operator API (GET /admin/backup); a
 * stopped node's store is opened directly. The small files of the directory
 * (keys.json, node.json, genesis.json, …) are read by the CLI on the node's
 * machine: the node never serves its secret keys over HTTP.
 *
 * The file is written under a temporary name beside FILE, fsynced, and only
 * then renamed to FILE: a failed backup (disk full, a node that went away
 * mid-stream) leaves no file that looks complete.
 */
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { LedgerError } from '../../protocol/errors.ts'
import type { KV } from '../storage/kv.ts'
import { LevelKV } from '../storage/kv.ts'
import { loadNodeFile, loadGenesis } from '../config.ts'
import {
  BACKUP_FORMAT, BACKUP_MAGIC, FrameReader, StoreTally, fileFrame, frame, jsonFrame, parseJson, rowsFrame, sha256Stream,
  type Manifest, type StoreSummary,
} from './format.ts'

/** Files of a node directory never backed up: written by a running node about itself, its log, or derived from the store (the value filter, storage/open.ts). */
const RUNTIME_FILES = new Set(['node.url', 'node.addrs', 'node.log', 'value-filter', 'value-filter.tmp'])
/** Larger top-level files are not configuration (a log, a stray copy): they are left out and named. */
export const MAX_FILE_BYTES = 1024 * 1024
const REQUIRED_FILES = ['keys.json', 'node.json', 'genesis.json']
const ROWS_PER_FRAME_BYTES = 1024 * 1024

/**
 * The store as 'K' frames of about 1 MiB, then the 'E' frame: what a node
 * streams for GET /admin/backup, and what a backup of a stopped node reads.
 */
export async function* storeFrames(kv: Pick<KV, 'snapshot'>): AsyncIterable<Uint8Array> {
  const tally = new StoreTally()
  let rows: [Uint8Array, Uint8Array][] = []
  let bytes = 0
  for await (const chunk of kv.snapshot(1000)) {
    for (const [k, v] of chunk) {
      tally.add(k, v)
      rows.push([k, v])
      bytes += 8 + k.length + v.length
      if (bytes >= ROWS_PER_FRAME_BYTES) {
        yield rowsFrame(rows)
        rows = []
        bytes = 0
      }
    }
  }
  if (rows.length > 0) yield rowsFrame(rows)
  yield jsonFrame('E', tally.summary())
}

export interface BackupResult {
  out: string
  bytes: number
  files: string[]
  /** Top-level files left out for their size. */
  skipped: string[]
  store: StoreSummary
  manifest: Manifest
}

export interface BackupOptions {
  dir: string
  out: string
  /** Replace an existing FILE. */
  force?: boolean
  /** Opens the temporary file to write (tests hand in one that fails, as a full disk does). */
  openOut?: (path: string) => Promise<OutFile>
}

/** What the backup is written to: the parts of a FileHandle it uses. */
export interface OutFile {
  write(bytes: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>
  sync(): Promise<void>
  close(): Promise<void>
}

/** Takes a backup of the node directory `dir`, running or stopped, into `out`. */
export async function takeBackup(o: BackupOptions): Promise<BackupResult> {
  for (const f of REQUIRED_FILES) {
    if (!existsSync(join(o.dir, f))) throw new LedgerError('BAD_CONFIG', `${join(o.dir, f)} is missing: ${o.dir} is not a node directory`)
  }
  const settings = loadNodeFile(o.dir)
  const genesis = loadGenesis(join(o.dir, 'genesis.json'))
  if (!o.force && existsSync(o.out)) throw new LedgerError('CONFLICT', `${o.out} already exists; choose another name or pass --force to replace it`)
  const { files, skipped } = await directoryFiles(o.dir)
  const running = await runningStore(o.dir, settings.origin)
  let direct: LevelKV | undefined
  let source: AsyncIterable<Uint8Array>
  if (running) source = running
  else {
    if (!existsSync(join(o.dir, 'db', 'CURRENT'))) throw new LedgerError('BAD_CONFIG', `${o.dir} has no store (db/): nothing to back up`)
    direct = await openStopped(o.dir)
    source = storeFrames(direct)
  }
  const manifest: Manifest = {
    format: BACKUP_FORMAT, created: new Date().toISOString(), origin: settings.origin, federation: genesis.federation, source: running ? 'running' : 'stopped',
  }
  try {
    const { bytes, store } = await writeFile(o, manifest, files, source)
    return { out: o.out, bytes, files: files.map((f) => f.name), skipped, store, manifest }
  } finally {
    await direct?.close()
  }
}

async function directoryFiles(dir: string): Promise<{ files: { name: string; bytes: Uint8Array }[]; skipped: string[] }> {
  const files: { name: string; bytes: Uint8Array }[] = []
  const skipped: string[] = []
  for (const name of (await readdir(dir)).sort()) {
    if (RUNTIME_FILES.has(name) || name.startsWith('.')) continue
    const s = await stat(join(dir, name))
    if (!s.isFile()) continue
    if (s.size > MAX_FILE_BYTES) {
      skipped.push(name)
      continue
    }
    files.push({ name, bytes: new Uint8Array(await readFile(join(dir, name))) })
  }
  return { files, skipped }
}

/**
 * The store frames of the node running in `dir`, streamed from its API, or
 * undefined when no node answers there (not running, or killed: node.url
 * outlives a kill).
 */
async function runningStore(dir: string, origin: string): Promise<AsyncIterable<Uint8Array> | undefined> {
  const urlFile = join(dir, 'node.url')
  if (!existsSync(urlFile)) return undefined
  const url = readFileSync(urlFile, 'utf8').trim()
  const tokenFile = join(dir, 'operator.token')
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : ''
  let res: Response
  try {
    res = await fetch(`${url}/admin/backup`, { headers: { authorization: `Bearer ${token}` } })
  } catch {
    return undefined // nothing listens there: the node is stopped (or was killed)
  }
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => '')
    let message = text.slice(0, 300)
    try {
      message = (JSON.parse(text) as { error: { code: string; message: string } }).error.message
    } catch { /* not our JSON */ }
    throw new LedgerError('PEER_ERROR', `the node at ${url} refused the backup (HTTP ${res.status}): ${message}`)
  }
  const answering = res.headers.get('cairn-origin')
  if (answering !== origin) {
    await res.body.cancel()
    throw new LedgerError('CONFLICT', `the node answering at ${url} (${dir}/node.url) is ${answering ?? 'not a cairn node'}, not ${origin}; is node.url stale?`)
  }
  return res.body as unknown as AsyncIterable<Uint8Array>
}

async function openStopped(dir: string): Promise<LevelKV> {
  try {
    return await LevelKV.open(join(dir, 'db'))
  } catch (e) {
    const url = existsSync(join(dir, 'node.url')) ? ` at ${readFileSync(join(dir, 'node.url'), 'utf8').trim()}` : ' (no node.url)'
    throw new LedgerError('CONFLICT', `the store in ${join(dir, 'db')} is held by another process, a node whose API does not answer${url}; a running node is backed up through its API (cairn node start writes node.url): ${(e as Error).message}`)
  }
}

async function writeFile(o: BackupOptions, manifest: Manifest, files: { name: string; bytes: Uint8Array }[], source: AsyncIterable<Uint8Array>) {
  const tmp = join(dirname(o.out), `.${basename(o.out)}.partial-${process.pid}`)
  let out: OutFile
  try {
    out = o.openOut ? await o.openOut(tmp) : await open(tmp, 'wx', 0o600)
  } catch (e) {
    throw osError(e, o.out, 0)
  }
  const hash = sha256Stream()
  let bytes = 0
  // A write to a filling disk may write part of the bytes before a later one fails (ENOSPC).
  const writeAll = async (b: Uint8Array) => {
    for (let at = 0; at < b.length;) at += (await out.write(b, at, b.length - at)).bytesWritten
    bytes += b.length
  }
  const put = async (b: Uint8Array) => {
    hash.update(b)
    await writeAll(b)
  }
  let store: StoreSummary | undefined
  try {
    try {
      await put(new TextEncoder().encode(BACKUP_MAGIC))
      await put(jsonFrame('M', manifest))
      for (const f of files) await put(fileFrame(f.name, f.bytes))
      // The node's stream is checked frame by frame as it passes: only K frames, then one E, then nothing.
      const reader = new FrameReader(false)
      for await (const chunk of source) {
        for (const f of reader.push(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk))) {
          if (store || (f.kind !== 'K' && f.kind !== 'E')) throw new LedgerError('PEER_ERROR', `the node sent an unexpected ${f.kind} frame in its store stream`)
          if (f.kind === 'E') store = parseJson<StoreSummary>(f.payload, 'store summary')
          await put(f.raw)
        }
      }
      if (!store || !reader.empty) throw new LedgerError('PEER_ERROR', 'the store stream ended before its end frame (the node stopped or the connection broke)')
      await writeAll(frame('S', new Uint8Array(hash.digest())))
      await out.sync()
    } catch (e) {
      throw e instanceof LedgerError ? e : osError(e, o.out, bytes)
    } finally {
      await out.close().catch(() => undefined)
    }
    await rename(tmp, o.out).catch((e) => { throw osError(e, o.out, bytes) })
    await syncDir(dirname(o.out))
  } catch (e) {
    await rm(tmp, { force: true })
    throw e
  }
  return { bytes, store: store! }
}

/** One clear line for an operating-system error while writing FILE. */
function osError(e: unknown, out: string, written: number): LedgerError {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') {
    return new LedgerError('STORAGE_FULL', `no space left for the backup in ${dirname(out)} (${code} after ${written} bytes); nothing was written to ${out}`)
  }
  return new LedgerError('BAD_CONFIG', `cannot write the backup ${out}: ${(e as Error).message}; nothing was written to it`)
}

/** fsyncs a directory, so a rename in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r')
  try {
    await h.sync()
  } finally {
    await h.close()
  }
}
