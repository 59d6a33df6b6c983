/**
 * The provenance document of one indicator value (GET /lookup/<alg>/<hex>,
 * spec/api.md): every record about it with its entry bytes and a c2sp
 * tlog-proof, plus the logs' verifier keys; and its offline check with the
 * protocol alone (`verifyProvenance`). Nothing in the document has to be
 * taken on trust except the keys, which a careful auditor compares with the
 * genesis roster. The node builds it (node/provenance.ts); an auditor's
 * client checks it.
 */
import { fromHex, toHex, equalBytes } from './bytes.ts'
import { LedgerError } from './errors.ts'
import { openEntry } from './entry.ts'
import { recordToJson, ALG_LENGTHS, MAX_TMK_PDQF_BYTES, type Alg, type CairnRecord } from './records.ts'
import { parseTlogProof, verifyTlogProof, type VerifiedTlogProof } from './tlog-proof.ts'
import { parseVerifierKey } from './note.ts'
import { openCheckpointWithKeys, openEntryWithKeys, type LogKeys } from './log-keys.ts'
import { verifyInclusion } from './merkle.ts'
import { cosigners, type WitnessKey } from './roster.ts'
import { leafHash as leafHashOf } from './hash.ts'

/** One record with what proves it: entry bytes (hex), the record as JSON, a tlog-proof (null if not yet in a published checkpoint). */
export interface ProvenanceItem {
  id: string
  log: string
  index: number
  entry: string
  record: Record<string, unknown>
  proof: string | null
}

export interface ProvenanceIndicator extends ProvenanceItem {
  /** Revoked by a revocation in the indicator's own log (the only log that may revoke it). */
  revoked: boolean
  /** Some attestation disputes it. */
  disputed: boolean
  revocations: ProvenanceItem[]
  attestations: ProvenanceItem[]
}

export interface ProvenanceLog {
  vkey: string | null
  /** Witness verifier keys of the other members that may cosign this log's checkpoints. */
  witness_vkeys: string[]
  checkpoint_size: number
  frozen: boolean
}

export interface Provenance {
  alg: Alg
  value: string
  records: ProvenanceIndicator[]
  logs: Record<string, ProvenanceLog>
  /**
   * With `?roster=1`: every roster change and every confirmation the node
   * holds, each with its proof, for a client that follows the roster from
   * the genesis file (spec/federation.md §10.9).
   */
  roster?: ProvenanceItem[]
  summary: {
    records: number
    /** Logs that published the value. */
    published_by: string[]
    revoked: number
    /** Some record about the value is in the current (unrevoked) set. */
    current: boolean
    confirmed_by: string[]
    disputed_by: string[]
  }
}

const HEX_RE = /^[0-9a-fA-F]*$/

/** Parses the <alg>/<hex> of a lookup strictly: a known alg, hex of the alg's length; BAD_REQUEST / BAD_ALG / BAD_VALUE_LENGTH. */
export function parseLookupValue(alg: string, hex: string): { alg: Alg; value: Uint8Array } {
  if (!Object.hasOwn(ALG_LENGTHS, alg)) throw new LedgerError('BAD_ALG', `unknown alg ${JSON.stringify(alg.slice(0, 20))}; use one of ${Object.keys(ALG_LENGTHS).join(', ')}`)
  const a = alg as Alg
  if (!HEX_RE.test(hex) || hex.length % 2 !== 0 || hex.length === 0) throw new LedgerError('BAD_REQUEST', 'the value must be an even number of hex digits')
  const len = hex.length / 2
  const want = ALG_LENGTHS[a]
  if (want === 'variable' ? len > MAX_TMK_PDQF_BYTES : len !== want) {
    throw new LedgerError('BAD_VALUE_LENGTH', `a ${a} value is ${want === 'variable' ? `at most ${MAX_TMK_PDQF_BYTES}` : want} bytes, got ${len}`)
  }
  return { alg: a, value: fromHex(hex.toLowerCase(), 'value') }
}

// ---------------------------------------------------------------------------
// Offline verification

/** Keys as a roster followed from the genesis file gives them: each log's keys by entry index, each witness's keys by cosignature time. */
export interface KeysByIndex {
  logKeys(origin: string): LogKeys
  cosignerKeys(except?: string): { origin: string; keys: WitnessKey[] }[]
}

export interface ProvenanceTrust {
  /** Keys from a followed roster; when given, logVkeys and witnessVkeys are not used. */
  roster?: KeysByIndex
  /** Log verifier keys by origin (e.g. from the genesis roster); when absent, the document's own keys are used. */
  logVkeys?: Record<string, string>
  /** Witness verifier keys by log origin; when absent, the document's. */
  witnessVkeys?: Record<string, string[]>
  /** Valid cosignatures each checkpoint must carry (default 0: any present must verify). */
  minWitnesses?: number
}

export interface VerifiedItem {
  id: string
  log: string
  index: number
  record: CairnRecord
  /** Checkpoint size the inclusion proof was verified against. */
  checkpointSize: number
  /** Names of the witnesses whose cosignatures on that checkpoint verified. */
  cosignedBy: string[]
}

export interface VerifiedProvenance {
  indicators: (VerifiedItem & { revocations: VerifiedItem[]; attestations: VerifiedItem[] })[]
  /** Ids of items only a key compromised at their index signed (with a followed roster): they count for nothing and are left out. */
  compromised: string[]
}

/**
 * Checks a provenance document with the protocol layer alone: for every item,
 * the entry's signature under the log key and its record rules (log and seq
 * included), id = leaf hash, the JSON record equals the signed one, the
 * tlog-proof (log signature, cosignatures, inclusion at `index`); every
 * indicator has the alg/value asked for; every revocation and attestation
 * targets its indicator, and revocations come from the indicator's own log.
 * Throws a LedgerError naming the item on the first failure.
 */
export function verifyProvenance(doc: Provenance, trust: ProvenanceTrust = {}): VerifiedProvenance {
  if (!doc || !Array.isArray(doc.records) || typeof doc.logs !== 'object') throw new LedgerError('BAD_REQUEST', 'not a provenance document')
  const compromised: string[] = []
  const check = (it: ProvenanceItem, what: string): VerifiedItem | undefined => {
    const v = verifyProvenanceItem(doc, it, what, trust)
    if (v === 'compromised') compromised.push(it.id)
    return v === 'compromised' ? undefined : v
  }
  const indicators = doc.records.flatMap((r) => {
    const ind = check(r, 'indicator')
    if (ind === undefined) return []
    const rec = ind.record
    if (rec.type !== 'indicator' || rec.alg !== doc.alg || toHex(rec.value) !== doc.value) {
      throw new LedgerError('BAD_FIELD', `record ${r.id} is not an indicator for ${doc.alg}:${doc.value}`)
    }
    const refs = (list: ProvenanceItem[], type: 'revocation' | 'attestation') => list.flatMap((x) => {
      const v = check(x, type)
      if (v === undefined) return []
      if (v.record.type !== type || !equalBytes(v.record.target, fromHex(r.id))) throw new LedgerError('UNKNOWN_TARGET', `${type} ${x.id} does not target indicator ${r.id}`)
      if (type === 'revocation' && v.log !== ind.log) throw new LedgerError('BAD_FIELD', `revocation ${x.id} is from ${v.log}, but only ${ind.log} may revoke its indicator`)
      return [v]
    })
    return [{ ...ind, revocations: refs(r.revocations ?? [], 'revocation'), attestations: refs(r.attestations ?? [], 'attestation') }]
  })
  return { indicators, compromised }
}

/**
 * Checks one item of a provenance document: the entry's signature under the
 * log key (with a followed roster: a key valid at the item's index), its
 * record rules, id = leaf hash, the JSON record equals the signed one, the
 * tlog-proof (log signature by a key valid at the checkpoint's last entry,
 * cosignatures, inclusion at `index`). 'compromised': only a key compromised
 * at that index signed it. Throws a LedgerError naming the item.
 */
export function verifyProvenanceItem(doc: Pick<Provenance, 'logs'>, it: ProvenanceItem, what: string, trust: ProvenanceTrust = {}): VerifiedItem | 'compromised' {
  const where = `${what} ${it.id?.slice?.(0, 16)}… (${it.log} #${it.index})`
  try {
    const entry = fromHex(it.entry, 'entry')
    let record: CairnRecord
    let keys: LogKeys | undefined
    let vkey: string | undefined
    if (trust.roster) {
      keys = trust.roster.logKeys(it.log)
      if (keys.length === 0) throw new LedgerError('UNKNOWN_LOG', `the roster followed from the genesis file has no log ${it.log}`)
      const opened = openEntryWithKeys(entry, keys, it.log, it.index)
      if (opened.compromised) return 'compromised'
      record = opened.record
      if (toHex(opened.id) !== it.id) throw new LedgerError('BAD_PROOF', 'the record id is not the leaf hash of the entry')
    } else {
      vkey = trust.logVkeys?.[it.log] ?? doc.logs[it.log]?.vkey ?? undefined
      if (!vkey) throw new LedgerError('UNKNOWN_LOG', `no verifier key for log ${it.log}`)
      const opened = openEntry(entry, parseVerifierKey(vkey).publicKey, { log: it.log, seq: it.index })
      record = opened.record
      if (toHex(opened.id) !== it.id) throw new LedgerError('BAD_PROOF', 'the record id is not the leaf hash of the entry')
    }
    if (JSON.stringify(recordToJson(record)) !== JSON.stringify(it.record)) throw new LedgerError('BAD_FIELD', 'the record JSON differs from the signed record')
    if (it.proof === null) throw new LedgerError('BAD_PROOF', 'no inclusion proof: the entry is not yet in a published checkpoint')
    const quorum = trust.minWitnesses ?? 0
    let v: Pick<VerifiedTlogProof, 'index' | 'checkpoint'> & { cosignedBy: string[] }
    if (keys !== undefined) {
      const p = parseTlogProof(it.proof)
      const { checkpoint } = openCheckpointWithKeys(p.checkpoint, keys)
      if (p.index >= checkpoint.size) throw new LedgerError('BAD_PROOF', `proof index ${p.index} is not in the checkpoint's tree of size ${checkpoint.size}`)
      verifyInclusion(leafHashOf(entry), p.index, checkpoint.size, p.proof, checkpoint.root)
      v = { index: p.index, checkpoint, cosignedBy: [...cosigners(p.checkpoint, trust.roster!.cosignerKeys(it.log), quorum)].sort() }
    } else {
      const witnesses = trust.witnessVkeys?.[it.log] ?? doc.logs[it.log]?.witness_vkeys ?? []
      const t = verifyTlogProof(it.proof, entry, vkey!, { witnesses, quorum })
      v = { index: t.index, checkpoint: t.checkpoint, cosignedBy: t.cosignatures.map((c) => c.name) }
    }
    if (v.index !== it.index) throw new LedgerError('BAD_PROOF', `the proof is for index ${v.index}, not ${it.index}`)
    return { id: it.id, log: it.log, index: it.index, record, checkpointSize: v.checkpoint.size, cosignedBy: v.cosignedBy }
  } catch (e) {
    if (e instanceof LedgerError) throw new LedgerError(e.code, `${where}: ${e.message}`, { cause: e })
    throw new LedgerError('BAD_REQUEST', `${where}: malformed item (${(e as Error).message})`)
  }
}
