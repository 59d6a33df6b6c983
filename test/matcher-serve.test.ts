/**
 * `cairn matcher serve` as a system written for Meta's Hasher-Matcher-
 * Actioner would use it. The copy is written with the real writer (as
 * cairn sync does): the reference PDQ of Meta's bridge image (the value
 * pdq/cpp/bin/README.md prints for reg_test/input/dih/bridge-1-original.jpg)
 * banked by one centre, the file's MD5 by two. The client below is written
 * from HMA's API (OpenMediaMatch blueprints/hashing.py and matching.py, their
 * pydantic schemas): it checks shapes against that, not against this code.
 * One service runs in this process on a random port, one as a `cairn matcher
 * serve` child process over the same copy; both must follow new commits.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import sharp from 'sharp'
import { sharedPath } from './support/shared.ts'
import { emptyState, originIndex, Journal, commit, type LocalState } from '../client/local-copy.ts'
import { followLocalCopy, type CopyFollower } from '../client/copy-follower.ts'
import { matcherApp, listenMatcher, type MatcherListening } from '../client/matcher-service.ts'

const ref = sharedPath('pdq-ref', 'the matcher service tests need its images')
const scratch = mkdtempSync(join(tmpdir(), 'cairn-matcher-test-'))
const copyDir = join(scratch, 'copy')
mkdirSync(copyDir)

/** The reference implementation's PDQ of dih/bridge-1-original.jpg (quality 100). */
const BRIDGE_PDQ = 'f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22'
const NCMEC = 't.cairn/ncmec'
const C3P = 't.cairn/c3p'
const MAX_UPLOAD = 2 * 1024 * 1024

const image = (name: string) => join(ref!, 'data', 'reg-test-input', name)

// ------------------------------------------------------------------ an HMA client, from HMA's API

/** HMA bank names: [A-Z_][A-Z0-9_]* (OpenMediaMatch storage). */
const BANK_NAME = /^[A-Z_][A-Z0-9_]*$/

class HmaClient {
  constructor(readonly base: string) {}

  async get(path: string, query: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.base}${path}?${new URLSearchParams(query)}`)
  }

  /** POST /h/hash: multipart/form-data, one file whose field name is the content type ("photo"). → {signal type: hash} */
  async hashFile(bytes: Uint8Array, field = 'photo', path = '/h/hash'): Promise<Response> {
    const form = new FormData()
    form.append(field, new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'upload.jpg')
    return fetch(`${this.base}${path}`, { method: 'POST', body: form })
  }

  /** GET /m/lookup?signal_type=&signal= → {bank name: [{bank_content_id: int, distance: str}]} (signal type given: the outer object elided). */
  async lookup(signalType: string, signal: string, extra: Record<string, string> = {}): Promise<Record<string, { bank_content_id: number; distance: string }[]>> {
    const r = await this.get('/m/lookup', { signal_type: signalType, signal, ...extra })
    assert.is(r.status, 200, await r.clone().text())
    const body = await r.json()
    assertLookupShape(body)
    return body
  }

  /** GET /m/raw_lookup → RawLookupResponse {matches: list[int | MatchWithDistance]}. */
  async rawLookup(signalType: string, signal: string, includeDistance: boolean): Promise<unknown[]> {
    const r = await this.get('/m/raw_lookup', { signal_type: signalType, signal, include_distance: String(includeDistance) })
    assert.is(r.status, 200, await r.clone().text())
    const body = (await r.json()) as { matches: unknown[] }
    assert.equal(Object.keys(body), ['matches'])
    assert.ok(Array.isArray(body.matches))
    for (const m of body.matches) {
      if (includeDistance) assertMatchWithDistance(m)
      else assert.ok(Number.isInteger(m), `a bare content id: ${JSON.stringify(m)}`)
    }
    return body.matches
  }

  /** GET /m/index/status → {signal type: {present: bool, built_to: int, size: int}}. */
  async indexStatus(query: Record<string, string> = {}): Promise<Record<string, { present: boolean; built_to: number; size: number }>> {
    const r = await this.get('/m/index/status', query)
    assert.is(r.status, 200)
    const body = await r.json()
    for (const [name, s] of Object.entries(body as Record<string, Record<string, unknown>>)) {
      assert.equal(Object.keys(s).sort(), ['built_to', 'present', 'size'], name)
      assert.type(s.present, 'boolean')
      assert.ok(Number.isInteger(s.built_to) && Number.isInteger(s.size), name)
    }
    return body
  }
}

function assertMatchWithDistance(m: unknown) {
  const x = m as Record<string, unknown>
  assert.equal(Object.keys(x).sort(), ['bank_content_id', 'distance'])
  assert.ok(Number.isInteger(x.bank_content_id), 'bank_content_id: int')
  assert.type(x.distance, 'string', 'distance: str')
}

function assertLookupShape(body: unknown) {
  assert.type(body, 'object')
  for (const [bank, matches] of Object.entries(body as Record<string, unknown>)) {
    assert.match(bank, BANK_NAME)
    assert.ok(Array.isArray(matches) && matches.length > 0, bank)
    for (const m of matches as unknown[]) assertMatchWithDistance(m)
  }
}

/** HMA's ErrorResponse: {"message": str}; here also on one line and a 4xx. */
async function assertRefused(r: Response, status: number, pattern: RegExp) {
  const text = await r.text()
  assert.is(r.status, status, text)
  assert.not.match(text, /\n/, 'one line')
  const body = JSON.parse(text) as { message: unknown }
  assert.type(body.message, 'string')
  assert.match(body.message as string, pattern)
}

function flipBits(hex: string, n: number): string {
  const b = Buffer.from(hex, 'hex')
  for (let i = 0; i < n; i++) b[i >> 3]! ^= 1 << (i & 7)
  return b.toString('hex')
}

function pdqDistance(a: string, b: string): number {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  let d = 0
  for (let i = 0; i < 32; i++) for (let v = x[i]! ^ y[i]!; v; v &= v - 1) d++
  return d
}

// ------------------------------------------------------------------ the copy and the services

let state: LocalState
let bridgeMd5 = ''
let revokeMe: Uint8Array
let follower: CopyFollower | undefined
let local: MatcherListening | undefined
let child: ChildProcess | undefined
let hma: HmaClient
let other: HmaClient
let refusals = 0

function writeBatch(fill: (j: Journal) => void) {
  const j = new Journal()
  fill(j)
  commit(copyDir, state, j)
}

test.after(async () => {
  follower?.close()
  await local?.close()
  child?.kill()
  rmSync(scratch, { recursive: true, force: true })
})

if (ref) {
  test('setup: a copy as cairn sync writes it; a service in this process and a cairn matcher serve child over it', async () => {
    const bridge = readFileSync(image('dih/bridge-1-original.jpg'))
    bridgeMd5 = createHash('md5').update(bridge).digest('hex')
    state = emptyState()
    revokeMe = randomBytes(32)
    writeBatch((j) => {
      j.add(randomBytes(32), 'pdq', 'A1', Buffer.from(BRIDGE_PDQ, 'hex'), originIndex(state, NCMEC), 5, 100)
      j.add(randomBytes(32), 'md5', 'A2', Buffer.from(bridgeMd5, 'hex'), originIndex(state, C3P), 7)
      j.add(revokeMe, 'md5', 'B1', Buffer.from(bridgeMd5, 'hex'), originIndex(state, NCMEC), 9)
      j.add(randomBytes(32), 'photodna', 'A1', randomBytes(144), originIndex(state, NCMEC), 10)
    })
    follower = followLocalCopy(copyDir, { pollMs: 100 })
    local = await listenMatcher(matcherApp({ follower, maxUploadBytes: MAX_UPLOAD }).app, '127.0.0.1', 0)
    hma = new HmaClient(local.url)

    child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'cli', 'main.ts'), 'matcher', 'serve', '--copy', copyDir, '--port', '0', '--poll-ms', '200'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr!.on('data', (d) => { err += d })
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      child!.stdout!.on('data', (d) => {
        out += d
        const m = /listening on (http:\/\/\S+)/.exec(out)
        if (m) resolve(m[1]!)
      })
      child!.once('exit', (code) => reject(new Error(`cairn matcher serve exited ${code}: ${err}`)))
      setTimeout(() => reject(new Error(`no "listening on" within 60 s: ${err}`)), 60_000).unref()
    })
    other = new HmaClient(url)
  })

  test('GET /status and /status/live: HMA\'s I-AM-ALIVE, 200', async () => {
    for (const c of [hma, other]) {
      const r = await c.get('/status')
      assert.is(r.status, 200)
      assert.is(await r.text(), 'I-AM-ALIVE')
      assert.is((await c.get('/status/live')).status, 200)
    }
  })

  test('GET /m/index/status: one entry per signal type, sizes of the copy; signal_type limits it', async () => {
    const all = await hma.indexStatus()
    assert.ok(all.pdq!.present && all.pdq!.size === 1, JSON.stringify(all))
    assert.is(all.md5!.size, 2)
    assert.is(all.video_md5!.size, 2, 'HMA\'s name for an MD5 of the file\'s bytes')
    assert.is(all.sha256!.size, 0)
    assert.ok(all.pdq!.built_to > 1_000_000_000, 'a Unix time')
    assert.equal(Object.keys(await hma.indexStatus({ signal_type: 'pdq' })), ['pdq'])
    assert.equal(await other.indexStatus(), all, 'the second process over the same copy says the same')
  })

  test('GET /m/lookup: a banked MD5 under each centre\'s bank, distance "-"; a banked PDQ at distance "0"; banks= filters', async () => {
    const md5 = await hma.lookup('md5', bridgeMd5.toUpperCase())
    assert.equal(md5, { T_CAIRN_C3P_A2: [{ bank_content_id: 7, distance: '-' }], T_CAIRN_NCMEC_B1: [{ bank_content_id: 9, distance: '-' }] })
    assert.equal(await hma.lookup('video_md5', bridgeMd5), md5)
    assert.equal(await hma.lookup('md5', bridgeMd5, { banks: 'T_CAIRN_NCMEC_B1' }), { T_CAIRN_NCMEC_B1: [{ bank_content_id: 9, distance: '-' }] })
    assert.equal(await hma.lookup('pdq', BRIDGE_PDQ), { T_CAIRN_NCMEC_A1: [{ bank_content_id: 5, distance: '0' }] })
    assert.equal(await hma.lookup('md5', 'd41d8cd98f00b204e9800998ecf8427e'), {}, 'no match: an empty object')
    assert.equal(await other.lookup('pdq', BRIDGE_PDQ), { T_CAIRN_NCMEC_A1: [{ bank_content_id: 5, distance: '0' }] })
  })

  test('GET /m/raw_lookup: a near PDQ (bits flipped) with include_distance; HMA\'s threshold 31 holds exactly', async () => {
    assert.equal(await hma.rawLookup('pdq', flipBits(BRIDGE_PDQ, 6), true), [{ bank_content_id: 5, distance: '6' }])
    assert.equal(await hma.rawLookup('pdq', flipBits(BRIDGE_PDQ, 6), false), [5])
    assert.equal(await hma.rawLookup('pdq', flipBits(BRIDGE_PDQ, 31), true), [{ bank_content_id: 5, distance: '31' }])
    assert.equal(await hma.rawLookup('pdq', flipBits(BRIDGE_PDQ, 32), true), [])
    assert.equal((await hma.rawLookup('md5', bridgeMd5, false)).sort(), [7, 9])
  })

  test('POST /h/hash: the image → {"pdq": hex} near the reference\'s; a re-encoded, resized copy hashes near too and GET /m/lookup finds it', async () => {
    const original = readFileSync(image('dih/bridge-1-original.jpg'))
    const r = await hma.hashFile(original)
    assert.is(r.status, 200)
    const h = (await r.json()) as Record<string, string>
    assert.equal(Object.keys(h), ['pdq'])
    assert.match(h.pdq!, /^[0-9a-f]{64}$/)
    // Decoders differ (libvips here, CImg in the reference's C++): a few bits apart, well within HMA's threshold.
    assert.ok(pdqDistance(h.pdq!, BRIDGE_PDQ) <= 16, `${h.pdq} vs ${BRIDGE_PDQ}`)
    assert.equal(await hma.lookup('pdq', h.pdq!), { T_CAIRN_NCMEC_A1: [{ bank_content_id: 5, distance: String(pdqDistance(h.pdq!, BRIDGE_PDQ)) }] })

    const small = await sharp(original).resize({ width: 300 }).jpeg({ quality: 55 }).toBuffer()
    const s = (await (await hma.hashFile(small)).json()) as Record<string, string>
    const found = await hma.lookup('pdq', s.pdq!)
    assert.equal(Object.keys(found), ['T_CAIRN_NCMEC_A1'])
    assert.is(found.T_CAIRN_NCMEC_A1![0]!.bank_content_id, 5)
    assert.ok(Number(found.T_CAIRN_NCMEC_A1![0]!.distance) <= 31)

    // Our addition: the raw bytes as the body; and POST /m/lookup (HMA: hash the upload, then look up) on the other process.
    const raw = await fetch(`${hma.base}/h/hash`, { method: 'POST', body: small, headers: { 'Content-Type': 'image/jpeg' } })
    assert.equal(await raw.json(), s)
    const posted = await other.hashFile(small, 'photo', '/m/lookup')
    assert.is(posted.status, 200)
    assert.equal(await posted.json(), { pdq: found })
  })

  test('a flat image (PDQ quality < 50): "pdq": "" as HMA answers, the quality in a header; POST /m/lookup matches nothing', async () => {
    const flat = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 120, g: 120, b: 120 } } }).png().toBuffer()
    const r = await hma.hashFile(flat)
    assert.equal(await r.json(), { pdq: '' })
    assert.ok(Number(r.headers.get('Cairn-PDQ-Quality')) < 50)
    assert.equal(await (await hma.hashFile(flat, 'photo', '/m/lookup')).json(), { pdq: {} })
  })

  test('bad input: a one-line {"message"} with a 4xx each time, counted; the service keeps answering', async () => {
    const refused = async (r: Promise<Response>, status: number, pattern: RegExp) => {
      await assertRefused(await r, status, pattern)
      refusals++
    }
    const bridge = readFileSync(image('dih/bridge-1-original.jpg'))
    await refused(hma.get('/h/hash', { url: 'http://169.254.169.254/latest/meta-data' }), 403, /does not fetch URLs/)
    await refused(hma.get('/m/lookup', { url: 'https://example.com/a.jpg' }), 403, /does not fetch URLs/)
    await refused(hma.get('/m/lookup', { signal_type: 'pdq' }), 400, /signal and signal_type are required/)
    await refused(hma.get('/m/raw_lookup', { signal_type: 'pdq' }), 400, /signal is required/)
    await refused(hma.get('/m/lookup', { signal_type: 'pdq', signal: BRIDGE_PDQ.slice(1) }), 400, /invalid signal/)
    await refused(hma.get('/m/lookup', { signal_type: 'pdq', signal: 'zz' + BRIDGE_PDQ.slice(2) }), 400, /invalid signal/)
    await refused(hma.get('/m/lookup', { signal_type: 'md5', signal: 'x'.repeat(5000) }), 400, /invalid signal/)
    await refused(hma.get('/m/lookup', { signal_type: 'tmk', signal: BRIDGE_PDQ }), 400, /No such SignalType "tmk"/)
    await refused(hma.get('/m/lookup', { signal_type: 'photodna', signal: BRIDGE_PDQ }), 400, /not indexed/)
    await refused(hma.get('/m/raw_lookup', { signal_type: 'pdq', signal: BRIDGE_PDQ, include_distance: 'maybe' }), 400, /include_distance/)
    await refused(hma.get('/m/index/status', { signal_type: 'nope' }), 400, /No such signal type/)
    await refused(hma.hashFile(randomBytes(MAX_UPLOAD + 1)), 413, /limited to/)
    await refused(hma.hashFile(bridge.subarray(0, 20_000)), 400, /cannot be decoded/)
    await refused(hma.hashFile(randomBytes(5000)), 400, /not a JPEG/)
    await refused(hma.hashFile(bridge, 'image'), 400, /no such content_type/)
    const two = new FormData()
    two.append('photo', new Blob([bridge]), 'a.jpg')
    two.append('video', new Blob([bridge]), 'b.mp4')
    await refused(fetch(`${hma.base}/h/hash`, { method: 'POST', body: two }), 400, /Only one file/)
    const none = new FormData()
    none.append('note', 'no file here')
    await refused(fetch(`${hma.base}/h/hash`, { method: 'POST', body: none }), 400, /Missing multipart/)
    await refused(fetch(`${hma.base}/h/hash`, { method: 'POST', body: '--x\r\nbroken', headers: { 'Content-Type': 'multipart/form-data; boundary=x' } }), 400, /cannot be parsed|Missing multipart/)
    await refused(fetch(`${hma.base}/h/hash`, { method: 'POST' }), 400, /Missing multipart/)
    await refused(hma.get('/c/banks'), 404, /no route/)

    const metrics = await (await hma.get('/metrics')).text()
    let counted = 0
    for (const m of metrics.matchAll(/^cairn_matcher_rejected_total\{code="[A-Z_]+"\} (\d+)$/gm)) counted += Number(m[1])
    assert.is(counted, refusals, metrics)
    assert.match(metrics, /cairn_matcher_requests_total\{route="\/m\/lookup",status="400"\} \d+/)
    assert.is((await hma.get('/status')).status, 200)
  })

  test('it follows cairn sync: a damaged commit is not loaded (the old copy answers); the next good commit (an addition, a revocation) is', async () => {
    const added = randomBytes(16).toString('hex')
    // A commit naming a journal whose SHA-256 does not match: readers must refuse it.
    const good = readFileSync(join(copyDir, 'state.json'), 'utf8')
    const bad = JSON.parse(good) as LocalState
    bad.journals[0]!.sha256 = '00'.repeat(32)
    writeFileSync(join(copyDir, 'state.json.tmp'), JSON.stringify(bad))
    const { renameSync } = await import('node:fs')
    renameSync(join(copyDir, 'state.json.tmp'), join(copyDir, 'state.json'))
    await waitUntil(() => follower!.reloads.failed > 0, 'the damaged commit is tried and refused')
    assert.equal(await hma.lookup('pdq', BRIDGE_PDQ), { T_CAIRN_NCMEC_A1: [{ bank_content_id: 5, distance: '0' }] }, 'the old copy still answers')

    writeBatch((j) => {
      j.add(randomBytes(32), 'md5', 'B2', Buffer.from(added, 'hex'), originIndex(state, C3P), 8)
      j.remove(revokeMe)
    })
    for (const c of [hma, other]) {
      await waitUntil(async () => Object.keys(await c.lookup('md5', added)).length > 0, `${c.base} loads the new commit`)
      assert.equal(await c.lookup('md5', added), { T_CAIRN_C3P_B2: [{ bank_content_id: 8, distance: '-' }] })
      assert.equal(await c.lookup('md5', bridgeMd5), { T_CAIRN_C3P_A2: [{ bank_content_id: 7, distance: '-' }] }, 'the revoked record is gone')
      assert.is((await c.indexStatus({ signal_type: 'md5' })).md5!.size, 2)
    }
  })
}

async function waitUntil(ok: () => boolean | Promise<boolean>, what: string, ms = 30_000) {
  const until = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

test.run()
