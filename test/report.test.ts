/**
 * The transparency report (GET /report, `cairn report`) against a real 3-node
 * federation: every ledger figure equals a count made here independently from
 * the logs (entries read from the store, decoded with protocol/entry and
 * protocol/records, record ids recomputed as leaf hashes), restricted to the
 * entries of the cited checkpoints, whose signatures, cosignatures and roots
 * are checked too. Also: access counts (names for oversight only), CSV, HTML,
 * the CLI, period parsing and errors.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { fromHex, toHex } from '../protocol/bytes.ts'
import { decodeEntry } from '../protocol/entry.ts'
import { decodeRecord, type CairnRecord } from '../protocol/records.ts'
import { leafHash } from '../protocol/hash.ts'
import { MerkleTree } from '../protocol/merkle.ts'
import { isRedactionMarker, markerNotice, readNoticeUnverified } from '../protocol/redaction.ts'
import { openCheckpoint } from '../protocol/checkpoint.ts'
import { sampleIndicator } from '../testnet/samples.ts'
import { parseReportTime, percentile, reportPeriod, type TransparencyReport } from '../node/report.ts'
import { formatReportText } from '../cli/commands-report.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'

let cluster: Cluster
let nodes: CairnNode[]
let from = 0
let to = 0
let redactedIndex = -1
const tokens: Record<string, string> = {}
const root = new URL('..', import.meta.url).pathname

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const indicators = (node: CairnNode, label: string, n: number) =>
  Promise.all(Array.from({ length: n }, (_, i) => {
    const s = sampleIndicator(label, i)
    return node.publisher.submit({ ...s, value: fromHex(s.value as string) } as RecordBody).then((p) => p.id)
  }))
const submit = (node: CairnNode, body: Record<string, unknown>) =>
  node.publisher.submit({ ...body, target: fromHex(body.target as string) } as RecordBody)

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  const [a, b, c] = nodes as [CairnNode, CairnNode, CairnNode]
  tokens.p1 = (await a.tokens.grant('provider', 'platform-one')).token
  tokens.p2 = (await a.tokens.grant('provider', 'platform-two')).token
  tokens.oversight = (await a.tokens.grant('oversight', 'supervisor')).token
  tokens.auditor = (await a.tokens.grant('auditor', 'auditor')).token

  // Before the period.
  const a1 = await indicators(a, 'report-a1', 40)
  await indicators(b, 'report-b1', 30)
  const c1 = await indicators(c, 'report-c1', 20)
  await sleep(30)
  from = Date.now()
  await sleep(30)
  // In the period.
  const a2 = await indicators(a, 'report-a2', 25)
  const b2 = await indicators(b, 'report-b2', 15)
  await Promise.all([
    submit(a, { type: 'revocation', target: a1[0], reason: 'false_positive' }),
    submit(a, { type: 'revocation', target: a1[1], reason: 'duplicate' }),
    submit(a, { type: 'revocation', target: a1[2], reason: 'legal_order' }),
    submit(a, { type: 'revocation', target: a2[0], reason: 'expired' }),
    submit(a, { type: 'revocation', target: a2[1], reason: 'reclassified' }),
  ])
  // Redaction on legal order: a revocation (legal_order) first, then the entry becomes a marker.
  redactedIndex = (await a.redactions.redact({ id: fromHex(a2[3]!), reason: 'legal_order' })).index
  await waitFor('a\'s indicators to reach c', () => c.store.size(a.origin) === a.store.size(a.origin) && b.store.size(c.origin) === c.store.size(c.origin), 60_000)
  await Promise.all([
    submit(c, { type: 'attestation', target: a1[5], opinion: 'dispute', reason: 'wrong_category' }),
    submit(c, { type: 'attestation', target: a1[6], opinion: 'dispute', reason: 'wrong_category' }),
    submit(b, { type: 'attestation', target: c1[3], opinion: 'dispute' }),
    submit(c, { type: 'attestation', target: b2[0], opinion: 'confirm' }),
    submit(c, { type: 'attestation', target: b2[1], opinion: 'confirm' }),
  ])
  for (const [t, n] of [[tokens.p1, 3], [tokens.p2, 2]] as const) {
    for (let i = 0; i < n; i++) await (await fetch(`${a.url}/feed?limit=5`, { headers: { authorization: `Bearer ${t}` } })).arrayBuffer()
  }
  await (await fetch(`${a.url}/feed?cursor=not-a-cursor`, { headers: { authorization: `Bearer ${tokens.p2}` } })).arrayBuffer()
  await sleep(30)
  to = Date.now()
  await sleep(30)
  // After the period.
  await indicators(a, 'report-a3', 10)
  await submit(a, { type: 'revocation', target: a2[2], reason: 'duplicate' })
  await waitFor('the federation to converge', () => converged(nodes), 60_000)
  await waitFor('the redaction to reach every node', async () => {
    for (const n of nodes) if (!isRedactionMarker(await n.store.entry(a.origin, redactedIndex))) return false
    return true
  }, 60_000)
})

test.after(async () => {
  await cluster?.close()
})

async function report(node: CairnNode, query: string, token?: string): Promise<TransparencyReport> {
  const r = await fetch(`${node.url}/report?${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  assert.is(r.status, 200, `/report?${query}: ${r.status}`)
  return (await r.json()) as TransparencyReport
}

const key = (figure: string, log: string, dimension: string, k = '') => `${figure}|${log}|${dimension}|${k}`

/** The ledger figures, counted here from the entries [0, size) of each log, sizes from the report's checkpoints. */
async function independentFigures(node: CairnNode, sizes: Record<string, number>, start: number, end: number): Promise<Map<string, number>> {
  const byId = new Map<string, { log: string; record?: CairnRecord }>()
  const logs = Object.keys(sizes).sort()
  const ordered: { log: string; record: CairnRecord }[] = []
  const out = new Map<string, number>()
  const inc = (k: string, by = 1) => out.set(k, (out.get(k) ?? 0) + by)
  for (const log of logs) {
    for (const entry of await node.store.entries(log, 0, sizes[log]!)) {
      if (isRedactionMarker(entry)) {
        // Only the notice is left: its id is the leaf hash the tree keeps.
        const notice = readNoticeUnverified(markerNotice(entry))
        byId.set(toHex(notice.id), { log })
        if (notice.time >= start && notice.time < end) {
          for (const l of [log, 'all']) {
            inc(key('indicators_redacted', l, 'total'))
            inc(key('indicators_redacted', l, 'reason', notice.reason))
          }
        }
        continue
      }
      const record = decodeRecord(decodeEntry(entry).recordBytes)
      byId.set(toHex(leafHash(entry)), { log, record })
      ordered.push({ log, record })
    }
  }
  const ttr = new Map<string, number[]>()
  const disputed = new Map<string, Set<string>>()
  const revokedBefore = (t: number) => {
    const s = new Map<string, Set<string>>()
    for (const { log, record: r } of ordered) {
      if (r.type !== 'revocation' || r.time >= t) continue
      const target = byId.get(toHex(r.target))!
      if (!target.record || target.record.time >= t) continue
      if (!s.has(log)) s.set(log, new Set())
      s.get(log)!.add(toHex(r.target))
    }
    return s
  }
  for (const { log, record: r } of ordered) {
    for (const l of [log, 'all']) {
      if (r.type === 'indicator') {
        if (r.time < start) inc(key('indicators_held', l, 'at', 'start'))
        if (r.time < end) inc(key('indicators_held', l, 'at', 'end'))
      }
      if (r.time < start || r.time >= end) continue
      inc(key('records', l, 'type', r.type))
      if (r.type === 'indicator') {
        inc(key('indicators_added', l, 'total'))
        inc(key('indicators_added', l, 'category', r.category))
        inc(key('indicators_added', l, 'alg', r.alg))
        inc(key('indicators_added', l, 'kind', r.kind))
        inc(key('indicators_added', l, 'media', r.media))
      } else if (r.type === 'revocation') {
        inc(key('indicators_removed', l, 'total'))
        inc(key('indicators_removed', l, 'reason', r.reason))
        const target = byId.get(toHex(r.target))!
        if (target.record) ttr.set(l, [...(ttr.get(l) ?? []), r.time - target.record.time])
      } else if (r.type === 'attestation' && r.opinion === 'confirm') {
        inc(key('confirmations', l, 'total'))
      } else if (r.type === 'attestation') {
        const owner = byId.get(toHex(r.target))!.log
        inc(key('disputes', l, 'total'))
        inc(key('disputes', l, 'reason', r.reason ?? 'unspecified'))
        inc(key('disputes', l, 'against', owner))
        for (const ol of [owner, 'all']) {
          if (l !== 'all' && ol === 'all') continue
          if (l === 'all' && ol !== 'all') continue
          if (!disputed.has(ol)) disputed.set(ol, new Set())
          disputed.get(ol)!.add(toHex(r.target))
        }
      }
    }
  }
  for (const [at, t] of [['start', start], ['end', end]] as const) {
    const revoked = revokedBefore(t)
    for (const [log, s] of revoked) {
      inc(key('indicators_held', log, 'at', at), -s.size)
      inc(key('indicators_held', 'all', 'at', at), -s.size)
    }
  }
  for (const [l, s] of disputed) inc(key('indicators_disputed', l, 'total'), s.size)
  for (const [l, values] of ttr) {
    const s = values.sort((x, y) => x - y)
    const rank = (p: number) => s[Math.ceil((p / 100) * s.length) - 1]!
    out.set(key('time_to_revocation_ms', l, 'statistic', 'count'), s.length)
    out.set(key('time_to_revocation_ms', l, 'statistic', 'median'), rank(50))
    out.set(key('time_to_revocation_ms', l, 'statistic', 'p90'), rank(90))
    out.set(key('time_to_revocation_ms', l, 'statistic', 'max'), s[s.length - 1]!)
  }
  return out
}

function compareLedgerFigures(r: TransparencyReport, expected: Map<string, number>, what: string) {
  const got = new Map(r.figures.filter((f) => f.source === 'logs').map((f) => [key(f.figure, f.log, f.dimension, f.key), f.value]))
  for (const [k, v] of got) assert.is(v, expected.get(k) ?? 0, `${what}: ${k}`)
  for (const [k, v] of expected) if (v !== 0) assert.is(got.get(k), v, `${what}: ${k} missing or different`)
}

test('report figures equal counts made independently from the logs of the cited checkpoints', async () => {
  const r = await report(nodes[0]!, `from=${from}&to=${to}`)
  assert.is(r.period.from, from)
  assert.is(r.period.to, to)
  const sizes = Object.fromEntries(r.checkpoints.map((c) => [c.log, c.size]))
  assert.equal(Object.keys(sizes).sort(), nodes.map((n) => n.origin).sort())
  compareLedgerFigures(r, await independentFigures(nodes[0]!, sizes, from, to), 'node 1')
  // The same figures, known in advance from what the test wrote.
  const v = (figure: string, log: string, dimension: string, k = '') => r.figures.find((f) => f.figure === figure && f.log === log && f.dimension === dimension && f.key === k)?.value
  const [a, b, c] = nodes.map((n) => n.origin) as [string, string, string]
  assert.is(v('indicators_added', a, 'total'), 25 - 1, 'the redacted indicator is no longer known')
  assert.is(v('indicators_added', b, 'total'), 15)
  assert.is(v('indicators_added', c, 'total'), 0)
  assert.is(v('indicators_added', 'all', 'total'), 39)
  assert.is(v('indicators_removed', a, 'total'), 6)
  assert.is(v('indicators_removed', a, 'reason', 'expired'), 1)
  assert.is(v('indicators_removed', a, 'reason', 'legal_order'), 2, 'one published, one before the redaction')
  assert.is(v('indicators_redacted', a, 'total'), 1)
  assert.is(v('indicators_redacted', 'all', 'reason', 'legal_order'), 1)
  assert.is(v('time_to_revocation_ms', 'all', 'statistic', 'count'), 5, 'not for the redacted indicator')
  assert.ok(v('time_to_revocation_ms', 'all', 'statistic', 'max')! >= v('time_to_revocation_ms', 'all', 'statistic', 'median')!)
  assert.is(v('disputes', c, 'total'), 2)
  assert.is(v('disputes', b, 'reason', 'unspecified'), 1)
  assert.is(v('disputes', 'all', 'against', a), 2)
  assert.is(v('indicators_disputed', a, 'total'), 2)
  assert.is(v('indicators_disputed', c, 'total'), 1)
  assert.is(v('confirmations', c, 'total'), 2)
  assert.is(v('indicators_held', 'all', 'at', 'start'), 90)
  assert.is(v('indicators_held', 'all', 'at', 'end'), 90 + 39 - 5)
  assert.is(v('indicators_held', a, 'at', 'end'), 40 + 24 - 5)
})

test('every other node computes the same ledger figures', async () => {
  const r1 = await report(nodes[0]!, `from=${from}&to=${to}`)
  for (const n of nodes.slice(1)) {
    const r = await report(n, `from=${from}&to=${to}`)
    const sizes = Object.fromEntries(r.checkpoints.map((c) => [c.log, c.size]))
    compareLedgerFigures(r, await independentFigures(n, sizes, from, to), n.origin)
    const ledger = (x: TransparencyReport) => x.figures.filter((f) => f.source === 'logs').map(({ basis: _b, ...f }) => f)
    assert.equal(ledger(r), ledger(r1))
  }
})

test('each cited checkpoint is signed by its log, cosigned by the two other members, and its root commits to the entries counted', async () => {
  const node = nodes[1]!
  const r = await report(node, `from=${from}&to=${to}`)
  for (const cp of r.checkpoints) {
    const member = node.roster.member(cp.log)!
    const witnesses = node.roster.witnesses().filter((w) => w.origin !== cp.log).map((w) => w.witnessVkey)
    const opened = openCheckpoint(cp.note, member.vkey, { witnesses, quorum: 2 })
    assert.is(opened.checkpoint.size, cp.size)
    assert.is(opened.cosignatures.length, 2)
    assert.is(cp.cosigned_by.length, 2)
    // A redacted entry is a marker; the tree keeps its leaf hash, which its notice names.
    const leaves = (await node.store.entries(cp.log, 0, cp.size)).map((e) => (isRedactionMarker(e) ? readNoticeUnverified(markerNotice(e)).id : leafHash(e)))
    assert.is(toHex(MerkleTree.from(leaves).root()), toHex(opened.checkpoint.root))
    // It covers every entry timed before the end of the period.
    const times = (await node.store.entries(cp.log, 0, node.store.size(cp.log)))
      .map((e) => (isRedactionMarker(e) ? readNoticeUnverified(markerNotice(e)).time : decodeRecord(decodeEntry(e).recordBytes).time))
    assert.ok(times.every((time, i) => time >= to || i < cp.size), `${cp.id} covers the period`)
  }
  const ids = new Set(r.checkpoints.map((c) => c.id))
  for (const f of r.figures) {
    if (f.source === 'access-log') {
      assert.equal(f.basis, [])
      continue
    }
    assert.ok(f.basis.length > 0 && f.basis.every((id) => ids.has(id)), `${f.figure} ${f.log} has a basis`)
    if (f.log !== 'all' && f.dimension !== 'against' && f.figure !== 'indicators_disputed') {
      assert.equal(f.basis, [r.checkpoints.find((c) => c.log === f.log)!.id])
    }
  }
})

test('provider access: totals for everyone, counts per provider name for oversight only', async () => {
  const a = nodes[0]!
  const pub = await report(a, `from=${from}&to=${to}`)
  const v = (r: TransparencyReport, dimension: string, k = '') => r.figures.find((f) => f.figure === 'provider_requests' && f.dimension === dimension && f.key === k)?.value
  assert.is(v(pub, 'total'), 6)
  assert.is(v(pub, 'outcome', 'successful'), 5)
  assert.is(v(pub, 'distinct', 'providers'), 2)
  assert.is(pub.figures.filter((f) => f.dimension === 'provider').length, 0)
  assert.is(pub.access_log.provider_names, false)
  assert.ok(pub.access_log.chain_intact)
  const aud = await report(a, `from=${from}&to=${to}`, tokens.auditor)
  assert.is(aud.figures.filter((f) => f.dimension === 'provider').length, 0)
  const ov = await report(a, `from=${from}&to=${to}`, tokens.oversight)
  assert.is(v(ov, 'provider', 'platform-one'), 3)
  assert.is(v(ov, 'provider', 'platform-two'), 3)
  assert.is(ov.access_log.provider_names, true)
  // Independently, from the access log itself.
  const rows = (await a.accessLog.query({ from, to, role: 'provider', limit: 1000 })).rows
  assert.is(rows.length, 6)
  // Another node saw no provider.
  const other = await report(nodes[1]!, `from=${from}&to=${to}`)
  assert.is(v(other, 'total'), 0)
})

function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++ } else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') { row.push(cell); cell = '' } else if (ch === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++ } else cell += ch
  }
  return rows
}

test('CSV: one table with every figure and its basis, the period, and the checkpoint notes', async () => {
  const node = nodes[0]!
  const json = await report(node, `from=${from}&to=${to}`)
  const res = await fetch(`${node.url}/report?from=${from}&to=${to}&format=csv`)
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type')!, /^text\/csv/)
  assert.match(res.headers.get('content-disposition')!, /attachment; filename="cairn-report-/)
  const rows = parseCsv(await res.text())
  assert.equal(rows[0], ['figure', 'log', 'dimension', 'key', 'value', 'basis', 'source'])
  assert.ok(rows.every((r) => r.length === 7))
  const ledger = rows.filter((r) => r[6] === 'logs' && r[0] !== 'checkpoint')
  const want = json.figures.filter((f) => f.source === 'logs')
  assert.is(ledger.length, want.length)
  for (const [i, f] of want.entries()) assert.equal(ledger[i], [f.figure, f.log, f.dimension, f.key, String(f.value), f.basis.join(' '), 'logs'])
  assert.equal(rows.find((r) => r[0] === 'period' && r[3] === 'from')!.slice(4, 6), [String(from), new Date(from).toISOString()])
  const cps = rows.filter((r) => r[0] === 'checkpoint')
  assert.is(cps.length, 3)
  for (const c of json.checkpoints) assert.equal(cps.find((r) => r[3] === c.id)!.slice(4, 6), [String(c.size), c.note])
})

test('HTML: a printable page with every section, the figures and the signed checkpoints', async () => {
  const node = nodes[0]!
  const json = await report(node, `from=${from}&to=${to}`)
  const res = await fetch(`${node.url}/report?from=${from}&to=${to}&format=html`)
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type')!, /^text\/html/)
  assert.match(res.headers.get('content-security-policy')!, /default-src 'none'/)
  const html = await res.text()
  assert.match(html, /@media print/)
  assert.match(html, /@page/)
  assert.not.match(html, /<script/i)
  for (const h of ['Indicators added', 'Indicators removed and why', 'redacted on legal order', 'Time from addition to revocation', 'Disputes', 'Indicators in the database', 'Access to the database', 'Basis: cosigned checkpoints', 'Method']) assert.ok(html.includes(h), h)
  assert.match(html, /added <strong>39<\/strong> indicators, removed <strong>6<\/strong>/)
  for (const c of json.checkpoints) {
    assert.ok(html.includes(c.id))
    assert.ok(html.includes(c.note.split('\n').slice(0, 3).join('\n')), `note of ${c.id}`)
  }
  assert.match(html, /shown to oversight only/)
})

test('period: ISO dates or ms, UTC; default the calendar year to now; empty or malformed periods are refused', async () => {
  assert.is(parseReportTime('2025-03-01', 'from'), Date.UTC(2025, 2, 1))
  assert.is(parseReportTime('2025-03-01T10:30', 'from'), Date.UTC(2025, 2, 1, 10, 30))
  assert.is(parseReportTime('2025-03-01T10:30:00+01:00', 'from'), Date.UTC(2025, 2, 1, 9, 30))
  assert.is(parseReportTime('1700000000000', 'from'), 1_700_000_000_000)
  assert.is(parseReportTime(undefined, 'from'), undefined)
  const now = Date.UTC(2025, 6, 15, 12)
  assert.equal(reportPeriod(now), { from: Date.UTC(2025, 0, 1), to: now })
  assert.is(percentile([1, 2, 3, 4], 50), 2)
  assert.is(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9)
  assert.is(percentile([7], 90), 7)
  const node = nodes[0]!
  const dflt = await report(node, '')
  assert.is(dflt.period.from, Date.UTC(new Date(dflt.period.to).getUTCFullYear(), 0, 1))
  for (const [q, status] of [['from=tomorrow', 400], [`from=${to}&to=${from}`, 400], ['format=pdf', 400], ['from=2025-13-45', 400]] as const) {
    const r = await fetch(`${node.url}/report?${q}`)
    assert.is(r.status, status, q)
    assert.is(((await r.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST', q)
  }
  // A period before anything was written: all zeros, still with its basis.
  const empty = await report(node, 'from=2000-01-01&to=2000-02-01')
  assert.ok(empty.figures.filter((f) => f.source === 'logs' && f.figure !== 'indicators_held').every((f) => f.value === 0))
  assert.is(empty.checkpoints.length, 3)
})

test('cairn report: CSV to a file, and a text summary', async () => {
  const node = nodes[0]!
  const dir = mkdtempSync(join(tmpdir(), 'cairn-report-'))
  try {
    const out = join(dir, 'report.csv')
    // Asynchronously: the node answering the CLI runs in this process.
    const run = (...args: string[]) => new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'report', '--node', node.url, '--from', String(from), '--to', String(to), ...args], { cwd: root, encoding: 'utf8' },
        (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }))
    })
    const csv = await run('--format', 'csv', '--out', out)
    assert.is(csv.status, 0, csv.stderr)
    const rows = parseCsv(readFileSync(out, 'utf8'))
    assert.equal(rows.find((r) => r[0] === 'indicators_added' && r[1] === 'all' && r[2] === 'total')!.slice(4, 5), ['39'])
    const text = await run('--format', 'text')
    assert.is(text.status, 0, text.stderr)
    assert.match(text.stdout, /all centres\s+39\s+6\s+3\s+124/)
    const bad = await run('--format', 'pdf')
    assert.is(bad.status, 1)
    assert.match(bad.stderr, /error BAD_REQUEST: --format must be one of/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('text summary names each centre with its checkpoint', async () => {
  const r = await report(nodes[0]!, `from=${from}&to=${to}`)
  const text = formatReportText(r)
  for (const c of r.checkpoints) assert.ok(text.includes(c.id))
})

test.run()
