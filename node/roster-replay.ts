/**
 * At start, the roster is rebuilt from the genesis file plus every roster
 * change and confirmation stored in any log. Each record is fed with the key
 * that signed it (protocol/roster.ts decides from it whether a rotation
 * counts); a member's own rotation signed by a key the roster learns only
 * from a later record waits for it.
 */
import { decodeEntry } from '../protocol/entry.ts'
import { decodeCheckedRecord, type CairnRecord } from '../protocol/records.ts'
import { leafHash } from '../protocol/hash.ts'
import { entrySigner } from '../protocol/log-keys.ts'
import type { Roster } from './roster.ts'
import type { Store } from './storage/store.ts'

export async function replayRoster(store: Store, roster: Roster, federation: string): Promise<void> {
  // Each is fed with the key that signed it (roster.observe decides from it whether a rotation counts); a
  // member's own rotation signed by a key the roster learns only from a later record waits for it.
  const waiting: { origin: string; entry: Uint8Array; record: CairnRecord }[] = []
  const replayed = (origin: string, entry: Uint8Array, record: CairnRecord, last = false): boolean => {
    const signer = entrySigner(entry, roster.member(origin)?.logKeys ?? [])
    const ownRotation = record.type === 'roster' && record.change === 'rotate_key' && origin === `${federation}/${record.member}`
    if (!signer && ownRotation && !last) return false
    roster.observe(origin, leafHash(entry), record, signer)
    return true
  }
  for await (const ev of store.rosterEvents()) {
    const entry = await store.entry(ev.origin, ev.index)
    const record = decodeCheckedRecord(decodeEntry(entry).recordBytes)
    if (!replayed(ev.origin, entry, record)) waiting.push({ origin: ev.origin, entry, record })
  }
  for (let n = -1; waiting.length && n !== waiting.length;) {
    n = waiting.length
    waiting.splice(0, waiting.length, ...waiting.filter((w) => !replayed(w.origin, w.entry, w.record)))
  }
  for (const w of waiting) replayed(w.origin, w.entry, w.record, true)
}
