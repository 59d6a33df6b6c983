/**
 * `cairn node check`: the full integrity check of a stopped node's store
 * (integrity.ts): per log, every full tile against the tree, the root
 * against the stored checkpoint, every entry against its leaf hash; then
 * every row of the store against its checksum (kv.ts); rows that fail, with
 * every log checked out, have the indexes each entry alone determines
 * mended from the entries (reindex.ts) and the rows are checked again;
 * then, if the logs check out, every line of the snapshot files against the
 * store (provider/set-lines.ts; a node starting checks them only by the sums
 * recorded with them), rebuilding a log's files from the store on a mismatch.
 * A mended problem ends with REBUILT (the CLI says MENDED).
 */
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { LedgerError } from '../../protocol/errors.ts'
import { LevelKV } from './kv.ts'
import { Store } from './store.ts'
import type { LogCheck } from './integrity.ts'
import { SetLines, setLinesDir } from '../provider/set-lines.ts'
import { rebuildEntryIndexes, type Reindexed } from './reindex.ts'
import { valueFilterPath } from './open.ts'

/** The end of a problem the check mended (the files or rows were rebuilt from the checked store). */
export const REBUILT = '(rebuilt from the store)'

/** Checks the store of the node directory `dir`, log by log (the node must be stopped: it holds the store's lock). */
export async function checkNodeStore(dir: string, onLog?: (c: LogCheck) => void, onProgress?: (origin: string, entries: number, size: number) => void): Promise<LogCheck[]> {
  const at = join(dir, 'db')
  if (!existsSync(join(at, 'CURRENT'))) throw new LedgerError('NOT_FOUND', `${dir} holds no node store (no db/)`)
  let kv: LevelKV
  try {
    kv = await LevelKV.open(at)
  } catch (e) {
    if (e instanceof LedgerError) throw e
    throw new LedgerError('CONFLICT', `the store in ${dir} is in use (is its node running?); stop the node to check it`)
  }
  const out: LogCheck[] = []
  try {
    let store: Store
    try {
      store = await Store.open(kv)
    } catch (e) {
      if (e instanceof LedgerError) throw e
      throw new LedgerError('STORAGE_CORRUPT', `the store in ${dir} cannot be opened: ${(e as Error).message}`)
    }
    for (const l of store.listLogs().sort((a, b) => (a.origin < b.origin ? -1 : 1))) {
      const c = await store.fullCheck(l.origin, (n) => onProgress?.(l.origin, n, l.size))
      out.push(c)
      onLog?.(c)
    }
    // Every other row (indexes, counters, tokens, the access log): its checksum (kv.ts).
    const rows = await kv.checkRows()
    let after = rows
    let mended: Reindexed | undefined
    if (rows.badCount > 0 && out.every((x) => x.problems.length === 0)) {
      // The logs are sound: the indexes each entry alone determines are mended from them.
      rmSync(valueFilterPath(at), { force: true }) // made from the value index: the next start scans it again
      mended = await rebuildEntryIndexes(kv, store)
      after = await kv.checkRows()
    }
    const stillBad = new Set(after.bad)
    const known = after.badCount <= after.bad.length // every row still bad is named
    const how = (k: string): string => {
      if (!mended || !known || stillBad.has(k)) return ''
      if (mended.written.has(k)) return `; written again from the checked entries ${REBUILT}`
      if (mended.removed.has(k)) return `; a row of the value, reference or roster index that no entry gives: removed ${REBUILT}`
      return ''
    }
    const badKey = (k: string) => `store key ${k} does not match the checksum it was written with`
    const problems = rows.bad.map((k) => badKey(k) + how(k))
    if (rows.badCount > rows.bad.length) problems.push(`… and ${rows.badCount - rows.bad.length} more${mended && after.badCount === 0 ? ` ${REBUILT}` : ''}`)
    problems.push(...after.bad.filter((k) => !rows.bad.includes(k)).map(badKey))
    if (mended && (mended.written.size > 0 || mended.removed.size > 0)) {
      problems.push(`the value, reference and roster indexes against the ${mended.rows} rows the checked entries give: ${mended.written.size} missing, damaged or different rows written again, ${mended.removed.size} damaged rows no entry gives removed ${REBUILT}`)
    }
    const c: LogCheck = { origin: '(every row)', size: after.rows, checkpointSize: 0, entriesChecked: 0, tilesChecked: 0, rowsChecked: rows.rows, problems }
    out.push(c)
    onLog?.(c)
    if (out.every((x) => x.problems.every((p) => p.endsWith(REBUILT))) && existsSync(setLinesDir(dir))) {
      const lines = await checkSetLines(dir, store)
      out.push(lines)
      onLog?.(lines)
    }
  } finally {
    await kv.close()
  }
  return out
}

/**
 * Every line of the snapshot files against the store; a log whose files do
 * not match is rebuilt from it (they are derived data), and each mismatch is
 * a problem that names the log, the line and what differed.
 */
async function checkSetLines(dir: string, store: Store): Promise<LogCheck> {
  const found: string[] = []
  const log = pino({ level: 'warn' }, { write: (s: string) => {
    const m = JSON.parse(s) as { event?: string; log?: string; index?: number; what?: string; msg?: string }
    found.push(m.event === 'set_lines_mismatch' ? `${m.log}: line ${m.index}: ${m.what} ${REBUILT}` : String(m.msg))
  } })
  const lines = await SetLines.open(setLinesDir(dir), store, log, { everyLine: true })
  try {
    await lines.caughtUp()
    const unchecked = lines.stats().unchecked
    if (unchecked > 0) found.push(`${unchecked} logs' snapshot files could not be checked (see above); a node renders their snapshots from the store`)
  } finally {
    await lines.close()
  }
  return { origin: '(snapshot files)', size: lines.lines, checkpointSize: 0, entriesChecked: 0, tilesChecked: 0, linesChecked: lines.lines, problems: found }
}
