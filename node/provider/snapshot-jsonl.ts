/**
 * The whole current set as jsonl, as GET /feed/snapshot?format=jsonl answers
 * without a filter: from the set-line files once they hold the sizes asked
 * (./set-lines.ts), else rendered from the store; the last line names the
 * cursor and the cosigned checkpoints (./jsonl-line.ts snapshotTrailer).
 * With `entries` (GET /feed/snapshot?format=jsonl&entries=1) every line ends
 * with the stored signed entry it shows, read through the store's checked
 * path (never from the set-line files): rendered from the store. The static
 * mirror writes these bytes, with entries, as snapshot/<cursor>.jsonl.
 */
import type { Store } from '../storage/store.ts'
import type { SetLines } from './set-lines.ts'
import { opinionFragment, type OpinionIndex } from './opinions.ts'
import { jsonlLine, snapshotTrailer, entryFragment } from './jsonl-line.ts'
import { scanSet } from './feed.ts'

export interface JsonlSnapshotDeps {
  store: Store
  setLines: Pick<SetLines, 'ready' | 'stream'>
  opinions: OpinionIndex
}

const CHUNK = 64 * 1024

/** The snapshot of `sizes` (publishedSizes of the store), whose cursor is `cursor`, in ~64 KiB chunks; `entries`: each line with its entry. */
export async function* jsonlSnapshot(deps: JsonlSnapshotDeps, sizes: ReadonlyMap<string, number>, cursor: string, o: { entries?: boolean } = {}): AsyncGenerator<Uint8Array> {
  const { store, setLines, opinions } = deps
  await opinions.upTo()
  if (!o.entries && await setLines.ready(sizes)) {
    const extras = (origin: string, size: number) => new Map([...opinions.attestedEntries(origin, size, sizes)].map(([i, o]) => [i, opinionFragment(o)]))
    yield* setLines.stream(sizes, cursor, extras)
    return
  }
  const enc = new TextEncoder()
  let out = ''
  let count = 0
  for await (const ev of scanSet(store, new Map(sizes))) {
    if (out.length >= CHUNK) {
      yield enc.encode(out)
      out = ''
    }
    if (ev.kind === 'log') continue
    const { row } = ev
    count++
    out += jsonlLine(ev.origin, row.seq, row.id, row.record, opinionFragment(opinions.opinions(row.id, sizes)) + (o.entries ? entryFragment(row.entry) : ''))
  }
  out += await snapshotTrailer(store, sizes, cursor, count)
  yield enc.encode(out)
}

/** The cosigned checkpoint of each log at its size in `sizes` (the trailer's), for snapshot/latest.json. */
export async function snapshotCheckpoints(store: Pick<Store, 'checkpointAt'>, sizes: ReadonlyMap<string, number>): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const [origin, size] of sizes) {
    const note = size > 0 ? await store.checkpointAt(origin, size) : undefined
    if (note !== undefined) out[origin] = note
  }
  return out
}
