/**
 * The auditor's clients against a real 3-node federation: `cairn verify`
 * (tiles, every signature in a worker pool, tree rebuild, cosignatures,
 * consistency with the last run through a state file) passes on a converged
 * federation and fails, naming log and index, when a node's stored entry is
 * altered; `cairn lookup` prints provenance with every proof checked.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { writeFileSync, existsSync, copyFileSync } from 'node:fs'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { toHex, fromHex, sha256, utf8 } from '../protocol/bytes.ts'
import { encodeEntryBundle } from '../protocol/tiles.ts'
import { throws, rejects } from './helpers.ts'
import { signEntry } from '../protocol/entry.ts'
import { generateKeyPair } from '../protocol/ed25519.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'
import { verifyNode, lookupValue, loadState, type VerifyState, type VerifyReport, mapLimit } from '../client/verify.ts'
import { verifyBatch, VerifyPool } from '../client/verify-batch.ts'
import { formatLookup } from '../cli/commands-audit.ts'

let cluster: Cluster
let nodes: CairnNode[]
let genesis = ''
const auditor: string[] = [] // an auditor token per node
const VALUE = toHex(sha256(utf8('verify-client looked-up value')))
let valueId = ''
const root = new URL('..', import.meta.url).pathname

function ind(tag: string): RecordBody {
  return { type: 'indicator', alg: 'sha256', value: sha256(utf8(tag)), category: 'A2', kind: 'known_material', media: 'image' } as RecordBody
}

async function publishMany(node: CairnNode, n: number, tag: string) {
  await Promise.all(Array.from({ length: n }, (_, i) => node.publisher.submit(ind(`${tag}-${i}`))))
}

/** Runs the cairn CLI; resolves with exit code and output. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin/cairn.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CAIRN_TOKEN: '' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

/**
 * An HTTP proxy to `target` that holds every hash-tile response for `delayMs`
 * (entry bundles and everything else pass at once), and notes the order in
 * which it answered tiles and entry bundles, as 'tile <log name>' or 'bundle <log name>'.
 */
async function slowTilesProxy(target: string, delayMs: number): Promise<{ url: string; order: string[]; close: () => Promise<void> }> {
  const order: string[] = []
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/'
    const kind = path.includes('/tile/entries/') ? 'bundle' : path.includes('/tile/') ? 'tile' : 'other'
    const forward = () => {
      const up = request(target + path, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers)
        r.pipe(res)
        r.on('end', () => order.push(`${kind} ${path.split('/')[2]}`))
      })
      up.on('error', () => res.destroy())
      req.pipe(up)
    }
    if (kind === 'tile') setTimeout(forward, delayMs)
    else forward()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    order,
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

/**
 * A node that serves an altered entry: forwards everything to `target`, but in
 * the entry bundle holding `index` of log `name` flips one byte of that entry
 * (the node itself checks what it serves against its tree, so a damaged store
 * is no longer how an auditor meets an altered entry: a lying node is).
 */
async function tamperingProxy(target: string, name: string, index: number): Promise<{ url: string; close: () => Promise<void> }> {
  const bundle = new RegExp(`^/logs/${name}/tile/entries/${String(Math.floor(index / 256)).padStart(3, '0')}(\\.p/\\d+)?$`)
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/'
    const up = request(target + path, { method: req.method, headers: req.headers }, (r) => {
      if (!bundle.test(path) || r.statusCode !== 200) {
        res.writeHead(r.statusCode ?? 502, r.headers)
        r.pipe(res)
        return
      }
      const chunks: Buffer[] = []
      r.on('data', (d: Buffer) => chunks.push(d))
      r.on('end', () => {
        const body = Buffer.concat(chunks)
        let at = 0
        for (let i = 0; i < index % 256; i++) at += 2 + body.readUInt16BE(at)
        const len = body.readUInt16BE(at)
        body[at + 2 + len - 10]! ^= 0x40
        res.writeHead(200, { ...r.headers, 'content-length': String(body.length) })
        res.end(body)
      })
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  genesis = join(cluster.dir, 'genesis.json')
  const [a, b, c] = nodes as [CairnNode, CairnNode, CairnNode]
  valueId = (await a.publisher.submit({ ...ind('x'), value: fromHex(VALUE) } as RecordBody)).id
  await publishMany(a, 700, 'a') // 701 entries: two full tiles and a partial one
  await publishMany(b, 40, 'b')
  await waitFor('convergence', () => converged(nodes), 60_000)
  await b.publisher.submit({ type: 'attestation', target: fromHex(valueId), opinion: 'confirm', reason: 'reviewed' } as RecordBody)
  await c.publisher.submit({ type: 'attestation', target: fromHex(valueId), opinion: 'dispute', reason: 'low_quality' } as RecordBody)
  await a.publisher.submit({ type: 'revocation', target: fromHex(valueId), reason: 'false_positive' } as RecordBody)
  await waitFor('convergence after attestations', () => converged(nodes) && c.store.size(a.origin) === 702 && a.store.size(c.origin) === 1, 60_000)
  for (const n of nodes) auditor.push((await n.tokens.grant('auditor', 'verify-test')).token)
})

test.after(async () => {
  await cluster?.close()
})

test('verifyBatch opens every entry and names the ones that fail; the worker pool gives the same answer', async () => {
  const kp = generateKeyPair(sha256(utf8('batch key')))
  const origin = 'demo.cairn/batch'
  const entries = Array.from({ length: 50 }, (_, i) => signEntry(kp.seed, {
    v: 1, type: 'indicator', log: origin, seq: i, time: 1_700_000_000_000 + i, alg: 'sha256', value: sha256(utf8(`b${i}`)), category: 'A1', kind: 'known_material', media: 'image',
  } as never))
  entries[7] = new Uint8Array(entries[7]!)
  entries[7]![entries[7]!.length - 1]! ^= 1 // signature byte
  entries[9] = entries[10]! // right signature, wrong place
  const batch = () => ({ origin, start: 0, keys: [{ publicKey: kp.publicKey, from: 0 }], bundles: [encodeEntryBundle(entries.slice(0, 30)), encodeEntryBundle(entries.slice(30))], counts: [30, 20] })
  const local = verifyBatch(batch())
  assert.equal(local.failures.map((f) => [f.index, f.code]), [[7, 'BAD_SIGNATURE'], [9, 'SEQ_MISMATCH']])
  assert.equal(local.types, { indicator: 48 })
  assert.is(local.leaves.length, 50 * 32)
  const pool = new VerifyPool(2)
  try {
    const results = await Promise.all([pool.run(batch()), pool.run(batch()), pool.run(batch())])
    for (const r of results) {
      assert.equal(r.failures, local.failures)
      assert.equal(toHex(r.leaves), toHex(local.leaves))
    }
    const truncated = { ...batch(), bundles: [encodeEntryBundle(entries.slice(0, 30)).subarray(0, 100)], counts: [30] }
    throws(() => verifyBatch(truncated), 'BAD_TILE')
    await rejects(() => pool.run({ ...batch(), counts: [30, 21] }), 'BAD_TILE')
    assert.is((await pool.run(batch())).failures.length, 2, 'the pool still works after a bad batch')
  } finally {
    await pool.close()
  }
})

test('mapLimit keeps order, throws the first failure to happen, and starts nothing after it', async () => {
  assert.equal(await mapLimit([3, 1, 2], 2, async (x) => x * 2), [6, 2, 4])
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
  await rejects(() => mapLimit([0, 1], 2, async (i) => {
    await sleep(i === 0 ? 60 : 5)
    throw new Error(i === 0 ? 'late' : 'early')
  }), /^early$/)
  const started: number[] = []
  await rejects(() => mapLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
    started.push(i)
    await sleep(i === 0 ? 1 : 30)
    if (i === 0) throw new Error('first')
  }), /^first$/)
  assert.equal(started, [0, 1])
})

test('verify passes on a converged federation, pins keys and checkpoints in the state file, and checks consistency on the next run', async () => {
  const state = join(cluster.dir, 'state-a.json')
  const lines: string[] = []
  const r1 = await verifyNode({ url: nodes[0]!.url, token: auditor[0], statePath: state, genesisPath: genesis, minWitnesses: 2, onLine: (l) => lines.push(l) })
  assert.equal(r1.problems, [])
  assert.ok(r1.ok)
  assert.is(r1.keys, 'genesis')
  assert.is(r1.entries, 702 + 41 + 1)
  const la = r1.logs.find((l) => l.origin === nodes[0]!.origin)!
  assert.is(la.size, 702)
  assert.is(la.entries, 702)
  assert.equal(la.types, { indicator: 701, revocation: 1 })
  assert.ok(la.tiles >= 4) // 3 level-0 tiles and one level-1
  assert.is(la.cosignedBy.length, 2)
  assert.is(la.previous, undefined)
  const s1 = loadState(state)!
  assert.is(s1.logs[nodes[0]!.origin]!.size, 702)
  assert.is(s1.logs[nodes[0]!.origin]!.vkey, cluster.planned[0]!.member.vkey)

  // The federation moves on; the next run (against another node) proves the new trees extend the old ones.
  await publishMany(nodes[0]!, 300, 'a-more')
  await waitFor('convergence', () => converged(nodes), 60_000)
  const r2 = await verifyNode({ url: nodes[1]!.url, token: auditor[1], statePath: state, workers: 0 })
  assert.equal(r2.problems, [])
  assert.is(r2.keys, 'state')
  assert.equal(r2.warnings, [])
  const la2 = r2.logs.find((l) => l.origin === nodes[0]!.origin)!
  assert.equal(la2.previous, { size: 702, root: s1.logs[nodes[0]!.origin]!.root })
  assert.is(la2.size, 1002)
  assert.is(loadState(state)!.logs[nodes[0]!.origin]!.size, 1002)
})

test('verify: trust on first use warns; a state file that disagrees (other root, larger size, other key) fails', async () => {
  const fresh = join(cluster.dir, 'state-tofu.json')
  const r = await verifyNode({ url: nodes[2]!.url, token: auditor[2], statePath: fresh })
  assert.ok(r.ok, r.problems.join('\n'))
  assert.is(r.keys, 'node')
  assert.is(r.warnings.length, 3)
  assert.match(r.warnings[0]!, /trust on first use/)
  const good = loadState(fresh)!
  const a = nodes[0]!.origin
  const b = nodes[1]!.origin

  const forked: VerifyState = structuredClone(good)
  forked.logs[a]!.size = 500
  forked.logs[a]!.root = Buffer.from(sha256(utf8('some other tree'))).toString('base64')
  forked.logs[b]!.size = good.logs[b]!.size + 10
  const path = join(cluster.dir, 'state-forked.json')
  writeFileSync(path, JSON.stringify(forked))
  const r2 = await verifyNode({ url: nodes[2]!.url, token: auditor[2], statePath: path })
  assert.not.ok(r2.ok)
  assert.ok(r2.problems.some((p) => p.startsWith(`${a}: not consistent with size 500 verified on the previous run`)), r2.problems.join('\n'))
  assert.ok(r2.problems.some((p) => p.startsWith(`${b}: the node serves size`) && p.includes('smaller than')), r2.problems.join('\n'))
  // Failing logs keep their old state; the good one moves on.
  const after = loadState(path)!
  assert.is(after.logs[a]!.size, 500)
  assert.is(after.logs[nodes[2]!.origin]!.size, good.logs[nodes[2]!.origin]!.size)

  const rekeyed: VerifyState = structuredClone(good)
  rekeyed.logs[a]!.vkey = cluster.planned[1]!.member.vkey.replace(b, a)
  const path2 = join(cluster.dir, 'state-rekeyed.json')
  writeFileSync(path2, JSON.stringify(rekeyed))
  const r3 = await verifyNode({ url: nodes[2]!.url, token: auditor[2], statePath: path2 })
  assert.not.ok(r3.ok)
  assert.ok(r3.problems.some((p) => p.startsWith(`${a}: the node gives log key`)), r3.problems.join('\n'))

  // A token that may not read tiles ends the run with the node's answer.
  const provider = (await nodes[2]!.tokens.grant('provider', 'not-an-auditor')).token
  await rejects(() => verifyNode({ url: nodes[2]!.url, token: provider, genesisPath: genesis }), 'FORBIDDEN')

  // Demanding more witnesses than there are fails on every log's checkpoint.
  const r4 = await verifyNode({ url: nodes[2]!.url, token: auditor[2], genesisPath: genesis, minWitnesses: 3 })
  assert.not.ok(r4.ok)
  assert.is(r4.problems.filter((p) => p.includes('checkpoint: BAD_COSIGNATURE')).length, 3)
})

test('cairn verify and cairn lookup from the command line', async () => {
  const state = join(cluster.dir, 'state-cli.json')
  const ok = await cli(['verify', '--node', nodes[0]!.url, '--token', auditor[0]!, '--genesis', genesis, '--state', state])
  assert.is(ok.code, 0, ok.stdout + ok.stderr)
  assert.match(ok.stdout, /OK: 3 logs, \d+ entries/)
  assert.ok(existsSync(state))

  const bad = await cli(['verify', '--node', nodes[0]!.url, '--token', 'cairn_wrong', '--genesis', genesis])
  assert.is(bad.code, 1)
  assert.match(bad.stderr, /error UNAUTHORIZED/)

  const look = await cli(['lookup', `sha256:${VALUE}`, '--node', nodes[1]!.url, '--token', auditor[1]!, '--genesis', genesis, '--min-witnesses', '2'])
  assert.is(look.code, 0, look.stdout + look.stderr)
  const out = look.stdout
  assert.match(out, new RegExp(`record ${valueId}`))
  assert.match(out, new RegExp(`added by +${nodes[0]!.origin} \\(entry #0\\) on \\d{4}-\\d\\d-\\d\\dT`))
  assert.match(out, /category +A2, known_material, image/)
  assert.match(out, new RegExp(`confirmed by ${nodes[1]!.origin} .*\\(reviewed\\)`))
  assert.match(out, new RegExp(`DISPUTED +by ${nodes[2]!.origin} .*\\(low_quality\\)`))
  assert.match(out, new RegExp(`REVOKED by ${nodes[0]!.origin} .*\\(false_positive\\)`))
  assert.match(out, /proof ✓ \(checkpoint size \d+, cosigned by c\d, c\d\)/)
  assert.match(out, /all 4 records and proofs verified offline ✓ \(keys from the genesis roster\)/)

  const none = await cli(['lookup', `md5:${'ab'.repeat(16)}`, '--node', nodes[1]!.url, '--token', auditor[1]!])
  assert.is(none.code, 0)
  assert.match(none.stdout, /no log on this node holds a record of this value/)
  const malformed = await cli(['lookup', 'sha256-abc', '--node', nodes[1]!.url, '--token', auditor[1]!])
  assert.is(malformed.code, 1)

  // The library call behind it, with keys from the node.
  const res = await lookupValue({ url: nodes[2]!.url, token: auditor[2], alg: 'sha256', hex: VALUE })
  assert.is(res.keys, 'node')
  assert.match(formatLookup(res), /keys as the node gave them/)
})

test('verify fails, naming the log and the index, when a node serves an altered entry', async () => {
  const state = join(cluster.dir, 'state-tamper.json')
  const before = await verifyNode({ url: nodes[2]!.url, token: auditor[2], statePath: state, genesisPath: genesis })
  assert.ok(before.ok, before.problems.join('\n'))

  // c3 as seen through a proxy that flips one byte of entry 5 of c1's log in the bundle it serves.
  const victim = nodes[0]!.origin
  const tamper = await tamperingProxy(nodes[2]!.url, victim.split('/')[1]!, 5)
  try {
    const r = await verifyNode({ url: tamper.url, token: auditor[2], statePath: state, genesisPath: genesis })
    assert.not.ok(r.ok)
    assert.ok(r.problems.some((p) => p === `${victim}: entry 5: BAD_SIGNATURE: the entry signature does not verify under the log key`), r.problems.join('\n'))
    assert.ok(r.problems.some((p) => p.startsWith(`${victim}: entry 5: does not match leaf 5 of the signed tree`)), r.problems.join('\n'))
    assert.ok(r.problems.every((p) => p.startsWith(`${victim}: `)), 'only the altered log fails')

    // Tiles are fetched while the entries are checked. When every tile arrives after every entry
    // bundle, the entries still wait for the signed tree: the same problems, in the same order.
    // The state file as the run above found it (that run changed nothing in it: no log grew).
    const lateState = join(cluster.dir, 'state-tamper-late.json')
    const same = (x: VerifyReport) => x.logs.map((l) => [l.origin, l.entries, l.tiles, l.previous])
    let slow = await slowTilesProxy(tamper.url, 1500)
    try {
      copyFileSync(state, lateState)
      const late = await verifyNode({ url: slow.url, token: auditor[2], statePath: lateState, genesisPath: genesis })
      for (const l of late.logs.filter((x) => x.size > 0)) {
        const name = l.origin.split('/')[1]
        assert.ok(slow.order.lastIndexOf(`bundle ${name}`) < slow.order.indexOf(`tile ${name}`), `every bundle of ${name} was answered before its first tile: ${slow.order.join(', ')}`)
      }
      assert.equal(late.problems, r.problems)
      assert.equal(same(late), same(r))
    } finally {
      await slow.close()
    }
    // One bundle a batch, two batches in flight, one checked batch held while the tiles are out:
    // the two batches wait, and the rest of c1's bundles are asked for only once the tiles are in.
    slow = await slowTilesProxy(tamper.url, 1500)
    try {
      copyFileSync(state, lateState)
      const held = await verifyNode({ url: slow.url, token: auditor[2], statePath: lateState, genesisPath: genesis, workers: 0, batchSize: 256, aheadOfTiles: 1 })
      const c1 = victim.split('/')[1]
      const firstTile = slow.order.indexOf(`tile ${c1}`)
      assert.is(slow.order.filter((x, i) => x === `bundle ${c1}` && i < firstTile).length, 2, slow.order.join(', '))
      const size = held.logs.find((l) => l.origin === victim)!.size
      assert.ok(size > 512, 'c1 has more than two bundles')
      assert.is(slow.order.filter((x) => x === `bundle ${c1}`).length, Math.ceil(size / 256))
      assert.equal(held.problems, r.problems)
      assert.equal(same(held), same(r))
    } finally {
      await slow.close()
    }
    // The state file keeps the last good view of the altered log.
    assert.is(loadState(state)!.logs[victim]!.root, before.logs.find((l) => l.origin === victim)!.root)

    const cliRun = await cli(['verify', '--node', tamper.url, '--token', auditor[2]!, '--genesis', genesis, '--quiet'])
    assert.is(cliRun.code, 1)
    assert.match(cliRun.stdout, new RegExp(`FAIL ${victim}: entry 5: BAD_SIGNATURE`))
    assert.match(cliRun.stdout, /FAILED: \d+ problems in 1 log/)
    // The untouched nodes still verify.
    const other = await cli(['verify', '--node', nodes[1]!.url, '--token', auditor[1]!, '--genesis', genesis, '--quiet'])
    assert.is(other.code, 0, other.stdout)
  } finally {
    await tamper.close()
  }
})

test.run()
