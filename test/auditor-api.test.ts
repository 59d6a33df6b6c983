/**
 * The auditor, oversight and operator read routes against a real 3-node
 * federation: GET /lookup (provenance checked offline with the protocol layer),
 * /stats (aggregates only), /metrics (Prometheus text), /access-log (paging,
 * filters, CSV, hash chain), and who may call what.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { toHex, fromHex, sha256, utf8 } from '../protocol/bytes.ts'
import { openEntry } from '../protocol/entry.ts'
import { verifyTlogProof } from '../protocol/tlog-proof.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import { leafHash } from '../protocol/hash.ts'
import { rowHash, type AccessRow } from '../node/access-log.ts'
import { verifyProvenance, type Provenance } from '../protocol/provenance.ts'
import { keys } from '../node/storage/keys.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'
import { throws } from './helpers.ts'

let cluster: Cluster
let nodes: CairnNode[]
const tokens: Record<string, string> = {}
const VALUE = toHex(sha256(utf8('auditor-api shared value')))
let indicatorId = ''
const published: string[] = [] // every indicator value (hex) and record id, for the leak checks

function md5ish(i: number): string {
  return toHex(sha256(utf8(`md5-${i}`))).slice(0, 32)
}

async function call(path: string, token?: string, node = 0): Promise<Response> {
  return fetch(nodes[node]!.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} })
}

async function json<T = any>(path: string, token?: string, node = 0): Promise<T> {
  const r = await call(path, token, node)
  assert.is(r.status, 200, `${path}: ${r.status}`)
  return (await r.json()) as T
}

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  const [a, b, c] = nodes as [CairnNode, CairnNode, CairnNode]
  const ind = (value: string, category = 'A1'): RecordBody => ({ type: 'indicator', alg: 'sha256', value: fromHex(value), category, kind: 'known_material', media: 'image' } as RecordBody)
  const first = await a.publisher.submit(ind(VALUE))
  indicatorId = first.id
  await c.publisher.submit(ind(VALUE, 'B1')) // a second log says the same value
  await Promise.all(Array.from({ length: 300 }, (_, i) => b.publisher.submit({ type: 'indicator', alg: 'md5', value: fromHex(md5ish(i)), category: 'B2', kind: 'known_material', media: 'image' } as RecordBody)))
  published.push(VALUE, indicatorId, ...Array.from({ length: 300 }, (_, i) => md5ish(i)))
  await waitFor('the indicators to reach every node', () => converged(nodes), 60_000)
  await b.publisher.submit({ type: 'attestation', target: fromHex(indicatorId), opinion: 'confirm' } as RecordBody)
  await c.publisher.submit({ type: 'attestation', target: fromHex(indicatorId), opinion: 'dispute', reason: 'wrong_category' } as RecordBody)
  await a.publisher.submit({ type: 'revocation', target: fromHex(indicatorId), reason: 'reclassified' } as RecordBody)
  await waitFor('attestations and the revocation to converge', () => converged(nodes) && a.store.size(c.origin) === 2 && a.store.size(b.origin) === 301, 60_000)
  for (const role of ['auditor', 'oversight', 'provider'] as const) {
    tokens[role] = (await a.tokens.grant(role, `${role}-alice`)).token
  }
  tokens.operator = cluster.operatorTokens[0]!
  tokens.auditor2 = (await a.tokens.grant('auditor', 'auditor-bob')).token
})

test.after(async () => {
  await cluster?.close()
})

// ---------------------------------------------------------------------------
// Who may call what

const ROUTES: { path: string; roles: string[] }[] = [
  { path: `/lookup/sha256/${VALUE}`, roles: ['auditor', 'oversight'] },
  { path: '/metrics', roles: ['operator'] },
  { path: '/access-log', roles: ['oversight'] },
]

test('each route: 401 without or with a bad token, 403 for other roles, 200 for its roles; /stats is public', async () => {
  for (const { path, roles } of ROUTES) {
    assert.is((await call(path)).status, 401, `${path} without a token`)
    const bad = await call(path, 'cairn_notAtoken0000000000000000000000')
    assert.is(bad.status, 401, `${path} with an unknown token`)
    assert.is(((await bad.json()) as any).error.code, 'UNAUTHORIZED')
    for (const role of ['auditor', 'oversight', 'provider', 'operator']) {
      const r = await call(path, tokens[role])
      const want = roles.includes(role) ? 200 : 403
      assert.is(r.status, want, `${path} as ${role}`)
      if (want === 403) assert.is(((await r.json()) as any).error.code, 'FORBIDDEN')
      else await r.arrayBuffer()
    }
  }
  assert.is((await call('/stats')).status, 200)
  // A revoked token stops working at once.
  const { token, info } = await nodes[0]!.tokens.grant('auditor', 'short-lived')
  assert.is((await call('/lookup/md5/' + md5ish(1), token)).status, 200)
  await nodes[0]!.tokens.revoke(info.id)
  assert.is((await call('/lookup/md5/' + md5ish(1), token)).status, 401)
})

// ---------------------------------------------------------------------------
// GET /lookup

test('lookup: every record about a value, with attestations and revocations, verifiable offline with the protocol layer', async () => {
  const doc = await json<Provenance>(`/lookup/sha256/${VALUE}`, tokens.auditor)
  assert.is(doc.alg, 'sha256')
  assert.is(doc.value, VALUE)
  assert.is(doc.records.length, 2)
  assert.equal(doc.summary.published_by, [nodes[0]!.origin, nodes[2]!.origin])
  assert.equal(doc.summary.confirmed_by, [nodes[1]!.origin])
  assert.equal(doc.summary.disputed_by, [nodes[2]!.origin])
  assert.is(doc.summary.revoked, 1)
  assert.is(doc.summary.current, true) // c3's record is not revoked
  const first = doc.records.find((r) => r.id === indicatorId)!
  assert.ok(first.revoked && first.disputed)
  assert.is(first.revocations.length, 1)
  assert.is(first.attestations.length, 2)
  const other = doc.records.find((r) => r.id !== indicatorId)!
  assert.is(other.log, nodes[2]!.origin)
  assert.not.ok(other.revoked)
  assert.is((other.record as any).category, 'B1')

  // Independently of node/provenance.ts: keys from the genesis roster, each item opened and its proof checked.
  const genesis = cluster.planned.map((p) => p.member)
  let items = 0
  for (const r of doc.records) {
    for (const it of [r, ...r.attestations, ...r.revocations]) {
      const m = genesis.find((g) => g.origin === it.log)!
      assert.is(doc.logs[it.log]!.vkey, m.vkey)
      const entry = fromHex(it.entry)
      const opened = openEntry(entry, parseVerifierKey(m.vkey).publicKey, { log: it.log, seq: it.index })
      assert.is(toHex(leafHash(entry)), it.id)
      assert.is(toHex(opened.id), it.id)
      const witnesses = genesis.filter((g) => g.origin !== it.log).map((g) => g.witness_vkey)
      assert.equal(doc.logs[it.log]!.witness_vkeys.sort(), [...witnesses].sort())
      const v = verifyTlogProof(it.proof!, entry, m.vkey, { witnesses, quorum: 2 })
      assert.is(v.index, it.index)
      if (it !== r) assert.is(toHex((opened.record as any).target), r.id)
      items++
    }
  }
  assert.is(items, 5)
  const verified = verifyProvenance(doc, { minWitnesses: 2 })
  assert.is(verified.indicators.length, 2)

  // Any change to the document is caught offline.
  const tampered = structuredClone(doc)
  ;(tampered.records[0]!.record as any).category = 'B2'
  throws(() => verifyProvenance(tampered), 'BAD_FIELD')
  const moved = structuredClone(doc)
  moved.records[0]!.proof = moved.records[0]!.proof!.replace(/index \d+/, 'index 1')
  throws(() => verifyProvenance(moved), undefined)
  const swapped = structuredClone(doc)
  swapped.records[0]!.attestations.push(structuredClone(swapped.records[1]!))
  throws(() => verifyProvenance(swapped), undefined)
  const foreignKey = structuredClone(doc)
  foreignKey.logs[nodes[0]!.origin]!.vkey = genesis[1]!.vkey
  throws(() => verifyProvenance(foreignKey), undefined)
})

test('lookup: every node answers the same; an unknown value is 200 with no records; malformed requests are 400', async () => {
  const here = await json<Provenance>(`/lookup/sha256/${VALUE}`, tokens.auditor)
  const [, g] = [0, await nodes[2]!.tokens.grant('oversight', 'o3')]
  const there = await json<Provenance>(`/lookup/sha256/${VALUE.toUpperCase()}`, g.token, 2)
  assert.equal(there.records.map((r) => r.id).sort(), here.records.map((r) => r.id).sort())
  verifyProvenance(there)

  const none = await json<Provenance>(`/lookup/sha256/${'12'.repeat(32)}`, tokens.oversight)
  assert.equal(none.records, [])
  assert.is(none.summary.records, 0)
  assert.is(none.summary.current, false)
  assert.equal(verifyProvenance(none).indicators, [])

  const md5 = await json<Provenance>(`/lookup/md5/${md5ish(7)}`, tokens.auditor)
  assert.is(md5.records.length, 1)
  assert.is(md5.records[0]!.log, nodes[1]!.origin)
  verifyProvenance(md5, { minWitnesses: 2 })

  const bad: [string, string][] = [
    ['/lookup/sha512/' + VALUE, 'BAD_ALG'],
    ['/lookup/sha256/' + VALUE.slice(1), 'BAD_REQUEST'],
    ['/lookup/sha256/' + VALUE.slice(2), 'BAD_VALUE_LENGTH'],
    ['/lookup/sha256/' + 'zz'.repeat(32), 'BAD_REQUEST'],
    ['/lookup/md5/' + VALUE, 'BAD_VALUE_LENGTH'],
    ['/lookup/tmk_pdqf/' + 'ab'.repeat(4097), 'BAD_VALUE_LENGTH'],
    ['/lookup/__proto__/' + VALUE, 'BAD_ALG'],
  ]
  for (const [path, code] of bad) {
    const r = await call(path, tokens.auditor)
    assert.is(r.status, 400, path)
    assert.is(((await r.json()) as any).error.code, code, path)
  }
})

// ---------------------------------------------------------------------------
// GET /stats

test('stats: aggregate counts by log, type, category, alg, reason, opinion; no indicator values or ids', async () => {
  const text = await (await call('/stats')).text()
  const s = JSON.parse(text)
  assert.is(s.origin, nodes[0]!.origin)
  assert.is(s.current_set_size, 301) // 302 indicators, one revoked
  assert.is(s.totals.entries, 2 + 301 + 2)
  assert.equal(s.totals.by_type, { indicator: 302, revocation: 1, attestation: 2 })
  assert.equal(s.totals.by_alg, { sha256: 2, md5: 300 })
  assert.equal(s.totals.by_category, { A1: 1, B1: 1, B2: 300 })
  assert.equal(s.totals.revocations_by_reason, { reclassified: 1 })
  assert.equal(s.totals.attestations_by_opinion, { confirm: 1, dispute: 1 })
  assert.is(s.logs.length, 3)
  for (const l of s.logs) {
    assert.is(l.size, l.checkpoint_size)
    assert.is(l.cosignatures, 2)
    assert.type(l.checkpoint_age_s, 'number')
    assert.ok(l.checkpoint_age_s >= 0)
    assert.not.ok(l.frozen)
  }
  assert.equal(s.logs.find((l: any) => l.origin === nodes[1]!.origin).counts.by_alg, { md5: 300 })
  for (const v of published) assert.not.ok(text.toLowerCase().includes(v), `stats must not contain ${v}`)
  assert.not.ok(/[0-9a-f]{32}/.test(text), 'no hash-like strings in /stats')
})

// ---------------------------------------------------------------------------
// GET /metrics

interface Sample { name: string; labels: Record<string, string>; value: number }

/** A strict reader of the Prometheus text exposition format (0.0.4). */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
  const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`)
  const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y
  assert.ok(text.endsWith('\n'), 'exposition ends with a newline')
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue
    if (line.startsWith('# HELP ')) continue
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ')
      assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type!), line)
      types.set(name!, type!)
      continue
    }
    assert.not.ok(line.startsWith('#'), `unexpected comment: ${line}`)
    const m = SAMPLE.exec(line)
    assert.ok(m, `not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    if (m![2]) {
      LABEL.lastIndex = 0
      while (LABEL.lastIndex < m![2].length) {
        const l = LABEL.exec(m![2])
        assert.ok(l, `bad labels in ${line}`)
        labels[l![1]!] = l![2]!
      }
    }
    const value = m![3] === '+Inf' ? Infinity : m![3] === '-Inf' ? -Infinity : m![3] === 'NaN' ? NaN : Number(m![3])
    assert.ok(m![3] === 'NaN' || !Number.isNaN(value), `bad value in ${line}`)
    samples.push({ name: m![1]!, labels, value })
  }
  return { samples, types }
}

test('metrics: valid Prometheus text with log sizes, set size, peers, sync, publisher, witness, HTTP and access-log numbers', async () => {
  await call(`/lookup/sha256/${VALUE}`, tokens.auditor)
  const r = await call('/metrics', tokens.operator)
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const text = await r.text()
  const { samples, types } = parsePrometheus(text)
  const one = (name: string, labels: Record<string, string> = {}) => {
    const s = samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    assert.is(s.length, 1, `${name} ${JSON.stringify(labels)}`)
    return s[0]!.value
  }
  assert.is(one('cairn_log_entries', { log: nodes[1]!.origin }), 301)
  assert.is(one('cairn_log_checkpoint_size', { log: nodes[0]!.origin }), 2)
  assert.is(one('cairn_log_cosignatures', { log: nodes[2]!.origin }), 2)
  assert.is(one('cairn_current_set_size'), 301)
  assert.is(one('cairn_peers_connected'), 2)
  assert.is(one('cairn_publisher_accepted_total'), 2)
  assert.ok(one('cairn_sync_entries_total') >= 303)
  assert.ok(one('cairn_witness_cosigned_total') > 0)
  assert.ok(one('cairn_cosign_cosignatures_total') > 0)
  assert.ok(one('cairn_access_log_rows') > 0)
  assert.ok(one('cairn_http_requests_total', { method: 'GET', route: '/lookup/:alg/:hex', status: '200' }) >= 1)
  assert.ok(one('cairn_http_requests_total', { method: 'GET', route: '/metrics', status: '403' }) >= 1)
  assert.is(types.get('cairn_http_requests_total'), 'counter')
  assert.is(types.get('cairn_log_entries'), 'gauge')
  assert.ok(samples.some((s) => s.name === 'cairn_p2p_refused_total'))
  assert.ok(samples.some((s) => s.name === 'process_cpu_user_seconds_total'))
  // Route patterns only: the looked-up value never becomes a label.
  for (const v of published) assert.not.ok(text.includes(v), `metrics must not contain ${v}`)
  // Each node has its own registry: node 2's numbers are its own.
  const other = parsePrometheus(await (await call('/metrics', cluster.operatorTokens[2], 2)).text())
  assert.is(other.samples.find((s) => s.name === 'cairn_publisher_accepted_total')!.value, 2)
  assert.not.ok(other.samples.some((s) => s.name === 'cairn_http_requests_total' && s.labels.route === '/lookup/:alg/:hex' && s.labels.status === '403'))
})

// ---------------------------------------------------------------------------
// GET /access-log

test('access log: paging, filters, CSV export, intact hash chain', async () => {
  const t0 = Date.now()
  for (let i = 0; i < 3; i++) await call(`/lookup/md5/${md5ish(i)}`, tokens.auditor2)
  await call('/metrics', tokens.auditor2) // 403, still logged
  const t1 = Date.now() + 1

  // Page through everything two rows at a time.
  const all: AccessRow[] = []
  let after: number | undefined
  for (let page = 0; page < 1000; page++) {
    const p = await json<{ rows: AccessRow[]; next: number | null; chain: any }>(`/access-log?limit=2${after !== undefined ? `&after=${after}` : ''}`, tokens.oversight)
    assert.ok(p.rows.length <= 2)
    all.push(...p.rows)
    if (p.next === null) break
    assert.is(p.next, p.rows[p.rows.length - 1]!.seq)
    after = p.next
  }
  assert.equal(all.map((r) => r.seq), all.map((_, i) => i), 'every row once, in order')
  for (let i = 1; i < all.length; i++) assert.is(all[i]!.prev, rowHash(all[i - 1]!), `row ${i} chains to the previous one`)

  const bob = await json<{ rows: AccessRow[]; chain: any }>(`/access-log?name=auditor-bob`, tokens.oversight)
  assert.is(bob.rows.length, 4)
  assert.ok(bob.rows.every((r) => r.name === 'auditor-bob' && r.role === 'auditor'))
  assert.equal(bob.rows.map((r) => r.status), [200, 200, 200, 403])
  assert.is(bob.rows[0]!.path, `/lookup/md5/${md5ish(0)}`)
  assert.equal(bob.chain, { rows: bob.chain.rows, intact: true, broken_at: null })
  assert.ok(bob.chain.rows >= all.length)

  const ops = await json<{ rows: AccessRow[] }>(`/access-log?role=operator&limit=1000`, tokens.oversight)
  assert.ok(ops.rows.length > 0 && ops.rows.every((r) => r.role === 'operator'))
  const window = await json<{ rows: AccessRow[] }>(`/access-log?name=auditor-bob&from=${t0}&to=${new Date(t1).toISOString()}`, tokens.oversight)
  assert.is(window.rows.length, 4)
  const before = await json<{ rows: AccessRow[] }>(`/access-log?name=auditor-bob&to=${t0}`, tokens.oversight)
  assert.is(before.rows.length, 0)

  const csv = await call('/access-log?format=csv&name=auditor-bob&limit=3', tokens.oversight)
  assert.is(csv.status, 200)
  assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/)
  assert.match(csv.headers.get('x-cairn-chain') ?? '', /^intact; rows=\d+$/)
  assert.is(csv.headers.get('x-cairn-next'), String(bob.rows[2]!.seq))
  const lines = (await csv.text()).split('\r\n')
  assert.is(lines[0], 'seq,time,token,name,role,issuer,method,path,status,bytes,prev,time_iso')
  assert.is(lines.length, 1 + 3 + 1)
  const cells = lines[1]!.split(',')
  assert.is(Number(cells[0]), bob.rows[0]!.seq)
  assert.is(cells[3], 'auditor-bob')
  assert.is(cells[10], bob.rows[0]!.prev)

  for (const q of ['limit=0', 'limit=1001', 'after=-1', 'after=x', 'role=king', 'format=xml', 'from=yesterday', 'name=' + encodeURIComponent('<script>')]) {
    const r = await call(`/access-log?${q}`, tokens.oversight)
    assert.is(r.status, 400, q)
  }
})

test('access log: an edited row breaks the chain, and the response says where', async () => {
  const a = nodes[0]!
  await a.accessLog.flush()
  const rows = (await a.accessLog.query({ limit: 1000 })).rows
  const victim = rows[3]!
  const forged = { ...victim, status: 404 }
  await a.store.kv.batch([{ type: 'put', key: keys.access(victim.seq), value: utf8(JSON.stringify(forged)) }])
  const p = await json<{ chain: { intact: boolean; broken_at: number | null } }>('/access-log?limit=1', tokens.oversight)
  assert.is(p.chain.intact, false)
  assert.is(p.chain.broken_at, victim.seq + 1)
  const csv = await call('/access-log?format=csv&limit=1', tokens.oversight)
  assert.match(csv.headers.get('x-cairn-chain') ?? '', new RegExp(`^broken; at=${victim.seq + 1}; rows=`))
  await csv.text()
})

test.run()
