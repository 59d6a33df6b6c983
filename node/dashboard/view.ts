/**
 * GET /dashboard.json: everything the dashboard page draws, in one public
 * document. It embeds the public statistics of GET /stats (nodeStats) and
 * adds what a supervisor reads at a glance: a headline and alerts, witness
 * health per log (size, checkpoint age, who cosigned, frozen), the peers, and
 * the incremental aggregates (growth over time, kinds, disputes).
 *
 * Aggregates only: no indicator value, record id, ref or record time leaves
 * here. Growth points carry whole-second times and entry counts, which is what
 * the public checkpoints and their cosignature timestamps already tell.
 */
import { parseNote } from '../../protocol/note.ts'
import { COSIGNATURE_V1_BYTES } from '../../protocol/cosignature.ts'
import { nodeStats, type NodeStats, type StatsDeps } from '../metrics.ts'
import type { StoreReader } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { NodeStatus } from '../status.ts'
import { aggregatorFor, type AggregateStore } from './aggregate.ts'

/** What the dashboard reads: the public statistics' sources, the roster and the node's status. */
export interface DashboardDeps extends StatsDeps {
  store: StatsDeps['store'] & AggregateStore & Pick<StoreReader, 'checkpoint'>
  roster: Pick<Roster, 'all' | 'witnesses'>
  status: () => NodeStatus
}

export type Level = 'ok' | 'warning' | 'alert'

export interface WitnessHealth {
  origin: string
  name: string
  size: number
  checkpoint_size: number
  /** Seconds since the newest cosignature on the latest checkpoint; null without one. */
  checkpoint_age_s: number | null
  /** Members (names) whose cosignature is on that checkpoint. */
  cosigned_by: string[]
  /** Active witnesses other than the log's owner. */
  witnesses: string[]
  missing: string[]
  frozen: boolean
  /** Entries this node still has to fetch to reach the best checkpoint it has heard of. */
  behind: number
  level: Level
}

export interface LogSeries {
  origin: string
  name: string
  /** [seconds since the epoch, entries in the log] */
  growth: [number, number][]
  by_kind: Record<string, number>
  by_media: Record<string, number>
  /** Disputes this log's centre wrote: disputed centre (name) → reason → count. */
  disputes: Record<string, Record<string, number>>
}

export interface PeerInfo {
  name: string
  origin: string
  roles: string[]
  active: boolean
  self: boolean
  connected: boolean
  peer_id: string
}

export interface DashboardData {
  federation: string
  origin: string
  generated: number
  status: { level: Level; headline: string }
  alerts: { level: Exclude<Level, 'ok'>; text: string }[]
  totals: {
    current_set_size: number
    indicators: number
    revocations: number
    /** Indicators redacted on legal order: their entries are markers now. */
    redacted: number
    disputes: number
    confirmations: number
    logs: number
    logs_fully_cosigned: number
    peers_connected: number
    peers_expected: number
  }
  witness: WitnessHealth[]
  series: LogSeries[]
  peers: PeerInfo[]
  /** How far the incremental aggregates have got (a first scan of big logs takes a while). */
  indexing: { indexed: number; total: number; complete: boolean }
  stats: NodeStats
}

const memberName = (origin: string) => origin.split('/')[1] ?? origin

/** Names of the witnesses whose cosignature/v1 lines are on a checkpoint note. */
export function cosignerNames(note: string | undefined): string[] {
  if (!note) return []
  return parseNote(note).signatures.filter((s) => s.sig.length === COSIGNATURE_V1_BYTES).map((s) => memberName(s.name)).sort()
}

export async function dashboardData(deps: DashboardDeps, budgetMs = 1500): Promise<DashboardData> {
  const agg = aggregatorFor(deps.store)
  await agg.refresh(budgetMs)
  const stats = nodeStats(deps)
  const status = deps.status()
  const targets = Object.fromEntries(status.logs.map((l) => [l.origin, l.target ?? l.size]))
  const alerts: DashboardData['alerts'] = []

  const witness = stats.logs.map((l): WitnessHealth => {
    const witnesses = deps.roster.witnesses().filter((w) => w.origin !== l.origin).map((w) => memberName(w.origin)).sort()
    const cosignedBy = cosignerNames(deps.store.checkpoint(l.origin))
    const missing = witnesses.filter((w) => !cosignedBy.includes(w))
    const behind = Math.max(0, (targets[l.origin] ?? l.size) - l.size)
    let level: Level = 'ok'
    if (l.frozen) {
      level = 'alert'
      alerts.push({ level: 'alert', text: `Equivocation: the log of ${l.name} signed two conflicting checkpoints. It is frozen on this node; no new entries are accepted from it.` })
    } else if (missing.length > 0 && l.checkpoint_size > 0) {
      level = 'warning'
      alerts.push({ level: 'warning', text: `The latest checkpoint of ${l.name} (size ${l.checkpoint_size}) lacks the cosignature of ${missing.join(', ')}.` })
    } else if (behind > 0) {
      level = 'warning'
      alerts.push({ level: 'warning', text: `This node is still fetching ${behind} entries of ${l.name}'s log.` })
    }
    return {
      origin: l.origin, name: l.name, size: l.size, checkpoint_size: l.checkpoint_size, checkpoint_age_s: l.checkpoint_age_s,
      cosigned_by: cosignedBy, witnesses, missing, frozen: l.frozen, behind, level,
    }
  })

  const connected = new Set(status.peers.map((p) => p.peerId))
  const peers: PeerInfo[] = deps.roster.all().map((m) => ({
    name: memberName(m.origin), origin: m.origin, roles: [...m.roles].sort(), active: m.active,
    self: m.origin === deps.origin, connected: m.origin === deps.origin || connected.has(m.peerId), peer_id: m.peerId,
  })).sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0))
  const expected = peers.filter((p) => p.active && !p.self)
  for (const p of expected) if (!p.connected) alerts.push({ level: 'warning', text: `Not connected to ${p.name}.` })
  if (agg.lastError) alerts.push({ level: 'warning', text: `Counting entries for the charts stopped: ${agg.lastError}` })
  if (!peers.some((p) => p.self && p.active)) alerts.push({ level: 'warning', text: `This node (${memberName(deps.origin)}) is not an active member of the federation.` })

  const series = stats.logs.map((l): LogSeries => {
    const a = agg.get(l.origin)
    // Whole seconds, one point per second (the last one of that second).
    const growth: [number, number][] = []
    const points = [...a.growth.points]
    if (a.lastTime !== null) points.push([a.lastTime, a.indexed])
    for (const [t, n] of points) {
      const s = Math.floor(t / 1000)
      if (growth.length && growth[growth.length - 1]![0] === s) growth[growth.length - 1]![1] = Math.max(growth[growth.length - 1]![1], n)
      else growth.push([s, n])
    }
    const disputes: LogSeries['disputes'] = {}
    for (const [against, reasons] of Object.entries(a.disputes)) disputes[against === 'unknown' ? 'unknown' : memberName(against)] = reasons
    return { origin: l.origin, name: l.name, growth, by_kind: a.byKind, by_media: a.byMedia, disputes }
  })

  const t = stats.totals
  const progress = agg.progress()
  const alertCount = alerts.filter((a) => a.level === 'alert').length
  const warnCount = alerts.length - alertCount
  const fullyCosigned = witness.filter((w) => !w.frozen && (w.missing.length === 0 || w.checkpoint_size === 0)).length
  const headline = alertCount > 0
    ? `ALERT: ${alertCount} equivocation${alertCount === 1 ? '' : 's'} detected`
    : warnCount > 0
      ? `Attention: ${warnCount} warning${warnCount === 1 ? '' : 's'}`
      : `Healthy: all ${witness.length} logs cosigned by every witness, all ${expected.length} peers connected`
  return {
    federation: deps.federation,
    origin: deps.origin,
    generated: stats.generated,
    status: { level: alertCount > 0 ? 'alert' : warnCount > 0 ? 'warning' : 'ok', headline },
    alerts: [...alerts.filter((a) => a.level === 'alert'), ...alerts.filter((a) => a.level === 'warning')],
    totals: {
      current_set_size: stats.current_set_size,
      indicators: t.by_type.indicator ?? 0,
      revocations: t.by_type.revocation ?? 0,
      redacted: t.by_type.redacted ?? 0,
      disputes: t.attestations_by_opinion.dispute ?? 0,
      confirmations: t.attestations_by_opinion.confirm ?? 0,
      logs: witness.length,
      logs_fully_cosigned: fullyCosigned,
      peers_connected: expected.filter((p) => p.connected).length,
      peers_expected: expected.length,
    },
    witness,
    series,
    peers,
    indexing: { ...progress, complete: progress.indexed >= progress.total },
    stats,
  }
}
