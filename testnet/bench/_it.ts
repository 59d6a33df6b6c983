import '../../node/polyfill.ts'
import { Level } from 'level'
import { keys } from '../../node/storage/keys.ts'
import { ALG_CODES } from '../../node/storage/codes.ts'
import { algOf, benchValue } from './records.ts'
import { storedIndicators } from './lookup.ts'
import { rng, percentile, median } from './client.ts'
const db = new Level<Uint8Array, Uint8Array>(process.argv[2]!, { keyEncoding: 'view', valueEncoding: 'view', maxOpenFiles: 4096 })
await db.open()
const n = storedIndicators(10_200_000)
const prefixEnd = (p: Uint8Array) => { const e = new Uint8Array(p); for (let i = e.length - 1; i >= 0; i--) { if (e[i] !== 255) { e[i]!++; return e.subarray(0, i + 1) } } throw 0 }
const origin = 'bench.cairn/big'
const methods: Record<string, (p: Uint8Array) => Promise<number>> = {
  forawait: async (p) => { let c = 0; for await (const _ of db.iterator({ gte: p, lt: prefixEnd(p), limit: 10000 })) c++; return c },
  keysall: async (p) => (await db.keys({ gte: p, lt: prefixEnd(p), limit: 10000 }).all()).length,
  nextv: async (p) => { const it = db.keys({ gte: p, lt: prefixEnd(p), limit: 10000 }); const r = await it.nextv(10000); await it.close(); return r.length },
}
for (const round of [1, 2]) for (const [name, fn] of Object.entries(methods)) {
  const random = rng(round * 100)
  const ms: number[] = []
  for (let i = 0; i < 2000; i++) {
    const k = Math.floor(random() * n)
    const p = keys.value(ALG_CODES[algOf(k)], benchValue(origin, k))
    const a = performance.now()
    const c = await fn(p)
    ms.push(performance.now() - a)
    if (c !== 1) throw new Error('count ' + c)
  }
  console.log(round, name.padEnd(9), 'p50', median(ms).toFixed(3), 'p90', percentile(ms, 90).toFixed(3), 'p99', percentile(ms, 99).toFixed(3), 'max', Math.max(...ms).toFixed(2))
}
await db.close()
