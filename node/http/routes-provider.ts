/**
 * Provider routes (DESIGN §4; auditor and oversight may read them too):
 *
 *   GET /feed?cursor=&limit=&verified=&entries=   deltas of the current set (node/feed.ts)
 *   GET /feed/snapshot?format=jsonl|csv|txt|stix  the whole set as of a cursor, streamed
 *   GET /taxii2/...                               TAXII 2.1 (read-only) over the same logs
 */
import { Hono, type Context } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import { toHex } from '../../protocol/bytes.ts'
import type { Store } from '../storage/store.ts'
import type { SetLines } from '../provider/set-lines.ts'
import { jsonlLine } from '../provider/jsonl-line.ts'
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

const READERS: ApiRole[] = ['provider', 'auditor', 'oversight']

/** What the feed, the snapshot and TAXII read. */
export interface ProviderRouteDeps {
  origin: string
  federation: string
  /** The Store type because provider/feed.ts takes it; these routes only read (feed, scan, timeline). */
  store: Store
  /** The snapshot's set-line files. */
  setLines: Pick<SetLines, 'ready' | 'stream'>
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

/** Lines of a snapshot, joined into ~64 KiB strings (one await per chunk, not per line). */
async function* snapshotLines(store: Store, sizes: Sizes, cursor: string, format: string): AsyncGenerator<string> {
  let count = 0
  let objects = 0
  let out = ''
  if (format === 'csv') out += 'alg,value,category,kind,media,id,log,seq\n'
  if (format === 'stix') out += `{"type":"bundle","id":"${bundleStixId(cursor)}"`
  const emit = (o: StixObject) => (objects++ === 0 ? ',"objects":[\n' : ',\n') + JSON.stringify(o)
  for await (const ev of scanSet(store, sizes)) {
    if (out.length >= 64 * 1024) {
      yield out
      out = ''
    }
    if (ev.kind === 'log') {
      if (format === 'stix') out += emit(stixIdentity(ev.origin, ev.firstTime))
      continue
    }
    const { row } = ev
    const r = row.record
    const value = toHex(r.value!)
    count++
    if (format === 'txt') out += `${r.alg} ${value}\n`
    else if (format === 'csv') out += [r.alg!, value, r.category!, r.kind!, r.media!, toHex(row.id), ev.origin, row.seq].map(csvField).join(',') + '\n'
    else if (format === 'jsonl') out += jsonlLine(ev.origin, row.seq, row.id, r)
    else out += emit(stixIndicator({ id: row.id, seq: row.seq, record: r }))
  }
  // jsonl ends with the cursor: a stream without this line was cut short.
  if (format === 'jsonl') out += JSON.stringify({ cursor, count }) + '\n'
  if (format === 'stix') out += objects > 0 ? '\n]}\n' : '}\n'
  if (out) yield out
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
    const page = await taxiiPage(deps.store, pageRequest(c), parseFilter(c))
    return taxiiJson(c, envelope(page, 'objects', page.versions.map((v) => v.object)), 200, dateHeaders(page.versions))
  })

  get(`${API}collections/:cid/manifest/`, async (c) => {
    checkCollection(c)
    const page = await taxiiPage(deps.store, pageRequest(c), parseFilter(c))
    const records = page.versions.map((v) => ({ id: v.object.id, date_added: stixTime(v.dateAdded), version: v.object.modified, media_type: STIX_MEDIA_TYPE }))
    return taxiiJson(c, envelope(page, 'objects', records), 200, dateHeaders(page.versions))
  })

  get(`${API}collections/:cid/objects/:oid/`, async (c) => {
    checkCollection(c)
    const page = await taxiiPage(deps.store, pageRequest(c), parseFilter(c, c.req.param('oid')))
    if (page.versions.length === 0 && !page.more) throw new TaxiiError(404, 'Not Found', `no object ${c.req.param('oid')} in this collection`)
    return taxiiJson(c, envelope(page, 'objects', page.versions.map((v) => v.object)), 200, dateHeaders(page.versions))
  })

  get(`${API}collections/:cid/objects/:oid/versions/`, async (c) => {
    checkCollection(c)
    const page = await taxiiPage(deps.store, pageRequest(c), parseFilter(c, c.req.param('oid'), true))
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
  const { store, setLines } = deps
  const r = new Hono<Env>()
  const readers = requireRole(...READERS)

  r.get('/feed', readers, async (c) => {
    const page = await feedPage(store, {
      cursor: decodeCursor(c.req.query('cursor') ?? ''),
      verified: c.req.query('verified') === undefined ? undefined : decodeCursor(c.req.query('verified')!, 'verified'),
      limit: parseLimit(c.req.query('limit'), FEED_DEFAULT_LIMIT, FEED_MAX_LIMIT),
      withEntries: parseFlag(c.req.query('entries'), 'entries'),
    })
    c.header('Cache-Control', 'no-store')
    return c.json(page)
  })

  r.get('/feed/snapshot', readers, async (c) => {
    const format = c.req.query('format') ?? 'jsonl'
    const type = SNAPSHOT_TYPES[format]
    if (!type) throw new LedgerError('BAD_REQUEST', `format must be one of ${Object.keys(SNAPSHOT_TYPES).join(', ')}`)
    const sizes = publishedSizes(store)
    const cursor = encodeCursor(sizes)
    const headers = { 'Content-Type': type, [CURSOR_HEADER]: cursor, 'Cache-Control': 'no-store' }
    // jsonl comes from the set-line files once they hold these sizes (node/set-lines.ts); else it is rendered from the store.
    if (format === 'jsonl' && await setLines.ready(sizes)) return streamBytes(c, setLines.stream(sizes, cursor), headers)
    return streamText(c, snapshotLines(store, sizes, cursor, format), headers)
  })

  r.route('/', taxiiRoutes(deps))
  return r
}
