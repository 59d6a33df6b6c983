/**
 * Restoring a backup (`cairn node restore FILE --dir D`), all or nothing:
 *
 *  1. D must be absent or empty (or `--force`: its contents are set aside,
 *     never deleted, and no node may be running in it).
 *  2. The whole file is read once and checked: its format, the order of its
 *     frames, its seal (SHA-256), the files a node needs.
 *  3. It is read again into a staging directory beside D (the seal is
 *     checked again at the end of that pass); the store is opened there and
 *     each log's stored checkpoint is checked to cover its stored tree.
 *  4. Only then does the staging directory become D, by rename.
 *
 * A failure at any step removes the staging directory and leaves D as it was.
 */
import { createReadStream, existsSync, readdirSync } from 'node:fs'
import { mkdir, open, rename, rm, rmdir } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { LedgerError } from '../../protocol/errors.ts'
import { parseCheckpointNote } from '../../protocol/checkpoint.ts'
import { equalBytes } from '../../protocol/bytes.ts'
import { LevelKV } from '../storage/kv.ts'
import { Store } from '../storage/store.ts'
import { loadGenesis, loadKeys, loadNodeFile } from '../config.ts'
import {
  BACKUP_FORMAT, BACKUP_MAGIC, FrameReader, StoreTally, damaged, parseFile, parseJson, parseRows, sha256Stream,
  type Frame, type Manifest, type StoreSummary,
} from './format.ts'
import { syncDir } from './take.ts'

const REQUIRED_FILES = ['keys.json', 'node.json', 'genesis.json']
/**
 * Every restored file is 0600, whatever the umask, like every file a node
 * writes: a node directory holds keys, the case-reference secret and
 * credentials, and a list of which files are secret would go stale.
 */
const FILE_MODE = 0o600

export interface BackupContents {
  manifest: Manifest
  files: string[]
  store: StoreSummary
  bytes: number
}

async function* framesOf(file: string): AsyncIterable<Frame> {
  const reader = new FrameReader(true)
  let stream
  try {
    stream = createReadStream(file, { highWaterMark: 1024 * 1024 })
    for await (const chunk of stream) yield* reader.push(chunk as Buffer)
  } catch (e) {
    if (!(e instanceof LedgerError) && (e as NodeJS.ErrnoException).code) throw new LedgerError('NOT_FOUND', `cannot read the backup ${file}: ${(e as Error).message}`)
    throw e
  }
  if (!reader.empty) throw damaged(`it ends inside a frame at byte ${reader.offset}: the file is truncated`)
}

/**
 * Reads a backup from start to end and checks it; `onFile` and `onRows` see
 * its contents as they pass (and may be used only once the walk returns:
 * the seal is checked last).
 */
async function walk(
  file: string,
  onFile?: (name: string, bytes: Uint8Array) => Promise<void>,
  onRows?: (rows: [Uint8Array, Uint8Array][]) => Promise<void>,
): Promise<BackupContents> {
  const hash = sha256Stream().update(BACKUP_MAGIC)
  const tally = new StoreTally()
  const files: string[] = []
  let manifest: Manifest | undefined
  let store: StoreSummary | undefined
  let sealed = false
  let bytes = BACKUP_MAGIC.length
  for await (const f of framesOf(file)) {
    bytes += f.raw.length
    if (sealed) throw damaged('bytes follow its seal')
    if (f.kind === 'S') {
      if (!store) throw damaged('it is sealed before its store ends')
      if (f.payload.length !== 32 || !equalBytes(f.payload, new Uint8Array(hash.digest()))) {
        throw damaged('its SHA-256 does not match its seal: the file was altered or corrupted')
      }
      sealed = true
      continue
    }
    hash.update(f.raw)
    if (f.kind === 'M') {
      if (manifest) throw damaged('it has two manifests')
      manifest = parseJson<Manifest>(f.payload, 'manifest')
      if (manifest.format !== BACKUP_FORMAT) throw damaged(`its format is ${JSON.stringify(manifest.format)}, not ${BACKUP_FORMAT}`)
      continue
    }
    if (!manifest) throw damaged('it does not start with its manifest')
    if (store) throw damaged(`a ${f.kind} frame follows the end of its store`)
    if (f.kind === 'F') {
      if (tally.rows > 0) throw damaged('a file frame follows the store rows')
      const { name, bytes: content } = parseFile(f.payload)
      if (files.includes(name)) throw damaged(`it holds ${name} twice`)
      files.push(name)
      await onFile?.(name, content)
    } else if (f.kind === 'K') {
      const rows = parseRows(f.payload)
      for (const [k, v] of rows) tally.add(k, v)
      await onRows?.(rows)
    } else {
      store = parseJson<StoreSummary>(f.payload, 'store summary')
      if (JSON.stringify(store) !== JSON.stringify(tally.summary())) throw damaged('its store rows do not add up to its store summary')
    }
  }
  if (!sealed) throw damaged(`it ends at byte ${bytes} without its seal: the file is truncated`)
  for (const f of REQUIRED_FILES) if (!files.includes(f)) throw damaged(`it holds no ${f}`)
  return { manifest: manifest!, files, store: store!, bytes }
}

/** Checks a backup without restoring it. */
export function inspectBackup(file: string): Promise<BackupContents> {
  return walk(file)
}

export interface RestoreOptions {
  file: string
  dir: string
  /** Restore into a directory that is not empty: its contents are moved aside to `<dir>.before-restore-<time>`. */
  force?: boolean
}

export interface RestoreResult extends BackupContents {
  dir: string
  /** Where the directory's previous contents went (`--force`). */
  setAside?: string
}

export async function restoreBackup(o: RestoreOptions): Promise<RestoreResult> {
  const dir = resolve(o.dir)
  const occupied = existsSync(dir) && readdirSync(dir).length > 0
  if (occupied && !o.force) {
    throw new LedgerError('CONFLICT', `${dir} is not empty (${readdirSync(dir).slice(0, 4).join(', ')}…); restore into a new or empty directory, or pass --force to move its contents aside`)
  }
  const contents = await walk(o.file)
  if (occupied) await ensureNotRunning(dir)

  const staging = join(dirname(dir), `.${basename(dir)}.restoring-${process.pid}`)
  await rm(staging, { recursive: true, force: true })
  await mkdir(join(staging, 'db'), { recursive: true, mode: 0o700 })
  try {
    const kv = await LevelKV.open(join(staging, 'db'))
    try {
      await walk(o.file, (name, bytes) => writeDurably(join(staging, name), bytes, FILE_MODE), (rows) => kv.batch(rows.map(([key, value]) => ({ type: 'put' as const, key, value }))))
      // A synced write flushes the write-ahead log of every batch before it (no key starts with 0x00).
      await kv.batch([{ type: 'del', key: new Uint8Array([0]) }], { durable: true })
    } finally {
      await kv.close()
    }
    await checkRestored(staging, contents)
    let setAside: string | undefined
    if (existsSync(dir)) {
      if (occupied) {
        setAside = `${dir}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`
        await rename(dir, setAside)
      } else await rmdir(dir)
    }
    await rename(staging, dir)
    await syncDir(dirname(dir))
    return { ...contents, dir, setAside }
  } catch (e) {
    await rm(staging, { recursive: true, force: true })
    throw e
  }
}

async function writeDurably(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const h = await open(path, 'wx', mode)
  try {
    await h.chmod(mode) // the umask may have taken bits off at open
    await h.writeFile(bytes)
    await h.sync()
  } finally {
    await h.close()
  }
}

/** A node holds its store's lock while it runs: if the lock can be taken, none runs in `dir`. */
async function ensureNotRunning(dir: string): Promise<void> {
  if (!existsSync(join(dir, 'db', 'CURRENT'))) return
  let kv: LevelKV
  try {
    kv = await LevelKV.open(join(dir, 'db'))
  } catch {
    throw new LedgerError('CONFLICT', `the store in ${dir} is in use (is its node running?); stop the node before restoring over it`)
  }
  await kv.close()
}

/**
 * The restored directory as a node will read it: its settings, keys and
 * roster parse, its origin is the backup's, the store opens, and each log
 * holds what the backup says with a checkpoint that covers its tree.
 */
async function checkRestored(staging: string, contents: BackupContents): Promise<void> {
  const settings = loadNodeFile(staging)
  await loadKeys(staging)
  loadGenesis(join(staging, 'genesis.json'))
  if (settings.origin !== contents.manifest.origin) {
    throw damaged(`its node.json names ${settings.origin} but its manifest ${contents.manifest.origin}`)
  }
  const store = await Store.open(await LevelKV.open(join(staging, 'db')))
  try {
    for (const l of contents.store.logs) {
      if (!store.hasLog(l.origin) || store.size(l.origin) !== l.size) throw damaged(`the restored store does not hold log ${l.origin} at size ${l.size}`)
      const note = store.checkpoint(l.origin)
      if (!note) continue
      const cp = parseCheckpointNote(note).checkpoint
      if (cp.size > l.size || !equalBytes(await store.root(l.origin, cp.size), cp.root)) {
        throw new LedgerError('STORAGE_CORRUPT', `the restored store's checkpoint of ${l.origin} (size ${cp.size}) does not cover its tree; the backup was taken from a damaged store`)
      }
    }
  } finally {
    await store.close()
  }
}
