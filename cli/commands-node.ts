/** Node lifecycle commands: keygen, federation init, node start, status, token. */
import { existsSync, copyFileSync, chmodSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import type { Genesis } from '../protocol/genesis.ts'
import type { CairnNode } from '../node/node.ts'
import { LedgerError } from '../protocol/errors.ts'
import { api } from '../client/http.ts'
import { resolveTarget } from './target.ts'
import type { NodeStatus } from '../node/status.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadConfig = () => import('../node/config.ts')
const loadTokens = () => import('../node/tokens.ts')
const loadCheck = () => import('../node/storage/check.ts')
const loadRestore = () => import('../node/backup/restore.ts')
const loadBackup = () => import('../node/backup/take.ts')
const loadNode = () => import('../node/node.ts')

export function registerNodeCommands(program: Command) {
  program
    .command('keygen')
    .description('create a node directory with fresh log, witness and libp2p keys; prints the member entry for the genesis roster')
    .requiredOption('--dir <dir>', 'node directory to create')
    .requiredOption('--origin <origin>', 'log origin, <federation>/<member>, e.g. demo.cairn/eu-centre')
    .option('--roles <roles>', 'comma-separated roles', 'publisher,witness')
    .option('--p2p-port <port>', 'libp2p TCP port on --host (0 = random)', '0')
    .option('--http-port <port>', 'HTTP API port on --host (0 = random)', '0')
    .option('--host <host>', 'address to listen on (0.0.0.0 or :: for every interface; then give --advertise)', '127.0.0.1')
    .option('--advertise <multiaddr...>', 'addresses other centres dial, e.g. /dns4/cairn.example.org/tcp/4001 (into member.json and node.json; default: the listen address)')
    .action(async (o) => {
      const { initNodeDir, memberEntry, writePrivate, isDialable } = await loadConfig()
      const p2pPort = Number(o.p2pPort)
      const listen = `/${String(o.host).includes(':') ? 'ip6' : 'ip4'}/${o.host}/tcp/${p2pPort}`
      const advertise: string[] = o.advertise ?? []
      for (const a of advertise) if (!isDialable(a)) throw new LedgerError('BAD_CONFIG', `--advertise ${a}: give /ip4/, /ip6/, /dns4/, /dns6/ or /dns/ <host> /tcp/<port> that other centres can dial`)
      if (advertise.length === 0 && p2pPort !== 0 && !isDialable(listen)) {
        throw new LedgerError('BAD_CONFIG', `--host ${o.host} is not an address other centres can dial; give --advertise with the public address or DNS name (e.g. /dns4/cairn.example.org/tcp/${p2pPort})`)
      }
      const { keys } = await initNodeDir(o.dir, o.origin, { listen: [listen], advertise, http: { host: o.host, port: Number(o.httpPort) } })
      const member = memberEntry(o.origin, keys, String(o.roles).split(',').filter(Boolean), advertise.length ? advertise : p2pPort ? [listen] : [])
      writePrivate(join(o.dir, 'member.json'), JSON.stringify(member, null, 2) + '\n')
      console.log(JSON.stringify(member, null, 2))
      console.error(`keys written to ${join(o.dir, 'keys.json')} (keep it secret); member entry in ${join(o.dir, 'member.json')}`)
    })

  const fed = program.command('federation').description('genesis roster')
  fed
    .command('init')
    .description('write the genesis roster from member entries (member.json of each keygen)')
    .requiredOption('--federation <name>', 'federation name, e.g. demo.cairn')
    .option('--threshold <n>', 'confirmations a roster change needs', '')
    .option('--member <file...>', 'member.json files')
    .option('--node-dir <dir...>', 'node directories: reads their member.json and writes genesis.json into each')
    .option('--out <file>', 'where to write the genesis roster', 'genesis.json')
    .action(async (o) => {
      const { parseJsonFile, writeGenesis } = await loadConfig()
      const { GenesisMember } = await import('../protocol/genesis.ts')
      const files: string[] = [...(o.member ?? []), ...(o.nodeDir ?? []).map((d: string) => join(d, 'member.json'))]
      if (files.length === 0) throw new LedgerError('BAD_CONFIG', 'name the members: --member <member.json> ... or --node-dir <dir> ...')
      const members = files.map((f) => parseJsonFile(f, GenesisMember, 'member entry'))
      const threshold = o.threshold ? Number(o.threshold) : Math.floor(members.length / 2) + 1
      const g: Genesis = { federation: o.federation, threshold, members }
      writeGenesis(o.out, g)
      for (const d of o.nodeDir ?? []) {
        copyFileSync(o.out, join(d, 'genesis.json'))
        chmodSync(join(d, 'genesis.json'), 0o600)
      }
      console.log(`genesis roster of ${o.federation}: ${members.length} members, threshold ${threshold}, written to ${o.out}`)
    })

  const nodeCmd = program.command('node').description('run a node')
  nodeCmd
    .command('start')
    .description('start the node in a directory made by keygen (needs genesis.json there or --genesis)')
    .requiredOption('--dir <dir>', 'node directory')
    .option('--genesis <file>', 'genesis roster to copy into the directory')
    .option('--http-port <port>', 'override the HTTP port')
    .option('--peer <multiaddr...>', 'extra peers to keep connected to (multiaddr with /p2p/<id>)')
    .option('--alone', 'sign the own log at once, without first asking the other members how far it goes (only when none can hold a copy of it; see docs/reference.md)')
    .action(async (o) => {
      const { loadNodeFile, writePrivate } = await loadConfig()
      const { startNode } = await loadNode()
      const { ensureOperatorToken } = await loadTokens()
      if (o.genesis) {
        copyFileSync(o.genesis, join(o.dir, 'genesis.json'))
        chmodSync(join(o.dir, 'genesis.json'), 0o600)
      }
      if (!existsSync(join(o.dir, 'genesis.json'))) throw new LedgerError('BAD_CONFIG', `no genesis.json in ${o.dir}: run cairn federation init, or pass --genesis`)
      const settings = loadNodeFile(o.dir)
      const node = await startNode({ dir: o.dir, httpPort: o.httpPort ? Number(o.httpPort) : undefined, bootstrap: o.peer ? [...settings.bootstrap, ...o.peer] : undefined, alone: o.alone ? true : undefined })
      await ensureOperatorToken(o.dir, node.tokens)
      writePrivate(join(o.dir, 'node.url'), node.url + '\n')
      writePrivate(join(o.dir, 'node.addrs'), node.peer.multiaddrs().join('\n') + '\n')
      // node.log is JSON lines only: the banner is one of them.
      node.log.info({ api: node.url, peer_id: node.keys.peerId, listening: node.peer.multiaddrs().map(String) }, `cairn node ${node.origin} running`)
      reportOwnLog(node.ownLog, node.log)
      let stopping = false
      const stop = async (sig: string) => {
        if (stopping) return
        stopping = true
        node.log.info({ signal: sig }, `stopping ${node.origin}`)
        await node.stop()
        rmSync(join(o.dir, 'node.url'), { force: true })
        process.exit(0)
      }
      process.on('SIGINT', () => void stop('SIGINT'))
      process.on('SIGTERM', () => void stop('SIGTERM'))
    })

  nodeCmd
    .command('backup')
    .description('write a consistent copy of a node (running or stopped) to one file: store, keys, settings, roster; the file holds the secret keys')
    .requiredOption('--dir <dir>', 'node directory')
    .requiredOption('--out <file>', 'backup file to write (written under a temporary name, renamed when complete)')
    .option('--force', 'replace --out if it exists')
    .action(async (o) => {
      const { takeBackup } = await loadBackup()
      const r = await takeBackup({ dir: o.dir, out: o.out, force: Boolean(o.force) })
      console.log(`backup of ${r.manifest.origin} (${r.manifest.source} node) written to ${r.out}: ${r.bytes} bytes, ${r.store.rows} store rows, files ${r.files.join(', ')}`)
      for (const l of r.store.logs) console.log(`  ${l.origin.padEnd(36)} ${String(l.size).padStart(10)} entries`)
      if (r.skipped.length) console.error(`left out (larger than 1 MiB, not node configuration): ${r.skipped.join(', ')}`)
      console.error('the backup holds the node\'s secret keys (keys.json): keep it as safe as the node itself')
    })
  nodeCmd
    .command('check')
    .description('check a stopped node\'s store completely: every entry against its leaf hash, every tile against the tree, each log\'s root against its signed checkpoint, every row against its checksum, every snapshot line against the store (exit 1 on damage; snapshot files that differ are rebuilt)')
    .requiredOption('--dir <dir>', 'node directory (the node must be stopped)')
    .action(async (o) => {
      const { checkNodeStore, REBUILT } = await loadCheck()
      /** A problem the check mended: snapshot files or index rows rebuilt from the checked store. */
      const rebuilt = (p: string) => p.endsWith(REBUILT)
      const checks = await checkNodeStore(o.dir, (c) => {
        const what = c.linesChecked !== undefined
          ? `${String(c.linesChecked).padStart(10)} lines against the store`
          : c.rowsChecked !== undefined
            ? `${String(c.rowsChecked).padStart(10)} rows against their checksums`
            : `${String(c.entriesChecked).padStart(10)} entries ${String(c.tilesChecked).padStart(7)} full tiles, checkpoint at ${c.checkpointSize}`
        const verdict = (c.problems.length === 0 ? 'ok' : (c.linesChecked !== undefined || c.rowsChecked !== undefined) && c.problems.every(rebuilt) ? 'MENDED' : 'FAIL').padEnd(6)
        console.log(`${verdict} ${c.origin.padEnd(36)} ${what}`)
        for (const p of c.problems) console.log(`       ${p}`)
      })
      const logs = checks.filter((c) => c.rowsChecked === undefined && c.linesChecked === undefined)
      const bad = logs.filter((c) => c.problems.length > 0)
      const rows = checks.find((c) => c.rowsChecked !== undefined)
      if (bad.length > 0) {
        throw new LedgerError('STORAGE_CORRUPT', `${bad.length} of ${logs.length} logs are damaged (${bad.map((c) => c.origin).join(', ')}); a node started on this store withholds them and heals them from its peers`)
      }
      if (rows && !rows.problems.every(rebuilt)) {
        throw new LedgerError('STORAGE_CORRUPT', `the logs check out, but rows of the store's other tables (the record index, counters, tokens, access log; the value, reference and roster indexes were mended from the entries) fail their checksums; a node started on this store answers STORAGE_CORRUPT where it reads them: restore the node from a backup, or start a new node directory and let it sync from its peers`)
      }
      const lines = checks.find((c) => c.linesChecked !== undefined)
      if (lines && !lines.problems.every(rebuilt)) {
        throw new LedgerError('STORAGE_CORRUPT', 'the logs and rows check out, but the snapshot files could not all be checked (see above); a node renders those logs\' snapshots from the store')
      }
      const mended = lines && lines.problems.length > 0 ? `; the snapshot files did not match the store and were rebuilt from it` : lines ? ', and every snapshot line against the store' : ''
      const reindexed = rows && rows.problems.length > 0 ? ' (after the value, reference and roster indexes were mended from the entries)' : ''
      console.log(`all ${logs.length} logs check out against their signed trees, and every row against its checksum${reindexed}${mended}`)
    })
  nodeCmd
    .command('restore <file>')
    .description('restore a backup into a new or empty node directory (checked completely first; all or nothing)')
    .requiredOption('--dir <dir>', 'node directory to create')
    .option('--force', 'restore into a directory that is not empty: its contents are moved to <dir>.before-restore-<time>')
    .action(async (file, o) => {
      const { restoreBackup } = await loadRestore()
      const r = await restoreBackup({ file, dir: o.dir, force: Boolean(o.force) })
      console.log(`restored ${r.manifest.origin} from the backup of ${r.manifest.created} into ${r.dir}`)
      for (const l of r.store.logs) console.log(`  ${l.origin.padEnd(36)} ${String(l.size).padStart(10)} entries`)
      if (r.setAside) console.log(`the directory's previous contents are in ${r.setAside}`)
      console.log(`start it with: cairn node start --dir ${o.dir}`)
      console.log('  it syncs back from its peers whatever its log gained since the backup before it signs anything new;')
      console.log('  tokens granted or revoked since the backup are as they were then: check `cairn token list`')
    })

  program
    .command('status')
    .description('logs, sizes, peers, frozen logs and cosignatures of a node (operator)')
    .option('--dir <dir>').option('--node <url>').option('--token <token>')
    .option('--json', 'print the raw JSON')
    .action(async (o) => {
      const s = await api<NodeStatus>(resolveTarget(o), 'GET', '/status')
      if (o.json) return console.log(JSON.stringify(s, null, 2))
      console.log(`${s.origin}  ${s.url}  peer ${s.peerId}`)
      console.log(`peers: ${s.peers.map((p) => p.origin ?? p.peerId).join(', ') || '(none)'}`)
      console.log(`current indicator set: ${s.currentSetSize}`)
      if (s.ownLog && s.ownLog.state !== 'ready') console.log(`own log: ${s.ownLog.state}: ${s.ownLog.note} (publishing waits)`)
      console.log('log'.padEnd(36) + 'size'.padStart(10) + 'checkpoint'.padStart(12) + 'cosigs'.padStart(8) + '  state')
      for (const l of s.logs) {
        console.log(l.origin.padEnd(36) + String(l.size).padStart(10) + String(l.checkpointSize).padStart(12) + String(l.cosignatures).padStart(8) + '  ' + (l.frozen ? 'FROZEN (equivocation)' : l.target && l.target > l.size ? `syncing to ${l.target}` : 'ok'))
      }
      const rej = Object.entries(s.sync.rejected)
      if (rej.length) console.log(`rejected input: ${rej.map(([k, v]) => `${k}=${v}`).join(' ')}`)
    })

  const token = program.command('token').description('API tokens (operator)')
  token
    .command('grant')
    .description('create a token; it is printed once, the node keeps only its hash')
    .requiredOption('--role <role>', 'provider | auditor | oversight | operator | metrics (reads /metrics only)')
    .requiredOption('--name <who>', 'who holds it (appears in the access log)')
    .option('--dir <dir>').option('--node <url>').option('--token <token>')
    .action(async (o) => {
      const r = await api<{ token: string; id: string }>(resolveTarget(o), 'POST', '/admin/tokens', { role: o.role, name: o.name })
      console.log(r.token)
      console.error(`token id ${r.id} (${o.role}, ${o.name}); revoke with: cairn token revoke ${r.id}`)
    })
  token
    .command('revoke <id>')
    .option('--dir <dir>').option('--node <url>').option('--token <token>')
    .action(async (id, o) => {
      const r = await api<{ id: string; name: string }>(resolveTarget(o), 'DELETE', `/admin/tokens/${encodeURIComponent(id)}`)
      console.log(`revoked token ${r.id} of ${r.name}`)
    })
  token
    .command('list')
    .option('--dir <dir>').option('--node <url>').option('--token <token>')
    .action(async (o) => {
      const list = await api<{ id: string; name: string; role: string; created: number; revoked?: number }[]>(resolveTarget(o), 'GET', '/admin/tokens')
      for (const t of list) console.log(`${t.id}  ${t.role.padEnd(9)} ${t.name}  ${new Date(t.created).toISOString()}${t.revoked ? '  revoked ' + new Date(t.revoked).toISOString() : ''}`)
    })
}

/** `node start` says how the own-log check goes: a restored node syncs back before it signs. */
function reportOwnLog(ownLog: CairnNode['ownLog'], log: CairnNode['log']): void {
  let said = ''
  const say = () => {
    const s = ownLog.status()
    const line = s.state === 'ready' ? `own log ready to sign (${s.note})` : `own log ${s.state}: ${s.note}; publishing waits`
    // node.log is JSON lines only: the state goes through the logger like the banner.
    if (line !== said) log.info({ own_log: s.state }, line)
    said = line
    if (s.state !== 'ready') setTimeout(say, 500).unref()
  }
  say()
}
