/**
 * The node's libp2p peer (DESIGN §3): TCP + Noise + Yamux, identify, gossipsub
 * on one topic, and framed request/response protocols, for a small fixed
 * federation. Only peers in `allowedPeers()` (the roster's libp2p ids) may
 * connect, in either direction, or be heard on gossip.
 *
 * Why one file of ~600 lines: the Peer interface has one implementation, and
 * its parts (dialing and redialing, the allow-list, gossip, served and sent
 * request streams) share the private connection state (#targets, #streams,
 * #stats) that a split would have to expose. Framing is in framing.ts.
 */
import '../polyfill.ts'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify, type Identify } from '@libp2p/identify'
import { gossipsub, StrictSign, TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { LedgerError, isLedgerError } from '../../protocol/errors.ts'
import {
  DEFAULT_MAX_FRAME_BYTES, errorText, receiveMessage, sendMessage,
  type BadFrameReason, type FrameSource,
} from './framing.ts'

export type { FrameSource } from './framing.ts'

export interface PeerOptions {
  /** 32-byte seed of the peer's Ed25519 libp2p key; the same seed gives the same peer id. */
  privateKeySeed: Uint8Array
  /** Listen multiaddr(s), e.g. `/ip4/127.0.0.1/tcp/0` for a random port. */
  listen: string | string[]
  /** Addresses announced to other peers instead of the listen addresses (node.json `advertise`). */
  announce?: string[]
  /** Peer ids allowed to connect and gossip; read on every check, so roster changes apply at once. */
  allowedPeers: () => ReadonlySet<string>
  /** The gossipsub topic this federation announces checkpoints on. */
  topic: string
  /** Largest gossip message accepted or published (default 256 KiB). */
  maxGossipBytes?: number
  /** Default timeout for dials, protocol negotiation and each wait on a stream (default 10 s). */
  timeoutMs?: number
  /** Redial backoff for `keepConnected` (defaults 500 ms doubling to 30 s). */
  redialMinMs?: number
  redialMaxMs?: number
  /** Told about failures nobody awaits (gossip handlers, served requests, redials). */
  onError?: (err: unknown, context: string) => void
}

/**
 * Answers one request: gets its frames (read in full, within the limits) and
 * returns the response frames, as an array or a (async) generator that may
 * stream thousands of records; they are batched into ~64 KiB writes. A
 * LedgerError thrown here or from the generator reaches the requester as
 * PEER_ERROR with that code in `cause`; other errors are reported as internal.
 */
export type RequestHandler = (request: Uint8Array[], remotePeer: string) => FrameSource | Promise<FrameSource>

export interface HandleOptions {
  /** Largest frame in a request and in the response (default 128 KiB). */
  maxFrameBytes?: number
  /** Budget for one request (default 1000 frames, 1 MiB). */
  maxRequestFrames?: number
  maxRequestBytes?: number
  timeoutMs?: number
  /** Concurrent requests per connection for this protocol (default 16). */
  maxInboundStreams?: number
}

export interface RequestOptions {
  /** Largest frame in the request and the response (default 128 KiB). */
  maxFrameBytes?: number
  /** Budget for the response (default unlimited frames, 64 MiB). */
  maxResponseFrames?: number
  maxResponseBytes?: number
  /** Bounds the dial and every wait for the next bytes (an idle timeout, not a deadline). */
  timeoutMs?: number
  signal?: AbortSignal
}

export type RefusalReason =
  | 'dial_not_allowed' // we were asked to dial / request a peer outside the roster
  | 'inbound_not_allowed' // a peer outside the roster connected to us (refused after Noise)
  | 'outbound_not_allowed' // a dialled address turned out to be a peer outside the roster
  | 'stream_not_allowed' // a stream from a peer no longer allowed
  | 'gossip_not_allowed' // gossip signed by a peer outside the roster
  | 'disconnected_not_allowed' // a live connection closed after the peer left the roster

export interface PeerStats {
  refused: Record<RefusalReason, number>
  badFrames: Record<BadFrameReason, number>
  gossip: { published: number, received: number, tooLarge: number }
  requests: { sent: number, failed: number, served: number, serveErrors: number }
  /** Request/response streams (either side) not yet closed. */
  openStreams: number
  redials: { attempts: number, failures: number }
}

export interface Peer {
  readonly peerId: string
  start(): Promise<void>
  stop(): Promise<void>
  /** Listen addresses with the `/p2p/<id>` suffix, ready to hand to other peers. */
  multiaddrs(): string[]
  /** Connects to an address (with or without `/p2p/<id>`); returns the remote peer id. */
  dial(addr: string): Promise<string>
  connectedPeers(): string[]
  /** Peers we know to be subscribed to the topic (publish reaches these directly). */
  topicPeers(): string[]
  /** Peers in our gossipsub mesh for the topic (they relay what others publish). */
  meshPeers(): string[]
  /** Publishes on the topic; resolves to the number of peers it was sent to (0 is not an error). */
  publish(data: Uint8Array): Promise<number>
  /** Calls `handler(data, publisherPeerId)` for every gossip message; returns an unsubscribe function. */
  onGossip(handler: (data: Uint8Array, from: string) => void | Promise<void>): () => void
  handle(protocol: string, handler: RequestHandler, opts?: HandleOptions): Promise<void>
  /** Streams the response frames of one request; throws PEER_REFUSED / PEER_UNREACHABLE / PEER_ERROR / TOO_LARGE. */
  request(peerId: string, protocol: string, frames: FrameSource, opts?: RequestOptions): AsyncGenerator<Uint8Array, void, undefined>
  /** `request` collected into an array, for small answers. */
  requestAll(peerId: string, protocol: string, frames: FrameSource, opts?: RequestOptions): Promise<Uint8Array[]>
  /** Keeps a connection to each address (each must end in `/p2p/<id>`), redialling with backoff; replaces the previous list. */
  keepConnected(addrs: string[]): void
  /** Closes connections to peers no longer in `allowedPeers()`; call after a roster change. */
  enforceAllowed(): Promise<void>
  stats(): PeerStats
}

/** The libp2p peer id that `privateKeySeed` gives, for the genesis roster. */
export async function peerIdFromSeed(seed: Uint8Array): Promise<string> {
  return peerIdFromPrivateKey(await keyFromSeed(seed)).toString()
}

async function keyFromSeed(seed: Uint8Array) {
  if (!(seed instanceof Uint8Array) || seed.byteLength !== 32) {
    throw new LedgerError('BAD_CONFIG', 'the libp2p key seed must be exactly 32 bytes')
  }
  return generateKeyPairFromSeed('Ed25519', seed)
}

/** Builds a peer (not started). */
export async function createPeer(opts: PeerOptions): Promise<Peer> {
  const privateKey = await keyFromSeed(opts.privateKeySeed)
  const peer = new Libp2pPeer(opts)
  await peer.init(privateKey)
  return peer
}

const REDIAL_TICK_MS = 250
const STALE_CONNECTION_ERRORS = new Set(['ConnectionClosedError', 'MuxerClosedError'])

interface Target { addrs: Multiaddr[], attempt: number, nextAt: number, dialing: boolean }
type Services = { identify: Identify, pubsub: GossipSub }

class Libp2pPeer implements Peer {
  readonly #opts: PeerOptions
  readonly #timeoutMs: number
  readonly #maxGossipBytes: number
  #node!: Libp2p<Services>
  #started = false
  readonly #gossipHandlers = new Set<(data: Uint8Array, from: string) => void | Promise<void>>()
  readonly #targets = new Map<string, Target>()
  #redialTimer: ReturnType<typeof setInterval> | undefined
  readonly #lingerTimers = new Set<ReturnType<typeof setTimeout>>()
  readonly #stats: PeerStats = {
    refused: { dial_not_allowed: 0, inbound_not_allowed: 0, outbound_not_allowed: 0, stream_not_allowed: 0, gossip_not_allowed: 0, disconnected_not_allowed: 0 },
    badFrames: { too_large: 0, over_budget: 0, truncated: 0, bad_trailer: 0 },
    gossip: { published: 0, received: 0, tooLarge: 0 },
    requests: { sent: 0, failed: 0, served: 0, serveErrors: 0 },
    redials: { attempts: 0, failures: 0 },
    openStreams: 0,
  }
  readonly #streams = new Set<Stream>()

  peerId = ''

  constructor(opts: PeerOptions) {
    this.#opts = opts
    this.#timeoutMs = opts.timeoutMs ?? 10_000
    this.#maxGossipBytes = opts.maxGossipBytes ?? 256 * 1024
  }

  async init(privateKey: Awaited<ReturnType<typeof keyFromSeed>>): Promise<void> {
    const refuse = (reason: RefusalReason, peer: PeerId | string | undefined): boolean => {
      if (peer !== undefined && this.#allowed(peer.toString())) return false
      this.#stats.refused[reason]++
      return true
    }
    this.#node = await createLibp2p<Services>({
      privateKey,
      start: false,
      addresses: {
        listen: typeof this.#opts.listen === 'string' ? [this.#opts.listen] : this.#opts.listen,
        ...(this.#opts.announce?.length ? { announce: this.#opts.announce } : {}),
      },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      // keep the receive window well under maxReadBufferLength (4 MiB): a paused stream
      // can still receive one full window, and overflowing the buffer resets the stream
      streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 2 * 1024 * 1024 } })],
      connectionGater: {
        denyDialPeer: (peer) => refuse('dial_not_allowed', peer),
        denyDialMultiaddr: (ma) => {
          const id = peerIdOf(ma)
          return id === undefined ? false : refuse('dial_not_allowed', id)
        },
        // the remote id is known only once Noise has authenticated it
        denyInboundEncryptedConnection: (peer) => refuse('inbound_not_allowed', peer),
        denyOutboundEncryptedConnection: (peer) => refuse('outbound_not_allowed', peer),
      },
      connectionManager: {
        maxConnections: 64,
        dialTimeout: this.#timeoutMs,
        // every member may sit behind one address (a testnet on loopback)
        inboundConnectionThreshold: 100,
      },
      services: {
        identify: identify(),
        pubsub: gossipsub({
          globalSignaturePolicy: StrictSign,
          emitSelf: false,
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          floodPublish: true,
          fallbackToFloodsub: false,
          doPX: false,
          // a federation of 4-7 members: mesh with nearly everyone, never prune below 3
          D: 4, Dlo: 3, Dhi: 8, Dout: 1, Dscore: 2, Dlazy: 4,
          allowedTopics: [this.#opts.topic],
          maxInboundDataLength: Math.max(1024 * 1024, 2 * this.#maxGossipBytes),
          // all members may share one IP (loopback testnets, NAT); the roster gates them instead
          scoreParams: { IPColocationFactorWeight: 0 },
        }),
      },
    })
    this.peerId = this.#node.peerId.toString()

    const pubsub = this.#node.services.pubsub
    pubsub.topicValidators.set(this.#opts.topic, (_from, msg) => {
      if (msg.type !== 'signed') return TopicValidatorResult.Reject
      if (!this.#allowed(msg.from.toString())) {
        this.#stats.refused.gossip_not_allowed++
        return TopicValidatorResult.Reject
      }
      if (msg.data.byteLength > this.#maxGossipBytes) {
        this.#stats.gossip.tooLarge++
        return TopicValidatorResult.Reject
      }
      return TopicValidatorResult.Accept
    })
    pubsub.addEventListener('message', (evt) => this.#deliverGossip(evt.detail))
    this.#node.addEventListener('peer:disconnect', (evt) => {
      const target = this.#targets.get(evt.detail.toString())
      if (target !== undefined) target.nextAt = Math.min(target.nextAt, Date.now() + this.#redialDelay(0))
    })
  }

  async start(): Promise<void> {
    if (this.#started) return
    await this.#node.start()
    this.#node.services.pubsub.subscribe(this.#opts.topic)
    this.#started = true
    for (const [id, target] of this.#targets) await this.#remember(id, target.addrs)
    this.#redialTimer = setInterval(() => this.#redialTick(), REDIAL_TICK_MS)
    this.#redialTimer.unref()
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#redialTimer)
    this.#redialTimer = undefined
    for (const t of this.#lingerTimers) clearTimeout(t)
    this.#lingerTimers.clear()
    await this.#node.stop()
  }

  multiaddrs(): string[] {
    return this.#node.getMultiaddrs().map(String)
  }

  connectedPeers(): string[] {
    return this.#node.getPeers().map(String)
  }

  topicPeers(): string[] {
    return this.#node.services.pubsub.getSubscribers(this.#opts.topic).map(String)
  }

  meshPeers(): string[] {
    const pubsub = this.#node.services.pubsub as GossipSub & { getMeshPeers?: (topic: string) => string[] }
    return pubsub.getMeshPeers?.(this.#opts.topic) ?? []
  }

  async dial(addr: string): Promise<string> {
    const ma = parseAddr(addr)
    const id = peerIdOf(ma)
    if (id !== undefined && !this.#allowed(id)) {
      this.#stats.refused.dial_not_allowed++
      throw new LedgerError('PEER_REFUSED', `peer ${id} is not in the federation roster; not dialling it`)
    }
    try {
      const conn = await this.#node.dial(ma, { signal: AbortSignal.timeout(this.#timeoutMs) })
      return conn.remotePeer.toString()
    } catch (err) {
      throw unreachable(`could not connect to ${addr}`, err)
    }
  }

  async publish(data: Uint8Array): Promise<number> {
    if (data.byteLength > this.#maxGossipBytes) {
      throw new LedgerError('TOO_LARGE', `gossip message of ${data.byteLength} bytes is over the ${this.#maxGossipBytes}-byte limit`)
    }
    const result = await this.#node.services.pubsub.publish(this.#opts.topic, data)
    this.#stats.gossip.published++
    return result.recipients.length
  }

  onGossip(handler: (data: Uint8Array, from: string) => void | Promise<void>): () => void {
    this.#gossipHandlers.add(handler)
    return () => { this.#gossipHandlers.delete(handler) }
  }

  #deliverGossip(msg: Message): void {
    if (msg.topic !== this.#opts.topic || msg.type !== 'signed') return
    this.#stats.gossip.received++
    const from = msg.from.toString()
    for (const handler of this.#gossipHandlers) {
      try {
        Promise.resolve(handler(msg.data, from)).catch((err) => this.#report(err, 'gossip handler'))
      } catch (err) {
        this.#report(err, 'gossip handler')
      }
    }
  }

  async handle(protocol: string, handler: RequestHandler, opts: HandleOptions = {}): Promise<void> {
    await this.#node.handle(protocol, (stream, connection) => this.#serve(protocol, stream, connection, handler, opts), {
      maxInboundStreams: opts.maxInboundStreams ?? 16,
      force: true,
    })
  }

  async #serve(protocol: string, stream: Stream, connection: Connection, handler: RequestHandler, opts: HandleOptions): Promise<void> {
    const remote = connection.remotePeer.toString()
    if (!this.#allowed(remote)) {
      this.#stats.refused.stream_not_allowed++
      stream.abort(new LedgerError('PEER_REFUSED', `peer ${remote} is not in the federation roster`))
      return
    }
    this.#stats.requests.served++
    this.#track(stream)
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs
    const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    // The whole request is read before the handler runs. Besides keeping handlers
    // simple, this matters in libp2p 3: a response that arrives (with end-of-stream)
    // before the dialler has finished multistream-select makes its dialProtocol fail.
    let response: FrameSource
    let badRequest = false
    try {
      const request: Uint8Array[] = []
      for await (const frame of receiveMessage(stream, {
        maxFrameBytes,
        maxFrames: opts.maxRequestFrames ?? 1000,
        maxBytes: opts.maxRequestBytes ?? 1024 * 1024,
        idleTimeoutMs: timeoutMs,
        remote,
        onBadFrame: (reason) => { badRequest = reason === 'too_large' || reason === 'over_budget'; this.#stats.badFrames[reason]++ },
      })) request.push(frame)
      try {
        response = await handler(request, remote)
      } catch (err) {
        response = failing(err)
      }
    } catch (err) {
      this.#stats.requests.serveErrors++
      // an oversized request gets its refusal in the trailer; a cut or idle one is just reset
      if (!badRequest) {
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        return
      }
      response = failing(err)
    }
    try {
      const sent = await sendMessage(stream, response, { maxFrameBytes, timeoutMs })
      if (sent.error !== undefined) {
        this.#stats.requests.serveErrors++
        if (!isLedgerError(sent.error)) this.#report(sent.error, `${protocol} handler`)
      }
      await closeWrite(stream, timeoutMs)
    } catch (err) {
      this.#stats.requests.serveErrors++
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }
    // the rest of a refused request is not wanted: reset instead of reading it
    if (badRequest) stream.abort(new LedgerError('TOO_LARGE', 'request refused'))
    else this.#linger(stream, timeoutMs)
  }

  async *request(peerId: string, protocol: string, frames: FrameSource, opts: RequestOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    if (!this.#allowed(peerId)) {
      this.#stats.refused.dial_not_allowed++
      throw new LedgerError('PEER_REFUSED', `peer ${peerId} is not in the federation roster; not sending it ${protocol}`)
    }
    this.#stats.requests.sent++
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs
    const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    const dialSignal = opts.signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)])
    let stream: Stream
    try {
      stream = await this.#openStream(peerIdFromString(peerId), protocol, dialSignal)
      this.#track(stream)
    } catch (err) {
      this.#stats.requests.failed++
      throw unreachable(`could not open ${protocol} to peer ${peerId}`, err)
    }

    let complete = false
    let localError: unknown
    sendMessage(stream, frames, { maxFrameBytes, timeoutMs, signal: opts.signal })
      .then(async (sent) => {
        // our own request source failed: the peer got an error trailer; fail the request too
        if (sent.error !== undefined) throw sent.error
        await closeWrite(stream, timeoutMs)
      })
      .catch((err: unknown) => {
        if (complete) return
        localError = err
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      })

    try {
      yield* receiveMessage(stream, {
        maxFrameBytes,
        maxFrames: opts.maxResponseFrames,
        maxBytes: opts.maxResponseBytes ?? 64 * 1024 * 1024,
        idleTimeoutMs: timeoutMs,
        signal: opts.signal,
        remote: peerId,
        onBadFrame: (reason) => { this.#stats.badFrames[reason]++ },
      })
      complete = true
    } catch (err) {
      this.#stats.requests.failed++
      // a failure of our own request source explains the reset that followed it
      throw localError !== undefined && !isLedgerError(localError, 'PEER_UNREACHABLE') ? localError : err
    } finally {
      if (complete) this.#linger(stream, timeoutMs)
      else stream.abort(new LedgerError('PEER_UNREACHABLE', 'request abandoned'))
    }
  }

  /**
   * Like libp2p's dialProtocol, but skips connections that died without us noticing
   * yet: after a peer stops, its connection can stay 'open' here for a while with a
   * closed muxer, and dialProtocol keeps picking it.
   */
  async #openStream(peer: PeerId, protocol: string, signal: AbortSignal): Promise<Stream> {
    for (const conn of this.#node.getConnections(peer)) {
      if (conn.status !== 'open') continue
      try {
        return await conn.newStream(protocol, { signal })
      } catch (err) {
        if (!(err instanceof Error) || !STALE_CONNECTION_ERRORS.has(err.name)) throw err
        conn.abort(err)
      }
    }
    const conn = await this.#node.dial(peer, { signal })
    return conn.newStream(protocol, { signal })
  }

  async requestAll(peerId: string, protocol: string, frames: FrameSource, opts?: RequestOptions): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for await (const frame of this.request(peerId, protocol, frames, opts)) out.push(frame)
    return out
  }

  keepConnected(addrs: string[]): void {
    const byPeer = new Map<string, Multiaddr[]>()
    for (const addr of addrs) {
      const ma = parseAddr(addr)
      const id = peerIdOf(ma)
      if (id === undefined) throw new LedgerError('BAD_CONFIG', `peer address ${addr} must end in /p2p/<peer id>`)
      if (id === this.peerId) continue
      byPeer.set(id, [...(byPeer.get(id) ?? []), ma])
    }
    for (const id of this.#targets.keys()) if (!byPeer.has(id)) this.#targets.delete(id)
    for (const [id, list] of byPeer) {
      const old = this.#targets.get(id)
      this.#targets.set(id, { addrs: list, attempt: old?.attempt ?? 0, nextAt: old?.nextAt ?? 0, dialing: old?.dialing ?? false })
      if (this.#started) this.#remember(id, list).catch((err) => this.#report(err, 'peer store'))
    }
  }

  async enforceAllowed(): Promise<void> {
    const closing: Promise<void>[] = []
    for (const conn of this.#node.getConnections()) {
      if (this.#allowed(conn.remotePeer.toString())) continue
      this.#stats.refused.disconnected_not_allowed++
      closing.push(conn.close().catch((err: Error) => conn.abort(err)))
    }
    await Promise.all(closing)
  }

  stats(): PeerStats {
    return structuredClone({ ...this.#stats, openStreams: this.#streams.size })
  }

  #track(stream: Stream): void {
    if (stream.status !== 'open' && stream.status !== 'closing') return
    this.#streams.add(stream)
    stream.addEventListener('close', () => { this.#streams.delete(stream) }, { once: true })
  }

  #allowed(peerId: string): boolean {
    return peerId === this.peerId || this.#opts.allowedPeers().has(peerId)
  }

  async #remember(id: string, addrs: Multiaddr[]): Promise<void> {
    await this.#node.peerStore.merge(peerIdFromString(id), { multiaddrs: addrs })
  }

  #redialDelay(attempt: number): number {
    const min = this.#opts.redialMinMs ?? 500
    const max = this.#opts.redialMaxMs ?? 30_000
    const base = Math.min(max, min * 2 ** Math.min(attempt, 16))
    return base * (0.8 + 0.4 * Math.random()) // jitter so members do not redial in lockstep
  }

  #redialTick(): void {
    if (!this.#started) return
    const now = Date.now()
    for (const [id, target] of this.#targets) {
      if (target.dialing || target.nextAt > now || !this.#allowed(id)) continue
      if (this.#node.getConnections(peerIdFromString(id)).length > 0) { target.attempt = 0; continue }
      target.dialing = true
      this.#stats.redials.attempts++
      this.#node.dial(target.addrs, { signal: AbortSignal.timeout(this.#timeoutMs) })
        .then(() => { target.attempt = 0 })
        .catch(() => {
          this.#stats.redials.failures++
          target.attempt++
          target.nextAt = Date.now() + this.#redialDelay(target.attempt)
        })
        .finally(() => { target.dialing = false })
    }
  }

  /** A finished stream waits for the peer's end-of-stream; a peer that never sends it gets reset. */
  #linger(stream: Stream, ms: number): void {
    if (stream.status !== 'open' && stream.status !== 'closing') return
    const timer = setTimeout(() => {
      this.#lingerTimers.delete(timer)
      if (stream.status === 'open' || stream.status === 'closing') stream.abort(new LedgerError('PEER_UNREACHABLE', 'peer did not close the stream'))
    }, ms)
    timer.unref()
    this.#lingerTimers.add(timer)
    stream.addEventListener('close', () => { clearTimeout(timer); this.#lingerTimers.delete(timer) }, { once: true })
  }

  #report(err: unknown, context: string): void {
    try {
      this.#opts.onError?.(err, context)
    } catch {
      // a failing error reporter must not take the peer down
    }
  }
}

async function closeWrite(stream: Stream, timeoutMs: number): Promise<void> {
  try {
    await stream.close({ signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    throw unreachable('could not finish the stream', err)
  }
}

/** A response that fails at once, so the handler's error reaches the requester in the trailer. */
function failing(err: unknown): Iterable<Uint8Array> {
  return { [Symbol.iterator]: () => ({ next: () => { throw err } }) }
}

function unreachable(what: string, err: unknown): LedgerError {
  if (isLedgerError(err)) return err
  return new LedgerError('PEER_UNREACHABLE', `${what}: ${errorText(err)}`, { cause: err })
}

function parseAddr(addr: string): Multiaddr {
  try {
    return multiaddr(addr)
  } catch (err) {
    throw new LedgerError('BAD_CONFIG', `not a multiaddr: ${addr} (${errorText(err)})`)
  }
}

function peerIdOf(ma: Multiaddr): string | undefined {
  const p2p = ma.getComponents().findLast((c) => c.name === 'p2p')
  return p2p?.value
}
