/**
 * hypercore_replicate_per_s: the peer cairn's sync is compared with (issue 24).
 * Blocks per second of hypercore (v11, the library, bench only) replicating a
 * core of `count` blocks to an empty core in another process over TCP on
 * 127.0.0.1 — the same count as the sync bench, each block the bytes of the
 * bench log's entry at that index (testnet/bench/records.ts, same origin and
 * records, so the same sizes; signature bytes are the placeholder: hypercore
 * signs its tree, not blocks).
 *
 * The writer appends in this process (batches of 1,000, untimed) and serves
 * core.replicate(false) on each TCP connection; testnet/bench/hypercore-peer.ts,
 * a child process, downloads every block (hypercore verifies each batch's
 * Merkle proof against the writer's signed tree) and reports the time from its
 * TCP connection to the last block stored.
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { createServer, type Socket } from 'node:net'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Hypercore from 'hypercore'
import { makeEntriesJob, BLOCK } from './records.ts'
import type { Measured } from './report.ts'

const root = new URL('../..', import.meta.url).pathname
const APPEND_BATCH = 1000
const HYPERCORE_VERSION = (createRequire(import.meta.url)('hypercore/package.json') as { version: string }).version

export async function measureHypercore(origin: string, count: number, timeoutMs: number): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-hypercore-'))
  const core = new Hypercore(join(dir, 'writer'))
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    socket.pipe(core.replicate(false)).pipe(socket)
  })
  try {
    await core.ready()
    const t0 = performance.now()
    let last: Uint8Array | undefined
    let bytes = 0
    for (let start = 0; start < count; start += BLOCK * 100) {
      const { result } = makeEntriesJob({ origin, start, count: Math.min(BLOCK * 100, count - start) })
      for (let i = 0; i < result.entries.length; i += APPEND_BATCH) {
        const batch = result.entries.slice(i, i + APPEND_BATCH).map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength))
        await core.append(batch)
        for (const e of batch) bytes += e.byteLength
      }
      last = result.entries[result.entries.length - 1]
    }
    const appendSeconds = (performance.now() - t0) / 1000
    if (core.length !== count || !last) throw new Error(`the writer's core holds ${core.length} blocks, expected ${count}`)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    const lastHash = createHash('sha256').update(last).digest('hex')
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'testnet/bench/hypercore-peer.ts'), join(dir, 'reader'), String(port), core.key!.toString('hex'), String(count), lastHash], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    clearTimeout(timer)
    const line = out.trim().split('\n').pop() ?? ''
    let r: { seconds?: number; length?: number; byte_length?: number; error?: string } = {}
    try {
      r = JSON.parse(line)
    } catch {
      // reported below
    }
    if (code !== 0 || r.seconds === undefined) throw new Error(`the hypercore peer failed (exit ${code}): ${r.error ?? (line || err.trim().split('\n').slice(-3).join(' | ') || 'no output, timed out?')}`)
    return {
      key: 'hypercore_replicate_per_s',
      value: count / r.seconds,
      method: `hypercore ${HYPERCORE_VERSION} (bench only): ${count.toLocaleString('en')} blocks, each the bytes of the bench log's entry at that index (origin ${origin}, placeholder signature bytes), appended in this process in batches of ${APPEND_BATCH} (untimed), then replicated over TCP on 127.0.0.1 to an empty core in a child process (testnet/bench/hypercore-peer.ts: core.replicate piped over the socket, download of [0, ${count}), every batch verified against the writer's signed tree, the last block compared); timed in the child from its TCP connection to the last block stored`,
      details: { blocks: count, bytes, seconds: r.seconds, append_seconds: appendSeconds },
    }
  } finally {
    for (const s of sockets) s.destroy()
    server.close()
    await core.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
