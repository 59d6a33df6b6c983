/**
 * The shared HTTP client (client/http.ts) and a node's 429: it waits the
 * Retry-After it is given and sends the request again, at most three times,
 * says so through onRetry, and gives up at once on a wait longer than it
 * would hold a command for. Against a small server on a random port that
 * answers 429 a chosen number of times.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request, api, retryAfterSeconds } from '../client/http.ts'
import { LedgerError } from '../protocol/errors.ts'

let server: Server
let url: string
let refusals = 0
let retryAfter = '1'
const seen: { method: string; body: string }[] = []

test.before(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      seen.push({ method: req.method!, body })
      if (refusals > 0) {
        refusals--
        res.writeHead(429, { 'retry-after': retryAfter, 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { code: 'RATE_LIMITED', message: 'too many requests with this token; retry in 1 s' } }))
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: true, body }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

test.after(() => new Promise<void>((r) => server.close(() => r())))

test('Retry-After: seconds or an HTTP date; missing, garbage or over 30 s is not waited for', () => {
  assert.is(retryAfterSeconds('0'), 0)
  assert.is(retryAfterSeconds(' 7 '), 7)
  assert.is(retryAfterSeconds('30'), 30)
  assert.is(retryAfterSeconds('31'), undefined)
  assert.is(retryAfterSeconds(null), undefined)
  assert.is(retryAfterSeconds('soon'), undefined)
  assert.is(retryAfterSeconds('-1'), undefined)
  const now = Date.parse('2026-12-07T04:00:00Z')
  assert.is(retryAfterSeconds('Mon, 07 Dec 2026 04:00:05 GMT', now), 5)
  assert.is(retryAfterSeconds('Mon, 07 Dec 2026 03:59:00 GMT', now), 0, 'a date in the past: at once')
  assert.is(retryAfterSeconds('Mon, 07 Dec 2026 05:00:00 GMT', now), undefined)
})

test('two 429s, then 200: the same POST body is sent three times and the answer is the 200; each retry is said', async () => {
  refusals = 2
  retryAfter = '1'
  seen.length = 0
  const said: string[] = []
  const t0 = Date.now()
  const answer = await api<{ ok: boolean; body: string }>({ url, onRetry: (m) => said.push(m) }, 'POST', '/records', { a: 1 })
  assert.ok(Date.now() - t0 >= 1900, 'waited the two Retry-Afters')
  assert.equal(answer, { ok: true, body: '{"a":1}' })
  assert.equal(seen.map((s) => s.body), ['{"a":1}', '{"a":1}', '{"a":1}'])
  assert.is(said.length, 2)
  assert.match(said[0]!, /POST \/records: rate limited by the node; retrying in 1 s/)
})

test('still 429 after three retries: RATE_LIMITED with the node\'s message', async () => {
  refusals = 10
  retryAfter = '0'
  seen.length = 0
  try {
    await request({ url }, 'GET', '/feed')
    assert.unreachable('should throw')
  } catch (e) {
    assert.instance(e, LedgerError)
    assert.is((e as LedgerError).code, 'RATE_LIMITED')
    assert.match((e as Error).message, /GET \/feed: 429 too many requests/)
  }
  assert.is(seen.length, 4, 'one request and three retries')
})

test('a Retry-After beyond 30 s is not waited for: RATE_LIMITED at once', async () => {
  refusals = 1
  retryAfter = '3600'
  seen.length = 0
  const t0 = Date.now()
  try {
    await request({ url }, 'GET', '/feed')
    assert.unreachable('should throw')
  } catch (e) {
    assert.is((e as LedgerError).code, 'RATE_LIMITED')
  }
  assert.ok(Date.now() - t0 < 1000)
  assert.is(seen.length, 1)
  refusals = 0
})

test.run()
