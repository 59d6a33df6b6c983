/**
 * The bench-only loader: node directories whose store already holds a large
 * log, written straight into the store while no node runs, so size-1M and
 * size-10M measures start in seconds instead of hours of publishing.
 *
 * Entries are real records (testnet/bench/records.ts, encodeRecord) made in
 * worker threads (both cores); the main thread appends them in order with
 * Store.append, which computes the Merkle tree, tiles, indexes and counters
 * exactly as for synced entries, and the last batch carries a checkpoint
 * signed with the log's key (signCheckpoint). Signatures are real for the
 * `signed` fixture (sync and verify check every one) and a fixed placeholder
 * for the `big` fixture (its serving paths never re-verify entries).
 *
 * Fixtures are cached under <cache>/scale-<s>-<fingerprint>/ (default cache:
 * os.tmpdir()/cairn-bench-cache). The fingerprint hashes what this code
 * writes for a small sample (see fingerprint) and FIXTURE_VERSION; other
 * fingerprints of the same scale are deleted (they take gigabytes). A fixture
 * counts only once its complete.json is written. Run with --fresh to rebuild
 * regardless.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelKV, MemoryKV } from '../../node/storage/kv.ts'
import { u64 } from '../../node/storage/keys.ts'
import { SetLines, setLinesDir } from '../../node/provider/set-lines.ts'
import { loadValueFilter, saveValueFilter } from '../../node/storage/open.ts'
import { jsonlLine } from '../../node/provider/jsonl-line.ts'
import { sha256, utf8 } from '../../protocol/bytes.ts'
import { Store, type AppendItem } from '../../node/storage/store.ts'
import { WorkerPool, defaultPoolSize } from '../../workers/pool.ts'
import { loadKeys, loadGenesis, loadNodeFile, saveNodeFile, writeGenesis, LIMIT_DEFAULTS } from '../../node/config.ts'
import { signCheckpoint } from '../../protocol/checkpoint.ts'
import { planFederation, freePort } from '../federation.ts'
import { makeEntriesJob, BLOCK, type MakeEntriesInput, type MakeEntriesOutput } from './records.ts'

export const FEDERATION = 'bench.cairn'
/**
 * node.json `limits` of every bench node: the measures send thousands of requests a second from one
 * token and one address (loopback), which the default rate limits would refuse. No rate limits; the
 * connection caps and timeouts stay as by default.
 */
export const BENCH_LIMITS = { ...LIMIT_DEFAULTS, token: { rate_per_s: 0, burst: 1 }, address: { rate_per_s: 0, burst: 1 } }
/** Bump when the fixtures change in a way the sample below cannot show (fixture shape, federation layout). 2: the current set moved into the record index. */
const FIXTURE_VERSION = 2
/** Entries per worker job and per Store.append batch (a multiple of BLOCK). */
const CHUNK = BLOCK * 100

export interface FixtureInfo {
  /** Federation directory (genesis.json and one folder per member). */
  dir: string
  /** Origin of the loaded log, and the member that owns it. */
  origin: string
  owner: string
  members: string[]
  entries: number
  signed: boolean
  /** Seconds the generation took (when it was made). */
  seconds: number
  made: string
  /** True if this run found it in the cache. */
  cached: boolean
  /** Seconds this run spent writing the snapshot line files (ensureSetLines; 0 if they were complete). */
  setLinesSeconds?: number
}

export function cacheRoot(override?: string): string {
  return override ?? join(tmpdir(), 'cairn-bench-cache')
}

/** Entries of the sample the fingerprint is taken of: two blocks (every alg of the mix, categories, a revocation). */
const SAMPLE_ENTRIES = 2 * BLOCK

/**
 * The cache key of fixtures: FIXTURE_VERSION and a hash of what the loader's
 * own path writes for a sample. makeEntriesJob makes two blocks of entries,
 * once signed and once with the placeholder; Store.append writes each into a
 * memory store with a signed checkpoint; every key and value of the store is
 * hashed in order, with the snapshot line of every indicator. A change to
 * records, entries, key layout, what append writes or the line format changes
 * it. A refactor that writes the same bytes does not: a fixture at scale 1
 * takes about 40 minutes to rebuild. (It used to hash the source files, so
 * any edit of them cost a rebuild.)
 */
export async function fingerprint(): Promise<string> {
  const h = createHash('sha256').update(`fixture/${FIXTURE_VERSION}\n`)
  const seed = sha256(utf8('cairn bench fixture fingerprint'))
  const origin = `${FEDERATION}/fingerprint`
  const length = (n: number) => h.update(u64(n))
  for (const signed of [true, false]) {
    const made = makeEntriesJob({ origin, start: 0, count: SAMPLE_ENTRIES, seed: signed ? seed : undefined }).result
    const kv = new MemoryKV()
    const store = await Store.open(kv)
    try {
      await store.registerLog(origin)
      const items: AppendItem[] = made.records.map((record, i) => ({ entry: made.entries[i]!, id: made.ids.subarray(32 * i, 32 * i + 32), record }))
      await store.append(origin, 0, items, { checkpoint: (size, root) => signCheckpoint({ origin, size, root }, { name: origin, seed }) })
      for await (const [k, v] of kv.iterate({})) length(k.length).update(k).update(u64(v.length)).update(v)
      items.forEach((it, i) => {
        if (it.record.type === 'indicator') h.update(jsonlLine(origin, i, it.id, it.record))
      })
    } finally {
      await store.close()
    }
  }
  return h.digest('hex').slice(0, 12)
}

/** The cache folder of this scale for fixtures of `fingerprint()`; removes folders of the same scale with other fingerprints. */
export function scaleDir(cache: string, scale: number, fingerprint: string): string {
  const prefix = `scale-${scale}-`
  const name = prefix + fingerprint
  mkdirSync(cache, { recursive: true })
  for (const other of readdirSync(cache)) {
    if (other.startsWith(prefix) && other !== name) rmSync(join(cache, other), { recursive: true, force: true })
  }
  const dir = join(cache, name)
  mkdirSync(dir, { recursive: true })
  return dir
}

export interface FixtureSpec {
  /** Folder name under the scale folder. */
  name: string
  /** Members of the federation; the first one owns the loaded log. */
  members: string[]
  entries: number
  signed: boolean
}

/** Returns the fixture from the cache, or builds it. `fresh` rebuilds regardless. */
export async function fixture(base: string, spec: FixtureSpec, opts: { fresh?: boolean; say?: (line: string) => void } = {}): Promise<FixtureInfo> {
  const dir = join(base, spec.name)
  const marker = join(dir, 'complete.json')
  if (!opts.fresh && existsSync(marker)) {
    const info = JSON.parse(readFileSync(marker, 'utf8')) as FixtureInfo
    if (info.entries === spec.entries && info.signed === spec.signed) {
      const setLinesSeconds = await ensureSetLines(join(dir, info.owner), opts.say ?? (() => {}))
      return { ...info, dir, cached: true, setLinesSeconds }
    }
  }
  rmSync(dir, { recursive: true, force: true })
  const started = Date.now()
  const { nodes } = await planFederation({ dir, federation: FEDERATION, names: spec.members, threshold: 1 })
  const owner = nodes[0]!
  await fillLog(owner.dir, owner.origin, spec.entries, spec.signed, opts.say ?? (() => {}))
  const setLinesSeconds = await ensureSetLines(owner.dir, opts.say ?? (() => {}))
  const info: FixtureInfo = {
    dir, origin: owner.origin, owner: owner.name, members: spec.members, entries: spec.entries, signed: spec.signed,
    seconds: (Date.now() - started) / 1000, made: new Date().toISOString(), cached: false, setLinesSeconds,
  }
  writeFileSync(marker, JSON.stringify(info, null, 2) + '\n')
  return info
}

/**
 * Writes the snapshot line files (node/set-lines.ts) of the store in
 * `nodeDir` up to its size, as the node does for every batch it stores, so
 * that the node started on the fixture does not spend its first minutes (and
 * memory) catching them up; and its value filter's file (storage/open.ts), as
 * a node keeps it when it stops. Returns the seconds the lines took (0 when
 * complete).
 */
export async function ensureSetLines(nodeDir: string, say: (line: string) => void): Promise<number> {
  const t0 = performance.now()
  const db = join(nodeDir, 'db')
  const store = await Store.open(await LevelKV.open(db))
  try {
    if (await loadValueFilter(db, store) !== true) {
      const t = performance.now()
      await store.fillValueFilter()
      await saveValueFilter(db, store)
      say(`  value filter: filled by a scan of the value index in ${((performance.now() - t) / 1000).toFixed(0)} s`)
    }
    const lines = await SetLines.open(setLinesDir(nodeDir), store)
    const progress = setInterval(() => say(`  set lines: ${lines.linesWritten.toLocaleString('en')} lines written`), 15_000)
    try {
      await lines.caughtUp()
    } finally {
      clearInterval(progress)
      await lines.close()
    }
    if (lines.linesWritten > 0) say(`  set lines: ${lines.linesWritten.toLocaleString('en')} lines written in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
    return lines.linesWritten > 0 ? (performance.now() - t0) / 1000 : 0
  } finally {
    await store.close()
  }
}

/** Appends `count` bench entries to `origin`'s log in the store of the node directory `nodeDir`. */
async function fillLog(nodeDir: string, origin: string, count: number, signed: boolean, say: (line: string) => void): Promise<void> {
  const keys = await loadKeys(nodeDir)
  const kv = await LevelKV.open(join(nodeDir, 'db'))
  const store = await Store.open(kv)
  const workers = Math.max(1, defaultPoolSize())
  const pool = new WorkerPool<MakeEntriesInput, MakeEntriesOutput>(new URL('./records.ts', import.meta.url).href, 'makeEntriesJob', makeEntriesJob, workers)
  try {
    await store.registerLog(origin)
    const jobs: Promise<MakeEntriesOutput>[] = []
    let next = 0
    const launch = () => {
      if (next >= count) return
      const n = Math.min(CHUNK, count - next)
      jobs.push(pool.run({ origin, start: next, count: n, seed: signed ? keys.logSeed : undefined }))
      next += n
    }
    for (let i = 0; i < workers + 2; i++) launch()
    let done = 0
    let lastSay = Date.now()
    const started = Date.now()
    while (done < count) {
      const out = await jobs.shift()!
      launch()
      const items: AppendItem[] = out.records.map((record, i) => ({ entry: out.entries[i]!, id: out.ids.subarray(32 * i, 32 * i + 32), record }))
      const last = done + items.length === count
      await store.append(origin, done, items, {
        durable: last,
        checkpoint: last ? (size, root) => signCheckpoint({ origin, size, root }, { name: origin, seed: keys.logSeed }) : undefined,
      })
      done += items.length
      if (Date.now() - lastSay > 10_000 || last) {
        lastSay = Date.now()
        const rate = done / ((Date.now() - started) / 1000)
        say(`  loader: ${origin} ${done.toLocaleString('en')}/${count.toLocaleString('en')} entries (${Math.round(rate).toLocaleString('en')}/s${signed ? ', signed' : ''})`)
      }
    }
  } finally {
    await pool.close()
    await store.close()
  }
}

/**
 * Gives every member of a fixture federation fresh loopback ports (the cached
 * ones may be taken by now): a new libp2p port in node.json and in the
 * genesis roster's addresses, HTTP port 0 (any; the node writes node.url).
 */
export async function freshPorts(f: FixtureInfo): Promise<void> {
  const g = loadGenesis(join(f.dir, 'genesis.json'))
  for (const m of g.members) {
    const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`
    const nodeDir = join(f.dir, m.name)
    const settings = loadNodeFile(nodeDir)
    saveNodeFile(nodeDir, { ...settings, listen: [listen], http: { host: '127.0.0.1', port: 0 }, limits: BENCH_LIMITS })
    m.addrs = [listen]
  }
  writeGenesis(join(f.dir, 'genesis.json'), g)
  for (const m of g.members) writeGenesis(join(f.dir, m.name, 'genesis.json'), g)
}

/** Removes a member's store (e.g. the node that must start empty). */
export function dropStore(f: FixtureInfo, member: string): void {
  rmSync(join(f.dir, member, 'db'), { recursive: true, force: true })
  rmSync(join(f.dir, member, 'operator.token'), { force: true })
}
