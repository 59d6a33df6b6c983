/**
 * npm run testnet -- --nodes N --records R --dir D [--netns]
 *
 * Starts N node processes on loopback (with --netns: each in a network
 * namespace of its own, on its own address, testnet/netns.ts), imports R sample records spread over
 * them, waits until every node holds every log at one checkpoint cosigned by
 * every other member, writes D/testnet.json, and runs until SIGINT/SIGTERM.
 */
import '../node/polyfill.ts'
import { mkdtempSync, writeFileSync, existsSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { launch, grantToken, importSamples, waitConverged } from './launch.ts'
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
  fed = await launch(dir, CENTRE_NAMES.slice(0, n), 'testnet.cairn', {}, net)
} catch (e) {
  net?.destroy()
  throw e
}
const { planned, procs } = fed
let stopping = false
const shutdown = async (why: string, code = 0) => {
  if (stopping) return
  stopping = true
  console.log(`${why}: stopping ${procs.length} nodes…`)
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

const logs = (await (await fetch(`${procs[0]!.url}/logs`)).json()) as { origin: string; vkey: string; witness_vkey: string }[]
const testnet = {
  nodes: planned.map((p, i) => {
    const l = logs.find((x) => x.origin === p.origin)!
    return { name: p.name, origin: p.origin, vkey: l.vkey, witness_vkey: l.witness_vkey, http: procs[i]!.url, token: auditorTokens[i]! }
  }),
}
writeFileSync(join(dir, 'testnet.json'), JSON.stringify(testnet, null, 2) + '\n')
writeFileSync(join(dir, 'timings.json'), JSON.stringify({ nodes: n, records, import_s: importS, converge_s: convergedS }, null, 2) + '\n')
console.log(`wrote ${join(dir, 'testnet.json')}`)
if (values['exit-when-ready']) await shutdown('ready')
console.log('running; Ctrl-C (SIGINT) or SIGTERM stops every node')
