/**
 * Structured logs (pino, JSON lines on stderr): one logger per node, tagged
 * with its origin. Making a node's logger also sets up the process's last
 * line of defence (`guardProcess`): a storage error that no caller handled (a
 * full disk under a background write) is logged and counted, not fatal — the
 * node keeps serving reads.
 */
import pino, { type Logger } from 'pino'
import { logDestination } from './log-destination.ts'

export type { Logger }

export function createLogger(origin: string, level = process.env.CAIRN_LOG_LEVEL ?? 'info'): Logger {
  const log = pino({ level, base: { node: origin } }, logDestination)
  guardProcess(log)
  return log
}

/** True for errors of the storage layer and the disk under it: level's LEVEL_* codes and file-system errors. */
export function isStorageError(e: unknown): boolean {
  let x = e
  for (let depth = 0; x !== null && typeof x === 'object' && depth < 5; depth++) {
    const code = (x as { code?: unknown }).code
    if (typeof code === 'string' && (code.startsWith('LEVEL_') || ['ENOSPC', 'EIO', 'EDQUOT', 'EROFS'].includes(code))) return true
    x = (x as { cause?: unknown }).cause
  }
  return false
}

let storageErrors = 0
const guarded: Logger[] = []
let installed = false

/** Storage errors no caller handled, in this process (cairn_unhandled_storage_errors_total). */
export function unhandledStorageErrors(): number {
  return storageErrors
}

/**
 * Makes an unhandled rejection from storage a logged, counted error instead
 * of the end of the process; any other unhandled rejection is a bug and still
 * ends it (exit 1), after a JSON log line naming it. Once per process; each
 * node started in it adds its logger (the last one started logs).
 */
export function guardProcess(log: Logger): void {
  guarded.push(log)
  if (installed) return
  installed = true
  process.on('unhandledRejection', (reason) => {
    const to = guarded[guarded.length - 1]!
    if (isStorageError(reason)) {
      storageErrors++
      to.error({ err: reason }, 'storage error that no caller handled (the node goes on; reads are served, writes may fail until it is fixed)')
      return
    }
    to.fatal({ err: reason }, 'unhandled promise rejection: a bug; the process stops')
    if (!to.isLevelEnabled('fatal')) console.error('unhandled promise rejection:', reason)
    process.exit(1)
  })
}
