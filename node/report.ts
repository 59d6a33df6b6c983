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
 */
import { toHex } from '../protocol/bytes.ts'
import { LedgerError } from '../protocol/errors.ts'
import { parseNote } from '../protocol/note.ts'
import { parseCheckpoint } from '../protocol/checkpoint.ts'
import { ALGS, CATEGORIES, KINDS, MEDIA, REVOCATION_REASONS, ATTESTATION_REASONS, RECORD_TYPES } from '../protocol/records.ts'
import { REDACTION_REASONS } from '../protocol/redaction.ts'
import { rowHash, type AccessLog } from './access-log.ts'
import type { StoreReader } from './storage/store.ts'
import { bump, logRecords, recordById } from './dashboard/scan.ts'
import { cosignerNames } from './dashboard/view.ts'

/** What a report is computed from: the logs this node holds and its access log. */
export interface ReportDeps {
  origin: string
  federation: string
  now: () => number
  store: Pick<StoreReader, 'listLogs' | 'checkpoint' | 'checkpointHistory' | 'entries' | 'entry' | 'locate'>
  accessLog: Pick<AccessLog, 'query' | 'verify'>
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
  source: 'logs' | 'access-log'
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

export async function computeReport(deps: ReportDeps, opts: ReportOptions): Promise<TransparencyReport> {
  const { store } = deps
  const { from, to } = opts
  const tallies = new Map<string, Tally>()
  const tally = (origin: string) => {
    let t = tallies.get(origin)
    if (!t) tallies.set(origin, (t = newTally()))
    return t
  }
  const lastBefore = new Map<string, number>()
  // Indicators that revocations and disputes name: their time and log, looked up once each.
  const targets = new Map<string, { hex: string; time: number | null; origin?: string }>()
  const lookup = async (target: Uint8Array) => {
    const hex = toHex(target)
    let found = targets.get(hex)
    if (!found) {
      const r = await recordById(store, target)
      found = { hex, time: r?.record?.type === 'indicator' ? r.record.time : null, origin: r?.origin }
      targets.set(hex, found)
    }
    return found
  }

  // One pass over each log's published entries.
  for (const l of store.listLogs()) {
    const t = tally(l.origin)
    let last = -1
    for await (const { index, record: r, redaction } of logRecords(store, l.origin, 0, l.checkpointSize)) {
      if (redaction) {
        // A redacted indicator: only the notice is left, timed when it was redacted.
        if (redaction.time >= to) continue
        last = index
        if (redaction.time >= from) {
          t.redacted.total++
          bump(t.redacted.reason, redaction.reason)
        }
        continue
      }
      if (r.time >= to) continue
      last = index
      const inPeriod = r.time >= from
      if (r.type === 'indicator') {
        t.addedBefore.end++
        if (!inPeriod) t.addedBefore.start++
      }
      if (r.type === 'revocation') {
        const target = await lookup(r.target)
        if (target.time !== null && target.time < to) t.revokedBefore.end.add(target.hex)
        if (target.time !== null && target.time < from && !inPeriod) t.revokedBefore.start.add(target.hex)
        if (inPeriod && target.time !== null) t.ttr.push(r.time - target.time)
      }
      if (!inPeriod) continue
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
          const target = await lookup(r.target)
          const owner = target.origin ?? 'unknown'
          t.disputes.total++
          bump(t.disputes.reason, r.reason ?? 'unspecified')
          bump(t.disputes.against, owner)
          if (target.origin) {
            tally(target.origin).disputedTargets.add(target.hex)
            tally(target.origin).disputedBy.add(l.origin)
          }
        }
      }
    }
    lastBefore.set(l.origin, last)
  }

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

  const access = await accessFigures(deps.accessLog, opts)
  figures.push(...access.figures)
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
      `Access figures count the rows of this node's access log timed in [from, to); the log is hash-chained (head ${access.info.head ?? 'none'}, ${access.info.rows} rows, chain ${access.info.chain_intact ? 'intact' : 'BROKEN'}). Other nodes keep their own access logs.`,
    ],
    checkpoints,
    figures,
    access_log: access.info,
  }
}

async function accessFigures(accessLog: ReportDeps['accessLog'], opts: ReportOptions): Promise<{ figures: ReportFigure[]; info: TransparencyReport['access_log'] }> {
  const byRole: Record<string, number> = {}
  const byProvider: Record<string, number> = {}
  let providerOk = 0
  let after: number | undefined
  for (;;) {
    const page = await accessLog.query({ after, limit: 1000, from: opts.from, to: opts.to })
    for (const r of page.rows) {
      bump(byRole, r.role)
      if (r.role === 'provider') {
        bump(byProvider, r.name)
        if (r.status < 400) providerOk++
      }
    }
    if (page.next === undefined) break
    after = page.next
  }
  const chain = await accessLog.verify()
  let head: string | null = null
  if (chain.rows > 0) {
    const last = await accessLog.query({ after: chain.rows - 2 < 0 ? undefined : chain.rows - 2, limit: 1 })
    if (last.rows[0]) head = rowHash(last.rows[0])
  }
  const figures: ReportFigure[] = []
  const add = (figure: string, dimension: string, key: string, value: number) =>
    figures.push({ figure, log: 'all', dimension, key, value, basis: [], source: 'access-log' })
  add('provider_requests', 'total', '', byRole.provider ?? 0)
  add('provider_requests', 'outcome', 'successful', providerOk)
  add('provider_requests', 'distinct', 'providers', Object.keys(byProvider).length)
  if (opts.providerNames) for (const k of Object.keys(byProvider).sort()) add('provider_requests', 'provider', k, byProvider[k]!)
  for (const role of ['provider', 'auditor', 'oversight', 'operator']) add('requests', 'role', role, byRole[role] ?? 0)
  return { figures, info: { rows: chain.rows, chain_intact: chain.brokenAt === undefined, head, provider_names: opts.providerNames } }
}

/** A value of the report: the one figure with these coordinates (0 when absent). */
export function figureValue(r: TransparencyReport, figure: string, log: string, dimension: string, key = ''): number {
  return r.figures.find((f) => f.figure === figure && f.log === log && f.dimension === dimension && f.key === key)?.value ?? 0
}

