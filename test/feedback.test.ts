/**
 * Provider feedback end to end (spec/api.md §A.11) on a real three-node
 * federation: a provider at node B (c2) reports a false positive on node A's
 * (c1) record; it reaches A's review queue and B keeps a receipt; repeats are
 * deduplicated; bad input is refused with one-line errors, counted, and
 * stores nothing; with A down the report is pending, then delivered; A
 * revokes, the provider sees the outcome at B and its next sync drops the
 * record; the transparency report counts it all.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCluster, waitFor, type Cluster } from './support/cluster.ts'
import { runCairn } from './support/cli.ts'
import { sampleIndicator } from '../testnet/samples.ts'
import { fromHex } from '../protocol/bytes.ts'
import { syncLocalCopy } from '../client/sync.ts'
import { loadLocalSet } from '../client/local-copy.ts'
import { figureValue, type TransparencyReport } from '../node/report.ts'
import type { CairnNode } from '../node/node.ts'

let cluster: Cluster
let A: CairnNode, B: CairnNode, C: CairnNode
let provider: string, providerC: string, auditor: string, oversight: string
const ids: string[] = []
const bodies = Array.from({ length: 6 }, (_, i) => sampleIndicator('feedback-a', i * 4)) // i*4: sha256 and others, never url
const scratch = mkdtempSync(join(tmpdir(), 'cairn-feedback-'))

async function call(node: CairnNode, token: string | undefined, method: string, path: string, body?: unknown, raw?: string) {
  const res = await fetch(node.url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  })
  const text = await res.text()
  let json: any
  try { json = JSON.parse(text) } catch { json = text }
  return { status: res.status, json }
}
const op = (i: number) => cluster.operatorTokens[i]!
const nodeAt = (i: number) => cluster.nodes[i]!

test.before(async () => {
  cluster = await startCluster(3)
  ;[A, B, C] = cluster.nodes as [CairnNode, CairnNode, CairnNode]
  const published = await call(A, op(0), 'POST', '/records', { records: bodies })
  assert.is(published.status, 200, JSON.stringify(published.json))
  for (const r of published.json.results) ids.push(r.id)
  provider = (await B.tokens.grant('provider', 'Example Platform')).token
  providerC = (await C.tokens.grant('provider', 'Other Platform')).token
  auditor = (await B.tokens.grant('auditor', 'an auditor')).token
  oversight = (await A.tokens.grant('oversight', 'the oversight body')).token
  await waitFor('B and C to hold A\'s records', async () => (await B.store.locate(fromHex(ids.at(-1)!))) !== undefined && (await C.store.locate(fromHex(ids.at(-1)!))) !== undefined)
})

test.after(async () => {
  await cluster?.close()
  rmSync(scratch, { recursive: true, force: true })
})

test('a false positive reported at B reaches A\'s review queue; B keeps a receipt; the call is in B\'s access log', async () => {
  const r = await call(B, provider, 'POST', '/feedback', { record: ids[0], verdict: 'false_positive', reason: 'benign_content' })
  assert.is(r.status, 201, JSON.stringify(r.json))
  assert.is(r.json.status, 'delivered')
  assert.is(r.json.owner, A.origin)
  assert.match(r.json.id, /^[0-9a-f]{32}$/)
  const q = await call(A, op(0), 'GET', '/review')
  assert.is(q.status, 200)
  assert.is(q.json.queue.length, 1)
  assert.equal({ record: q.json.queue[0].record, reports: q.json.queue[0].reports, fp: q.json.queue[0].false_positive, state: q.json.queue[0].state }, { record: ids[0], reports: 1, fp: 1, state: 'open' })
  const detail = await call(A, op(0), 'GET', `/review/${ids[0]}`)
  assert.equal(detail.json.reports.map((x: any) => [x.provider, x.from, x.verdict, x.reason]), [['Example Platform', B.origin, 'false_positive', 'benign_content']])
  const mine = await call(B, provider, 'GET', '/feedback')
  assert.equal(mine.json.reports.map((x: any) => [x.id, x.status]), [[r.json.id, 'delivered']])
  // Reports are between the provider and the centre: C holds nothing of it.
  assert.is((await call(C, op(2), 'GET', '/review?all=1')).json.queue.length, 0)
  await waitFor('the access-log row', async () => (await B.accessLog.query({ name: 'Example Platform' })).rows.some((x) => x.method === 'POST' && x.path === '/feedback' && x.status === 201))
})

test('a repeat is the same report; a changed reason updates it; another provider adds one', async () => {
  const again = await call(B, provider, 'POST', '/feedback', { record: ids[0], verdict: 'false_positive', reason: 'benign_content' })
  assert.is(again.status, 200)
  assert.is(again.json.duplicate, true)
  assert.is(again.json.revision, 1)
  const changed = await call(B, provider, 'POST', '/feedback', { record: ids[0], verdict: 'false_positive', reason: 'hash_collision' })
  assert.is(changed.status, 200)
  assert.is(changed.json.id, again.json.id)
  assert.is(changed.json.revision, 2)
  const other = await call(C, providerC, 'POST', '/feedback', { record: ids[0], verdict: 'false_positive' })
  assert.is(other.status, 201)
  const item = (await call(A, op(0), 'GET', '/review')).json.queue.find((x: any) => x.record === ids[0])
  assert.equal([item.reports, item.providers, item.reasons], [2, 2, { 'false_positive/hash_collision': 1, 'false_positive/unspecified': 1 }])
  assert.is((await call(B, provider, 'GET', '/feedback')).json.reports.length, 1)
})

test('bad input: one-line errors with codes, counted, nothing stored', async () => {
  const before = (await call(B, op(1), 'GET', '/review')).json.stats
  const receiptsBefore = (await call(B, provider, 'GET', '/feedback')).json.reports.length
  const revocationId = (await call(A, op(0), 'POST', '/records', { type: 'attestation', target: ids[5], opinion: 'confirm' })).json.id as string
  await waitFor('B to hold the attestation', async () => (await B.store.locate(fromHex(revocationId))) !== undefined)
  const cases: [string, string | undefined, unknown, number, string, string?][] = [
    ['unknown record', provider, { record: 'ab'.repeat(32), verdict: 'false_positive' }, 422, 'UNKNOWN_TARGET'],
    ['not an indicator', provider, { record: revocationId, verdict: 'false_positive' }, 422, 'UNKNOWN_TARGET'],
    ['bad verdict', provider, { record: ids[1], verdict: 'maybe' }, 400, 'BAD_VERDICT'],
    ['bad reason', provider, { record: ids[1], verdict: 'false_positive', reason: 'looks fine' }, 400, 'BAD_REASON'],
    ['reason of the other verdict', provider, { record: ids[1], verdict: 'false_positive', reason: 'confirmed' }, 400, 'BAD_REASON'],
    ['raw case reference', provider, { record: ids[1], verdict: 'false_positive', ref: 'CASE-2026-17' }, 400, 'BAD_REF'],
    ['content sent along', provider, { record: ids[1], verdict: 'false_positive', content: 'aGVsbG8=' }, 400, 'UNKNOWN_FIELD'],
    ['no record', provider, { verdict: 'false_positive' }, 400, 'MISSING_FIELD'],
    ['bad record id', provider, { record: 'xyz', verdict: 'false_positive' }, 400, 'BAD_FIELD'],
    ['oversized body', provider, undefined, 413, 'TOO_LARGE', JSON.stringify({ record: ids[1], verdict: 'false_positive', pad: 'x'.repeat(4000) })],
    ['not JSON', provider, undefined, 400, 'BAD_REQUEST', '{"record": '],
    ['auditor token', auditor, { record: ids[1], verdict: 'false_positive' }, 403, 'FORBIDDEN'],
    ['no token', undefined, { record: ids[1], verdict: 'false_positive' }, 401, 'UNAUTHORIZED'],
  ]
  for (const [what, token, body, status, code, raw] of cases) {
    const r = await call(B, token, 'POST', '/feedback', body, raw)
    assert.is(r.status, status, `${what}: ${JSON.stringify(r.json)}`)
    assert.is(r.json.error.code, code, what)
    assert.ok(!r.json.error.message.includes('\n') && r.json.error.message.length > 10, `${what}: ${r.json.error.message}`)
  }
  const bad = await call(B, 'cairn_' + 'x'.repeat(32), 'POST', '/feedback', { record: ids[1], verdict: 'false_positive' })
  assert.is(bad.status, 401)
  const after = (await call(B, op(1), 'GET', '/review')).json.stats
  const counted = (code: string) => (after.rejected[code] ?? 0) - (before.rejected[code] ?? 0)
  assert.equal([counted('UNKNOWN_TARGET'), counted('BAD_VERDICT'), counted('BAD_REASON'), counted('BAD_REF'), counted('UNKNOWN_FIELD'), counted('TOO_LARGE'), counted('FORBIDDEN'), counted('UNAUTHORIZED')], [2, 1, 2, 1, 1, 1, 1, 1])
  assert.is((await call(B, provider, 'GET', '/feedback')).json.reports.length, receiptsBefore)
  assert.ok(!(await call(A, op(0), 'GET', '/review')).json.queue.some((x: any) => x.record === ids[1]))
  // A revoked indicator is not reported: the provider's next sync drops it.
  const cli = await runCairn(['feedback', 'zz', '--false-positive', '--node', B.url, '--token', provider])
  assert.is(cli.code, 1)
  assert.match(cli.stderr.trim(), /^error BAD_FIELD: a record id is 64 hex digits[^\n]*$/)
})

test('owner unreachable: the report is pending at B, then delivered when A is back', async () => {
  await cluster.stop(0)
  const r = await call(B, provider, 'POST', '/feedback', { record: ids[2], verdict: 'false_positive', reason: 'adult_content' })
  assert.is(r.status, 201, JSON.stringify(r.json))
  assert.is(r.json.status, 'pending')
  assert.ok(r.json.last_error, 'says why')
  assert.is((await call(B, op(1), 'GET', '/review')).json.stats.pending, 1)
  A = await cluster.start(0)
  await waitFor('the pending report to be delivered', async () => (await call(B, provider, 'GET', `/feedback?record=${ids[2]}`)).json.reports[0]?.status === 'delivered', 30_000, 200)
  assert.ok((await call(A, op(0), 'GET', '/review')).json.queue.some((x: any) => x.record === ids[2]))
  assert.is((await call(B, op(1), 'GET', '/review')).json.stats.pending, 0)
})

test('A revokes: the reports are decided, the provider sees it at B, its next sync drops the record; confirm works too', async () => {
  const copy = join(scratch, 'copy')
  const sync = () => syncLocalCopy({ node: B.url, token: provider, dir: copy, minWitnesses: 0, genesis: join(cluster.planned[1]!.dir, 'genesis.json') })
  await sync()
  const body = bodies[0]!
  assert.ok(loadLocalSet(copy).has(body.alg as string, fromHex(body.value as string)), 'in the copy before')

  const cli = await runCairn(['review', 'decide', ids[0]!, '--revoke', '--node', A.url, '--token', op(0)])
  assert.is(cli.code, 0, cli.stderr)
  assert.match(cli.stdout, new RegExp(`^record ${ids[0]} revoked: revocation [0-9a-f]{64} \\(false_positive\\); recorded against 2 report\\(s\\)`))
  const item = (await call(A, op(0), 'GET', '/review?all=1')).json.queue.find((x: any) => x.record === ids[0])
  assert.is(item.state, 'revoke')
  await waitFor('the outcome at B', async () => (await call(B, provider, 'GET', `/feedback?record=${ids[0]}`)).json.reports[0]?.status === 'revoked', 20_000, 200)
  const status = await runCairn(['feedback', 'status', '--node', B.url, '--token', provider])
  assert.is(status.code, 0, status.stderr)
  assert.match(status.stdout, new RegExp(`record ${ids[0]}  false_positive/hash_collision  revoked: revoked by c1 \\(revocation [0-9a-f]{64}, false_positive\\)`))
  await waitFor('the provider at C to see it too', async () => (await call(C, providerC, 'GET', '/feedback')).json.reports[0]?.status === 'revoked', 20_000, 200)
  await waitFor('B to serve the revocation', async () => !(await B.store.inCurrentSet(fromHex(ids[0]!))))
  await sync()
  assert.not.ok(loadLocalSet(copy).has(body.alg as string, fromHex(body.value as string)), 'dropped by the next sync')

  // A true positive, confirmed: an attestation.
  const tp = await call(B, provider, 'POST', '/feedback', { record: ids[3], verdict: 'true_positive', reason: 'confirmed' })
  assert.is(tp.status, 201)
  const d = await call(A, op(0), 'POST', '/review/decide', { target: tp.json.id, decision: 'confirm' })
  assert.is(d.status, 201, JSON.stringify(d.json))
  assert.is(d.json.outcome.reason, 'reviewed')
  await waitFor('the confirmation at B', async () => (await call(B, provider, 'GET', `/feedback?record=${ids[3]}`)).json.reports[0]?.status === 'confirmed', 20_000, 200)
  const again = await call(A, op(0), 'POST', '/review/decide', { target: ids[0], decision: 'confirm' })
  assert.is(again.status, 409)
  assert.is(again.json.error.code, 'CONFLICT')
  const revoked = await call(B, provider, 'POST', '/feedback', { record: ids[0], verdict: 'true_positive' })
  assert.is(revoked.status, 200, 'a changed report on a revoked record is still the provider\'s own report')
})

test('transparency report: reports, verdicts, decisions, time to decision, withdrawals; provider names for oversight only', async () => {
  const pub = await call(A, undefined, 'GET', '/report')
  assert.is(pub.status, 200)
  const r = pub.json as TransparencyReport
  const v = (figure: string, dimension: string, key = '') => figureValue(r, figure, A.origin, dimension, key)
  assert.is(v('feedback_reports', 'total'), 4)
  assert.is(v('feedback_reports', 'verdict', 'false_positive'), 2 + 0)
  assert.is(v('feedback_reports', 'distinct', 'indicators'), 3)
  assert.is(v('feedback_decisions', 'decision', 'revoke'), 1)
  assert.is(v('feedback_decisions', 'decision', 'confirm'), 1)
  assert.is(v('feedback_time_to_decision_ms', 'statistic', 'count'), 2)
  assert.ok(v('feedback_time_to_decision_ms', 'statistic', 'median') > 0)
  assert.ok(v('feedback_time_to_decision_ms', 'statistic', 'p95') >= v('feedback_time_to_decision_ms', 'statistic', 'median'))
  assert.is(v('indicators_withdrawn_after_reports', 'total'), 1)
  const fb = r.figures.filter((f) => f.source === 'feedback')
  const own = r.checkpoints.find((c) => c.log === A.origin)!
  assert.ok(fb.length > 0 && fb.every((f) => f.basis.length === 1 && f.basis[0] === own.id), 'every figure names A\'s checkpoint')
  assert.not.ok(JSON.stringify(r).includes('Example Platform'), 'no provider on the public report')
  const html = await (await fetch(`${A.url}/report?format=html`)).text()
  assert.match(html, /Provider feedback and withdrawals/)
  const over = (await call(A, oversight, 'GET', '/report')).json as TransparencyReport
  assert.is(figureValue(over, 'feedback_reports', A.origin, 'provider', 'c2: Example Platform'), 3)
  assert.is(figureValue(over, 'feedback_reports', A.origin, 'provider', 'c3: Other Platform'), 1)
})

test('the CLI: cairn feedback with a pseudonymised ref, cairn review list; the dashboard section is the operator\'s', async () => {
  const key = join(scratch, 'ref.key')
  const r = await runCairn(['feedback', ids[4]!, '--false-positive', '--reason', 'hash_collision', '--ref', 'TICKET-99', '--ref-key', key, '--node', B.url, '--token', provider])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`^report [0-9a-f]{32}  record ${ids[4]}  false_positive/hash_collision  ref p1:[0-9a-f]{32}  delivered to ${A.origin}`))
  assert.not.ok(r.stdout.includes('TICKET-99'))
  const list = await runCairn(['review', 'list', '--node', A.url, '--token', op(0)])
  assert.is(list.code, 0, list.stderr)
  assert.match(list.stdout, new RegExp(`^${ids[4]}  \\w+ \\w\\d  1 report\\(s\\): 1 false positive, 0 true positive \\(false_positive/hash_collision 1\\); 1 provider\\(s\\)`, 'm'))
  // The dashboard's review section asks GET /review with the operator token; nobody else gets the queue.
  assert.match(await (await fetch(`${A.url}/`)).text(), /id="review-form"/)
  assert.match(await (await fetch(`${A.url}/dashboard/app.js`)).text(), /fetch\(`\/review/)
  assert.is((await call(A, undefined, 'GET', '/review')).status, 401)
  assert.is((await call(A, oversight, 'GET', '/review')).status, 403)
  const wrong = await runCairn(['review', 'list', '--node', B.url, '--token', provider])
  assert.is(wrong.code, 1)
  assert.match(wrong.stderr, /^error FORBIDDEN: /)
})

test.run()
