/**
 * npm start: a demo federation on loopback — EU Centre, NCMEC, C3P and
 * eSafety — with made-up sample indicators of every alg, a few revocations
 * and disputes, and tokens to try the provider and auditor commands.
 * Data lives in .cairn-demo/ (recreated on every start). Ctrl-C stops it.
 * `npm start -- --netns` runs each centre in a Linux network namespace of
 * its own, on its own address on a bridge (testnet/netns.ts; root needed),
 * as on four machines.
 */
import '../node/polyfill.ts'
import { rmSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { launch, grantToken, importSamples, publishBodies, waitConverged } from './launch.ts'
import { sampleIndicator } from './samples.ts'
import { createNetns, netnsUnavailable, NetnsUnavailable, type Netns } from './netns.ts'

const root = new URL('..', import.meta.url).pathname
const dir = join(root, '.cairn-demo')
const CENTRES = ['eu-centre', 'ncmec', 'c3p', 'esafety']
const SAMPLES = Number(process.env.CAIRN_DEMO_RECORDS ?? 16_000)

if (existsSync(dir)) rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
const { values } = parseArgs({ options: { netns: { type: 'boolean', default: false } } })
let net: Netns | undefined
if (values.netns) {
  const no = netnsUnavailable()
  try {
    if (no) throw new NetnsUnavailable(no)
    net = createNetns(CENTRES.length)
  } catch (e) {
    if (!(e instanceof NetnsUnavailable)) throw e
    console.error(`demo --netns: ${e.message}`)
    process.exit(2)
  }
  console.log(`network: bridge ${net.bridge} at ${net.hostAddr}/24; centres in namespaces ${net.nodes.map((x) => `${x.ns} (${x.addr})`).join(', ')}`)
}
console.log(`Starting the demo federation (${CENTRES.join(', ')}) in ${dir} …`)
let fed: Awaited<ReturnType<typeof launch>>
try {
  fed = await launch(dir, CENTRES, 'demo.cairn', {}, net)
} catch (e) {
  net?.destroy()
  throw e
}
let stopping = false
const shutdown = async () => {
  if (stopping) return
  stopping = true
  console.log('\nstopping the demo federation…')
  await fed.stop()
  net?.destroy()
  process.exit(0)
}
process.on('SIGINT', () => void shutdown())
process.on('SIGTERM', () => void shutdown())

const [eu, ncmec, c3p, esafety] = fed.procs as [typeof fed.procs[0], typeof fed.procs[0], typeof fed.procs[0], typeof fed.procs[0]]
console.log(`publishing ${SAMPLES} made-up indicators across the four centres…`)
const expected = await importSamples(fed, SAMPLES)

// A few revocations (each centre revokes some of its own) and attestations across centres.
const idsOf = async (p: typeof eu, name: string, n: number) =>
  publishBodies(p, Array.from({ length: n }, (_, i) => sampleIndicator(`${name}-extra`, i)))
const reasons = ['false_positive', 'duplicate', 'reclassified', 'legal_order', 'expired']
for (const [i, p] of fed.procs.entries()) {
  const ids = await idsOf(p, CENTRES[i]!, 12)
  await publishBodies(p, ids.slice(0, 5).map((id, k) => ({ type: 'revocation', target: id, reason: reasons[k % reasons.length] })))
  expected[fed.planned[i]!.origin]! += 17
  // Another centre disputes two and confirms three of them.
  const other = fed.procs[(i + 1) % fed.procs.length]!
  await publishBodies(other, [
    ...ids.slice(5, 7).map((id) => ({ type: 'attestation', target: id, opinion: 'dispute', reason: 'wrong_category' })),
    ...ids.slice(7, 10).map((id) => ({ type: 'attestation', target: id, opinion: 'confirm', reason: 'reviewed' })),
  ])
  expected[fed.planned[(i + 1) % fed.procs.length]!.origin]! += 5
}
await waitConverged(fed.procs.map((p) => p.url), expected, 300_000)

const provider = await grantToken(eu, 'provider', 'demo-platform')
const auditor = await grantToken(eu, 'auditor', 'demo-auditor')
const sample = sampleIndicator('eu-centre', 2) // a sha256 sample published by the EU Centre

console.log(`
The demo federation is running; every node holds all four logs, each
checkpoint cosigned by the three other centres.

  centre      API
  eu-centre   ${eu.url}
  ncmec       ${ncmec.url}
  c3p         ${c3p.url}
  esafety     ${esafety.url}

  dashboard   ${eu.url}/
  logs        ${eu.url}/logs

  provider token  ${provider}
  auditor token   ${auditor}

Try next (in another terminal, in this folder):

  npx cairn sync   --node ${eu.url} --token ${provider} --dir .cairn-demo/provider --genesis .cairn-demo/genesis.json
  npx cairn lookup ${sample.alg}:${sample.value} --node ${eu.url} --token ${auditor} --genesis .cairn-demo/genesis.json
  npx cairn verify --node ${eu.url} --token ${auditor} --genesis .cairn-demo/genesis.json --state .cairn-demo/audit-state.json

Node directories and logs are in .cairn-demo/<centre>/ (node.log).
Ctrl-C stops everything.`)
