/**
 * What the mirror writer has put in place, kept in <node dir>/mirror-state.json
 * (written to a temporary file and renamed) so a restarted node goes on
 * where it stopped instead of writing every tile again. Per log: the size
 * of the tree whose tiles, bundles and checkpoint are all written, that
 * tree's root (a fork resolution that cut the log back shows as another
 * root: the log is written again), a digest of the checkpoint note written,
 * and a digest of each redaction notice whose marker is in the bundles.
 * A state written for another target is ignored.
 */
import { readFileSync, existsSync, statSync } from 'node:fs'
import { z } from 'zod'
import { LedgerError } from '../../protocol/errors.ts'
import { replaceFile } from '../../client/durable-file.ts'

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`))
/** The state stays small: redactions are few; a file past this is not one this writer made. */
const MAX_STATE_BYTES = 16 * 1024 * 1024

const LogState = z.object({
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  root: hex(64),
  note: hex(64),
  /** Entry index → first 16 hex digits of SHA-256 of the notice whose marker the mirror holds. */
  redactions: z.record(z.string().regex(/^(0|[1-9][0-9]{0,15})$/), hex(16)),
}).strict()
export type MirrorLogState = z.infer<typeof LogState>

const StateFile = z.object({
  v: z.literal(1),
  target: z.string().max(2000),
  logs: z.record(z.string().max(300), LogState),
  logs_json: hex(64).optional(),
  /** Digest of every redaction notice the store held when the bundles were last brought up to date. */
  redaction_digest: hex(64).optional(),
  snapshot: z.object({ cursor: z.string().max(4000), at: z.number().int().min(0) }).strict().optional(),
}).strict()
export type MirrorState = z.infer<typeof StateFile>

export const emptyState = (target: string): MirrorState => ({ v: 1, target, logs: {} })

/** The state in `path` for `target`, or an empty one (none yet, or another target's). A damaged file is BAD_CONFIG (the writer then starts afresh). */
export function loadMirrorState(path: string, target: string): MirrorState {
  if (!existsSync(path)) return emptyState(target)
  if (statSync(path).size > MAX_STATE_BYTES) throw new LedgerError('BAD_CONFIG', `${path} is over ${MAX_STATE_BYTES} bytes: not a mirror state`)
  let parsed
  try {
    parsed = StateFile.safeParse(JSON.parse(readFileSync(path, 'utf8')))
  } catch (e) {
    throw new LedgerError('BAD_CONFIG', `${path}: ${(e as Error).message}`)
  }
  if (!parsed.success) throw new LedgerError('BAD_CONFIG', `${path}: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`)
  return parsed.data.target === target ? parsed.data : emptyState(target)
}

export function saveMirrorState(path: string, state: MirrorState): Promise<void> {
  return replaceFile(path, JSON.stringify(state) + '\n', 0o600)
}
