import '../../node/polyfill.ts'
import { LevelKV } from '../../node/storage/kv.ts'
import { Store } from '../../node/storage/store.ts'
import { algOf, benchValue } from './records.ts'
import { storedIndicators } from './lookup.ts'
import { rng, percentile, median } from './client.ts'
const kv = await LevelKV.open(process.argv[2]!)
const store = await Store.open(kv)
const logs = store.listLogs()
const log = logs.find((l) => l.size > 1000)!
console.log(log.origin, log.size)
const n = storedIndicators(log.size)
const random = rng(Number(process.argv[3] ?? 7))
const t: Record<string, number[]> = { ids: [], locate: [], entry: [], proof: [], refs: [], all: [] }
for (let i = 0; i < 2000; i++) {
  const k = Math.floor(random() * n)
  const a = performance.now()
  const ids = await store.idsForValue(algOf(k), benchValue(log.origin, k))
  const b = performance.now()
  const at = (await store.locate(ids[0]!))!
  const c = performance.now()
  await store.entry(at.origin, at.index)
  const d = performance.now()
  await store.inclusionProof(at.origin, at.index, log.checkpointSize)
  const e = performance.now()
  await store.references(ids[0]!)
  const f = performance.now()
  t.ids!.push(b - a); t.locate!.push(c - b); t.entry!.push(d - c); t.proof!.push(e - d); t.refs!.push(f - e); t.all!.push(f - a)
}
for (const [k, v] of Object.entries(t)) console.log(k.padEnd(8), 'p50', median(v).toFixed(3), 'p90', percentile(v, 90).toFixed(3), 'p99', percentile(v, 99).toFixed(3), 'max', Math.max(...v).toFixed(2))
await kv.close()
