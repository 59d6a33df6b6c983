/**
 * The current set as a MISP feed a MISP instance pulls by URL (provider,
 * auditor, oversight; MISP's feed settings take the bearer token as a
 * custom header): the files client/misp-feed.ts defines, made from the set
 * as of the served checkpoints, as `cairn export --format misp` writes them
 * from a local copy:
 *
 *   GET /feed/misp/manifest.json     the one event's summary
 *   GET /feed/misp/hashes.csv        md5 of each attribute value, event uuid
 *   GET /feed/misp/<event uuid>.json the event with one attribute per indicator
 *
 * The same filters as the snapshot (category, alg, media, log). Streamed:
 * the body of a 10M-indicator event is never held in memory. The event's
 * timestamp is the time of the request, so a MISP pulling again updates it.
 */
import { Hono } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import { toHex } from '../../protocol/bytes.ts'
import type { Sizes } from '../../protocol/feed-cursor.ts'
import { encodeCursor } from '../../protocol/feed-cursor.ts'
import { wanted, type Subscription } from '../../protocol/subscription.ts'
import { mispAttribute, mispEventChunks, mispEventUuid, mispHashLines, mispManifest, type MispFeedOptions, type MispFeedRecord } from '../../client/misp-feed.ts'
import { publishedSizes, scanSet } from '../provider/feed.ts'
import type { OpinionIndex } from '../provider/opinions.ts'
import type { Store } from '../storage/store.ts'
import type { Env } from './request.ts'
import type { MiddlewareHandler } from 'hono'

export interface MispRouteDeps {
  federation: string
  store: Store
  opinions: OpinionIndex
  now: () => number
}

/** The set's indicators as MISP feed records, in snapshot order. */
async function* feedRecords(store: Store, opinions: OpinionIndex, sizes: Sizes, filter?: Subscription): AsyncGenerator<MispFeedRecord> {
  for await (const ev of scanSet(store, sizes)) {
    if (ev.kind !== 'indicator') continue
    const r = ev.row.record
    if (filter && !wanted(filter, { ...r, log: ev.origin })) continue
    const o = opinions.opinions(ev.row.id, sizes)
    const rec: MispFeedRecord = { id: toHex(ev.row.id), log: ev.origin, seq: ev.row.seq, alg: r.alg!, value: r.value!, category: r.category! }
    if (r.quality !== undefined) rec.quality = r.quality
    if (o?.confirmations.length) rec.confirmations = o.confirmations
    if (o?.disputes.length) rec.disputes = o.disputes
    yield rec
  }
}

/** Text pieces joined into ~64 KiB strings. */
async function* batched(pieces: AsyncIterable<string>): AsyncGenerator<string> {
  let out = ''
  for await (const p of pieces) {
    out += p
    if (out.length >= 64 * 1024) {
      yield out
      out = ''
    }
  }
  if (out) yield out
}

export function mispRoutes(deps: MispRouteDeps & {
  readers: MiddlewareHandler<Env>
  subscription: (c: Parameters<MiddlewareHandler<Env>>[0]) => Subscription | undefined
  stream: (c: Parameters<MiddlewareHandler<Env>>[0], chunks: AsyncIterable<string>, headers: Record<string, string>) => Response
}) {
  const r = new Hono<Env>()
  const { store, opinions, federation } = deps
  const options = (): MispFeedOptions => ({ federation, now: deps.now() })
  const headers = (type: string, sizes: Sizes) => ({ 'Content-Type': type, 'Cairn-Cursor': encodeCursor(sizes), 'Cache-Control': 'no-store' })

  r.get('/feed/misp/manifest.json', deps.readers, (c) => c.body(mispManifest(options()), 200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }))

  r.get('/feed/misp/hashes.csv', deps.readers, async (c) => {
    const filter = deps.subscription(c)
    const sizes = publishedSizes(store)
    await opinions.upTo()
    const o = options()
    async function* lines() {
      for await (const rec of feedRecords(store, opinions, sizes, filter)) yield* mispHashLines([rec], o)
    }
    return deps.stream(c, batched(lines()), headers('text/csv; charset=utf-8', sizes))
  })

  r.get('/feed/misp/:file{[^/]+\\.json}', deps.readers, async (c) => {
    const o = options()
    if (c.req.param('file') !== `${mispEventUuid(federation)}.json`) throw new LedgerError('NOT_FOUND', `no MISP event ${c.req.param('file')} here; the feed's one event is ${mispEventUuid(federation)}.json (see manifest.json)`)
    const filter = deps.subscription(c)
    const sizes = publishedSizes(store)
    await opinions.upTo()
    // The event's head and tail as the file export writes them, the attributes streamed between.
    const [head, tail] = [...mispEventChunks([], o)]
    async function* event() {
      yield head!
      let first = true
      for await (const rec of feedRecords(store, opinions, sizes, filter)) {
        yield (first ? '\n' : ',\n') + JSON.stringify(mispAttribute(rec, o))
        first = false
      }
      yield tail!
    }
    return deps.stream(c, batched(event()), headers('application/json; charset=utf-8', sizes))
  })
  return r
}
