/**
 * A static mirror of a node as a sync source (spec/api.md §A.12): the same
 * files a node serves, under a base URL — `logs.json`, each log's
 * `logs/<name>/checkpoint`, its hash tiles and its entry bundles. For every
 * log it builds the block a node's feed would send: the entries from the
 * bundles, and the consistency proofs (from the copy's entries and from the
 * checkpoint it verified before, to the mirror's checkpoint) computed from
 * hash tiles authenticated against that checkpoint's root. client/sync.ts
 * then checks the block exactly as a feed block. Hash tiles and checkpoints
 * are public; bundles need a token the mirror's gate accepts.
 */
import { z } from 'zod'
import { LedgerError } from '../protocol/errors.ts'
import { parseCheckpointNote } from '../protocol/checkpoint.ts'
import { consistencyProof, consistencyProofPlan, planNodes, type NodeHashAt } from '../protocol/merkle.ts'
import { authenticateTiles, decodeEntryBundle, entriesPath, tilePath, tilesForNodes, MAX_BUNDLE_ENTRY, TILE_WIDTH, type FetchedTile } from '../protocol/tiles.ts'
import type { Subscription } from '../protocol/subscription.ts'
import { request, type Endpoint } from './http.ts'
import { mapLimit } from './verify.ts'
import { refuse, type SyncBlock, type SyncPage, type SyncPosition, type SyncSource } from './sync-source.ts'

/** Most bytes read of one file: a full bundle of the largest entries; logs.json and checkpoints far less. */
const MAX_FILE = { 'logs.json': 4 * 1024 * 1024, checkpoint: 128 * 1024, tile: TILE_WIDTH * 32, bundle: TILE_WIDTH * (2 + MAX_BUNDLE_ENTRY) }
/** Requests in flight for one page's bundles. */
const CONCURRENCY = 8

const Listing = z.array(z.object({
  name: z.string().min(1).max(256).refine((n) => n !== '.' && n !== '..' && !n.includes('/'), 'a log name is one path segment'),
  origin: z.string().min(1).max(256),
  size: z.number().int().min(0),
  frozen: z.boolean().optional(),
}).passthrough()).max(10_000)

interface MirroredLog {
  name: string
  origin: string
  frozen: boolean
  checkpoint?: string
  size: number
  root?: Uint8Array
  tiles: Map<string, FetchedTile>
  read?: NodeHashAt
}

/** GET `<base>/<path>` with the bearer token, redirects followed; at most `max` bytes. Errors name the file. */
export async function readMirrorFile(ep: Endpoint, path: string, max: number): Promise<Uint8Array> {
  const where = `${ep.url}/${path}`
  let res: Response
  try {
    res = await request(ep, 'GET', `/${path}`, { timeoutMs: 60_000 })
  } catch (e) {
    if (!(e instanceof LedgerError)) throw e
    const hint = e.code === 'UNAUTHORIZED' || e.code === 'FORBIDDEN' ? ' (entry bundles and snapshots are restricted: give a provider or auditor token, --token or $CAIRN_TOKEN)' : ''
    throw new LedgerError(e.code, `mirror file ${where}: ${e.message.replace(/^GET \S+: /, '')}${hint}`)
  }
  const declared = Number(res.headers.get('content-length') ?? 0)
  if (declared > max) throw new LedgerError('TOO_LARGE', `mirror file ${where} is ${declared} bytes, more than the ${max} it can be`)
  const chunks: Uint8Array[] = []
  let n = 0
  const reader = res.body?.getReader()
  for (let r = await reader?.read(); r && !r.done; r = await reader!.read()) {
    n += r.value.length
    if (n > max) {
      await reader!.cancel()
      throw new LedgerError('TOO_LARGE', `mirror file ${where} is more than the ${max} bytes it can be`)
    }
    chunks.push(r.value)
  }
  return Buffer.concat(chunks, n)
}

export class MirrorSource implements SyncSource {
  readonly kind = 'mirror'
  readonly url: string
  private readonly ep: Endpoint
  private logs?: Promise<MirroredLog[]>
  private listing?: Promise<unknown>

  constructor(base: string, token: string | undefined, fetchImpl?: typeof fetch) {
    this.url = base.replace(/\/$/, '')
    this.ep = { url: this.url, token, fetch: fetchImpl }
  }

  private file(path: string, max: number): Promise<Uint8Array> {
    return readMirrorFile(this.ep, path, max)
  }

  /** logs.json, read once a run (the mirror writes it last in each round). */
  listLogs(): Promise<unknown> {
    this.listing ??= this.file('logs.json', MAX_FILE['logs.json']).then((bytes) => {
      try {
        return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown
      } catch {
        throw new LedgerError('PEER_ERROR', `mirror file ${this.url}/logs.json is not JSON`)
      }
    })
    return this.listing
  }

  /** Every log's checkpoint, read once a run: the tree this run brings the copy up to. */
  private mirrored(): Promise<MirroredLog[]> {
    this.logs ??= (async () => {
      const parsed = Listing.safeParse(await this.listLogs())
      if (!parsed.success) throw new LedgerError('PEER_ERROR', `mirror file ${this.url}/logs.json is not a list of logs (${parsed.error.issues[0]?.message})`)
      const logs = [...parsed.data].sort((a, b) => (a.origin < b.origin ? -1 : 1))
      return mapLimit(logs, CONCURRENCY, async (l) => {
        const m: MirroredLog = { name: l.name, origin: l.origin, frozen: l.frozen === true, size: 0, tiles: new Map() }
        let text: string
        try {
          text = Buffer.from(await this.file(`${this.prefix(m)}checkpoint`, MAX_FILE.checkpoint)).toString('utf8')
        } catch (e) {
          if (e instanceof LedgerError && e.code === 'NOT_FOUND' && l.size === 0) return m // a log without entries may have no checkpoint yet
          throw e
        }
        m.checkpoint = text
        try {
          const cp = parseCheckpointNote(text).checkpoint
          m.size = cp.size
          m.root = cp.root
        } catch {
          // Not even a checkpoint: sync.ts refuses it when it opens it, naming the log.
        }
        return m
      })
    })()
    return this.logs
  }

  private prefix(l: { name: string }): string {
    return `logs/${encodeURIComponent(l.name)}/`
  }

  /** Node hashes of the log's tree, from hash tiles authenticated against its checkpoint (fetched as needed, kept for the run). */
  private async proofs(l: MirroredLog, olds: number[]): Promise<Uint8Array[][] | NonNullable<SyncBlock['unproven']>> {
    const plans = olds.map((old) => consistencyProofPlan(old, l.size))
    const nodes = plans.flatMap((p) => planNodes(p))
    if (nodes.length === 0) return plans.map(() => [])
    const missing = tilesForNodes(nodes, l.size).filter((t) => !l.tiles.has(tilePath(t)))
    if (missing.length > 0 || !l.read) {
      let fetched: FetchedTile[]
      try {
        fetched = await mapLimit(missing, CONCURRENCY, async (tile) => ({ tile, data: await this.file(this.prefix(l) + tilePath(tile), MAX_FILE.tile) }))
      } catch (e) {
        // A tile the checkpoint needs is not there: said once the checkpoint itself verifies, like a tile that does not match.
        if (e instanceof LedgerError && (e.code === 'NOT_FOUND' || e.code === 'TOO_LARGE')) return { code: e.code, why: e.message }
        throw e
      }
      for (const f of fetched) l.tiles.set(tilePath(f.tile), f)
      try {
        l.read = authenticateTiles(l.size, l.root!, [...l.tiles.values()])
      } catch (e) {
        l.tiles.clear()
        // Said once the checkpoint itself verifies (else the checkpoint is what is wrong).
        return { code: 'BAD_TILE', why: `the hash tiles under ${this.url}/${this.prefix(l)}tile/ do not authenticate against ${this.url}/${this.prefix(l)}checkpoint (size ${l.size}): ${(e as Error).message}` }
      }
    }
    return olds.map((old) => consistencyProof(old, l.size, l.read!))
  }

  /** Entries [from, to) of the log, from its bundles as they are in a tree of the checkpoint's size. */
  private async entries(l: MirroredLog, from: number, to: number): Promise<Uint8Array[]> {
    if (to <= from) return []
    const first = Math.floor(from / TILE_WIDTH)
    const last = Math.floor((to - 1) / TILE_WIDTH)
    const bundles = Array.from({ length: last - first + 1 }, (_, i) => first + i)
    const read = await mapLimit(bundles, CONCURRENCY, async (b) => {
      const width = Math.min(TILE_WIDTH, l.size - b * TILE_WIDTH)
      const path = this.prefix(l) + entriesPath(b, width)
      try {
        return decodeEntryBundle(await this.file(path, MAX_FILE.bundle), { count: width })
      } catch (e) {
        if (e instanceof LedgerError && (e.code === 'BAD_TILE' || e.code === 'TOO_LARGE')) refuse(e.code, l.origin, `mirror file ${this.url}/${path}: ${e.message}`)
        throw e
      }
    })
    return read.flat().slice(from - first * TILE_WIDTH, to - first * TILE_WIDTH)
  }

  async page(position: SyncPosition, limit: number, _sub: Subscription | undefined): Promise<SyncPage> {
    let budget = limit
    let more = false
    const blocks: SyncBlock[] = []
    for (const l of await this.mirrored()) {
      const from = position.cursor.get(l.origin) ?? 0
      const verified = position.verified.get(l.origin)
      const block: SyncBlock = { origin: l.origin, from, to: from, size: l.size, checkpoint: l.checkpoint, checkpointAt: `${this.url}/${this.prefix(l)}checkpoint`, proof: [], entries: [] }
      if (l.frozen) block.frozen = true
      blocks.push(block)
      if (!l.checkpoint) continue
      if (l.root === undefined) continue // sync.ts refuses the checkpoint
      if (from > l.size || (verified !== undefined && verified > l.size)) {
        block.behind = true
        continue
      }
      const to = Math.min(l.size, from + budget)
      const proofs = await this.proofs(l, verified === undefined ? [to] : [to, verified])
      if (!Array.isArray(proofs)) {
        block.unproven = proofs
        continue
      }
      const [proof, verifiedProof] = proofs
      block.entries = await this.entries(l, from, to)
      block.proof = proof!
      if (verifiedProof) block.verifiedProof = verifiedProof
      block.to = to
      block.where = (index) => `${this.url}/${this.prefix(l)}${entriesPath(Math.floor(index / TILE_WIDTH), Math.min(TILE_WIDTH, l.size - Math.floor(index / TILE_WIDTH) * TILE_WIDTH))}`
      budget -= to - from
      if (to < l.size) more = true
    }
    return { logs: blocks, more }
  }
}
