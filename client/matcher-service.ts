/**
 * `cairn matcher serve`: the matching endpoints of Meta's Hasher-Matcher-
 * Actioner HTTP API (HMA, "OpenMediaMatch") over a provider's verified local
 * copy, with HMA's request and response shapes, so that systems written for
 * HMA can match against the federation's indicators (spec/matcher-api.md):
 *
 *   GET  /status, /status/live           HMA's health checks (text)
 *   GET  /h/hash                         refused: this service never fetches URLs
 *   POST /h/hash                         an uploaded image → {"pdq": hex} (a video → {"video_md5": hex})
 *   GET  /m/lookup, POST /m/lookup       matches by bank: {bank: [{bank_content_id, distance}]}
 *   GET  /m/raw_lookup                   {"matches": [content ids]} or, with include_distance, [{bank_content_id, distance}]
 *   GET  /m/index/status                 {signal type: {present, built_to, size}}
 *   GET  /metrics                        request, rejection and reload counters (Prometheus text)
 *
 * Errors are HMA's `{"message"}` (with our `code` beside it), one line, a 4xx
 * for bad input, every one counted. The copy comes from a CopyFollower, read
 * once per request, so an answer never mixes two copies.
 */
import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { routePath } from 'hono/route'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { serve, type ServerType } from '@hono/node-server'
import { Counter, Gauge, Registry } from 'prom-client'
import { LedgerError, isLedgerError, type ErrorCode } from '../protocol/errors.ts'
import { pdqHash } from '../protocol/pdq.ts'
import { toHex } from '../protocol/bytes.ts'
import { decodeImage, sniffImageFormat } from './image-decoder.ts'
import { MIN_QUERY_QUALITY } from './matcher.ts'
import type { CopyFollower, LoadedCopy } from './copy-follower.ts'
import { SIGNAL_TYPES, bankNamer, byBank, contentId, matchSignal, parseBanks, resolveSignalType } from './hma-signals.ts'

export { DEFAULT_MAX_UPLOAD_BYTES } from './hma-signals.ts'
import { DEFAULT_MAX_UPLOAD_BYTES } from './hma-signals.ts'
/** HMA calls its index stale (GET /status → 503) when not refreshed for 65 s; here: when the copy on disk could not be loaded for that long. */
export const STALE_AFTER_MS = 65_000
/** The response header carrying the PDQ quality of a hashed upload (HMA's shape has no place for it). */
export const QUALITY_HEADER = 'Cairn-PDQ-Quality'

/** HMA's content types for an upload (the multipart field name) and the signal types each yields. */
const CONTENT_TYPES = { photo: ['pdq'], video: ['video_md5'] } as const
type ContentType = keyof typeof CONTENT_TYPES

const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = { TOO_LARGE: 413, NOT_FOUND: 404, FORBIDDEN: 403, INTERNAL: 500, STORAGE_CORRUPT: 500 }

export interface MatcherServiceDeps {
  follower: Pick<CopyFollower, 'current' | 'behindSince' | 'reloads'>
  maxUploadBytes?: number
  /** Told of a failure that is not the client's (the answer is a bare 500). */
  onInternalError?: (e: unknown) => void
}

export function matcherApp(deps: MatcherServiceDeps): { app: Hono; registry: Registry } {
  const maxUpload = deps.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES
  const registry = new Registry()
  const requests = new Counter({ name: 'cairn_matcher_requests_total', help: 'Requests answered, by route and status', labelNames: ['route', 'status'], registers: [registry] })
  const rejected = new Counter({ name: 'cairn_matcher_rejected_total', help: 'Requests refused as bad input (4xx), by error code', labelNames: ['code'], registers: [registry] })
  new Gauge({ name: 'cairn_matcher_records', help: 'Live records in the copy answering now', registers: [registry], collect() { this.set(deps.follower.current().copy.size) } })
  new Gauge({
    name: 'cairn_matcher_reloads', help: 'Reloads of the copy since start, by result', labelNames: ['result'], registers: [registry],
    collect() {
      this.set({ result: 'ok' }, deps.follower.reloads.ok)
      this.set({ result: 'failed' }, deps.follower.reloads.failed)
    },
  })

  /** Bank names per loaded copy (a reload may bring new centres). */
  const namers = new WeakMap<LoadedCopy, (origin: string, category: string) => string>()
  const current = () => {
    const loaded = deps.follower.current()
    let bankOf = namers.get(loaded)
    if (!bankOf) namers.set(loaded, (bankOf = bankNamer(loaded.origins)))
    return { ...loaded, bankOf }
  }

  const app = new Hono()
  const fail = (c: Context, e: unknown) => {
    if (!isLedgerError(e)) deps.onInternalError?.(e)
    const le = isLedgerError(e) ? e : new LedgerError('INTERNAL', 'internal error')
    const status = STATUS[le.code] ?? 400
    if (status < 500) rejected.inc({ code: le.code })
    return c.json({ message: le.message.replace(/\s*\n\s*/g, ' '), code: le.code }, status)
  }
  app.onError((e, c) => fail(c, e))
  app.notFound((c) => fail(c, new LedgerError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}; this matcher serves HMA's /h/hash, /m/lookup, /m/raw_lookup, /m/index/status and /status`)))
  app.use('*', async (c, next) => {
    await next()
    requests.inc({ route: c.res.status === 404 ? 'unknown' : routePath(c, -1), status: String(c.res.status) })
  })
  const limit = bodyLimit({
    maxSize: maxUpload,
    onError: (c) => {
      // The rest of the body is not read: the connection must not carry another request.
      c.header('Connection', 'close')
      return fail(c, new LedgerError('TOO_LARGE', `uploads are limited to ${maxUpload} bytes`))
    },
  })

  // ---------------------------------------------------------------- health (HMA: text bodies)

  app.get('/status', (c) => {
    const behind = deps.follower.behindSince()
    if (behind !== undefined && Date.now() - behind > STALE_AFTER_MS) return c.text('INDEX-STALE', 503)
    return c.text('I-AM-ALIVE', 200)
  })
  app.get('/status/live', (c) => c.text('I-AM-ALIVE', 200))
  app.get('/metrics', async (c) => c.body(await registry.metrics(), 200, { 'Content-Type': registry.contentType }))

  // ---------------------------------------------------------------- hashing

  app.get('/h/hash', (c) => {
    throw refuseUrl(c.req.query('url'))
  })
  app.post('/h/hash', limit, async (c) => {
    const upload = await readUpload(c)
    const hashed = await hashUpload(upload, c.req.query('types'))
    if (hashed.quality !== undefined) c.header(QUALITY_HEADER, String(hashed.quality))
    return c.json(hashed.signals)
  })

  // ---------------------------------------------------------------- matching

  app.get('/m/lookup', (c) => {
    if (c.req.query('url') !== undefined) throw refuseUrl(c.req.query('url'))
    const signal = c.req.query('signal')
    const signalType = c.req.query('signal_type')
    if (!signal || !signalType) throw new LedgerError('MISSING_FIELD', 'Either url or both signal and signal_type are required (this matcher takes signal and signal_type)')
    const { copy, bankOf } = current()
    return c.json(byBank(matchSignal(copy, signalType, signal), bankOf, parseBanks(c.req.query('banks'))))
  })
  app.post('/m/lookup', limit, async (c) => {
    const hashed = await hashUpload(await readUpload(c), undefined)
    if (hashed.quality !== undefined) c.header(QUALITY_HEADER, String(hashed.quality))
    const { copy, bankOf } = current()
    const banks = parseBanks(c.req.query('banks'))
    const out: Record<string, ReturnType<typeof byBank>> = {}
    // A low-quality PDQ ("" as HMA hashes it) is not matched: no banks for it.
    for (const [type, signal] of Object.entries(hashed.signals)) out[type] = signal === '' ? {} : byBank(matchSignal(copy, type, signal), bankOf, banks)
    return c.json(out)
  })
  app.get('/m/raw_lookup', (c) => {
    const signal = c.req.query('signal')
    const signalType = c.req.query('signal_type')
    if (!signal) throw new LedgerError('MISSING_FIELD', 'signal is required')
    if (!signalType) throw new LedgerError('MISSING_FIELD', 'signal_type is required')
    const withDistance = parseBool(c.req.query('include_distance'), 'include_distance')
    const { copy, bankOf } = current()
    const banks = parseBanks(c.req.query('banks'))
    let matches = matchSignal(copy, signalType, signal)
    if (banks) {
      matches = matches.filter((m) => banks.has(bankOf(m.record.log, m.record.category)))
    }
    return c.json({ matches: withDistance ? matches.map((m) => ({ bank_content_id: contentId(m.record), distance: m.distance })) : matches.map((m) => contentId(m.record)) })
  })
  app.get('/m/index/status', (c) => {
    const only = c.req.query('signal_type')
    if (only !== undefined && !Object.hasOwn(SIGNAL_TYPES, only)) throw new LedgerError('BAD_ALG', `No such signal type ${JSON.stringify(only.slice(0, 40))}; this matcher indexes ${Object.keys(SIGNAL_TYPES).join(', ')}`)
    const { copy, committedAt } = deps.follower.current()
    const out: Record<string, { present: boolean; built_to: number; size: number }> = {}
    for (const name of only !== undefined ? [only] : Object.keys(SIGNAL_TYPES)) out[name] = { present: true, built_to: committedAt, size: copy.counts[resolveSignalType(name).alg] ?? 0 }
    return c.json(out)
  })

  return { app, registry }
}

function refuseUrl(url: string | undefined): LedgerError {
  return new LedgerError('FORBIDDEN', `this matcher does not fetch URLs${url === undefined ? '' : ' (url was given)'}: upload the file with POST /h/hash (multipart field "photo") or look up its hash with GET /m/lookup?signal_type=&signal=`)
}

/** HMA's query booleans (pydantic): true/false, 1/0, yes/no, on/off; absent is false. */
function parseBool(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === '') return false
  const v = raw.toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(v)) return true
  if (['false', '0', 'no', 'off'].includes(v)) return false
  throw new LedgerError('BAD_FIELD', `${name} is true or false, got ${JSON.stringify(raw.slice(0, 20))}`)
}

/**
 * The uploaded file: HMA's multipart/form-data with one file whose field
 * name is its content type ("photo" or "video"), or (our addition) the raw
 * bytes as the body, a photo unless `content_type=video`.
 */
async function readUpload(c: Context): Promise<{ contentType: ContentType; bytes: Uint8Array }> {
  const type = c.req.header('content-type') ?? ''
  if (/^multipart\/form-data/i.test(type)) {
    let form: Record<string, unknown>
    try {
      form = await c.req.parseBody({ all: true })
    } catch (e) {
      throw new LedgerError('BAD_REQUEST', 'the multipart/form-data body cannot be parsed', { cause: e })
    }
    const files = Object.entries(form).filter(([, v]) => v instanceof File || (Array.isArray(v) && v.some((x) => x instanceof File)))
    if (files.length === 0) throw new LedgerError('MISSING_FIELD', 'Missing multipart/form-data file upload')
    const [field, file] = files[0]!
    if (files.length > 1 || Array.isArray(file)) throw new LedgerError('BAD_REQUEST', 'Only one file allowed per request')
    if (!Object.hasOwn(CONTENT_TYPES, field)) throw new LedgerError('BAD_REQUEST', `no such content_type: ${JSON.stringify(field.slice(0, 40))}; the file's field name is "photo" or "video"`)
    return { contentType: field as ContentType, bytes: new Uint8Array(await (file as File).arrayBuffer()) }
  }
  const named = c.req.query('content_type') ?? (/^video\//i.test(type) ? 'video' : 'photo')
  if (!Object.hasOwn(CONTENT_TYPES, named)) throw new LedgerError('BAD_REQUEST', `no such content_type: ${JSON.stringify(named.slice(0, 40))}; it is "photo" or "video"`)
  const bytes = new Uint8Array(await c.req.arrayBuffer())
  if (bytes.length === 0) throw new LedgerError('MISSING_FIELD', 'Missing multipart/form-data file upload (or the file as the raw request body)')
  return { contentType: named as ContentType, bytes }
}

/**
 * HMA's answer to an upload: signal type → hash. A photo's PDQ of quality
 * below 50 is "" as in HMA (its PdqSignal discards such hashes); the quality
 * itself goes in a header.
 */
async function hashUpload(upload: { contentType: ContentType; bytes: Uint8Array }, typesParam: string | undefined): Promise<{ signals: Record<string, string>; quality?: number }> {
  const offered: readonly string[] = CONTENT_TYPES[upload.contentType]
  let wanted = offered
  if (typesParam !== undefined) {
    wanted = typesParam.split(',').map((t) => t.trim()).filter((t) => t !== '')
    for (const t of wanted) if (!offered.includes(t)) throw new LedgerError('BAD_ALG', `signal type ${JSON.stringify(t.slice(0, 40))} doesn't exist or is disabled for ${upload.contentType} (offered: ${offered.join(', ')})`)
    if (wanted.length === 0) throw new LedgerError('BAD_REQUEST', 'empty signal type selection')
  }
  const signals: Record<string, string> = {}
  let quality: number | undefined
  for (const t of wanted) {
    if (t === 'video_md5') signals[t] = createHash('md5').update(upload.bytes).digest('hex')
    if (t === 'pdq') {
      const format = sniffImageFormat(upload.bytes)
      if (format === undefined) throw new LedgerError('BAD_IMAGE', 'the upload is not a JPEG, PNG, WebP, GIF, TIFF or binary PGM/PPM image')
      const h = pdqHash(await decodeImage(upload.bytes, format))
      quality = h.quality
      signals[t] = h.quality < MIN_QUERY_QUALITY ? '' : toHex(h.hash)
    }
  }
  return { signals, quality }
}

export interface MatcherListening {
  url: string
  close(): Promise<void>
}

/** Serves the app on node:http with a header and a whole-request time limit (a trickling upload is cut off). */
export function listenMatcher(app: Hono, host: string, port: number): Promise<MatcherListening> {
  return new Promise((resolve, reject) => {
    let server!: ServerType
    server = serve({ fetch: app.fetch, hostname: host, port, serverOptions: { headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 65_000 } }, (info: AddressInfo) => {
      const shown = host.includes(':') ? `[${host}]` : host
      resolve({
        url: `http://${shown}:${info.port}`,
        close: () => new Promise<void>((done) => {
          server.close(() => done())
          ;(server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.()
        }),
      })
    })
    server.once('error', reject)
  })
}
