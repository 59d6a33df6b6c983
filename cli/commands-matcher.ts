/** `cairn matcher serve`: HMA's matching API over the verified local copy `cairn sync` keeps (client/matcher-service.ts). */
import type { Command } from 'commander'
import { isLedgerError } from '../protocol/errors.ts'
import type { CopyFollower } from '../client/copy-follower.ts'
import { DEFAULT_MAX_UPLOAD_BYTES } from '../client/hma-signals.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadService = () => import('../client/matcher-service.ts')
const loadFollower = () => import('../client/copy-follower.ts')

export function registerMatcherCommands(program: Command) {
  const matcher = program.command('matcher').description('serve the local copy to systems written for Meta\'s Hasher-Matcher-Actioner (HMA)')
  matcher
    .command('serve')
    .description('serve HMA\'s matching API (/h/hash, /m/lookup, /m/raw_lookup, /m/index/status, /status) over the local copy, following it as cairn sync updates it')
    .requiredOption('--copy <dir>', 'the local copy (the --dir of cairn sync); its files are only read')
    .requiredOption('--port <port>', 'TCP port (0: any free one)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--max-upload-bytes <n>', 'largest upload POST /h/hash and /m/lookup take', String(DEFAULT_MAX_UPLOAD_BYTES))
    .option('--poll-ms <ms>', 'how often to look for a new commit of the copy', '2000')
    .option('--no-index-cache', 'never read or write pdq-index.idx beside the copy (build the PDQ index in memory)')
    .addHelpText('after', '\nPrints "listening on <url>" once the copy is loaded. Several processes may serve one copy (each on its own port).\nPDQ matches within distance 31 (HMA\'s threshold); uploads whose PDQ quality is below 50 get "pdq": "" and are not matched.\nThe API and how banks and content ids map to centres and records: spec/matcher-api.md.\nExit status: 2 for a usage error or a copy that cannot be used; 1 if the port cannot be taken.')
    .action(async function (this: Command, o: { copy: string; port: string; host: string; maxUploadBytes: string; pollMs: string; indexCache: boolean }) {
      const { followLocalCopy } = await loadFollower()
      const { listenMatcher, matcherApp } = await loadService()
      const whole = (name: string, v: string, min: number) => {
        if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) this.error(`error: ${name} is a whole number ≥ ${min}, got ${v}`)
        return Number(v)
      }
      const port = whole('--port', o.port, 0)
      if (port > 65535) this.error(`error: --port is at most 65535, got ${o.port}`)
      const maxUploadBytes = whole('--max-upload-bytes', o.maxUploadBytes, 1)
      const pollMs = whole('--poll-ms', o.pollMs, 100)
      const say = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`)
      let follower: CopyFollower
      try {
        follower = followLocalCopy(o.copy, {
          pollMs,
          persistPdqIndex: o.indexCache,
          onEvent: (e) => say(e.kind === 'loaded'
            ? `copy loaded in ${e.seconds.toFixed(1)} s: ${e.copy.size} records (${Object.entries(e.copy.counts).map(([a, n]) => `${a} ${n}`).join(', ') || 'none'}), cursor ${e.copy.cursor}`
            : `copy not reloaded (the previous one keeps answering): error ${e.code}: ${e.message}`),
        })
      } catch (e) {
        if (!isLedgerError(e)) throw e
        console.error(`error ${e.code}: ${e.message}`)
        process.exit(2)
      }
      const { app } = matcherApp({ follower, maxUploadBytes, onInternalError: (e) => say(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`) })
      const listening = await listenMatcher(app, o.host, port)
      console.log(`listening on ${listening.url}`)
      const stop = () => {
        follower.close()
        void listening.close().then(() => process.exit(0))
        setTimeout(() => process.exit(0), 5000).unref()
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
}
