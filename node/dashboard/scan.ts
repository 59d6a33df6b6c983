/**
 * Reading a log's records in order, a chunk of entries at a time: the one
 * loop behind the dashboard's aggregates and the transparency report. Entries
 * in the store were verified before they were stored, so only decoding is
 * done here (no signature checks).
 */
import { decodeEntry } from '../../protocol/entry.ts'
import { decodeRecord, type CairnRecord } from '../../protocol/records.ts'
import type { Store } from '../storage/store.ts'

const CHUNK = 2048

export interface IndexedRecord {
  index: number
  record: CairnRecord
}

/** The records of entries [start, end) of `origin`, in index order. */
export async function* logRecords(store: Store, origin: string, start: number, end: number, chunk = CHUNK): AsyncIterable<IndexedRecord> {
  for (let i = start; i < end; i += chunk) {
    const entries = await store.entries(origin, i, Math.min(end, i + chunk))
    for (let k = 0; k < entries.length; k++) {
      yield { index: i + k, record: decodeRecord(decodeEntry(entries[k]!).recordBytes) }
    }
  }
}

/** The record stored under a record id, with its log and index; undefined when this node holds no such entry. */
export async function recordById(store: Store, id: Uint8Array): Promise<{ origin: string; index: number; record: CairnRecord } | undefined> {
  const at = await store.locate(id)
  if (!at) return undefined
  const entry = await store.entry(at.origin, at.index)
  return { ...at, record: decodeRecord(decodeEntry(entry).recordBytes) }
}

export function bump(o: Record<string, number>, k: string, by = 1): void {
  o[k] = (o[k] ?? 0) + by
}
