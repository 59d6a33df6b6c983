/**
 * spec/vectors/rosters/: key rotation with its cut-over, compromise,
 * witness-key rotation and fork resolution (spec/federation.md §10.4,
 * §10.7, §10.8, §10.10), as data.
 *
 * Every case is the federation `vectors.cairn` of spec/federation.md §10.1
 * (eu-centre, ncmec, c3p; threshold 2; keys from the seeds `<name>/log`,
 * `<name>/witness`), a list of real signed entries (`log`, `index`, `entry`
 * hex) to read in the order given, and what every implementation must end
 * with:
 *  - `logs`: per origin, its log keys (`public_key`, `from`, `until` — null
 *    while open —, `compromised`), newest first; `witness_keys`: per origin,
 *    its witness keys (`vkey`, `public_key`, `from`, `until` in cosignature
 *    seconds), newest first;
 *  - `probes`: `{log, index, key, entry, valid, compromised}`: an indicator at
 *    `index` of `log` signed by `key`. valid: it opens under the key the
 *    roster gives that index; compromised: only a compromised key past its
 *    `until` signed it (tree content that counts for nothing, §10.3 step 2);
 *    neither: BAD_SIGNATURE;
 *  - `checkpoint_probes`: `{log, size, key, note, valid[, error]}`: a
 *    checkpoint of `size` signed by `key` is tied to index max(0, size − 1);
 *  - `cosignature_probes`: `{log, witness, key, timestamp, note, valid}`: a
 *    checkpoint of `log` (signed by its valid key) cosigned by one witness
 *    key at `timestamp`; valid when that key of `witness` is valid at that
 *    time (roster.ts cosigners);
 *  - `equivocation_probes` (fork-resolution cases): `{log, size, key, proof,
 *    freezes[, error]}`: a canonical same-size equivocation proof (two
 *    checkpoints of `size` signed by `key`); freezes: whether it still
 *    freezes the log under the roster (§10.10); error: the code when it is
 *    no proof under the log's keys.
 *
 * The expected ranges are written out here by hand from the spec's rules,
 * not computed with protocol/roster.ts, which test/vectors-rosters.test.ts
 * then checks against them. Record times are 1767225600000 ms plus 1000 ms
 * per index of the entry's log.
 */
import { sha256, toHex, utf8 } from '../../protocol/bytes.ts'
import { leafHash, EMPTY_ROOT } from '../../protocol/hash.ts'
import { MerkleTree } from '../../protocol/merkle.ts'
import { signEntry } from '../../protocol/entry.ts'
import { verifierKey } from '../../protocol/note.ts'
import { formatCheckpoint, signCheckpoint } from '../../protocol/checkpoint.ts'
import { addCosignatures, cosign, witnessVerifierKey } from '../../protocol/cosignature.ts'
import { buildEquivocationProof } from '../../protocol/equivocation.ts'
import type { CairnRecord } from '../../protocol/records.ts'
import type { Genesis } from '../../protocol/genesis.ts'
import { vectorKey, VECTOR_TIME_MS, type VectorCase } from './seeds.ts'
import type { KeyPair } from '../../protocol/ed25519.ts'

const FED = 'vectors.cairn'
const NAMES = ['eu-centre', 'ncmec', 'c3p'] as const
type Name = (typeof NAMES)[number]
const origin = (n: Name) => `${FED}/${n}`
/** The peer ids of spec/federation.md §10.1 (seeds `<name>/p2p`). */
const PEER_IDS: Record<Name, string> = {
  'eu-centre': '12D3KooWCAXyU7LYa5XS458WFMKSV9jM9B7GgB6TZNxaGWPK1USn',
  ncmec: '12D3KooWGN9QjHHEuVP5riuWBhq8QPd2h836TyfdJNNMPZHVvPuU',
  c3p: '12D3KooWT11uLfSHFzFMKnEakRQrrpFN66U2dsHCeqN5tAv6K5zv',
}
const logKey = (n: Name) => vectorKey(`${n}/log`)
const witnessKey = (n: Name) => vectorKey(`${n}/witness`)
/** eu-centre's keys after a rotation, after a compromise, and one another member names for it. */
const EU_LOG_2 = vectorKey('eu-centre/log-2')
const EU_LOG_3 = vectorKey('eu-centre/log-3')
const EU_LOG_FOREIGN = vectorKey('eu-centre/log-foreign')
const EU_WITNESS_2 = vectorKey('eu-centre/witness-2')

export const rosterVectorGenesis: Genesis = {
  federation: FED,
  threshold: 2,
  members: NAMES.map((n) => ({
    name: n, origin: origin(n),
    vkey: verifierKey(origin(n), logKey(n).publicKey),
    witness_vkey: witnessVerifierKey(origin(n), witnessKey(n).publicKey),
    peer_id: PEER_IDS[n],
    roles: (n === 'c3p' ? ['witness'] : ['publisher', 'witness']) as ('publisher' | 'witness')[],
    addrs: [],
  })),
}

const timeOf = (index: number) => VECTOR_TIME_MS + index * 1000
const secondsOf = (index: number) => Math.floor(timeOf(index) / 1000)
const header = (n: Name, seq: number) => ({ v: 1 as const, log: origin(n), seq, time: timeOf(seq) })

function indicator(n: Name, seq: number, key: KeyPair, tag = ''): Uint8Array {
  return signEntry(key.seed, {
    ...header(n, seq), type: 'indicator', alg: 'sha256', value: sha256(utf8(`cairn-roster-vector-${n}-${seq}${tag}`)),
    category: 'A1', kind: 'known_material', media: 'image',
  } as CairnRecord)
}

interface Written {
  log: string
  index: number
  what: string
  entry: string
}

/** A log being written: its entries in order, each signed by the key given. */
class LogWriter {
  readonly entries: Uint8Array[] = []
  constructor(readonly name: Name) {}
  private push(e: Uint8Array, what: string, out: Written[]): Uint8Array {
    out.push({ log: origin(this.name), index: this.entries.length, what, entry: toHex(e) })
    this.entries.push(e)
    return e
  }
  indicator(out: Written[], key = logKey(this.name)): Uint8Array {
    return this.push(indicator(this.name, this.entries.length, key), 'indicator', out)
  }
  roster(out: Written[], change: Record<string, unknown>, key = logKey(this.name)): Uint8Array {
    return this.push(signEntry(key.seed, { ...header(this.name, this.entries.length), type: 'roster', ...change } as CairnRecord), `roster ${change.change as string}`, out)
  }
  confirm(out: Written[], target: Uint8Array, key = logKey(this.name)): Uint8Array {
    return this.push(signEntry(key.seed, { ...header(this.name, this.entries.length), type: 'attestation', target: leafHash(target), opinion: 'confirm' } as CairnRecord), 'attestation confirm', out)
  }
}

interface ExpectedLogKey {
  key: KeyPair
  from: number
  until: number | null
  compromised: boolean
}
interface ExpectedWitnessKey {
  key: KeyPair
  from: number
  until: number | null
}

interface CaseSpec {
  name: string
  description: string
  written: Written[]
  /** Log keys that differ from the genesis (others: the genesis key, [0, ∞)). */
  logKeys?: Partial<Record<Name, ExpectedLogKey[]>>
  witnessKeys?: Partial<Record<Name, ExpectedWitnessKey[]>>
  /** Entry probes: [log, index, key]; the outcome follows from the expected ranges. */
  probes: [Name, number, KeyPair][]
  /** Checkpoint probes: [log, size, key]. */
  checkpoints?: [Name, number, KeyPair][]
  /** Cosignature probes on a checkpoint of ncmec's log: [witness, key, timestamp]. */
  cosignatures?: [Name, KeyPair, number][]
  /** Equivocation probes (§10.10): [log, size, key] — two checkpoints of that size with different roots, signed by the key; the outcome is written by hand. */
  equivocations?: { probe: [Name, number, KeyPair]; freezes: boolean | 'UNKNOWN_KEY' }[]
}

const genesisLogKeys = (n: Name): ExpectedLogKey[] => [{ key: logKey(n), from: 0, until: null, compromised: false }]
const genesisWitnessKeys = (n: Name): ExpectedWitnessKey[] => [{ key: witnessKey(n), from: 0, until: null }]
const inRange = (x: number, k: { from: number; until: number | null }) => x >= k.from && (k.until === null || x < k.until)

function build(c: CaseSpec): VectorCase {
  const logKeys = (n: Name) => c.logKeys?.[n] ?? genesisLogKeys(n)
  const witnessKeys = (n: Name) => c.witnessKeys?.[n] ?? genesisWitnessKeys(n)
  const sameKey = (a: KeyPair, b: KeyPair) => toHex(a.publicKey) === toHex(b.publicKey)
  const logs: Record<string, unknown> = {}
  for (const n of NAMES) {
    logs[origin(n)] = {
      keys: logKeys(n).map((k) => ({ public_key: toHex(k.key.publicKey), from: k.from, until: k.until, compromised: k.compromised })),
      witness_keys: witnessKeys(n).map((k) => ({ vkey: witnessVerifierKey(origin(n), k.key.publicKey), public_key: toHex(k.key.publicKey), from: k.from, until: k.until })),
    }
  }
  const probes = c.probes.map(([n, index, key]) => {
    const ks = logKeys(n).filter((k) => sameKey(k.key, key))
    const valid = ks.some((k) => inRange(index, k))
    const compromised = !valid && ks.some((k) => k.compromised && k.until !== null && index >= k.until)
    return { log: origin(n), index, key: toHex(key.publicKey), entry: toHex(indicator(n, index, key, '-probe')), valid, compromised }
  })
  const checkpoint_probes = (c.checkpoints ?? []).map(([n, size, key]) => {
    const root = size === 0 ? EMPTY_ROOT : MerkleTree.from(Array.from({ length: size }, (_, i) => leafHash(indicator(n, i, key, '-checkpoint')))).root()
    const note = signCheckpoint({ origin: origin(n), size, root }, { name: origin(n), seed: key.seed })
    const valid = logKeys(n).some((k) => sameKey(k.key, key) && inRange(Math.max(0, size - 1), k))
    return { log: origin(n), size, key: toHex(key.publicKey), note, valid, ...(valid ? {} : { error: 'UNKNOWN_KEY' }) }
  })
  const cpLog: Name = 'ncmec'
  const cpRoot = MerkleTree.from([leafHash(indicator(cpLog, 0, logKey(cpLog), '-cosigned'))]).root()
  const cpNote = signCheckpoint({ origin: origin(cpLog), size: 1, root: cpRoot }, { name: origin(cpLog), ...logKey(cpLog) })
  const cpBody = formatCheckpoint({ origin: origin(cpLog), size: 1, root: cpRoot })
  const cosignature_probes = (c.cosignatures ?? []).map(([w, key, timestamp]) => ({
    log: origin(cpLog), witness: origin(w), key: toHex(key.publicKey), timestamp,
    note: addCosignatures(cpNote, [cosign(cpBody, { name: origin(w), ...key }, timestamp)]),
    valid: witnessKeys(w).some((k) => sameKey(k.key, key) && inRange(timestamp, k)),
  }))
  const equivocation_probes = (c.equivocations ?? []).map(({ probe: [n, size, key], freezes }) => {
    const note = (tag: string) => signCheckpoint({ origin: origin(n), size, root: sha256(utf8(`cairn-roster-vector-fork-${tag}-${size}`)) }, { name: origin(n), seed: key.seed })
    const proof = buildEquivocationProof({ kind: 'same-size', checkpoints: [note('a'), note('b')] }, verifierKey(origin(n), key.publicKey))
    return { log: origin(n), size, key: toHex(key.publicKey), proof, ...(typeof freezes === 'boolean' ? { freezes } : { freezes: false, error: freezes }) }
  })
  return {
    name: c.name,
    data: { description: c.description, genesis: rosterVectorGenesis, entries: c.written, logs, probes, checkpoint_probes, cosignature_probes, ...(c.equivocations ? { equivocation_probes } : {}) },
  }
}

/** eu-centre: indicators at 0..r-1, its own rotate_key (log key → log-2) at r. */
function ownRotation(out: Written[], r: number, witness = false) {
  const eu = new LogWriter('eu-centre')
  for (let i = 0; i < r; i++) eu.indicator(out)
  const change = witness ? { change: 'rotate_key', member: 'eu-centre', witness_key: EU_WITNESS_2.publicKey } : { change: 'rotate_key', member: 'eu-centre', key: EU_LOG_2.publicKey }
  const proposal = eu.roster(out, change)
  return { eu, proposal }
}

export function rosterCases(): VectorCase[] {
  const cases: CaseSpec[] = []
  const OLD = logKey('eu-centre')
  const R = 2 // the rotation proposal's index; cut-over R + 1 = 3
  const rotatedKeys: ExpectedLogKey[] = [{ key: EU_LOG_2, from: R + 1, until: null, compromised: false }, { key: OLD, from: 0, until: R + 1, compromised: false }]
  const rotationProbes: [Name, number, KeyPair][] = [['eu-centre', 0, OLD], ['eu-centre', R, OLD], ['eu-centre', R + 1, OLD], ['eu-centre', R + 5, OLD], ['eu-centre', R, EU_LOG_2], ['eu-centre', R + 1, EU_LOG_2], ['eu-centre', R + 5, EU_LOG_2]]
  const rotationCheckpoints: [Name, number, KeyPair][] = [['eu-centre', 0, OLD], ['eu-centre', R + 1, OLD], ['eu-centre', R + 2, OLD], ['eu-centre', R + 1, EU_LOG_2], ['eu-centre', R + 2, EU_LOG_2]]

  {
    const w: Written[] = []
    ownRotation(w, R)
    cases.push({
      name: 'rotation-pending',
      description: 'eu-centre proposes its own log-key rotation at index 2 and nobody confirms (1 of threshold 2): the old key ends at the cut-over 3 at once, the new key is not valid anywhere yet, so the log can sign nothing at 3 or later',
      written: w,
      logKeys: { 'eu-centre': [{ key: OLD, from: 0, until: R + 1, compromised: false }] },
      probes: rotationProbes, checkpoints: rotationCheckpoints,
    })
  }
  {
    const w: Written[] = []
    const { eu, proposal } = ownRotation(w, R)
    new LogWriter('ncmec').confirm(w, proposal)
    eu.confirm(w, proposal, EU_LOG_2)
    eu.indicator(w, EU_LOG_2)
    cases.push({
      name: 'rotation-applied',
      description: 'eu-centre rotates its log key at index 2, ncmec confirms (2 of 2): the old key is valid for [0, 3), the new key from 3; eu-centre then writes its own confirm (3) and an indicator (4) under the new key. The old key\'s last checkpoint is size 3, the new key signs from size 4',
      written: w, logKeys: { 'eu-centre': rotatedKeys }, probes: rotationProbes, checkpoints: rotationCheckpoints,
    })
  }
  {
    const w: Written[] = []
    const tmp: Written[] = []
    const { eu, proposal } = ownRotation(tmp, R)
    new LogWriter('ncmec').confirm(w, proposal)
    w.push(...tmp)
    eu.confirm(w, proposal, EU_LOG_2)
    cases.push({
      name: 'rotation-confirmation-first',
      description: 'as rotation-applied, but ncmec\'s confirmation is read before the proposal: it is kept and counted when the proposal arrives, so the change applies as soon as the proposal is read and the ranges are the same',
      written: w, logKeys: { 'eu-centre': rotatedKeys }, probes: rotationProbes, checkpoints: rotationCheckpoints,
    })
  }
  {
    const w: Written[] = []
    const eu = new LogWriter('eu-centre')
    eu.indicator(w)
    const proposal = new LogWriter('ncmec').roster(w, { change: 'rotate_key', member: 'eu-centre', key: EU_LOG_FOREIGN.publicKey })
    new LogWriter('c3p').confirm(w, proposal)
    eu.indicator(w)
    cases.push({
      name: 'rotation-by-another-member',
      description: 'ncmec writes a rotate_key naming eu-centre with a key of its choosing and c3p confirms (2 of 2): the change applies, but its key part never does (only the member itself may rotate its keys): eu-centre keeps its genesis key for every index',
      written: w,
      probes: [['eu-centre', 0, OLD], ['eu-centre', 1, OLD], ['eu-centre', 7, OLD], ['eu-centre', 0, EU_LOG_FOREIGN], ['eu-centre', 2, EU_LOG_FOREIGN]],
      checkpoints: [['eu-centre', 2, OLD], ['eu-centre', 2, EU_LOG_FOREIGN]],
    })
  }
  const F = 3 // the compromise's from
  const compromiseProbes: [Name, number, KeyPair][] = [['eu-centre', 0, OLD], ['eu-centre', F - 1, OLD], ['eu-centre', F, OLD], ['eu-centre', F + 3, OLD], ['eu-centre', F - 1, EU_LOG_3], ['eu-centre', F, EU_LOG_3], ['eu-centre', F + 3, EU_LOG_3]]
  const compromiseCheckpoints: [Name, number, KeyPair][] = [['eu-centre', F, OLD], ['eu-centre', F + 1, OLD], ['eu-centre', F + 1, EU_LOG_3], ['eu-centre', F, EU_LOG_3]]
  {
    const w: Written[] = []
    const eu = new LogWriter('eu-centre')
    for (let i = 0; i < F + 2; i++) eu.indicator(w) // 3 and 4: written by whoever holds the old key
    const proposal = new LogWriter('ncmec').roster(w, { change: 'compromise', member: 'eu-centre', from: F, key: EU_LOG_3.publicKey })
    new LogWriter('c3p').confirm(w, proposal)
    cases.push({
      name: 'compromise-applied',
      description: 'eu-centre\'s log key leaked; ncmec records a compromise from index 3 with a new key, c3p confirms (2 of 2): the old key is valid for [0, 3) and marked compromised; entries 3 and 4, signed with it, are compromised content (in the tree, counting for nothing); the new key signs from 3. A checkpoint of size > 3 signed with the old key opens under no key',
      written: w,
      logKeys: { 'eu-centre': [{ key: EU_LOG_3, from: F, until: null, compromised: false }, { key: OLD, from: 0, until: F, compromised: true }] },
      probes: compromiseProbes, checkpoints: compromiseCheckpoints,
    })
  }
  {
    const w: Written[] = []
    const eu = new LogWriter('eu-centre')
    for (let i = 0; i < F + 2; i++) eu.indicator(w)
    const ncmec = new LogWriter('ncmec')
    const c3p = new LogWriter('c3p')
    const proposal = signEntry(logKey('ncmec').seed, { ...header('ncmec', 0), type: 'roster', change: 'compromise', member: 'eu-centre', from: F, key: EU_LOG_3.publicKey } as CairnRecord)
    c3p.confirm(w, proposal)
    ncmec.roster(w, { change: 'compromise', member: 'eu-centre', from: F, key: EU_LOG_3.publicKey })
    cases.push({
      name: 'compromise-confirmation-first',
      description: 'as compromise-applied, but c3p\'s confirmation is read before ncmec\'s proposal: the same ranges',
      written: w,
      logKeys: { 'eu-centre': [{ key: EU_LOG_3, from: F, until: null, compromised: false }, { key: OLD, from: 0, until: F, compromised: true }] },
      probes: compromiseProbes, checkpoints: compromiseCheckpoints,
    })
  }
  {
    const w: Written[] = []
    const eu = new LogWriter('eu-centre')
    eu.indicator(w)
    new LogWriter('ncmec').roster(w, { change: 'compromise', member: 'eu-centre', from: 1, key: EU_LOG_3.publicKey })
    eu.indicator(w)
    cases.push({
      name: 'compromise-pending',
      description: 'ncmec proposes a compromise of eu-centre from index 1 and nobody confirms (1 of 2): nothing changes, eu-centre\'s genesis key stays valid everywhere and the new key nowhere',
      written: w,
      probes: [['eu-centre', 0, OLD], ['eu-centre', 1, OLD], ['eu-centre', 5, OLD], ['eu-centre', 1, EU_LOG_3]],
      checkpoints: [['eu-centre', 2, OLD], ['eu-centre', 2, EU_LOG_3]],
    })
  }
  {
    const w: Written[] = []
    const eu = new LogWriter('eu-centre')
    eu.indicator(w)
    const proposal = eu.roster(w, { change: 'compromise', member: 'eu-centre', from: 1, key: EU_LOG_3.publicKey })
    new LogWriter('ncmec').confirm(w, proposal)
    new LogWriter('c3p').confirm(w, proposal)
    eu.indicator(w)
    cases.push({
      name: 'compromise-by-the-member-itself',
      description: 'eu-centre writes a compromise of its own key from index 1 and both others confirm (3 of 2): a compromise written by the member itself never applies (a holder of the stolen key could write it), so eu-centre keeps its genesis key everywhere',
      written: w,
      probes: [['eu-centre', 0, OLD], ['eu-centre', 1, OLD], ['eu-centre', 2, OLD], ['eu-centre', 1, EU_LOG_3], ['eu-centre', 3, EU_LOG_3]],
      checkpoints: [['eu-centre', 3, OLD], ['eu-centre', 3, EU_LOG_3]],
    })
  }
  {
    const w: Written[] = []
    const { eu, proposal } = ownRotation(w, R)
    const ncmec = new LogWriter('ncmec')
    ncmec.confirm(w, proposal)
    eu.confirm(w, proposal, EU_LOG_2)
    eu.indicator(w, EU_LOG_2)
    const comp = ncmec.roster(w, { change: 'compromise', member: 'eu-centre', from: 1, key: EU_LOG_3.publicKey })
    new LogWriter('c3p').confirm(w, comp)
    cases.push({
      name: 'compromise-after-rotation',
      description: 'eu-centre rotates at index 2 (applied: genesis key [0, 3), log-2 from 3), then ncmec records a compromise from index 1 with log-3, c3p confirms: every earlier key ends at 1 and is compromised — the genesis key gets [0, 1), log-2, which started after 1, an empty range [3, 3) — and log-3 signs from 1',
      written: w,
      logKeys: { 'eu-centre': [
        { key: EU_LOG_3, from: 1, until: null, compromised: false },
        { key: EU_LOG_2, from: R + 1, until: R + 1, compromised: true },
        { key: OLD, from: 0, until: 1, compromised: true },
      ] },
      probes: [['eu-centre', 0, OLD], ['eu-centre', 1, OLD], ['eu-centre', R, OLD], ['eu-centre', R + 1, EU_LOG_2], ['eu-centre', R + 2, EU_LOG_2], ['eu-centre', 0, EU_LOG_3], ['eu-centre', 1, EU_LOG_3], ['eu-centre', R + 2, EU_LOG_3]],
      checkpoints: [['eu-centre', 1, OLD], ['eu-centre', 2, OLD], ['eu-centre', R + 2, EU_LOG_2], ['eu-centre', 2, EU_LOG_3], ['eu-centre', R + 2, EU_LOG_3]],
    })
  }
  {
    const w: Written[] = []
    const { eu, proposal } = ownRotation(w, R)
    const ncmec = new LogWriter('ncmec')
    ncmec.confirm(w, proposal)
    eu.confirm(w, proposal, EU_LOG_2)
    eu.indicator(w, EU_LOG_2)
    eu.indicator(w, EU_LOG_2)
    const CF = R + 2 // the compromise's from: after the rotation's cut-over
    const comp = ncmec.roster(w, { change: 'compromise', member: 'eu-centre', from: CF, key: EU_LOG_3.publicKey })
    new LogWriter('c3p').confirm(w, comp)
    cases.push({
      name: 'compromise-after-rotation-later-from',
      description: 'eu-centre rotates at index 2 (applied: genesis key [0, 3), log-2 from 3), then ncmec records a compromise from index 4 with log-3, c3p confirms: the rotation, signed at 2 by a key still valid there, counts; every key ends at 4 and is compromised — the genesis key keeps [0, 3), log-2 gets [3, 4) — and log-3 signs from 4. Entries 4 and 5, signed by log-2, are compromised content. Read in any order (the compromise before the rotation, too) the ranges are the same',
      written: w,
      logKeys: { 'eu-centre': [
        { key: EU_LOG_3, from: CF, until: null, compromised: false },
        { key: EU_LOG_2, from: R + 1, until: CF, compromised: true },
        { key: OLD, from: 0, until: R + 1, compromised: true },
      ] },
      probes: [['eu-centre', R, OLD], ['eu-centre', R + 1, OLD], ['eu-centre', R + 1, EU_LOG_2], ['eu-centre', CF, EU_LOG_2], ['eu-centre', CF + 2, EU_LOG_2], ['eu-centre', R + 1, EU_LOG_3], ['eu-centre', CF, EU_LOG_3]],
      checkpoints: [['eu-centre', R + 1, OLD], ['eu-centre', R + 2, EU_LOG_2], ['eu-centre', CF + 1, EU_LOG_2], ['eu-centre', CF, EU_LOG_3], ['eu-centre', CF + 1, EU_LOG_3]],
    })
  }
  {
    // Fork resolution (§10.10): eu-centre's log forked after index 2; the branch of size N = 4 stands.
    const N = 4
    const standingRoot = MerkleTree.from(Array.from({ length: N }, (_, i) => leafHash(indicator('eu-centre', i, OLD)))).root()
    const standing = signCheckpoint({ origin: origin('eu-centre'), size: N, root: standingRoot }, { name: origin('eu-centre'), seed: OLD.seed })
    const forkEquivocations: CaseSpec['equivocations'] = [
      { probe: ['eu-centre', N, OLD], freezes: false }, { probe: ['eu-centre', 2, OLD], freezes: false },
      { probe: ['eu-centre', N + 1, OLD], freezes: 'UNKNOWN_KEY' }, { probe: ['eu-centre', N + 2, EU_LOG_3], freezes: true },
    ]
    const forkProbes: [Name, number, KeyPair][] = [['eu-centre', N - 1, OLD], ['eu-centre', N, OLD], ['eu-centre', N, EU_LOG_3], ['eu-centre', N - 1, EU_LOG_3]]
    const forkCheckpoints: [Name, number, KeyPair][] = [['eu-centre', N, OLD], ['eu-centre', N + 1, OLD], ['eu-centre', N + 1, EU_LOG_3], ['eu-centre', N, EU_LOG_3]]
    {
      const w: Written[] = []
      const eu = new LogWriter('eu-centre')
      for (let i = 0; i < N; i++) eu.indicator(w)
      const proposal = new LogWriter('ncmec').roster(w, { change: 'resolve_fork', member: 'eu-centre', checkpoint: standing, key: EU_LOG_3.publicKey })
      new LogWriter('c3p').confirm(w, proposal)
      cases.push({
        name: 'fork-resolution-applied',
        description: `eu-centre's log forked; ncmec proposes resolve_fork naming the standing checkpoint of size ${N} (signed by eu-centre's key valid at ${N - 1}) and log-3 as the new key, c3p confirms (2 of 2): the key ranges are those of a compromise from ${N} — the old key [0, ${N}), compromised, log-3 from ${N}. An equivocation proof whose checkpoints both have size ≤ ${N} no longer freezes the log; one by the old key past ${N} is no proof (UNKNOWN_KEY); one by log-3 (sizes > ${N}) freezes it`,
        written: w,
        logKeys: { 'eu-centre': [{ key: EU_LOG_3, from: N, until: null, compromised: false }, { key: OLD, from: 0, until: N, compromised: true }] },
        probes: forkProbes, checkpoints: forkCheckpoints, equivocations: forkEquivocations,
      })
    }
    {
      const w: Written[] = []
      const eu = new LogWriter('eu-centre')
      for (let i = 0; i < N; i++) eu.indicator(w)
      const proposal = eu.roster(w, { change: 'resolve_fork', member: 'eu-centre', checkpoint: standing, key: EU_LOG_3.publicKey })
      new LogWriter('ncmec').confirm(w, proposal)
      new LogWriter('c3p').confirm(w, proposal)
      cases.push({
        name: 'fork-resolution-by-the-member-itself',
        description: `eu-centre writes a resolve_fork of its own log and both others confirm: a resolution written by the member itself never applies; eu-centre keeps its genesis key, and an equivocation proof of size ${N} still freezes the log`,
        written: w,
        probes: [['eu-centre', N, OLD], ['eu-centre', N, EU_LOG_3]], checkpoints: [['eu-centre', N + 1, OLD]],
        equivocations: [{ probe: ['eu-centre', N, OLD], freezes: true }],
      })
    }
    {
      const w: Written[] = []
      const eu = new LogWriter('eu-centre')
      for (let i = 0; i < N; i++) eu.indicator(w)
      const forged = signCheckpoint({ origin: origin('eu-centre'), size: N, root: standingRoot }, { name: origin('eu-centre'), seed: EU_LOG_FOREIGN.seed })
      const proposal = new LogWriter('ncmec').roster(w, { change: 'resolve_fork', member: 'eu-centre', checkpoint: forged, key: EU_LOG_3.publicKey })
      new LogWriter('c3p').confirm(w, proposal)
      cases.push({
        name: 'fork-resolution-checkpoint-not-by-the-log',
        description: `ncmec proposes resolve_fork with a checkpoint of eu-centre's log signed by a key that is not eu-centre's log key, c3p confirms: the standing checkpoint must open under the member's log key valid at ${N - 1}, so the change never applies; eu-centre keeps its genesis key`,
        written: w,
        probes: [['eu-centre', N, OLD], ['eu-centre', N, EU_LOG_3]],
        equivocations: [{ probe: ['eu-centre', N, OLD], freezes: true }],
      })
    }
  }
  const W = 1 // index of the witness rotation; its time in seconds is T
  const T = secondsOf(W)
  const witnessProbes: [Name, KeyPair, number][] = [['eu-centre', witnessKey('eu-centre'), T - 1], ['eu-centre', witnessKey('eu-centre'), T], ['eu-centre', witnessKey('eu-centre'), T + 1],
    ['eu-centre', EU_WITNESS_2, T], ['eu-centre', EU_WITNESS_2, T + 1], ['eu-centre', EU_WITNESS_2, T + 3600], ['c3p', witnessKey('c3p'), T + 3600]]
  {
    const w: Written[] = []
    ownRotation(w, W, true)
    cases.push({
      name: 'witness-rotation-pending',
      description: `eu-centre proposes a new witness key at index 1 (time ${T} s) and nobody confirms: its old witness key stays valid for cosignatures dated ≤ ${T} (so earlier cosignatures still verify), no key of it is valid after; its log key is untouched`,
      written: w,
      witnessKeys: { 'eu-centre': [{ key: witnessKey('eu-centre'), from: 0, until: T + 1 }] },
      probes: [['eu-centre', 1, OLD], ['eu-centre', 2, OLD]],
      cosignatures: witnessProbes,
    })
  }
  {
    const w: Written[] = []
    const { eu, proposal } = ownRotation(w, W, true)
    new LogWriter('ncmec').confirm(w, proposal)
    eu.confirm(w, proposal)
    cases.push({
      name: 'witness-rotation-applied',
      description: `eu-centre rotates its witness key at index 1 (time ${T} s), ncmec confirms: the old witness key is valid for cosignatures dated ≤ ${T}, the new one after; an old cosignature stays valid by its timestamp. Its log key is untouched (the proposal names no log key)`,
      written: w,
      witnessKeys: { 'eu-centre': [{ key: EU_WITNESS_2, from: T + 1, until: null }, { key: witnessKey('eu-centre'), from: 0, until: T + 1 }] },
      probes: [['eu-centre', 1, OLD], ['eu-centre', 2, OLD]],
      cosignatures: witnessProbes,
    })
  }
  return cases.map(build)
}
