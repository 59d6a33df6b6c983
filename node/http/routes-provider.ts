/**
 * Provider routes (DESIGN §4; auditor and oversight may read them too):
 *
 *   GET /feed?cursor=&limit=&verified=&entries=&wait=   deltas of the current set (node/feed.ts), long-polled with wait
 *   GET /feed/snapshot?format=jsonl|csv|txt|stix&entries=  the whole set as of a cursor, streamed (jsonl: with each line's signed entry)
 *   GET /feed/events                              server-sent events: new checkpoints (node/provider/news.ts)
 *   GET /taxii2/...                               TAXII 2.1 (read-only) over the same logs
 *
 * The feed and the snapshot take a subscription (category=, alg=, media=,
 * log=; protocol/subscription.ts) and carry the opinions on each indicator
 * (node/provider/opinions.ts).
 */
import { Hono, type Context } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import { toHex } from '../../protocol/bytes.ts'
import type { Store } from '../storage/store.ts'
import type { SetLines } from '../provider/set-lines.ts'
import { jsonlLine, snapshotTrailer, entryFragment } from '../provider/jsonl-line.ts'
import type { ApiRole } from '../tokens.ts'
import { requireRole, MAX_BODY_BYTES, type Env } from './request.ts'
import { asLedgerError, httpStatus } from './errors.ts'
import { routePath } from 'hono/route'
import { feedPage, publishedSizes, scanSet, FEED_DEFAULT_LIMIT, FEED_MAX_LIMIT } from '../provider/feed.ts'
import { decodeCursor, encodeCursor, type Sizes } from '../../protocol/feed-cursor.ts'
import {
  stixIndicator, stixIdentity, stixTime, bundleStixId, collectionId, STIX_MEDIA_TYPE, type StixObject,
} from '../provider/stix.ts'
import { taxiiPage, dateHeaders, envelope, type TaxiiFilter, type TaxiiPageRequest } from '../provider/taxii.ts'
import { opinionFragment, type OpinionIndex } from '../provider/opinions.ts'
import { mispRoutes } from './routes-misp.ts'
import { CheckpointWatch, WaitSlots, MAX_WAIT_S, WAITS_PER_TOKEN, STREAMS_PER_TOKEN } from '../provider/news.ts'
import { parseSubscription, isEmptySubscription, wanted, type Subscription } from '../../protocol/subscription.ts'

const READERS: ApiRole[] = ['provider', 'auditor', 'oversight']

/** What the feed, the snapshot and TAXII read. */
export interface ProviderRouteDeps {
  origin: string
  federation: string
  /** The Store type because provider/feed.ts takes it; these routes only read (feed, scan, timeline). */
  store: Store
  /** The snapshot's set-line files. */
  setLines: Pick<SetLines, 'ready' | 'stream'>
  /** Confirmations and disputes of each indicator. */
  opinions: OpinionIndex
  /** The node's clock (ms): the MISP feed's event time. */
  now: () => number
}

export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1'
export const CURSOR_HEADER = 'Cairn-Cursor'
const TAXII_DEFAULT_LIMIT = 1000
const TAXII_MAX_LIMIT = 10_000

function parseLimit(raw: string | undefined, dflt: number, max: number): number {
  if (raw === undefined || raw === '') return dflt
  if (!/^[1-9][0-9]{0,8}$/.test(raw)) throw new LedgerError('BAD_REQUEST', `limit must be a positive whole number (at most ${max})`)
  return Math.min(Number(raw), max)
}

function parseFlag(raw: string | undefined, what: string): boolean {
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false
  if (raw === '1' || raw === 'true') return true
  throw new LedgerError('BAD_REQUEST', `${what} is 1 or 0`)
}

// ------------------------------------------------------------------ streaming

/**
 * A streamed response fed by `chunks`, pulled as the client reads
 * (back-pressure). A failure after the status was sent cuts the answer short
 * (the client sees it end early) and is logged under the request id.
 */
function streamBytes(c: Context<Env>, chunks: AsyncIterable<Uint8Array>, headers: Record<string, string>): Response {
  const it = chunks[Symbol.asyncIterator]()
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      let next: IteratorResult<Uint8Array>
      try {
        next = await it.next()
      } catch (e) {
        c.get('log').error({ request_id: c.get('requestId'), route: routePath(c, -1), code: asLedgerError(e).code, err: e }, 'answer cut short: reading what it streams failed after the status was sent')
        throw e
      }
      const { value, done } = next
      if (done) ctrl.close()
      else ctrl.enqueue(value)
    },
    async cancel() {
      await it.return?.()
    },
  })
  return new Response(body, { status: 200, headers })
}

/** A streamed response of text chunks (snapshotLines yields ~64 KiB strings), UTF-8 encoded as the client reads. */
function streamText(c: Context<Env>, chunks: AsyncIterable<string>, headers: Record<string, string>): Response {
  const enc = new TextEncoder()
  async function* encoded() {
    for await (const text of chunks) yield enc.encode(text)
  }
  return streamBytes(c, encoded(), headers)
}

const csvField = (s: string | number) => String(s) // every field is hex, a code word, an origin or a number: no quoting needed

const SNAPSHOT_TYPES: Record<string, string> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
  txt: 'text/plain; charset=utf-8',
  stix: STIX_MEDIA_TYPE,
}

const CSV_HEADER = 'alg,value,category,kind,media,id,log,seq,quality,ref,expires,confirmations,disputes\n'

/** Lines of a snapshot, joined into ~64 KiB strings (one await per chunk, not per line). */
async function* snapshotLines(store: Store, opinions: OpinionIndex, sizes: Sizes, cursor: string, format: string, filter?: Subscription, withEntries = false): AsyncGenerator<string> {
  let count = 0
  let objects = 0
  let out = ''
  if (format === 'csv') out += CSV_HEADER
  if (format === 'stix') out += `{"type":"bundle","id":"${bundleStixId(cursor)}"`
  const emit = (o: StixObject) => (objects++ === 0 ? ',"objects":[\n' : ',\n') + JSON.stringify(o)
  for await (const ev of scanSet(store, sizes)) {
    if (out.length >= 64 * 1024) {
      yield out
      out = ''
    }
    if (ev.kind === 'log') {
      if (format === 'stix' && (!filter?.logs || filter.logs.includes(ev.origin))) out += emit(stixIdentity(ev.origin, ev.firstTime))
      continue
    }
    const { row } = ev
    const r = row.record
    if (filter && !wanted(filter, { ...r, log: ev.origin })) continue
    const value = toHex(r.value!)
    count++
    if (format === 'txt') out += `${r.alg} ${value}\n`
    else if (format === 'csv') {
      const o = opinions.opinions(row.id, sizes)
      out += [r.alg!, value, r.category!, r.kind!, r.media!, toHex(row.id), ev.origin, row.seq, r.quality ?? '', r.ref ?? '', r.expires ?? '',
        o?.confirmations.join(' ') ?? '', o?.disputes.join(' ') ?? ''].map(csvField).join(',') + '\n'
    } else if (format === 'jsonl') out += jsonlLine(ev.origin, row.seq, row.id, r, opinionFragment(opinions.opinions(row.id, sizes)) + (withEntries ? entryFragment(row.entry) : ''))
    else out += emit(stixIndicator({ id: row.id, seq: row.seq, record: r }, undefined, opinions.attestations(row.id, sizes)))
  }
  // jsonl ends with the cursor and the cosigned checkpoints it stands for (one per log, the one of the
  // cursor's size, as served): a stream without this line was cut short; a provider checks the lines
  // against these checkpoints (their logs' entries and tiles, §A.4).
  if (format === 'jsonl') out += await snapshotTrailer(store, sizes, cursor, count)
  if (format === 'stix') out += objects > 0 ? '\n]}\n' : '}\n'
  if (out) yield out
}

/** The subscription a request names (category=, alg=, media=, log=); an unknown value is BAD_REQUEST. */
function subscriptionOf(c: Context, store: Store): Subscription | undefined {
  const s = parseSubscription((k) => c.req.query(k))
  for (const origin of s.logs ?? []) {
    if (!store.hasLog(origin)) throw new LedgerError('BAD_REQUEST', `log: this node holds no log ${origin}`)
  }
  return isEmptySubscription(s) ? undefined : s
}

/** The wait= of a long poll, in ms (0: answer at once). */
function parseWait(raw: string | undefined): number {
  if (raw === undefined || raw === '' || raw === '0') return 0
  if (!/^[1-9][0-9]{0,5}$/.test(raw) || Number(raw) > MAX_WAIT_S) throw new LedgerError('BAD_REQUEST', `wait is a whole number of seconds from 0 to ${MAX_WAIT_S}`)
  return Number(raw) * 1000
}

// ------------------------------------------------------------------ TAXII 2.1

class TaxiiError extends Error {
  constructor(readonly status: 401 | 403 | 404 | 405 | 406 | 400, readonly title: string, description: string) {
    super(description)
  }
}

function taxiiJson(c: Context, body: unknown, status = 200, headers: Record<string, string> = {}) {
  return c.body(JSON.stringify(body), status as 200, { 'Content-Type': TAXII_MEDIA_TYPE, ...headers })
}

/** TAXII 2.1 §1.6.8: the client must accept application/taxii+json (version 2.1 or unversioned). */
function acceptsTaxii(accept: string | undefined): boolean {
  if (!accept) return false
  for (const range of accept.split(',')) {
    const [type, ...params] = range.split(';').map((s) => s.trim())
    const p = new Map(params.map((x) => {
      const i = x.indexOf('=')
      return [x.slice(0, i).trim().toLowerCase(), x.slice(i + 1).trim().replace(/^"|"$/g, '')] as [string, string]
    }))
    if (p.get('q') !== undefined && Number(p.get('q')) === 0) continue
    const t = type!.toLowerCase()
    if (t === '*/*' || t === 'application/*') return true
    if (t === 'application/taxii+json' && (p.get('version') === undefined || p.get('version') === '2.1')) return true
  }
  return false
}

const TIMESTAMP_RE = /^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(\.[0-9]+)?Z$/

function parseTimestamp(raw: string, what: string): number {
  const ms = TIMESTAMP_RE.test(raw) ? Date.parse(raw) : NaN
  if (!Number.isFinite(ms)) throw new TaxiiError(400, 'Bad Request', `${what} must be an RFC 3339 UTC timestamp such as 2024-01-31T12:00:00.000Z`)
  return ms
}

function listParam(c: Context, name: string): string[] | undefined {
  const raw = c.req.query(name)
  if (raw === undefined) return undefined
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

function parseFilter(c: Context, objectId?: string, allVersions = false): TaxiiFilter {
  const ids = listParam(c, 'match[id]')
  const types = listParam(c, 'match[type]')
  const versions = listParam(c, 'match[version]') ?? [allVersions ? 'all' : 'last']
  // Explicit versions match by instant, whatever precision the client wrote them in.
  const canonical = versions.map((v) => (['first', 'last', 'all'].includes(v) ? v : stixTime(parseTimestamp(v, 'match[version]'))))
  const spec = listParam(c, 'match[spec_version]')
  const f: TaxiiFilter = { versions: new Set(canonical) }
  if (objectId) f.ids = new Set([objectId])
  else if (ids) f.ids = new Set(ids)
  if (types) f.types = new Set(types)
  if (spec) f.specVersions = new Set(spec)
  return f
}

function pageRequest(c: Context): TaxiiPageRequest {
  const addedAfter = c.req.query('added_after')
  return {
    limit: parseLimit(c.req.query('limit'), TAXII_DEFAULT_LIMIT, TAXII_MAX_LIMIT),
    addedAfter: addedAfter === undefined ? undefined : parseTimestamp(addedAfter, 'added_after'),
    next: c.req.query('next'),
  }
}

function taxiiRoutes(deps: ProviderRouteDeps) {
  const { federation } = deps
  const t = new Hono<Env>()
  const ROOT = '/taxii2/'
  const API = `${ROOT}api/`

  t.onError((e, c) => {
    // error_id (TAXII 2.1 §3.6.1) is the request id, also in the Request-Id header and, for a 5xx, in the node log.
    const id = c.get('requestId')
    if (e instanceof TaxiiError) return taxiiJson(c, { title: e.title, description: e.message, error_id: id, http_status: String(e.status) }, e.status, e.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {})
    // Not a TaxiiError: a LedgerError, or what one stands for (STORAGE_FULL, INTERNAL) with the node's status for it.
    const le = asLedgerError(e)
    const status = le.code === 'BAD_REQUEST' ? 400 : le.code === 'NOT_FOUND' || le.code === 'UNKNOWN_LOG' ? 404 : Math.max(500, httpStatus(le.code))
    return taxiiJson(c, { title: le.code, description: le.message, error_id: id, http_status: String(status), error_code: le.code }, status)
  })

  t.use(`${ROOT}*`, async (c, next) => {
    const who = c.get('who')
    if (!who) throw new TaxiiError(401, 'Unauthorized', 'TAXII needs a bearer token: Authorization: Bearer <token> (cairn token grant --role provider)')
    if (!READERS.includes(who.role)) throw new TaxiiError(403, 'Forbidden', `TAXII is for ${READERS.join(', ')} tokens; yours has role ${who.role}`)
    if (!acceptsTaxii(c.req.header('accept'))) throw new TaxiiError(406, 'Not Acceptable', `this server answers with ${TAXII_MEDIA_TYPE}; send it in the Accept header`)
    await next()
  })

  /** TAXII URLs end in "/"; answer without it too. */
  const get = (path: string, h: (c: Context<Env>) => Promise<Response> | Response) => {
    t.get(path, h)
    t.get(path.replace(/\/$/, ''), h)
  }
  const checkCollection = (c: Context<Env>) => {
    if (c.req.param('cid') !== collectionId(federation)) throw new TaxiiError(404, 'Not Found', `no collection ${c.req.param('cid')} here`)
  }
  const collection = () => ({
    id: collectionId(federation),
    title: `${federation} indicators`,
    description: `The indicator set of the ${federation} federation: every indicator in the members' logs, revoked ones with revoked: true`,
    can_read: true,
    can_write: false,
    media_types: [STIX_MEDIA_TYPE],
  })

  get(ROOT, (c) => {
    const root = `${new URL(c.req.url).origin}${API}`
    return taxiiJson(c, {
      title: `cairn ${federation}`,
      description: `TAXII 2.1 view of the ${federation} cairn federation, served by ${deps.origin}`,
      default: root,
      api_roots: [root],
    })
  })

  get(API, (c) => taxiiJson(c, {
    title: `${federation} indicators`,
    description: 'STIX 2.1 indicators derived from the federation\'s logs (read-only)',
    versions: [TAXII_MEDIA_TYPE],
    max_content_length: MAX_BODY_BYTES,
  }))

  get(`${API}collections/`, (c) => taxiiJson(c, { collections: [collection()] }))

  get(`${API}collections/:cid/`, (c) => {
    checkCollection(c)
    return taxiiJson(c, collection())
  })

  get(`${API}collections/:cid/objects/`, async (c) => {
    checkCollection(c)
    const page = await taxiiPage(deps.store, pageRequest(c), parseFilter(c), deps.opinions)
    return taxiiJson(c, envelope(page, 'objects', page.versions.map((v) => v.object)), 200, dateHeaders(page.versions))
  })

  get(`${API}collections/:cid/manifest/`, async (c) => {
    checkCollection(c)
    const page = await taxiiPage(deps.store, pageRequest(c), parseFilter(c), deps.opinions)
    const records = page.versions.map((v) => ({ id: v.object.id, date_added: stixTime(v.dateAdded), version: v.object.modified, media_type: STIX_MEDIA_TYPE }))
    return taxiiJson(c, envelope(page, 'objects', records), 200, dateHeaders(page.versions))
  })

  get(`${API}collections/:cid/objects/:oid/`, async (c) => {
    checkCollection(c)
    const page = await taxiiPage(deps.store, pageRequest(c), parseFilter(c, c.req.param('oid')), deps.opinions)
    if (page.versions.length === 0 && !page.more) throw new TaxiiError(404, 'Not Found', `no object ${c.req.param('oid')} in this collection`)
    return taxiiJson(c, envelope(page, 'objects', page.versions.map((v) => v.object)), 200, dateHeaders(page.versions))
  })

  get(`${API}collections/:cid/objects/:oid/versions/`, async (c) => {
    checkCollection(c)
    const page = await taxiiPage(deps.store, pageRequest(c), parseFilter(c, c.req.param('oid'), true), deps.opinions)
    if (page.versions.length === 0 && !page.more) throw new TaxiiError(404, 'Not Found', `no object ${c.req.param('oid')} in this collection`)
    return taxiiJson(c, envelope(page, 'versions', page.versions.map((v) => v.object.modified)), 200, dateHeaders(page.versions))
  })

  get(`${API}status/:sid/`, (c) => {
    throw new TaxiiError(404, 'Not Found', `no status ${c.req.param('sid')}: this server accepts no writes`)
  })

  const readOnly = () => {
    throw new TaxiiError(405, 'Method Not Allowed', 'this TAXII server is read-only')
  }
  for (const p of [`${API}collections/:cid/objects/`, `${API}collections/:cid/objects/:oid/`]) {
    t.on(['POST', 'PUT', 'DELETE'], [p, p.replace(/\/$/, '')], readOnly)
  }
  return t
}

// ------------------------------------------------------------------ routes

export function providerRoutes(deps: ProviderRouteDeps) {
  const { store, setLines, opinions } = deps
  const r = new Hono<Env>()
  const readers = requireRole(...READERS)
  const watch = new CheckpointWatch(store)
  const waits = new WaitSlots(WAITS_PER_TOKEN, 'feed waits')
  const streams = new WaitSlots(STREAMS_PER_TOKEN, 'event streams')

  r.get('/feed', readers, async (c) => {
    const cursor = decodeCursor(c.req.query('cursor') ?? '')
    const req = {
      cursor,
      verified: c.req.query('verified') === undefined ? undefined : decodeCursor(c.req.query('verified')!, 'verified'),
      limit: parseLimit(c.req.query('limit'), FEED_DEFAULT_LIMIT, FEED_MAX_LIMIT),
      withEntries: parseFlag(c.req.query('entries'), 'entries'),
      opinions,
      filter: subscriptionOf(c, store),
    }
    const waitMs = parseWait(c.req.query('wait'))
    if (waitMs > 0) {
      // Long poll: answer once some log's served checkpoint is past the cursor (or the wait ends).
      const give = waits.take(c.get('who')!.id)
      try {
        await watch.until(() => [...publishedSizes(store)].some(([o, n]) => n > (cursor.get(o) ?? 0)), waitMs, c.req.raw.signal)
      } finally {
        give()
      }
    }
    const page = await feedPage(store, req)
    c.header('Cache-Control', 'no-store')
    return c.json(page)
  })

  r.get('/feed/events', readers, (c) => {
    const give = streams.take(c.get('who')!.id)
    const enc = new TextEncoder()
    let stop = () => {}
    let keepAlive: NodeJS.Timeout | undefined
    const end = () => {
      stop()
      if (keepAlive) clearInterval(keepAlive)
      give()
    }
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        const send = (text: string) => {
          try {
            ctrl.enqueue(enc.encode(text))
          } catch {
            end()
          }
        }
        // First every log's current checkpoint, then each new one; a comment line every 15 s keeps proxies from closing it.
        send('retry: 5000\n\n')
        const event = (n: { origin: string; size: number; checkpoint: string }) => send(`event: checkpoint\ndata: ${JSON.stringify(n)}\n\n`)
        for (const n of [...watch.current().values()].sort((a, b) => (a.origin < b.origin ? -1 : 1))) event(n)
        stop = watch.listen((news) => news.forEach(event))
        keepAlive = setInterval(() => send(': keep-alive\n\n'), 15_000)
        keepAlive.unref()
        c.req.raw.signal.addEventListener('abort', () => {
          end()
          try {
            ctrl.close()
          } catch {
            // already closed
          }
        })
      },
      cancel() {
        end()
      },
    })
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' } })
  })

  r.get('/feed/snapshot', readers, async (c) => {
    const format = c.req.query('format') ?? 'jsonl'
    const type = SNAPSHOT_TYPES[format]
    if (!type) throw new LedgerError('BAD_REQUEST', `format must be one of ${Object.keys(SNAPSHOT_TYPES).join(', ')}`)
    // entries=1: each jsonl line ends with its stored signed entry, read from the store (never from the set-line files).
    const withEntries = parseFlag(c.req.query('entries'), 'entries')
    if (withEntries && format !== 'jsonl') throw new LedgerError('BAD_REQUEST', 'entries=1 is for format=jsonl only')
    const filter = subscriptionOf(c, store)
    const sizes = publishedSizes(store)
    const cursor = encodeCursor(sizes)
    const headers = { 'Content-Type': type, [CURSOR_HEADER]: cursor, 'Cache-Control': 'no-store' }
    await opinions.upTo()
    // jsonl comes from the set-line files once they hold these sizes (node/set-lines.ts); else it is rendered from the store.
    if (format === 'jsonl' && !filter && !withEntries && await setLines.ready(sizes)) {
      const extras = (origin: string, size: number) => new Map([...opinions.attestedEntries(origin, size, sizes)].map(([i, o]) => [i, opinionFragment(o)]))
      return streamBytes(c, setLines.stream(sizes, cursor, extras), headers)
    }
    return streamText(c, snapshotLines(store, opinions, sizes, cursor, format, filter, withEntries), headers)
  })

  r.route('/', taxiiRoutes(deps))
  r.route('/', mispRoutes({ federation: deps.federation, store, opinions, now: deps.now, readers, subscription: (c) => subscriptionOf(c, store), stream: streamText }))
  return r
}
