/**
 * `cairn sync --from-snapshot` (issue 20): a provider's first sync from a
 * jsonl snapshot with entries (GET /feed/snapshot?format=jsonl&entries=1),
 * every line checked against its signed entry and every other entry read
 * from the node or mirror, through the one checking pipeline of
 * client/sync.ts. The copy is the one a normal first sync makes; an edited,
 * duplicated, truncated or cut snapshot is refused with one line, the copy
 * unchanged; a line left out is read from the source; a non-empty copy is
 * refused.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { copyNodeToMirror, serveStatic, type StaticServer } from '../testnet/static-mirror.ts'
import { runCairn } from './support/cli.ts'
import { sha256, utf8, fromHex, fromBase64 } from '../protocol/bytes.ts'
import { leafHash } from '../protocol/hash.ts'
import { LedgerError } from '../protocol/errors.ts'
import { syncLocalCopy, type SyncOptions } from '../client/sync.ts'
import { loadLocalSet } from '../client/local-copy.ts'
import type { CairnNode } from '../node/node.ts'

let cluster: Cluster
let nodes: CairnNode[]
let genesis = ''
let provider = ''
let server: StaticServer
const scratch = mkdtempSync(join(tmpdir(), 'cairn-snapshot-sync-test-'))
let dirs = 0
const newDir = () => join(scratch, `copy-${dirs++}`)
const snapFile = (name: string) => join(scratch, `${name}.jsonl`)
/** The snapshot (with entries) taken after the revocations, as lines; the one taken before them. */
let lines: string[] = []
let before: string[] = []
let early: string[] = []
const revokedIds: string[] = []
let normal = ''

async function publish(node: CairnNode, tag: string, n: number): Promise<string[]> {
  const res = await Promise.all(Array.from({ length: n }, (_, i) => node.publisher.submit({
    type: 'indicator', alg: i % 3 ? 'sha256' : 'pdq', value: sha256(utf8(`${tag}/${i}`)), category: i % 2 ? 'A1' : 'B2', kind: 'known_material', media: 'image',
    ...(i % 3 ? {} : { quality: 90 }), ...(i % 5 === 0 ? { ref: `p1:${Buffer.from(sha256(utf8(`ref${i}`))).toString("hex").slice(0, 32)}` } : {}),
  })))
  return res.map((r) => r.id)
}
const settled = () => waitFor('federation converges', () => converged(nodes, 2), 60_000)

async function snapshot(url: string): Promise<string[]> {
  const res = await fetch(`${url}/feed/snapshot?format=jsonl&entries=1`, { headers: { authorization: `Bearer ${provider}` } })
  assert.is(res.status, 200)
  const text = await res.text()
  assert.ok(text.endsWith('\n'))
  return text.slice(0, -1).split('\n')
}
const write = (name: string, ls: string[]) => {
  writeFileSync(snapFile(name), ls.join('\n') + '\n')
  return snapFile(name)
}
/** `ls` with its trailer's count set to its number of lines. */
function recount(ls: string[]): string[] {
  const t = JSON.parse(ls[ls.length - 1]!) as { count: number }
  t.count = ls.length - 1
  return [...ls.slice(0, -1), JSON.stringify(t)]
}

function opts(dir: string, extra: Partial<SyncOptions> = {}): SyncOptions {
  return { node: nodes[0]!.url, token: provider, dir, minWitnesses: 2, genesis, warn: () => undefined, ...extra }
}

/** Every file of a copy, hashed. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (!existsSync(dir)) return out
  for (const f of readdirSync(dir).sort()) if (f !== 'lock') out[f] = createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')
  return out
}
function content(dir: string) {
  const set = loadLocalSet(dir)
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))
  const records = [...set.records()].map((r) => JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)))
  return { count: records.length, records: createHash('sha256').update(records.join('\n')).digest('hex'), logs: state.logs, cursor: set.cursor }
}

async function refused(o: SyncOptions, code: string, what: RegExp, name: string): Promise<string> {
  const had = fingerprint(o.dir)
  try {
    await syncLocalCopy(o)
    assert.unreachable(`${name}: accepted`)
  } catch (e) {
    assert.instance(e, LedgerError, `${name}: ${String(e)}`)
    const message = (e as Error).message
    assert.is((e as LedgerError).code, code, `${name}: ${message}`)
    assert.match(message, what, `${name}: ${message}`)
    assert.not.match(message, /\n/, `${name}: one line`)
    assert.equal(fingerprint(o.dir), had, `${name}: the copy changed`)
    return message
  }
  return ''
}

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  genesis = join(cluster.dir, 'genesis.json')
  provider = (await nodes[0]!.tokens.grant('provider', 'snapshot test')).token
  const ids = await publish(nodes[0]!, 'a', 200)
  await publish(nodes[1]!, 'b', 40)
  await settled()
  early = await snapshot(nodes[0]!.url)
  ids.push(...await publish(nodes[0]!, 'a2', 100)) // more than a tile in all
  await settled()
  before = await snapshot(nodes[0]!.url)
  for (const id of [ids[3]!, ids[150]!, ids[299]!]) {
    await nodes[0]!.publisher.submit({ type: 'revocation', target: fromHex(id), reason: 'legal_order' })
    revokedIds.push(id)
  }
  await settled()
  lines = await snapshot(nodes[0]!.url)
  normal = newDir()
  await syncLocalCopy(opts(normal))
})

test.after(async () => {
  await server?.close()
  await cluster?.close()
  rmSync(scratch, { recursive: true, force: true })
})

test('the node: entries=1 adds each line\'s stored entry, last; other formats refuse it', async () => {
  const first = JSON.parse(lines[0]!) as Record<string, unknown>
  assert.is(Object.keys(first).at(-1), 'entry')
  assert.is(Buffer.from(leafHash(fromBase64(first.entry as string))).toString('hex'), first.id)
  const res = await fetch(`${nodes[0]!.url}/feed/snapshot?format=csv&entries=1`, { headers: { authorization: `Bearer ${provider}` } })
  assert.is(res.status, 400)
  assert.is(((await res.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST')
  assert.is(lines.length - 1, 340 - 3, 'the revoked indicators are not in the snapshot')
})

test('a copy from the snapshot is the copy a normal first sync makes, file for file', async () => {
  const dir = newDir()
  const r = await syncLocalCopy(opts(dir, { snapshot: write('whole', lines), limit: 100 }))
  assert.equal(r.snapshot?.lines, lines.length - 1)
  assert.ok(r.snapshot!.fetched >= 3 + 3, `revocations and revoked indicators read from the node (${r.snapshot!.fetched})`)
  assert.ok(r.snapshot!.fetched < 60, `the lines' entries not read again (${r.snapshot!.fetched})`)
  assert.equal(content(dir), content(normal))
  assert.equal(fingerprint(dir), fingerprint(normal))
  const set = loadLocalSet(dir)
  for (const id of revokedIds) assert.not.ok([...set.records()].some((x) => JSON.stringify(x).includes(id)), 'revoked')
  // A later normal sync continues from the snapshot's checkpoints.
  const again = await syncLocalCopy(opts(dir))
  assert.is(again.added + again.removed, 0)
})

test('`node` takes the node\'s own snapshot; a revoked indicator\'s line left in is removed by its revocation', async () => {
  const dir = newDir()
  await syncLocalCopy(opts(dir, { snapshot: 'node' }))
  assert.equal(content(dir), content(normal))
  // The lines of the revoked indicators (from the snapshot before the revocations) put back in place.
  const revokedLines = before.slice(0, -1).filter((l) => revokedIds.includes((JSON.parse(l) as { id: string }).id))
  assert.is(revokedLines.length, 3)
  const key = (l: string) => { const o = JSON.parse(l) as { log: string; seq: number }; return [o.log, o.seq] as const }
  const body = [...lines.slice(0, -1), ...revokedLines].sort((a, b) => { const [la, sa] = key(a); const [lb, sb] = key(b); return la < lb ? -1 : la > lb ? 1 : sa - sb })
  const dir2 = newDir()
  const r = await syncLocalCopy(opts(dir2, { snapshot: write('with-revoked', recount([...body, lines.at(-1)!])) }))
  assert.is(r.snapshot?.lines, lines.length - 1 + 3)
  assert.equal(content(dir2), content(normal))
})

test('a line left out: its entry is read from the node and the copy is still complete', async () => {
  const dir = newDir()
  const cut = recount([...lines.slice(0, 10), ...lines.slice(11, 200), ...lines.slice(201)])
  const r = await syncLocalCopy(opts(dir, { snapshot: write('cut', cut) }))
  assert.is(r.snapshot?.lines, lines.length - 3)
  assert.equal(content(dir), content(normal))
  assert.equal(fingerprint(dir), fingerprint(normal))
})

test('an edited line, a wrong id, a duplicate, a line beyond the checkpoint, a cut or truncated file: refused, the copy empty', async () => {
  const edit = (i: number, f: (o: Record<string, unknown>) => void) => {
    const ls = [...lines]
    const o = JSON.parse(ls[i]!) as Record<string, unknown>
    f(o)
    ls[i] = JSON.stringify(o)
    return ls
  }
  const dir = newDir()
  const flipHex = (s: string) => (s[0] === '0' ? '1' : '0') + s.slice(1)
  await refused(opts(dir, { snapshot: write('value', edit(5, (o) => { o.value = flipHex(o.value as string) })) }), 'BAD_FIELD', /line 6: "value" differs/, 'value edited')
  await refused(opts(dir, { snapshot: write('category', edit(7, (o) => { o.category = o.category === 'A1' ? 'B2' : 'A1' })) }), 'BAD_FIELD', /line 8: "category"/, 'category edited')
  await refused(opts(dir, { snapshot: write('id', edit(2, (o) => { o.id = flipHex(o.id as string) })) }), 'MALFORMED_ENTRY', /line 3: "id"/, 'id edited')
  await refused(opts(dir, { snapshot: write('seq', edit(2, (o) => { o.seq = (o.seq as number) + 1 })) }), 'BAD_FIELD', /line 3: "seq"/, 'seq edited')
  await refused(opts(dir, { snapshot: write('no-entry', edit(4, (o) => { delete o.entry })) }), 'MALFORMED_ENTRY', /line 5 has no "entry"/, 'no entry')
  await refused(opts(dir, { snapshot: write('dup', recount([...lines.slice(0, 10), lines[9]!, ...lines.slice(10)])) }), 'SEQ_MISMATCH', /line 11: a second line for entry/, 'duplicate')
  // Lines whose entries lie beyond the checkpoint: the trailer of an earlier, smaller snapshot with the later lines.
  const later = [...lines.slice(0, -1), early.at(-1)!]
  await refused(opts(dir, { snapshot: write('beyond', recount(later)) }), 'OUT_OF_RANGE', /beyond the trailer's checkpoint/, 'beyond the checkpoint')
  await refused(opts(dir, { snapshot: write('no-trailer', lines.slice(0, -1)) }), 'MALFORMED_ENTRY', /no trailer line/, 'no trailer')
  const whole = lines.join('\n') + '\n'
  writeFileSync(snapFile('truncated'), whole.slice(0, Math.floor(whole.length / 2)))
  await refused(opts(dir, { snapshot: snapFile('truncated') }), 'MALFORMED_ENTRY', /truncated/, 'truncated')
  await refused(opts(dir, { snapshot: write('count', [...lines.slice(0, 3), ...lines.slice(4)]) }), 'MALFORMED_ENTRY', /counts/, 'count')
  assert.not.ok(existsSync(join(dir, 'state.json')), 'nothing committed')
})

test('a copy that already holds entries is refused', async () => {
  const message = await refused(opts(normal, { snapshot: write('whole', lines) }), 'BAD_REQUEST', /already holds entries/, 'non-empty copy')
  assert.match(message, /--from-snapshot/)
})

test('a static mirror: --from with `mirror` reads its snapshot/latest.json; the same copy', async () => {
  const mirrors = join(scratch, 'mirrors')
  const auditor = (await nodes[0]!.tokens.grant('auditor', 'mirror copier')).token
  await copyNodeToMirror(nodes[0]!.url, auditor, join(mirrors, 'm'))
  const trailer = JSON.parse(lines.at(-1)!) as { cursor: string; checkpoints: Record<string, string> }
  mkdirSync(join(mirrors, 'm', 'snapshot'), { recursive: true })
  writeFileSync(join(mirrors, 'm', 'snapshot', `${trailer.cursor}.jsonl`), lines.join('\n') + '\n')
  writeFileSync(join(mirrors, 'm', 'snapshot', 'latest.json'), JSON.stringify({ cursor: trailer.cursor, path: `snapshot/${trailer.cursor}.jsonl`, checkpoints: trailer.checkpoints }) + '\n')
  server = await serveStatic(mirrors, [provider])
  const dir = newDir()
  const r = await syncLocalCopy({ from: `${server.url}/m`, snapshot: 'mirror', token: provider, dir, minWitnesses: 2, genesis, warn: () => undefined })
  assert.is(r.snapshot?.lines, lines.length - 1)
  assert.equal(content(dir), content(normal))
})

test('the CLI prints the lines verified and the entries read from the source', async () => {
  const dir = newDir()
  const cli = await runCairn(['sync', '--node', nodes[0]!.url, '--token', provider, '--dir', dir, '--genesis', genesis, '--min-witnesses', '2', '--from-snapshot', write('whole', lines), '--quiet'])
  assert.is(cli.code, 0, cli.stderr)
  assert.match(cli.stdout, new RegExp(`from the snapshot: ${lines.length - 1} lines verified`))
  const again = await runCairn(['sync', '--node', nodes[0]!.url, '--token', provider, '--dir', dir, '--genesis', genesis, '--min-witnesses', '2', '--from-snapshot', 'node', '--quiet'])
  assert.is(again.code, 1)
  assert.match(again.stderr, /already holds entries/)
  assert.is(again.stderr.trim().split('\n').length, 1, again.stderr)
})

test.run()
