/**
 * A provider's policy and subscription, end to end over a real 3-node
 * federation: centre A publishes three files' SHA-256, B confirms two of
 * them, C disputes one. `cairn sync --drop-disputed` (a later run over the
 * same copy, no entry read again) leaves the disputed one out of
 * openLocalCopy, `cairn match` and `cairn export`; `--require-confirmations
 * 1` keeps only confirmed ones; a subscription keeps only what it names,
 * still verifying every log, and a change of it reads the logs again.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { runCairn } from './support/cli.ts'
import { fromHex } from '../protocol/bytes.ts'
import { syncLocalCopy, type SyncOptions } from '../client/sync.ts'
import { openLocalCopy, STATE_FORMAT } from '../client/local-copy.ts'
import { matchPaths } from '../client/matcher.ts'
import type { CairnNode } from '../node/node.ts'

let cluster: Cluster
let nodes: CairnNode[]
let genesis = ''
let token = ''
const scratch = mkdtempSync(join(tmpdir(), 'cairn-policy-test-'))
const files = join(scratch, 'files')
const ids: Record<'confirmed' | 'both' | 'silent' | 'video', string> = { confirmed: '', both: '', silent: '', video: '' }
const settled = () => waitFor('federation converges', () => converged(nodes, 2), 60_000)
const sha = (b: Buffer) => createHash('sha256').update(b).digest()
const opts = (dir: string, extra: Partial<SyncOptions> = {}): SyncOptions => ({ node: nodes[0]!.url, token, dir, minWitnesses: 2, genesis, warn: () => undefined, ...extra })

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  genesis = join(cluster.dir, 'genesis.json')
  token = (await nodes[0]!.tokens.grant('provider', 'policy test')).token
  mkdirSync(files)
  const [a, b, c] = nodes as [CairnNode, CairnNode, CairnNode]
  for (const name of ['confirmed', 'both', 'silent', 'video'] as const) {
    const content = Buffer.from(`made-up file ${name}`)
    writeFileSync(join(files, `${name}.bin`), content)
    const media = name === 'video' ? 'video' : 'image'
    ids[name] = (await a.publisher.submit({ type: 'indicator', alg: 'sha256', value: sha(content), category: name === 'video' ? 'A2' : 'A1', kind: 'known_material', media })).id
  }
  await b.publisher.submit({ type: 'attestation', target: fromHex(ids.confirmed), opinion: 'confirm' })
  await b.publisher.submit({ type: 'attestation', target: fromHex(ids.both), opinion: 'confirm' })
  await c.publisher.submit({ type: 'attestation', target: fromHex(ids.both), opinion: 'dispute', reason: 'false_positive' })
  await settled()
})

test.after(async () => {
  await cluster?.close()
  rmSync(scratch, { recursive: true, force: true })
})

const idsIn = (dir: string) => [...openLocalCopy(dir).records()].map((r) => r.id).sort()
const matched = async (dir: string) => {
  const out: string[] = []
  for await (const ev of matchPaths(openLocalCopy(dir), [files])) if (ev.kind === 'match') out.push(ev.record.id)
  return out.sort()
}

test('no policy: every indicator with its opinions; --drop-disputed on a later sync reads no entry again and leaves the disputed one out of every reader', async () => {
  const dir = join(scratch, 'copy')
  const first = await syncLocalCopy(opts(dir))
  assert.ok(first.entries > 0)
  assert.equal(idsIn(dir), Object.values(ids).sort())
  const both = openLocalCopy(dir).lookup('sha256', sha(readFileSync(join(files, 'both.bin'))))[0]!
  assert.equal([both.confirmations, both.disputes], [[nodes[1]!.origin], [nodes[2]!.origin]])

  const second = await syncLocalCopy(opts(dir, { policy: { drop_disputed: true } }))
  assert.is(second.entries, 0, 'a policy change needs no resync')
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))
  assert.equal([state.format, state.policy], [STATE_FORMAT, { drop_disputed: true }])
  const copy = openLocalCopy(dir)
  assert.equal([copy.policy, copy.withheld], [{ drop_disputed: true }, 1])
  assert.equal(idsIn(dir), [ids.confirmed, ids.silent, ids.video].sort())
  assert.equal(await matched(dir), [ids.confirmed, ids.silent, ids.video].sort())

  // The CLI: match does not report it, export does not write it; a later sync without flags keeps the policy.
  const m = await runCairn(['match', files, '--copy', dir, '--json'])
  assert.is(m.code, 1, m.stderr)
  const reported = m.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; file: string })
  assert.ok(reported.every((r) => r.id !== ids.both))
  assert.ok(reported.some((r) => r.id === ids.confirmed))
  const e = await runCairn(['export', '--copy', dir, '--format', 'jsonl'])
  assert.is(e.code, 0, e.stderr)
  assert.not.ok(e.stdout.includes(ids.both))
  assert.ok(e.stdout.includes(ids.silent))
  await syncLocalCopy(opts(dir))
  assert.equal(openLocalCopy(dir).policy, { drop_disputed: true })

  // --require-confirmations 1 (disputed ones allowed again): only the confirmed ones.
  await syncLocalCopy(opts(dir, { policy: { require_confirmations: 1, drop_disputed: false } }))
  assert.equal(idsIn(dir), [ids.confirmed, ids.both].sort())
  // Both: confirmed and not disputed.
  await syncLocalCopy(opts(dir, { policy: { drop_disputed: true } }))
  assert.equal(idsIn(dir), [ids.confirmed])
  assert.equal(await matched(dir), [ids.confirmed])
  // Cleared: everything again.
  await syncLocalCopy(opts(dir, { policy: { require_confirmations: 0, drop_disputed: false } }))
  assert.equal(idsIn(dir), Object.values(ids).sort())
  assert.is(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).policy, undefined)
})

test('a new dispute reaches a --drop-disputed copy on its next sync; the cairn sync flags', async () => {
  const dir = join(scratch, 'cli-copy')
  const s = await runCairn(['sync', '--node', nodes[0]!.url, '--token', token, '--dir', dir, '--genesis', genesis, '--min-witnesses', '2', '--drop-disputed', '--quiet'])
  assert.is(s.code, 0, s.stderr)
  assert.match(s.stdout, /policy: disputed ones left out/)
  assert.not.ok(idsIn(dir).includes(ids.both))
  assert.ok(idsIn(dir).includes(ids.silent))
  await nodes[2]!.publisher.submit({ type: 'attestation', target: fromHex(ids.silent), opinion: 'dispute' })
  await settled()
  const again = await runCairn(['sync', '--node', nodes[0]!.url, '--token', token, '--dir', dir, '--genesis', genesis, '--min-witnesses', '2', '--quiet'])
  assert.is(again.code, 0, again.stderr)
  assert.not.ok(idsIn(dir).includes(ids.silent))
  const bad = await runCairn(['sync', '--node', nodes[0]!.url, '--token', token, '--dir', dir, '--require-confirmations', 'many'])
  assert.is(bad.code, 1)
  assert.is(bad.stderr.trim().split('\n').length, 1, bad.stderr)
  const badCat = await runCairn(['sync', '--node', nodes[0]!.url, '--token', token, '--dir', dir, '--category', 'Z9'])
  assert.is(badCat.code, 1)
  assert.match(badCat.stderr, /category/)
})

test('a subscription keeps only what it names, verifying every log; a change reads the logs again', async () => {
  const dir = join(scratch, 'sub-copy')
  const warnings: string[] = []
  const r = await syncLocalCopy(opts(dir, { subscription: { media: ['video'] }, warn: (m) => warnings.push(m) }))
  assert.equal(idsIn(dir), [ids.video])
  assert.ok(r.skipped >= 3)
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))
  assert.equal(state.subscription, { media: ['video'] })
  // Every log was verified to its checkpoint, whatever was kept.
  for (const n of nodes) assert.is(state.logs[n.origin].size, n.store.listLogs().find((l) => l.origin === n.origin)!.checkpointSize)
  // A later run without flags keeps it; a new one re-reads from the start.
  assert.is((await syncLocalCopy(opts(dir))).entries, 0)
  const wider = await syncLocalCopy(opts(dir, { subscription: { categories: ['A1'] }, warn: (m) => warnings.push(m) }))
  assert.ok(wider.entries > 0)
  assert.ok(warnings.some((w) => /subscription changed/.test(w)))
  assert.equal(idsIn(dir), [ids.confirmed, ids.both, ids.silent].sort())
  await syncLocalCopy(opts(dir, { subscription: {} }))
  assert.equal(idsIn(dir), Object.values(ids).sort())
})

test('a version-2 copy is read as one without a policy; a policy this reader does not know refuses the copy', async () => {
  const dir = join(scratch, 'copy')
  const path = join(dir, 'state.json')
  const state = JSON.parse(readFileSync(path, 'utf8'))
  writeFileSync(path, JSON.stringify({ ...state, format: 'cairn-local-copy/2', policy: undefined }))
  assert.equal(idsIn(dir).length, 4)
  writeFileSync(path, JSON.stringify({ ...state, policy: { min_trust: 3 } }))
  try {
    openLocalCopy(dir)
    assert.unreachable()
  } catch (e) {
    assert.is((e as { code: string }).code, 'STORAGE_CORRUPT')
  }
  writeFileSync(path, JSON.stringify(state))
})

test.run()
