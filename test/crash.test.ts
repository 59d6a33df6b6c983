/**
 * Crash safety with real processes: SIGKILL a node during an import, restart
 * it, and check that every record the API acknowledged is stored at the index
 * it was given, that the log is consistent with every checkpoint the node
 * published before the kill, and that the federation converges again.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { launch, waitConverged, type Launched } from '../testnet/launch.ts'
import { spawnNode, stopNode, call } from '../testnet/processes.ts'
import { sampleIndicator } from '../testnet/samples.ts'
import { LevelKV } from '../node/storage/kv.ts'
import { Store } from '../node/storage/store.ts'
import { fromHex, toHex, fromBase64 } from '../protocol/bytes.ts'

let fed: Launched | undefined
const dir = mkdtempSync(join(tmpdir(), 'cairn-crash-'))

test.after(async () => {
  await fed?.stop()
  rmSync(dir, { recursive: true, force: true })
})

test('SIGKILL during imports loses no acknowledged record and breaks no checkpoint', async () => {
  fed = await launch(dir, ['c1', 'c2', 'c3'], 'crash.cairn')
  const acked = new Map<string, number>() // id → seq
  const checkpoints: { size: number; root: string }[] = []
  let next = 0
  for (let round = 0; round < 3; round++) {
    const p = fed.procs[0]!
    let killed = false
    const importer = (async () => {
      while (!killed) {
        const bodies = Array.from({ length: 300 }, () => sampleIndicator('crash', next++))
        try {
          const r = await call<{ results: { id: string; seq: number }[] }>(p.url, p.operatorToken, 'POST', '/records', { records: bodies })
          for (const x of r.results) acked.set(x.id, x.seq)
          const cp = await call<string>(p.url, undefined, 'GET', '/logs/c1/checkpoint')
          const [, size, root] = cp.split('\n')
          checkpoints.push({ size: Number(size), root: root! })
        } catch {
          return // the node died under us: this batch was never acknowledged
        }
      }
    })()
    // Kill at a moment inside the import: after this round's first acknowledgement, plus a little.
    const before = acked.size
    const deadline = Date.now() + 60_000
    while (acked.size === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, 50 + round * 120))
    killed = true
    await stopNode(p, 'SIGKILL')
    await importer
    fed.procs[0] = await spawnNode(fed.planned[0]!.dir)
  }
  assert.ok(acked.size > 0, 'some records were acknowledged')
  await waitConverged(fed.procs.map((x) => x.url), undefined, 60_000)

  // White-box check of the restarted node's store.
  await stopNode(fed.procs[0]!, 'SIGTERM')
  const store = await Store.open(await LevelKV.open(join(fed.planned[0]!.dir, 'db')))
  try {
    const origin = fed.planned[0]!.origin
    for (const [id, seq] of acked) assert.equal(await store.locate(fromHex(id)), { origin, index: seq }, `record ${id} at ${seq}`)
    for (const cp of checkpoints) assert.is(toHex(await store.root(origin, cp.size)), toHex(fromBase64(cp.root)), `consistent with checkpoint at ${cp.size}`)
  } finally {
    await store.close()
  }
  fed.procs[0] = await spawnNode(fed.planned[0]!.dir)
})

test.run()
