/**
 * The composition root: the one place a cairn node is wired together from its
 * parts (store, roster, peer, publisher, sync, witness, HTTP). The CLI and the
 * testnet start nodes only through `startNode`.
 */
import './polyfill.ts'
import { join } from 'node:path'
import { existsSync, writeFileSync, readFileSync, chmodSync } from 'node:fs'
import { serve, type ServerType } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import { decodeEntry } from '../protocol/entry.ts'
import { decodeCheckedRecord, type CairnRecord } from '../protocol/records.ts'
import { verifyEquivocationProof } from '../protocol/equivocation.ts'
import { EMPTY_ROOT, leafHash } from '../protocol/hash.ts'
import { parseNote } from '../protocol/note.ts'
import { LedgerError, type ErrorCode } from '../protocol/errors.ts'
import { LevelKV } from './storage/kv.ts'
import { SetLines, setLinesDir } from './provider/set-lines.ts'
import { Store } from './storage/store.ts'
import { loadKeys, loadNodeFile, loadGenesis, type NodeKeys, type NodeFile } from './config.ts'
import { Roster } from './roster.ts'
import { createPeer, type Peer } from './replication/peer.ts'
import { Publisher, type SignBatch, type SignedBatch } from './publisher.ts'
import { WorkerPool, defaultPoolSize } from '../workers/pool.ts'
import { signJob, openJob, pack, unpack, type SignInput } from '../workers/crypto-jobs.ts'
import type { CheckedEntry } from './replication/ingest.ts'
import { concat } from '../protocol/bytes.ts'
import { SyncManager } from './replication/sync.ts'
import { RedactionService } from './replication/redaction.ts'
import { RetentionSweeper } from './retention.ts'
import { WitnessService, CosignCollector, signerNames } from './replication/witness.ts'
import { TokenStore } from './tokens.ts'
import { AccessLog } from './access-log.ts'
import { createLogger, type Logger } from './logger.ts'
import { createApp } from './http/app.ts'
import {
  PROTO_STATUS, PROTO_SYNC, PROTO_WITNESS,
  decodeGossip, encodeGossip, decodeSyncRequest, encodeSyncHeader, decodeWitnessResponse, encodeWitnessResponse, textFrame, frameText,
} from './replication/messages.ts'

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
  readonly redactions: RedactionService
  readonly retention: RetentionSweeper
  readonly sync: SyncManager
  readonly witness: WitnessService
  readonly collector: CosignCollector
  readonly tokens: TokenStore
  readonly accessLog: AccessLog
  readonly log: Logger
  readonly startedAt: number
  /** http://host:port of the API. */
  readonly url: string
  now(): number
  status(): NodeStatus
  /** Announces this node's checkpoints now (gossip). */
  announce(origin?: string): void
  stop(): Promise<void>
}

export interface NodeStatus {
  origin: string
  peerId: string
  url: string
  multiaddrs: string[]
  peers: { peerId: string; origin?: string }[]
  logs: { origin: string; name: string; size: number; checkpointSize: number; cosignatures: number; frozen: boolean; target?: number }[]
  currentSetSize: number
  publisher: Publisher['stats']
  sync: SyncManager['stats']
  witness: WitnessService['stats']
  cosign: CosignCollector['stats']
  peer: ReturnType<Peer['stats']>
  roster: { threshold: number; members: { origin: string; roles: string[]; active: boolean; peerId: string }[]; proposals: ReturnType<Roster['proposalStatus']> }
}

const STATUS_INTERVAL_MS = 1500

export async function startNode(opts: StartOptions): Promise<CairnNode> {
  const settings = loadNodeFile(opts.dir)
  const keys = await loadKeys(opts.dir)
  const genesis = loadGenesis(join(opts.dir, 'genesis.json'))
  const origin = settings.origin
  const now = opts.now ?? (() => Date.now())
  const log = createLogger(origin, opts.logLevel)
  const roster = new Roster(genesis)
  const me = roster.member(origin)
  if (me && me.peerId !== keys.peerId) throw new LedgerError('BAD_CONFIG', `the roster lists peer id ${me.peerId} for ${origin}, but keys.json gives ${keys.peerId}`)
  if (me && Buffer.compare(Buffer.from(me.logKey), Buffer.from(keys.logPublicKey)) !== 0) {
    throw new LedgerError('BAD_CONFIG', `the roster's log key for ${origin} is not the one in keys.json`)
  }

  const kv = await LevelKV.open(join(opts.dir, 'db'))
  let upgradeSaid = performance.now()
  const store = await Store.open(kv, {
    onUpgrade: (moved, members) => {
      if (performance.now() - upgradeSaid < 5000) return
      upgradeSaid = performance.now()
      log.info(`store upgrade: ${moved} of ${members} current-set members moved into the record index so far`)
    },
  })
  if (store.upgradedSetMembers > 0) log.info(`store upgraded: ${store.upgradedSetMembers} current-set members moved into the record index`)
  for (const m of roster.all()) if (!store.hasLog(m.origin)) await store.registerLog(m.origin)
  // Replay roster changes stored in any log.
  for await (const ev of store.rosterEvents()) {
    const entry = await store.entry(ev.origin, ev.index)
    roster.observe(ev.origin, leafHash(entry), decodeCheckedRecord(decodeEntry(entry).recordBytes))
  }
  for (const m of roster.all()) if (!store.hasLog(m.origin)) await store.registerLog(m.origin)
  if (!store.hasLog(origin)) await store.registerLog(origin)
  const setLines = await SetLines.open(setLinesDir(opts.dir), store, log)
  if (!roster.member(origin)?.active) {
    log.warn(`${origin} is not (yet) a member of ${genesis.federation}: the node syncs the members' logs and may write once a roster change adds it`)
  }

  const tokens = new TokenStore(kv, now)
  const accessLog = await AccessLog.open(kv)
  const topic = `/cairn/${genesis.federation}/checkpoints/1`
  // TEST ONLY: harness-controlled partition (off unless CAIRN_TEST_BLOCKLIST is set).
  const blocked = testBlocklist(process.env.CAIRN_TEST_BLOCKLIST, () => void peer.enforceAllowed())
  const peer = await createPeer({
    privateKeySeed: keys.p2pSeed,
    listen: opts.listen ?? settings.listen,
    allowedPeers: () => {
      const s = roster.allowedPeerIds()
      s.delete(keys.peerId)
      for (const id of blocked.ids()) s.delete(id)
      return s
    },
    topic,
    onError: (err, context) => log.debug({ err: String(err), context }, 'peer error'),
  })

  const gossipCheckpoint = (note: string) => {
    peer.publish(encodeGossip({ t: 'cp', note })).catch((e) => log.debug({ err: String(e) }, 'gossip publish failed'))
  }

  const onRecord = (o: string, id: Uint8Array, record: CairnRecord) => {
    if (record.type !== 'roster' && record.type !== 'attestation') return
    if (roster.observe(o, id, record)) {
      log.info({ log: o }, 'roster change applied')
      for (const m of roster.all()) if (!store.hasLog(m.origin)) void store.registerLog(m.origin)
      void peer.enforceAllowed()
      peer.keepConnected(bootstrapAddrs())
    }
  }

  const onEquivocation = async (o: string, proof: string) => {
    if (store.frozenProof(o)) return
    sync.stats.equivocations++
    await store.freeze(o, proof)
    log.error({ log: o }, `EQUIVOCATION: log ${o} signed two conflicting checkpoints; it is frozen on this node and the proof is gossiped`)
    peer.publish(encodeGossip({ t: 'eq', origin: o, proof })).catch(() => undefined)
  }

  const signPool = new WorkerPool(new URL('../workers/crypto-jobs.ts', import.meta.url).href, 'signJob', signJob, opts.workers ?? defaultPoolSize())
  const openPool = new WorkerPool(new URL('../workers/crypto-jobs.ts', import.meta.url).href, 'openJob', openJob, opts.workers ?? defaultPoolSize())
  // Signature checks of a synced range, split over the worker pool; records are decoded here.
  // Workers take a moment to load; a node is not up until they can sign and verify.
  await Promise.all([signPool.ready(), openPool.ready()])
  const openRangeInPool = async (o: string, start: number, entries: Uint8Array[], logKeyList: Uint8Array[]): Promise<CheckedEntry[]> => {
    const results = await openPool.runSplit(entries, 256, (slice, from) => ({ origin: o, start: start + from, entries: slice, keys: logKeyList }))
    const failed = results.find((r) => r.error)?.error
    if (failed) throw new LedgerError(failed.code as ErrorCode, `entry ${failed.index} of ${o}: ${failed.message}`)
    const ids = concat(...results.map((r) => r.ids))
    return entries.map((entry, i) => {
      const { recordBytes, signature } = decodeEntry(entry)
      return { entry, recordBytes, signature, record: decodeCheckedRecord(recordBytes), id: ids.subarray(32 * i, 32 * i + 32) }
    })
  }

  // Signing a batch, split over the worker pool (both cores sign while the main thread validates the next batch).
  const signInPool = async ({ seed, records }: SignBatch): Promise<SignedBatch> => {
    const results = await signPool.runSplit(records, 128, (slice): SignInput => ({ seed, records: pack(slice) }))
    return { entries: results.flatMap((r) => unpack(r.entries)), ids: results.length === 1 ? results[0]!.ids : concat(...results.map((r) => r.ids)) }
  }

  const sync: SyncManager = new SyncManager({
    store, roster, peer, self: origin, openRangeImpl: openRangeInPool,
    rangeSize: opts.syncRangeSize, aheadMaxBytes: opts.syncAheadMaxBytes,
    onRecord,
    onCheckpoint: (_o, note) => gossipCheckpoint(note),
    onEquivocation: (o, p) => void onEquivocation(o, p),
    log: (level, msg) => log[level](msg),
  })

  const witness = new WitnessService(store, roster, { origin, witnessSeed: keys.witnessSeed }, () => Math.floor(now() / 1000), (note) => void sync.onAnnouncement(note))

  const collector = new CosignCollector(store, roster, origin, async (w, body) => {
    const frames = await peer.requestAll(w.peerId, PROTO_WITNESS, [textFrame(body)], { timeoutMs: 5000 })
    if (frames.length !== 1) throw new LedgerError('PEER_ERROR', `witness ${w.origin} sent ${frames.length} frames`)
    return decodeWitnessResponse(frames[0]!)
  }, gossipCheckpoint, (msg) => log.debug(msg))

  const publisher = new Publisher({
    store, roster, origin, logSeed: keys.logSeed, sign: signInPool,
    maxRecords: settings.batch.max_records, maxMs: settings.batch.max_ms, now,
    onRecord: (id, r) => onRecord(origin, id, r),
    onCheckpoint: (note) => {
      gossipCheckpoint(note)
      collector.request(note)
    },
  })

  const submit = (body: Parameters<Publisher['submit']>[0]) => publisher.submit(body)
  const redactions = new RedactionService({
    store, roster, peer, origin, logSeed: keys.logSeed, submit, now, rejected: sync.stats.rejected, log: (level, msg) => log[level](msg),
  })
  const retention = new RetentionSweeper({ store, origin, submit, now, log: (level, msg) => log[level](msg) })

  // Our own log starts with a signed checkpoint of the empty tree, so it can be witnessed and served at once.
  if (!store.checkpoint(origin)) {
    await store.setCheckpoint(origin, signCheckpoint({ origin, size: 0, root: EMPTY_ROOT }, { name: origin, seed: keys.logSeed }))
  }

  // libp2p protocols
  await peer.handle(PROTO_SYNC, async (request) => {
    const frames: Uint8Array[] = []
    for await (const f of request) frames.push(f)
    if (frames.length !== 1) throw new LedgerError('BAD_REQUEST', 'a sync request is one frame')
    const r = decodeSyncRequest(frames[0]!)
    if (!store.hasLog(r.origin)) throw new LedgerError('UNKNOWN_LOG', `no log ${r.origin} here`)
    if (store.size(r.origin) < r.to) throw new LedgerError('NOT_FOUND', `this node holds ${store.size(r.origin)} entries of ${r.origin}, fewer than ${r.to}`)
    const proof = await store.consistencyProof(r.origin, r.end, r.to)
    const entries = await store.entries(r.origin, r.start, r.end)
    return [encodeSyncHeader({ start: r.start, count: entries.length, proof }), ...entries]
  }, { maxRequestFrames: 1, maxRequestBytes: 4096, maxFrameBytes: 70_000 })

  await peer.handle(PROTO_STATUS, async () => {
    return store.listLogs().filter((l) => l.checkpoint).map((l) => textFrame(l.checkpoint!))
  }, { maxRequestFrames: 1, maxRequestBytes: 1024 })

  await peer.handle(PROTO_WITNESS, async (request, remote) => {
    const frames: Uint8Array[] = []
    for await (const f of request) frames.push(f)
    if (frames.length !== 1) throw new LedgerError('BAD_REQUEST', 'an add-checkpoint request is one frame')
    const answer = await witness.addCheckpoint(frames[0]!)
    log.debug({ peer: remote, status: answer.status }, 'add-checkpoint over libp2p')
    return [encodeWitnessResponse({ status: answer.status, body: answer.body })]
  }, { maxRequestFrames: 1, maxRequestBytes: 256 * 1024, maxFrameBytes: 256 * 1024 })

  await redactions.register()

  /** Every gossip message a node refuses is counted under its LedgerError code (cairn_sync_rejected_total). */
  const refuseGossip = (e: unknown) => void sync.count(e)
  peer.onGossip(async (data, from) => {
    let g
    try {
      g = decodeGossip(data)
    } catch (e) {
      return refuseGossip(e)
    }
    if (g.t === 'cp') return sync.onAnnouncement(g.note, from)
    if (g.t === 'rd') return void (await redactions.receive(g.notice))
    const m = roster.member(g.origin)
    if (!m) return refuseGossip(new LedgerError('UNKNOWN_LOG', `an equivocation proof for ${g.origin}, which is not a member's log`))
    try {
      verifyEquivocationProof(g.proof, m.vkey)
    } catch (e) {
      return refuseGossip(e)
    }
    await onEquivocation(g.origin, g.proof)
  })

  const bootstrapAddrs = () => {
    const addrs = new Set(opts.bootstrap ?? settings.bootstrap)
    for (const m of roster.active()) if (m.origin !== origin) for (const a of m.addrs) addrs.add(a.includes('/p2p/') ? a : `${a}/p2p/${m.peerId}`)
    return [...addrs].filter((a) => !a.endsWith(`/p2p/${keys.peerId}`))
  }

  await peer.start()
  peer.keepConnected(bootstrapAddrs())
  redactions.start()
  retention.start()

  // Anti-entropy: ask connected peers which checkpoints they hold (covers missed gossip, restarts, healed partitions).
  let statusRun: Promise<void> | undefined
  let stopping = false
  const statusTick = () => {
    if (statusRun || stopping) return
    statusRun = statusRound().catch((e) => log.warn({ err: String(e) }, 'status round failed')).finally(() => {
      statusRun = undefined
    })
  }
  const statusRound = async () => {
    await Promise.all(peer.connectedPeers().map(async (p) => {
      try {
        const frames = await peer.requestAll(p, PROTO_STATUS, [new Uint8Array(0)], { timeoutMs: 5000, maxResponseFrames: 1000 })
        for (const f of frames) {
          let note: string
          try {
            note = frameText(f)
          } catch (e) {
            sync.count(e)
            continue
          }
          await sync.onAnnouncement(note, p)
        }
      } catch (e) {
        log.debug({ peer: p, err: String(e) }, 'status exchange failed')
      }
    }))
    // Owner: keep asking for missing cosignatures on the latest checkpoint.
    const cp = store.checkpoint(origin)
    if (cp) {
      const have = signerNames(cp)
      if (roster.witnesses().some((w) => w.origin !== origin && !have.has(w.origin))) collector.request(cp)
    }
  }
  const statusTimer = setInterval(statusTick, STATUS_INTERVAL_MS)

  let node!: CairnNode
  const app = createApp(() => node)
  let server: ServerType
  const url = await new Promise<string>((resolve, reject) => {
    server = serve({ fetch: app.fetch, port: opts.httpPort ?? settings.http.port, hostname: settings.http.host }, (info: AddressInfo) => {
      resolve(`http://${settings.http.host}:${info.port}`)
    })
    server.once('error', reject)
  })
  // Keep idle connections longer than clients do (undici: 4 s), so a client never reuses a socket
  // the server is closing at that moment (an ECONNRESET on a busy machine).
  const http = server! as unknown as { keepAliveTimeout: number; headersTimeout: number }
  http.keepAliveTimeout = 65_000
  http.headersTimeout = 66_000

  const startedAt = now()
  node = {
    origin, name: settings.name, federation: genesis.federation, keys, settings, store, setLines, roster, peer, publisher, redactions, retention, sync, witness, collector, tokens, accessLog, log, startedAt, url,
    now,
    announce(o?: string) {
      for (const l of store.listLogs()) if (l.checkpoint && (!o || l.origin === o)) gossipCheckpoint(l.checkpoint)
    },
    status(): NodeStatus {
      return {
        origin, peerId: keys.peerId, url, multiaddrs: peer.multiaddrs(),
        peers: peer.connectedPeers().map((p) => ({ peerId: p, origin: roster.byPeerId(p)?.origin })),
        logs: store.listLogs().map((l) => ({
          origin: l.origin, name: l.origin.split('/')[1]!, size: l.size, checkpointSize: l.checkpointSize,
          cosignatures: l.checkpoint ? countCosignatures(l.checkpoint) : 0, frozen: l.frozen, target: sync.targetSizes()[l.origin],
        })),
        currentSetSize: store.currentSetSize(),
        publisher: publisher.stats, sync: sync.stats, witness: witness.stats, cosign: collector.stats, peer: peer.stats(),
        roster: {
          threshold: roster.threshold,
          members: roster.all().map((m) => ({ origin: m.origin, roles: [...m.roles], active: m.active, peerId: m.peerId })),
          proposals: roster.proposalStatus(),
        },
      }
    },
    async stop() {
      if (stopping) return
      stopping = true
      clearInterval(statusTimer)
      blocked.stop()
      await statusRun
      await Promise.all([retention.stop(), redactions.stop()])
      await publisher.stop()
      await Promise.all([sync.stop(), collector.stop()])
      await new Promise<void>((r) => server.close(() => r()))
      await peer.stop()
      await Promise.all([signPool.close(), openPool.close()])
      await accessLog.close()
      await setLines.close()
      await store.close()
    },
  }
  node.announce()
  return node
}

/**
 * TEST ONLY (fault scenarios, testnet/scenarios/partition.ts): when `path` is
 * set, the peer ids listed in that file (one a line) are treated as outside
 * the roster, so the harness can split and heal a federation of real node
 * processes. The file is re-read every 250 ms; when it changes, `onChange`
 * drops connections to newly blocked peers. Unset (the default): no effect.
 */
function testBlocklist(path: string | undefined, onChange: () => void): { ids(): ReadonlySet<string>; stop(): void } {
  let ids = new Set<string>()
  if (!path) return { ids: () => ids, stop() {} }
  let last = ''
  const read = (): boolean => {
    let text = ''
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      // no file: nobody blocked
    }
    if (text === last) return false
    last = text
    ids = new Set(text.split('\n').map((l) => l.trim()).filter(Boolean))
    return true
  }
  read()
  const timer = setInterval(() => { if (read()) onChange() }, 250)
  timer.unref()
  return { ids: () => ids, stop: () => clearInterval(timer) }
}

/** Signature lines on a checkpoint other than the log's own. */
export function countCosignatures(note: string): number {
  return Math.max(0, parseNote(note).signatures.length - 1)
}

/** Writes the operator token file for the local CLI (0600) on first start. */
export async function ensureOperatorToken(dir: string, node: CairnNode): Promise<string> {
  const path = join(dir, 'operator.token')
  if (existsSync(path)) {
    const t = readFileSync(path, 'utf8').trim()
    if (await node.tokens.check(t)) return t
  }
  const { token } = await node.tokens.grant('operator', 'local-operator')
  writeFileSync(path, token + '\n', { mode: 0o600 })
  chmodSync(path, 0o600)
  return token
}

