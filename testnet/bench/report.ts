/**
 * The bench's measures, their targets (issue 8), and the two outputs: the
 * printed table and results.json. Relative targets are judged against the
 * baselines measured in the same run, so a ratio means the same thing on a
 * busy or an idle machine: against the mean of the baselines measured at the
 * start and the end of the run. The relative measures also carry the Ed25519
 * baselines measured just before and just after them (`adjacent`); the same
 * target against those is reported beside the verdict, not used for it (a
 * one-second sample next to a minute-long measure is no steadier than the
 * run's: this machine's speed moves by a third within a minute).
 *
 * Issue 24: the Ed25519 targets scale with the faster of the two libraries
 * measured in the run (node:crypto, libsodium; `fastest`), and the ratio
 * names it. hypercore's TCP replication of the same record count is measured
 * as the peer (`hypercore_replicate_per_s`, reported, not judged);
 * `sync_vs_hypercore` is sync_per_s over it, target ≥ 2.5.
 *
 * The measures of issue 18 carry their own baseline, measured beside them
 * (`Measured.reference`): pdq_hash_per_s against sharp's decode-only rate
 * over the same files, pdq_match_per_s with the brute-force rate beside it.
 *
 * Issue 23: static_pull_per_s, a provider's first sync from a static mirror,
 * carries the same sync from the node as its reference (the ratio); issue
 * 23 sets no threshold, so it is reported, not judged.
 */

export const MEASURE_KEYS = [
  'ingest_per_s', 'sync_per_s', 'propagation_p95_ms', 'snapshot_10m_s', 'delta_10k_ms',
  'lookup_p99_ms', 'proof_per_s', 'match_exact_per_s', 'rss_10m_mib', 'verify_per_s',
  'pdq_hash_per_s', 'pdq_match_per_s', 'provider_rss_10m_mib', 'hypercore_replicate_per_s', 'sync_vs_hypercore',
  'static_pull_per_s',
] as const
export type MeasureKey = (typeof MEASURE_KEYS)[number]

export interface Baselines {
  sha256_per_s: number
  sign_per_s: number
  verify_per_s: number
  level_put_per_s: number
  /** The same sign and verify with libsodium (sodium-native); absent where it does not load. */
  libsodium_sign_per_s?: number
  libsodium_verify_per_s?: number
}

export interface Measured {
  key: MeasureKey
  /** null: not measured (see `reason`). */
  value: number | null
  /** What exactly was measured, how, on what data. */
  method: string
  reason?: string
  details?: Record<string, unknown>
  /** The measure's own baseline, measured beside it in the same run (issue 18's measures). */
  reference?: { value: number; what: string }
  /** A condition of the target besides the value (e.g. recall 1.0); set: the measure fails with this reason. */
  failed?: string
  /** Ed25519 baselines measured just before and just after this measure (relative measures only). */
  adjacent?: { before: AdjacentBaseline; after: AdjacentBaseline }
}

export type AdjacentBaseline = Pick<Baselines, 'sign_per_s' | 'verify_per_s' | 'libsodium_sign_per_s' | 'libsodium_verify_per_s'>

/**
 * The faster one-core Ed25519 rate of the two libraries measured in the run
 * (node:crypto and, where it loaded, libsodium): the relative targets of
 * ingest, sync and verify scale with the machine's limit, not with the
 * library cairn happens to use.
 */
export function fastest(b: Baselines, op: 'sign' | 'verify'): { value: number; library: 'node:crypto' | 'libsodium' } {
  const node = op === 'sign' ? b.sign_per_s : b.verify_per_s
  const sodium = (op === 'sign' ? b.libsodium_sign_per_s : b.libsodium_verify_per_s) ?? NaN
  return Number.isFinite(sodium) && !(sodium <= node) ? { value: sodium, library: 'libsodium' } : { value: node, library: 'node:crypto' }
}

export interface Verdict {
  key: MeasureKey
  value: number | null
  unit: string
  /** The target in words, with the figure it works out to in this run. */
  target: string
  /** The number the value had to reach (at least / below). */
  need: number
  better: 'higher' | 'lower'
  /** value / baseline reference, for targets relative to a baseline. */
  ratio?: number
  ratioOf?: string
  pass: boolean | null
  /** How far off a failing value is, in words. */
  gap?: string
  /** The same target against the Ed25519 baselines measured around the measure (mean of before and after); not the verdict. */
  adjacent?: { baseline: 'sign_per_s' | 'verify_per_s'; library: string; need: number; ratio?: number; pass: boolean | null }
}

interface Target {
  unit: string
  better: 'higher' | 'lower'
  /** The threshold for this run; `scale` shrinks size-proportional targets in quick runs. */
  need(b: Baselines, cores: number, scale: number, m?: Measured): number
  words(b: Baselines, cores: number, scale: number, m?: Measured): string
  /** Baseline reference for the ratio column (relative targets only). */
  reference?: (b: Baselines, cores: number, m?: Measured) => { value: number; what: string }
  /** The Ed25519 operation a relative target scales with (the faster library's rate): also measured just before and after the measure. */
  baseline?: 'sign_per_s' | 'verify_per_s'
  /** A figure measured as the reference of another target (hypercore): reported, not judged. */
  referenceOnly?: true
}

/** Cores the two-core targets count: "raw verify/s × 2 cores" (fewer if the machine has fewer). */
const twoCores = (cores: number) => Math.min(2, cores)

export const TARGETS: Record<MeasureKey, Target> = {
  ingest_per_s: {
    unit: 'records/s', better: 'higher', baseline: 'sign_per_s',
    need: (b) => Math.max(20_000, 0.7 * fastest(b, 'sign').value),
    words: (b) => `≥ 20,000 and ≥ 0.7 × ${fastest(b, 'sign').library} sign/s (${fmt(0.7 * fastest(b, 'sign').value)})`,
    reference: (b) => ({ value: fastest(b, 'sign').value, what: `raw sign/s (1 core, ${fastest(b, 'sign').library}, the faster library)` }),
  },
  sync_per_s: {
    unit: 'records/s', better: 'higher', baseline: 'verify_per_s',
    need: (b, c) => twoCoreVerify(b, c).need,
    words: (b, c) => twoCoreVerify(b, c).words,
    reference: (b, c) => twoCoreVerify(b, c).reference,
  },
  propagation_p95_ms: { unit: 'ms', better: 'lower', need: () => 500, words: () => '< 500' },
  snapshot_10m_s: {
    unit: 's', better: 'lower',
    need: (_b, _c, s) => 60 * s,
    words: (_b, _c, s) => (s === 1 ? '< 60' : `< 60 × ${s} (${fmt(60 * s)})`),
  },
  delta_10k_ms: { unit: 'ms', better: 'lower', need: () => 1000, words: () => '< 1,000' },
  lookup_p99_ms: { unit: 'ms', better: 'lower', need: () => 10, words: () => '< 10' },
  proof_per_s: { unit: 'proofs/s', better: 'higher', need: () => 5000, words: () => '≥ 5,000' },
  match_exact_per_s: { unit: 'lookups/s', better: 'higher', need: () => 1_000_000, words: () => '≥ 1,000,000' },
  rss_10m_mib: { unit: 'MiB', better: 'lower', need: () => 2048, words: () => '< 2,048' },
  verify_per_s: {
    unit: 'records/s', better: 'higher', baseline: 'verify_per_s',
    need: (b, c) => twoCoreVerify(b, c).need,
    words: (b, c) => twoCoreVerify(b, c).words,
    reference: (b, c) => twoCoreVerify(b, c).reference,
  },
  pdq_hash_per_s: {
    unit: 'images/s', better: 'higher',
    need: (_b, _c, _s, m) => 0.8 * (m?.reference?.value ?? NaN),
    words: (_b, _c, _s, m) => `≥ 0.8 × decode/s (${fmt(0.8 * (m?.reference?.value ?? NaN))})`,
    reference: (_b, _c, m) => m?.reference ?? { value: NaN, what: 'decode-only/s' },
  },
  pdq_match_per_s: {
    unit: 'queries/s', better: 'higher',
    need: () => 4000,
    words: () => '≥ 4,000, recall 1.0',
    reference: (_b, _c, m) => m?.reference ?? { value: NaN, what: 'brute force/s' },
  },
  provider_rss_10m_mib: { unit: 'MiB', better: 'lower', need: () => 2048, words: () => '< 2,048' },
  hypercore_replicate_per_s: {
    unit: 'blocks/s', better: 'higher', referenceOnly: true,
    need: () => NaN,
    words: () => 'reference of sync_vs_hypercore',
  },
  sync_vs_hypercore: {
    unit: '×', better: 'higher',
    need: () => 2.5,
    words: () => '≥ 2.5 (sync_per_s / hypercore_replicate_per_s, same run)',
  },
  static_pull_per_s: {
    unit: 'records/s', better: 'higher', referenceOnly: true,
    need: () => NaN,
    words: () => 'reported (issue 23 sets none); ratio: over the same first sync from the node',
    reference: (_b, _c, m) => m?.reference ?? { value: NaN, what: 'the same first sync from the node, records/s' },
  },
}

/** sync and verify: ≥ 0.7 × 2 cores × the faster library's one-core verify rate. */
function twoCoreVerify(b: Baselines, c: number): { need: number; words: string; reference: { value: number; what: string } } {
  const f = fastest(b, 'verify')
  const n = twoCores(c)
  return {
    need: 0.7 * f.value * n,
    words: `≥ 0.7 × ${f.library} verify/s × ${n} (${fmt(0.7 * f.value * n)})`,
    reference: { value: f.value * n, what: `raw verify/s × ${n} cores (${f.library}, the faster library)` },
  }
}

export function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—'
  const abs = Math.abs(n)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3
  return n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
}

/** The mean of the Ed25519 baselines measured before and after a measure, over the run's baselines. */
function withAdjacent(b: Baselines, a: Measured['adjacent']): Baselines | undefined {
  if (!a) return undefined
  const mean = (k: keyof AdjacentBaseline) => ((a.before[k] ?? NaN) + (a.after[k] ?? NaN)) / 2
  const sign_per_s = mean('sign_per_s')
  const verify_per_s = mean('verify_per_s')
  const libsodium_sign_per_s = mean('libsodium_sign_per_s')
  const libsodium_verify_per_s = mean('libsodium_verify_per_s')
  if (!Number.isFinite(sign_per_s) || !Number.isFinite(verify_per_s)) return undefined
  // Measured around the measure or not at all: the run's libsodium rates never mix with adjacent node:crypto ones.
  return { ...b, sign_per_s, verify_per_s, libsodium_sign_per_s, libsodium_verify_per_s }
}

export function judge(m: Measured, b: Baselines, cores: number, scale: number): Verdict {
  const t = TARGETS[m.key]
  const need = t.need(b, cores, scale, m)
  const passes = (value: number, n: number) => (t.better === 'higher' ? value >= n : value < n)
  const v: Verdict = { key: m.key, value: m.value, unit: t.unit, target: t.words(b, cores, scale, m), need, better: t.better, pass: null }
  if (t.reference) {
    const ref = t.reference(b, cores, m)
    v.ratioOf = ref.what
    if (m.value !== null) v.ratio = m.value / ref.value
    const around = withAdjacent(b, m.adjacent)
    if (around && t.baseline) {
      const aroundNeed = t.need(around, cores, scale)
      v.adjacent = {
        baseline: t.baseline, library: fastest(around, t.baseline === 'sign_per_s' ? 'sign' : 'verify').library, need: aroundNeed,
        ...(m.value !== null ? { ratio: m.value / t.reference(around, cores).value } : {}),
        pass: m.value === null ? null : passes(m.value, aroundNeed),
      }
    }
  }
  if (m.value === null || Number.isNaN(need)) return v // not measured, or no baselines (--no-baselines)
  v.pass = passes(m.value, need) && m.failed === undefined
  if (m.failed !== undefined) v.gap = m.failed
  else if (!v.pass) {
    v.gap = t.better === 'higher'
      ? `${fmt(m.value)} ${t.unit} is ${fmt((m.value / need) * 100)} % of the ${fmt(need)} needed: ${fmt(need / m.value)}× faster needed`
      : `${fmt(m.value)} ${t.unit} is ${fmt(m.value / need)}× the limit ${fmt(need)}: ${fmt((1 - need / m.value) * 100)} % less needed`
  }
  return v
}

/** The printed table, then one line per failing or unmeasured target. */
export function table(verdicts: Verdict[]): string {
  const rows = [['measure', 'value', 'unit', 'target', 'vs baseline', 'result']]
  for (const v of verdicts) {
    rows.push([
      v.key, fmt(v.value), v.unit, v.target,
      v.ratio !== undefined ? `${v.ratio.toFixed(2)} × ${v.ratioOf}` : '',
      v.pass === null ? (v.value === null ? 'NOT MEASURED' : TARGETS[v.key].referenceOnly ? 'REFERENCE' : 'NOT JUDGED') : v.pass ? 'PASS' : 'FAIL',
    ])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) => r.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)]
  return out.join('\n')
}

/** The ceiling (testnet/bench/ceilings.ts) that bounds a measure: the crypto job it waits on for every record. */
export const CEILING_OF: Partial<Record<MeasureKey, { key: CeilingKey; job: string }>> = {
  ingest_per_s: { key: 'ingest_bound_per_s', job: 'signJob + Store.append (CPU per record)' },
  sync_per_s: { key: 'open_job_per_s', job: 'openJob' },
  verify_per_s: { key: 'open_job_per_s', job: 'openJob' },
}

export interface CeilingVerdict {
  key: MeasureKey
  job: string
  ceiling: number
  /** The target's figure as a share of the ceiling: above 1, no implementation of these jobs reaches it on this machine. */
  target_of_ceiling: number
  value_of_ceiling: number | null
}

type CeilingKey = 'ingest_bound_per_s' | 'open_job_per_s'

export function judgeCeilings(verdicts: Verdict[], c: Record<CeilingKey, number>): CeilingVerdict[] {
  const out: CeilingVerdict[] = []
  for (const v of verdicts) {
    const of = CEILING_OF[v.key]
    if (!of || !Number.isFinite(c[of.key]) || !Number.isFinite(v.need)) continue
    const ceiling = c[of.key]
    out.push({ key: v.key, job: of.job, ceiling, target_of_ceiling: v.need / ceiling, value_of_ceiling: v.value === null ? null : v.value / ceiling })
  }
  return out
}

/** One printed line per measure with a ceiling. */
export function ceilingLines(cv: CeilingVerdict[], workers: number): string[] {
  if (cv.length === 0) return []
  const lines = [`ceilings (the work every record needs, alone on this machine: jobs on all ${workers} workers, records in memory; the most the measure can reach here):`]
  for (const c of cv) {
    const above = c.target_of_ceiling > 1 ? ': the target is above the ceiling' : ''
    const value = c.value_of_ceiling === null ? '' : `, value ${fmt(c.value_of_ceiling * c.ceiling)} = ${c.value_of_ceiling.toFixed(2)} of it`
    lines.push(`  ${c.key.padEnd(13)} ${c.job} ${fmt(c.ceiling)}/s; target ${fmt(c.target_of_ceiling * c.ceiling)} = ${c.target_of_ceiling.toFixed(2)} of it${value}${above}`)
  }
  return lines
}

/**
 * The signature checks alone on every worker at once (ceilings.ts
 * verify_only_per_s) against the one-core rate the sync and verify targets
 * multiply by the cores: how many one-core rates the cores together give,
 * and what share of it the target is. A target at or above 1 of it leaves
 * nothing for the rest of a record's work (record rules, leaf hash, storage,
 * network, the serving peer).
 */
export function signatureCeiling(c: { verify_only_per_s: number; workers: number }, b: Baselines, verdicts: Verdict[], backend: string): { line: string; json: Record<string, number | string> } | undefined {
  const v = verdicts.find((x) => x.key === 'sync_per_s' || x.key === 'verify_per_s')
  const one = fastest(b, 'verify')
  if (!v || !Number.isFinite(c.verify_only_per_s) || !Number.isFinite(one.value) || !Number.isFinite(v.need)) return undefined
  const cores = c.verify_only_per_s / one.value
  const share = v.need / c.verify_only_per_s
  return {
    line: `  signatures alone (strict Ed25519 with ${backend}, ${c.workers > 0 ? `all ${c.workers} workers at once` : 'in process'}): ${fmt(c.verify_only_per_s)}/s = ${cores.toFixed(2)} × ${one.library}'s one-core verify rate; the sync and verify target ${fmt(v.need)} = ${share.toFixed(2)} of it, leaving ${Math.max(0, 100 * (1 - share)).toFixed(0)} % of the cores for the rest of a record's work`,
    json: { verify_only_per_s: c.verify_only_per_s, backend, reference_library: one.library, one_core_per_s: one.value, over_one_core: cores, target: v.need, target_of_it: share },
  }
}
