/**
 * match_exact_per_s: exact lookups per second against a provider's local copy
 * of the `big` fixture's set, in process: the copy `cairn sync` keeps
 * (cli/sync-client.ts syncLocalCopy, verified feed pages), loaded with
 * loadLocalSet, queried with `has(alg, value)` on one thread. Queries are
 * half stored live values, half values nobody holds, across every alg, in a
 * fixed pseudo-random order prepared before the clock starts; the hit count
 * is checked. Three rounds; the median round's rate is the value.
 *
 * The local copy is made once per fixture (its sync time is reported) and
 * kept next to the fixture; later runs reuse it.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { syncLocalCopy } from '../../client/sync.ts'
import { loadLocalSet } from '../../client/local-copy.ts'
import { rng } from './client.ts'
import { algOf, benchValue, absentValue, isRevoked } from './records.ts'
import { storedIndicators } from './lookup.ts'
import type { FixtureInfo } from './loader.ts'
import type { Measured } from './report.ts'

const DISTINCT_QUERIES = 200_000

interface CopyInfo {
  seconds: number
  entries: number
  added: number
  removed: number
  made: string
}

/** The provider's local copy of fixture `f`'s set (made once with cairn sync, then reused); returns its folder and how it was made. */
export async function ensureLocalCopy(url: string, token: string, f: FixtureInfo, say: (line: string) => void): Promise<{ dir: string; copy: CopyInfo & { cached: boolean } }> {
  const dir = join(f.dir, 'provider-copy')
  const marker = join(dir, 'complete.json')
  if (existsSync(marker)) return { dir, copy: { ...(JSON.parse(readFileSync(marker, 'utf8')) as CopyInfo), cached: true } }
  rmSync(dir, { recursive: true, force: true })
  say(`  making the provider's local copy of fixture ${f.owner} with cairn sync (syncLocalCopy)…`)
  const t0 = performance.now()
  const r = await syncLocalCopy({ node: url, token, dir, minWitnesses: 0, genesis: join(f.dir, 'genesis.json'), warn: () => {} })
  const info: CopyInfo = { seconds: (performance.now() - t0) / 1000, entries: r.entries, added: r.added, removed: r.removed, made: new Date().toISOString() }
  writeFileSync(marker, JSON.stringify(info, null, 2) + '\n')
  say(`  local copy made in ${info.seconds.toFixed(0)} s (${Math.round(info.entries / info.seconds).toLocaleString('en')} entries/s)`)
  return { dir, copy: { ...info, cached: false } }
}

export async function measureMatch(url: string, token: string, f: FixtureInfo, expected: number, lookups: number, say: (line: string) => void): Promise<Measured> {
  const { dir, copy } = await ensureLocalCopy(url, token, f, say)
  const l0 = performance.now()
  const set = loadLocalSet(dir)
  const loadSeconds = (performance.now() - l0) / 1000
  if (set.size !== expected) throw new Error(`the local copy holds ${set.size} indicators, expected ${expected}`)

  const random = rng(42)
  const stored = storedIndicators(f.entries)
  const algs: string[] = []
  const values: Uint8Array[] = []
  let present = 0
  for (let i = 0; i < DISTINCT_QUERIES; i++) {
    if (i % 2 === 0) {
      let k = Math.floor(random() * stored)
      while (isRevoked(k)) k = Math.floor(random() * stored)
      algs.push(algOf(k))
      values.push(benchValue(f.origin, k))
      present++
    } else {
      const alg = algOf(Math.floor(random() * 10))
      algs.push(alg)
      values.push(absentValue(alg, i))
    }
  }
  let hits = 0
  for (let i = 0; i < DISTINCT_QUERIES; i++) if (set.has(algs[i]!, values[i]!)) hits++
  if (hits !== present) throw new Error(`the local copy answered ${hits} hits for ${present} stored values`)
  // Three rounds of lookups/3 each; the median round counts (a busy neighbour spoils a round, not the figure).
  const rounds: number[] = []
  let found = 0
  let seconds = 0
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now()
    const share = Math.ceil(lookups / 3)
    for (let done = 0; done < share; done += DISTINCT_QUERIES) {
      const n = Math.min(DISTINCT_QUERIES, share - done)
      for (let i = 0; i < n; i++) if (set.has(algs[i]!, values[i]!)) found++
    }
    const s = (performance.now() - t0) / 1000
    seconds += s
    rounds.push(share / s)
  }
  if (found === 0) throw new Error('no hits')
  const rate = [...rounds].sort((a, b) => a - b)[1]!
  // The same queries one alg at a time, to show which table is slow.
  const perAlg: Record<string, number> = {}
  for (const alg of [...new Set(algs)].sort()) {
    const vs = values.filter((_, i) => algs[i] === alg)
    const reps = Math.max(1, Math.ceil(200_000 / vs.length))
    const a0 = performance.now()
    for (let r = 0; r < reps; r++) for (const v of vs) set.has(alg, v)
    perAlg[alg] = Math.round((reps * vs.length) / ((performance.now() - a0) / 1000))
  }
  return {
    key: 'match_exact_per_s',
    value: rate,
    method: `${lookups.toLocaleString('en')} in-process LocalSet.has(alg, value) calls on one thread against the local copy made by cairn sync (syncLocalCopy from the node holding fixture 'big', then loadLocalSet); ${DISTINCT_QUERIES.toLocaleString('en')} distinct queries (half stored live values, half absent; all algs incl. the variable-length tmk_pdqf) cycled in a fixed order; three rounds, the median round's rate`,
    details: {
      lookups, seconds, rounds_per_s: rounds.map(Math.round), per_alg_per_s: perAlg, set_size: set.size, load_seconds: loadSeconds,
      local_copy: { made_by: 'cairn sync (syncLocalCopy)', sync_seconds: copy.seconds, entries: copy.entries, cached: copy.cached, made: copy.made },
    },
  }
}
