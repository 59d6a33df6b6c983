/**
 * Witnessing (c2sp.org/tlog-witness, tlog-cosignature), both sides:
 *
 *  - WitnessService answers add-checkpoint requests (over HTTP and libp2p):
 *    it checks the log's signature and the consistency proof against the last
 *    checkpoint it cosigned for that origin, and cosigns. Check and persist
 *    happen in one critical section, so two concurrent requests can never both
 *    advance from the same old size.
 *  - CosignCollector runs on the log's owner: after each new checkpoint it asks
 *    every other witness for a cosignature, retrying from the size a witness
 *    reports on 409, and merges the lines it gets into the stored checkpoint.
 *
 * A checkpoint is decoded once where it comes in (the request body, the
 * store, the publisher) and travels as a CheckpointNote.
 */
import {
  decideAddCheckpoint, decodeAddCheckpointRequest, encodeAddCheckpointRequest,
  type AddCheckpointDecision, type DecodedAddCheckpointRequest,
} from '../../protocol/witness-request.ts'
import { cosign, verifyCosignature } from '../../protocol/cosignature.ts'
import { appendCheckpointSignatures, parseCheckpointNote, type CheckpointNote } from '../../protocol/checkpoint.ts'
import { fromBase64, toBase64, fromUtf8, utf8 } from '../../protocol/bytes.ts'
import { LedgerError } from '../../protocol/errors.ts'
import type { Store } from '../storage/store.ts'
import type { Roster, Member } from '../roster.ts'
import { cosigners, witnessKeyValidAt, type WitnessKey } from '../../protocol/roster.ts'
import { checkpointIndex } from '../../protocol/log-keys.ts'
import { formatNote, verifierKey } from '../../protocol/note.ts'
import type { Peer } from './peer.ts'
import { PROTO_WITNESS, encodeWitnessResponse } from './messages.ts'

export interface WitnessAnswer {
  status: number
  contentType: string
  body: string
  /** The LedgerError code behind a non-200 answer. */
  code?: string
}

export class WitnessService {
  private chain: Promise<unknown> = Promise.resolve()
  readonly stats = { cosigned: 0, refused: {} as Record<string, number> }

  constructor(
    private readonly store: Store,
    private readonly roster: Roster,
    /** This node's origin and witness seed: fixed, or the one valid at a time (seconds; undefined while a rotation waits for its quorum). */
    private readonly self: { origin: string; witnessSeed: Uint8Array | ((seconds: number) => Uint8Array | undefined) },
    private readonly nowSeconds: () => number,
    /** Told about every checkpoint that was cosigned (the node then syncs that log). */
    private readonly onCosigned: (cp: CheckpointNote) => void = () => {},
  ) {}

  private async last(origin: string): Promise<{ size: number; root: Uint8Array } | undefined> {
    const v = await this.store.getMeta(`witness/${origin}`)
    if (!v) return undefined
    const j = JSON.parse(fromUtf8(v)) as { size: number; root: string }
    return { size: j.size, root: fromBase64(j.root) }
  }

  /** One add-checkpoint request; never throws for bad input, answers with the spec's status instead. */
  addCheckpoint(body: string | Uint8Array): Promise<WitnessAnswer> {
    const run = this.chain.then(() => this.decideAndPersist(body))
    this.chain = run.catch(() => undefined)
    return run
  }

  private async decideAndPersist(body: string | Uint8Array): Promise<WitnessAnswer> {
    if (!this.roster.member(this.self.origin)?.roles.has('witness')) {
      return this.refuse({ kind: 'forbidden', status: 403, code: 'FORBIDDEN', message: 'this node does not hold the witness role' } as AddCheckpointDecision)
    }
    // Decoded first, so the lookup of the last cosigned checkpoint below can be synchronous.
    // A request that does not decode is decoded again by decideAddCheckpoint, which answers 400 with its code.
    let request: DecodedAddCheckpointRequest | undefined
    let last: { size: number; root: Uint8Array } | undefined
    try {
      request = decodeAddCheckpointRequest(body)
      last = await this.last(request.signed.checkpoint.origin)
    } catch {
      last = undefined
    }
    const ts = this.nowSeconds()
    const seed = typeof this.self.witnessSeed === 'function' ? this.self.witnessSeed(ts) : this.self.witnessSeed
    if (!seed) {
      return this.refuse({ kind: 'forbidden', status: 403, code: 'FORBIDDEN', message: 'this witness rotates its key and cosigns again once the federation confirms the rotation' } as AddCheckpointDecision)
    }
    // Only the key valid at the checkpoint's last entry may sign it (spec/federation.md §10.7).
    const size = request?.signed.checkpoint.size ?? 0
    const claimed = request && this.roster.member(request.signed.checkpoint.origin)
    if (claimed?.active && !this.roster.logKeyAt(claimed.origin, checkpointIndex(size))) {
      return this.refuse({ kind: 'forbidden', status: 403, code: 'UNKNOWN_KEY', message: `no key of ${claimed.origin} is valid for a checkpoint of size ${size}` } as AddCheckpointDecision)
    }
    const decision = decideAddCheckpoint(request ?? body, (o) => {
      const m = this.roster.member(o)
      if (!m || !m.active || o === this.self.origin) return undefined
      const key = this.roster.logKeyAt(o, checkpointIndex(size))!
      return { vkey: key.vkey ?? verifierKey(o, key.publicKey), last }
    })
    if (decision.kind !== 'ok') return this.refuse(decision)
    const line = cosign(decision.body, { name: this.self.origin, seed }, ts)
    await this.store.putMeta(`witness/${decision.checkpoint.origin}`, utf8(JSON.stringify({ size: decision.checkpoint.size, root: toBase64(decision.checkpoint.root) })))
    this.stats.cosigned++
    this.onCosigned(decision.signed)
    return { status: 200, contentType: 'text/plain; charset=utf-8', body: line }
  }

  private refuse(d: AddCheckpointDecision): WitnessAnswer {
    if (d.kind === 'ok') throw new Error('not a refusal')
    this.stats.refused[d.code] = (this.stats.refused[d.code] ?? 0) + 1
    if (d.kind === 'conflict') return { status: 409, contentType: d.contentType, body: d.responseBody, code: d.code }
    return { status: d.status, contentType: 'text/plain; charset=utf-8', body: `${d.message}\n`, code: d.code }
  }
}

/** Names (origins) of everyone who signed a checkpoint: the log itself and its cosigners. */
export function signerNames(cp: CheckpointNote | string): Set<string> {
  const { note } = typeof cp === 'string' ? parseCheckpointNote(cp) : cp
  return new Set(note.signatures.map((s) => s.name))
}

/**
 * Names of the witnesses whose cosignature on `cp` counts under the roster
 * now (a key valid at the line's timestamp): a line made with a witness key
 * the federation has since replaced for that time (a compromise or fork
 * resolution naming a new witness key, spec/federation.md §10.8, §10.10)
 * no longer counts, and the owner asks that witness again.
 */
export function countingCosigners(cp: CheckpointNote, keys: readonly { origin: string; keys: readonly WitnessKey[] }[]): Set<string> {
  try {
    return cosigners(cp.note, keys)
  } catch {
    return new Set()
  }
}

/** `cp` without the cosignature lines that no longer count (countingCosigners), so the witness's new line can be merged. */
export function withoutStaleCosignatures(cp: CheckpointNote, keys: readonly { origin: string; keys: readonly WitnessKey[] }[]): CheckpointNote {
  const counting = countingCosigners(cp, keys)
  const origin = cp.checkpoint.origin
  const keep = cp.note.signatures.filter((s) => s.name === origin || counting.has(s.name))
  if (keep.length === cp.note.signatures.length) return cp
  return parseCheckpointNote(formatNote(cp.note.body, keep))
}

/** Witness keys lines are checked against: plain verifier keys, or members' keys with their time ranges (roster.cosignerKeys). */
export type CosignerKeys = readonly string[] | readonly { origin: string; keys: readonly WitnessKey[] }[]

/**
 * Adds to `base` the valid cosignatures in `lines` by witnesses that have not
 * cosigned `base` yet: one line per witness, so repeated requests never pile
 * up lines. A line counts only under a witness key valid at its timestamp
 * (spec/federation.md §10.7). Invalid lines are dropped and counted.
 */
export function mergeCosignatureLines(base: CheckpointNote, lines: readonly string[], witnesses: CosignerKeys, onInvalid: (e: unknown) => void = () => {}): CheckpointNote {
  const { body } = base.note
  const have = signerNames(base)
  const add: string[] = []
  const keys: WitnessKey[] = witnesses.flatMap((w) => typeof w === 'string' ? [{ vkey: w, from: 0 }] : w.keys)
  for (const line of lines) {
    for (const key of keys) {
      const name = key.vkey.slice(0, key.vkey.indexOf('+'))
      if (!line.startsWith(`— ${name} `) || have.has(name)) continue
      let c
      try {
        c = verifyCosignature(body, line, key.vkey)
      } catch (e) {
        if (e instanceof LedgerError && e.code === 'BAD_COSIGNATURE' && / not witness /.test(e.message)) continue // made by another key of that witness
        onInvalid(e)
        continue
      }
      if (!witnessKeyValidAt(key, c.timestamp)) {
        onInvalid(new LedgerError('BAD_COSIGNATURE', `${name}'s witness key ${key.vkey} was not valid at ${c.timestamp}`))
        continue
      }
      add.push(line.endsWith('\n') ? line : line + '\n')
      have.add(name)
    }
  }
  return add.length ? appendCheckpointSignatures(base, add) : base
}

/** Sends one add-checkpoint request to a witness and returns its answer. */
export type WitnessTransport = (witness: Member, body: string) => Promise<{ status: number; body: string }>

export class CosignCollector {
  /** Size each witness last reported having cosigned (learned from 200s and 409s). */
  private readonly known = new Map<string, number>()
  private running: Promise<void> | undefined
  private pending: CheckpointNote | string | undefined
  private stopped = false
  readonly stats = { requests: 0, cosignatures: 0, failures: 0 }

  constructor(
    private readonly store: Store,
    private readonly roster: Roster,
    private readonly origin: string,
    private readonly send: WitnessTransport,
    /** Called with the checkpoint after new cosignatures were merged and stored. */
    private readonly onMerged: (note: string) => void,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  /** Asks for cosignatures on `note` (coalescing: only the newest pending checkpoint is sent). */
  request(note: CheckpointNote | string): void {
    if (this.stopped) return
    this.pending = note
    this.running ??= this.loop().finally(() => {
      this.running = undefined
    })
  }

  private async loop() {
    while (this.pending && !this.stopped) {
      const note = this.pending
      this.pending = undefined
      try {
        await this.collect(note)
      } catch (e) {
        this.stats.failures++
        this.log(`collecting cosignatures failed: ${(e as Error).message}`)
      }
    }
  }

  /** Stops asking; resolves when the round in flight is over. */
  async stop(): Promise<void> {
    this.stopped = true
    this.pending = undefined
    await this.running
  }

  private async collect(note: CheckpointNote | string) {
    const cp = typeof note === 'string' ? parseCheckpointNote(note) : note
    const { size } = cp.checkpoint
    const already = countingCosigners(await this.storedAt(size) ?? cp, this.roster.cosignerKeys(this.origin))
    const witnesses = this.roster.witnesses().filter((w) => w.origin !== this.origin && !already.has(w.origin))
    if (witnesses.length === 0) return
    const lines = await Promise.all(witnesses.map((w) => this.askOne(w, cp)))
    const good = lines.filter((l): l is string => l !== undefined)
    if (good.length === 0) return
    // Merge into whatever is stored now for that size (it may have gained lines meanwhile).
    const stored = (await this.storedAt(size)) ?? cp
    const merged = mergeCosignatureLines(withoutStaleCosignatures(stored, this.roster.cosignerKeys(this.origin)), good, this.roster.cosignerKeys(this.origin))
    if (merged.text === stored.text) return
    await this.store.setCheckpoint(this.origin, merged.text)
    this.stats.cosignatures += signerNames(merged).size - signerNames(stored).size
    this.onMerged(merged.text)
  }

  /** The stored checkpoint of this log at `size`, decoded as it leaves the store. */
  private async storedAt(size: number): Promise<CheckpointNote | undefined> {
    const text = await this.store.checkpointAt(this.origin, size)
    return text === undefined ? undefined : parseCheckpointNote(text)
  }

  private async askOne(w: Member, cp: CheckpointNote): Promise<string | undefined> {
    const { size } = cp.checkpoint
    for (let attempt = 0; attempt < 3; attempt++) {
      const old = Math.min(this.known.get(w.origin) ?? 0, size)
      try {
        const proof = await this.store.consistencyProof(this.origin, old, size)
        this.stats.requests++
        const res = await this.send(w, encodeAddCheckpointRequest({ oldSize: old, proof, checkpoint: cp.text }))
        if (res.status === 200) {
          const line = res.body.endsWith('\n') ? res.body : res.body + '\n'
          verifyCosignature(cp.note.body, line, w.witnessVkey)
          this.known.set(w.origin, size)
          return line
        }
        if (res.status === 409) {
          const reported = Number(res.body.trim())
          if (!Number.isSafeInteger(reported) || reported < 0) throw new LedgerError('PEER_ERROR', `witness ${w.origin} answered 409 with a bad size`)
          if (reported > size) {
            this.known.set(w.origin, reported) // it has cosigned a newer checkpoint already
            return undefined
          }
          this.known.set(w.origin, reported)
          continue
        }
        throw new LedgerError('PEER_ERROR', `witness ${w.origin} answered ${res.status}: ${res.body.trim().slice(0, 200)}`)
      } catch (e) {
        this.stats.failures++
        this.log(`cosignature from ${w.origin} for ${this.origin}@${size} failed: ${(e as Error).message}`)
        return undefined
      }
    }
    return undefined
  }
}

/** add-checkpoint over libp2p (PROTO_WITNESS): the same answer as the HTTP endpoint, as one frame. */
export async function serveWitness(peer: Peer, witness: WitnessService, debug: (msg: object, text: string) => void): Promise<void> {
  await peer.handle(PROTO_WITNESS, async (request, remote) => {
    const frames: Uint8Array[] = []
    for await (const f of request) frames.push(f)
    if (frames.length !== 1) throw new LedgerError('BAD_REQUEST', 'an add-checkpoint request is one frame')
    const answer = await witness.addCheckpoint(frames[0]!)
    debug({ peer: remote, status: answer.status }, 'add-checkpoint over libp2p')
    return [encodeWitnessResponse({ status: answer.status, body: answer.body })]
  }, { maxRequestFrames: 1, maxRequestBytes: 256 * 1024, maxFrameBytes: 256 * 1024 })
}
