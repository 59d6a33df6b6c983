/**
 * The log read path (c2sp tlog-tiles, tlog-checkpoint, tlog-proof) and the
 * witness endpoint (c2sp tlog-witness). Byte-exact per the specs: tiles and
 * entry bundles are served as stored; a tile of a given width never changes,
 * so every tile response is immutable. A redacted entry is served in its
 * bundle as its marker (spec/redaction.md); hash tiles never change.
 *
 *   GET /logs/<name>/redactions?from=&limit=   public: the log's redaction
 *   notices (no payloads), so anyone can check them with the log's vkey.
 *   POST /logs/<name>/proofs {"indexes":[…]}     auditor, oversight: up to
 *   1,000 tlog-proofs against one checkpoint in one request.
 */
import { Hono } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import { parseTilePath, encodeEntryBundle, TILE_WIDTH } from '../../protocol/tiles.ts'
import { encodeTlogProof } from '../../protocol/tlog-proof.ts'
import { MAX_ADD_CHECKPOINT_BYTES } from '../../protocol/witness-request.ts'
import { readNoticeUnverified } from '../../protocol/redaction.ts'
import { toHex } from '../../protocol/bytes.ts'
import type { StoreReader } from '../storage/store.ts'
import type { Roster } from '../roster.ts'
import type { WitnessService } from '../replication/witness.ts'
import { requireRole, jsonBody, type Env } from './request.ts'
import { logList } from '../log-list.ts'

const IMMUTABLE = 'private, max-age=31536000, immutable'
/** Proofs one POST /logs/<name>/proofs may ask for. */
export const MAX_PROOFS_PER_REQUEST = 1000

/** What the log read path and the witness endpoint read. */
export interface LogRouteDeps {
  federation: string
  store: Pick<StoreReader, 'hasLog' | 'listLogs' | 'checkpoint' | 'tile' | 'entries' | 'inclusionProof' | 'frozenProof' | 'redactions'>
  roster: Pick<Roster, 'member'>
  witness: Pick<WitnessService, 'addCheckpoint'>
}

/** The log a URL segment names: the member part of its origin. */
export function logByName(deps: Pick<LogRouteDeps, 'federation' | 'store'>, name: string): string {
  const origin = `${deps.federation}/${name}`
  if (!deps.store.hasLog(origin)) throw new LedgerError('UNKNOWN_LOG', `this node holds no log named ${name}`)
  return origin
}

export function logRoutes(deps: LogRouteDeps) {
  const { store, roster } = deps
  const r = new Hono<Env>()

  r.get('/logs', (c) => c.json(logList(store, roster)))

  r.get('/logs/:name/checkpoint', (c) => {
    const note = store.checkpoint(logByName(deps, c.req.param('name')))
    if (!note) throw new LedgerError('NOT_FOUND', 'no checkpoint held for this log yet')
    c.header('Cache-Control', 'no-cache')
    return c.body(note, 200, { 'Content-Type': 'text/plain; charset=utf-8' })
  })

  r.get('/logs/:name/tile/*', requireRole('auditor', 'oversight'), async (c) => {
    const origin = logByName(deps, c.req.param('name'))
    const prefix = `/logs/${c.req.param('name')}/`
    const t = parseTilePath(c.req.path.slice(prefix.length))
    // Tiles are served up to the size of the checkpoint this node publishes for the log.
    const size = store.listLogs().find((l) => l.origin === origin)!.checkpointSize
    let body: Uint8Array | undefined
    if (t.kind === 'tile') {
      const hashesAtLevel = Math.floor(size / TILE_WIDTH ** t.level)
      if (t.index * TILE_WIDTH + t.width <= hashesAtLevel) body = await store.tile(origin, t.level, t.index, t.width)
    } else {
      const start = t.index * TILE_WIDTH
      if (start + t.width <= size) body = encodeEntryBundle(await store.entries(origin, start, start + t.width))
    }
    if (!body) throw new LedgerError('NOT_FOUND', `${c.req.path.slice(prefix.length)} is beyond the published tree of size ${size}`)
    c.header('Cache-Control', IMMUTABLE)
    return c.body(body as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream' })
  })

  /** The published checkpoint of `origin` and its size; every index asked must lie below it. */
  const published = (origin: string, indexes: number[]) => {
    const note = store.checkpoint(origin)
    const size = note ? Number(note.split('\n')[1]) : 0
    const beyond = indexes.find((i) => i >= size)
    if (!note || beyond !== undefined) throw new LedgerError('NOT_FOUND', `entry ${beyond ?? indexes[0]} is not in the published tree of size ${size}`)
    return { note, size }
  }

  r.get('/logs/:name/proof/:index', requireRole('auditor', 'oversight'), async (c) => {
    const origin = logByName(deps, c.req.param('name'))
    const raw = c.req.param('index')
    if (!/^(0|[1-9][0-9]{0,15})$/.test(raw)) throw new LedgerError('BAD_REQUEST', 'the index is a decimal number without leading zeros')
    const index = Number(raw)
    const { note, size } = published(origin, [index])
    const proof = await store.inclusionProof(origin, index, size)
    c.header('Cache-Control', 'no-cache')
    return c.body(encodeTlogProof({ index, proof, checkpoint: note }), 200, { 'Content-Type': 'text/plain; charset=utf-8' })
  })

  // Many proofs in one request (as Rekor's entries/retrieve): {"indexes":[...]} → the same c2sp tlog-proof
  // texts the route above gives, in the order asked, all against one published checkpoint.
  r.post('/logs/:name/proofs', requireRole('auditor', 'oversight'), async (c) => {
    const origin = logByName(deps, c.req.param('name'))
    const body = await jsonBody(c)
    const indexes = (body as { indexes?: unknown } | null)?.indexes
    if (typeof body !== 'object' || body === null || Object.keys(body).some((k) => k !== 'indexes') || !Array.isArray(indexes)) {
      throw new LedgerError('BAD_REQUEST', 'the body is {"indexes": [entry index, ...]}')
    }
    if (indexes.length < 1 || indexes.length > MAX_PROOFS_PER_REQUEST) throw new LedgerError('BAD_REQUEST', `ask for 1 to ${MAX_PROOFS_PER_REQUEST} proofs`)
    if (!indexes.every((i) => Number.isSafeInteger(i) && i >= 0)) throw new LedgerError('BAD_REQUEST', 'every index is a whole number ≥ 0')
    const { note, size } = published(origin, indexes as number[])
    // One after another: the tiles are read on this thread anyway, and 1,000 proofs in flight at once only add garbage.
    const proofs: string[] = []
    for (const index of indexes as number[]) proofs.push(encodeTlogProof({ index, proof: await store.inclusionProof(origin, index, size), checkpoint: note }))
    c.header('Cache-Control', 'no-cache')
    return c.json({ size, proofs })
  })

  // The proof that froze a log: two conflicting checkpoints signed by it, checkable offline with its key.
  r.get('/logs/:name/equivocation', (c) => {
    const proof = store.frozenProof(logByName(deps, c.req.param('name')))
    if (!proof) throw new LedgerError('NOT_FOUND', 'this log is not frozen: no equivocation proof is held')
    return c.body(proof, 200, { 'Content-Type': 'text/plain; charset=utf-8' })
  })

  r.get('/logs/:name/redactions', async (c) => {
    const origin = logByName(deps, c.req.param('name'))
    const num = (raw: string | undefined, dflt: number, what: string) => {
      if (raw === undefined || raw === '') return dflt
      if (!/^(0|[1-9][0-9]{0,15})$/.test(raw)) throw new LedgerError('BAD_REQUEST', `${what} is a decimal number without leading zeros`)
      return Number(raw)
    }
    const from = num(c.req.query('from'), 0, 'from')
    const limit = Math.min(Math.max(num(c.req.query('limit'), 1000, 'limit'), 1), 1000)
    const out: Record<string, unknown>[] = []
    let next: number | undefined
    for await (const r of store.redactions(origin, from, limit + 1)) {
      if (!r.applied) break // notices for entries not held yet come after, in index order
      if (out.length === limit) {
        next = r.index
        break
      }
      const n = readNoticeUnverified(r.notice)
      out.push({ index: r.index, id: toHex(n.id), reason: n.reason, time: n.time, notice: toHex(r.notice) })
    }
    c.header('Cache-Control', 'no-cache')
    const body: Record<string, unknown> = { origin, vkey: roster.member(origin)?.vkey ?? null, redactions: out }
    if (next !== undefined) body.next = next
    return c.json(body)
  })

  r.post('/witness/add-checkpoint', async (c) => {
    const buf = new Uint8Array(await c.req.arrayBuffer())
    if (buf.length > MAX_ADD_CHECKPOINT_BYTES) throw new LedgerError('TOO_LARGE', `add-checkpoint bodies are at most ${MAX_ADD_CHECKPOINT_BYTES} bytes`)
    const a = await deps.witness.addCheckpoint(buf)
    return c.body(a.body, a.status as 200, { 'Content-Type': a.contentType })
  })

  return r
}
