/**
 * The composition root: the one place a cairn node is wired together from its
 * parts (store, roster, peer, publisher, sync, witness, HTTP). The CLI and the
 * testnet start nodes only through `startNode`.
 */
import './polyfill.ts'
import { join, resolve } from 'node:path'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { EMPTY_ROOT } from '../protocol/hash.ts'
import { LedgerError } from '../protocol/errors.ts'
import { openStore, closeStore } from './storage/open.ts'
import { replayRoster } from './roster-replay.ts'
import { Store } from './storage/store.ts'
import { SetLines, setLinesDir } from './provider/set-lines.ts'
import { OpinionIndex } from './provider/opinions.ts'
import { loadKeys, loadKeySeeds, loadNodeFile, loadGenesis, loadOrCreateRefSecret, type NodeKeys, type NodeFile } from './config.ts'
import { IdempotencyKeys } from './idempotency.ts'
import { Roster } from './roster.ts'
import { OwnKeys, watchOwnKeyChanges } from './own-keys.ts'
import { Publisher, allGates } from './publisher.ts'
import { CryptoPools } from './crypto-pools.ts'
import { RetentionSweeper } from './retention.ts'
import { TokenStore } from './tokens.ts'
import { AccessLog } from './access-log.ts'
import { createLogger, type Logger } from './logger.ts'
import { nodeStatus, type NodeStatus } from './status.ts'
import { createApp } from './http/app.ts'
import { listen, loadTls } from './http/listen.ts'
import { createPeer, type Peer } from './replication/peer.ts'
import { SyncManager, serveSyncRanges } from './replication/sync.ts'
import { RedactionService } from './replication/redaction.ts'
import { WitnessService, CosignCollector, serveWitness } from './replication/witness.ts'
import { StatusLoop, serveStatus } from './replication/status.ts'
import { OwnLogCatchUp } from './replication/own-log.ts'
import { backupRoutes } from './http/routes-backup.ts'
import { credentialRoutes } from './http/routes-credentials.ts'
import { CredentialDesk, CredentialVerifier, RevocationRelay, RevocationSet, rosterIssuers } from './credentials/index.ts'
import { trustedProxies } from './http/client-address.ts'
import { FeedbackStore, FeedbackRelay, ReviewDesk } from './feedback/index.ts'
import { Gossip } from './replication/gossip.ts'
import { Healer } from './replication/heal.ts'
import { ForkResolver, confirmation } from './replication/fork-resolution.ts'
import { testBlocklist } from './replication/test-blocklist.ts'
import { PROTO_WITNESS, decodeWitnessResponse, textFrame } from './replication/messages.ts'
import { startMirror, type Mirror } from './mirror/index.ts'

export interface StartOptions {
  /** Node directory (keys.json, node.json, genesis.json, db/). */
  dir: string
  /** Overrides of node.json. */
  httpPort?: number
  listen?: string[]
  bootstrap?: string[]
  /** Worker threads for signing and verifying (default: one per core; 0 = in-process). */
  workers?: number
  /** Clock (ms since epoch); tests may pin it. */
  now?: () => number
  logLevel?: string
  /** Sync: entries per range request, and bytes ranges fetched ahead may hold (tests set them small). */
  syncRangeSize?: number
  syncAheadMaxBytes?: number
  /** Sign the own log without first asking peers how far it goes (node.json `alone`; replication/own-log.ts), and how long to wait for them. */
  alone?: boolean
  ownLogTimeoutMs?: number
  /** Provider feedback delivery: how often due reports are sent, outcomes asked for, and the first retry's backoff (node/feedback/relay.ts). */
  feedback?: { tickMs?: number; pollMs?: number; minBackoffMs?: number }
  /** Credential revocations between members: how often new connections are looked for, and how often every member is asked (node/credentials/relay.ts). */
  credentialRevocations?: { tickMs?: number; pollMs?: number }
  /** The static mirror's retry backoff and polling (node/mirror/; tests set them small). */
  mirror?: { minBackoffMs?: number; maxBackoffMs?: number; pollMs?: number }
}

export interface CairnNode {
  readonly origin: string
  readonly name: string
  readonly federation: string
  readonly keys: NodeKeys
  readonly settings: NodeFile
  readonly store: Store
  /** The jsonl snapshot kept as files (GET /feed/snapshot). */
  readonly setLines: SetLines
  readonly roster: Roster
  readonly peer: Peer
  readonly publisher: Publisher
  /** Whether the node may sign its own log yet (it first catches up from its peers). */
  readonly ownLog: OwnLogCatchUp
  readonly redactions: RedactionService
  readonly retention: RetentionSweeper
  readonly sync: SyncManager
  readonly witness: WitnessService
  readonly collector: CosignCollector
  readonly tokens: TokenStore
  readonly accessLog: AccessLog
  /** The static mirror writer (node.json `mirror`), if any. */
  readonly mirror?: Mirror
  readonly log: Logger
  readonly startedAt: number
  /** http://host:port of the API. */
  readonly url: string
  /** The API's routes (method, hono path), as /openapi.json documents them. */
  readonly routes: { method: string; path: string }[]
  now(): number
  status(): NodeStatus
  /** Announces this node's checkpoints now (gossip). */
  announce(origin?: string): void
  stop(): Promise<void>
}

export async function startNode(opts: StartOptions): Promise<CairnNode> {
  const settings = loadNodeFile(opts.dir)
  // Checked before anything opens: a bad certificate stops the start with one line.
  const tls = settings.http.tls && loadTls({ cert: resolve(opts.dir, settings.http.tls.cert), key: resolve(opts.dir, settings.http.tls.key) })
  const keys = await loadKeys(opts.dir)
  const genesis = loadGenesis(join(opts.dir, 'genesis.json'))
  const origin = settings.origin
  const now = opts.now ?? (() => Date.now())
  const log = createLogger(origin, opts.logLevel)
  const roster = new Roster(genesis)
  const ownKeys = new OwnKeys(roster, origin, keys, () => loadKeySeeds(opts.dir)) // which of keys.json's keys signs, by the roster (own-keys.ts)

  const { kv, store } = await openStore(join(opts.dir, 'db'), log, { minFreeBytes: settings.storage.min_free_mib * 2 ** 20 })
  for (const m of roster.all()) if (!store.hasLog(m.origin)) await store.registerLog(m.origin)
  await replayRoster(store, roster, genesis.federation) // roster changes stored in any log (roster-replay.ts)
  for (const m of roster.all()) if (!store.hasLog(m.origin)) await store.registerLog(m.origin)
  if (!store.hasLog(origin)) await store.registerLog(origin)
  ownKeys.checkAtStart(store.size(origin), keys.peerId) // after the replay: the roster's keys now, not genesis's
  const setLines = await SetLines.open(setLinesDir(opts.dir), store, log)
  if (!roster.member(origin)?.active) {
    log.warn(`${origin} is not (yet) a member of ${genesis.federation}: the node syncs the members' logs and may write once a roster change adds it`)
  }

  const tokens = new TokenStore(kv, now)
  const accessLog = await AccessLog.open(kv)
  // TEST ONLY: harness-controlled partition (off unless CAIRN_TEST_BLOCKLIST is set).
  const blocked = testBlocklist(process.env.CAIRN_TEST_BLOCKLIST, () => void peer.enforceAllowed())
  const peer = await createPeer({
    privateKeySeed: keys.p2pSeed,
    listen: opts.listen ?? settings.listen,
    announce: settings.advertise,
    allowedPeers: () => {
      const s = roster.allowedPeerIds()
      s.delete(keys.peerId)
      for (const id of blocked.ids()) s.delete(id)
      return s
    },
    topic: `/cairn/${genesis.federation}/checkpoints/1`,
    onError: (err, context) => log.debug({ err: String(err), context }, 'peer error'),
  })
  const gossip = new Gossip({ peer, store, roster, log })
  let mirror: Mirror | undefined // told of every new checkpoint, once started below

  const onRecord = (o: string, id: Uint8Array, record: CairnRecord, signer?: Uint8Array) => {
    if (record.type !== 'roster' && record.type !== 'attestation') return
    if (roster.observe(o, id, record, signer)) {
      log.info({ log: o }, 'roster change applied')
      for (const m of roster.all()) if (!store.hasLog(m.origin)) void store.registerLog(m.origin)
      void peer.enforceAllowed()
      peer.keepConnected(bootstrapAddrs())
    }
  }

  const pools = await CryptoPools.start(opts.workers)
  const sync: SyncManager = new SyncManager({
    store, roster, peer, self: origin, openRangeImpl: pools.openRange,
    rangeSize: opts.syncRangeSize, aheadMaxBytes: opts.syncAheadMaxBytes,
    onRecord,
    onCheckpoint: (_o, note) => {
      gossip.checkpoint(note)
      mirror?.notify()
    },
    onEquivocation: (o, p) => void gossip.equivocation(o, p, sync),
    log: (level, msg) => log[level](msg),
  })

  const witness = new WitnessService(store, roster, { origin, witnessSeed: (t) => ownKeys.witnessSeedAt(t) }, () => Math.floor(now() / 1000), (note) => void sync.onAnnouncement(note))

  const collector = new CosignCollector(store, roster, origin, async (w, body) => {
    const frames = await peer.requestAll(w.peerId, PROTO_WITNESS, [textFrame(body)], { timeoutMs: 5000 })
    if (frames.length !== 1) throw new LedgerError('PEER_ERROR', `witness ${w.origin} sent ${frames.length} frames`)
    return decodeWitnessResponse(frames[0]!)
  }, (note) => {
    gossip.checkpoint(note)
    mirror?.notify()
  }, (msg) => log.debug(msg))

  const forks: ForkResolver = new ForkResolver({
    store, roster, peer, sync, origin,
    replayRoster: () => roster.rebuild(genesis, () => replayRoster(store, roster, genesis.federation)),
    restartNumbering: (): Promise<void> => publisher.restartNumbering(),
    confirm: async (id) => void (await publisher.submit(confirmation(id))),
    log: (level, msg) => log[level](msg),
  })
  const ownLog = new OwnLogCatchUp({ origin, store, roster, peer, sync, alone: opts.alone ?? settings.alone, timeoutMs: opts.ownLogTimeoutMs, log: (level, msg) => log[level](msg) })
  const publisher: Publisher = new Publisher({
    store, roster, origin, logSeed: keys.logSeed, sign: pools.sign, gate: allGates(ownLog, forks), seedAt: (i) => ownKeys.logSeedAt(i), endsBatch: (r) => ownKeys.endsBatch(r),
    maxRecords: settings.batch.max_records, maxMs: settings.batch.max_ms, now,
    onRecord: (id, r) => onRecord(origin, id, r),
    onCheckpoint: (note) => {
      gossip.checkpoint(note)
      collector.request(note)
      mirror?.notify()
    },
  })

  const submit: Publisher['submit'] = (body, o) => publisher.submit(body, o)
  const redactions = new RedactionService({
    store, roster, peer, origin, get logSeed() { return ownKeys.currentLogSeed() }, submit, now, rejected: sync.stats.rejected, log: (level, msg) => log[level](msg),
  })
  watchOwnKeyChanges({ store, roster, origin, submit, log: (msg) => log.info(msg) })
  const retention = new RetentionSweeper({ store, origin, submit, now, log: (level, msg) => log[level](msg) })

  // Our own log starts with a signed checkpoint of the empty tree, so it can be witnessed and served at once.
  if (!store.checkpoint(origin)) {
    await store.setCheckpoint(origin, signCheckpoint({ origin, size: 0, root: EMPTY_ROOT }, { name: origin, seed: keys.logSeed }))
  }

  await serveSyncRanges(peer, store)
  await serveStatus(peer, store)
  await serveWitness(peer, witness, (obj, msg) => log.debug(obj, msg))
  await redactions.register()
  const feedbackStore = await FeedbackStore.open(kv)
  const feedbackRelay = new FeedbackRelay({ origin, store, roster, peer, feedback: feedbackStore, now, log: (level, msg) => log[level](msg), ...opts.feedback })
  const review = new ReviewDesk({ origin, store, feedback: feedbackStore, relay: feedbackRelay, submit })
  await feedbackRelay.register()
  // Credentials any member issued (node/credentials/): checked against this roster, revocations relayed between members.
  const revocations = RevocationSet.open(opts.dir, rosterIssuers(roster), () => Math.floor(now() / 1000))
  const credentials = new CredentialVerifier(roster, revocations, now)
  const revocationRelay = new RevocationRelay({ roster, peer, revocations, selfPeerId: keys.peerId, log: (level, msg) => log[level](msg), ...opts.credentialRevocations })
  const credentialDesk = new CredentialDesk({ dir: opts.dir, origin, seed: () => ownKeys.currentLogSeed(), revocations, publish: (s) => revocationRelay.push([s]), now })
  await revocationRelay.register()
  gossip.listen(sync, redactions)

  const bootstrapAddrs = () => {
    const addrs = new Set(opts.bootstrap ?? settings.bootstrap)
    for (const m of roster.active()) if (m.origin !== origin) for (const a of m.addrs) addrs.add(a.includes('/p2p/') ? a : `${a}/p2p/${m.peerId}`)
    return [...addrs].filter((a) => !a.endsWith(`/p2p/${keys.peerId}`))
  }

  await peer.start()
  peer.keepConnected(bootstrapAddrs())
  const healer = await Healer.start({ store, roster, peer, log: (level, obj, msg) => log[level](obj, msg), onHealed: (o) => setLines.resume(o) })
  ownLog.start()
  forks.start()
  redactions.start()
  feedbackRelay.start()
  revocationRelay.start()
  retention.start()
  const statusLoop = new StatusLoop({ peer, store, roster, sync, collector, origin, log })
  statusLoop.start()

  let node!: CairnNode
  const startedAt = now()
  const refSecret = loadOrCreateRefSecret(opts.dir)
  const idempotency = new IdempotencyKeys(kv, now)
  const opinions = OpinionIndex.start(store)
  if (settings.mirror) mirror = await startMirror({ settings: settings.mirror, dir: opts.dir, store, roster, setLines, opinions, now, log, ...opts.mirror })
  const api = { origin, federation: genesis.federation, now, startedAt, store, setLines, opinions, roster, mirrorPresign: mirror?.presign, tokens, credentials, accessLog, witness, submit, redactions, refSecret, idempotency,
    rejected: sync.stats.rejected, status: () => node.status(), log, limits: settings.limits, trustedProxies: trustedProxies(settings.http.trusted_proxies ?? []),
    feedbackRelay, review, feedbackReports: () => feedbackStore.reports.values(), ownLogStatus: () => ownLog.status() }
  const app = createApp(api)
  app.route('/', backupRoutes({ origin, kv }))
  app.route('/', credentialRoutes({ credentials: credentialDesk }))
  const server = await listen(app.fetch, settings.http.host, opts.httpPort ?? settings.http.port, api, tls) // api itself: the metrics are keyed by it
  const url = server.url

  let stopping = false
  node = {
    origin, name: settings.name, federation: genesis.federation, keys, settings, store, setLines, roster, peer, publisher, ownLog, redactions, retention, sync, witness, collector, tokens, accessLog, mirror, log,
    startedAt, url, now,
    routes: app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, path: r.path })),
    announce(o?: string) {
      for (const l of store.listLogs()) if (l.checkpoint && (!o || l.origin === o)) gossip.checkpoint(l.checkpoint)
    },
    status: () => nodeStatus({ origin, peerId: keys.peerId, url, store, roster, peer, publisher, ownLog, sync, witness, collector, setLines, mirror,
      credentials: { accepted: credentials.stats, revocations: revocations.stats, relay: revocationRelay.stats } }),
    async stop() {
      if (stopping) return
      stopping = true
      blocked.stop()
      await statusLoop.stop()
      await feedbackRelay.stop()
      await revocationRelay.stop()
      await Promise.all([retention.stop(), redactions.stop(), ownLog.stop(), forks.stop()])
      await publisher.stop()
      await mirror?.stop()
      await Promise.all([sync.stop(), collector.stop(), healer.stop()])
      await server.close()
      await peer.stop()
      await pools.close()
      await accessLog.close()
      await setLines.close()
      await closeStore(join(opts.dir, 'db'), store, log)
    },
  }
  node.announce()
  return node
}
