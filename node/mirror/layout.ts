/**
 * The static mirror's layout (spec/api.md "A static mirror"): which files a
 * mirror holds, under the same paths the node serves them at, and for each
 * whether it is public or restricted (indicator values: entry bundles and
 * snapshots) and how long a cache may keep it. The writer, both targets and
 * the /mirror routes read this one table.
 */
import { parseTilePath, tilePath, entriesPath, TILE_WIDTH, type TileRef } from '../../protocol/tiles.ts'
import { LedgerError } from '../../protocol/errors.ts'

export type MirrorKind = 'tile' | 'bundle' | 'checkpoint' | 'logs' | 'snapshot' | 'snapshot-latest'

export interface MirrorFile {
  kind: MirrorKind
  /** Relative to the mirror's base, never starting with '/'. */
  path: string
  /** Holds indicator values: served only to provider and auditor tokens. */
  restricted: boolean
  cacheControl: string
  contentType: string
}

const YEAR = 'max-age=31536000, immutable'
const SUPERSEDED = 'max-age=3600'
const OCTETS = 'application/octet-stream'
const TEXT = 'text/plain; charset=utf-8'
const JSON_ = 'application/json'
const NDJSON = 'application/x-ndjson; charset=utf-8'
/** Longest path a client may ask the node to redirect for (a cursor grows with the number of logs). */
export const MAX_MIRROR_PATH = 1024

const LOG_NAME = /^[A-Za-z0-9._-]{1,100}$/
const CURSOR = /^[A-Za-z0-9_-]{1,900}$/

export const logsFile = (): MirrorFile => ({ kind: 'logs', path: 'logs.json', restricted: false, cacheControl: 'no-cache', contentType: JSON_ })

export const checkpointFile = (name: string): MirrorFile => ({ kind: 'checkpoint', path: `logs/${name}/checkpoint`, restricted: false, cacheControl: 'no-cache', contentType: TEXT })

export function tileFile(name: string, t: TileRef): MirrorFile {
  return { kind: 'tile', path: `logs/${name}/${tilePath(t)}`, restricted: false, cacheControl: `public, ${t.width === TILE_WIDTH ? YEAR : SUPERSEDED}`, contentType: OCTETS }
}

export function bundleFile(name: string, index: number, width: number): MirrorFile {
  return { kind: 'bundle', path: `logs/${name}/${entriesPath(index, width)}`, restricted: true, cacheControl: `private, ${width === TILE_WIDTH ? YEAR : SUPERSEDED}`, contentType: OCTETS }
}

export const snapshotFile = (cursor: string): MirrorFile => ({ kind: 'snapshot', path: `snapshot/${cursor}.jsonl`, restricted: true, cacheControl: `private, ${YEAR}`, contentType: NDJSON })

export const snapshotLatestFile = (): MirrorFile => ({ kind: 'snapshot-latest', path: 'snapshot/latest.json', restricted: true, cacheControl: 'private, no-cache', contentType: JSON_ })

/**
 * The file a mirror path names, or NOT_FOUND for anything that is not one
 * (other spellings of a tile path included): the /mirror route redirects
 * only for these.
 */
export function parseMirrorPath(path: string): MirrorFile {
  const none = () => new LedgerError('NOT_FOUND', 'not a path of the static mirror (logs.json, logs/<name>/checkpoint, logs/<name>/tile/..., snapshot/latest.json, snapshot/<cursor>.jsonl)')
  if (path.length > MAX_MIRROR_PATH) throw none()
  if (path === 'logs.json') return logsFile()
  if (path === 'snapshot/latest.json') return snapshotLatestFile()
  const snap = /^snapshot\/([^/]+)\.jsonl$/.exec(path)
  if (snap) {
    if (!CURSOR.test(snap[1]!)) throw none()
    return snapshotFile(snap[1]!)
  }
  const m = /^logs\/([^/]+)\/(.+)$/.exec(path)
  if (!m || !LOG_NAME.test(m[1]!)) throw none()
  const [, name, rest] = m as unknown as [string, string, string]
  if (rest === 'checkpoint') return checkpointFile(name)
  let t
  try {
    t = parseTilePath(rest)
  } catch {
    throw none()
  }
  return t.kind === 'tile' ? tileFile(name, t) : bundleFile(name, t.index, t.width)
}
