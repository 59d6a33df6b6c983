/**
 * Backup and restore (node/backup/) and the own-log check before signing
 * (node/replication/own-log.ts), on an in-process federation of three:
 * a backup of a running node, then more records, then the node is lost and
 * restored from the backup and publishes at once: nothing is lost, no log
 * freezes, every node ends with the same trees. And what a backup refuses:
 * truncated, altered, a non-empty target, a full disk.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { rejects } from './helpers.ts'
import { takeBackup, type OutFile } from '../node/backup/take.ts'
import { restoreBackup, inspectBackup } from '../node/backup/restore.ts'
import { sha256, toHex, utf8 } from '../protocol/bytes.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'

const indicator = (tag: string): RecordBody => ({ type: 'indicator', alg: 'sha256', value: sha256(utf8(tag)), category: 'A1', kind: 'known_material', media: 'image' })

async function publishMany(node: CairnNode, n: number, tag: string) {
  return Promise.all(Array.from({ length: n }, (_, i) => node.publisher.submit(indicator(`${tag}-${i}`))))
}

let cluster: Cluster
let backupFile = ''

test.after(async () => {
  await cluster?.close()
})

const rootsOf = (nodes: CairnNode[], origin: string) => new Set(nodes.map((n) => `${n.store.size(origin)}:${toHex(n.store.rootNow(origin))}`))

test('a backup of a running node, restored after the node is lost, publishes at once without a fork', async () => {
  cluster = await startCluster(3)
  const [a, b, c] = cluster.nodes as [CairnNode, CairnNode, CairnNode]
  await publishMany(a, 120, 'before')
  await publishMany(b, 30, 'b')
  await waitFor('convergence before the backup', () => converged([a, b, c]), 60_000)

  // What `cairn node start` writes and `cairn node backup` reads to find the running node's API.
  writeFileSync(join(cluster.planned[0]!.dir, 'node.url'), a.url + '\n')
  backupFile = join(cluster.dir, 'c1.backup')
  const taken = await takeBackup({ dir: cluster.planned[0]!.dir, out: backupFile })
  assert.is(taken.manifest.source, 'running')
  assert.ok(taken.files.includes('keys.json') && taken.files.includes('node.json') && taken.files.includes('genesis.json'))
  assert.not.ok(taken.files.includes('node.url'), 'runtime files stay out')
  assert.is(taken.store.logs.find((l) => l.origin === a.origin)?.size, 120)
  assert.equal(readdirSync(cluster.dir).filter((f) => f.includes('.partial')), [], 'no temporary file left')

  // An hour's worth of records after the backup, replicated everywhere; then the node is lost.
  await publishMany(a, 200, 'after')
  await waitFor('convergence after the backup', () => converged([a, b, c]), 60_000)
  const lost = a.store.size(a.origin)
  assert.is(lost, 320)
  await cluster.stop(0)
  rmSync(cluster.planned[0]!.dir, { recursive: true, force: true })

  const restored = await restoreBackup({ file: backupFile, dir: cluster.planned[0]!.dir })
  assert.is(restored.store.logs.find((l) => l.origin === a.origin)?.size, 120)

  // Start and publish at once: the records wait until the node has synced its own log back.
  const a2 = await cluster.start(0)
  assert.is.not(a2.ownLog.status().state, 'ready', 'not ready to sign before the peers answered')
  const results = await publishMany(a2, 25, 'restored')
  assert.equal(results.map((r) => r.seq), Array.from({ length: 25 }, (_, i) => lost + i), 'new records follow the whole log, not the backup')
  assert.is(a2.ownLog.status().state, 'ready')

  const nodes = [a2, b, c]
  await waitFor('convergence after the restore', () => converged(nodes), 60_000)
  for (const n of nodes) {
    assert.is(n.store.listLogs().filter((l) => l.frozen).length, 0, `${n.origin} froze no log`)
    assert.is(n.sync.stats.equivocations, 0)
  }
  for (const owner of nodes) assert.is(rootsOf(nodes, owner.origin).size, 1, `${owner.origin} has one tree everywhere`)
  assert.is(a2.store.size(a2.origin), lost + 25)
})

test('a truncated or altered backup is refused whole, and the target stays as it was', async () => {
  const bytes = readFileSync(backupFile)
  const target = join(cluster.dir, 'restore-target')
  for (const [name, data, why] of [
    ['truncated', bytes.subarray(0, Math.floor(bytes.length * 0.6)), /truncated/],
    ['cut before the seal', bytes.subarray(0, bytes.length - 37), /without its seal|truncated/],
    ['altered', Buffer.from(bytes).fill(0x41, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 1), /altered|damaged/],
    ['with bytes after its seal', Buffer.concat([bytes, Buffer.from('x')]), /after its seal|follow its seal|damaged/],
    ['not a backup', Buffer.from('{"hello": "world"}\n'), /not a cairn backup/],
  ] as const) {
    const file = join(cluster.dir, `bad-${name.replace(/ /g, '-')}`)
    writeFileSync(file, data)
    const e = (await rejects(() => restoreBackup({ file, dir: target }), 'STORAGE_CORRUPT')) as Error
    assert.match(e.message, why, name)
    assert.not.ok(existsSync(target), `${name}: nothing restored`)
    assert.equal(readdirSync(cluster.dir).filter((f) => f.includes('.restoring-')), [], `${name}: no staging left`)
    await rejects(() => inspectBackup(file), 'STORAGE_CORRUPT')
  }
})

test('restore refuses a non-empty directory unless forced, and then sets the old contents aside', async () => {
  const target = join(cluster.dir, 'occupied')
  mkdirSync(target)
  writeFileSync(join(target, 'something'), 'x')
  await rejects(() => restoreBackup({ file: backupFile, dir: target }), 'CONFLICT')
  assert.equal(readdirSync(target), ['something'])
  const r = await restoreBackup({ file: backupFile, dir: target, force: true })
  assert.ok(r.setAside && readFileSync(join(r.setAside, 'something'), 'utf8') === 'x')
  assert.ok(existsSync(join(target, 'keys.json')) && existsSync(join(target, 'db', 'CURRENT')))
  // An empty directory is fine without --force.
  const empty = join(cluster.dir, 'empty')
  mkdirSync(empty)
  await restoreBackup({ file: backupFile, dir: empty })
  assert.ok(existsSync(join(empty, 'node.json')))
  // Every restored file is readable by its owner only (keys, case-reference secret, credentials, settings alike).
  assert.is(statSync(empty).mode & 0o777, 0o700)
  for (const f of readdirSync(empty, { withFileTypes: true })) {
    assert.is(statSync(join(empty, f.name)).mode & 0o777, f.isDirectory() ? 0o700 : 0o600, f.name)
  }
})

test('a running node\'s directory cannot be restored over, even with --force', async () => {
  await rejects(() => restoreBackup({ file: backupFile, dir: cluster.planned[1]!.dir, force: true }), 'CONFLICT')
  assert.ok(cluster.nodes[1]!.store.size(cluster.nodes[1]!.origin) > 0)
})

test('a backup of a stopped node\'s directory works; a full disk leaves no file', async () => {
  await cluster.stop(2)
  const out = join(cluster.dir, 'stopped.backup')
  const r = await takeBackup({ dir: cluster.planned[2]!.dir, out })
  assert.is(r.manifest.source, 'stopped')
  assert.is((await inspectBackup(out)).store.rows, r.store.rows)
  await rejects(() => takeBackup({ dir: cluster.planned[2]!.dir, out }), 'CONFLICT') // exists

  const full = join(cluster.dir, 'full.backup')
  let written = 0
  const openOut = async (path: string): Promise<OutFile> => {
    writeFileSync(path, '')
    return {
      async write(bytes: Uint8Array, offset: number, length: number) {
        if (written + length > 4096) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
        written += length
        return { bytesWritten: length }
      },
      async sync() {},
      async close() {},
    }
  }
  const e = (await rejects(() => takeBackup({ dir: cluster.planned[2]!.dir, out: full, openOut }), 'STORAGE_FULL')) as Error
  assert.match(e.message, /no space left/)
  assert.not.ok(existsSync(full))
  assert.equal(readdirSync(cluster.dir).filter((f) => f.includes('.partial')), [], 'the temporary file is removed')
  await cluster.start(2)
})

test('a node that reaches no peer does not sign; --alone signs at once', async () => {
  await cluster.close()
  cluster = await startCluster(3)
  const origin = cluster.nodes[0]!.origin
  await Promise.all([cluster.stop(0), cluster.stop(1), cluster.stop(2)])
  const lonely = await cluster.start(0, { ownLogTimeoutMs: 300 })
  await waitFor('no-peer state', () => lonely.ownLog.status().state === 'no-peer', 10_000)
  const e = (await rejects(() => lonely.publisher.submit(indicator('lonely')), 'CONFLICT')) as Error
  assert.match(e.message, /--alone/)
  // A peer comes back: the node asks it, and signs.
  await cluster.start(1)
  await waitFor('ready once a peer answers', () => lonely.ownLog.ready, 20_000)
  assert.is((await lonely.publisher.submit(indicator('after-peer'))).log, origin)
  await cluster.stop(0)
  await cluster.stop(1)
  const alone = await cluster.start(0, { alone: true })
  assert.ok(alone.ownLog.ready)
  assert.is((await alone.publisher.submit(indicator('alone'))).seq, 1)
})

test.run()
