/**
 * The auditor's clients, talking to a node over HTTP and trusting nothing it
 * says that the protocol layer cannot check:
 *
 *  - `verifyNode` (cairn verify): for every log, the signed checkpoint and its
 *    cosignatures; every hash tile, authenticated against the root; every
 *    entry bundle, every entry's signature and record rules (in a pool of
 *    worker threads); the tree rebuilt from the entries and compared with the
 *    root and with the tiles leaf by leaf (so a changed entry is named by its
 *    index); a redaction marker in place of an entry must carry a notice
 *    signed by the log key for that index, whose id is then the leaf
 *    (spec/redaction.md); consistency with the (size, root) saved in a state file on the
 *    previous run, proven from the tiles. Keys come from the genesis roster,
 *    or are pinned in the state file on first use.
 *  - `lookupValue` (cairn lookup): fetches /lookup and verifies it offline
 *    (protocol/provenance.ts verifyProvenance).
 *
 * Why one file of ~500 lines: `cairn verify`'s steps (trust, tiles,
 * entries, tree, state) share one run's state and its problem list; the
 * entry check that runs in worker threads is verify-batch.ts.
 */
import { existsSync, readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs'
import { LedgerError } from '../protocol/errors.ts'
import { request, type Endpoint } from './http.ts'
import { VerifyPool, type BatchResult } from './verify-batch.ts'
import { defaultPoolSize } from '../workers/pool.ts'
import { readGenesisFile } from './genesis.ts'
import { toBase64, fromBase64, equalBytes } from '../protocol/bytes.ts'
import { logKeyFromVkey, openCheckpointWithKeys } from '../protocol/log-keys.ts'
import { openCheckpoint, parseCheckpointNote } from '../protocol/checkpoint.ts'
import { cosigners } from '../protocol/roster.ts'
import { FollowedRoster } from './roster-follow.ts'
import { CompactRange, consistencyProof, verifyConsistency, type NodeHashAt } from '../protocol/merkle.ts'
import { tilesForTree, tilePath, entriesPath, authenticateTiles, TILE_WIDTH, type FetchedTile } from '../protocol/tiles.ts'
import { verifyProvenance, verifyProvenanceItem, type Provenance, type ProvenanceTrust, type VerifiedProvenance } from '../protocol/provenance.ts'

// ---------------------------------------------------------------------------
// HTTP

export type { Endpoint }

/** GET with up to three tries while the node cannot be reached; an error answer throws at once. */
async function get(ep: Endpoint, path: string, as: 'text' | 'bytes' | 'json'): Promise<string | Uint8Array | unknown> {
  for (let attempt = 0; ; attempt++) {
    let res: Response
    try {
      res = await request(ep, 'GET', path, { timeoutMs: 60_000 })
    } catch (e) {
      if (attempt >= 2 || !(e instanceof LedgerError && e.code === 'PEER_UNREACHABLE')) throw e
      await new Promise((r) => setTimeout(r, 250 * (attempt + 1)))
      continue
    }
    if (as === 'bytes') return new Uint8Array(await res.arrayBuffer())
    if (as === 'text') return res.text()
    return res.json()
  }
}

/**
 * Runs `fn` over `items` with at most `n` in flight; results in input order.
 * After the first failure no further item is started, and the failure is
 * thrown once the calls in flight have ended.
 */
export async function mapLimit<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  let failure: { error: unknown } | undefined
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length && !failure) {
      const i = next++
      try {
        out[i] = await fn(items[i]!, i)
      } catch (e) {
        failure ??= { error: e } // the first to happen, not the first runner's
      }
    }
  }))
  if (failure) throw failure.error
  return out
}

// ---------------------------------------------------------------------------
// Trust: keys from the genesis roster or pinned on first use

export interface PinnedLog {
  vkey: string
  witness_vkey: string | null
  /** Size and root (base64) verified on the last successful run. */
  size: number
  root: string
  checkpoint: string
  verified_at: string
}

export interface VerifyState {
  version: 1
  node: string
  logs: Record<string, PinnedLog>
}

export function loadState(path: string): VerifyState | undefined {
  if (!existsSync(path)) return undefined
  let s: VerifyState
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as VerifyState
  } catch (e) {
    throw new LedgerError('BAD_CONFIG', `state file ${path} is not valid JSON: ${(e as Error).message}`)
  }
  if (s?.version !== 1 || typeof s.logs !== 'object' || s.logs === null) throw new LedgerError('BAD_CONFIG', `state file ${path} is not a cairn verify state file`)
  return s
}

/** Writes the state file atomically: a temporary file, fsync, rename. */
export function saveState(path: string, s: VerifyState): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 })
  const fd = openSync(tmp, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

interface LogListing {
  name: string
  origin: string
  vkey: string | null
  witness_vkey?: string | null
  size: number
  frozen: boolean
}

export interface TrustedKeys {
  /** Log verifier key per origin. */
  vkeys: Record<string, string>
  /** Witness verifier key per member origin (witness role only when from the genesis roster). */
  witnesses: Record<string, string>
  source: 'genesis' | 'state' | 'node'
  /** With a genesis roster: the roster followed from the logs (members voted in, keys by index). */
  follow?: FollowedRoster
}

export async function genesisKeys(path: string): Promise<TrustedKeys> {
  const g = readGenesisFile(path)
  const vkeys: Record<string, string> = {}
  const witnesses: Record<string, string> = {}
  for (const m of g.members) {
    vkeys[m.origin] = m.vkey
    if (m.roles.includes('witness')) witnesses[m.origin] = m.witness_vkey
  }
  return { vkeys, witnesses, source: 'genesis', follow: new FollowedRoster(g) }
}

// ---------------------------------------------------------------------------
// cairn verify

/** Rounds of re-verification while the followed roster keeps changing (each change needs a record in some log). */
const MAX_ROSTER_ROUNDS = 8

/** What a round can change: members and their keys. */
function rosterFingerprint(follow: FollowedRoster | undefined): string {
  if (!follow) return ''
  return JSON.stringify(follow.roster.all().map((m) => [m.origin, m.active, m.logKeys.map((k) => [k.vkey, k.from, k.until]), m.witnessKeys]))
}

export interface VerifyOptions extends Endpoint {
  /** `url` is the base of a static mirror of a node (spec/api.md §A.12): the list of logs is its `logs.json`, everything else the same paths. */
  mirror?: boolean
  statePath?: string
  genesisPath?: string
  /** Valid cosignatures by other members each checkpoint must carry (default: 1 when the log has other witnesses). */
  minWitnesses?: number
  /** Worker threads (default: one per core; 0 = in-process). */
  workers?: number
  /** Entries per worker batch. */
  batchSize?: number
  /** Concurrent HTTP requests for hash tiles, and as many for entry bundles (both are fetched at once). */
  concurrency?: number
  /** Checked entry batches held while the hash tiles are still being fetched (default 256). */
  aheadOfTiles?: number
  /** Progress and warnings, one line each. */
  onLine?: (line: string) => void
}

export interface LogReport {
  origin: string
  size: number
  root: string
  entries: number
  types: Record<string, number>
  tiles: number
  cosignedBy: string[]
  /** The signed checkpoint note verified. */
  checkpoint: string
  previous?: { size: number; root: string }
  problems: string[]
  /** Entries only a compromised key past its range signed (spec/federation.md §10.8). */
  compromised?: number
  /** Roster proposals and confirmations read (following the roster). */
  roster?: { index: number; entry: Uint8Array }[]
}

export interface VerifyReport {
  node: string
  keys: TrustedKeys['source']
  logs: LogReport[]
  problems: string[]
  warnings: string[]
  entries: number
  ms: number
  ok: boolean
}

const MAX_PROBLEMS_PER_LOG = 20
/** Checked entry batches held while the hash tiles are still being fetched (their leaves: 64 KiB each at the default batch size). */
const AHEAD_OF_TILES = 256

export async function verifyNode(o: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now()
  const ep: Endpoint = { url: o.url.replace(/\/$/, ''), token: o.token }
  const say = o.onLine ?? (() => {})
  const warnings: string[] = []
  const warn = (w: string) => {
    warnings.push(w)
    say(`warning: ${w}`)
  }
  const state = o.statePath ? loadState(o.statePath) : undefined
  const listPath = o.mirror ? '/logs.json' : '/logs'
  const listing = (await get(ep, listPath, 'json')) as LogListing[]
  if (!Array.isArray(listing) || listing.length > 10_000) throw new LedgerError('BAD_REQUEST', `GET ${listPath} did not return a JSON array of logs`)
  for (const l of listing) {
    if (typeof l?.name !== 'string' || typeof l.origin !== 'string' || !l.name || l.name.length > 256 || l.origin.length > 256) throw new LedgerError('BAD_REQUEST', `GET ${listPath}: a log without a name or origin`)
  }

  const trust: TrustedKeys = o.genesisPath ? await genesisKeys(o.genesisPath) : { vkeys: {}, witnesses: {}, source: state ? 'state' : 'node' }
  const keySource: Record<string, string> = {}
  for (const origin of Object.keys(trust.vkeys)) keySource[origin] = 'the genesis roster'
  // Keys pinned on an earlier run (for logs the genesis roster does not name, when it is given).
  for (const [origin, p] of Object.entries(state?.logs ?? {})) {
    if (trust.vkeys[origin]) continue
    trust.vkeys[origin] = p.vkey
    keySource[origin] = 'the state file'
    if (p.witness_vkey) trust.witnesses[origin] ??= p.witness_vkey
  }
  const problems: string[] = []
  for (const l of listing) {
    if (trust.follow) continue // the roster followed from the logs says which keys each log has (below)
    const pinned = trust.vkeys[l.origin]
    if (pinned) {
      if (l.vkey !== pinned) problems.push(`${l.origin}: the node gives log key ${l.vkey}, but ${keySource[l.origin]} has ${pinned}`)
      continue
    }
    if (!l.vkey) {
      problems.push(`${l.origin}: the node gives no verifier key and none is trusted for it`)
      continue
    }
    warn(`${l.origin}: log key taken from the node (trust on first use)${o.statePath ? '; pinned in the state file' : '; pass --state to pin it or --genesis to check it'}`)
    trust.vkeys[l.origin] = l.vkey
    if (l.witness_vkey) trust.witnesses[l.origin] ??= l.witness_vkey
  }

  const workers = o.workers ?? defaultPoolSize()
  const pool = new VerifyPool(workers)
  const reports: LogReport[] = []
  try {
    const sorted = [...listing].sort((a, b) => (a.origin < b.origin ? -1 : 1))
    // Following the roster: each round verifies every member's log with the keys known so far and feeds the
    // roster what it read; a round that changes the roster (a member voted in, a rotation applied) is followed by another.
    for (let round = 0; round < MAX_ROSTER_ROUNDS; round++) {
      const before = rosterFingerprint(trust.follow)
      reports.length = 0
      for (const l of sorted) {
        if (trust.follow ? !trust.follow.roster.member(l.origin) : !trust.vkeys[l.origin] || l.vkey !== trust.vkeys[l.origin]) continue // refused above
        const r = await verifyLog(ep, l, trust, state?.logs[l.origin], pool, o, say)
        reports.push(r)
        for (const e of r.roster ?? []) {
          try {
            trust.follow!.observe(l.origin, e.index, e.entry)
          } catch {
            // reported as the entry's problem
          }
        }
      }
      if (!trust.follow || rosterFingerprint(trust.follow) === before) break
      say('the roster changed (a member voted in or a key rotated): verifying again with the keys it now gives')
    }
    if (trust.follow) {
      for (const l of listing) if (!trust.follow.roster.member(l.origin)) problems.push(`${l.origin}: served by the node but not a member of the roster followed from the genesis file`)
      for (const m of trust.follow.roster.all()) trust.vkeys[m.origin] = m.vkey
    }
  } finally {
    await pool.close()
  }
  for (const r of reports) for (const p of r.problems) problems.push(`${r.origin}: ${p}`)
  if (trust.source === 'genesis') {
    for (const origin of Object.keys(trust.follow ? Object.fromEntries(trust.follow.roster.all().map((m) => [m.origin, 1])) : trust.vkeys)) if (!listing.some((l) => l.origin === origin)) problems.push(`${origin}: in the genesis roster but not served by the node`)
  }

  const ok = problems.length === 0
  if (o.statePath) {
    const next: VerifyState = { version: 1, node: ep.url, logs: { ...(state?.logs ?? {}) } }
    for (const r of reports) {
      if (r.problems.length > 0) continue
      next.logs[r.origin] = {
        vkey: trust.vkeys[r.origin]!, witness_vkey: trust.witnesses[r.origin] ?? null,
        size: r.size, root: r.root, checkpoint: r.checkpoint, verified_at: new Date().toISOString(),
      }
    }
    saveState(o.statePath, next)
  }
  return {
    node: ep.url, keys: trust.source, logs: reports, problems, warnings,
    entries: reports.reduce((n, r) => n + r.entries, 0), ms: Date.now() - started, ok,
  }
}

async function verifyLog(
  ep: Endpoint, l: LogListing, trust: TrustedKeys, prev: PinnedLog | undefined, pool: VerifyPool, o: VerifyOptions, say: (l: string) => void,
): Promise<LogReport> {
  const vkey = trust.vkeys[l.origin]!
  const r: LogReport = { origin: l.origin, size: 0, root: '', entries: 0, types: {}, tiles: 0, cosignedBy: [], checkpoint: '', problems: [] }
  const problem = (p: string) => {
    if (r.problems.length < MAX_PROBLEMS_PER_LOG) r.problems.push(p)
    else if (r.problems.length === MAX_PROBLEMS_PER_LOG) r.problems.push('… more problems not shown')
  }
  if (l.frozen) problem('the node holds an equivocation proof for this log (frozen)')
  if (prev) r.previous = { size: prev.size, root: prev.root }
  const base = `/logs/${encodeURIComponent(l.name)}/`
  const concurrency = o.concurrency ?? 8

  // 1. The checkpoint and its cosignatures.
  let note: string
  try {
    note = (await get(ep, base + 'checkpoint', 'text')) as string
  } catch (e) {
    fatal(e)
    problem(`checkpoint: ${describe(e)}`)
    return r
  }
  const follow = trust.follow
  const cosignerKeys = follow?.roster.all().filter((m) => m.origin !== l.origin && m.roles.has('witness')).map((m) => ({ origin: m.origin, keys: m.witnessKeys }))
  const witnesses = Object.entries(trust.witnesses).filter(([origin]) => origin !== l.origin).map(([, v]) => v)
  const quorum = o.minWitnesses ?? ((cosignerKeys ?? witnesses).length > 0 ? 1 : 0)
  let size: number
  let root: Uint8Array
  try {
    if (follow) {
      // The key valid at the checkpoint's last entry, and witness keys valid at each cosignature's time.
      const cp = openCheckpointWithKeys(note, follow.roster.logKeys(l.origin), { now: Math.floor(Date.now() / 1000) + 300 })
      r.cosignedBy = [...cosigners(note, cosignerKeys!, quorum)]
      size = cp.checkpoint.size
      root = cp.checkpoint.root
    } else {
      const cp = openCheckpoint(note, vkey, { witnesses, quorum, now: Math.floor(Date.now() / 1000) + 300 })
      size = cp.checkpoint.size
      root = cp.checkpoint.root
      r.cosignedBy = cp.cosignatures.map((c) => c.name)
    }
  } catch (e) {
    problem(`checkpoint: ${describe(e)}`)
    if (!follow) return r
    // Its roster entries may give the key it needs: read the log against the unverified root, report, and go round again.
    try {
      const cp = parseCheckpointNote(note)
      size = cp.checkpoint.size
      root = cp.checkpoint.root
    } catch {
      return r
    }
  }
  r.size = size
  r.root = toBase64(root)
  r.checkpoint = note
  say(`${l.origin}: checkpoint size ${size}, cosigned by ${r.cosignedBy.length} (${r.cosignedBy.join(', ') || 'none'})`)

  // 2. Hash tiles, authenticated against the root, and 3. consistency with the previous run.
  // They are fetched while the entries below are checked, so the workers start at once;
  // entry results are held (up to AHEAD_OF_TILES batches) until the tiles are in.
  let read: NodeHashAt | undefined
  let tilesIn = false
  /** Set when a fatal error ends the run: nothing further is fetched. */
  let stopped = false
  /** GET of a tile or bundle of this log, refused once the run is stopped. */
  const fetchBytes = async (path: string): Promise<Uint8Array> => {
    if (stopped) throw new LedgerError('PEER_ERROR', 'verification of this log was stopped')
    return (await get(ep, base + path, 'bytes')) as Uint8Array
  }
  const prevRoot = prev ? fromBase64(prev.root, 'previous root') : undefined
  const tilesThenConsistency = async () => {
    try {
      const refs = [...tilesForTree(size)]
      const tiles: FetchedTile[] = await mapLimit(refs, concurrency, async (t) => ({ tile: t, data: await fetchBytes(tilePath(t)) }))
      r.tiles = tiles.length
      read = size > 0 ? authenticateTiles(size, root, tiles) : undefined
    } catch (e) {
      fatal(e)
      problem(`tiles: ${describe(e)}`)
    }
    if (prev) {
      if (size < prev.size) problem(`the node serves size ${size}, smaller than size ${prev.size} verified on the previous run (rollback, or a node that is behind)`)
      else if (read || size === prev.size || prev.size === 0) {
        try {
          const proof = prev.size === 0 || prev.size === size ? [] : consistencyProof(prev.size, size, read!)
          verifyConsistency(prev.size, size, prevRoot!, root, proof)
        } catch (e) {
          problem(`not consistent with size ${prev.size} verified on the previous run: ${describe(e)}`)
        }
      }
    }
    tilesIn = true
    apply()
  }

  // 4. Every entry: fetched in bundles, opened in the worker pool, folded into the tree in order.
  const keys = follow ? follow.roster.logKeys(l.origin) : [logKeyFromVkey(vkey)]
  const bundles = Math.ceil(size / TILE_WIDTH)
  const perBatch = Math.max(1, Math.round((o.batchSize ?? 2048) / TILE_WIDTH))
  const groups: number[][] = []
  for (let b = 0; b < bundles; b += perBatch) groups.push(Array.from({ length: Math.min(perBatch, bundles - b) }, (_, i) => b + i))
  const range = new CompactRange(0, 0)
  const ready = new Map<number, { start: number; result?: BatchResult; error?: string }>()
  let applied = 0
  let treeBroken = false
  const apply = () => {
    if (!tilesIn) return
    for (let g = ready.get(applied); g; g = ready.get(applied)) {
      ready.delete(applied)
      applied++
      if (g.error) {
        problem(g.error)
        treeBroken = true
        continue
      }
      const res = g.result!
      for (const f of res.failures) problem(`entry ${f.index}: ${f.code}: ${f.message}`)
      for (const [t, n] of Object.entries(res.types)) r.types[t] = (r.types[t] ?? 0) + n
      r.entries += res.leaves.length / 32 - res.failures.length - res.compromised.length
      if (res.compromised.length) r.compromised = (r.compromised ?? 0) + res.compromised.length
      if (follow) (r.roster ??= []).push(...res.roster)
      for (let i = 0; i < res.leaves.length / 32; i++) {
        const index = g.start + i
        const leaf = res.leaves.subarray(32 * i, 32 * i + 32)
        if (read && !equalBytes(leaf, read(0, index))) problem(`entry ${index}: does not match leaf ${index} of the signed tree (the entry was altered or replaced)`)
        if (treeBroken) continue
        range.append(leaf)
        // Without tiles, the previous run's root is checked directly on the rebuilt prefix.
        if (!read && prevRoot && range.end === prev!.size && !equalBytes(range.root(), prevRoot)) {
          problem(`the first ${prev!.size} entries do not give the root verified on the previous run`)
        }
      }
    }
  }
  const inFlight = Math.max(2, pool.size * 2)
  const tilesDone = tilesThenConsistency()
  const aheadOfTiles = o.aheadOfTiles ?? AHEAD_OF_TILES
  const entriesDone = mapLimit(groups, inFlight, async (group, gi) => {
    if (stopped) return
    const start = group[0]! * TILE_WIDTH
    try {
      const counts = group.map((b) => Math.min(TILE_WIDTH, size - b * TILE_WIDTH))
      const bundles = await mapLimit(group, Math.max(1, Math.ceil(concurrency / inFlight)), (b, i) => fetchBytes(entriesPath(b, counts[i])))
      const result = await pool.run({ origin: l.origin, start, keys, bundles, counts })
      ready.set(gi, { start, result })
    } catch (e) {
      fatal(e)
      ready.set(gi, { start, error: `entries from ${start}: ${describe(e)}` })
    }
    if (!tilesIn && ready.size >= aheadOfTiles) await tilesDone
    apply()
  })
  try {
    await Promise.all([tilesDone, entriesDone])
  } catch (e) {
    // A fatal error (token refused, node gone) ends the run: no further bundle is fetched.
    stopped = true
    await Promise.allSettled([tilesDone, entriesDone])
    throw e
  }
  if (treeBroken || applied !== groups.length) problem('the tree could not be rebuilt: not every entry bundle could be checked')
  else if (!equalBytes(range.root(), root)) problem(`the tree rebuilt from the ${range.end} entries has root ${toBase64(range.root())}, not the checkpoint's ${r.root}`)
  say(`${l.origin}: ${r.entries} of ${size} entries verified${r.compromised ? `, ${r.compromised} signed by a compromised key (tree content, not records)` : ''}${r.problems.length ? `, ${r.problems.length} problems` : ''}`)
  return r
}

/** Errors that end the whole run: the token cannot read this node, or the node is gone. */
function fatal(e: unknown): void {
  if (e instanceof LedgerError && (e.code === 'UNAUTHORIZED' || e.code === 'FORBIDDEN' || e.code === 'PEER_UNREACHABLE')) throw e
}

function describe(e: unknown): string {
  return e instanceof LedgerError ? `${e.code}: ${e.message}` : (e as Error)?.message ?? String(e)
}

// ---------------------------------------------------------------------------
// cairn lookup

export interface LookupOptions extends Endpoint {
  alg: string
  hex: string
  /** Follow the roster from this genesis file (spec/federation.md §10.9); without it, the node's keys are used. */
  genesisPath?: string
  minWitnesses?: number
}

export interface LookupResult {
  doc: Provenance
  verified: VerifiedProvenance
  keys: 'genesis' | 'node'
  /** With a genesis file: the roster changes and confirmations read and checked. */
  rosterEntries?: number
}

/**
 * Fetches GET /lookup/<alg>/<hex> and verifies every record and proof in it
 * offline. With a genesis file it asks for the roster's entries too, follows
 * the roster from the genesis members through every change the node holds
 * (each entry under the key its log has at its index, each with its proof,
 * each change counting only at its quorum of confirmations) and checks the
 * records under the keys that roster gives at their index: rotated keys,
 * cut-overs and compromises honoured, members voted in known.
 */
export async function lookupValue(o: LookupOptions): Promise<LookupResult> {
  const ep: Endpoint = { url: o.url.replace(/\/$/, ''), token: o.token }
  const path = `/lookup/${encodeURIComponent(o.alg)}/${encodeURIComponent(o.hex)}`
  if (!o.genesisPath) {
    const doc = (await get(ep, path, 'json')) as Provenance
    return { doc, verified: verifyProvenance(doc, { minWitnesses: o.minWitnesses }), keys: 'node' }
  }
  const follow = new FollowedRoster(readGenesisFile(o.genesisPath))
  const doc = (await get(ep, `${path}?roster=1`, 'json')) as Provenance
  if (!Array.isArray(doc?.roster)) throw new LedgerError('BAD_REQUEST', 'the node sent no roster entries (GET /lookup …?roster=1); it cannot be checked against the genesis file')
  followRosterItems(follow, doc)
  const trust: ProvenanceTrust = { roster: follow.roster, minWitnesses: o.minWitnesses }
  // Each roster entry is in its log: its proof, under the keys the whole roster gives.
  for (const it of doc.roster) verifyProvenanceItem(doc, it, 'roster entry', trust)
  return { doc, verified: verifyProvenance(doc, trust), keys: 'genesis', rosterEntries: doc.roster.length }
}

/**
 * Feeds the document's roster entries to the followed roster, in rounds: an
 * entry whose log key comes from a change not read yet (a rotation's quorum
 * further on) waits for a later round. What is left when a round changes
 * nothing verifies under no key the roster gives: the document fails.
 */
function followRosterItems(follow: FollowedRoster, doc: Provenance): void {
  let pending = doc.roster ?? []
  while (pending.length > 0) {
    const waiting: typeof pending = []
    let first: unknown
    for (const it of pending) {
      try {
        follow.observe(it.log, it.index, fromHexStrict(it.entry))
      } catch (e) {
        if (!(e instanceof LedgerError) || e.code !== 'BAD_SIGNATURE') throw new LedgerError(e instanceof LedgerError ? e.code : 'BAD_REQUEST', `roster entry ${it.log} #${it.index}: ${(e as Error).message}`)
        first ??= e
        waiting.push(it)
      }
    }
    if (waiting.length === pending.length) {
      const it = waiting[0]!
      throw new LedgerError('BAD_SIGNATURE', `roster entry ${it.log} #${it.index} verifies under no key the roster followed from the genesis file gives (${(first as Error).message})`)
    }
    pending = waiting
  }
}

function fromHexStrict(hex: unknown): Uint8Array {
  if (typeof hex !== 'string' || !/^([0-9a-f]{2})*$/.test(hex)) throw new LedgerError('BAD_REQUEST', 'entry is not lower-case hex')
  return Buffer.from(hex, 'hex')
}
