/** `cairn sync`: the provider's verified, resumable local copy of the current indicator set. */
import type { Command } from 'commander'
import cliProgress from 'cli-progress'
import { LedgerError } from '../protocol/errors.ts'
import { syncLocalCopy, type SyncProgress } from '../client/sync.ts'

export function registerSyncCommands(program: Command) {
  program
    .command('sync')
    .description('keep a verified local copy of the current indicator set (resumes from its cursor; checks every checkpoint, its cosignatures and its consistency with what it saw before)')
    .requiredOption('--node <url>', 'API base URL of a node')
    .option('--token <token>', 'provider (or auditor/oversight) token (default: $CAIRN_TOKEN)')
    .requiredOption('--dir <dir>', 'directory of the local copy (created if missing)')
    .option('--min-witnesses <k>', 'cosignatures by other members each checkpoint needs', '1')
    .option('--genesis <file>', 'the federation\'s genesis.json: pins the log and witness keys (without it: trust on first use)')
    .option('--limit <n>', 'log entries per page (at most 10000)', '10000')
    .option('--quiet', 'no progress output')
    .action(async (o) => {
      const token = o.token ?? process.env.CAIRN_TOKEN
      if (!token) throw new LedgerError('UNAUTHORIZED', 'give a token: --token <token> or $CAIRN_TOKEN (cairn token grant --role provider on the node)')
      const k = Number(o.minWitnesses)
      if (!/^\d+$/.test(String(o.minWitnesses))) throw new LedgerError('BAD_REQUEST', '--min-witnesses is a whole number ≥ 0')
      const tty = !o.quiet && process.stderr.isTTY
      const bar = tty ? new cliProgress.SingleBar({ format: 'sync [{bar}] {value}/{total} entries | +{added} -{removed}', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined
      let started = false
      let lastLine = 0
      const onProgress = (p: SyncProgress) => {
        if (bar) {
          if (!started) bar.start(p.total, 0, { added: 0, removed: 0 })
          started = true
          bar.setTotal(p.total)
          bar.update(p.done, { added: p.added, removed: p.removed })
        } else if (!o.quiet && (p.pages - lastLine >= 10 || p.done === p.total)) {
          lastLine = p.pages
          console.error(`sync: ${p.done}/${p.total} entries, +${p.added} -${p.removed}`)
        }
      }
      try {
        const r = await syncLocalCopy({ node: o.node, token, dir: o.dir, minWitnesses: k, genesis: o.genesis, limit: Number(o.limit), onProgress })
        bar?.stop()
        console.log(`synced ${o.dir} from ${o.node}: +${r.added} -${r.removed} (${r.entries} entries, ${r.pages} page${r.pages === 1 ? '' : 's'})`)
        for (const l of r.logs) console.log(`  ${l.origin}  ${l.size} entries, verified checkpoint ${l.checkpoint}`)
      } finally {
        bar?.stop()
      }
    })
}
