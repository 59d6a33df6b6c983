/**
 * The static mirror (issue 23, spec/api.md "A static mirror"): the node
 * copies its logs' tiles, entry bundles, checkpoints, logs.json and jsonl
 * snapshots into a directory or an S3-compatible bucket, which any static
 * web server or CDN then serves; clients read it as they read a node.
 *
 * node/node.ts calls `startMirror` (nothing when node.json has no
 * `mirror`); `writeMirrorOnce` writes a mirror of a running node into a
 * directory, once (tests, the bench).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { NodeFile } from '../config.ts'
import type { Store } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { SetLines } from '../provider/set-lines.ts'
import { OpinionIndex } from '../provider/opinions.ts'
import type { Logger } from '../logger.ts'
import { DirTarget } from './dir-target.ts'
import type { MirrorTarget } from './target.ts'
import { MirrorWriter, type MirrorStatus } from './writer.ts'
import type { MirrorFile } from './layout.ts'

export { parseMirrorPath, type MirrorFile } from './layout.ts'
export { MirrorWriter, MIRROR_STATE_FILE, type MirrorStatus } from './writer.ts'
/** The environment variables that hold the S3 mirror's key (read in ./s3-target.ts). */
export const S3_KEY_ID_ENV = 'CAIRN_MIRROR_S3_ACCESS_KEY_ID'
export const S3_SECRET_ENV = 'CAIRN_MIRROR_S3_SECRET_ACCESS_KEY'

/** How long a URL GET /mirror/<path> redirects to stays valid. */
export const PRESIGN_SECONDS = 300

export interface Mirror {
  /** Schedules a round: a log has a new checkpoint. Never blocks, never throws. */
  notify(): void
  /** Brings the mirror up to what the store holds now; throws if that fails (tests). */
  flush(): Promise<void>
  status(): MirrorStatus
  /** A presigned GET URL of a mirror file, valid PRESIGN_SECONDS (S3 mirrors only). */
  presign?: (file: MirrorFile) => Promise<string>
  stop(): Promise<void>
}

export interface MirrorDeps {
  /** node.json `mirror`. */
  settings: NonNullable<NodeFile['mirror']>
  /** The node directory: mirror.dir is relative to it; mirror-state.json lives in it. */
  dir: string
  store: Store
  roster: Pick<Roster, 'member'>
  setLines: Pick<SetLines, 'ready' | 'stream'>
  opinions: OpinionIndex
  now: () => number
  log: Logger
  /** Tests: backoff and polling of the writer (ms). */
  minBackoffMs?: number
  maxBackoffMs?: number
  pollMs?: number
}

/** Starts the writer of node.json's mirror. The AWS SDK is loaded only for an S3 mirror (it costs every start ~0.2 s). */
export async function startMirror(d: MirrorDeps): Promise<Mirror> {
  const s3 = d.settings.s3 ? new (await import('./s3-target.ts')).S3Target(d.settings.s3) : undefined
  const target: MirrorTarget = s3 ?? new DirTarget(resolve(d.dir, d.settings.dir!))
  const writer = new MirrorWriter({
    target, store: d.store, roster: d.roster, snapshot: { store: d.store, setLines: d.setLines, opinions: d.opinions },
    dir: d.dir, now: d.now, snapshotMinutes: d.settings.snapshot_minutes,
    log: (level, obj, msg) => d.log[level](obj, msg),
    minBackoffMs: d.minBackoffMs, maxBackoffMs: d.maxBackoffMs, pollMs: d.pollMs,
  })
  writer.start()
  return {
    notify: () => writer.notify(),
    flush: () => writer.flush(),
    status: () => writer.status(),
    ...(s3 ? { presign: (file: MirrorFile) => s3.presign(file, PRESIGN_SECONDS) } : {}),
    async stop() {
      await writer.stop()
      s3?.destroy()
    },
  }
}

/**
 * Writes a mirror of a running node's logs into `outDir`, once, and returns
 * (a snapshot included). Its state is kept in a temporary directory, so every
 * call writes the whole mirror.
 */
export async function writeMirrorOnce(node: { store: Store; roster: Pick<Roster, 'member'>; setLines: Pick<SetLines, 'ready' | 'stream'>; now(): number; log: Logger }, outDir: string): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'cairn-mirror-'))
  try {
    const writer = new MirrorWriter({
      target: new DirTarget(outDir), store: node.store, roster: node.roster,
      snapshot: { store: node.store, setLines: node.setLines, opinions: OpinionIndex.start(node.store) },
      dir: stateDir, now: () => node.now(), snapshotMinutes: 1, log: (level, obj, msg) => node.log[level](obj, msg),
    })
    await writer.flush()
  } finally {
    rmSync(stateDir, { recursive: true, force: true })
  }
}
