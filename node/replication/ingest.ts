/**
 * Turning entries a peer sent (or the publisher just signed) into AppendItems
 * the store may keep: every check a record must pass before it is stored.
 *
 *   1. openEntryWithKeys: size, canonical CBOR, the signature of a log key
 *      valid at the entry's index, record rules,
 *      record.log = the log's origin, record.seq = its index;
 *   2. the roster: the log's member is active and its roles allow the type;
 *   3. references: a revocation names an indicator earlier in the same log.
 *
 * Any failure rejects the entry with a LedgerError; a range is accepted only
 * if every entry in it passes, so a bad entry never lands in the store.
 */
import { decodeEntry, type OpenedEntry } from '../../protocol/entry.ts'
import { openEntryWithKeys, type LogKeys } from '../../protocol/log-keys.ts'
import { decodeCheckedRecord, type CairnRecord } from '../../protocol/records.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { equalBytes, toHex } from '../../protocol/bytes.ts'
import type { Store, AppendItem } from '../storage/store.ts'
import type { Roster } from '../roster.ts'

/** Signature and record checks for a contiguous range (the CPU-heavy part; pure); `signer`: the log key the entry verified under (fed to roster.observe). */
export type CheckedEntry = OpenedEntry & { entry: Uint8Array; signer?: Uint8Array }

/** Opens entries start, start + 1, ... of `origin`'s log with its keys (roster.logKeys). */
export function openRange(origin: string, start: number, entries: Uint8Array[], keys: LogKeys): CheckedEntry[] {
  return entries.map((entry, i) => ({ ...openEntryWithKeys(entry, keys, origin, start + i), entry }))
}

/** Record ids → types of records accepted earlier in the same batch (not yet in the store). */
export type BatchContext = Map<string, string>

/**
 * Roster and reference checks for one record about to be appended to
 * `origin`'s log; `earlier` holds what the same batch accepted before it.
 */
export async function checkRecordSemantics(store: Store, roster: Roster, origin: string, record: CairnRecord, earlier: BatchContext): Promise<void> {
  roster.checkWriter(origin, record.type)
  if (record.type !== 'revocation') return
  const t = toHex(record.target)
  let targetType = earlier.get(t)
  if (targetType === undefined) {
    const loc = await store.locate(record.target)
    if (loc && loc.origin !== origin) {
      throw new LedgerError('UNKNOWN_TARGET', `a revocation is only valid in the log that wrote its target; ${t} is in ${loc.origin}, not ${origin}`)
    }
    // A redacted target was an indicator (only indicators can be redacted); its entry is gone.
    if (loc) targetType = (await store.isRedacted(origin, loc.index)) ? 'indicator' : decodeCheckedRecord(decodeEntry(await store.entry(origin, loc.index)).recordBytes).type
  }
  if (targetType === undefined) throw new LedgerError('UNKNOWN_TARGET', `revocation target ${t} is not an earlier record of ${origin}`)
  if (targetType !== 'indicator') throw new LedgerError('UNKNOWN_TARGET', `revocation target ${t} is a ${targetType} record, not an indicator`)
}

/**
 * checkRecordSemantics over a whole range of opened entries; the first failure
 * rejects the range. Only a revocation reads the store (its target), so the
 * other records are checked without an await each; a revocation's target
 * among the earlier records of the range is found by its first bytes instead
 * of by a hex string per record.
 */
export async function checkSemantics(store: Store, roster: Roster, origin: string, opened: CheckedEntry[]): Promise<AppendItem[]> {
  const items: AppendItem[] = new Array(opened.length)
  const byPrefix = new Map<number, number[]>() // first 4 bytes of an id → positions in the range, for positions < indexed
  let indexed = 0
  const prefixOf = (id: Uint8Array) => ((id[0]! << 24) | (id[1]! << 16) | (id[2]! << 8) | id[3]!) >>> 0
  for (let i = 0; i < opened.length; i++) {
    const o = opened[i]!
    const record = o.record
    if (record.type === 'revocation') {
      for (; indexed < i; indexed++) {
        const k = prefixOf(opened[indexed]!.id)
        const at = byPrefix.get(k)
        if (at) at.push(indexed)
        else byPrefix.set(k, [indexed])
      }
      const earlier: BatchContext = new Map()
      for (const j of byPrefix.get(prefixOf(record.target)) ?? []) {
        if (equalBytes(opened[j]!.id, record.target)) earlier.set(toHex(record.target), opened[j]!.record.type)
      }
      await checkRecordSemantics(store, roster, origin, record, earlier)
    } else {
      roster.checkWriter(origin, record.type) // all checkRecordSemantics does for a record that is not a revocation
    }
    items[i] = { entry: o.entry, id: o.id, record }
  }
  return items
}
