/**
 * npm run testnet -- --nodes N --records R --dir D [--netns] [--mirror]
 *
 * Starts N node processes on loopback (with --netns: each in a network
 * namespace of its own, on its own address, testnet/netns.ts), imports R sample records spread over
 * them, waits until every node holds every log at one checkpoint cosigned by
 * every other member, writes D/testnet.json, and runs until SIGINT/SIGTERM.
 * With --mirror the first node also writes a static mirror (node.json
 * `mirror.dir`), served by a stand-in for the token-checking proxy of
 * docs/deploy.md §8 (it asks the node's /mirror-auth); a provider's first
 * sync and an auditor's verify then run from that mirror.
 */
import '../node/polyfill.ts'
import { mkdtempSync, writeFileSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { launch, grantToken, importSamples, waitConverged } from './launch.ts'
import { loadNodeFile, saveNodeFile } from '../node/config.ts'
import { serveStatic, type StaticServer } from './static-mirror.ts'
import { syncLocalCopy } from '../client/sync.ts'
import { verifyNode } from '../client/verify.ts'
import { createNetns, netnsUnavailable, NetnsUnavailable, type Netns } from './netns.ts'

export const CENTRE_NAMES = ['eu-centre', 'ncmec', 'c3p', 'esafety', 'iwf', 'inhope', 'jp-npa']

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '4' },
    records: { type: 'string', default: '1000' },
    dir: { type: 'string' },
    'timeout-s': { type: 'string', default: '900' },
    'exit-when-ready': { type: 'boolean', default: false },
    netns: { type: 'boolean', default: false },
    mirror: { type: 'boolean', default: false },
  },
})
const n = Number(values.nodes)
const records = Number(values.records)
if (!Number.isInteger(n) || n < 1 || n > CENTRE_NAMES.length) {
  console.error(`--nodes must be 1..${CENTRE_NAMES.length}`)
  process.exit(2)
}
if (!Number.isInteger(records) || records < 0) {
  console.error('--records must be a whole number')
  process.exit(2)
}
const noNetns = values.netns ? netnsUnavailable() : undefined
if (noNetns) {
  console.error(`testnet --netns: ${noNetns}`)
  process.exit(2)
}
const dir = resolve(values.dir ?? mkdtempSync(join(tmpdir(), 'cairn-testnet-')))
if (existsSync(dir) && readdirSync(dir).length > 0) {
  console.error(`${dir} is not empty; give an empty or new --dir`)
  process.exit(2)
}

const t0 = Date.now()
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`
let net: Netns | undefined
if (values.netns) {
  try {
    net = createNetns(n)
  } catch (e) {
    if (!(e instanceof NetnsUnavailable)) throw e
    console.error(`testnet --netns: ${e.message}`)
    process.exit(2)
  }
  console.log(`network: bridge ${net.bridge} at ${net.hostAddr}/24; nodes in namespaces ${net.nodes.map((x) => `${x.ns} (${x.addr})`).join(', ')}`)
}
console.log(`testnet in ${dir}: starting ${n} nodes…`)
let fed: Awaited<ReturnType<typeof launch>>
try {
  fed = await launch(dir, CENTRE_NAMES.slice(0, n), 'testnet.cairn', {}, net, (planned) => {
    if (values.mirror) saveNodeFile(planned[0]!.dir, { ...loadNodeFile(planned[0]!.dir), mirror: { dir: 'mirror', snapshot_minutes: 10 } })
  })
} catch (e) {
  net?.destroy()
  throw e
}
const { planned, procs } = fed
let stopping = false
let mirrorServer: StaticServer | undefined
const shutdown = async (why: string, code = 0) => {
  if (stopping) return
  stopping = true
  console.log(`${why}: stopping ${procs.length} nodes…`)
  await mirrorServer?.close()
  await fed.stop()
  net?.destroy()
  process.exit(code)
}
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))
for (const p of procs) void p.exited.then((code) => { if (!stopping) console.error(`node ${p.dir} exited (${code}); see ${p.dir}/node.log`) })
console.log(`${elapsed()}: nodes up: ${procs.map((p) => p.url).join(' ')}`)

const auditorTokens = await Promise.all(procs.map((p) => grantToken(p, 'auditor', 'testnet-auditor')))
const importStart = Date.now()
const expected = await importSamples(fed, records)
const importS = (Date.now() - importStart) / 1000
console.log(`${elapsed()}: imported ${records} records (${Math.round(records / Math.max(importS, 0.001))} records/s over ${n} nodes)`)

let last = ''
try {
  await waitConverged(procs.map((p) => p.url), expected, Number(values['timeout-s']) * 1000, (problems) => {
    const line = problems.slice(0, 2).join('; ')
    if (line !== last) console.log(`${elapsed()}: waiting: ${line}${problems.length > 2 ? ` (+${problems.length - 2})` : ''}`)
    last = line
  })
} catch (e) {
  console.error((e as Error).message)
  await shutdown('timeout')
}
const convergedS = (Date.now() - importStart) / 1000
console.log(`${elapsed()}: converged: every node holds every log at one checkpoint, cosigned by all ${n - 1} other members (${convergedS.toFixed(1)} s after the import began)`)

const logs = (await (await fetch(`${procs[0]!.url}/logs`)).json()) as { origin: string; vkey: string; witness_vkey: string; size: number }[]
const testnet = {
  nodes: planned.map((p, i) => {
    const l = logs.find((x) => x.origin === p.origin)!
    return { name: p.name, origin: p.origin, vkey: l.vkey, witness_vkey: l.witness_vkey, http: procs[i]!.url, token: auditorTokens[i]! }
  }),
}
let mirror: { url: string; provider_token: string; synced: number; verified_entries: number } | undefined
if (values.mirror) {
  // The mirror is written after each checkpoint: wait until its logs.json lists every log at the size converged on.
  const mirrorDir = join(planned[0]!.dir, 'mirror')
  const want = new Map(logs.map((l) => [l.origin, l.size]))
  for (let t = 0; ; t++) {
    const listed = existsSync(join(mirrorDir, 'logs.json')) ? JSON.parse(readFileSync(join(mirrorDir, 'logs.json'), 'utf8')) as { origin: string; size: number }[] : []
    if ([...want].every(([o, size]) => listed.some((l) => l.origin === o && l.size >= size))) break
    if (t > 600) {
      console.error(`the mirror in ${mirrorDir} did not catch up within 60 s`)
      await shutdown('mirror', 1)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  mirrorServer = await serveStatic(mirrorDir, { authUrl: `${procs[0]!.url}/mirror-auth` }, net?.hostAddr ?? '127.0.0.1')
  const providerToken = await grantToken(procs[0]!, 'provider', 'testnet-mirror-provider')
  const noToken = await fetch(`${mirrorServer.url}/logs/${planned[0]!.name}/tile/entries/000`)
  if (noToken.status !== 401) throw new Error(`the mirror served an entry bundle without a token (${noToken.status})`)
  const synced = await syncLocalCopy({ from: mirrorServer.url, token: providerToken, dir: join(dir, 'mirror-provider'), minWitnesses: n - 1, genesis: join(dir, 'genesis.json') })
  const audit = await verifyNode({ url: mirrorServer.url, token: auditorTokens[0]!, mirror: true, genesisPath: join(dir, 'genesis.json'), minWitnesses: n - 1 })
  if (!audit.ok) throw new Error(`verify --from ${mirrorServer.url} found problems: ${audit.problems.slice(0, 3).join('; ')}`)
  console.log(`${elapsed()}: mirror of ${planned[0]!.name} at ${mirrorServer.url} (entry bundles only with a token the node accepts): a provider synced ${synced.entries} entries from it into ${join(dir, 'mirror-provider')} (+${synced.added} -${synced.removed}), every checkpoint cosigned by ${n - 1}; verify --from checked ${audit.entries} entries of ${audit.logs.length} logs: ok`)
  mirror = { url: mirrorServer.url, provider_token: providerToken, synced: synced.entries, verified_entries: audit.entries }
}
writeFileSync(join(dir, 'testnet.json'), JSON.stringify({ ...testnet, ...(mirror ? { mirror } : {}) }, null, 2) + '\n')
writeFileSync(join(dir, 'timings.json'), JSON.stringify({ nodes: n, records, import_s: importS, converge_s: convergedS }, null, 2) + '\n')
console.log(`wrote ${join(dir, 'testnet.json')}`)
if (values['exit-when-ready']) await shutdown('ready')
console.log('running; Ctrl-C (SIGINT) or SIGTERM stops every node')
