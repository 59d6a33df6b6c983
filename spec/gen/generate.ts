/**
 * Writes spec/vectors/<topic>/<case>.json from the per-topic generators.
 * Deterministic: keys come from fixed seeds (see seeds.ts), no clock, no randomness,
 * so re-running produces identical files (a test checks this).
 * Usage: npm run gen-vectors [-- topic...]   (default: every topic)
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { allTopics } from './topics.ts'

const outDir = new URL('../vectors', import.meta.url).pathname

const only = process.argv.slice(2)
for (const { topic, cases } of allTopics()) {
  if (only.length && !only.includes(topic)) continue
  const dir = join(outDir, topic)
  mkdirSync(dir, { recursive: true })
  for (const f of readdirSync(dir)) if (f.endsWith('.json')) rmSync(join(dir, f))
  const names = new Set<string>()
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate vector name ${topic}/${c.name}`)
    names.add(c.name)
    writeFileSync(join(dir, `${c.name}.json`), JSON.stringify(c.data, null, 2) + '\n')
  }
  console.log(`${topic}: ${cases.length} cases`)
}
