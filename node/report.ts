/**
 * The transparency report (GET /report, `cairn report`): for a period
 * [from, to), the figures Articles 83(3) and 84 of the CSA Regulation ask the
 * EU Centre to publish about the database of indicators, as far as the ledger
 * knows them: indicators added per centre, category, alg, kind and media;
 * removed and why; disputed; time from addition to revocation; indicators
 * held at the start and the end; and how often providers accessed it.
 *
 * Every ledger figure names the cosigned checkpoints it was computed from:
 * it counts the records of entries [0, size) of each cited checkpoint whose
 * `time` lies in the period, so anyone holding the logs recomputes it exactly.
 * For each log the cited checkpoint is, among those this node holds that
 * cover every entry timed before `to`, the one with the most cosignatures
 * (the smallest of those on a tie). Access figures come from this node's
 * hash-chained access log; per-provider names are shown to oversight only.
 *
 * Why one file of ~500 lines: every figure of the report and the incremental
 * pass that keeps them current read the same scan of the logs; split, a
 * figure and the part of the pass that feeds it would drift apart (the
 * incremental pass is the first candidate to move out if it grows).
 */
import { toHex } from '../protocol/bytes.ts'
import { LedgerError } from '../protocol/errors.ts'
import { parseNote } from '../protocol/note.ts'
import { parseCheckpoint } from '../protocol/checkpoint.ts'
import { ALGS, CATEGORIES, KINDS, MEDIA, REVOCATION_REASONS, ATTESTATION_REASONS, RECORD_TYPES } from '../protocol/records.ts'
import { REDACTION_REASONS } from '../protocol/redaction.ts'
import type { AccessLog, AccessRow } from './access-log.ts'
import type { Store, StoreReader } from './storage/store.ts'
import { bump, logRecords, recordById, type IndexedRecord } from './dashboard/scan.ts'
import { cosignerNames } from './dashboard/view.ts'
import { feedbackFigures, FEEDBACK_METHOD } from './feedback/figures.ts'
import type { StoredReport } from './feedback/store.ts'

/** What a report is computed from: the logs this node holds and its access log. */
export interface ReportDeps {
  origin: string
  federation: string
  now: () => number
  store: Pick<StoreReader, 'listLogs' | 'checkpoint' | 'checkpointHistory' | 'entries' | 'entry' | 'locate'> & Pick<Store, 'redactionDigest'>
  accessLog: Pick<AccessLog, 'query' | 'verify'>
  /** Provider reports about this node's indicators (node/feedback/): their figures rest on this node's log. */
  feedbackReports?: () => Iterable<StoredReport>
}

export interface ReportOptions {
  from: number
  to: number
  /** Show access counts per provider name (oversight callers only). */
  providerNames: boolean
}

export interface ReportCheckpoint {
  /** `<member>@<size>`: how figures refer to it. */
  id: string
  log: string
  size: number
  /** Base64 root hash from the checkpoint body. */
  root: string
  cosigned_by: string[]
  /** The signed note, with its cosignatures, exactly as held. */
  note: string
}

export interface ReportFigure {
  figure: string
  /** A log's origin, or `all` for the federation. */
  log: string
  dimension: string
  key: string
  value: number
  /** Ids of the checkpoints the figure was computed from (empty for access-log figures). */
  basis: string[]
  source: 'logs' | 'access-log' | 'feedback'
}

export interface TransparencyReport {
  title: string
  federation: string
  node: string
  generated: number
  period: { from: number; to: number; from_iso: string; to_iso: string }
  method: string[]
  checkpoints: ReportCheckpoint[]
  figures: ReportFigure[]
  access_log: { rows: number; chain_intact: boolean; head: string | null; provider_names: boolean }
}

/** A period bound: ms since the epoch or an ISO 8601 date (`2025-01-31`, `2025-01-31T12:00:00Z`; UTC when no zone is given). */
export function parseReportTime(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined || raw === '') return undefined
  if (/^(0|[1-9][0-9]{0,15})$/.test(raw)) return Number(raw)
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw)) {
    // Without a zone a date or time is UTC (Date.parse would read a bare time as local).
    const iso = raw.replace(' ', 'T')
    const t = Date.parse(iso.length === 10 ? `${iso}T00:00:00Z` : /(Z|[+-]\d{2}:?\d{2})$/.test(iso) ? iso : `${iso}Z`)
    if (Number.isFinite(t) && t >= 0) return t
  }
  throw new LedgerError('BAD_REQUEST', `${what} must be ms since the epoch or an ISO 8601 date such as 2025-01-01 or 2025-01-31T12:00:00Z`)
}

/** The period asked for; by default the calendar year (UTC) up to now. */
export function reportPeriod(now: number, from?: number, to?: number): { from: number; to: number } {
  const end = to ?? now
  const start = from ?? Date.UTC(new Date(end - 1).getUTCFullYear(), 0, 1)
  if (!(start < end)) throw new LedgerError('BAD_REQUEST', `the period is empty: from (${new Date(start).toISOString()}) must be before to (${new Date(end).toISOString()})`)
  return { from: start, to: end }
}

/** Nearest-rank percentile of sorted numbers: the value at rank ⌈p/100 · n⌉. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!
}

interface Tally {
  records: Record<string, number>
  added: Record<'category' | 'alg' | 'kind' | 'media', Record<string, number>> & { total: number }
  removed: { total: number; reason: Record<string, number> }
  redacted: { total: number; reason: Record<string, number> }
  ttr: number[]
  disputes: { total: number; reason: Record<string, number>; against: Record<string, number> }
  confirmations: number
  /** Indicators of this log disputed in the period (record id hex), and the logs whose attestations said so. */
  disputedTargets: Set<string>
  disputedBy: Set<string>
  addedBefore: { start: number; end: number }
  revokedBefore: { start: Set<string>; end: Set<string> }
}

function newTally(): Tally {
  return {
    records: {}, added: { total: 0, category: {}, alg: {}, kind: {}, media: {} }, removed: { total: 0, reason: {} }, redacted: { total: 0, reason: {} }, ttr: [],
    disputes: { total: 0, reason: {}, against: {} }, confirmations: 0, disputedTargets: new Set(), disputedBy: new Set(),
    addedBefore: { start: 0, end: 0 }, revokedBefore: { start: new Set(), end: new Set() },
  }
}

const memberName = (origin: string) => origin.split('/')[1] ?? origin

/** The checkpoint a log's figures cite: covers every entry before `to`; most cosignatures, then smallest. */
async function chooseCheckpoint(store: ReportDeps['store'], origin: string, minSize: number): Promise<string | undefined> {
  let best: { note: string; size: number; cosigs: number } | undefined
  for (const note of await store.checkpointHistory(origin, Number.MAX_SAFE_INTEGER)) {
    const size = Number(note.split('\n')[1])
    if (!(size >= minSize)) continue
    const cosigs = cosignerNames(note).length
    if (!best || cosigs > best.cosigs || (cosigs === best.cosigs && size < best.size)) best = { note, size, cosigs }
  }
  return best?.note ?? store.checkpoint(origin)
}

/**
 * A report is computed incrementally: the pass over the logs and the access
 * log for a period is kept (per `from`, up to MAX_PERIODS of them) and a
 * later request for the same period, or for a later `to` (the default period
 * ends now), goes on from where the pass stopped: only entries and rows added
 * since are read. What the pass left aside because it was timed at or after
 * `to` (a log whose times go backwards, a peer's clock ahead of ours) is
 * looked at again when `to` moves. A pass starts over when a redaction
 * changed a counted entry, when an attestation named a record this node did
 * not hold yet, when too much was left aside, and at least every
 * FULL_PASS_MS (the access-log chain is then checked in full again; between
 * passes only new rows are checked against the last verified one).
 */
export class ReportCache {
  private readonly passes: Pass[] = []
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly deps: ReportDeps, private readonly o: { maxPeriods?: number; fullPassMs?: number; clock?: () => number } = {}) {}

  /** The report for [from, to); one at a time per cache (a report reads every log). */
  report(opts: ReportOptions): Promise<TransparencyReport> {
    const run = this.queue.then(() => this.compute(opts))
    this.queue = run.catch(() => undefined)
    return run
  }

  /** True when a pass kept can answer for this period (no full read of the logs), as far as can be told before it runs. */
  kept(opts: Pick<ReportOptions, 'from' | 'to'>): boolean {
    return this.passes.some((p) => this.usable(p, opts))
  }

  private usable(p: Pass, opts: Pick<ReportOptions, 'from' | 'to'>): boolean {
    return p.from === opts.from && (p.to === opts.to || (p.extensible && p.to < opts.to))
  }

  private async compute(opts: ReportOptions): Promise<TransparencyReport> {
    const clock = this.o.clock ?? (() => performance.now())
    const redactions = toHex(await this.deps.store.redactionDigest())
    const fresh = (p: Pass) => !p.stale && p.redactions === redactions && clock() - p.started < (this.o.fullPassMs ?? FULL_PASS_MS)
    for (let i = this.passes.length - 1; i >= 0; i--) if (!fresh(this.passes[i]!)) this.passes.splice(i, 1)
    let pass = this.passes.find((p) => this.usable(p, opts))
    if (pass) this.passes.splice(this.passes.indexOf(pass), 1)
    else pass = newPass(opts.from, opts.to, redactions, clock())
    this.passes.push(pass) // most recently used last
    while (this.passes.length > (this.o.maxPeriods ?? MAX_PERIODS)) this.passes.shift()
    try {
      await extendPass(this.deps, pass, opts.to)
    } catch (e) {
      this.passes.splice(this.passes.indexOf(pass), 1) // half-read: never reused
      throw e
    }
    return buildReport(this.deps, pass, opts)
  }
}

/** The report of one period, computed from scratch. */
export async function computeReport(deps: ReportDeps, opts: ReportOptions): Promise<TransparencyReport> {
  return new ReportCache(deps, { maxPeriods: 1 }).report(opts)
}

const MAX_PERIODS = 8
const FULL_PASS_MS = 3_600_000
/** Entries (or access rows) left aside for a later `to`, per log, before a pass gives up following `to`. */
const MAX_LEFT_ASIDE = 10_000

interface LogProgress {
  /** Entries [0, scanned) have been read. */
  scanned: number
  /** The last index timed before `to` (-1: none). */
  last: number
  /** Indexes timed at or after `to`. */
  aside: number[]
  /** Revocations counted, whose target is timed at or after `to`: in force at the end once `to` passes it. */
  revokedLater: { hex: string; time: number }[]
}

interface AccessPass {
  /** Rows up to this seq have been read. */
  after?: number
  aside: number[]
  byRole: Record<string, number>
  byProvider: Record<string, number>
  providerOk: number
  /** The chain, checked up to `rows` (head: hash of the last row checked). */
  chain: { rows: number; head: string | null; brokenAt?: number }
}

interface Pass {
  from: number
  to: number
  started: number
  redactions: string
  /** False once too much was left aside to follow a later `to`: then only this `to` can use it. */
  extensible: boolean
  /** Figures may be wrong now (a dispute named a record not held then): start over next time. */
  stale: boolean
  tallies: Map<string, Tally>
  logs: Map<string, LogProgress>
  /** Indicators that revocations and disputes name: their time and log, looked up once each. */
  targets: Map<string, { hex: string; time: number | null; origin?: string }>
  access: AccessPass
}

function newPass(from: number, to: number, redactions: string, started: number): Pass {
  return {
    from, to, started, redactions, extensible: true, stale: false, tallies: new Map(), logs: new Map(), targets: new Map(),
    access: { aside: [], byRole: {}, byProvider: {}, providerOk: 0, chain: { rows: 0, head: null } },
  }
}

function tallyOf(pass: Pass, origin: string): Tally {
  let t = pass.tallies.get(origin)
  if (!t) pass.tallies.set(origin, (t = newTally()))
  return t
}

async function lookupTarget(store: ReportDeps['store'], pass: Pass, target: Uint8Array) {
  const hex = toHex(target)
  let found = pass.targets.get(hex)
  if (!found) {
    const r = await recordById(store, target)
    found = { hex, time: r?.record?.type === 'indicator' ? r.record.time : null, origin: r?.origin }
    pass.targets.set(hex, found)
  }
  return found
}

/** Counts one entry of `origin` into the pass; false when it is timed at or after `to` (left aside, nothing counted). */
async function countEntry(store: ReportDeps['store'], pass: Pass, origin: string, p: LogProgress, item: IndexedRecord): Promise<boolean> {
  const { from, to } = pass
  const t = tallyOf(pass, origin)
  const { index, record: r, redaction } = item
  if (redaction) {
    // A redacted indicator: only the notice is left, timed when it was redacted.
    if (redaction.time >= to) return false
    p.last = Math.max(p.last, index)
    if (redaction.time >= from) {
      t.redacted.total++
      bump(t.redacted.reason, redaction.reason)
    }
    return true
  }
  if (r.time >= to) return false
  p.last = Math.max(p.last, index)
  const inPeriod = r.time >= from
  if (r.type === 'indicator') {
    t.addedBefore.end++
    if (!inPeriod) t.addedBefore.start++
  }
  if (r.type === 'revocation') {
    const target = await lookupTarget(store, pass, r.target)
    if (target.time !== null && target.time < to) t.revokedBefore.end.add(target.hex)
    else if (target.time !== null) p.revokedLater.push({ hex: target.hex, time: target.time })
    if (target.time !== null && target.time < from && !inPeriod) t.revokedBefore.start.add(target.hex)
    if (inPeriod && target.time !== null) t.ttr.push(r.time - target.time)
  }
  if (!inPeriod) return true
  bump(t.records, r.type)
  if (r.type === 'indicator') {
    t.added.total++
    bump(t.added.category, r.category)
    bump(t.added.alg, r.alg)
    bump(t.added.kind, r.kind)
    bump(t.added.media, r.media)
  } else if (r.type === 'revocation') {
    t.removed.total++
    bump(t.removed.reason, r.reason)
  } else if (r.type === 'attestation') {
    if (r.opinion === 'confirm') t.confirmations++
    else {
      const target = await lookupTarget(store, pass, r.target)
      const owner = target.origin ?? 'unknown'
      t.disputes.total++
      bump(t.disputes.reason, r.reason ?? 'unspecified')
      bump(t.disputes.against, owner)
      if (target.origin) {
        tallyOf(pass, target.origin).disputedTargets.add(target.hex)
        tallyOf(pass, target.origin).disputedBy.add(origin)
      } else pass.stale = true
    }
  }
  return true
}

function leaveAside(pass: Pass, aside: number[], index: number): void {
  if (!pass.extensible) return
  aside.push(index)
  if (aside.length > MAX_LEFT_ASIDE) pass.extensible = false
}

/** Brings the pass to `to` (≥ its own) and to the published size of every log and the end of the access log. */
async function extendPass(deps: ReportDeps, pass: Pass, to: number): Promise<void> {
  const { store } = deps
  const later = to > pass.to
  pass.to = to
  if (!pass.extensible) for (const p of pass.logs.values()) p.aside = []
  for (const l of store.listLogs()) {
    let p = pass.logs.get(l.origin)
    if (!p) pass.logs.set(l.origin, (p = { scanned: 0, last: -1, aside: [], revokedLater: [] }))
    if (later) {
      const t = tallyOf(pass, l.origin)
      p.revokedLater = p.revokedLater.filter((x) => (x.time < to ? (t.revokedBefore.end.add(x.hex), false) : true))
      const aside = p.aside
      p.aside = []
      for (const index of aside) {
        for await (const item of logRecords(store, l.origin, index, index + 1)) {
          if (!(await countEntry(store, pass, l.origin, p, item))) leaveAside(pass, p.aside, index)
        }
      }
    }
    for await (const item of logRecords(store, l.origin, p.scanned, l.checkpointSize)) {
      if (!(await countEntry(store, pass, l.origin, p, item))) leaveAside(pass, p.aside, item.index)
    }
    p.scanned = Math.max(p.scanned, l.checkpointSize)
  }
  await extendAccess(deps.accessLog, pass, later)
}

async function extendAccess(accessLog: ReportDeps['accessLog'], pass: Pass, later: boolean): Promise<void> {
  const a = pass.access
  const { from, to } = pass
  const count = (r: AccessRow) => {
    if (r.time >= to) return false
    if (r.time >= from) {
      bump(a.byRole, r.role)
      if (r.role === 'provider') {
        bump(a.byProvider, r.issuer ? `${r.name} (${r.issuer})` : r.name) // a credential's holder is named with its issuing centre
        if (r.status < 400) a.providerOk++
      }
    }
    return true
  }
  if (!pass.extensible) a.aside = []
  if (later && a.aside.length > 0) {
    const aside = a.aside
    a.aside = []
    for (const seq of aside) {
      const row = (await accessLog.query({ after: seq === 0 ? undefined : seq - 1, limit: 1 })).rows[0]
      if (row && !count(row)) leaveAside(pass, a.aside, seq)
    }
  }
  for (;;) {
    const page = await accessLog.query({ after: a.after, limit: 1000 })
    for (const r of page.rows) {
      a.after = r.seq
      if (!count(r)) leaveAside(pass, a.aside, r.seq)
    }
    if (page.next === undefined) break
  }
  // The chain: rows added since the last check, against the last row checked; once broken it stays so.
  if (a.chain.brokenAt === undefined) {
    const c = await accessLog.verify(a.chain.rows > 0 ? { rows: a.chain.rows, head: a.chain.head! } : undefined)
    a.chain = { rows: c.rows, head: c.head, brokenAt: c.brokenAt }
  }
}

async function buildReport(deps: ReportDeps, pass: Pass, opts: ReportOptions): Promise<TransparencyReport> {
  const { store } = deps
  const { from, to } = pass
  const tally = (origin: string) => tallyOf(pass, origin)
  const lastBefore = new Map([...pass.logs].map(([o, p]) => [o, p.last]))

  // The checkpoints the figures rest on.
  const checkpoints: ReportCheckpoint[] = []
  const basisOf = new Map<string, string>()
  for (const l of store.listLogs().sort((a, b) => (a.origin < b.origin ? -1 : 1))) {
    const note = await chooseCheckpoint(store, l.origin, (lastBefore.get(l.origin) ?? -1) + 1)
    if (!note) continue
    const cp = parseCheckpoint(parseNote(note).body)
    const id = `${memberName(l.origin)}@${cp.size}`
    basisOf.set(l.origin, id)
    checkpoints.push({ id, log: l.origin, size: cp.size, root: Buffer.from(cp.root).toString('base64'), cosigned_by: cosignerNames(note), note })
  }

  const figures: ReportFigure[] = []
  const origins = [...basisOf.keys()]
  const add = (figure: string, log: string, dimension: string, key: string, value: number, basis: string[]) =>
    figures.push({ figure, log, dimension, key, value, basis, source: 'logs' })
  const closed = (figure: string, log: string, dimension: string, keys: readonly string[], counts: Record<string, number>, basis: string[]) => {
    for (const k of [...keys, ...Object.keys(counts).filter((x) => !keys.includes(x)).sort()]) add(figure, log, dimension, k, counts[k] ?? 0, basis)
  }
  const ttrFigures = (log: string, values: number[], basis: string[]) => {
    const s = [...values].sort((a, b) => a - b)
    add('time_to_revocation_ms', log, 'statistic', 'count', s.length, basis)
    if (s.length === 0) return
    add('time_to_revocation_ms', log, 'statistic', 'median', percentile(s, 50), basis)
    add('time_to_revocation_ms', log, 'statistic', 'p90', percentile(s, 90), basis)
    add('time_to_revocation_ms', log, 'statistic', 'max', s[s.length - 1]!, basis)
  }
  const sum = (f: (t: Tally) => Record<string, number>) => {
    const out: Record<string, number> = {}
    for (const o of origins) for (const [k, v] of Object.entries(f(tally(o)))) bump(out, k, v)
    return out
  }

  for (const [log, pick] of [...origins.map((o) => [o, [o]] as const), ['all', origins] as const]) {
    const ts = pick.map((o) => tally(o))
    const basis = pick.map((o) => basisOf.get(o)!)
    const total = (f: (t: Tally) => number) => ts.reduce((n, t) => n + f(t), 0)
    const merged = (f: (t: Tally) => Record<string, number>) => (log === 'all' ? sum(f) : f(ts[0]!))
    closed('records', log, 'type', RECORD_TYPES, merged((t) => t.records), basis)
    add('indicators_added', log, 'total', '', total((t) => t.added.total), basis)
    closed('indicators_added', log, 'category', CATEGORIES, merged((t) => t.added.category), basis)
    closed('indicators_added', log, 'alg', ALGS, merged((t) => t.added.alg), basis)
    closed('indicators_added', log, 'kind', KINDS, merged((t) => t.added.kind), basis)
    closed('indicators_added', log, 'media', MEDIA, merged((t) => t.added.media), basis)
    add('indicators_removed', log, 'total', '', total((t) => t.removed.total), basis)
    closed('indicators_removed', log, 'reason', REVOCATION_REASONS, merged((t) => t.removed.reason), basis)
    add('indicators_redacted', log, 'total', '', total((t) => t.redacted.total), basis)
    closed('indicators_redacted', log, 'reason', REDACTION_REASONS, merged((t) => t.redacted.reason), basis)
    ttrFigures(log, ts.flatMap((t) => t.ttr), basis)
    add('disputes', log, 'total', '', total((t) => t.disputes.total), basis)
    closed('disputes', log, 'reason', [...ATTESTATION_REASONS, 'unspecified'], merged((t) => t.disputes.reason), basis)
    const against = merged((t) => t.disputes.against)
    for (const k of Object.keys(against).sort()) add('disputes', log, 'against', k, against[k]!, [...new Set([...basis, ...(basisOf.has(k) ? [basisOf.get(k)!] : [])])])
    const disputedBy = [...new Set(ts.flatMap((t) => [...t.disputedBy]))].sort()
    add('indicators_disputed', log, 'total', '', total((t) => t.disputedTargets.size), [...new Set([...basis, ...disputedBy.map((o) => basisOf.get(o)!)])])
    add('confirmations', log, 'total', '', total((t) => t.confirmations), basis)
    add('indicators_held', log, 'at', 'start', total((t) => t.addedBefore.start - t.revokedBefore.start.size), basis)
    add('indicators_held', log, 'at', 'end', total((t) => t.addedBefore.end - t.revokedBefore.end.size), basis)
  }

  const access = accessFigures(pass.access, opts.providerNames)
  figures.push(...access.figures)
  const ownBasis = basisOf.get(deps.origin)
  if (deps.feedbackReports && ownBasis) figures.push(...feedbackFigures(deps.feedbackReports(), { origin: deps.origin, from, to, basis: [ownBasis], providerNames: opts.providerNames }))
  const iso = (ms: number) => new Date(ms).toISOString()
  return {
    title: 'Transparency report on the database of indicators',
    federation: deps.federation,
    node: deps.origin,
    generated: deps.now(),
    period: { from, to, from_iso: iso(from), to_iso: iso(to) },
    method: [
      'A figure counts the records, in entries [0, size) of each checkpoint named in its basis, whose time (ms since the epoch) lies in [from, to).',
      'indicators_added counts indicator records; indicators_removed counts revocation records; disputes counts attestations with opinion "dispute" (by the log that wrote them; "against" names the log of the disputed indicator); indicators_disputed counts distinct indicators of the log disputed in the period.',
      'indicators_redacted counts redaction notices (legal order) timed in the period. A redacted entry is a marker in the log: the indicator it held is no longer known, so it counts in no other figure.',
      'time_to_revocation_ms: for each revocation in the period, its time minus the time of the indicator it revokes; median and p90 are nearest-rank percentiles.',
      'indicators_held at start (end): indicator records timed before from (to), less the distinct indicators among them revoked by a revocation timed before from (to). Expiry dates are not applied.',
      'The cited checkpoint of a log covers every entry timed before to; of those this node holds, it is the one with the most cosignatures (the smallest on a tie).',
      ...(deps.feedbackReports ? FEEDBACK_METHOD : []),
      `Access figures count the rows of this node's access log timed in [from, to); the log is hash-chained (head ${access.info.head ?? 'none'}, ${access.info.rows} rows, chain ${access.info.chain_intact ? 'intact' : 'BROKEN'}). Other nodes keep their own access logs.`,
    ],
    checkpoints,
    figures,
    access_log: access.info,
  }
}

function accessFigures(a: AccessPass, providerNames: boolean): { figures: ReportFigure[]; info: TransparencyReport['access_log'] } {
  const figures: ReportFigure[] = []
  const add = (figure: string, dimension: string, key: string, value: number) =>
    figures.push({ figure, log: 'all', dimension, key, value, basis: [], source: 'access-log' })
  add('provider_requests', 'total', '', a.byRole.provider ?? 0)
  add('provider_requests', 'outcome', 'successful', a.providerOk)
  add('provider_requests', 'distinct', 'providers', Object.keys(a.byProvider).length)
  if (providerNames) for (const k of Object.keys(a.byProvider).sort()) add('provider_requests', 'provider', k, a.byProvider[k]!)
  for (const role of ['provider', 'auditor', 'oversight', 'operator']) add('requests', 'role', role, a.byRole[role] ?? 0)
  return { figures, info: { rows: a.chain.rows, chain_intact: a.chain.brokenAt === undefined, head: a.chain.head, provider_names: providerNames } }
}

/** A value of the report: the one figure with these coordinates (0 when absent). */
export function figureValue(r: TransparencyReport, figure: string, log: string, dimension: string, key = ''): number {
  return r.figures.find((f) => f.figure === figure && f.log === log && f.dimension === dimension && f.key === key)?.value ?? 0
}

