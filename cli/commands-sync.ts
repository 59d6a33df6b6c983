/** `cairn sync`: the provider's verified, resumable local copy of the current indicator set. */
import type { Command } from 'commander'
import cliProgress from 'cli-progress'
import { LedgerError } from '../protocol/errors.ts'
import type { SyncProgress } from '../client/sync.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadSync = () => import('../client/sync.ts')

export function registerSyncCommands(program: Command) {
  program
    .command('sync')
    .description('keep a verified local copy of the current indicator set (resumes from its cursor; checks every checkpoint, its cosignatures and its consistency with what it saw before)')
    .option('--node <url>', 'API base URL of a node')
    .option('--from <url>', 'base URL of a static mirror of a node, instead of --node (verified the same way)')
    .option('--from-snapshot <src>', 'first sync of an empty copy from a jsonl snapshot with entries: a file, an http(s) URL, "node" (the --node\'s) or "mirror" (the --from mirror\'s latest); every line checked against its signed entry, the rest read from --node/--from')
    .option('--token <token>', 'provider (or auditor/oversight) token (default: $CAIRN_TOKEN); a mirror gets it as a bearer token')
    .requiredOption('--dir <dir>', 'directory of the local copy (created if missing)')
    .option('--min-witnesses <k>', 'cosignatures by other members each checkpoint needs', '1')
    .option('--genesis <file>', 'the federation\'s genesis.json: pins the log and witness keys (without it: trust on first use)')
    .option('--limit <n>', 'log entries per page (at most 10000)', '10000')
    .option('--require-confirmations <n>', 'policy, kept in the copy: match and export only indicators at least n centres confirm (0: any)')
    .option('--drop-disputed', 'policy, kept in the copy: leave out indicators any centre disputes')
    .option('--keep-disputed', 'clear --drop-disputed')
    .option('--category <list>', 'keep only these categories (comma-separated: A1,A2,B1,B2); saved with the copy')
    .option('--alg <list>', 'keep only these algorithms (md5,sha1,sha256,pdq,photodna,tmk_pdqf,url_sha256); saved')
    .option('--media <list>', 'keep only these media (image,video,text,url); saved')
    .option('--log <list>', 'keep only indicators these centres published (log origins); saved')
    .option('--all-indicators', 'drop a saved --category/--alg/--media/--log subscription')
    .option('--quiet', 'no progress output')
    .action(async (o) => {
      const { syncLocalCopy } = await loadSync()
      const { parseSubscription } = await import('../protocol/subscription.ts')
      const token = o.token ?? process.env.CAIRN_TOKEN
      if (o.node && o.from) throw new LedgerError('BAD_REQUEST', 'give --node or --from, not both')
      if (!o.node && !o.from) throw new LedgerError('BAD_REQUEST', 'say where to sync from: --node <url> (a node\'s API) or --from <url> (a static mirror)')
      // A mirror's public files need none; its entry bundles say so (401) if the gate in front wants one.
      if (!token && o.node) throw new LedgerError('UNAUTHORIZED', 'give a token: --token <token> or $CAIRN_TOKEN (cairn token grant --role provider on the node)')
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
      if (o.requireConfirmations !== undefined && !/^\d{1,4}$/.test(o.requireConfirmations)) throw new LedgerError('BAD_REQUEST', '--require-confirmations is a whole number ≥ 0')
      if (o.dropDisputed && o.keepDisputed) throw new LedgerError('BAD_REQUEST', 'give --drop-disputed or --keep-disputed, not both')
      const policy = {
        require_confirmations: o.requireConfirmations === undefined ? undefined : Number(o.requireConfirmations),
        drop_disputed: o.dropDisputed ? true : o.keepDisputed ? false : undefined,
      }
      const given = ['category', 'alg', 'media', 'log'].some((f) => o[f] !== undefined)
      if (given && o.allIndicators) throw new LedgerError('BAD_REQUEST', '--all-indicators drops the subscription; give it without --category, --alg, --media or --log')
      const subscription = o.allIndicators ? {} : given ? parseSubscription((f) => o[f]) : undefined
      try {
        const r = await syncLocalCopy({ node: o.node, from: o.from, snapshot: o.fromSnapshot, token, dir: o.dir, minWitnesses: k, genesis: o.genesis, limit: Number(o.limit), onProgress, policy, subscription })
        bar?.stop()
        console.log(`synced ${o.dir} from ${o.from ?? o.node}: +${r.added} -${r.removed} (${r.entries} entries, ${r.pages} page${r.pages === 1 ? '' : 's'})`)
        if (r.snapshot) console.log(`  from the snapshot: ${r.snapshot.lines} lines verified against their signed entries; ${r.snapshot.fetched} entries read from ${o.from ?? o.node} to complete it`)
        const p = r.policy
        if (p.require_confirmations || p.drop_disputed) console.log(`  policy: ${[p.require_confirmations ? `${p.require_confirmations} confirmation(s) required` : '', p.drop_disputed ? 'disputed ones left out' : ''].filter(Boolean).join(', ')}`)
        if (Object.keys(r.subscription).length > 0) console.log(`  subscription: ${Object.entries(r.subscription).map(([f, v]) => `${f} ${(v as string[]).join(',')}`).join('; ')} (${r.skipped} other indicators verified, not kept)`)
        for (const l of r.logs) console.log(`  ${l.origin}  ${l.size} entries, verified checkpoint ${l.checkpoint}`)
      } finally {
        bar?.stop()
      }
    })
}
