/**
 * A real full disk, not an injected error: a node process whose directory is
 * a small tmpfs (mounted by the test; it needs root and skips with one line
 * otherwise). With a reserve (storage.min_free_mib) writes are refused
 * before LevelDB meets the full disk and resume by themselves. Without one,
 * LevelDB's write-ahead log meets it; left to itself LevelDB then appends
 * after the torn record and, on the next open, drops the damaged block with
 * later acknowledged records in it (this test caught that), so the store
 * refuses writes until a restart. A start on the full disk is one line; once
 * space is back every acknowledged record is there.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { planFederation } from '../testnet/federation.ts'
import { loadNodeFile, saveNodeFile } from '../node/config.ts'
import { spawnNode, stopNode, type NodeProcess } from '../testnet/processes.ts'
import { sha256, toHex, utf8 } from '../protocol/bytes.ts'

const base = mkdtempSync(join(tmpdir(), 'cairn-full-disk-'))
const mnt = join(base, 'disk')

function mountTmpfs(): string | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'needs root on Linux to mount a tmpfs'
  spawnSync('mkdir', ['-p', mnt])
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m,mode=0700', 'tmpfs', mnt], { encoding: 'utf8' })
  return r.status === 0 ? undefined : `mount -t tmpfs failed (${(r.stderr || r.error?.message || '').trim()})`
}

/** Fills the tmpfs to the last byte; returns the filler's path. */
function fill(): string {
  const path = join(mnt, 'filler')
  const fd = openSync(path, 'a')
  const chunk = Buffer.alloc(256 * 1024)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
  }
  const small = Buffer.alloc(512)
  try {
    for (;;) writeSync(fd, small)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
  } finally {
    closeSync(fd)
  }
  return path
}

const indicator = (i: number) => ({ type: 'indicator', alg: 'sha256', value: toHex(sha256(utf8(`full disk ${i}`))), category: 'B2', kind: 'known_material', media: 'image' })

async function post(p: NodeProcess, from: number, n: number): Promise<{ status: number; code?: string; message?: string }> {
  const r = await fetch(`${p.url}/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${p.operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ records: Array.from({ length: n }, (_, k) => indicator(from + k)) }),
  })
  const text = await r.text()
  if (!r.ok) {
    const e = (JSON.parse(text) as { error: { code: string; message: string } }).error
    return { status: r.status, code: e.code, message: e.message }
  }
  // A list is answered 200 with a result per record: all stored, or (here) none, with the error of the first.
  const answer = JSON.parse(text) as { accepted: number; results: ({ error?: { code: string; message: string } })[] }
  if (answer.accepted === n) return { status: 200 }
  assert.is(answer.accepted, 0, `a part of the list was stored: ${text.slice(0, 300)}`)
  const e = answer.results[0]!.error!
  return { status: 507, code: e.code, message: e.message }
}

async function waitSize(p: NodeProcess, n: number): Promise<void> {
  for (let t = 0; t < 50 && (await size(p, 'solo')) < n; t++) await new Promise((res) => setTimeout(res, 100))
  assert.is(await size(p, 'solo'), n, 'the checkpoint covers every acknowledged record')
}

const size = async (p: NodeProcess, name: string) => Number((await (await fetch(`${p.url}/logs/${name}/checkpoint`)).text()).split('\n')[1])

const skip = mountTmpfs()

test.after(() => {
  if (process.env.KEEP_FULL_DISK) return console.log('kept', mnt)
  if (!skip) spawnSync('umount', ['-l', mnt])
  rmSync(base, { recursive: true, force: true })
})

test('a node on a real full disk: the reserve refuses writes (507) before LevelDB meets the full disk, reads go on, writes resume by themselves; without a reserve, writes stay refused until a restart and nothing acknowledged is lost; a start on the full disk is one line', async () => {
  if (skip) {
    console.log(`full-disk.test.ts: skipped, ${skip}`)
    return
  }
  const { nodes } = await planFederation({ dir: mnt, names: ['solo'], threshold: 1, batch: { max_records: 2000, max_ms: 20 } })
  const dir = nodes[0]!.dir
  const reserve = (mib: number) => saveNodeFile(dir, { ...loadNodeFile(dir), storage: { min_free_mib: mib } })
  const logText = () => readFileSync(join(dir, 'node.log'), 'utf8').split('\n').filter((l) => !/"level":30/.test(l)).slice(-20).join('\n')
  reserve(4)
  let p = await spawnNode(dir)
  let acknowledged = 0
  let next = 0
  const publish = async (n: number) => {
    const r = await post(p, next, n)
    next += n
    if (r.status === 200) acknowledged += n
    return r
  }
  for (let i = 0; i < 5; i++) assert.is((await publish(200)).status, 200)

  // 1. The reserve: the disk fills, writes are refused before LevelDB's log meets it; reads go on.
  let filler = fill()
  const refused = await publish(500)
  assert.is(refused.status, 507, JSON.stringify(refused))
  assert.is(refused.code, 'STORAGE_FULL')
  assert.match(refused.message ?? '', /reserve.*resume by themselves/)
  assert.is(p.proc.exitCode, null, 'the node is still running')
  assert.is(await size(p, 'solo'), acknowledged)
  assert.is((await fetch(`${p.url}/logs`)).status, 200)
  rmSync(filler)
  assert.is((await publish(100)).status, 200, 'writes resume by themselves once space is freed')
  await waitSize(p, acknowledged)

  // 2. No reserve: LevelDB meets the full disk. That write is refused, and so is every later one until a restart.
  await stopNode(p)
  reserve(0)
  p = await spawnNode(dir)
  filler = fill()
  let hit: Awaited<ReturnType<typeof post>> | undefined
  for (let i = 0; i < 40 && !hit; i++) {
    const r = await publish(500)
    if (r.status !== 200) hit = r
  }
  assert.ok(hit, 'the disk never filled up')
  assert.is(hit!.status, 507, JSON.stringify(hit))
  assert.is(hit!.code, 'STORAGE_FULL')
  assert.is((await fetch(`${p.url}/logs/solo/checkpoint`)).status, 200, 'reads go on')
  rmSync(filler)
  const after = await publish(100)
  assert.is(after.status, 507, 'still refused after space returned: the write-ahead log must be reopened')
  assert.match(after.message ?? '', /until the node is restarted/)
  await waitSize(p, acknowledged)

  // 3. Full again, kill -9, a start on the full disk: one line naming STORAGE_FULL (or a start, if LevelDB needs no new file).
  filler = fill()
  await stopNode(p, 'SIGKILL')
  try {
    p = await spawnNode(dir, { timeoutMs: 30_000 })
    assert.is(await size(p, 'solo'), acknowledged, 'started on the full disk with every acknowledged record')
    await stopNode(p, 'SIGKILL')
  } catch (e) {
    assert.match(String((e as Error).message), /died while starting/, String(e))
    const log = readFileSync(join(dir, 'node.log'), 'utf8')
    assert.match(log, /error STORAGE_FULL: .*No space left on device/)
    assert.not.match(log, /^\s+at /m, 'no stack trace')
  }
  rmSync(filler)
  p = await spawnNode(dir)
  assert.is(await size(p, 'solo'), acknowledged, `every acknowledged record is there after the restart; the node's log:\n${logText()}`)
  assert.is((await publish(10)).status, 200, 'writes again after the restart')
  await stopNode(p)
})

test.run()
