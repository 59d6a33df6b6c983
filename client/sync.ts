/**
 * `cairn sync`: brings a provider's verified local copy (client/local-copy.ts)
 * up to date with a node's feed, or with a static mirror of a node.
 *
 * The client reads pages of per-log blocks from its own cursor: from a node,
 * GET /feed with entries=1 (client/feed-source.ts); from a mirror, blocks
 * built from its checkpoints, hash tiles and entry bundles
 * (client/mirror-source.ts). For every log in every page it checks, the same
 * way whatever the source, before it keeps anything:
 *   1. the checkpoint is signed by the log's key (pinned from --genesis, or
 *      trusted on first use from /logs and saved) and cosigned by at least
 *      --min-witnesses other members;
 *   2. it is consistent with the last checkpoint this copy verified (same
 *      size: same root; larger: the consistency proof the source gives);
 *   3. the entries hash, on top of the saved Merkle frontier, to a tree that
 *      the consistency proof places inside that checkpoint.
 * Changes are then derived from the entries themselves (indicator = add,
 * with its log, seq and PDQ quality; revocation = remove its target;
 * attestation = an opinion kept beside its target); the node's `items` are
 * not trusted. A
 * redaction marker in place of an entry must carry a notice signed by the
 * log's key for that index; its id is the leaf, and the redacted indicator
 * is removed from the copy if it is there (spec/redaction.md).
 */
import { mkdirSync } from 'node:fs'
import { z } from 'zod'
import { LedgerError } from '../protocol/errors.ts'
import { fromHex, toHex } from '../protocol/bytes.ts'
import { leafHash } from '../protocol/hash.ts'
import { CompactRange, verifyConsistency } from '../protocol/merkle.ts'
import { openCheckpoint } from '../protocol/checkpoint.ts'
import { openCheckpointWithKeys, openEntryWithKeys, openRedactionMarkerWithKeys, logKeyFromVkey } from '../protocol/log-keys.ts'
import { cosigners } from '../protocol/roster.ts'
import { FollowedRoster, type SavedRosterEntry } from './roster-follow.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import { ALG_LENGTHS, MAX_TMK_PDQF_BYTES } from '../protocol/records.ts'
import { isRedactionMarker, openRedactionMarker } from '../protocol/redaction.ts'
import { readGenesisFile } from './genesis.ts'
import { encodeCursor } from '../protocol/feed-cursor.ts'
import { readStoredRecord } from '../protocol/stored-record.ts'
import { stateForSync, originIndex, removeUnreferenced, takeLock, commit, compact, Journal, CAT_CODE, emptyState, type LocalState, type LogState, type CopyPolicy } from './local-copy.ts'
import { wanted, isEmptySubscription, sameSubscription, type Subscription } from '../protocol/subscription.ts'
import { refuse, type SyncBlock, type SyncSource } from './sync-source.ts'
import { FeedSource } from './feed-source.ts'
import { MirrorSource } from './mirror-source.ts'
import { SnapshotSource, type SnapshotCounts } from './snapshot-source.ts'

// ------------------------------------------------------------------ the blocks, checked

export interface SyncProgress {
  /** Log entries applied in this run, and how many the node's checkpoints say remain in total. */
  done: number
  total: number
  added: number
  removed: number
  pages: number
}

export interface SyncOptions {
  /** API base URL of a node (or `from`). */
  node?: string
  /** Base URL of a static mirror of a node (spec/api.md §A.12), instead of `node`. */
  from?: string
  /**
   * First sync of an empty copy from a jsonl snapshot with entries (client/snapshot-source.ts): a file, an http(s)
   * URL, `node` (the node's GET /feed/snapshot?format=jsonl&entries=1) or `mirror` (the mirror's snapshot/latest.json).
   * The entries the snapshot leaves out are read from the node or mirror; the copy ends at the snapshot's checkpoints.
   */
  snapshot?: string
  /** Bearer token: needed by a node's feed, and by a mirror's entry bundles. */
  token?: string
  dir: string
  /** Cosignatures by other members each checkpoint needs (0 = the log's signature alone). */
  minWitnesses: number
  /** Path of the federation's genesis.json: pins the log and witness keys. Without it: trust on first use. */
  genesis?: string
  /** Entries per page (default and most: 10,000). */
  limit?: number
  /** Commit to disk after this many set changes (a long first sync resumes from there after a crash). */
  commitEvery?: number
  /** Fold journals into the base when they hold more than this many changes (default: max(100,000, base / 2)). */
  compactAfter?: number
  /**
   * Which indicators to keep (every entry is still fetched and verified).
   * Undefined: the copy's subscription as saved; an empty one: all. A change
   * re-reads every log from the start (records left out before are not in the copy).
   */
  subscription?: Subscription
  /** The provider's policy on opinions, saved in the copy and applied by its readers; fields left undefined keep the saved value. */
  policy?: CopyPolicy
  fetch?: typeof fetch
  onProgress?: (p: SyncProgress) => void
  warn?: (message: string) => void
}

export interface SyncResult {
  added: number
  removed: number
  /** Attestations (confirmations and disputes) recorded. */
  opinions: number
  /** Indicators verified and left out by the subscription. */
  skipped: number
  /** The policy and subscription the copy now holds. */
  policy: CopyPolicy
  subscription: Subscription
  pages: number
  entries: number
  cursor: string
  logs: { origin: string; size: number; checkpoint: number }[]
  /** With `snapshot`: lines verified and used from it, entries read from the node or mirror to complete it. */
  snapshot?: SnapshotCounts
}

/** The node's feed or the mirror the options name (exactly one of them). */
function sourceOf(o: SyncOptions): SyncSource {
  if (o.node !== undefined && o.from !== undefined) throw new LedgerError('BAD_REQUEST', 'give --node or --from, not both')
  if (o.from !== undefined) return new MirrorSource(o.from, o.token, o.fetch)
  if (o.node === undefined) throw new LedgerError('BAD_REQUEST', 'say where to sync from: --node <url> (a node\'s API) or --from <url> (a static mirror)')
  return new FeedSource(o.node, o.token, o.fetch)
}

/** The source the options name, read through the snapshot they name (if any). */
function sourceWithSnapshot(o: SyncOptions): SyncSource {
  const source = sourceOf(o)
  if (o.snapshot === undefined) return source
  return new SnapshotSource(source, { snapshot: o.snapshot, node: o.node, from: o.from, token: o.token, fetch: o.fetch })
}

/** Keys from a genesis roster, or (first use) from the source's list of logs, merged into the state. */
async function establishKeys(o: SyncOptions, source: SyncSource, state: LocalState, warn: (m: string) => void): Promise<void> {
  if (o.genesis) {
    const g = readGenesisFile(o.genesis)
    for (const m of g.members) {
      const had = state.keys[m.origin]
      if (had && (had.vkey !== m.vkey || had.witness_vkey !== m.witness_vkey)) {
        throw new LedgerError('BAD_CONFIG', `the keys of ${m.origin} in ${o.genesis} differ from the ones this copy already trusts; refusing (start a new --dir if the federation really changed keys)`)
      }
      state.keys[m.origin] = { vkey: m.vkey, witness_vkey: m.witness_vkey }
    }
    state.trust = 'genesis'
    return
  }
  if (Object.keys(state.keys).length > 0) return
  await learnKeys(source, state)
  warn(`no --genesis given: trusting the log keys ${source.url} reports (${Object.keys(state.keys).length} logs) on first use; they are saved in ${o.dir}/state.json and pinned from now on`)
}

/** Adds the logs the source lists that the state does not know yet (trust on first use). */
async function learnKeys(source: SyncSource, state: LocalState): Promise<string[]> {
  const logs = await source.listLogs()
  const list = z.array(z.object({ origin: z.string(), vkey: z.string().nullable(), witness_vkey: z.string().nullable().optional() }).passthrough()).max(10_000).safeParse(logs)
  if (!list.success) throw new LedgerError('PEER_ERROR', `the list of logs of ${source.url} is not a list of logs`)
  const added: string[] = []
  for (const l of list.data) {
    if (state.keys[l.origin] || !l.vkey || !l.witness_vkey) continue
    const v = parseVerifierKey(l.vkey)
    const w = parseVerifierKey(l.witness_vkey)
    if (v.name !== l.origin || w.name !== l.origin) throw new LedgerError('PEER_ERROR', `${source.url} lists keys for ${l.origin} under another name`)
    state.keys[l.origin] = { vkey: l.vkey, witness_vkey: l.witness_vkey }
    added.push(l.origin)
  }
  return added
}

type Change =
  | { op: 'add'; id: Uint8Array; alg: string; category: string; media: string; value: Uint8Array; seq: number; quality?: number }
  | { op: 'remove'; id: Uint8Array }
  | { op: 'attest'; id: Uint8Array; target: Uint8Array; opinion: 'confirm' | 'dispute'; seq: number }

interface CheckedBlock {
  origin: string
  log: LogState
  changes: Change[]
  entries: number
}

/** Checks one log's part of a page against the state (signatures, cosignatures, consistency, entries); throws on any failure. */
function checkBlock(b: SyncBlock, state: LocalState, minWitnesses: number, follow?: FollowedRoster): CheckedBlock {
  const prev: LogState = state.logs[b.origin] ?? { size: 0, frontier: [] }
  const decodedEntries = b.entries
  /** Entry `index`, and where it was read from when the source says (a mirror's bundle file). */
  const entryAt = (index: number) => `entry ${index}${b.where ? ` (in ${b.where(index)})` : ''}`
  // With a genesis roster: the log's roster entries first (each under its key at its index), then its keys as the roster now says.
  if (follow) followRosterEntries(b, decodedEntries, follow)
  const keys = follow ? follow.roster.logKeys(b.origin) : [logKeyFromVkey(state.keys[b.origin]!.vkey)]
  let opened
  try {
    if (follow) {
      opened = openCheckpointWithKeys(b.checkpoint!, keys)
      cosigners(b.checkpoint!, follow.roster.cosignerKeys(b.origin), b.size === 0 ? 0 : minWitnesses)
    } else {
      const witnesses = Object.entries(state.keys).filter(([o]) => o !== b.origin).map(([, k]) => k.witness_vkey)
      opened = openCheckpoint(b.checkpoint!, state.keys[b.origin]!.vkey, { witnesses, quorum: b.size === 0 ? 0 : minWitnesses })
    }
  } catch (e) {
    const err = e as LedgerError
    // Keys or witness keys a roster change this copy has not read yet would give (read in another block, or a later page).
    if (follow && (err.code === 'UNKNOWN_KEY' || err.code === 'BAD_SIGNATURE' || err.code === 'BAD_COSIGNATURE')) throw new NotYet(err)
    return refuse(err.code ?? 'BAD_SIGNATURE', b.origin, `its checkpoint${b.checkpointAt ? ` (${b.checkpointAt})` : ''} does not verify: ${err.message}`)
  }
  const cp = opened.checkpoint
  if (cp.size !== b.size) refuse('INCONSISTENT_CHECKPOINT', b.origin, `the page says size ${b.size} but its checkpoint is of size ${cp.size}`)
  if (b.unproven) refuse(b.unproven.code, b.origin, b.unproven.why)
  // 1. Consistent with the last checkpoint this copy verified.
  if (prev.checkpoint) {
    const old = prev.checkpoint
    if (cp.size < old.size) refuse('INCONSISTENT_CHECKPOINT', b.origin, `the node serves a checkpoint of size ${cp.size}, older than the one of size ${old.size} verified before, without saying it is behind`)
    if (b.verifiedProof === undefined && cp.size > old.size) refuse('BAD_PROOF', b.origin, 'no consistency proof from the checkpoint verified before')
    try {
      verifyConsistency(old.size, cp.size, fromHex(old.root), cp.root, b.verifiedProof ?? [])
    } catch (e) {
      refuse((e as LedgerError).code ?? 'INCONSISTENT_CHECKPOINT', b.origin, `its checkpoint of size ${cp.size} is not consistent with the one of size ${old.size} verified before (${(e as Error).message}); if the federation resolved a fork of this log (spec/federation.md §10.10), this copy holds the branch that did not stand: start a fresh copy in a new --dir`)
    }
  }
  // 2. The entries extend what this copy holds, up to a prefix of that checkpoint.
  if (b.from !== prev.size) refuse('SEQ_MISMATCH', b.origin, `the page starts at entry ${b.from}, but this copy holds ${prev.size}`)
  if (b.to < b.from || b.to > cp.size) refuse('OUT_OF_RANGE', b.origin, `the page covers entries ${b.from}..${b.to} of a tree of size ${cp.size}`)
  const entries = decodedEntries
  if (entries.length !== b.to - b.from) refuse('MALFORMED_ENTRY', b.origin, `the page covers ${b.to - b.from} entries but carries ${entries.length}`)
  // From the first index a compromised key lost, each entry's signature says whether it counts (spec/federation.md §10.8).
  const compromisedFrom = Math.min(...keys.filter((k) => k.compromised).map((k) => k.until ?? Infinity))
  let range: CompactRange
  try {
    range = new CompactRange(0, prev.size, prev.frontier.map((h) => fromHex(h)))
  } catch {
    throw new LedgerError('STORAGE_CORRUPT', `the saved frontier of ${b.origin} is damaged; delete the local copy and sync again`)
  }
  const changes: Change[] = []
  entries.forEach((entry, i) => {
    if (isRedactionMarker(entry)) {
      let id: Uint8Array
      try {
        id = openRedactionMarkerWithKeys(entry, keys, { log: b.origin, index: b.from + i }).notice.id
      } catch (e) {
        return refuse((e as LedgerError).code ?? 'BAD_REDACTION', b.origin, `${entryAt(b.from + i)} is a redaction marker that does not verify: ${(e as Error).message}`)
      }
      range.append(id)
      changes.push({ op: 'remove', id })
      return
    }
    const id = leafHash(entry)
    range.append(id)
    let r
    try {
      r = readStoredRecord(entry)
    } catch (e) {
      return refuse('MALFORMED_ENTRY', b.origin, `${entryAt(b.from + i)}: ${(e as Error).message}`)
    }
    if (r.log !== b.origin || r.seq !== b.from + i) refuse('WRONG_LOG', b.origin, `${entryAt(b.from + i)} says it is ${r.log} #${r.seq}`)
    if (b.from + i >= compromisedFrom && isCompromised(entry, keys, b.origin, b.from + i)) return // tree content only: changes nothing
    if (r.type === 'indicator') {
      const w = ALG_LENGTHS[r.alg as keyof typeof ALG_LENGTHS]
      const okLength = w === undefined ? false : typeof w === 'number' ? r.value!.length === w : r.value!.length >= 1 && r.value!.length <= MAX_TMK_PDQF_BYTES
      if (!okLength || CAT_CODE[r.category!] === undefined) refuse('MALFORMED_ENTRY', b.origin, `${entryAt(b.from + i)} is not a valid indicator`)
      const quality = r.alg === 'pdq' ? r.quality : undefined
      if (r.alg === 'pdq' && (quality === undefined || quality > 100)) refuse('MALFORMED_ENTRY', b.origin, `${entryAt(b.from + i)} is a PDQ indicator without a valid quality`)
      changes.push({ op: 'add', id, alg: r.alg!, category: r.category!, media: r.media!, value: r.value!, seq: r.seq, quality })
    } else if (r.type === 'revocation') {
      changes.push({ op: 'remove', id: r.target! })
    } else if (r.type === 'attestation') {
      if (!(r.target instanceof Uint8Array) || r.target.length !== 32 || (r.opinion !== 'confirm' && r.opinion !== 'dispute')) refuse('MALFORMED_ENTRY', b.origin, `${entryAt(b.from + i)} is not a valid attestation`)
      changes.push({ op: 'attest', id, target: r.target, opinion: r.opinion, seq: r.seq })
    }
  })
  try {
    verifyConsistency(b.to, cp.size, range.root(), cp.root, b.proof)
  } catch (e) {
    const read = b.where && b.to > b.from ? `; read from ${b.where(b.from)}${b.where(b.to - 1) !== b.where(b.from) ? ` to ${b.where(b.to - 1)}` : ''}` : ''
    refuse((e as LedgerError).code ?? 'INCONSISTENT_CHECKPOINT', b.origin, `its entries ${b.from}..${b.to} are not a prefix of the signed tree of size ${cp.size} (${(e as Error).message})${read}`)
  }
  const frontier = range.nodes().map((n) => toHex(n.hash))
  return { origin: b.origin, entries: entries.length, changes, log: { size: b.to, frontier, checkpoint: { size: cp.size, root: toHex(cp.root) } } }
}
/** A block this copy cannot check yet: its keys depend on roster changes it has not read (another log, a later page). */
class NotYet extends Error {
  constructor(readonly error: LedgerError) {
    super(error.message)
  }
}

/** Feeds the roster the block's proposals and confirmations, in order, each checked under its log's key at its index. */
function followRosterEntries(b: SyncBlock, entries: Uint8Array[], follow: FollowedRoster): void {
  entries.forEach((entry, i) => {
    if (isRedactionMarker(entry)) return
    let r
    try {
      r = readStoredRecord(entry)
    } catch {
      return // refused with its position by the entry pass
    }
    if (!FollowedRoster.matters(r as never)) return
    try {
      follow.observe(b.origin, b.from + i, entry)
    } catch (e) {
      const err = e as LedgerError
      if (err.code === 'BAD_SIGNATURE' || err.code === 'UNKNOWN_KEY') throw new NotYet(err)
      refuse(err.code ?? 'MALFORMED_ENTRY', b.origin, `entry ${b.from + i}: ${err.message}`)
    }
  })
}

/** True when only a compromised key past its range signed the entry (any other failure refuses the feed). */
function isCompromised(entry: Uint8Array, keys: ReturnType<FollowedRoster['roster']['logKeys']>, origin: string, index: number): boolean {
  try {
    return openEntryWithKeys(entry, keys, origin, index).compromised === true
  } catch (e) {
    return refuse((e as LedgerError).code ?? 'BAD_SIGNATURE', origin, `entry ${index} is not signed by a key of the log valid there: ${(e as Error).message}`)
  }
}

/** The saved policy with the options given on this run (an option left out keeps the saved value; 0 and false clear). */
function applyPolicy(saved: CopyPolicy | undefined, given: CopyPolicy | undefined): CopyPolicy {
  const p: CopyPolicy = { ...saved }
  if (given?.require_confirmations !== undefined) p.require_confirmations = given.require_confirmations
  if (given?.drop_disputed !== undefined) p.drop_disputed = given.drop_disputed
  if (!p.require_confirmations) delete p.require_confirmations
  if (!p.drop_disputed) delete p.drop_disputed
  return p
}

/** Brings the local copy in `o.dir` up to date with a node's feed or a mirror, verifying everything it keeps. */
export async function syncLocalCopy(o: SyncOptions): Promise<SyncResult> {
  const warn = o.warn ?? ((m: string) => console.error(`warning: ${m}`))
  const source = sourceWithSnapshot(o)
  if (!Number.isSafeInteger(o.minWitnesses) || o.minWitnesses < 0) throw new LedgerError('BAD_REQUEST', '--min-witnesses is a whole number ≥ 0')
  mkdirSync(o.dir, { recursive: true })
  const need = o.policy?.require_confirmations
  if (need !== undefined && (!Number.isSafeInteger(need) || need < 0)) throw new LedgerError('BAD_REQUEST', '--require-confirmations is a whole number ≥ 0')
  const unlock = takeLock(o.dir)
  try {
    let { state, rebuilding } = stateForSync(o.dir, warn)
    if (o.snapshot !== undefined && (rebuilding || Object.values(state.logs).some((l) => l.size > 0))) {
      throw new LedgerError('BAD_REQUEST', `--from-snapshot starts an empty copy, and ${o.dir} already holds entries: sync it without --from-snapshot (or give a new --dir)`)
    }
    const sub = o.subscription === undefined ? state.subscription : isEmptySubscription(o.subscription) ? undefined : o.subscription
    if (!sameSubscription(sub, state.subscription)) {
      if (Object.keys(state.logs).length > 0) {
        // Records the old subscription left out were never written: read every log again (verified again), keeping the pinned keys.
        warn(`the subscription changed (${JSON.stringify(state.subscription ?? {})} → ${JSON.stringify(sub ?? {})}): reading every log from the start again`)
        state = { ...emptyState(), keys: state.keys, trust: state.trust, generation: state.generation, policy: state.policy }
        rebuilding = true
      }
    }
    if (sub) state.subscription = sub
    else delete state.subscription
    state.policy = applyPolicy(state.policy, o.policy)
    if (Object.keys(state.policy).length === 0) delete state.policy
    // An old-format copy's files stay until the rebuilt copy commits (its state.json names them till then).
    if (!rebuilding) removeUnreferenced(o.dir, state)
    await establishKeys(o, source, state, warn)
    const saved = state as LocalState & { roster?: SavedRosterEntry[] }
    const follow = o.genesis ? new FollowedRoster(readGenesisFile(o.genesis), saved.roster ?? []) : undefined
    const limit = Math.min(Math.max(o.limit ?? 10_000, 1), 10_000)
    const commitEvery = o.commitEvery ?? 200_000
    const result: SyncResult = { added: 0, removed: 0, opinions: 0, skipped: 0, pages: 0, entries: 0, cursor: '', logs: [], policy: state.policy ?? {}, subscription: sub ?? {} }
    const warned = new Set<string>()
    const warnOnce = (key: string, m: string) => {
      if (!warned.has(key)) warn(m)
      warned.add(key)
    }
    let journal = new Journal()
    for (;;) {
      const cursor = new Map(Object.entries(state.logs).map(([k, l]) => [k, l.size]))
      const verified = new Map(Object.entries(state.logs).filter(([, l]) => l.checkpoint).map(([k, l]) => [k, l.checkpoint!.size]))
      const page = await source.page({ cursor, verified }, limit, sub)
      result.pages++
      // Check every block before keeping anything from this page.
      const checked: CheckedBlock[] = []
      const later: { b: SyncBlock; why: NotYet }[] = []
      let total = 0
      for (const b of page.logs) {
        if (follow && !follow.roster.member(b.origin)) {
          later.push({ b, why: new NotYet(new LedgerError('UNKNOWN_LOG', `${b.origin} is not (yet) a member of the roster this copy follows`)) })
          continue
        }
        if (!follow && !state.keys[b.origin]) {
          if (state.trust === 'tofu') {
            const added = await learnKeys(source, state)
            if (added.length) warn(`trusting the keys of new log(s) ${added.join(', ')} on first use`)
          }
          if (!state.keys[b.origin]) {
            warnOnce(`unknown:${b.origin}`, `skipping log ${b.origin}: no key for it (not in the genesis roster this copy trusts)`)
            continue
          }
        }
        if (b.frozen) warnOnce(`frozen:${b.origin}`, `log ${b.origin} is frozen: the ${source.kind} holds proof that it signed two conflicting checkpoints`)
        if (b.behind) {
          warnOnce(`behind:${b.origin}`, `${source.url} is behind for log ${b.origin}; its entries are not taken from this ${source.kind}`)
          continue
        }
        if (!b.checkpoint) {
          if (b.to !== b.from || b.from !== (state.logs[b.origin]?.size ?? 0)) refuse('MALFORMED_CHECKPOINT', b.origin, 'entries without a checkpoint')
          continue
        }
        try {
          checked.push(checkBlock(b, state, o.minWitnesses, follow))
          total += b.size - b.to
        } catch (e) {
          if (!(e instanceof NotYet)) throw e
          later.push({ b, why: e })
        }
      }
      // Roster changes read in this page may let blocks set aside be checked now (a new member, a rotation's quorum).
      for (let again = true; again && later.length > 0;) {
        again = false
        for (const l of [...later]) {
          if (!follow!.roster.member(l.b.origin)) continue
          try {
            checked.push(checkBlock(l.b, state, o.minWitnesses, follow))
            total += l.b.size - l.b.to
            later.splice(later.indexOf(l), 1)
            again = true
          } catch (e) {
            if (!(e instanceof NotYet)) throw e
            l.why = e
          }
        }
      }
      const stuck = later.filter((l) => l.why.error.code !== 'UNKNOWN_LOG')
      if (stuck.length > 0 && !checked.some((c) => c.entries > 0 || c.changes.length > 0)) {
        const l = stuck[0]!
        refuse(l.why.error.code, l.b.origin, `its checkpoint${l.b.checkpointAt ? ` (${l.b.checkpointAt})` : ''} or roster entries do not verify under the keys the roster gives it: ${l.why.message}`)
      }
      if (later.length > stuck.length && !page.more) {
        const l = later[0]!
        if (l.why.error.code === 'UNKNOWN_LOG') {
          for (const x of later) warnOnce(`unknown:${x.b.origin}`, `skipping log ${x.b.origin}: not a member of the roster this copy follows`)
        } else refuse(l.why.error.code, l.b.origin, `its checkpoint${l.b.checkpointAt ? ` (${l.b.checkpointAt})` : ''} or roster entries do not verify under the keys the roster gives it: ${l.why.message}`)
      }
      if (follow) {
        saved.roster = follow.entries()
        // Members voted in later are listed beside the genesis ones (whose entries stay as pinned: the genesis check compares them).
        for (const m of follow.roster.all()) state.keys[m.origin] ??= { vkey: m.vkey, witness_vkey: m.witnessVkey }
      }
      let progressed = false
      for (const c of checked) {
        if (c.entries > 0) progressed = true
        state.logs[c.origin] = c.log
        result.entries += c.entries
        const log = c.changes.length > 0 ? originIndex(state, c.origin) : 0
        for (const ch of c.changes) {
          if (ch.op === 'add') {
            if (sub && !wanted(sub, { ...ch, log: c.origin })) {
              result.skipped++
              continue
            }
            journal.add(ch.id, ch.alg, ch.category, ch.value, log, ch.seq, ch.quality)
            result.added++
          } else if (ch.op === 'attest') {
            journal.attest(ch.id, ch.target, ch.opinion, log, ch.seq)
            result.opinions++
          } else {
            journal.remove(ch.id)
            result.removed++
          }
        }
      }
      o.onProgress?.({ done: result.entries, total: result.entries + total, added: result.added, removed: result.removed, pages: result.pages })
      if (journal.ops >= commitEvery) {
        commit(o.dir, state, journal)
        journal = new Journal()
      }
      if (!page.more && stuck.length === 0) break
      if (!progressed) throw new LedgerError('PEER_ERROR', `${source.url} says there is more but sent no entries this copy can use; try again later or another node`)
    }
    commit(o.dir, state, journal)
    const pending = state.journals.reduce((n, j) => n + j.records, 0)
    const threshold = o.compactAfter ?? Math.max(100_000, Math.floor((state.base?.records ?? 0) / 2))
    if (pending > threshold || state.journals.length > 64) compact(o.dir, state)
    removeUnreferenced(o.dir, state)
    result.cursor = encodeCursor(new Map(Object.entries(state.logs).map(([k, l]) => [k, l.size])))
    result.logs = Object.entries(state.logs).sort(([a], [b]) => (a < b ? -1 : 1)).map(([origin, l]) => ({ origin, size: l.size, checkpoint: l.checkpoint?.size ?? 0 }))
    if (source instanceof SnapshotSource) result.snapshot = { ...source.counts }
    return result
  } finally {
    if (source instanceof SnapshotSource) source.close()
    unlock()
  }
}
