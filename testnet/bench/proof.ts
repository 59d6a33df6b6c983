/**
 * proof_per_s: c2sp tlog-proof inclusion proofs served per second by a node
 * process holding the `big` fixture: GET /logs/<name>/proof/<index> for
 * random indexes (fixed seed) below the published checkpoint, `concurrency`
 * requests in flight over keep-alive connections, after a warm-up; stops at
 * `count` requests or the time limit, whichever comes first.
 */
import { get, pool, rng } from './client.ts'
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
  return {
    key: 'proof_per_s',
    value: done / seconds,
    method: `${count} (or as many as fit in ${limitMs / 1000} s) GET /logs/<name>/proof/<random index> (auditor token) with ${concurrency} in flight over keep-alive connections, against a node process holding ${f.entries.toLocaleString('en')} entries (fixture 'big'); the client shares the machine with the node`,
    details: { requests: done, concurrency, seconds, http_floor_per_s: httpFloor, ratio_to_http_floor: done / seconds / httpFloor },
  }
}
