/**
 * A local copy that follows `cairn sync`: the copy opened (openLocalCopy)
 * and, every `pollMs`, a look at state.json (spec/local-copy.md §L.4: its
 * replacement is the commit). When it names other record files the copy is
 * opened again and swapped in whole, in one assignment, only once it has
 * loaded and passed every check; until then, and if the new copy cannot be
 * used, the one loaded before keeps answering. Nothing in the copy's
 * directory is written (the PDQ index cache aside: see `persistPdqIndex`),
 * so any number of processes can follow one copy.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { isLedgerError } from '../protocol/errors.ts'
import { openLocalCopy, type LocalCopy } from './local-copy-reader.ts'
import { readState } from './local-copy-format.ts'

export interface LoadedCopy {
  copy: LocalCopy
  /** The copy's origin table (state.json `origins`, read after the load: append-only, so it covers every record's centre). */
  origins: string[]
  /** When `cairn sync` committed it: state.json's modification time, Unix seconds. */
  committedAt: number
  /** When this process finished loading it, Unix ms. */
  loadedAt: number
}

export interface CopyFollowerOptions {
  /** How often state.json is looked at, ms (default 2000). */
  pollMs?: number
  /** Read (and, where the folder is writable, refresh) the pdq-index.idx cache beside the copy (default true); false: touch nothing there. */
  persistPdqIndex?: boolean
  /** Told of each load and failed reload, for the operator's log. */
  onEvent?: (e: { kind: 'loaded'; copy: LocalCopy; seconds: number } | { kind: 'reload_failed'; code: string; message: string }) => void
}

export interface CopyFollower {
  /** The copy answering now. */
  current(): LoadedCopy
  /** Looks at state.json now and reloads if it changed; true if a new copy was swapped in. */
  check(): boolean
  /** Reloads that succeeded and failed since start. */
  readonly reloads: { ok: number; failed: number }
  /** Since when (Unix ms) the copy on disk is newer than the one answering because reloading it failed; undefined when in step. */
  behindSince(): number | undefined
  close(): void
}

/** Opens the copy in `dir` (throws if it cannot be used) and follows it. */
export function followLocalCopy(dir: string, options: CopyFollowerOptions = {}): CopyFollower {
  const statePath = join(dir, 'state.json')
  const stamp = (): string => {
    try {
      const s = statSync(statePath)
      return `${s.ino}:${s.mtimeMs}:${s.size}`
    } catch {
      return 'missing'
    }
  }
  const filesOf = (): string => {
    const s = readState(dir)
    return JSON.stringify(s ? [s.base, s.journals] : null)
  }
  const mtime = (): number => {
    try {
      return Math.floor(statSync(statePath).mtimeMs / 1000)
    } catch {
      return -1
    }
  }
  const load = (): LoadedCopy => {
    const t0 = performance.now()
    const copy = openLocalCopy(dir, { persistPdqIndex: options.persistPdqIndex ?? true })
    options.onEvent?.({ kind: 'loaded', copy, seconds: (performance.now() - t0) / 1000 })
    const origins = [...new Set([...(readState(dir)?.origins ?? []), ...copy.logs.map((l) => l.origin)])]
    return { copy, origins, committedAt: mtime(), loadedAt: Date.now() }
  }

  // Stamp and file list are taken before the load: a commit during it shows as a change at the next look.
  let seen = stamp()
  let files = filesOf()
  let loaded = load()
  let behind: number | undefined
  /** After a failed reload, the next try waits (doubling, up to a minute): a damaged copy is not re-read every poll. */
  let retryAt = 0
  let failedInRow = 0
  const reloads = { ok: 0, failed: 0 }

  const check = (): boolean => {
    const now = stamp()
    if (now === seen || Date.now() < retryAt) return false
    try {
      const nowFiles = filesOf()
      if (nowFiles === files) {
        // Only cursors or checkpoints moved: the same records answer.
        seen = now
        loaded = { ...loaded, committedAt: mtime() }
        behind = undefined
        return false
      }
      const next = load()
      loaded = next // the one swap: a request sees the old copy or the new one, whole
      seen = now
      files = nowFiles
      behind = undefined
      failedInRow = 0
      retryAt = 0
      reloads.ok++
      return true
    } catch (e) {
      if (!isLedgerError(e) && !(e instanceof Error && 'code' in e)) throw e
      reloads.failed++
      behind ??= Date.now()
      failedInRow++
      retryAt = Date.now() + Math.min(60_000, (options.pollMs ?? 2000) * 2 ** failedInRow)
      options.onEvent?.({ kind: 'reload_failed', code: isLedgerError(e) ? e.code : String((e as { code?: unknown }).code), message: e instanceof Error ? e.message : String(e) })
      return false
    }
  }

  const timer = setInterval(check, options.pollMs ?? 2000)
  timer.unref()
  return {
    current: () => loaded,
    check,
    reloads,
    behindSince: () => behind,
    close: () => clearInterval(timer),
  }
}
