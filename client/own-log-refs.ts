/**
 * The `ref` index of one log, read from its entries: for each ref, the ids of
 * the indicators of that log that carry it and are not revoked. `cairn
 * import` uses it on the centre's own log to turn an NCMEC deleted entry
 * (which names only the entry id, kept as ref `ncmec:<id>` when the entry was
 * imported) into revocations of exactly the records it imported.
 *
 * Entries come from the node's c2sp tlog-tiles read API (`GET /logs`,
 * `/logs/<name>/tile/entries/<N>[.p/<W>]`, auditor or oversight role) up to
 * the size `/logs` reports. The record id of each is computed here, as the
 * leaf hash of the entry bytes; the record is decoded and checked against
 * the record rules, and its `log` must be the log asked for. Signatures are
 * not checked: this is the operator asking its own node, and the node itself
 * refuses a revocation whose target is not one of its own indicators. An
 * entry that does not decode (a redacted entry's marker) is counted and
 * passed over: a redacted indicator is revoked and out of the set anyway.
 */
import { LedgerError } from '../protocol/errors.ts'
import { toHex } from '../protocol/bytes.ts'
import { leafHash } from '../protocol/hash.ts'
import { decodeEntry } from '../protocol/entry.ts'
import { decodeRecord } from '../protocol/records.ts'
import { entriesPath, decodeEntryBundle, TILE_WIDTH } from '../protocol/tiles.ts'
import { request, api, type Endpoint } from './http.ts'
import { mapLimit } from './verify.ts'

export interface LogRefs {
  origin: string
  /** Entries read (the log's size when read). */
  size: number
  /** ref → ids (hex) of the log's indicators carrying it that no revocation in the log names. */
  live: Map<string, Set<string>>
  /** Entries that did not decode (redaction markers). */
  unreadable: number
}

export async function readLogRefs(ep: Endpoint, origin: string, o: { concurrency?: number } = {}): Promise<LogRefs> {
  const logs = await api<{ name: string; origin: string; size: number }[]>(ep, 'GET', '/logs')
  const log = logs.find((l) => l.origin === origin)
  if (!log) throw new LedgerError('NOT_FOUND', `the node holds no log ${origin}`)
  const bundles = Math.ceil(log.size / TILE_WIDTH)
  const byRef = new Map<string, Set<string>>()
  const revoked = new Set<string>()
  let unreadable = 0
  await mapLimit(Array.from({ length: bundles }, (_, i) => i), o.concurrency ?? 8, async (b) => {
    const count = Math.min(TILE_WIDTH, log.size - b * TILE_WIDTH)
    const res = await request(ep, 'GET', `/logs/${encodeURIComponent(log.name)}/${entriesPath(b, count)}`, { timeoutMs: 60_000 })
    const entries = decodeEntryBundle(new Uint8Array(await res.arrayBuffer()), { count })
    for (const entry of entries) {
      let record
      try {
        record = decodeRecord(decodeEntry(entry).recordBytes)
      } catch {
        unreadable++
        continue
      }
      if (record.log !== origin) throw new LedgerError('BAD_TILE', `an entry of ${origin} names log ${record.log}`)
      if (record.type === 'indicator' && record.ref !== undefined) {
        let ids = byRef.get(record.ref)
        if (!ids) byRef.set(record.ref, (ids = new Set()))
        ids.add(toHex(leafHash(entry)))
      } else if (record.type === 'revocation') {
        revoked.add(toHex(record.target))
      }
    }
  })
  for (const ids of byRef.values()) for (const id of ids) if (revoked.has(id)) ids.delete(id)
  return { origin, size: log.size, live: byRef, unreadable }
}
