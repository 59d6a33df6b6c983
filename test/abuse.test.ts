/**
 * The node under abuse and faults, against a real node on a random port:
 * floods of bad tokens (429 with Retry-After once the address's bucket is
 * empty, every 401 in the access log without the token, counted in the
 * metrics), a token's own bucket, slow clients cut off within seconds, the
 * connection cap, a full disk (ENOSPC injected under the store: 507
 * STORAGE_FULL, reads go on, writes resume), request ids in 5xx answers and
 * in the log, the metrics role, the incremental report, the CLI's one-line
 * errors and node.log as JSON lines only. Different loopback source
 * addresses (127.0.0.x) keep the address buckets of the tests apart.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { request as httpRequest } from 'node:http'
import { connect, type Socket } from 'node:net'
import { spawn } from 'node:child_process'
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCluster, type Cluster } from './support/cluster.ts'
import { planFederation } from '../testnet/federation.ts'
import { spawnNode, stopNode } from '../testnet/processes.ts'
import { sha256, utf8 } from '../protocol/bytes.ts'
import { LIMIT_DEFAULTS } from '../node/config.ts'
import { ReportCache, computeReport } from '../node/report.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'

const root = new URL('..', import.meta.url).pathname
let cluster: Cluster
let node: CairnNode
let host: string
let port: number
let n = 0

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request from a chosen loopback address (its own address bucket). */
function call(from: string, method: string, path: string, token?: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method, path, localAddress: from, agent: false, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const json = (a: Answer) => JSON.parse(a.body) as { error: { code: string; message: string; request_id?: string } }

async function metric(token: string, name: string): Promise<number> {
  const r = await call('127.0.0.1', 'GET', '/metrics', token)
  assert.is(r.status, 200, r.body)
  let sum = 0
  for (const line of r.body.split('\n')) if (line.startsWith(name) && !line.startsWith('#')) sum += Number(line.split(' ').pop())
  return sum
}

const grant = async (role: Parameters<CairnNode['tokens']['grant']>[0]) => (await node.tokens.grant(role, `abuse-${role}-${n++}`)).token

function indicator(i: number): RecordBody {
  return { type: 'indicator', alg: 'sha256', value: sha256(utf8(`abuse ${i}`)), category: 'B2', kind: 'known_material', media: 'image' } as RecordBody
}

test.after(async () => {
  await cluster?.close()
})

test('setup: one node, small token buckets, timeouts of 2 s and 3 s, 20 connections per address', async () => {
  cluster = await startCluster(1, {
    limits: { ...LIMIT_DEFAULTS, token: { rate_per_s: 5, burst: 20 }, connections_per_address: 20, headers_timeout_s: 2, request_timeout_s: 3 },
  })
  node = cluster.nodes[0]!
  port = Number(new URL(node.url).port)
  host = new URL(node.url).hostname
})

test('300 wrong tokens from one address: 401s until its bucket is empty, then 429 with Retry-After; each 401 in the access log (address, never the token) and in the metrics', async () => {
  const metricsToken = await grant('metrics')
  const failures0 = await metric(metricsToken, 'cairn_http_auth_failures_total')
  const limited0 = await metric(metricsToken, 'cairn_http_rate_limited_total{scope="address"}')
  const bad = 'cairn_' + 'x'.repeat(32)
  const statuses: Record<number, number> = {}
  for (let i = 0; i < 300; i++) {
    const r = await call('127.0.0.2', 'GET', '/logs', bad)
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
    if (r.status === 429) {
      assert.ok(Number(r.headers['retry-after']) >= 1, 'Retry-After in whole seconds')
      assert.is(json(r).error.code, 'RATE_LIMITED')
      assert.type(json(r).error.request_id, 'string')
    } else assert.is(r.status, 401, r.body)
  }
  // 500 credits, 10 a failure: 50 at once, then 5 a second while the loop runs.
  assert.ok(statuses[401]! >= 40 && statuses[401]! <= 150, JSON.stringify(statuses))
  assert.ok(statuses[429]! >= 150, JSON.stringify(statuses))
  assert.is(await metric(metricsToken, 'cairn_http_auth_failures_total') - failures0, statuses[401])
  assert.is(await metric(metricsToken, 'cairn_http_rate_limited_total{scope="address"}') - limited0, statuses[429])

  const oversight = await grant('oversight')
  const rows = []
  let after: number | undefined
  for (;;) {
    const page = await node.accessLog.query({ after, limit: 1000, name: '127.0.0.2' })
    rows.push(...page.rows)
    if (page.next === undefined) break
    after = page.next
  }
  assert.is(rows.length, statuses[401])
  for (const r of rows) {
    assert.is(r.role, 'unauthenticated')
    assert.is(r.token, '')
    assert.is(r.status, 401)
    assert.is(r.path, '/logs')
  }
  const all = await call('127.0.0.1', 'GET', '/access-log?role=unauthenticated&limit=1000', oversight)
  assert.is(all.status, 200)
  assert.not.match(all.body, bad.slice(6), 'the token itself is never written')
  assert.is((await node.accessLog.verify()).brokenAt, undefined)

  // The limited address is still served for a token the node knows to be valid; another address has its own bucket.
  assert.is((await call('127.0.0.2', 'GET', '/logs', oversight)).status, 200)
  assert.is((await call('127.0.0.5', 'GET', '/logs')).status, 200)
})

test('a token has its own bucket: 429 (scope token) once it is spent, other tokens unaffected', async () => {
  const provider = await grant('provider')
  const statuses: number[] = []
  for (let i = 0; i < 40; i++) statuses.push((await call('127.0.0.6', 'GET', '/logs', provider)).status)
  assert.ok(statuses.filter((s) => s === 200).length >= 20 && statuses.filter((s) => s === 200).length < 30, statuses.join(','))
  const r = await call('127.0.0.6', 'GET', '/logs', provider)
  assert.is(r.status, 429)
  assert.match(json(r).error.message, /with this token/)
  assert.is((await call('127.0.0.6', 'GET', '/logs', await grant('provider'))).status, 200)
})

/** Opens a raw connection from `from`, runs `feed` on it, resolves with ms until the server closed it and what it sent. */
function rawConnection(from: string, feed: (s: Socket) => void, giveUpMs = 20_000): Promise<{ ms: number; got: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const s = connect({ host, port, localAddress: from })
    let got = ''
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`still open after ${giveUpMs} ms`)) }, giveUpMs)
    s.on('data', (d) => (got += d))
    s.on('error', () => undefined)
    s.on('close', () => { clearTimeout(timer); resolve({ ms: performance.now() - t0, got }) })
    s.on('connect', () => feed(s))
  })
}

const trickle = (s: Socket, bytes: string, everyMs: number) => {
  let i = 0
  const t = setInterval(() => {
    if (s.destroyed || i >= bytes.length) return clearInterval(t)
    s.write(bytes[i++]!)
  }, everyMs)
  s.on('close', () => clearInterval(t))
}

test('a client trickling its headers is cut off within seconds (headers_timeout_s 2)', async () => {
  const r = await rawConnection('127.0.0.7', (s) => {
    s.write('GET /logs HTTP/1.1\r\nHost: x\r\n')
    trickle(s, 'X-Slow: ' + 'a'.repeat(200), 300)
  })
  assert.ok(r.ms < 8000, `closed after ${r.ms} ms`)
  assert.not.match(r.got, /^HTTP\/1.1 200/)
})

test('a client trickling its body is cut off within seconds (request_timeout_s 3)', async () => {
  const operator = cluster.operatorTokens[0]!
  const r = await rawConnection('127.0.0.8', (s) => {
    s.write(`POST /records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${operator}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`)
    trickle(s, '{"records":[' + ' '.repeat(900), 300)
  })
  assert.ok(r.ms < 10_000, `closed after ${r.ms} ms`)
  assert.not.match(r.got, /^HTTP\/1.1 20/)
})

test('connections from one address are capped (20): the next is closed at once and counted', async () => {
  const metricsToken = await grant('metrics')
  const refused0 = await metric(metricsToken, 'cairn_http_connections_refused_total{reason="connections_per_address"}')
  const open: Socket[] = []
  await Promise.all(Array.from({ length: 20 }, () => new Promise<void>((resolve, reject) => {
    const s = connect({ host, port, localAddress: '127.0.0.9' }, () => resolve())
    s.on('error', reject)
    open.push(s)
  })))
  const extra = await rawConnection('127.0.0.9', (s) => s.write('GET /logs HTTP/1.1\r\nHost: x\r\n\r\n'), 5000)
  assert.not.match(extra.got, /^HTTP/, 'no answer on a connection over the cap')
  for (const s of open) s.destroy()
  assert.is(await metric(metricsToken, 'cairn_http_connections_refused_total{reason="connections_per_address"}') - refused0, 1)
  // Freed: the address may connect again.
  await new Promise((r) => setTimeout(r, 200))
  assert.is((await call('127.0.0.9', 'GET', '/logs')).status, 200)
})

test('a full disk: POST /records is 507 STORAGE_FULL with a request id the log names; reads go on; the node stays up and writes again when space returns', async () => {
  const kv = (node.store as unknown as { kv: { batch: (...a: unknown[]) => Promise<void> } }).kv
  const batch = kv.batch
  const logged: { obj: Record<string, unknown>; msg?: string }[] = []
  const error = node.log.error.bind(node.log)
  node.log.error = ((obj: Record<string, unknown>, msg?: string) => { logged.push({ obj, msg }) }) as typeof node.log.error
  const operator = cluster.operatorTokens[0]!
  const provider = await grant('provider')
  try {
    kv.batch = async () => {
      throw Object.assign(new Error(`IO error: ${cluster.dir}/db/000005.log: No space left on device`), { code: 'LEVEL_IO_ERROR' })
    }
    const body = JSON.stringify({ type: 'indicator', alg: 'sha256', value: 'ab'.repeat(32), category: 'B2', kind: 'known_material', media: 'image' })
    const r = await call('127.0.0.10', 'POST', '/records', operator, body)
    assert.is(r.status, 507, r.body)
    const e = json(r).error
    assert.is(e.code, 'STORAGE_FULL')
    assert.is(e.request_id, r.headers['request-id'])
    const line = logged.find((l) => l.obj.request_id === e.request_id)
    assert.ok(line, 'the 5xx is logged under its request id')
    assert.is(line!.obj.code, 'STORAGE_FULL')
    assert.match(String((line!.obj.err as Error).message), /No space left/)

    // Reads go on (their access-log rows cannot be written now: kept, retried, logged).
    assert.is((await call('127.0.0.10', 'GET', `/logs/${node.name}/checkpoint`)).status, 200)
    assert.is((await call('127.0.0.10', 'GET', '/feed', provider)).status, 200)
    await new Promise((res) => setTimeout(res, 1500))
    assert.ok(node.accessLog.stats.writeFailures >= 1)
    assert.ok(logged.some((l) => /access log/.test(l.msg ?? '')), 'the failed access-log write is logged')
  } finally {
    kv.batch = batch
  }
  // Space is back: writes succeed, the kept access-log rows land and the chain holds.
  const size = node.store.size(node.origin)
  const r = await call('127.0.0.10', 'POST', '/records', operator, JSON.stringify({ type: 'indicator', alg: 'sha256', value: 'cd'.repeat(32), category: 'B2', kind: 'known_material', media: 'image' }))
  assert.is(r.status, 201, r.body)
  assert.is(node.store.size(node.origin), size + 1)
  await node.accessLog.flush()
  const rows = await node.accessLog.query({ after: undefined, limit: 1000, name: 'abuse-provider-' + (n - 1) })
  assert.ok(rows.rows.some((x) => x.path === '/feed'), 'the row of the read made while the disk was full was written later')
  assert.is((await node.accessLog.verify()).brokenAt, undefined)
  node.log.error = error
})

test('an unexpected exception is 500 INTERNAL (never STORAGE_CORRUPT), logged with its cause under the request id', async () => {
  const logged: Record<string, unknown>[] = []
  const error = node.log.error.bind(node.log)
  node.log.error = ((obj: Record<string, unknown>) => { logged.push(obj) }) as typeof node.log.error
  const counters = node.store.counters
  node.store.counters = () => { throw new TypeError('boom: a bug') }
  try {
    const r = await call('127.0.0.11', 'GET', '/stats')
    assert.is(r.status, 500)
    const e = json(r).error
    assert.is(e.code, 'INTERNAL')
    assert.not.match(e.message, /boom/, 'no internals to the client')
    assert.is(e.request_id, r.headers['request-id'])
    const line = logged.find((l) => l.request_id === e.request_id)
    assert.ok(line)
    assert.is(line!.code, 'INTERNAL')
    assert.is(line!.route, '/stats')
    assert.match(String((line!.err as Error).message), /boom/)
  } finally {
    node.store.counters = counters
    node.log.error = error
  }
})

test('the metrics role reads /metrics and nothing else', async () => {
  const m = await grant('metrics')
  assert.is((await call('127.0.0.12', 'GET', '/metrics', m)).status, 200)
  for (const [method, path] of [['GET', '/feed'], ['GET', '/status'], ['GET', '/access-log'], ['GET', '/admin/tokens'], ['GET', `/logs/${node.name}/tile/0/000`], ['GET', '/lookup/sha256/' + 'ab'.repeat(32)]]) {
    const r = await call('127.0.0.12', method!, path!, m)
    assert.is(r.status, 403, `${method} ${path}: ${r.body}`)
  }
  assert.is((await call('127.0.0.12', 'POST', '/records', m, '{}')).status, 403)
})

test('the report is computed incrementally: a kept pass extended to new entries equals a fresh computation', async () => {
  const deps = { origin: node.origin, federation: node.federation, now: () => Date.now(), store: node.store, accessLog: node.accessLog }
  const cache = new ReportCache(deps)
  await Promise.all(Array.from({ length: 30 }, (_, i) => node.publisher.submit(indicator(i))))
  const r1 = await cache.report({ from: 0, to: Date.now(), providerNames: true })
  await Promise.all(Array.from({ length: 20 }, (_, i) => node.publisher.submit(indicator(100 + i))))
  await node.publisher.submit({ type: 'revocation', target: Buffer.from((await node.publisher.submit(indicator(999))).id, 'hex'), reason: 'false_positive' } as RecordBody)
  await new Promise((r) => setTimeout(r, 5))
  const to = Date.now()
  const r2 = await cache.report({ from: 0, to, providerNames: true })
  const fresh = await computeReport(deps, { from: 0, to, providerNames: true })
  const strip = (r: object) => JSON.stringify({ ...r, generated: 0 })
  assert.is(strip(r2), strip(fresh))
  const added = (r: typeof r1) => r.figures.find((f) => f.figure === 'indicators_added' && f.log === 'all' && f.dimension === 'total')!.value
  assert.is(added(r2) - added(r1), 21)
})

test('public callers may start few new report periods: then 429 with Retry-After; kept periods and token holders are still served', async () => {
  const statuses: number[] = []
  for (let i = 1; i <= 6; i++) statuses.push((await call('127.0.0.13', 'GET', `/report?from=${i}`)).status)
  assert.equal(statuses.slice(0, 4), [200, 200, 200, 200])
  const r = await call('127.0.0.13', 'GET', '/report?from=7')
  assert.is(r.status, 429)
  assert.ok(Number(r.headers['retry-after']) >= 1)
  assert.is((await call('127.0.0.13', 'GET', '/report?from=1')).status, 200, 'a kept period')
  assert.is((await call('127.0.0.13', 'GET', '/report?from=8', await grant('auditor'))).status, 200, 'a token holder')
})

/** Runs the CLI in a child process (not spawnSync: the node it calls runs in this process). */
function cairn(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000)
    p.on('close', (status) => { clearTimeout(t); resolve({ status, stdout, stderr }) })
  })
}

test('the CLI: a missing import file or --out folder is one line "error NOT_FOUND: …", exit 1, no stack trace', async () => {
  const target = ['--node', node.url, '--token', cluster.operatorTokens[0]!]
  for (const args of [['import', join(cluster.dir, 'missing.csv'), ...target], ['report', '--out', '/no/such/dir/x.html', ...target]]) {
    const r = await cairn(...args)
    assert.is(r.status, 1, `${args[0]}: ${r.stderr}`)
    const lines = r.stderr.trim().split('\n')
    assert.is(lines.length, 1, r.stderr)
    assert.match(lines[0]!, /^error NOT_FOUND: ENOENT/)
    assert.not.match(r.stderr, /\n\s+at /)
  }
  const g = await cairn('token', 'grant', '--role', 'metrics', '--name', 'prometheus', ...target)
  assert.is(g.status, 0, g.stderr)
  assert.is((await call('127.0.0.14', 'GET', '/metrics', g.stdout.trim())).status, 200)
})

test('node.log is JSON lines only, the banner included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-abuse-log-'))
  try {
    const { nodes } = await planFederation({ dir, names: ['solo'], threshold: 1 })
    const p = await spawnNode(nodes[0]!.dir, { env: { CAIRN_LOG_LEVEL: 'info' } })
    await stopNode(p)
    const lines = readFileSync(join(nodes[0]!.dir, 'node.log'), 'utf8').split('\n').filter((l) => l.trim() !== '')
    assert.ok(lines.some((l) => /running/.test(l)), 'the banner is there')
    for (const l of lines) assert.not.throws(() => JSON.parse(l), `not JSON: ${l}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
