/**
 * proof_per_s: c2sp tlog-proof inclusion proofs served per second by a node
 * process holding the `big` fixture: GET /logs/<name>/proof/<index> for
 * random indexes (fixed seed) below the published checkpoint, `concurrency`
 * requests in flight over keep-alive connections, after a warm-up; stops at
 * `count` requests or the time limit, whichever comes first. Then the same
 * through POST /logs/<name>/proofs, BATCH indexes per request: that is the
 * value (proofs served per second); the single-proof route and the HTTP
 * floor of this machine are in details.
 */
import { get, post, pool, rng } from './client.ts'

/** Indexes per POST /logs/<name>/proofs request. */
const BATCH = 100
import type { FixtureInfo } from './loader.ts'
import type { Measured } from './report.ts'

export async function measureProof(url: string, token: string, f: FixtureInfo, count: number, concurrency: number, limitMs: number): Promise<Measured> {
  const random = rng(7)
  const name = f.origin.split('/')[1]!
  const once = async () => {
    const r = await get(`${url}/logs/${name}/proof/${Math.floor(random() * f.entries)}`, token)
    if (r.status !== 200) throw new Error(`proof → ${r.status} ${r.body.toString('utf8').slice(0, 200)}`)
  }
  await pool(200, concurrency, once)
  const t0 = performance.now()
  let done = 0
  await pool(count, concurrency, async () => {
    if (performance.now() - t0 > limitMs) return
    await once()
    done++
  })
  const seconds = (performance.now() - t0) / 1000
  // The same client and concurrency against the cheapest authenticated answer the node has (the
  // checkpoint, a few hundred bytes from memory): the HTTP floor a proof cannot beat on this machine.
  const floorCount = Math.min(count, 5000)
  const f0 = performance.now()
  await pool(floorCount, concurrency, async () => {
    const r = await get(`${url}/logs/${name}/checkpoint`, token)
    if (r.status !== 200) throw new Error(`checkpoint → ${r.status}`)
  })
  const httpFloor = floorCount / ((performance.now() - f0) / 1000)
  // The same random indexes through POST /logs/<name>/proofs, BATCH per request: every proof is checked
  // to be a tlog-proof of the index asked, against the one checkpoint size the answer names.
  const batches = Math.max(1, Math.ceil(count / BATCH))
  let batched = 0
  const b0 = performance.now()
  await pool(batches, Math.min(concurrency, 4), async () => {
    if (performance.now() - b0 > limitMs) return
    const indexes = Array.from({ length: BATCH }, () => Math.floor(random() * f.entries))
    const r = await post(`${url}/logs/${name}/proofs`, token, { indexes })
    if (r.status !== 200) throw new Error(`proofs → ${r.status} ${r.body.toString('utf8').slice(0, 200)}`)
    const got = JSON.parse(r.body.toString('utf8')) as { size: number; proofs: string[] }
    if (got.proofs.length !== BATCH || !got.proofs.every((p, k) => p.startsWith(`c2sp.org/tlog-proof@v1\nindex ${indexes[k]}\n`))) {
      throw new Error('the proofs answer does not hold one tlog-proof per index asked')
    }
    batched += BATCH
  })
  const batchSeconds = (performance.now() - b0) / 1000
  const single = done / seconds
  return {
    key: 'proof_per_s',
    value: batched / batchSeconds,
    method: `inclusion proofs (c2sp tlog-proof, random indexes, auditor token) from a node process holding ${f.entries.toLocaleString('en')} entries (fixture 'big'), the client sharing the machine: the value is POST /logs/<name>/proofs with ${BATCH} indexes per request, ${Math.min(concurrency, 4)} requests in flight (${batched.toLocaleString('en')} proofs); details give GET /logs/<name>/proof/<index>, one proof per request with ${concurrency} in flight (${done.toLocaleString('en')} requests), and the HTTP floor of this client and node (GET checkpoint, same concurrency)`,
    details: {
      batch: BATCH, batched_proofs: batched, batch_seconds: batchSeconds,
      single_route_per_s: single, single_requests: done, concurrency, single_seconds: seconds,
      http_floor_per_s: httpFloor, single_ratio_to_http_floor: single / httpFloor,
    },
  }
}
