/**
 * The list of logs a node holds, as GET /logs answers it and the static
 * mirror writes it (logs.json): name, origin, keys, published size, whether
 * frozen, whether its writer is an active member.
 */
import type { StoreReader, LogInfo } from './storage/store.ts'
import type { Roster } from './roster.ts'

export interface LogListEntry {
  name: string
  origin: string
  vkey: string | null
  witness_vkey: string | null
  size: number
  frozen: boolean
  active: boolean
}

/** One entry per log; `logs` defaults to the store's own list (the mirror passes the sizes it has written). */
export function logList(store: Pick<StoreReader, 'listLogs'>, roster: Pick<Roster, 'member'>, logs: Pick<LogInfo, 'origin' | 'checkpointSize' | 'frozen'>[] = store.listLogs()): LogListEntry[] {
  return logs.map((l) => {
    const m = roster.member(l.origin)
    return {
      name: l.origin.split('/')[1]!, origin: l.origin, vkey: m?.vkey ?? null, witness_vkey: m?.witnessVkey ?? null,
      size: l.checkpointSize, frozen: l.frozen, active: m?.active ?? false,
    }
  })
}
