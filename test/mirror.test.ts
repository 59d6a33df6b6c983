/**
 * The static mirror (node/mirror/, spec/api.md §A.12): a node with
 * mirror.dir writes exactly the bytes it serves, does not write them again
 * after a restart, and writes a bundle again when a redaction changes it;
 * a node with mirror.s3 (against s3rver on a random port) puts objects with
 * their Cache-Control, keeps restricted ones behind presigned redirects,
 * and keeps serving while the bucket is down, catching up when it is back.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync, statSync, readdirSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import type { Server } from 'node:http'
import { startNode, type CairnNode, type StartOptions } from '../node/node.ts'
import { loadNodeFile, saveNodeFile, type NodeFile } from '../node/config.ts'
import { ensureOperatorToken } from '../node/tokens.ts'
import { planFederation } from '../testnet/federation.ts'
import { tilesForTree, tilePath, entriesPath, TILE_WIDTH } from '../protocol/tiles.ts'
import { sha256, utf8, toHex } from '../protocol/bytes.ts'
import type { RecordBody } from '../node/publisher.ts'
import { waitFor } from './support/cluster.ts'
import { S3_KEY_ID_ENV, S3_SECRET_ENV, writeMirrorOnce } from '../node/mirror/index.ts'

const root = mkdtempSync(join(tmpdir(), 'cairn-mirror-'))
const QUICK: StartOptions['mirror'] = { minBackoffMs: 50, maxBackoffMs: 300, pollMs: 200 }

function indicator(tag: string): RecordBody {
  return { type: 'indicator', alg: 'sha256', value: sha256(utf8(tag)), category: 'A1', kind: 'known_material', media: 'image' }
}

/** A one-member federation whose node.json has `mirror`. */
async function plan(name: string, mirror: NodeFile['mirror']): Promise<string> {
  const { nodes } = await planFederation({ dir: join(root, name), names: [name], threshold: 1, batch: { max_records: 2000, max_ms: 20 } })
  const dir = nodes[0]!.dir
  saveNodeFile(dir, { ...loadNodeFile(dir), mirror })
  return dir
}

/** The nodes' clock: a test moves it on to make a snapshot due. */
let clock = Date.now()
const start = (dir: string) => startNode({ dir, alone: true, logLevel: 'silent', workers: 0, mirror: QUICK, now: () => clock })

async function publish(node: CairnNode, tags: string[]): Promise<void> {
  await Promise.all(tags.map((t) => node.publisher.submit(indicator(t))))
  await waitFor('the checkpoint covers what was published', () => node.store.listLogs().find((l) => l.origin === node.origin)!.checkpointSize === node.store.size(node.origin))
}

async function bytesOf(node: CairnNode, path: string, token?: string): Promise<Uint8Array> {
  const res = await fetch(node.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  assert.is(res.status, 200, `GET ${path}`)
  return new Uint8Array(await res.arrayBuffer())
}

/** Every mirror path of the log's tree of `size`, tiles and bundles at the widths the tree has now. */
function treePaths(name: string, size: number): string[] {
  const out = [...tilesForTree(size)].map((t) => `logs/${name}/${tilePath(t)}`)
  for (let b = 0; b * TILE_WIDTH < size; b++) out.push(`logs/${name}/${entriesPath(b, Math.min(TILE_WIDTH, size - b * TILE_WIDTH))}`)
  return out
}

function filesUnder(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...filesUnder(p))
    else out.push(p)
  }
  return out
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

test.after(() => rmSync(root, { recursive: true, force: true }))

test('mirror.dir: exactly the node\'s bytes, not written again after a restart, a bundle written again after a redaction', async () => {
  const dir = await plan('dirnode', { dir: 'mirror', snapshot_minutes: 1 })
  const mirror = join(dir, 'mirror')
  let node = await start(dir)
  try {
    const name = node.origin.split('/')[1]!
    const auditor = (await node.tokens.grant('auditor', 'mirror-test')).token
    const provider = (await node.tokens.grant('provider', 'mirror-test')).token
    await publish(node, Array.from({ length: 40 }, (_, i) => `first-${i}`))
    await node.mirror!.flush()
    const early = node.store.size(node.origin)
    const earlyBundle = join(mirror, `logs/${name}/${entriesPath(0, early)}`)
    assert.ok(existsSync(earlyBundle), 'the first partial bundle is written')
    await publish(node, Array.from({ length: 300 }, (_, i) => `second-${i}`))
    await node.mirror!.flush()
    assert.is(JSON.parse(readFileSync(join(mirror, 'snapshot/latest.json'), 'utf8')).checkpoints[node.origin].split('\n')[1], String(early), 'no second snapshot within snapshot_minutes')
    clock += 61_000
    await node.mirror!.flush()

    const size = node.store.size(node.origin)
    assert.ok(size > TILE_WIDTH)
    for (const p of treePaths(name, size)) {
      const file = readFileSync(join(mirror, p))
      assert.ok(equalBytes(file, await bytesOf(node, `/${p}`, auditor)), `${p} holds the node's bytes`)
      assert.is(statSync(join(mirror, p)).mode & 0o777, p.includes('/tile/entries/') ? 0o640 : 0o644, `${p} mode`)
    }
    assert.is(readFileSync(join(mirror, `logs/${name}/checkpoint`), 'utf8'), new TextDecoder().decode(await bytesOf(node, `/logs/${name}/checkpoint`)))
    assert.is(readFileSync(join(mirror, 'logs.json'), 'utf8'), new TextDecoder().decode(await bytesOf(node, '/logs')))
    const latest = JSON.parse(readFileSync(join(mirror, 'snapshot/latest.json'), 'utf8')) as { cursor: string; path: string; checkpoints: Record<string, string> }
    assert.is(latest.path, `snapshot/${latest.cursor}.jsonl`)
    assert.is(latest.checkpoints[node.origin], readFileSync(join(mirror, `logs/${name}/checkpoint`), 'utf8'))
    const snap = await fetch(`${node.url}/feed/snapshot?format=jsonl&entries=1`, { headers: { authorization: `Bearer ${provider}` } })
    assert.is(snap.headers.get('cairn-cursor'), latest.cursor)
    assert.ok(equalBytes(readFileSync(join(mirror, latest.path)), new Uint8Array(await snap.arrayBuffer())), 'the snapshot file is the node\'s jsonl snapshot with entries')
    assert.is(statSync(join(mirror, latest.path)).mode & 0o777, 0o640)
    assert.not.ok(filesUnder(mirror).some((f) => f.endsWith('.tmp')), 'no temporary files are left')

    // Restart: nothing already written is written again.
    const before = new Map(filesUnder(mirror).map((f) => [f, statSync(f)]))
    await node.stop()
    node = await start(dir)
    await node.mirror!.flush()
    const written = node.status().mirror!.filesWritten
    assert.is(written.tile ?? 0, 0, 'no tile written again')
    assert.is(written.bundle ?? 0, 0, 'no bundle written again')
    assert.is(written.snapshot ?? 0, 0, 'no snapshot written again')
    for (const [f, st] of before) {
      if (!/\/tile\//.test(f) && !f.endsWith('.jsonl')) continue
      const now = statSync(f)
      assert.ok(now.ino === st.ino && now.mtimeMs === st.mtimeMs, `${relative(mirror, f)} untouched`)
    }

    // A redaction of an entry in the first bundle: every bundle file that held the value is written again.
    const op = await ensureOperatorToken(dir, node.tokens)
    const target = 3
    const targetValue = sha256(utf8('first-3'))
    const id = toHex((await node.store.entriesWithIds(node.origin, target, target + 1)).ids[0]!)
    assert.ok(readFileSync(earlyBundle).includes(Buffer.from(targetValue)), 'the early bundle held the value before')
    const res = await fetch(node.url + '/admin/redactions', {
      method: 'POST', headers: { authorization: `Bearer ${op}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, reason: 'legal_order' }),
    })
    assert.is(res.status, 201, await res.clone().text())
    await waitFor('the entry is redacted', () => node.store.isRedacted(node.origin, target))
    await publish(node, [])
    await node.mirror!.flush()
    const sizeNow = node.store.size(node.origin)
    for (const p of treePaths(name, sizeNow)) {
      assert.ok(equalBytes(readFileSync(join(mirror, p)), await bytesOf(node, `/${p}`, auditor)), `${p} holds the node's bytes after the redaction`)
    }
    const bundles = filesUnder(mirror).filter((f) => f.includes('/tile/entries/'))
    const holding = bundles.filter((f) => readFileSync(f).includes(Buffer.from(targetValue)))
    assert.equal(holding.map((f) => relative(mirror, f)), [], 'no bundle file holds the redacted value')
    assert.ok(existsSync(earlyBundle), 'the early partial bundle is still there, rewritten')

    // writeMirrorOnce (the bench, the client's end-to-end test): the same files from a running node, in one call.
    const once = join(root, 'once')
    await writeMirrorOnce(node, once)
    for (const p of [...treePaths(name, sizeNow), `logs/${name}/checkpoint`, 'logs.json']) {
      assert.ok(equalBytes(readFileSync(join(once, p)), readFileSync(join(mirror, p))), `writeMirrorOnce: ${p}`)
    }
    assert.ok(existsSync(join(once, JSON.parse(readFileSync(join(once, 'snapshot/latest.json'), 'utf8')).path)))
  } finally {
    await node.stop()
  }
})

// ------------------------------------------------------------------ S3

type S3rverType = new (opts: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void>; httpServer: Server; middleware: unknown[] }
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverType
const BUCKET = 'cairn-mirror'
const PREFIX = 'fed/eu'

/**
 * The bucket policy of docs/deploy.md, which s3rver does not enforce by
 * itself: anyone may GET logs.json, checkpoints and hash tiles; every other
 * key needs a signed request.
 */
const PUBLIC_KEY = new RegExp(`^/${BUCKET}/${PREFIX}/(logs\\.json|logs/[^/]+/checkpoint|logs/[^/]+/tile/[0-9]{1,2}/.*)$`)
function bucketPolicy(ctx: { method: string; path: string; headers: Record<string, string>; query: Record<string, string>; status: number; body: unknown }, next: () => Promise<void>) {
  const signed = 'authorization' in ctx.headers || 'X-Amz-Algorithm' in ctx.query || 'Signature' in ctx.query
  if (!signed && (ctx.method === 'GET' || ctx.method === 'HEAD') && !PUBLIC_KEY.test(ctx.path)) {
    ctx.status = 403
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'
    return Promise.resolve()
  }
  return next()
}

async function startS3(dir: string, port = 0) {
  const s3 = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] })
  s3.middleware.unshift(bucketPolicy)
  const addr = await s3.run()
  return { s3, port: addr.port }
}

async function stopS3(s3: InstanceType<S3rverType>) {
  const closing = s3.close()
  s3.httpServer.closeAllConnections()
  await closing
}

test('mirror.s3: Cache-Control per object, restricted objects only through presigned redirects, catching up after the bucket was down', async () => {
  const s3dir = join(root, 's3data')
  let { s3, port } = await startS3(s3dir)
  process.env[S3_KEY_ID_ENV] = 'S3RVER' // s3rver's built-in account
  process.env[S3_SECRET_ENV] = 'S3RVER'
  const dir = await plan('s3node', { s3: { endpoint: `http://127.0.0.1:${port}`, bucket: BUCKET, prefix: PREFIX, region: 'us-east-1', force_path_style: true }, snapshot_minutes: 10 })
  const node = await start(dir)
  try {
    const name = node.origin.split('/')[1]!
    const auditor = (await node.tokens.grant('auditor', 'mirror-test')).token
    const provider = (await node.tokens.grant('provider', 'mirror-test')).token
    const oversight = (await node.tokens.grant('oversight', 'mirror-test')).token
    await publish(node, Array.from({ length: 300 }, (_, i) => `s3-${i}`))
    await node.mirror!.flush()
    const object = (p: string) => `http://127.0.0.1:${port}/${BUCKET}/${PREFIX}/${p}`

    const tile = `logs/${name}/${tilePath({ level: 0, index: 0, width: TILE_WIDTH })}`
    const tileRes = await fetch(object(tile))
    assert.is(tileRes.status, 200, 'a full hash tile is public')
    assert.is(tileRes.headers.get('cache-control'), 'public, max-age=31536000, immutable')
    assert.ok(equalBytes(new Uint8Array(await tileRes.arrayBuffer()), await bytesOf(node, `/${tile}`, auditor)))
    const cp = await fetch(object(`logs/${name}/checkpoint`))
    assert.is(cp.headers.get('cache-control'), 'no-cache')
    assert.is(await cp.text(), new TextDecoder().decode(await bytesOf(node, `/logs/${name}/checkpoint`)))
    const size = node.store.size(node.origin)
    const partial = `logs/${name}/${tilePath({ level: 0, index: 1, width: size - TILE_WIDTH })}`
    assert.is((await fetch(object(partial))).headers.get('cache-control'), 'public, max-age=3600')

    const bundle = `logs/${name}/${entriesPath(0)}`
    const direct = await fetch(object(bundle))
    assert.is(direct.status, 403, 'an entry bundle cannot be fetched from the bucket without a signature')
    await direct.body?.cancel()
    assert.is((await fetch(`${node.url}/mirror/${bundle}`, { redirect: 'manual' })).status, 401, 'no token')
    assert.is((await fetch(`${node.url}/mirror/${bundle}`, { redirect: 'manual', headers: { authorization: `Bearer ${oversight}` } })).status, 403, 'another role')
    const redirect = await fetch(`${node.url}/mirror/${bundle}`, { redirect: 'manual', headers: { authorization: `Bearer ${provider}` } })
    assert.is(redirect.status, 302)
    const location = redirect.headers.get('location')!
    assert.match(location, /X-Amz-Expires=300/)
    const presigned = await fetch(location)
    assert.is(presigned.status, 200)
    assert.is(presigned.headers.get('cache-control'), 'private, max-age=31536000, immutable')
    assert.ok(equalBytes(new Uint8Array(await presigned.arrayBuffer()), await bytesOf(node, `/${bundle}`, auditor)), 'the presigned URL gives the node\'s bundle')
    // Followed the way a client does (fetch drops Authorization on the cross-origin hop).
    const followed = await fetch(`${node.url}/mirror/${bundle}`, { headers: { authorization: `Bearer ${provider}` } })
    assert.is(followed.status, 200)
    await followed.body?.cancel()
    const publicRedirect = await fetch(`${node.url}/mirror/logs.json`, { redirect: 'manual' })
    assert.is(publicRedirect.status, 302, 'a public path needs no token')
    assert.is(await (await fetch(publicRedirect.headers.get('location')!)).text(), new TextDecoder().decode(await bytesOf(node, '/logs')))
    assert.is((await fetch(`${node.url}/mirror/logs/${name}/tile/entries/1.p/3`, { redirect: 'manual' })).status, 404, 'not a path of the layout')
    const snapLatest = await fetch(`${node.url}/mirror/snapshot/latest.json`, { headers: { authorization: `Bearer ${auditor}` } })
    assert.is(snapLatest.status, 200)
    const latest = (await snapLatest.json()) as { path: string }
    assert.is((await fetch(object(latest.path))).status, 403, 'a snapshot is not public')

    // /mirror-auth, for a proxy in front of a mirror directory.
    assert.is((await fetch(`${node.url}/mirror-auth`)).status, 401)
    assert.is((await fetch(`${node.url}/mirror-auth`, { headers: { authorization: 'Bearer nonsense' } })).status, 401)
    assert.is((await fetch(`${node.url}/mirror-auth`, { headers: { authorization: `Bearer ${provider}` } })).status, 204)
    assert.is((await fetch(`${node.url}/mirror-auth`, { headers: { authorization: `Bearer ${auditor}` } })).status, 204)
    assert.is((await fetch(`${node.url}/mirror-auth`, { headers: { authorization: `Bearer ${oversight}` } })).status, 403)

    // The bucket goes away: the node keeps publishing and serving; the writer fails, counts, and catches up later.
    await stopS3(s3)
    await publish(node, Array.from({ length: 30 }, (_, i) => `down-${i}`))
    const sizeDown = node.store.size(node.origin)
    assert.is(JSON.parse(new TextDecoder().decode(await bytesOf(node, '/logs')))[0].size, sizeDown, 'the node serves its new checkpoint')
    await waitFor('the writer notices the bucket is down', () => node.status().mirror!.failing !== undefined, 20_000)
    const failures = node.status().mirror!.failures
    assert.ok(Object.values(failures).reduce((a, b) => a + b, 0) >= 1, JSON.stringify(failures))
    const metrics = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${await ensureOperatorToken(dir, node.tokens)}` } })
    const text = await metrics.text()
    assert.match(text, /cairn_mirror_failures_total\{cause="[^"]+"\} [1-9]/)
    assert.match(text, /cairn_mirror_failing 1/)
    assert.ok(node.status().mirror!.logs[node.origin]! < sizeDown)

    ;({ s3 } = await startS3(s3dir, port))
    await waitFor('the mirror catches up', () => node.status().mirror!.logs[node.origin] === sizeDown && node.status().mirror!.failing === undefined, 30_000)
    assert.is(await (await fetch(object(`logs/${name}/checkpoint`))).text(), new TextDecoder().decode(await bytesOf(node, `/logs/${name}/checkpoint`)))
    const last = `logs/${name}/${tilePath({ level: 0, index: 1, width: sizeDown - TILE_WIDTH })}`
    assert.ok(equalBytes(new Uint8Array(await (await fetch(object(last))).arrayBuffer()), await bytesOf(node, `/${last}`, auditor)))
  } finally {
    await node.stop()
    await stopS3(s3).catch(() => undefined)
    delete process.env[S3_KEY_ID_ENV]
    delete process.env[S3_SECRET_ENV]
  }
})

test.run()
