/**
 * Builds the provenance document of one indicator value (GET /lookup/<alg>/<hex>)
 * from the store: every indicator record any log this node holds says about
 * the value, and every revocation and attestation of those records, each with
 * its entry bytes and a c2sp tlog-proof to the log's latest cosigned
 * checkpoint, plus the log and witness verifier keys. The document's shape
 * and its offline check are in protocol/provenance.ts.
 */
import { toHex, equalBytes } from '../protocol/bytes.ts'
import { LedgerError } from '../protocol/errors.ts'
import { leafHash } from '../protocol/hash.ts'
import { decodeEntry } from '../protocol/entry.ts'
import { decodeCheckedRecord, recordToJson, type Alg, type CairnRecord } from '../protocol/records.ts'
import { encodeTlogProof } from '../protocol/tlog-proof.ts'
import type { ProvenanceItem, ProvenanceIndicator, ProvenanceLog, Provenance } from '../protocol/provenance.ts'
import type { StoreReader } from './storage/store.ts'
import type { Roster } from './roster.ts'

interface Snapshot {
  note: string | undefined
  size: number
}

/** Builds the provenance document from the store; proofs are against one checkpoint per log, read once. */
export async function buildProvenance(store: StoreReader, roster: Pick<Roster, 'member' | 'all'>, alg: Alg, value: Uint8Array, options: { withRoster?: boolean } = {}): Promise<Provenance> {
  const snapshots = new Map<string, Snapshot>()
  const snapshot = (origin: string): Snapshot => {
    let s = snapshots.get(origin)
    if (!s) {
      const info = store.listLogs().find((l) => l.origin === origin)
      s = { note: info?.checkpoint, size: info?.checkpointSize ?? 0 }
      snapshots.set(origin, s)
    }
    return s
  }
  const item = async (id: Uint8Array): Promise<{ item: ProvenanceItem; record: CairnRecord } | undefined> => {
    const at = await store.locate(id)
    if (!at) return undefined
    const entry = await store.entry(at.origin, at.index)
    if (!equalBytes(leafHash(entry), id)) throw new LedgerError('STORAGE_CORRUPT', `entry ${at.index} of ${at.origin} does not match its record id`)
    const record = decodeCheckedRecord(decodeEntry(entry).recordBytes)
    const s = snapshot(at.origin)
    let proof: string | null = null
    if (s.note && at.index < s.size) {
      proof = encodeTlogProof({ index: at.index, proof: await store.inclusionProof(at.origin, at.index, s.size), checkpoint: s.note })
    }
    return { item: { id: toHex(id), log: at.origin, index: at.index, entry: toHex(entry), record: recordToJson(record), proof }, record }
  }

  const records: ProvenanceIndicator[] = []
  for (const id of await store.idsForValue(alg, value)) {
    // The record and what refers to it are read at once (two store round trips in parallel, not in turn).
    const [ind, refs] = await Promise.all([item(id), store.references(id)])
    if (!ind) continue
    const revocations: ProvenanceItem[] = []
    const attestations: ProvenanceItem[] = []
    let disputed = false
    for (const ref of refs) {
      const r = await item(ref.id)
      if (!r) continue
      if (r.record.type === 'revocation') {
        if (r.record.log === ind.record.log) revocations.push(r.item)
      } else if (r.record.type === 'attestation') {
        attestations.push(r.item)
        if (r.record.opinion === 'dispute') disputed = true
      }
    }
    records.push({ ...ind.item, revoked: revocations.length > 0, disputed, revocations, attestations })
  }
  records.sort((a, b) => (a.log === b.log ? a.index - b.index : a.log < b.log ? -1 : 1))

  const logs: Record<string, ProvenanceLog> = {}
  for (const origin of [...snapshots.keys()].sort()) {
    const m = roster.member(origin)
    logs[origin] = {
      vkey: m?.vkey ?? null,
      witness_vkeys: roster.all().filter((w) => w.origin !== origin && w.roles.has('witness')).map((w) => w.witnessVkey),
      checkpoint_size: snapshots.get(origin)!.size,
      frozen: store.frozenProof(origin) !== undefined,
    }
  }
  const doc: Provenance = { alg, value: toHex(value), records, logs, summary: summarize(records) }
  if (options.withRoster) {
    // Every roster change held, and every confirmation of one (the store's roster events also hold
    // confirmations of indicators), in store order (by log, then index), each with its proof.
    const events: { id: Uint8Array; record: CairnRecord }[] = []
    for await (const ev of store.rosterEvents()) {
      const entry = await store.entry(ev.origin, ev.index)
      events.push({ id: leafHash(entry), record: decodeCheckedRecord(decodeEntry(entry).recordBytes) })
    }
    const proposals = new Set(events.filter((e) => e.record.type === 'roster').map((e) => toHex(e.id)))
    const items: ProvenanceItem[] = []
    for (const e of events) {
      if (e.record.type !== 'roster' && !(e.record.type === 'attestation' && proposals.has(toHex(e.record.target)))) continue
      const r = await item(e.id)
      if (r) items.push(r.item)
    }
    doc.roster = items
  }
  return doc
}

function summarize(records: ProvenanceIndicator[]): Provenance['summary'] {
  const confirmed = new Set<string>()
  const disputed = new Set<string>()
  for (const r of records) {
    for (const a of r.attestations) (a.record.opinion === 'confirm' ? confirmed : disputed).add(a.log)
  }
  return {
    records: records.length,
    published_by: [...new Set(records.map((r) => r.log))].sort(),
    revoked: records.filter((r) => r.revoked).length,
    current: records.some((r) => !r.revoked),
    confirmed_by: [...confirmed].sort(),
    disputed_by: [...disputed].sort(),
  }
}
