/**
 * The node's numbers, two ways:
 *
 *  - `nodeStats`: the public aggregate statistics of GET /stats — counts by
 *    log, record type, category, alg, revocation reason and attestation
 *    opinion, the current set size, and per log its size, checkpoint age and
 *    cosignatures. Only counts and log names: nothing that identifies an
 *    indicator (no values, ids, refs or times of single records).
 *  - `renderMetrics`: GET /metrics for the operator, Prometheus text format
 *    from a prom-client Registry of its own per node (several nodes may run in
 *    one process), refreshed from the node's status() on every scrape.
 *
 * Both take only the services they read (StatsDeps, MetricsDeps), not the node.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { parseNote } from '../protocol/note.ts'
import { cosignatureTimestamp, COSIGNATURE_V1_BYTES } from '../protocol/cosignature.ts'
import type { LogCounters, StoreReader } from './storage/store.ts'
import type { AccessLog } from './access-log.ts'
import type { NodeStatus } from './status.ts'
import { unhandledStorageErrors } from './logger.ts'
import { droppedLogLines } from './log-destination.ts'

// ---------------------------------------------------------------------------
// GET /stats

/** What the public statistics are computed from. */
export interface StatsDeps {
  origin: string
  federation: string
  now: () => number
  store: Pick<StoreReader, 'listLogs' | 'counters' | 'currentSetSize'>
}

export interface LogStats {
  origin: string
  name: string
  size: number
  checkpoint_size: number
  /** Cosignatures on the latest checkpoint held. */
  cosignatures: number
  /** Newest cosignature timestamp on that checkpoint (seconds), null when it has none. */
  checkpoint_cosigned_at: number | null
  /** Seconds since then: how long ago a witness last vouched for the log's head. */
  checkpoint_age_s: number | null
  frozen: boolean
  counts: CountStats
}

export interface CountStats {
  entries: number
  by_type: Record<string, number>
  by_alg: Record<string, number>
  by_category: Record<string, number>
  revocations_by_reason: Record<string, number>
  attestations_by_opinion: Record<string, number>
}

export interface NodeStats {
  origin: string
  federation: string
  /** When these numbers were taken, ms since the epoch. */
  generated: number
  current_set_size: number
  logs: LogStats[]
  totals: CountStats
}

function counts(c: LogCounters): CountStats {
  return {
    entries: c.entries, by_type: c.byType, by_alg: c.byAlg, by_category: c.byCategory,
    revocations_by_reason: c.revocationsByReason, attestations_by_opinion: c.attestationsByOpinion,
  }
}

function addInto(into: Record<string, number>, from: Record<string, number>) {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v
}

/** Cosignature lines on a checkpoint and the newest cosignature timestamp (seconds). */
export function cosignatureSummary(note: string | undefined): { count: number; newest: number | null } {
  if (!note) return { count: 0, newest: null }
  const parsed = parseNote(note)
  let newest: number | null = null
  let count = 0
  for (const s of parsed.signatures) {
    // A cosignature/v1 signature is 72 bytes after the key ID; the log's own Ed25519 signature is 64.
    if (s.sig.length !== COSIGNATURE_V1_BYTES) continue
    try {
      const t = cosignatureTimestamp(s.sig)
      count++
      newest = newest === null ? t : Math.max(newest, t)
    } catch {
      // not a cosignature
    }
  }
  return { count, newest }
}

export function nodeStats(deps: StatsDeps): NodeStats {
  const { store } = deps
  const now = deps.now()
  const totals: CountStats = { entries: 0, by_type: {}, by_alg: {}, by_category: {}, revocations_by_reason: {}, attestations_by_opinion: {} }
  const logs = store.listLogs().map((l): LogStats => {
    const c = counts(store.counters(l.origin))
    totals.entries += c.entries
    addInto(totals.by_type, c.by_type)
    addInto(totals.by_alg, c.by_alg)
    addInto(totals.by_category, c.by_category)
    addInto(totals.revocations_by_reason, c.revocations_by_reason)
    addInto(totals.attestations_by_opinion, c.attestations_by_opinion)
    const cs = cosignatureSummary(l.checkpoint)
    return {
      origin: l.origin, name: l.origin.split('/')[1]!, size: l.size, checkpoint_size: l.checkpointSize,
      cosignatures: cs.count, checkpoint_cosigned_at: cs.newest,
      checkpoint_age_s: cs.newest === null ? null : Math.max(0, Math.floor(now / 1000) - cs.newest),
      frozen: l.frozen, counts: c,
    }
  }).sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0))
  return { origin: deps.origin, federation: deps.federation, generated: now, current_set_size: store.currentSetSize(), logs, totals }
}

// ---------------------------------------------------------------------------
// GET /metrics

/** What a scrape reads. One registry per deps object: createApp hands the same one to the counter and the route. */
export interface MetricsDeps {
  now: () => number
  /** When the node started, ms since the epoch. */
  startedAt: number
  status: () => NodeStatus
  store: Pick<StoreReader, 'checkpoint'>
  accessLog: Pick<AccessLog, 'rows' | 'stats'>
}

/** Counters the HTTP layer increments as things happen (node/http/guard.ts, app.ts, server.ts). */
export interface HttpCounters {
  authFailures: Counter<'reason'>
  rateLimited: Counter<'scope'>
  serverErrors: Counter<'code'>
  connectionsRefused: Counter<'reason'>
}

interface NodeMetrics extends HttpCounters {
  registry: Registry
  http: Counter<'method' | 'route' | 'status'>
  refresh(deps: MetricsDeps): Promise<void>
}

const registries = new WeakMap<MetricsDeps, NodeMetrics>()

/** A counter mirrored from an in-memory stats object: reset and re-set on every scrape. */
function mirrorCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[] = []) {
  const c = new Counter<L>({ name, help, labelNames, registers: [registry] })
  return (values: number | Record<string, number>, label?: L) => {
    c.reset()
    if (typeof values === 'number') c.inc(values)
    else for (const [k, v] of Object.entries(values)) c.inc({ [label!]: k } as Partial<Record<L, string>>, v)
  }
}

function mirrorGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[] = []) {
  return new Gauge<L>({ name, help, labelNames, registers: [registry] })
}

function createMetrics(): NodeMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const http = new Counter({ name: 'cairn_http_requests_total', help: 'HTTP API requests by method, route pattern and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] })
  const authFailures = new Counter({ name: 'cairn_http_auth_failures_total', help: 'Requests answered 401: a bad (unknown, malformed, revoked) token, or none on a route that needs one', labelNames: ['reason'] as const, registers: [registry] })
  const rateLimited = new Counter({ name: 'cairn_http_rate_limited_total', help: 'Requests refused with 429 by the rate limits, by bucket (token, or address for requests without a valid token)', labelNames: ['scope'] as const, registers: [registry] })
  const serverErrors = new Counter({ name: 'cairn_http_server_errors_total', help: 'Requests answered with a 5xx, by error code (each is in the node log with its request id)', labelNames: ['code'] as const, registers: [registry] })
  const connectionsRefused = new Counter({ name: 'cairn_http_connections_refused_total', help: 'HTTP connections closed at once because a connection cap was reached', labelNames: ['reason'] as const, registers: [registry] })
  const accessWriteFailures = mirrorCounter(registry, 'cairn_access_log_write_failures_total', 'Access-log batches that could not be written (kept and retried)')
  const accessDropped = mirrorCounter(registry, 'cairn_access_log_dropped_rows_total', 'Access-log rows dropped because too many waited to be written')
  const storageRejections = mirrorCounter(registry, 'cairn_unhandled_storage_errors_total', 'Storage errors (full disk, I/O) that no caller handled; logged, and the node went on')
  const logDropped = mirrorCounter(registry, 'cairn_log_lines_dropped_total', 'Log lines that could not be written to stderr (node.log on a full disk, an I/O error) and were dropped')

  const logSize = mirrorGauge(registry, 'cairn_log_entries', 'Entries held per log', ['log'])
  const logCp = mirrorGauge(registry, 'cairn_log_checkpoint_size', 'Size of the latest checkpoint held per log', ['log'])
  const logCosigs = mirrorGauge(registry, 'cairn_log_cosignatures', 'Cosignatures on the latest checkpoint held per log', ['log'])
  const logAge = mirrorGauge(registry, 'cairn_log_checkpoint_age_seconds', 'Seconds since the newest cosignature on the latest checkpoint per log', ['log'])
  const logFrozen = mirrorGauge(registry, 'cairn_log_frozen', '1 when the log is frozen after an equivocation', ['log'])
  const logTarget = mirrorGauge(registry, 'cairn_log_sync_target_size', 'Best checkpoint size known per log (sync target)', ['log'])
  const setSize = new Gauge({ name: 'cairn_current_set_size', help: 'Indicators in the current (unrevoked) set', registers: [registry] })
  const peers = new Gauge({ name: 'cairn_peers_connected', help: 'Connected libp2p peers', registers: [registry] })
  const members = new Gauge({ name: 'cairn_roster_members', help: 'Roster members by state', labelNames: ['state'] as const, registers: [registry] })
  const startTime = new Gauge({ name: 'cairn_node_start_time_seconds', help: 'When this node started, seconds since the epoch', registers: [registry] })
  const accessRows = new Gauge({ name: 'cairn_access_log_rows', help: 'Rows in the access log', registers: [registry] })
  const openStreams = new Gauge({ name: 'cairn_p2p_open_streams', help: 'Open libp2p streams', registers: [registry] })

  const syncEntries = mirrorCounter(registry, 'cairn_sync_entries_total', 'Entries stored by range sync')
  const syncRanges = mirrorCounter(registry, 'cairn_sync_ranges_total', 'Ranges stored by range sync')
  const syncRejected = mirrorCounter(registry, 'cairn_sync_rejected_total', 'Input rejected by sync, gossip and auth, by error code', ['code'])
  const syncCheckpoints = mirrorCounter(registry, 'cairn_sync_checkpoints_seen_total', 'Checkpoints received (gossip, status, witness)')
  const syncStale = mirrorCounter(registry, 'cairn_sync_checkpoints_stale_total', 'Valid checkpoints older than the verified tree (replays, late gossip); nothing changes')
  const equivocations = mirrorCounter(registry, 'cairn_equivocations_total', 'Equivocations detected or received')
  const pubAccepted = mirrorCounter(registry, 'cairn_publisher_accepted_total', 'Records published to this node\'s log')
  const pubRejected = mirrorCounter(registry, 'cairn_publisher_rejected_total', 'Records refused by the publisher, by error code', ['code'])
  const pubBatches = mirrorCounter(registry, 'cairn_publisher_batches_total', 'Signed checkpoints (batches) published')
  const witCosigned = mirrorCounter(registry, 'cairn_witness_cosigned_total', 'Checkpoints this node cosigned as a witness')
  const witRefused = mirrorCounter(registry, 'cairn_witness_refused_total', 'add-checkpoint requests refused, by error code', ['code'])
  const colRequests = mirrorCounter(registry, 'cairn_cosign_requests_total', 'add-checkpoint requests sent to witnesses')
  const colCosigs = mirrorCounter(registry, 'cairn_cosign_cosignatures_total', 'Cosignatures collected for this node\'s log')
  const colFailures = mirrorCounter(registry, 'cairn_cosign_failures_total', 'Failed cosignature requests')
  const p2pRefused = mirrorCounter(registry, 'cairn_p2p_refused_total', 'libp2p connections, streams and gossip refused, by reason', ['reason'])
  const p2pBadFrames = mirrorCounter(registry, 'cairn_p2p_bad_frames_total', 'Malformed or oversized frames on cairn protocols, by reason', ['reason'])
  const p2pGossip = mirrorCounter(registry, 'cairn_p2p_gossip_messages_total', 'Gossip messages, by direction', ['direction'])
  const p2pRequests = mirrorCounter(registry, 'cairn_p2p_requests_total', 'Request/response exchanges, by outcome', ['outcome'])
  const p2pRedials = mirrorCounter(registry, 'cairn_p2p_redials_total', 'Redial attempts and failures', ['outcome'])
  const setLinesMismatches = new Counter({
    name: 'cairn_set_lines_mismatches_total', registers: [registry], labelNames: ['log', 'stage'] as const,
    help: 'Snapshot line files found not to match the store (stage start: the check at start; serve: a block\'s checksum while serving); each rebuilt the log\'s files',
  })
  const setLinesUnchecked = new Gauge({ name: 'cairn_set_lines_unchecked_logs', help: 'Logs whose snapshot line files are being checked or rebuilt (their snapshots are rendered from the store)', registers: [registry] })
  const mirrorRounds = mirrorCounter(registry, 'cairn_mirror_rounds_total', 'Rounds of the static mirror writer that finished without error')
  const mirrorFiles = mirrorCounter(registry, 'cairn_mirror_files_written_total', 'Files written to the static mirror, by kind (tile, bundle, checkpoint, logs, snapshot, snapshot-latest)', ['kind'])
  const mirrorBytes = mirrorCounter(registry, 'cairn_mirror_bytes_written_total', 'Bytes written to the static mirror')
  const mirrorFailures = mirrorCounter(registry, 'cairn_mirror_failures_total', 'Failed rounds of the static mirror writer, by cause (an OS error code, an S3 error name or a LedgerError code); each is retried with backoff', ['cause'])
  const mirrorFailing = new Gauge({ name: 'cairn_mirror_failing', help: '1 while the static mirror writer\'s rounds fail (since the last success)', registers: [registry] })
  const mirrorSize = mirrorGauge(registry, 'cairn_mirror_checkpoint_size', 'Size of the checkpoint the static mirror holds per log', ['log'])
  const mirrorLastSuccess = new Gauge({ name: 'cairn_mirror_last_success_timestamp_seconds', help: 'When a round of the static mirror writer last finished without error', registers: [registry] })

  const refresh = async (deps: MetricsDeps) => {
    const s = deps.status()
    const now = deps.now()
    for (const g of [logSize, logCp, logCosigs, logAge, logFrozen, logTarget]) g.reset()
    for (const l of s.logs) {
      logSize.set({ log: l.origin }, l.size)
      logCp.set({ log: l.origin }, l.checkpointSize)
      logCosigs.set({ log: l.origin }, l.cosignatures)
      logFrozen.set({ log: l.origin }, l.frozen ? 1 : 0)
      if (l.target !== undefined) logTarget.set({ log: l.origin }, l.target)
      const cs = cosignatureSummary(deps.store.checkpoint(l.origin))
      if (cs.newest !== null) logAge.set({ log: l.origin }, Math.max(0, Math.floor(now / 1000) - cs.newest))
    }
    setSize.set(s.currentSetSize)
    peers.set(s.peers.length)
    members.reset()
    members.set({ state: 'active' }, s.roster.members.filter((m) => m.active).length)
    members.set({ state: 'removed' }, s.roster.members.filter((m) => !m.active).length)
    startTime.set(Math.floor(deps.startedAt / 1000))
    accessRows.set(await deps.accessLog.rows())
    accessWriteFailures(deps.accessLog.stats.writeFailures)
    accessDropped(deps.accessLog.stats.droppedRows)
    storageRejections(unhandledStorageErrors())
    logDropped(droppedLogLines())
    openStreams.set(s.peer.openStreams)

    syncEntries(s.sync.entriesSynced)
    syncRanges(s.sync.rangesSynced)
    syncRejected(s.sync.rejected, 'code')
    syncCheckpoints(s.sync.checkpointsSeen)
    syncStale(s.sync.checkpointsStale)
    equivocations(s.sync.equivocations)
    pubAccepted(s.publisher.accepted)
    pubRejected(s.publisher.rejected, 'code')
    pubBatches(s.publisher.batches)
    witCosigned(s.witness.cosigned)
    witRefused(s.witness.refused, 'code')
    colRequests(s.cosign.requests)
    colCosigs(s.cosign.cosignatures)
    colFailures(s.cosign.failures)
    p2pRefused(s.peer.refused, 'reason')
    p2pBadFrames(s.peer.badFrames, 'reason')
    p2pGossip({ published: s.peer.gossip.published, received: s.peer.gossip.received, too_large: s.peer.gossip.tooLarge }, 'direction')
    p2pRequests({ sent: s.peer.requests.sent, failed: s.peer.requests.failed, served: s.peer.requests.served, serve_errors: s.peer.requests.serveErrors }, 'outcome')
    p2pRedials({ attempts: s.peer.redials.attempts, failures: s.peer.redials.failures }, 'outcome')
    setLinesMismatches.reset()
    for (const m of s.setLines.mismatches) setLinesMismatches.inc({ log: m.log, stage: m.stage }, m.count)
    setLinesUnchecked.set(s.setLines.unchecked)
    if (s.mirror) {
      mirrorRounds(s.mirror.rounds)
      mirrorFiles(s.mirror.filesWritten as Record<string, number>, 'kind')
      mirrorBytes(s.mirror.bytesWritten)
      mirrorFailures(s.mirror.failures, 'cause')
      mirrorFailing.set(s.mirror.failing ? 1 : 0)
      mirrorSize.reset()
      for (const [log, size] of Object.entries(s.mirror.logs)) mirrorSize.set({ log }, size)
      if (s.mirror.lastSuccess !== undefined) mirrorLastSuccess.set(Math.floor(s.mirror.lastSuccess / 1000))
    }
  }
  return { registry, http, authFailures, rateLimited, serverErrors, connectionsRefused, refresh }
}

function metricsFor(deps: MetricsDeps): NodeMetrics {
  let m = registries.get(deps)
  if (!m) {
    m = createMetrics()
    registries.set(deps, m)
  }
  return m
}

/** The counters the HTTP layer of the node with these deps increments. */
export function httpCounters(deps: MetricsDeps): HttpCounters {
  return metricsFor(deps)
}

/** The Prometheus exposition of a node's metrics. */
export async function renderMetrics(deps: MetricsDeps): Promise<{ contentType: string; body: string }> {
  const m = metricsFor(deps)
  await m.refresh(deps)
  return { contentType: m.registry.contentType, body: await m.registry.metrics() }
}

/**
 * Middleware counting every HTTP request by method, matched route pattern
 * (never the raw path: it may hold an indicator value) and status.
 */
export function httpMetrics(deps: MetricsDeps): MiddlewareHandler {
  return async (c, next) => {
    try {
      await next()
    } finally {
      const pattern = routePath(c, -1)
      const route = !pattern || pattern === '*' || pattern === '/*' ? 'unmatched' : pattern
      metricsFor(deps).http.inc({ method: c.req.method, route, status: String(c.res.status) })
    }
  }
}
