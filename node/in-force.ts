/**
 * Which of a log's own indicators are "in force" for a value: the duplicate
 * check of the publisher (DUPLICATE_VALUE, spec/api.md). An indicator is in
 * force when it is in this log, has the same alg and value, and is
 *   - not revoked: no revocation of it is stored (it is still in the current set),
 *   - not redacted: its entry's payload was not deleted on legal order,
 *   - not expired: it has no `expires`, or `expires` is after the new record's time.
 * Category, kind, media and ref do not matter: the value is what a provider matches.
 */
import { toHex } from '../protocol/bytes.ts'
import { decodeEntry } from '../protocol/entry.ts'
import { decodeCheckedRecord, type Alg } from '../protocol/records.ts'
import type { Store } from './storage/store.ts'

export const valueKey = (alg: string, value: Uint8Array): string => `${alg}:${toHex(value)}`

type InForceStore = Pick<Store, 'idsForValues' | 'inCurrentSetMany' | 'locate' | 'isRedacted' | 'entry'>

/** The id (hex) of an indicator of `origin` in force for alg+value at time `now`, if any. */
export async function findInForce(store: InForceStore, origin: string, alg: Alg, value: Uint8Array, now: number): Promise<string | undefined> {
  return (await findInForceMany(store, origin, [{ alg, value }], now))[0]
}

/**
 * findInForce for every value of a batch: the value index is read in one
 * pass; only values some record already holds (rare) are looked at further.
 */
export async function findInForceMany(store: InForceStore, origin: string, items: readonly { alg: Alg; value: Uint8Array }[], now: number): Promise<(string | undefined)[]> {
  const idLists = await store.idsForValues(items)
  return Promise.all(idLists.map((ids) => ids.length === 0 ? undefined : inForceAmong(store, origin, ids, now)))
}

async function inForceAmong(store: InForceStore, origin: string, ids: Uint8Array[], now: number): Promise<string | undefined> {
  const current = await store.inCurrentSetMany(ids)
  for (const [i, id] of ids.entries()) {
    if (!current[i]) continue
    const at = await store.locate(id)
    if (!at || at.origin !== origin) continue
    if (await store.isRedacted(origin, at.index)) continue
    const record = decodeCheckedRecord(decodeEntry(await store.entry(origin, at.index)).recordBytes)
    if (record.type !== 'indicator') continue
    if (record.expires !== undefined && record.expires <= now) continue
    return toHex(id)
  }
  return undefined
}
