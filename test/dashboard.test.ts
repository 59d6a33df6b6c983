/**
 * The dashboard (GET /, its assets, GET /dashboard.json) against a real
 * 3-node federation: the page and Chart.js come from the node itself, the
 * JSON agrees with /stats and with what was published, nothing identifies an
 * indicator, aggregates grow incrementally, a frozen log raises a red alert,
 * and headless Chromium (Debian's /usr/bin/chromium, when installed) renders
 * the page with live data and non-empty charts.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { fromHex, fromUtf8, sha256, utf8 } from '../protocol/bytes.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { sampleIndicator } from '../testnet/samples.ts'
import { countRecord, type LogAggregate } from '../node/dashboard/aggregate.ts'
import type { DashboardData } from '../node/dashboard/view.ts'
import type { NodeStats } from '../node/metrics.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'
import { refPseudonym } from '../protocol/case-ref.ts'

const REF_SECRET = sha256(utf8('dashboard test case-ref secret'))

const CHROMIUM = process.env.CAIRN_CHROMIUM ?? '/usr/bin/chromium'
const HAVE_CHROMIUM = existsSync(CHROMIUM)

let cluster: Cluster
let nodes: CairnNode[]
const secrets: string[] = [] // indicator values and record ids (hex): must never appear
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const member = (n: CairnNode) => n.origin.split('/')[1]!

async function indicators(node: CairnNode, label: string, n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => {
    const s = sampleIndicator(label, i)
    // Records hold only pseudonymised case references (the HTTP route makes them; here the publisher is called directly).
    const ref = refPseudonym(REF_SECRET, `case-${label}-${i}`)
    const p = await node.publisher.submit({ ...s, value: fromHex(s.value as string), ref } as RecordBody)
    secrets.push(s.value as string, p.id, ref)
    return p.id
  }))
}
const submit = (node: CairnNode, body: Record<string, unknown>) => node.publisher.submit({ ...body, target: fromHex(body.target as string) } as RecordBody)

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  const [a, b, c] = nodes as [CairnNode, CairnNode, CairnNode]
  const ids: string[] = []
  for (let round = 0; round < 3; round++) {
    ids.push(...await indicators(a, `dash-a${round}`, 20))
    await indicators(b, `dash-b${round}`, 15)
    await indicators(c, `dash-c${round}`, 10)
    await sleep(1100) // growth over more than one second
  }
  await submit(a, { type: 'revocation', target: ids[0], reason: 'false_positive' })
  await submit(a, { type: 'revocation', target: ids[1], reason: 'duplicate' })
  await waitFor('a\'s log to reach b', () => b.store.size(a.origin) === a.store.size(a.origin), 60_000)
  await submit(b, { type: 'attestation', target: ids[5], opinion: 'dispute', reason: 'wrong_category' })
  await submit(b, { type: 'attestation', target: ids[6], opinion: 'dispute', reason: 'wrong_category' })
  await submit(c, { type: 'attestation', target: ids[7], opinion: 'confirm' })
  await waitFor('the federation to converge', () => converged(nodes), 60_000)
})

test.after(async () => {
  await cluster?.close()
})

async function get(node: CairnNode, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(node.url + path, { headers })
}

async function dashboard(node: CairnNode): Promise<DashboardData> {
  const r = await get(node, '/dashboard.json')
  assert.is(r.status, 200)
  assert.is(r.headers.get('cache-control'), 'no-store')
  return (await r.json()) as DashboardData
}

test('the page and its assets come from the node itself, under a strict CSP', async () => {
  const node = nodes[0]!
  const res = await get(node, '/')
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type')!, /^text\/html/)
  const csp = res.headers.get('content-security-policy')!
  assert.match(csp, /default-src 'none'/)
  assert.match(csp, /script-src 'self'/)
  assert.match(csp, /connect-src 'self'/)
  const html = await res.text()
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
  assert.ok(refs.includes('/dashboard/chart.umd.js') && refs.includes('/dashboard/app.js') && refs.includes('/dashboard/app.css'))
  for (const ref of refs) assert.ok(ref.startsWith('/') || ref.startsWith('#'), `${ref} is on the node`)
  for (const [path, type] of [['/dashboard/chart.umd.js', /^text\/javascript/], ['/dashboard/app.js', /^text\/javascript/], ['/dashboard/app.css', /^text\/css/]] as const) {
    const r = await get(node, path)
    assert.is(r.status, 200, path)
    assert.match(r.headers.get('content-type')!, type)
    const body = await r.text()
    assert.not.match(body, /sourceMappingURL/, `${path}: no source map to fetch`)
    const again = await get(node, path, { 'if-none-match': r.headers.get('etag')! })
    assert.is(again.status, 304, `${path} revalidates`)
    if (path.endsWith('chart.umd.js')) assert.match(body, /Chart\.js v4\./)
    if (path.endsWith('app.js')) assert.not.match(body, /https?:\/\//, 'the script talks only to its node')
  }
  assert.is((await get(node, '/dashboard/nothing.js')).status, 404)
})

test('dashboard.json: totals agree with /stats and with what was published; witness health and peers', async () => {
  const [a, b, c] = nodes as [CairnNode, CairnNode, CairnNode]
  const d = await dashboard(b)
  const stats = (await (await get(b, '/stats')).json()) as NodeStats
  assert.equal(d.stats.totals, stats.totals)
  assert.equal(d.stats.logs.map((l) => l.counts), stats.logs.map((l) => l.counts))
  assert.is(d.federation, b.federation)
  assert.is(d.origin, b.origin)
  assert.equal(d.totals, {
    current_set_size: 135 - 2, indicators: 135, revocations: 2, redacted: 0, disputes: 2, confirmations: 1,
    logs: 3, logs_fully_cosigned: 3, peers_connected: 2, peers_expected: 2,
  })
  assert.is(d.status.level, 'ok', d.status.headline)
  assert.match(d.status.headline, /^Healthy/)
  assert.equal(d.alerts, [])
  assert.ok(d.indexing.complete)
  for (const w of d.witness) {
    const owner = nodes.find((n) => n.origin === w.origin)!
    assert.is(w.size, owner.store.size(owner.origin))
    assert.is(w.checkpoint_size, w.size)
    assert.equal(w.cosigned_by, nodes.filter((n) => n !== owner).map(member).sort())
    assert.equal(w.missing, [])
    assert.is(w.frozen, false)
    assert.is(w.level, 'ok')
    assert.ok(w.checkpoint_age_s !== null && w.checkpoint_age_s >= 0)
  }
  assert.equal(d.peers.map((p) => [p.name, p.self, p.connected, p.active]), [[member(a), false, true, true], [member(b), true, true, true], [member(c), false, true, true]])
  for (const s of d.series) {
    const log = d.stats.logs.find((l) => l.origin === s.origin)!
    assert.is(s.growth[s.growth.length - 1]![1], log.size, `${s.name}: growth ends at the log size`)
    assert.ok(s.growth.length >= 2, `${s.name}: several points`)
    for (let i = 1; i < s.growth.length; i++) {
      assert.ok(s.growth[i]![1] > s.growth[i - 1]![1], 'entries grow')
      assert.ok(s.growth[i]![0] >= s.growth[i - 1]![0], 'time goes forward')
    }
    const kinds = Object.values(s.by_kind).reduce((x, y) => x + y, 0)
    assert.is(kinds, log.counts.by_type.indicator ?? 0, `${s.name}: every indicator has a kind`)
    assert.is(Object.values(s.by_media).reduce((x, y) => x + y, 0), kinds)
  }
  assert.equal(d.series.find((s) => s.origin === b.origin)!.disputes, { [member(a)]: { wrong_category: 2 } })
  assert.equal(d.series.find((s) => s.origin === c.origin)!.disputes, {})
})

test('aggregates only: no indicator value, record id or case reference leaves the node', async () => {
  const texts = [JSON.stringify(await dashboard(nodes[0]!)), await (await get(nodes[0]!, '/')).text(), await (await get(nodes[0]!, '/dashboard/app.js')).text()]
  assert.ok(secrets.length > 100)
  for (const t of texts) for (const s of secrets) assert.not.ok(t.toLowerCase().includes(s.toLowerCase()), `leaked ${s}`)
  // Growth times are whole seconds, as public checkpoints' cosignature timestamps are.
  for (const s of (await dashboard(nodes[0]!)).series) for (const [t] of s.growth) assert.ok(Number.isInteger(t) && t < 1e11)
})

test('growth is sampled: a bounded number of points for any log size', () => {
  const a: LogAggregate = { v: 1, indexed: 0, byKind: {}, byMedia: {}, disputes: {}, growth: { step: 1, points: [] }, lastTime: null, redacted: 0 }
  const N = 100_000
  for (let i = 0; i < N; i++) {
    countRecord(a, i, { type: 'indicator', v: 1, log: 'x/y', seq: i, time: 1_700_000_000_000 + i * 1000, alg: 'md5', value: new Uint8Array(16), category: 'A1', kind: 'url', media: 'url' } as CairnRecord)
  }
  assert.ok(a.growth.points.length <= 513 && a.growth.points.length > 256, `${a.growth.points.length} points`)
  assert.is(a.growth.step & (a.growth.step - 1), 0, 'the step is a power of two')
  assert.equal(a.growth.points[0], [1_700_000_000_000, 1])
  for (const [t, n] of a.growth.points) assert.is(t, 1_700_000_000_000 + (n - 1) * 1000)
  assert.equal(a.byKind, { url: N })
})

test('incremental: new entries are counted on the next poll, and the aggregate is kept in the store', async () => {
  const [a, b] = nodes as [CairnNode, CairnNode]
  const before = await dashboard(b)
  await indicators(a, 'dash-late', 7)
  await waitFor('the new entries to converge', () => converged(nodes), 60_000)
  const after = await dashboard(b)
  const growth = after.series.find((s) => s.origin === a.origin)!.growth
  assert.is(growth[growth.length - 1]![1], before.witness.find((w) => w.origin === a.origin)!.size + 7)
  assert.is(after.totals.indicators, before.totals.indicators + 7)
  const saved = JSON.parse(fromUtf8((await b.store.getMeta(`oversight/aggregate/${a.origin}`))!)) as LogAggregate
  assert.is(saved.indexed, b.store.size(a.origin))
})

test('redaction on legal order: the entry becomes a marker, and the aggregates are counted again without it', async () => {
  const [a, b] = nodes as [CairnNode, CairnNode]
  const before = await dashboard(b)
  const byKind = (d: DashboardData) => Object.values(d.series.find((s) => s.origin === a.origin)!.by_kind).reduce((x, y) => x + y, 0)
  assert.is(byKind(before), before.stats.logs.find((l) => l.origin === a.origin)!.counts.by_type.indicator)
  const { index } = await a.redactions.redact({ index: 30, reason: 'legal_order' })
  await waitFor('the redaction to reach b', async () => (await b.store.counters(a.origin)).byType.redacted === 1 && converged(nodes), 60_000)
  let after = await dashboard(b)
  await waitFor('the aggregate to be counted again', async () => (after = await dashboard(b)).indexing.complete, 30_000)
  assert.is(index, 30)
  assert.is(after.totals.redacted, 1)
  assert.is(after.totals.indicators, before.totals.indicators - 1)
  assert.is(after.totals.revocations, before.totals.revocations + 1, 'a revocation (legal order) came first')
  assert.is(byKind(after), after.stats.logs.find((l) => l.origin === a.origin)!.counts.by_type.indicator)
})

// ---------------------------------------------------------------------------
// Headless Chromium

function chromium(args: string[]): Promise<{ stdout: string; ok: boolean; stderr: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'cairn-chromium-'))
  const flags = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--window-size=1400,2100',
  ]
  // Asynchronously: the nodes serving the page run in this process.
  return new Promise((resolve) => {
    execFile(CHROMIUM, [...flags, ...args], { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true })
      resolve({ stdout, stderr, ok: !err })
    })
  })
}

interface SelfTest {
  charts: Record<string, { type: string; datasets: number; points: number; pixels: number; table_rows: number }>
  kpis: number
  status: string
  tables: { witness: number; peers: number }
}

async function renderSelfTest(node: CairnNode): Promise<{ selftest: SelfTest; dom: string }> {
  const r = await chromium(['--virtual-time-budget=15000', '--dump-dom', `${node.url}/?selftest`])
  assert.ok(r.ok, `chromium failed: ${r.stderr.slice(-500)}`)
  const m = /data-selftest="([^"]*)"/.exec(r.stdout)
  assert.ok(m, 'the page drew its data (data-selftest set)')
  const json = m![1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
  return { selftest: JSON.parse(json) as SelfTest, dom: r.stdout }
}

test('headless Chromium renders the dashboard with live data and non-empty charts', async () => {
  if (!HAVE_CHROMIUM) {
    console.log(`\n  SKIPPED the browser part: ${CHROMIUM} is not installed (apt-get install -y chromium); the page, its assets and its data were checked above.\n`)
    return
  }
  const { selftest, dom } = await renderSelfTest(nodes[0]!)
  assert.equal(Object.keys(selftest.charts).sort(), ['alg', 'category', 'disputes', 'growth', 'kind', 'media', 'reasons'])
  for (const [id, c] of Object.entries(selftest.charts)) {
    assert.is(c.datasets, 3, `${id}: one dataset per centre`)
    assert.ok(c.points > 0, `${id}: has data`)
    assert.ok(c.pixels > 200, `${id}: the canvas shows coloured marks (${c.pixels} pixels)`)
    assert.ok(c.table_rows > 0, `${id}: a table behind the chart`)
  }
  assert.is(selftest.kpis, 6)
  assert.match(selftest.status, /^Healthy/)
  assert.equal(selftest.tables, { witness: 3, peers: 3 })
  assert.match(dom, /Indicators in force/)
  assert.match(dom, /aria-describedby="sum-growth"/)

  const dir = mkdtempSync(join(tmpdir(), 'cairn-shot-'))
  try {
    const png = join(dir, 'dashboard.png')
    const r = await chromium(['--virtual-time-budget=15000', '--hide-scrollbars', `--screenshot=${png}`, `${nodes[0]!.url}/`])
    assert.ok(r.ok && existsSync(png), 'a screenshot was taken')
    const bytes = readFileSync(png)
    assert.equal([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    assert.is(bytes.readUInt32BE(16), 1400, 'width')
    assert.ok(statSync(png).size > 30_000, 'not a blank page')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('equivocation: a frozen log turns the dashboard red', async () => {
  const [a, , c] = nodes as [CairnNode, CairnNode, CairnNode]
  await c.store.freeze(a.origin, 'test: stands in for an equivocation proof')
  const d = await dashboard(c)
  assert.is(d.status.level, 'alert')
  assert.match(d.status.headline, /^ALERT: 1 equivocation/)
  assert.is(d.alerts[0]!.level, 'alert')
  assert.match(d.alerts[0]!.text, new RegExp(`Equivocation: the log of ${member(a)}`))
  const w = d.witness.find((x) => x.origin === a.origin)!
  assert.ok(w.frozen)
  assert.is(w.level, 'alert')
  assert.is(d.totals.logs_fully_cosigned, 2)
  assert.not.ok(JSON.stringify(d).includes('stands in for'), 'the proof itself is not shown')
  assert.is((await dashboard(a)).status.level, 'ok', 'other nodes are unaffected')
  if (!HAVE_CHROMIUM) return
  const { selftest, dom } = await renderSelfTest(c)
  assert.match(selftest.status, /^ALERT/)
  assert.match(dom, /class="alert alert-alert" role="alert">Equivocation/)
  assert.match(dom, /FROZEN: equivocation/)
})

test.run()
