/**
 * Mending the store's indexes that each entry alone determines, from the
 * entries (`cairn node check`, when rows fail their checksums and every log
 * checks out against its signed tree):
 *   'V' the value index: a row per indicator entry (a redacted one is a
 *       marker and has none), as Store.append writes it and redaction and
 *       truncation delete it;
 *   'R' references: a row per revocation or attestation, naming its target;
 *   'O' roster events: a row per roster change and per confirming attestation.
 * First every row the entries give is written where it is missing, fails
 * its checksum or differs; then the rows of these tables that still fail
 * their checksums (keys no entry gives: damaged keys) are deleted. Nothing
 * right is ever removed, so a run cut short leaves the tables no worse, and
 * the next check finishes the work. A bad row of another table whose key
 * was damaged into one of these prefixes is deleted with them; the row it
 * was stays missing (the record index, the expiry index, counters, tokens
 * and the access log are not rebuilt here: the current set depends on the
 * order revocations arrived in across logs).
 */
import { LedgerError } from '../../protocol/errors.ts'
import { decodeCheckedRecord } from '../../protocol/records.ts'
import { decodeEntry } from '../../protocol/entry.ts'
import { isRedactionMarker } from '../../protocol/redaction.ts'
import { toHex } from '../../protocol/bytes.ts'
import { entryIndexRows, P } from './keys.ts'
import type { LevelKV } from './kv.ts'
import type { Store } from './store.ts'

/** The tables mended, by prefix byte. */
export const ENTRY_INDEXES = [P.value, P.ref, P.roster] as const

const CHUNK = 4096

type Row = { key: Uint8Array; value: Uint8Array }

/** The index rows one stored entry (at `index` of log `num`, record id `id`) gives: none for a redaction marker. */
function rowsOf(num: number, index: number, id: Uint8Array, entry: Uint8Array): Row[] {
  if (isRedactionMarker(entry)) return []
  return entryIndexRows(num, index, id, decodeCheckedRecord(decodeEntry(entry).recordBytes))
}

/** What a mending wrote and removed, as hex keys. */
export interface Reindexed {
  /** Rows the entries give that were missing, damaged or different, written again. */
  written: Set<string>
  /** Rows of these tables that failed their checksums and no entry gives, deleted. */
  removed: Set<string>
  /** Every row the entries give (checked or written). */
  rows: number
}

/** Mends ENTRY_INDEXES from the entries of every log (each read checked against its leaf hash). */
export async function rebuildEntryIndexes(kv: LevelKV, store: Store, onProgress?: (origin: string, entries: number) => void): Promise<Reindexed> {
  const out: Reindexed = { written: new Set(), removed: new Set(), rows: 0 }
  for (const l of store.listLogs()) {
    const num = store.logNumber(l.origin)
    for (let start = 0; start < l.size; start += CHUNK) {
      const end = Math.min(l.size, start + CHUNK)
      const { entries, ids } = await store.entriesWithIds(l.origin, start, end)
      const rows: Row[] = []
      entries.forEach((e, i) => {
        try {
          rows.push(...rowsOf(num, start + i, ids[i]!, e))
        } catch (err) {
          throw new LedgerError('STORAGE_CORRUPT', `entry ${start + i} of ${l.origin} matches its leaf hash but is not a record this cairn reads (${(err as Error).message})`)
        }
      })
      for (const k of await kv.putDiffering(rows)) out.written.add(toHex(k))
      out.rows += rows.length
      onProgress?.(l.origin, end)
    }
  }
  for (const prefix of ENTRY_INDEXES) {
    for (const k of await kv.deleteBadRows(new Uint8Array([prefix]), new Uint8Array([prefix + 1]))) out.removed.add(toHex(k))
  }
  return out
}
