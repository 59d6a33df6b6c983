/**
 * The HTTP log read path, the witness endpoint and the operator routes,
 * against real nodes on random ports: every role, every error path, tiles
 * and proofs byte-exact and verifiable with the protocol layer, and the
 * c2sp tlog-witness status codes.
 */
import { test } from 'uvu'
import { request as httpRequest } from 'node:http'
import * as assert from 'uvu/assert'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { loadKeys } from '../node/config.ts'
import { decodeEntryBundle, tilePath, entriesPath } from '../protocol/tiles.ts'
import { verifyTlogProof } from '../protocol/tlog-proof.ts'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import { encodeAddCheckpointRequest } from '../protocol/witness-request.ts'
import { verifyCosignature } from '../protocol/cosignature.ts'
import { parseNote } from '../protocol/note.ts'
import { sha256, utf8, toHex, fromHex } from '../protocol/bytes.ts'
import { EMPTY_ROOT } from '../protocol/hash.ts'
import type { CairnNode } from '../node/node.ts'

let cluster: Cluster
let a: CairnNode, b: CairnNode
const tokens: Record<string, string> = {}

async function get(url: string, token?: string, init: RequestInit = {}) {
  return fetch(url, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) } })
}

async function errorCode(r: Response): Promise<string> {
  const j = (await r.json()) as { error: { code: string; message: string } }
  assert.type(j.error.message, 'string')
  return j.error.code
}

test.after(async () => {
  await cluster?.close()
})

test('setup: 2 nodes, 300 records in a', async () => {
  cluster = await startCluster(3)
  ;[a, b] = cluster.nodes as [CairnNode, CairnNode]
  await Promise.all(Array.from({ length: 300 }, (_, i) => a.publisher.submit({ type: 'indicator', alg: 'sha1', value: sha256(utf8(`h${i}`)).subarray(0, 20), category: 'B2', kind: 'known_material', media: 'image' })))
  await waitFor('convergence', () => converged(cluster.nodes), 30_000)
  for (const role of ['provider', 'auditor', 'oversight', 'operator'] as const) tokens[role] = (await b.tokens.grant(role, `test-${role}`)).token
})

test('GET /logs and checkpoints are public', async () => {
  const logs = (await (await get(`${b.url}/logs`)).json()) as { name: string; origin: string; size: number; vkey: string; frozen: boolean }[]
  const la = logs.find((l) => l.origin === a.origin)!
  assert.is(la.size, 300)
  assert.is(la.frozen, false)
  const r = await get(`${b.url}/logs/${la.name}/checkpoint`)
  assert.is(r.status, 200)
  assert.match(r.headers.get('content-type')!, /^text\/plain/)
  assert.is(await r.text(), b.store.checkpoint(a.origin))
  assert.is((await get(`${b.url}/logs/nosuchlog/checkpoint`)).status, 404)
})

test('tiles: roles, byte-exact, immutable, bad paths 400, beyond the tree 404', async () => {
  const name = a.name
  const t0 = tilePath({ level: 0, index: 0, width: 256 })
  assert.is((await get(`${b.url}/logs/${name}/${t0}`)).status, 401)
  const bad = await get(`${b.url}/logs/${name}/${t0}`, 'cairn_not-a-real-token')
  assert.is(bad.status, 401)
  for (const role of ['provider', 'operator']) {
    const r = await get(`${b.url}/logs/${name}/${t0}`, tokens[role])
    assert.is(r.status, 403, role)
    assert.is(await errorCode(r), 'FORBIDDEN')
  }
  for (const role of ['auditor', 'oversight']) {
    const r = await get(`${b.url}/logs/${name}/${t0}`, tokens[role])
    assert.is(r.status, 200, role)
    assert.match(r.headers.get('cache-control')!, /immutable/)
    assert.is(toHex(new Uint8Array(await r.arrayBuffer())), toHex((await b.store.tile(a.origin, 0, 0))!))
  }
  const partial = await get(`${b.url}/logs/${name}/${tilePath({ level: 0, index: 1, width: 44 })}`, tokens.auditor)
  assert.is(partial.status, 200)
  assert.is((await partial.arrayBuffer()).byteLength, 44 * 32)
  assert.is((await get(`${b.url}/logs/${name}/${tilePath({ level: 0, index: 1, width: 45 })}`, tokens.auditor)).status, 404)
  assert.is((await get(`${b.url}/logs/${name}/tile/0/x000/001`, tokens.auditor)).status, 400)
  assert.is((await get(`${b.url}/logs/${name}/tile/0/1.p/256`, tokens.auditor)).status, 400)
  const bundle = await get(`${b.url}/logs/${name}/${entriesPath(1, 44)}`, tokens.auditor)
  const entries = decodeEntryBundle(new Uint8Array(await bundle.arrayBuffer()), { count: 44 })
  assert.equal(entries.map(toHex), (await b.store.entries(a.origin, 256, 300)).map(toHex))
})

test('proofs: c2sp tlog-proof that verifies offline with the log key and witnesses', async () => {
  const vkey = b.roster.member(a.origin)!.vkey
  const witnesses = cluster.nodes.filter((n) => n !== a).map((n) => n.roster.member(n.origin)!.witnessVkey)
  const r = await get(`${b.url}/logs/${a.name}/proof/123`, tokens.auditor)
  assert.is(r.status, 200)
  const v = verifyTlogProof(await r.text(), await b.store.entry(a.origin, 123), vkey, { witnesses, quorum: 2 })
  assert.is(v.index, 123)
  assert.is((await get(`${b.url}/logs/${a.name}/proof/300`, tokens.auditor)).status, 404)
  assert.is((await get(`${b.url}/logs/${a.name}/proof/007`, tokens.auditor)).status, 400)
  assert.is((await get(`${b.url}/logs/${a.name}/proof/1`, tokens.provider)).status, 403)
  assert.is((await get(`${b.url}/logs/${a.name}/equivocation`)).status, 404)
})

test('POST proofs: many tlog-proofs in one request, each the single route\'s text; bad bodies 400, beyond the tree 404, roles', async () => {
  const vkey = b.roster.member(a.origin)!.vkey
  const post = (body: unknown, token = tokens.auditor) => get(`${b.url}/logs/${a.name}/proofs`, token, {
    method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' },
  })
  const indexes = [0, 123, 299, 5, 123]
  const r = await post({ indexes })
  assert.is(r.status, 200)
  const got = (await r.json()) as { size: number; proofs: string[] }
  assert.is(got.size, 300)
  assert.is(got.proofs.length, indexes.length)
  for (let k = 0; k < indexes.length; k++) {
    assert.is(verifyTlogProof(got.proofs[k]!, await b.store.entry(a.origin, indexes[k]!), vkey).index, indexes[k])
    assert.is(got.proofs[k], await (await get(`${b.url}/logs/${a.name}/proof/${indexes[k]}`, tokens.auditor)).text())
  }
  assert.is((await post({ indexes: [1, 300] })).status, 404)
  for (const bad of [{}, { indexes: [] }, { indexes: [-1] }, { indexes: [1.5] }, { indexes: ['1'] }, { indexes: [1], size: 3 }, [1, 2], 'not json',
    { indexes: Array.from({ length: 1001 }, (_, i) => i % 300) }]) {
    const res = await post(bad)
    assert.is(res.status, 400, JSON.stringify(bad).slice(0, 80))
    assert.is(await errorCode(res), 'BAD_REQUEST')
  }
  assert.is((await post({ indexes: [1] }, tokens.provider)).status, 403)
  assert.is((await get(`${b.url}/logs/nosuch/proofs`, tokens.auditor, { method: 'POST', body: '{"indexes":[1]}' })).status, 404)
})

test('witness add-checkpoint: 200 with a cosignature, 409 with text/x.tlog.size, 422, 403, 404, 400', async () => {
  // A fresh log the witness has not cosigned: use member c's key with a size-0 checkpoint first.
  const c = cluster.nodes[2]!
  const ck = await loadKeys(cluster.planned[2]!.dir)
  const post = (body: string) => fetch(`${b.url}/witness/add-checkpoint`, { method: 'POST', body })
  // c's log (empty) was already cosigned by b at size 0, so old size 0 with the empty checkpoint is accepted again.
  const empty = signCheckpoint({ origin: c.origin, size: 0, root: EMPTY_ROOT }, { name: c.origin, seed: ck.logSeed })
  let r = await post(encodeAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: empty }))
  assert.is(r.status, 200)
  const line = await r.text()
  verifyCosignature(parseNote(empty).body, line, b.roster.member(b.origin)!.witnessVkey)
  // a's log: b cosigned size 300, so old size 0 is a conflict that names 300.
  const cpA = a.store.checkpoint(a.origin)!
  r = await post(encodeAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: cpA }))
  assert.is(r.status, 409)
  assert.is(r.headers.get('content-type'), 'text/x.tlog.size')
  assert.is(await r.text(), '300\n')
  // Same size, different root: 422.
  const ak = await loadKeys(cluster.planned[0]!.dir)
  const fork = signCheckpoint({ origin: a.origin, size: 300, root: sha256(utf8('fork')) }, { name: a.origin, seed: ak.logSeed })
  r = await post(encodeAddCheckpointRequest({ oldSize: 300, proof: [], checkpoint: fork }))
  assert.is(r.status, 422)
  // A bad consistency proof: 422.
  const bigger = signCheckpoint({ origin: a.origin, size: 301, root: sha256(utf8('x')) }, { name: a.origin, seed: ak.logSeed })
  r = await post(encodeAddCheckpointRequest({ oldSize: 300, proof: [sha256(utf8('p'))], checkpoint: bigger }))
  assert.is(r.status, 422)
  // Signed by the wrong key: 403.
  const wrong = signCheckpoint({ origin: a.origin, size: 300, root: fromHex(toHex(b.store.rootNow(a.origin))) }, { name: a.origin, seed: ck.logSeed })
  r = await post(encodeAddCheckpointRequest({ oldSize: 300, proof: [], checkpoint: wrong }))
  assert.is(r.status, 403)
  // Unknown origin: 404.
  const stranger = signCheckpoint({ origin: 'other.fed/x', size: 0, root: EMPTY_ROOT }, { name: 'other.fed/x', seed: ck.logSeed })
  r = await post(encodeAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: stranger }))
  assert.is(r.status, 404)
  // Malformed: 400.
  r = await post('old x\n\nnot a note')
  assert.is(r.status, 400)
  // Nothing above changed what b holds for a.
  assert.is(b.store.size(a.origin), 300)
})

test('operator routes: records, tokens, status; errors are JSON with codes; body limits', async () => {
  const op = tokens.operator
  const postJson = (path: string, body: unknown, token = op) => fetch(`${b.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  let r = await postJson('/records', { type: 'indicator', alg: 'md5', value: '00'.repeat(16), category: 'A1', kind: 'known_material', media: 'image' })
  assert.is(r.status, 400)
  assert.is(await errorCode(r), 'DEGENERATE_HASH')
  r = await postJson('/records', { type: 'indicator', alg: 'md5', value: '11'.repeat(16), category: 'A1', kind: 'known_material', media: 'image', seq: 5 })
  assert.is(await errorCode(r), 'BAD_FIELD')
  r = await fetch(`${b.url}/records`, { method: 'POST', headers: { authorization: `Bearer ${op}`, 'content-type': 'application/json' }, body: '{not json' })
  assert.is(r.status, 400)
  assert.is(await errorCode(r), 'BAD_REQUEST')
  r = await postJson('/records', { type: 'indicator', alg: 'md5', value: '12'.repeat(16), category: 'A1', kind: 'known_material', media: 'image' }, tokens.auditor)
  assert.is(r.status, 403)
  r = await fetch(`${b.url}/records`, { method: 'POST', headers: { authorization: `Bearer ${op}`, 'content-type': 'application/json' }, body: 'x'.repeat(5 * 1024 * 1024) })
  assert.is(r.status, 413)
  assert.is(await errorCode(r), 'TOO_LARGE')
  // GET routes read no body: one declared over the limit is refused from its length, a small one is ignored.
  const getWithBody = (bytes: number) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(`${b.url}/logs`, { method: 'GET', agent: false, headers: { 'content-length': String(bytes) } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end(Buffer.alloc(bytes, 0x61))
  })
  const big = await getWithBody(5 * 1024 * 1024)
  assert.is(big.status, 413)
  assert.is((JSON.parse(big.body) as { error: { code: string } }).error.code, 'TOO_LARGE')
  const small = await getWithBody(100)
  assert.is(small.status, 200)
  assert.ok(Array.isArray(JSON.parse(small.body)))
  r = await postJson('/records', { records: [{ type: 'indicator', alg: 'md5', value: '13'.repeat(16), category: 'A1', kind: 'known_material', media: 'image' }, { type: 'revocation', target: '00'.repeat(32), reason: 'duplicate' }] })
  const many = (await r.json()) as { accepted: number; results: ({ id: string } | { error: { code: string } })[] }
  assert.is(many.accepted, 1)
  assert.is((many.results[1] as { error: { code: string } }).error.code, 'UNKNOWN_TARGET')
  // A revocation of another log's record is refused.
  const foreign = toHex((await a.store.entries(a.origin, 0, 1)).map((e) => sha256(new Uint8Array([0]), e))[0]!)
  r = await postJson('/records', { type: 'revocation', target: foreign, reason: 'duplicate' })
  assert.is(await errorCode(r), 'UNKNOWN_TARGET')
  // Tokens.
  r = await postJson('/admin/tokens', { role: 'provider', name: 'Platform X' })
  const granted = (await r.json()) as { token: string; id: string }
  assert.is(r.status, 201)
  assert.is((await get(`${b.url}/feed`, granted.token)).status, 200)
  const list = (await (await get(`${b.url}/admin/tokens`, op)).json()) as { id: string; name: string }[]
  assert.ok(list.some((t) => t.id === granted.id && t.name === 'Platform X'))
  assert.not.ok(JSON.stringify(list).includes(granted.token), 'token secrets are never listed')
  assert.is((await fetch(`${b.url}/admin/tokens/${granted.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${op}` } })).status, 200)
  assert.is((await get(`${b.url}/feed`, granted.token)).status, 401)
  assert.is((await postJson('/admin/tokens', { role: 'root', name: 'x' })).status, 400)
  const status = (await (await get(`${b.url}/status`, op)).json()) as { origin: string; logs: unknown[] }
  assert.is(status.origin, b.origin)
  assert.is(status.logs.length, 3)
  assert.is((await get(`${b.url}/status`, tokens.oversight)).status, 403)
  assert.is((await get(`${b.url}/no/such/route`)).status, 404)
})

test('every authenticated request is in the access log', async () => {
  await b.accessLog.flush()
  const { rows } = await b.accessLog.query({ limit: 1000 })
  assert.ok(rows.some((r) => r.role === 'auditor' && r.path === `/logs/${a.name}/tile/0/000` && r.bytes === 256 * 32), 'a full tile row counts its 8 KiB')
  assert.ok(rows.some((r) => r.role === 'operator' && r.path === '/records' && r.status === 413) || rows.some((r) => r.role === 'operator' && r.path === '/records'))
  assert.is((await b.accessLog.verify()).brokenAt, undefined)
})

test.run()
