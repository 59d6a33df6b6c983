/**
 * `cairn sync --from` and `cairn verify --from`: a provider's copy and an
 * auditor's check read from a static mirror of a node (a directory built
 * from the node's answers, served by a static server that wants a token for
 * entry bundles), verified exactly as against the node: the same copy, the
 * same checkpoints, continuing from either; tampered files and a missing
 * token refused with a line naming the file, the copy unchanged.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync, cpSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { copyNodeToMirror, serveStatic, type StaticServer } from '../testnet/static-mirror.ts'
import { runCairn } from './support/cli.ts'
import { sha256, utf8 } from '../protocol/bytes.ts'
import { LedgerError } from '../protocol/errors.ts'
import { syncLocalCopy, type SyncOptions } from '../client/sync.ts'
import { verifyNode } from '../client/verify.ts'
import { loadLocalSet } from '../client/local-copy.ts'
import type { CairnNode } from '../node/node.ts'

let cluster: Cluster
let nodes: CairnNode[]
let genesis = ''
let provider = ''
let auditor = ''
let server: StaticServer
const scratch = mkdtempSync(join(tmpdir(), 'cairn-mirror-test-'))
const mirrors = join(scratch, 'mirrors')
let dirs = 0
const newDir = () => join(scratch, `copy-${dirs++}`)
const mirrorUrl = (name: string) => `${server.url}/${name}`

async function publish(node: CairnNode, tag: string, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => node.publisher.submit({
    type: 'indicator', alg: 'sha256', value: sha256(utf8(`${tag}/${i}`)), category: i % 2 ? 'A1' : 'B2', kind: 'known_material', media: 'image',
  })))
}
const settled = () => waitFor('federation converges', () => converged(nodes, 2), 60_000)

/** Provider tokens of the other nodes, by URL (the mirror's gate takes node 0's). */
const tokens = new Map<string, string>()
function opts(dir: string, source: { node: string } | { from: string }, extra: Partial<SyncOptions> = {}): SyncOptions {
  return { ...source, token: ('node' in source ? tokens.get(source.node) : undefined) ?? provider, dir, minWitnesses: 2, genesis, warn: () => undefined, ...extra }
}

/** What a copy holds and has verified: its records and, per log, entries held, frontier and checkpoint. */
function content(dir: string) {
  const set = loadLocalSet(dir)
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))
  return { records: [...set.records()].map((r) => JSON.stringify(r)).sort(), logs: state.logs, cursor: set.cursor }
}

function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const f of readdirSync(dir).sort()) out[f] = createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')
  return out
}

async function refused(o: SyncOptions, code: string | RegExp, file: RegExp, what: string): Promise<string> {
  const before = fingerprint(o.dir)
  let message = ''
  try {
    await syncLocalCopy(o)
    assert.unreachable(`${what}: accepted`)
  } catch (e) {
    assert.instance(e, LedgerError, `${what}: ${String(e)}`)
    message = (e as Error).message
    if (typeof code === 'string') assert.is((e as LedgerError).code, code, `${what}: ${message}`)
    else assert.match((e as LedgerError).code, code, `${what}: ${message}`)
    assert.match(message, file, `${what}: the message names the file`)
    assert.not.match(message, /\n/, `${what}: one line`)
  }
  assert.equal(fingerprint(o.dir), before, `${what}: the local copy changed`)
  return message
}

/** The mirror file `path` of mirror `name` with byte `at` (from the end when negative) flipped. */
function flip(name: string, path: string, at: number) {
  const file = join(mirrors, name, path)
  const bytes = readFileSync(file)
  const i = at < 0 ? bytes.length + at : at
  bytes[i] = bytes[i]! ^ 0x01
  writeFileSync(file, bytes)
}

let logs: { name: string; origin: string; size: number }[] = []
const m1Copy = () => join(scratch, 'copy-from-m1')

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  genesis = join(cluster.dir, 'genesis.json')
  provider = (await nodes[0]!.tokens.grant('provider', 'mirror test')).token
  for (const n of nodes.slice(1)) tokens.set(n.url, (await n.tokens.grant('provider', 'mirror test')).token)
  auditor = (await nodes[0]!.tokens.grant('auditor', 'mirror copier')).token
  await publish(nodes[0]!, 'a', 300) // more than one bundle: a full one and a partial one
  await publish(nodes[1]!, 'b', 20)
  await settled()
  logs = await copyNodeToMirror(nodes[0]!.url, auditor, join(mirrors, 'm1'))
  server = await serveStatic(mirrors, [provider, auditor])
})

test.after(async () => {
  await server?.close()
  await cluster?.close()
  rmSync(scratch, { recursive: true, force: true })
})

test('a first sync from the mirror gives the copy a sync from the node gives (same set, same checkpoints)', async () => {
  const fromNode = newDir()
  await syncLocalCopy(opts(fromNode, { node: nodes[0]!.url }))
  const r = await syncLocalCopy(opts(m1Copy(), { from: mirrorUrl('m1') }, { limit: 100 }))
  assert.is(r.added, 320)
  assert.ok(r.pages >= 4, `${r.pages} pages of at most 100 entries`)
  assert.equal(content(m1Copy()), content(fromNode))
  assert.ok(server.restrictedReads > 0)
})

test('verify --from checks every log of the mirror and names them; the CLI too', async () => {
  const report = await verifyNode({ url: mirrorUrl('m1'), token: auditor, mirror: true, genesisPath: genesis, minWitnesses: 2, workers: 0 })
  assert.ok(report.ok, report.problems.join('; '))
  assert.equal(report.logs.map((l) => l.origin).sort(), logs.map((l) => l.origin).sort())
  assert.is(report.entries, 320)
  const cli = await runCairn(['verify', '--from', mirrorUrl('m1'), '--token', provider, '--genesis', genesis, '--min-witnesses', '2', '--workers', '0'])
  assert.is(cli.code, 0, cli.stderr)
  for (const l of logs) assert.ok(cli.stdout.includes(l.origin), `${l.origin} named`)
  const both = await runCairn(['verify', '--from', mirrorUrl('m1'), '--node', nodes[0]!.url])
  assert.is.not(both.code, 0)
  assert.match(both.stderr.trim(), /^[^\n]*not both[^\n]*$/)
})

test('tampered mirrors are refused, naming the file; the copy stays as it was', async () => {
  await publish(nodes[0]!, 'a2', 40)
  await settled()
  const grown = logs.find((l) => l.origin === nodes[0]!.origin)!
  for (const name of ['m2', 'bad-bundle', 'bad-tile', 'bad-signature', 'wrong-checkpoint']) await copyNodeToMirror(nodes[0]!.url, auditor, join(mirrors, name))
  const prefix = `logs/${grown.name}/`
  flip('bad-bundle', `${prefix}tile/entries/001.p/84`, -3) // inside the last entry's signature: a leaf that is not in the tree
  flip('bad-tile', `${prefix}tile/0/001.p/84`, 5)
  flip('bad-signature', `${prefix}checkpoint`, -3)
  // The grown log's checkpoint in place of another's: a larger tree, signed, but not by that log.
  const other = logs.find((l) => l.origin !== grown.origin)!
  cpSync(join(mirrors, 'wrong-checkpoint', `${prefix}checkpoint`), join(mirrors, 'wrong-checkpoint', `logs/${other.name}/checkpoint`))
  const o = (name: string) => opts(m1Copy(), { from: mirrorUrl(name) })
  await refused(o('bad-bundle'), /INCONSISTENT_CHECKPOINT|BAD_PROOF/, /logs\/[^ ]+\/tile\/entries\/001\.p\/84/, 'a flipped byte in a bundle')
  await refused(o('bad-tile'), 'BAD_TILE', /logs\/[^ ]+\/tile\/.*checkpoint/, 'a flipped byte in a hash tile')
  await refused(o('bad-signature'), /BAD_SIGNATURE|BAD_COSIGNATURE|MALFORMED/, /checkpoint/, 'a checkpoint whose signature does not verify')
  await refused(o('wrong-checkpoint'), /WRONG_ORIGIN|UNKNOWN_KEY|BAD_SIGNATURE|MALFORMED_CHECKPOINT/, /checkpoint/, 'another log\'s checkpoint')
})

test('without a token the entry bundle is refused (401), named, and nothing is kept', async () => {
  const dir = newDir()
  await rejectsWith(() => syncLocalCopy(opts(dir, { from: mirrorUrl('m2') }, { token: undefined })), 'UNAUTHORIZED', /tile\/entries\/000[^\n]*401/)
  assert.equal(readdirSync(dir).filter((f) => f !== 'lock'), [])
  await rejectsWith(() => verifyNode({ url: mirrorUrl('m2'), mirror: true, workers: 0, genesisPath: genesis }), 'UNAUTHORIZED', /tile\/entries\/[^\n]*401/)
  const cli = await runCairn(['sync', '--from', mirrorUrl('m2'), '--dir', newDir(), '--genesis', genesis, '--quiet'])
  assert.is(cli.code === 0, false)
  assert.match(cli.stderr, /401/)
  assert.is(cli.stderr.trim().split('\n').length, 1, cli.stderr)
})

async function rejectsWith(fn: () => Promise<unknown>, code: string, message: RegExp) {
  try {
    await fn()
    assert.unreachable('accepted')
  } catch (e) {
    assert.instance(e, LedgerError, String(e))
    assert.is((e as LedgerError).code, code, (e as Error).message)
    assert.match((e as Error).message, message)
  }
}

test('an incremental sync from the mirror after more publishes equals the node\'s copy; the node continues a mirror copy and back', async () => {
  const r = await syncLocalCopy(opts(m1Copy(), { from: mirrorUrl('m2') }))
  assert.is(r.added, 40)
  const fromNode = newDir()
  await syncLocalCopy(opts(fromNode, { node: nodes[0]!.url }))
  assert.equal(content(m1Copy()), content(fromNode))
  // A copy made from the older mirror continues from the node; one made from the node continues from the (redirected) mirror.
  const mixed = newDir()
  await syncLocalCopy(opts(mixed, { from: mirrorUrl('m1') }))
  const n = await syncLocalCopy(opts(mixed, { node: nodes[1]!.url }))
  assert.is(n.added, 40)
  assert.equal(content(mixed), content(fromNode))
  await publish(nodes[1]!, 'b2', 5)
  await settled()
  await copyNodeToMirror(nodes[0]!.url, auditor, join(mirrors, 'm3'))
  const back = await syncLocalCopy(opts(fromNode, { from: `${server.url}/r/m3` }))
  assert.is(back.added, 5)
  const fresh = newDir()
  await syncLocalCopy(opts(fresh, { node: nodes[2]!.url }))
  assert.equal(content(fromNode), content(fresh))
})

test('the CLI syncs from a mirror, and refuses --node with --from', async () => {
  const dir = newDir()
  const ok = await runCairn(['sync', '--from', mirrorUrl('m3'), '--token', provider, '--dir', dir, '--genesis', genesis, '--min-witnesses', '2', '--quiet'])
  assert.is(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, new RegExp(`synced .* from ${mirrorUrl('m3')}`))
  assert.is(loadLocalSet(dir).size, 365)
  const both = await runCairn(['sync', '--from', mirrorUrl('m3'), '--node', nodes[0]!.url, '--token', provider, '--dir', newDir()])
  assert.is.not(both.code, 0)
  assert.match(both.stderr, /not both/)
})

test('end to end: a node writing its mirror (node.json mirror.dir) serves a provider\'s sync and an auditor\'s verify', async () => {
  await cluster.stop(0)
  const nodeJson = join(cluster.planned[0]!.dir, 'node.json')
  writeFileSync(nodeJson, JSON.stringify({ ...JSON.parse(readFileSync(nodeJson, 'utf8')), mirror: { dir: 'mirror' } }, null, 2))
  const node = await cluster.start(0, { mirror: { minBackoffMs: 10, maxBackoffMs: 100, pollMs: 50 } })
  nodes[0] = node
  tokens.delete(node.url)
  await node.mirror!.flush()
  const written = await serveStatic(join(cluster.planned[0]!.dir, 'mirror'), [provider, auditor])
  try {
    const dir = newDir()
    await syncLocalCopy(opts(dir, { from: written.url }))
    const fromNode = newDir()
    await syncLocalCopy(opts(fromNode, { node: node.url }))
    assert.equal(content(dir), content(fromNode))
    const report = await verifyNode({ url: written.url, token: auditor, mirror: true, genesisPath: genesis, minWitnesses: 2, workers: 0 })
    assert.ok(report.ok, report.problems.join('; '))
    await rejectsWith(() => syncLocalCopy(opts(newDir(), { from: written.url }, { token: undefined })), 'UNAUTHORIZED', /tile\/entries\/000/)
  } finally {
    await written.close()
  }
})

test.run()
