/**
 * `cairn`: parse arguments, call node/ or protocol/ or the API, print. User
 * errors (LedgerError) print one line `error CODE: message` and exit 1;
 * usage errors exit 2; no stack traces for either.
 */
import '../node/polyfill.ts'
import { Command, Option } from 'commander'
import { registerNodeCommands } from './commands-node.ts'
import { registerRecordCommands } from './commands-records.ts'
import { registerAuditCommands } from './commands-audit.ts'
import { registerSyncCommands } from './commands-sync.ts'
import { registerReportCommands } from './commands-report.ts'
import { registerHashCommands } from './commands-hash.ts'
import { registerMatchCommands } from './commands-match.ts'
import { registerExportCommands } from './commands-export.ts'
import { LedgerError } from '../protocol/errors.ts'

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
registerAuditCommands(program)
registerSyncCommands(program)
registerReportCommands(program)
registerHashCommands(program)
registerMatchCommands(program)
registerExportCommands(program)

export const targetOptions = [
  new Option('--dir <dir>', 'node directory (on the node\'s machine: uses its URL and operator token)'),
  new Option('--node <url>', 'API base URL of a node'),
  new Option('--token <token>', 'bearer token (default: $CAIRN_TOKEN or the node directory\'s operator token)'),
]

try {
  await program.parseAsync(process.argv)
} catch (e) {
  if (e instanceof LedgerError) {
    console.error(`error ${e.code}: ${e.message}`)
    process.exit(1)
  }
  throw e
}
