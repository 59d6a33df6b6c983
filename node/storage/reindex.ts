/**
 * Rebuilding the store's indexes that each entry alone determines, from the
 * entries (`cairn node check`, when rows fail their checksums and every log
 * checks out against its signed tree):
 *   'V' the value index: a row per indicator entry (a redacted one is a
 *       marker and has none), as Store.append writes it and redaction and
 *       truncation delete it;
 *   'R' references: a row per revocation or attestation, naming its target;
 *   'O' roster events: a row per roster change and per confirming attestation.
 * Every row under these prefixes is removed, whatever its checksum, and the
 * rows are written again from the checked entries, so the tables are byte
 * for byte what the appends wrote. The record index ('I', which holds the
 * current set: what revocations took out depends on their order across
 * logs), the expiry index and the counters are not rebuilt here.
 */
import { LedgerError } from '../../protocol/errors.ts'
import { decodeCheckedRecord } from '../../protocol/records.ts'
import { decodeEntry } from '../../protocol/entry.ts'
import { isRedactionMarker } from '../../protocol/redaction.ts'
import { ALG_CODES, TYPE_CODES } from './codes.ts'
import { keys, P } from './keys.ts'
import type { BatchOp, LevelKV } from './kv.ts'
import type { Store } from './store.ts'

/** The tables rebuilt, by prefix byte. */
export const ENTRY_INDEXES = [P.value, P.ref, P.roster] as const

const CHUNK = 4096
const EMPTY = new Uint8Array(0)

/** The index rows one entry (at `index` of log `num`, record id `id`) gives. */
function rowsOf(num: number, index: number, id: Uint8Array, entry: Uint8Array): BatchOp[] {
  if (isRedactionMarker(entry)) return []
  const r = decodeCheckedRecord(decodeEntry(entry).recordBytes)
  if (r.type === 'indicator') return [{ type: 'put', key: keys.value(ALG_CODES[r.alg], r.value, id), value: EMPTY }]
  if (r.type === 'roster') return [{ type: 'put', key: keys.roster(num, index), value: EMPTY }]
  if (r.type === 'revocation' || r.type === 'attestation') {
    const ops: BatchOp[] = [{ type: 'put', key: keys.ref(r.target, id), value: new Uint8Array([TYPE_CODES[r.type]]) }]
    if (r.type === 'attestation' && r.opinion === 'confirm') ops.push({ type: 'put', key: keys.roster(num, index), value: EMPTY })
    return ops
  }
  return []
}

/**
 * Removes every row of ENTRY_INDEXES and writes them again from the
 * entries of every log (each read checked against its leaf hash); the
 * count of rows written. Each step is durable; a crash part way leaves
 * rows missing, which the next run of the check rebuilds.
 */
export async function rebuildEntryIndexes(kv: LevelKV, store: Store, onProgress?: (origin: string, entries: number) => void): Promise<number> {
  for (const prefix of ENTRY_INDEXES) await kv.clearRange(new Uint8Array([prefix]), new Uint8Array([prefix + 1]))
  let rows = 0
  for (const l of store.listLogs()) {
    const num = store.logNumber(l.origin)
    for (let start = 0; start < l.size; start += CHUNK) {
      const end = Math.min(l.size, start + CHUNK)
      const { entries, ids } = await store.entriesWithIds(l.origin, start, end)
      const ops: BatchOp[] = []
      entries.forEach((e, i) => {
        try {
          ops.push(...rowsOf(num, start + i, ids[i]!, e))
        } catch (err) {
          throw new LedgerError('STORAGE_CORRUPT', `entry ${start + i} of ${l.origin} matches its leaf hash but is not a record this cairn reads (${(err as Error).message})`)
        }
      })
      await kv.batch(ops, { durable: true })
      rows += ops.length
      onProgress?.(l.origin, end)
    }
  }
  return rows
}
