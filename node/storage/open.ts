/**
 * Opens a node's level store, reporting the progress of a format upgrade
 * (moving current-set members into the record index) at most every 5 s.
 */
import { LevelKV } from './kv.ts'
import { Store } from './store.ts'
import type { Logger } from '../logger.ts'

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
  const t0 = performance.now()
  store.fillValueFilter().then(
    (n) => log.info({ values: n, ms: Math.round(performance.now() - t0) }, 'value filter ready: the duplicate check reads the value index only for values it may hold'),
    (e) => log.warn({ err: e }, 'value filter not filled: the duplicate check reads the value index for every value'),
  )
  return { kv, store }
}
