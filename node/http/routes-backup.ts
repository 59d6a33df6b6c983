/**
 * GET /admin/backup (operator): the node's store, as of the moment the
 * request is served, streamed in the store frames of a backup file
 * (node/backup/format.ts). `cairn node backup` wraps them with the node
 * directory's files and the seal; the node never sends its keys.
 */
import { Hono } from 'hono'
import type { KV } from '../storage/kv.ts'
import { storeFrames } from '../backup/take.ts'
import { requireRole, type Env } from './request.ts'

export interface BackupRouteDeps {
  /** Sent as `Cairn-Origin`: the CLI checks it is the node of the directory it backs up. */
  origin: string
  /** The store's key-value layer: read through one snapshot (writes go on). */
  kv: Pick<KV, 'snapshot'>
}

export function backupRoutes(deps: BackupRouteDeps) {
  const r = new Hono<Env>()
  r.get('/admin/backup', requireRole('operator'), () => {
    const it = storeFrames(deps.kv)[Symbol.asyncIterator]()
    // Pulled as the client reads: a slow disk on the CLI side holds the read back, not memory.
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        const { value, done } = await it.next()
        if (done) ctrl.close()
        else ctrl.enqueue(value)
      },
      async cancel() {
        await it.return?.()
      },
    })
    return new Response(body, { status: 200, headers: { 'Content-Type': 'application/vnd.cairn.backup-store', 'Cache-Control': 'no-store', 'Cairn-Origin': deps.origin } })
  })
  return r
}
