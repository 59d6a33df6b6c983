/**
 * Integrity of what the store holds: the damage record, the leaf an entry
 * must have, and the checks run at start (`quickCheck`) and by
 * `cairn node check` (`fullCheck`).
 *
 * What is trusted: the in-memory edge of each log (the partial right-most
 * tiles), checked when the store opens against the signed checkpoint it
 * holds (root of the checkpoint's size), and kept in memory from then on.
 * Everything else read from the store is checked before it is used: a full
 * tile folds to the hash the level above holds for it (tree.ts), an entry's
 * leaf hash (a redaction marker's notice id) equals the hash its level-0
 * tile holds (store.ts). A mismatch marks the log damaged; it is not served
 * until the damaged data is replaced by data that matches (replication/heal.ts).
 */
import { leafHash } from '../../protocol/hash.ts'
import { isRedactionMarker, markerNotice, readNoticeUnverified } from '../../protocol/redaction.ts'

/** What did not match: an entry, a full tile (at `level`), a full tile's stored inner nodes, or the edge (the root at the checkpoint). */
export interface Damage {
  origin: string
  what: 'entry' | 'tile' | 'inner' | 'edge'
  level: number
  /** Entry index, or tile index at `level`; for the edge, the checkpoint size. */
  index: number
  /** The store key (hex) that holds the damaged value. */
  key: string
}

/** The leaf hash an entry stands for: SHA-256(0x00 ‖ entry), or for a redaction marker the id its notice names. */
export function leafOf(stored: Uint8Array): Uint8Array | undefined {
  if (!isRedactionMarker(stored)) return leafHash(stored)
  try {
    return readNoticeUnverified(markerNotice(stored)).id
  } catch {
    return undefined // a marker that does not decode stands for no leaf: damaged
  }
}

export function damageMessage(d: Damage, serving: boolean): string {
  const where = d.what === 'entry' ? `entry ${d.index}` : d.what === 'edge' ? `the tree at its checkpoint size ${d.index}` : `${d.what === 'inner' ? 'the inner nodes of ' : ''}tile ${d.level}/${d.index}`
  const what = `log ${d.origin}: ${where} (store key ${d.key}) does not match the signed tree`
  return serving
    ? `${what}; this node serves nothing of that log until it has replaced the damaged data from a peer (try again shortly, or another node)`
    : `${what}; the log is withheld and is being healed from a peer`
}

/** The result of checking one log. */
export interface LogCheck {
  origin: string
  size: number
  checkpointSize: number
  entriesChecked: number
  tilesChecked: number
  /** The store-wide pass: rows whose checksums were read (kv.ts). */
  rowsChecked?: number
  /** The snapshot files' pass (check.ts): lines checked against the store. */
  linesChecked?: number
  /** One line per problem found (capped). */
  problems: string[]
}
