/** The jsonl snapshot rendered straight from the store (the route's other path), for the set-lines tests to compare files against. */
import { encodeCursor, type Sizes } from '../../protocol/feed-cursor.ts'
import { scanSet } from '../../node/provider/feed.ts'
import { jsonlLine, snapshotTrailer } from '../../node/provider/jsonl-line.ts'
import type { Store } from '../../node/storage/store.ts'

export async function referenceSnapshot(store: Store, sizes: Sizes): Promise<string> {
  let out = ''
  let count = 0
  for await (const ev of scanSet(store, sizes)) {
    if (ev.kind !== 'indicator') continue
    out += jsonlLine(ev.origin, ev.row.seq, ev.row.id, ev.row.record)
    count++
  }
  return out + (await snapshotTrailer(store, sizes, encodeCursor(sizes), count))
}
