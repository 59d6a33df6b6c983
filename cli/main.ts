/**
 * `cairn`: parse arguments, call node/ or protocol/ or the API, print. User
 * errors (LedgerError, and the system errors a user's input or set-up causes:
 * a missing file or folder, no permission, a full disk, a port or store in
 * use) print one line `error CODE: message` and exit 1; usage errors exit 2;
 * no stack traces for either.
 */
import '../node/polyfill.ts'
import { Command, Option } from 'commander'
import { registerNodeCommands } from './commands-node.ts'
import { registerRecordCommands } from './commands-records.ts'
import { registerRefCommand } from './commands-ref.ts'
import { registerRosterCommands } from './commands-roster.ts'
import { registerAuditCommands } from './commands-audit.ts'
import { registerSyncCommands } from './commands-sync.ts'
import { registerReportCommands } from './commands-report.ts'
import { registerHashCommands } from './commands-hash.ts'
import { registerMatchCommands } from './commands-match.ts'
import { registerMatcherCommands } from './commands-matcher.ts'
import { registerExportCommands } from './commands-export.ts'
import { registerFeedbackCommands } from './commands-feedback.ts'
import { registerCredentialCommands } from './commands-credential.ts'
import { LedgerError, type ErrorCode } from '../protocol/errors.ts'

const program = new Command()
program
  .name('cairn')
  .description('A federated, witnessed, append-only ledger of CSAM indicators')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2)
  })

registerNodeCommands(program)
registerRecordCommands(program)
registerRefCommand(program)
registerRosterCommands(program)
registerAuditCommands(program)
registerSyncCommands(program)
registerReportCommands(program)
registerHashCommands(program)
registerMatchCommands(program)
registerMatcherCommands(program)
registerExportCommands(program)
registerFeedbackCommands(program)
registerCredentialCommands(program)

export const targetOptions = [
  new Option('--dir <dir>', 'node directory (on the node\'s machine: uses its URL and operator token)'),
  new Option('--node <url>', 'API base URL of a node'),
  new Option('--token <token>', 'bearer token (default: $CAIRN_TOKEN or the node directory\'s operator token)'),
]

/**
 * The code an operating-system or storage error from the user's input or
 * set-up stands for: a missing file or folder, one the user may not touch, a
 * full disk, a port or store in use. Anything else is a bug: its stack trace
 * is printed.
 */
function userErrorCode(e: unknown): ErrorCode | undefined {
  for (let x = e, depth = 0; x !== null && typeof x === 'object' && depth < 5; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as { code?: unknown }).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'NOT_FOUND'
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'FORBIDDEN'
    if (code === 'ENOSPC' || code === 'EDQUOT') return 'STORAGE_FULL'
    // LevelDB's own I/O errors carry their cause in the text: "IO error: <file>: No space left on device".
    const message = (x as { message?: unknown }).message
    if (code === 'LEVEL_IO_ERROR' && typeof message === 'string' && /no space left on device|disk quota exceeded/i.test(message)) return 'STORAGE_FULL'
    if (code === 'LEVEL_IO_ERROR') return 'STORAGE_UNAVAILABLE'
    if (code === 'EISDIR' || code === 'EEXIST' || code === 'ENAMETOOLONG') return 'BAD_REQUEST'
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'LEVEL_LOCKED') return 'CONFLICT'
    if (code === 'LEVEL_CORRUPTION') return 'STORAGE_CORRUPT'
  }
  return undefined
}

/** The message of `e` and of the causes under it, on one line. */
function oneLine(e: unknown): string {
  const parts: string[] = []
  for (let x = e, depth = 0; x instanceof Error && depth < 5; x = x.cause, depth++) if (!parts.some((p) => p.includes(x instanceof Error ? x.message : ''))) parts.push(x.message)
  return parts.join(': ').replace(/\s*\n\s*/g, ' ')
}

try {
  await program.parseAsync(process.argv)
} catch (e) {
  if (e instanceof LedgerError) {
    console.error(`error ${e.code}: ${e.message}`)
    process.exit(1)
  }
  const code = userErrorCode(e)
  if (code) {
    console.error(`error ${code}: ${oneLine(e)}`)
    process.exit(1)
  }
  throw e
}
