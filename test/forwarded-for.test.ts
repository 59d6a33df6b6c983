/**
 * The caller's address behind reverse proxies (node/http/client-address.ts):
 * X-Forwarded-For is believed only from the proxies node.json trusts, the
 * right-most untrusted hop counts, and a caller that is not a trusted proxy
 * cannot choose the address it is limited by. Against a real node, loopback
 * source addresses (127.0.0.x) stand for the proxy and for direct callers.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { request as httpRequest } from 'node:http'
import { startCluster, type Cluster } from './support/cluster.ts'
import { LIMIT_DEFAULTS } from '../node/config.ts'
import { clientAddress, trustedProxies } from '../node/http/client-address.ts'
import { LedgerError } from '../protocol/errors.ts'

test('trusted_proxies: addresses and CIDR ranges parse; anything else is BAD_CONFIG', () => {
  assert.is(trustedProxies([]), undefined)
  const t = trustedProxies(['10.0.0.0/8', '192.168.1.1', '::1', 'fd00::/8'])
  assert.ok(t)
  for (const bad of ['10.0.0.0/33', 'example.org', '10.0.0.0/', '::1/129', '1.2.3', '10.0.0.0/8/1', '']) {
    try {
      trustedProxies([bad])
      assert.unreachable(bad)
    } catch (e) {
      assert.instance(e, LedgerError, bad)
      assert.is((e as LedgerError).code, 'BAD_CONFIG')
    }
  }
})

test('clientAddress: the header only from a trusted proxy; the right-most untrusted hop; garbage stops the walk', () => {
  const t = trustedProxies(['10.0.0.0/8', 'fd00::/8'])
  assert.is(clientAddress('203.0.113.9', '198.51.100.1', undefined), '203.0.113.9', 'no trusted proxies: header ignored')
  assert.is(clientAddress('203.0.113.9', '198.51.100.1', t), '203.0.113.9', 'not from a proxy: header ignored')
  assert.is(clientAddress('10.1.1.1', undefined, t), '10.1.1.1', 'proxy without header: the proxy')
  assert.is(clientAddress('10.1.1.1', '198.51.100.1', t), '198.51.100.1')
  assert.is(clientAddress('10.1.1.1', '1.1.1.1, 198.51.100.1', t), '198.51.100.1', 'the client wrote the left one')
  assert.is(clientAddress('10.1.1.1', '198.51.100.1, 10.2.2.2', t), '198.51.100.1', 'a chain of trusted proxies is walked')
  assert.is(clientAddress('10.1.1.1', '198.51.100.1, ::ffff:10.2.2.2', t), '198.51.100.1', 'IPv4-mapped hops')
  assert.is(clientAddress('10.1.1.1', '2001:db8::5, fd00::1', t), '2001:db8::5')
  assert.is(clientAddress('10.1.1.1', '198.51.100.1, unknown', t), '10.1.1.1', 'a hop that is not an address stops the walk')
  assert.is(clientAddress('10.1.1.1', 'x'.repeat(10_000), t), '10.1.1.1')
  assert.is(clientAddress('10.1.1.1', '10.3.3.3, 10.2.2.2', t), '10.3.3.3', 'all hops trusted: the left-most')
})

let cluster: Cluster
let host: string
let port: number

function call(from: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, localAddress: from, agent: false, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

test.after(async () => {
  await cluster?.close()
})

test('a real node behind a trusted proxy: each forwarded caller has its own bucket and its own access-log rows; a direct caller cannot spoof the header', async () => {
  // 10 credits an address, a failed authentication costs 5: two 401s, then 429.
  cluster = await startCluster(1, { trustedProxies: ['127.0.0.7'], limits: { ...LIMIT_DEFAULTS, address: { rate_per_s: 0.01, burst: 10 }, auth_failure_cost: 5 } })
  const node = cluster.nodes[0]!
  port = Number(new URL(node.url).port)
  host = new URL(node.url).hostname
  const bad = { authorization: `Bearer cairn_${'y'.repeat(32)}` }

  const through = async (client: string) => {
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await call('127.0.0.7', '/logs', { ...bad, 'x-forwarded-for': `6.6.6.6, ${client}` })).status)
    return statuses
  }
  assert.equal(await through('198.51.100.1'), [401, 401, 429], 'the first forwarded caller spends its own bucket')
  assert.equal(await through('198.51.100.2'), [401, 401, 429], 'the next forwarded caller is not limited by the first')
  // The proxy's own address was never charged: its direct, token-less requests pass.
  assert.is((await call('127.0.0.7', '/healthz', {})).status, 200)

  // A caller that is not a trusted proxy: its header is ignored, it is charged itself.
  const direct = []
  for (let i = 0; i < 3; i++) direct.push((await call('127.0.0.8', '/logs', { ...bad, 'x-forwarded-for': `198.51.100.${10 + i}` })).status)
  assert.equal(direct, [401, 401, 429])

  const names = (await node.accessLog.query({ limit: 1000 })).rows.filter((r) => r.role === 'unauthenticated').map((r) => r.name)
  assert.equal(names.sort(), ['127.0.0.8', '127.0.0.8', '198.51.100.1', '198.51.100.1', '198.51.100.2', '198.51.100.2'])
})

test.run()
