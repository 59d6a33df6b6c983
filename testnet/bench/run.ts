/**
 * `npm run bench [-- options]`: cairn's performance figures (issue 8), each
 * judged against a target, relative targets against baselines measured in
 * the same run on the same machine. Prints a table and writes results.json.
 *
 *   --quick            every measure at 1/100 scale (a check, ~2 min once fixtures are cached)
 *   --scale <x>        any other scale (1 = full)
 *   --only <k1,k2>     run only these measures (results go to a temp file unless --out)
 *   --out <file>       where to write the results (default testnet/bench/results.json,
 *                      results-quick.json for --quick)
 *   --cache <dir>      fixture cache (default os.tmpdir()/cairn-bench-cache)
 *   --fresh            rebuild cached fixtures
 *   --prepare          only build the cached fixtures (and the provider's local copy), measure nothing
 *   --no-baselines     skip the baselines (for profiling a measure alone; relative targets not judged)
 *   --profile-nodes <dir>  the fixture node processes (serving verify/sync, and the big
 *                      node) write CPU profiles there when they stop
 *
 * To profile what runs in the bench process itself (ingest and sync nodes,
 * the verify and match clients): node --cpu-prof --cpu-prof-dir=<dir>
 * --import tsx testnet/bench/run.ts --quick --only <key>, then
 * npx tsx testnet/bench/cpu-profile.ts <dir>/*.cpuprofile.
 *
 * Order: baselines, ingest, propagation (5 fresh node processes), the
 * `signed` fixture (verify, then sync into an empty node, then hypercore
 * replicating the same record count over TCP as the peer sync is compared
 * with: sync_vs_hypercore), the `big` fixture
 * (lookup, proof, delta, snapshot, match, memory), PDQ (hashing against
 * sharp's decode-only rate; matching and memory in provider processes over
 * the cached copy of 10M PDQ records), baselines again. The baselines used
 * are the mean of both runs; both are recorded.
 */
import { cpus, loadavg, availableParallelism, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { stopNode, type NodeProcess } from '../processes.ts'
import { startNodeProcess } from './node-process.ts'
import { measureStaticPull } from './static-pull.ts'
import { grantToken } from '../launch.ts'
import { measureBaselines, measureEd25519, measureLibsodium, meanOf, libsodiumRatios } from './baselines.ts'
import { ed25519Backend } from '../../protocol/ed25519.ts'
import { cacheRoot, scaleDir, fixture, freshPorts, fingerprint, type FixtureInfo } from './loader.ts'
import { entriesForLiveIndicators, liveIndicators } from './records.ts'
import { measureIngest } from './ingest.ts'
import { measurePropagation } from './propagation.ts'
import { measureVerify } from './verify.ts'
import { measureSync } from './sync.ts'
import { measureHypercore } from './hypercore.ts'
import { measureLookup } from './lookup.ts'
import { measureProof } from './proof.ts'
import { measureDelta } from './delta.ts'
import { measureSnapshot, waitForSetLinesChecked } from './snapshot.ts'
import { measureMatch, ensureLocalCopy } from './match.ts'
import { memoryOf, sleep } from './client.ts'
import { measureCeilings, type Ceilings } from './ceilings.ts'
import { measurePdqHash } from './pdq-hash.ts'
import { measurePdqCopy } from './pdq-copy-measures.ts'
import { ensurePdqCopy } from './pdq-copy.ts'
import { MEASURE_KEYS, TARGETS, fastest, judge, judgeCeilings, ceilingLines, signatureCeiling, table, fmt, type Baselines, type MeasureKey, type Measured } from './report.ts'

interface Options {
  scale: number
  quick: boolean
  only?: Set<MeasureKey>
  out: string
  cache: string
  fresh: boolean
  prepare: boolean
  baselines: boolean
  /** Node processes of the signed and big fixtures write CPU profiles here. */
  profileNodes?: string
}

function parseArgs(argv: string[]): Options {
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const quick = argv.includes('--quick')
  const scale = value('--scale') !== undefined ? Number(value('--scale')) : quick ? 0.01 : 1
  if (!(scale > 0 && scale <= 1)) throw new Error('--scale is a number in (0, 1]')
  const onlyRaw = value('--only')
  const only = onlyRaw ? new Set(onlyRaw.split(',').map((s) => s.trim()) as MeasureKey[]) : undefined
  for (const k of only ?? []) if (!(MEASURE_KEYS as readonly string[]).includes(k)) throw new Error(`unknown measure ${k}; one of ${MEASURE_KEYS.join(', ')}`)
  const here = new URL('.', import.meta.url).pathname
  const out = value('--out') ?? (only ? join(tmpdir(), 'cairn-bench-results.json') : join(here, scale === 1 ? 'results.json' : 'results-quick.json'))
  return { scale, quick: scale < 1, only, out, cache: cacheRoot(value('--cache')), fresh: argv.includes('--fresh'), prepare: argv.includes('--prepare'), baselines: !argv.includes('--no-baselines'), profileNodes: value('--profile-nodes') }
}

const NO_BASELINES: Baselines = { sha256_per_s: NaN, sign_per_s: NaN, verify_per_s: NaN, level_put_per_s: NaN }
const NO_CEILINGS: Ceilings = { workers: 0, sign_job_per_s: NaN, open_job_per_s: NaN, verify_only_per_s: NaN, sign_job_one_thread_per_s: NaN, open_job_one_thread_per_s: NaN, sign_job_cpu_us: NaN, store_append_per_s: NaN, store_append_cpu_us: NaN, ingest_bound_per_s: NaN }

const started = Date.now()
function say(line: string) {
  console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`)
}

async function main() {
  const o = parseArgs(process.argv.slice(2))
  const s = o.scale
  const wants = (...keys: MeasureKey[]) => keys.some((k) => !o.only || o.only.has(k))
  const results = new Map<MeasureKey, Measured>()
  const fail = (key: MeasureKey, e: unknown) => {
    say(`  ${key} failed: ${(e as Error)?.stack ?? String(e)}`)
    results.set(key, { key, value: null, method: '', reason: `failed: ${(e as Error)?.message ?? String(e)}` })
  }
  // A measure with a relative target also gets the Ed25519 baselines measured just before and just
  // after it, reported beside the verdict: they show how far the machine's speed moved during the run.
  const adjacentMs = o.quick ? 100 : 300
  const run = async (key: MeasureKey, fn: () => Promise<Measured>) => {
    if (!wants(key)) return
    say(`${key}…`)
    try {
      const around = o.baselines && TARGETS[key].baseline !== undefined
      const ed25519 = () => ({ ...measureEd25519(adjacentMs), ...measureLibsodium(adjacentMs) })
      const before = around ? ed25519() : undefined
      let m = await fn()
      if (before) m = { ...m, adjacent: { before, after: ed25519() } }
      results.set(key, m)
      say(`  ${key} = ${fmt(m.value)}${m.reason ? ` (${m.reason})` : ''}`)
    } catch (e) {
      fail(key, e)
    }
  }
  const load0 = loadavg()
  say(`cairn bench: scale ${s}${o.quick ? ' (quick)' : ''}, ${availableParallelism()} cores, load average ${load0.map((x) => x.toFixed(1)).join(' ')}`)
  const roundMs = o.quick ? 200 : 1000
  const tiny = s < 0.01 // smoke tests: just enough to exercise every path
  const sizes = {
    ingest: Math.max(tiny ? 500 : 5000, Math.round(200_000 * s)),
    propagation: tiny ? 3 : o.quick ? 10 : 100,
    signed: Math.max(1000, Math.round(1_000_000 * s)),
    live: Math.max(5000, Math.round(10_000_000 * s)),
  }
  const bigEntries = entriesForLiveIndicators(sizes.live)
  const fixtureKey = await fingerprint()
  const base = scaleDir(o.cache, s, fixtureKey)
  const fixtures: Record<string, unknown> = {}
  const noteFixture = (name: string, f: FixtureInfo) => {
    fixtures[name] = { dir: f.dir, entries: f.entries, signed: f.signed, cached: f.cached, made: f.made, generation_seconds: f.seconds, set_lines_seconds: f.setLinesSeconds }
    say(`  fixture ${name}: ${f.entries.toLocaleString('en')} entries, ${f.cached ? `cached (made ${f.made} in ${fmt(f.seconds)} s)` : `generated now in ${fmt(f.seconds)} s`} at ${f.dir}`)
  }

  if (o.prepare) return prepare(o, base, sizes.signed, bigEntries)
  say('baselines (start)…')
  const b0 = o.baselines ? await measureBaselines(roundMs) : NO_BASELINES
  const c0 = o.baselines ? await measureCeilings(roundMs) : NO_CEILINGS

  await run('ingest_per_s', () => measureIngest(sizes.ingest))
  await run('propagation_p95_ms', () => measurePropagation(sizes.propagation))

  if (wants('verify_per_s', 'sync_per_s', 'hypercore_replicate_per_s', 'sync_vs_hypercore', 'static_pull_per_s')) {
    let src: NodeProcess | undefined
    let signed: FixtureInfo | undefined
    try {
      say(`fixture signed (${sizes.signed.toLocaleString('en')} signed entries)…`)
      const f = await fixture(base, { name: 'signed', members: ['src', 'dst'], entries: sizes.signed, signed: true }, { fresh: o.fresh, say })
      signed = f
      noteFixture('signed', f)
      if (wants('verify_per_s', 'sync_per_s', 'sync_vs_hypercore', 'static_pull_per_s')) {
        await freshPorts(f)
        src = await startNodeProcess(join(f.dir, 'src'), 120_000, o.profileNodes)
        const auditor = await grantToken(src, 'auditor', 'bench')
        await run('verify_per_s', () => measureVerify(src!, auditor, f))
        await run('sync_per_s', () => measureSync(f, 'dst', o.quick ? 300_000 : 3_600_000))
        if (wants('static_pull_per_s')) {
          const provider = await grantToken(src, 'provider', 'bench-static-pull')
          await run('static_pull_per_s', () => measureStaticPull(src!, provider, auditor, f))
        }
      }
    } catch (e) {
      for (const k of ['verify_per_s', 'sync_per_s', 'static_pull_per_s'] as const) if (wants(k) && !results.has(k)) fail(k, e)
    } finally {
      if (src) await stopNode(src)
    }
    // The peer, with the serving node stopped (as during sync: two processes on the two cores).
    if (wants('hypercore_replicate_per_s', 'sync_vs_hypercore')) {
      const hc = 'hypercore_replicate_per_s' as const
      if (signed) await run(hc, () => measureHypercore(signed!.origin, signed!.entries, o.quick ? 300_000 : 3_600_000))
      else fail(hc, new Error('the signed fixture is missing'))
      const sync = results.get('sync_per_s')?.value
      const peer = results.get(hc)?.value
      results.set('sync_vs_hypercore', sync != null && peer != null
        ? { key: 'sync_vs_hypercore', value: sync / peer, method: 'sync_per_s / hypercore_replicate_per_s, both of this run over the same record count and bytes', reference: { value: peer, what: 'hypercore replication blocks/s' } }
        : { key: 'sync_vs_hypercore', value: null, method: '', reason: `needs sync_per_s and ${hc} of the same run` })
    }
  }

  const bigKeys = ['lookup_p99_ms', 'proof_per_s', 'delta_10k_ms', 'snapshot_10m_s', 'match_exact_per_s', 'rss_10m_mib'] as const
  if (wants(...bigKeys)) {
    let big: NodeProcess | undefined
    let sampler: NodeJS.Timeout | undefined
    try {
      say(`fixture big (${sizes.live.toLocaleString('en')} live indicators, ${bigEntries.toLocaleString('en')} entries)…`)
      const f = await fixture(base, { name: 'big', members: ['big'], entries: bigEntries, signed: false }, { fresh: o.fresh, say })
      noteFixture('big', f)
      const live = liveIndicators(f.entries)
      await freshPorts(f)
      const t0 = performance.now()
      big = await startNodeProcess(join(f.dir, 'big'), 300_000, o.profileNodes)
      const startSeconds = (performance.now() - t0) / 1000
      const pid = big.proc.pid!
      const marks: Record<string, { rss_mib: number; peak_mib: number; anon_mib: number; file_mib: number }> = {}
      let maxRss = 0
      const mark = (label: string) => {
        const m = memoryOf(pid)
        marks[label] = { rss_mib: Math.round(m.rssMiB), peak_mib: Math.round(m.peakMiB), anon_mib: Math.round(m.anonMiB), file_mib: Math.round(m.fileMiB) }
      }
      sampler = setInterval(() => {
        try {
          maxRss = Math.max(maxRss, memoryOf(pid).rssMiB)
        } catch {
          // the process is gone
        }
      }, 250)
      await sleep(1000)
      mark('started')
      const auditor = await grantToken(big, 'auditor', 'bench-auditor')
      const provider = await grantToken(big, 'provider', 'bench-provider')
      await run('lookup_p99_ms', () => measureLookup(big!.url, auditor, f, join(f.dir, 'big', 'db'), o.quick ? 300 : 2000, o.quick ? 5000 : 60_000))
      mark('after lookups')
      await run('proof_per_s', () => measureProof(big!.url, auditor, f, o.quick ? 3000 : 20_000, 8, o.quick ? 5000 : 60_000))
      await run('delta_10k_ms', () => measureDelta(big!.url, provider, f, o.quick ? 3 : 7))
      await run('snapshot_10m_s', async () => {
        // The node checks its snapshot files against the store after a start and renders snapshots from the store until then: measure the files.
        const waited = await waitForSetLinesChecked(big!.url, big!.operatorToken, o.quick ? 300_000 : 2_400_000)
        say(`  set lines checked against the store (waited ${waited.toFixed(1)} s after the lookups, proofs and delta)`)
        const m = await measureSnapshot(big!.url, provider, live, f.entries, o.quick ? 300_000 : 2_400_000)
        return { ...m, details: { ...m.details, set_lines_check_wait_s: waited } }
      })
      mark('after snapshot')
      await run('match_exact_per_s', () => measureMatch(big!.url, provider, f, live, o.quick ? 1_000_000 : 10_000_000, say))
      mark('end')
      await run('rss_10m_mib', async () => {
        const m = memoryOf(pid)
        return {
          key: 'rss_10m_mib',
          value: m.peakMiB,
          method: `peak resident set (VmHWM from /proc/<pid>/status) of the node process holding ${f.entries.toLocaleString('en')} entries (fixture 'big', ${live.toLocaleString('en')} live indicators), read after it served the lookups, proofs, feed pages and the full snapshot${(results.get('match_exact_per_s')?.details?.local_copy as { cached?: boolean } | undefined)?.cached === false ? ' and the provider\'s first cairn sync' : ''} in this run; VmRSS at each step is in details, split into anonymous memory (RssAnon) and file-backed pages (RssFile: level's memory-mapped tables, which the kernel reclaims under pressure)`,
          details: { marks, sampled_max_rss_mib: Math.round(maxRss), node_start_seconds: startSeconds },
        }
      })
    } catch (e) {
      for (const k of bigKeys) if (wants(k) && !results.has(k)) fail(k, e)
    } finally {
      clearInterval(sampler)
      if (big) await stopNode(big)
    }
  }

  await run('pdq_hash_per_s', () => measurePdqHash(o.cache, Math.max(4, Math.round(40 * s)), o.quick ? 3 : 5, say))
  const pdqKeys = ['pdq_match_per_s', 'provider_rss_10m_mib'] as const
  if (wants(...pdqKeys)) {
    try {
      say(`fixture pdq copy (${Math.max(1000, Math.round(10_000_000 * s)).toLocaleString('en')} PDQ records)…`)
      const { match, rss, copy } = await measurePdqCopy(o.cache, s, say)
      fixtures.pdq_copy = { dir: copy.dir, records: copy.records, cached: copy.cached, made: copy.made, generation_seconds: copy.seconds }
      await run('pdq_match_per_s', async () => match)
      await run('provider_rss_10m_mib', async () => rss)
    } catch (e) {
      for (const k of pdqKeys) if (wants(k) && !results.has(k)) fail(k, e)
    }
  }

  say('baselines (end)…')
  const b1 = o.baselines ? await measureBaselines(roundMs) : NO_BASELINES
  const c1 = o.baselines ? await measureCeilings(roundMs) : NO_CEILINGS
  const b = meanOf(b0, b1)
  const c = meanOf(c0, c1)
  const cores = availableParallelism()
  const load1 = loadavg()

  const verdicts = MEASURE_KEYS.map((k) => judge(results.get(k) ?? { key: k, value: null, method: '', reason: o.only ? 'not run (--only)' : 'not run' }, b, cores, s))
  console.log('')
  console.log(`cairn bench — scale ${s}${o.quick ? ' (quick: sizes × ' + s + '; absolute targets are the full-scale ones except snapshot, scaled; indicative only)' : ''}`)
  console.log(`${cores} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${load0[0]!.toFixed(1)} at start, ${load1[0]!.toFixed(1)} at end`)
  console.log(`baselines (mean of start and end): sha256 ${fmt(b.sha256_per_s)}/s, sign ${fmt(b.sign_per_s)}/s, verify ${fmt(b.verify_per_s)}/s, level put ${fmt(b.level_put_per_s)}/s`)
  const sodiumOverNode = libsodiumRatios(b)
  if (sodiumOverNode) console.log(`libsodium (one core, same run): sign ${fmt(b.libsodium_sign_per_s!)}/s (${sodiumOverNode.sign.toFixed(2)} × node:crypto), verify ${fmt(b.libsodium_verify_per_s!)}/s (${sodiumOverNode.verify.toFixed(2)} × node:crypto); cairn signs and verifies with ${ed25519Backend.name}`)
  console.log(`targets use the faster library: sign ${fastest(b, 'sign').library}, verify ${fastest(b, 'verify').library}`)
  console.log('')
  console.log(table(verdicts))
  console.log('')
  const ceilingVerdicts = judgeCeilings(verdicts, c)
  for (const line of ceilingLines(ceilingVerdicts, c.workers)) console.log(line)
  const sigs = signatureCeiling(c, b, verdicts, ed25519Backend.name)
  if (sigs) console.log(sigs.line)
  if (ceilingVerdicts.length > 0) console.log('')
  for (const v of verdicts) {
    const a = results.get(v.key)?.adjacent
    if (!a || !v.adjacent) continue
    const which = v.adjacent.library === 'libsodium' ? (v.adjacent.baseline === 'sign_per_s' ? 'libsodium_sign_per_s' : 'libsodium_verify_per_s') : v.adjacent.baseline
    const word = (p: boolean | null) => (p === null ? 'not judged' : p ? 'would pass' : 'would fail')
    console.log(`${v.key}: ${v.adjacent.library} ${v.adjacent.baseline.replace('_per_s', '')}/s measured just before it ${fmt(a.before[which])}, just after ${fmt(a.after[which])}; against their mean it is ${v.adjacent.ratio?.toFixed(2) ?? '—'} × (need ${fmt(v.adjacent.need)}: ${word(v.adjacent.pass)}; not the verdict)`)
  }
  for (const v of verdicts) {
    if (v.pass === false) console.log(`FAIL ${v.key}: ${v.gap}`)
    if (v.pass === null && v.value === null) console.log(`NOT MEASURED ${v.key}: ${results.get(v.key)?.reason ?? (o.only ? 'not run (--only)' : 'not run')}`)
  }

  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    scale: s,
    quick: o.quick,
    cores,
    node_version: process.version,
    cpu: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    load_average: { start: load0, end: load1 },
    machine_note: 'shared machine: other processes ran during the bench (see load_average); relative targets use baselines measured in this run',
    baseline_sha256_per_s: b.sha256_per_s,
    baseline_sign_per_s: b.sign_per_s,
    baseline_verify_per_s: b.verify_per_s,
    baseline_level_put_per_s: b.level_put_per_s,
    baseline_libsodium_sign_per_s: b.libsodium_sign_per_s ?? null,
    baseline_libsodium_verify_per_s: b.libsodium_verify_per_s ?? null,
    baseline_libsodium_over_node: sodiumOverNode ?? null,
    ed25519_backend: ed25519Backend.name,
    baselines_start: b0,
    baselines_end: b1,
    ceilings: c,
    ...(sigs ? { signature_ceiling: sigs.json } : {}),
    ceilings_start: c0,
    ceilings_end: c1,
    ceiling_method: "measured with the baselines, start and end, mean used: node/crypto-jobs.ts signJob (entry encoding, Ed25519 signature, leaf hash) and openJob (canonical CBOR check, record rules, strict Ed25519 verification, leaf hash) over 4,080 bench entries held in memory, split over the node's default worker pool (one worker per core), median of 3 rounds; *_one_thread_per_s: the same job in process; verify_only_per_s: the strict Ed25519 verification of protocol/ed25519.ts alone (testnet/bench/ceiling-jobs.ts) over the same entries' signed messages on every worker at once, each round including the main thread's packing of the messages (signature_ceiling sets it against the faster library's one-core baseline, a bare verify loop, and the sync and verify target against it); store_append_*: Store.append of ready bench entries into a fresh level store in durable batches of 2,040; *_cpu_us: process CPU time (all threads) per record; ingest_bound_per_s = min(cores, 2) × 1e6 / (sign_job_cpu_us + store_append_cpu_us), what publishing can reach when signing and storing share the cores. A measure that waits on one of these jobs for every record cannot pass its ceiling on this machine; targets.<key>.ceiling says where the target and the value stand against it",
    baseline_method: `one core each: node:crypto SHA-256 of 100 B; Ed25519 sign/verify with node:crypto (OpenSSL; sign_per_s, verify_per_s) and with libsodium (sodium-native; libsodium_sign_per_s, libsodium_verify_per_s, baseline_libsodium_over_node their ratios; protocol/ed25519.ts uses the library in ed25519_backend) over a typical signed indicator message; level chained batches of 10,000 puts of 200 B values, no fsync; median of 3 rounds, measured at the start and the end of the run, mean used for every verdict. The relative measures (${MEASURE_KEYS.filter((k) => TARGETS[k].baseline !== undefined).join(', ')}) also have the Ed25519 baselines of both libraries measured just before and just after each (median of 3 rounds of ${adjacentMs} ms each side; targets.<key>.adjacent_baselines) and the same target against their mean (targets.<key>.against_adjacent_baselines): reported to show how far the machine's speed moved, not used for the verdict`,
    ...Object.fromEntries(MEASURE_KEYS.map((k) => [k, results.get(k)?.value ?? null])),
    targets: Object.fromEntries(verdicts.map((v) => {
      const cv = ceilingVerdicts.find((x) => x.key === v.key)
      const adjacent = results.get(v.key)?.adjacent
      return [v.key, {
        target: v.target, need: v.need, better: v.better, pass: v.pass,
        ...(v.ratio !== undefined ? { ratio: v.ratio, ratio_of: v.ratioOf } : {}), ...(v.gap ? { gap: v.gap } : {}),
        ...(results.get(v.key)?.reference ? { baseline_in_run: results.get(v.key)!.reference } : {}),
        ...(adjacent && v.adjacent ? { adjacent_baselines: adjacent, against_adjacent_baselines: v.adjacent } : {}),
        ...(cv ? { ceiling: cv } : {}),
      }]
    })),
    method: Object.fromEntries(MEASURE_KEYS.map((k) => [k, results.get(k)?.method ?? ''])),
    not_measured: Object.fromEntries(MEASURE_KEYS.filter((k) => results.get(k)?.value == null).map((k) => [k, results.get(k)?.reason ?? (o.only ? 'not run (--only)' : 'not run')])),
    details: Object.fromEntries(MEASURE_KEYS.filter((k) => results.get(k)?.details).map((k) => [k, results.get(k)!.details])),
    fixtures: {
      cache: base,
      fingerprint: fixtureKey,
      how: "made by testnet/bench/loader.ts straight into a node's store while the node is stopped: real records (encodeRecord) built in worker threads, appended with Store.append (genuine tree, tiles, indexes), last batch with a checkpoint signed by the log key; 'signed' has genuine Ed25519 entry signatures (sync and verify check them), 'big' has a fixed placeholder signature (its serving paths never re-verify entries); layout: blocks of 101 indicators + 1 revocation; cached by scale and fingerprint",
      ...fixtures,
    },
    total_seconds: (Date.now() - started) / 1000,
  }
  writeFileSync(o.out, JSON.stringify(out, null, 2) + '\n')
  console.log(`\nresults written to ${o.out} (${fmt((Date.now() - started) / 1000)} s in all)`)
}

/** --prepare: builds the fixtures and the provider's local copy into the cache. */
async function prepare(o: Options, base: string, signedEntries: number, bigEntries: number): Promise<void> {
  const t0 = Date.now()
  const signed = await fixture(base, { name: 'signed', members: ['src', 'dst'], entries: signedEntries, signed: true }, { fresh: o.fresh, say })
  say(`fixture signed ready (${signed.cached ? 'cached' : `made in ${fmt(signed.seconds)} s`})`)
  const f = await fixture(base, { name: 'big', members: ['big'], entries: bigEntries, signed: false }, { fresh: o.fresh, say })
  say(`fixture big ready (${f.cached ? 'cached' : `made in ${fmt(f.seconds)} s`})`)
  await freshPorts(f)
  const big = await startNodeProcess(join(f.dir, 'big'), 300_000, o.profileNodes)
  try {
    const { copy } = await ensureLocalCopy(big.url, await grantToken(big, 'provider', 'bench-provider'), f, say)
    say(`provider local copy ready (${copy.cached ? 'cached' : `made in ${fmt(copy.seconds)} s`})`)
  } finally {
    await stopNode(big)
  }
  const pdq = ensurePdqCopy(o.cache, Math.max(1000, Math.round(10_000_000 * o.scale)), say)
  say(`local copy of PDQ records ready (${pdq.cached ? 'cached' : `made in ${fmt(pdq.seconds)} s`})`)
  say(`prepared in ${fmt((Date.now() - t0) / 1000)} s: ${base}`)
}

main().then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
