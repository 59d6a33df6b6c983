/**
 * Issue 20, "Exactly once", "Files", "Minimised case references": POST
 * /records with an Idempotency-Key (replay, reuse with another body, kept
 * across a restart), DUPLICATE_VALUE and allow_duplicate, the ref pseudonym,
 * and (with real processes) a node killed with SIGKILL during `cairn import`
 * under umask 000: nothing stored twice, every file 0600, every folder 0700.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startCluster, type Cluster } from './support/cluster.ts'
import { spawnNode, stopNode, type NodeProcess } from '../testnet/processes.ts'
import { decodeEntry } from '../protocol/entry.ts'
import { decodeRecord, type IndicatorRecord } from '../protocol/records.ts'
import { refPseudonym } from '../protocol/case-ref.ts'
import { fromHex, sha256, toHex, utf8 } from '../protocol/bytes.ts'
import { loadOrCreateRefSecret } from '../node/config.ts'

const root = resolve(import.meta.dirname, '..')
let cluster: Cluster | undefined
const work = mkdtempSync(join(tmpdir(), 'cairn-once-'))
test.after(async () => {
  await cluster?.close()
  rmSync(work, { recursive: true, force: true })
})

const value = (label: string) => toHex(sha256(utf8(`exactly-once/${label}`)))
const indicator = (label: string, extra: Record<string, unknown> = {}) => ({ type: 'indicator', alg: 'sha256', value: value(label), category: 'A1', kind: 'known_material', media: 'image', ...extra })

async function post(i: number, body: unknown, key?: string): Promise<{ status: number; json: any; replayed: boolean }> {
  const node = cluster!.nodes[i]!
  const res = await fetch(`${node.url}/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${cluster!.operatorTokens[i]}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: await res.json(), replayed: res.headers.get('idempotent-replayed') === 'true' }
}

const ownRecords = async (i: number) => {
  const node = cluster!.nodes[i]!
  const size = node.store.size(node.origin)
  return (await node.store.entries(node.origin, 0, size)).map((e) => decodeRecord(decodeEntry(e).recordBytes))
}

function cairn(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), ...args], { cwd: root, env: { ...process.env, ...env } })
    let stdout = '', stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('close', (code) => done({ code, stdout, stderr }))
  })
}

test('setup: two centres', async () => {
  cluster = await startCluster(2, { batch: { max_records: 50, max_ms: 20 } })
})

test('Idempotency-Key: the same body gets the first answer again and stores nothing; another body is 422; kept across a restart', async () => {
  const body = { records: [indicator('idem-1'), indicator('idem-2'), { ...indicator('idem-bad'), category: 'Z9' }] }
  const first = await post(0, body, 'key-1')
  assert.is(first.status, 200)
  assert.is(first.json.accepted, 2)
  assert.not.ok(first.replayed)
  const size = cluster!.nodes[0]!.store.size(cluster!.nodes[0]!.origin)
  const again = await post(0, body, 'key-1') // the answer to the first was "lost": the client retries
  assert.is(again.status, 200)
  assert.ok(again.replayed)
  assert.equal(again.json, first.json)
  assert.is(cluster!.nodes[0]!.store.size(cluster!.nodes[0]!.origin), size, 'nothing stored anew')
  const other = await post(0, { records: [indicator('idem-3')] }, 'key-1')
  assert.is(other.status, 422)
  assert.is(other.json.error.code, 'IDEMPOTENCY_KEY_REUSED')
  const single = await post(0, indicator('idem-single'), 'key-2')
  assert.is(single.status, 201)
  await cluster!.stop(0)
  await cluster!.start(0)
  const afterRestart = await post(0, body, 'key-1')
  assert.ok(afterRestart.replayed)
  assert.equal(afterRestart.json, first.json)
  const singleAgain = await post(0, indicator('idem-single'), 'key-2')
  assert.is(singleAgain.status, 201)
  assert.equal(singleAgain.json, single.json)
  assert.is(cluster!.nodes[0]!.store.size(cluster!.nodes[0]!.origin), size + 1)
  const bad = await post(0, indicator('idem-4'), 'x'.repeat(256))
  assert.is(bad.json.error.code, 'BAD_REQUEST')
})

test('DUPLICATE_VALUE: a value in force in the own log is refused, naming its record; allow_duplicate publishes another; revoked, it may come again', async () => {
  const first = await post(0, indicator('dup-1'))
  assert.is(first.status, 201)
  const dup = await post(0, indicator('dup-1', { category: 'B1' }))
  assert.is(dup.status, 409)
  assert.is(dup.json.error.code, 'DUPLICATE_VALUE')
  assert.match(dup.json.error.message, first.json.id)
  const allowed = await post(0, indicator('dup-1', { category: 'B1', allow_duplicate: true }))
  assert.is(allowed.status, 201)
  assert.is.not(allowed.json.id, first.json.id)
  // Two of one value in one request: the second names the first.
  const pair = await post(0, { records: [indicator('dup-2'), indicator('dup-2')] })
  assert.is(pair.json.accepted, 1)
  assert.is(pair.json.results[1].error.code, 'DUPLICATE_VALUE')
  assert.match(pair.json.results[1].error.message, pair.json.results[0].id)
  // Another centre holding the same value is no duplicate of this one.
  assert.is((await post(1, indicator('dup-2'))).status, 201)
  // Revoked (both records of dup-1): in force no more.
  for (const id of [first.json.id, allowed.json.id]) assert.is((await post(0, { type: 'revocation', target: id, reason: 'reclassified' })).status, 201)
  assert.is((await post(0, indicator('dup-1'))).status, 201)
  // Expired: in force no more.
  assert.is((await post(0, indicator('dup-3', { expires: Date.now() + 300 }))).status, 201)
  await new Promise((r) => setTimeout(r, 400))
  assert.is((await post(0, indicator('dup-3'))).status, 201)
})

test('ref: "John.Smith" is recorded only as its pseudonym, the same on one node and another under another centre\'s secret', async () => {
  const a = await post(0, indicator('ref-1', { ref: 'John.Smith' }))
  assert.is(a.status, 201)
  assert.match(a.json.ref, /^p1:[0-9a-f]{32}$/)
  const secret0 = loadOrCreateRefSecret(cluster!.planned[0]!.dir)
  assert.is(a.json.ref, refPseudonym(secret0, 'John.Smith'))
  const stored = (await ownRecords(0)).find((r) => r.type === 'indicator' && toHex(r.value) === value('ref-1')) as IndicatorRecord
  assert.is(stored.ref, a.json.ref)
  const raw = await cluster!.nodes[0]!.store.entries(cluster!.nodes[0]!.origin, 0, cluster!.nodes[0]!.store.size(cluster!.nodes[0]!.origin))
  assert.not.ok(raw.some((e) => Buffer.from(e).includes('John.Smith')), 'the raw reference is nowhere in the log')
  const b = await post(0, indicator('ref-2', { ref: 'John.Smith' }))
  assert.is(b.json.ref, a.json.ref, 'the same on the same node')
  const c = await post(1, indicator('ref-1', { ref: 'John.Smith' }))
  assert.match(c.json.ref, /^p1:[0-9a-f]{32}$/)
  assert.is.not(c.json.ref, a.json.ref, 'another centre\'s secret gives another pseudonym')
  const refused = await post(0, indicator('ref-3', { ref: 'Jane Doe' }))
  assert.is(refused.json.error.code, 'BAD_REF')
  const cli = await cairn(['ref', 'John.Smith', '--dir', cluster!.planned[0]!.dir])
  assert.is(cli.code, 0, cli.stderr)
  assert.is(cli.stdout.trim(), a.json.ref)
  const viaNode = await cairn(['ref', 'John.Smith', '--node', cluster!.nodes[1]!.url, '--token', cluster!.operatorTokens[1]!])
  assert.is(viaNode.stdout.trim(), c.json.ref)
  assert.equal(fromHex(readFileSync(join(cluster!.planned[0]!.dir, 'case-ref.key'), 'utf8').trim()), secret0)
})

function modes(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    const mode = statSync(p).mode & 0o777
    if (e.isDirectory()) {
      if (mode !== 0o700) out.push(`${p} ${mode.toString(8)}`)
      modes(p, out)
    } else if (mode !== 0o600) out.push(`${p} ${mode.toString(8)}`)
  }
  return out
}

test('umask 000, SIGKILL during cairn import: the import finishes with retries, a re-run stores nothing twice, every file is 0600 and folder 0700', async () => {
  const old = process.umask(0)
  let node: NodeProcess | undefined
  try {
    const dir = join(work, 'solo')
    // A fixed port: the restarted node must answer where the import sends its retries.
    const port = await new Promise<number>((done) => { const srv = createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as { port: number }).port; srv.close(() => done(p)) }) })
    const kg = await cairn(['keygen', '--dir', dir, '--origin', 'once.cairn/solo', '--http-port', String(port)])
    assert.is(kg.code, 0, kg.stderr)
    const fi = await cairn(['federation', 'init', '--federation', 'once.cairn', '--node-dir', dir, '--out', join(work, 'genesis.json')])
    assert.is(fi.code, 0, fi.stderr)
    node = await spawnNode(dir)
    const n = 6000
    const csv = ['alg,value,category,ref', ...Array.from({ length: n }, (_, i) => `sha256,${value(`import-${i}`)},A1,case-${i}`)].join('\n') + '\n'
    writeFileSync(join(work, 'in.csv'), csv)
    const importing = cairn(['import', join(work, 'in.csv'), '--dir', dir, '--batch', '200', '--quiet'])
    const size = async () => {
      const r = await fetch(`${node!.url}/logs`).then((x) => x.json() as Promise<{ name: string; size: number }[]>).catch(() => [])
      return r.find((l) => l.name === 'solo')?.size ?? 0
    }
    while ((await size()) < 1000) await new Promise((r) => setTimeout(r, 20))
    await stopNode(node, 'SIGKILL')
    node = await spawnNode(dir)
    const first = await importing
    assert.is(first.code, 0, first.stderr + first.stdout)
    const again = await cairn(['import', join(work, 'in.csv'), '--dir', dir, '--batch', '200', '--quiet'])
    assert.is(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`imported ${n} indicators \\(${n} of them already stored by an earlier run\\), rejected 0`))
    const total = await size()
    assert.is(total, n, 'every line once, none twice')
    const res = await fetch(`${node.url}/logs`)
    assert.ok(res.ok)
    const backup = await cairn(['node', 'backup', '--dir', dir, '--out', join(dir, 'b.cairn')])
    assert.is(backup.code, 0, backup.stderr)
    await stopNode(node, 'SIGTERM')
    node = undefined
    const dirMode = statSync(dir).mode & 0o777
    assert.is(dirMode, 0o700)
    const wrong = modes(dir).filter((p) => !p.startsWith(join(dir, 'node.log'))) // node.log is opened by the test harness, not the node
    assert.equal(wrong, [])
  } finally {
    if (node) await stopNode(node, 'SIGKILL')
    process.umask(old)
  }
})

test.run()
