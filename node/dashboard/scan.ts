/**
 * Reading a log's records in order, a chunk of entries at a time: the one
 * loop behind the dashboard's aggregates and the transparency report. Entries
 * in the store were verified before they were stored, so only decoding is
 * done here (no signature checks). A redacted entry (spec/redaction.md) is a
 * marker in the store: it yields its notice (who, when, why) instead of a record.
 */
import { decodeEntry } from '../../protocol/entry.ts'
import { decodeCheckedRecord, type CairnRecord } from '../../protocol/records.ts'
import { isRedactionMarker, markerNotice, readNoticeUnverified, type RedactionNotice } from '../../protocol/redaction.ts'
import type { StoreReader } from '../storage/store.ts'

const CHUNK = 2048

export type IndexedRecord =
  | { index: number; record: CairnRecord; redaction?: undefined }
  | { index: number; record?: undefined; redaction: RedactionNotice }

function read(index: number, bytes: Uint8Array): IndexedRecord {
  if (isRedactionMarker(bytes)) return { index, redaction: readNoticeUnverified(markerNotice(bytes)) }
  return { index, record: decodeCheckedRecord(decodeEntry(bytes).recordBytes) }
}

/** The records (or redaction notices) of entries [start, end) of `origin`, in index order. */
export async function* logRecords(store: Pick<StoreReader, 'entries'>, origin: string, start: number, end: number, chunk = CHUNK): AsyncIterable<IndexedRecord> {
  for (let i = start; i < end; i += chunk) {
    const entries = await store.entries(origin, i, Math.min(end, i + chunk))
    for (let k = 0; k < entries.length; k++) yield read(i + k, entries[k]!)
  }
}

/** The entry stored under a record id, with its log and index; undefined when this node holds no such entry. */
export async function recordById(store: Pick<StoreReader, 'locate' | 'entry'>, id: Uint8Array): Promise<(IndexedRecord & { origin: string }) | undefined> {
  const at = await store.locate(id)
  if (!at) return undefined
  return { ...read(at.index, await store.entry(at.origin, at.index)), origin: at.origin }
}

export function bump(o: Record<string, number>, k: string, by = 1): void {
  o[k] = (o[k] ?? 0) + by
}
