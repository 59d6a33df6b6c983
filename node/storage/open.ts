/**
 * Opens a node's level store, reporting the progress of a format upgrade
 * (moving current-set members into the record index) at most every 5 s, and
 * its value filter (value-filter.ts): read from the file the node kept when it
 * last closed if the store's logs still have the roots written in it, else
 * filled by a scan of the value index in the background. `closeStore` keeps
 * the file, then closes the store.
 *
 * The file (<node dir>/value-filter, 0600): one JSON line (format, byte order,
 * each log's size and root, the store's redaction digest, the counts, the
 * bits' length and CRC-32), then the filter's bits.
 */
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { endianness } from 'node:os'
import { crc32 } from 'node:zlib'
import { LevelKV } from './kv.ts'
import { replaceFile } from '../../client/durable-file.ts'
import { toHex } from '../../protocol/bytes.ts'
import { Store, type ValueFilterState } from './store.ts'
import type { Logger } from '../logger.ts'

const FILTER_FORMAT = 'cairn-value-filter/1'

/** Where the node with its store at `dbPath` keeps its value filter. */
export function valueFilterPath(dbPath: string): string {
  return join(dirname(dbPath), 'value-filter')
}

/** Takes the value filter from its file if it covers the store as it is; else why not. */
export async function loadValueFilter(dbPath: string, store: Store): Promise<true | string> {
  let buf: Buffer
  try {
    buf = await readFile(valueFilterPath(dbPath))
  } catch {
    return 'no value-filter file (a first start, or the node did not close cleanly)'
  }
  const nl = buf.indexOf(10)
  let head: { format?: unknown; endian?: unknown; logs?: ValueFilterState['logs']; redactions?: unknown; added?: number; capacity?: number; bytes?: number; crc?: number }
  try {
    head = JSON.parse(buf.subarray(0, Math.max(nl, 0)).toString('utf8')) as typeof head
  } catch {
    return 'the value-filter file does not start with its JSON line'
  }
  if (head.format !== FILTER_FORMAT || head.endian !== endianness()) return `the value-filter file is not of format ${FILTER_FORMAT} written on this byte order`
  const bits = buf.subarray(nl + 1)
  if (bits.length !== head.bytes || crc32(bits) !== head.crc) return 'the value-filter file does not match its checksum'
  // A store with other redactions (an older copy, say) may hold values the filter was filled without.
  if (head.redactions !== toHex(await store.redactionDigest())) return 'the store\'s redactions are not the ones the filter was kept with'
  return store.adoptValueFilter({ logs: head.logs ?? {}, bits, added: Number(head.added), capacity: Number(head.capacity) })
}

/** Writes the value filter to its file (atomically) if it is filled; false if it is not. */
export async function saveValueFilter(dbPath: string, store: Store): Promise<boolean> {
  const st = store.valueFilterState()
  if (!st) return false
  const head = { format: FILTER_FORMAT, endian: endianness(), logs: st.logs, redactions: toHex(await store.redactionDigest()), added: st.added, capacity: st.capacity, bytes: st.bits.length, crc: crc32(st.bits) }
  await replaceFile(valueFilterPath(dbPath), [JSON.stringify(head) + '\n', st.bits], 0o600)
  return true
}

/** Keeps the value filter for the next start (value-filter.ts), then closes the store. */
export async function closeStore(dbPath: string, store: Store, log: Logger): Promise<void> {
  try {
    await saveValueFilter(dbPath, store)
  } catch (e) {
    log.warn(`value filter not kept (${(e as Error).message}); the next start fills it by a scan of the value index`)
  }
  await store.close()
}

export async function openStore(path: string, log: Logger, o: { minFreeBytes?: number } = {}): Promise<{ kv: LevelKV; store: Store }> {
  let rowsSaid = performance.now()
  let rowsUpgraded = 0
  const kv = await LevelKV.open(path, {
    ...o,
    onUpgrade: (rows) => {
      rowsUpgraded = rows
      if (performance.now() - rowsSaid < 5000) return
      rowsSaid = performance.now()
      log.info(`store upgrade: ${rows} rows given their checksums so far`)
    },
  })
  if (rowsUpgraded > 0) log.info(`store upgraded: ${rowsUpgraded} rows given their checksums`)
  let upgradeSaid = performance.now()
  const store = await Store.open(kv, {
    onUpgrade: (moved, members) => {
      if (performance.now() - upgradeSaid < 5000) return
      upgradeSaid = performance.now()
      log.info(`store upgrade: ${moved} of ${members} current-set members moved into the record index so far`)
    },
  })
  if (store.upgradedSetMembers > 0) log.info(`store upgraded: ${store.upgradedSetMembers} current-set members moved into the record index`)
  const kept = await loadValueFilter(path, store)
  if (kept === true) {
    log.info('value filter read from its file: the duplicate check reads the value index only for values it may hold')
    return { kv, store }
  }
  log.info(`value filter: filling it by a scan of the value index (${kept})`)
  const t0 = performance.now()
  store.fillValueFilter().then(
    (n) => n !== undefined && log.info({ values: n, ms: Math.round(performance.now() - t0) }, 'value filter ready: the duplicate check reads the value index only for values it may hold'),
    (e) => log.warn({ err: e }, 'value filter not filled: the duplicate check reads the value index for every value'),
  )
  return { kv, store }
}
