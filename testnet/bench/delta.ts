/**
 * delta_10k_ms: one provider GET /feed page of 10,000 changes from a node
 * process holding the `big` fixture. In the bench layout every entry is a
 * change (an add or, 1 in 102, a remove), so a page from a cursor at a
 * random position with limit=10000 carries exactly 10,000 items. Several
 * pages at random positions; the value is the median time to the last byte.
 * One page with entries=1 (what `cairn sync` asks for) is timed for the record.
 */
import { encodeCursor } from '../../protocol/feed-cursor.ts'
import { get, median, rng } from './client.ts'
import type { FixtureInfo } from './loader.ts'
import type { Measured } from './report.ts'

const CHANGES = 10_000

export async function measureDelta(url: string, token: string, f: FixtureInfo, pages: number): Promise<Measured> {
  const random = rng(10)
  const page = async (withEntries: boolean) => {
    const from = Math.floor(random() * Math.max(1, f.entries - CHANGES))
    const cursor = encodeCursor(new Map([[f.origin, from]]))
    const r = await get(`${url}/feed?cursor=${cursor}&limit=${CHANGES}${withEntries ? '&entries=1' : ''}`, token)
    if (r.status !== 200) throw new Error(`feed → ${r.status} ${r.body.toString('utf8').slice(0, 200)}`)
    const items = (JSON.parse(r.body.toString('utf8')) as { items: unknown[] }).items.length
    if (items !== Math.min(CHANGES, f.entries - from)) throw new Error(`a feed page from ${from} has ${items} items, expected ${CHANGES}`)
    return { ms: r.ms, bytes: r.body.length }
  }
  await page(false) // warm-up
  const runs: { ms: number; bytes: number }[] = []
  for (let i = 0; i < pages; i++) runs.push(await page(false))
  const withEntries = await page(true)
  return {
    key: 'delta_10k_ms',
    value: median(runs.map((r) => r.ms)),
    method: `GET /feed?cursor=<random position>&limit=10000 (provider token) on a node process holding ${f.entries.toLocaleString('en')} entries (fixture 'big'): 10,000 changes per page; median of ${pages} pages after a warm-up, time to the last byte`,
    details: { pages, all_ms: runs.map((r) => Math.round(r.ms)), page_bytes: runs[0]?.bytes, with_entries_ms: withEntries.ms, with_entries_bytes: withEntries.bytes },
  }
}
