/**
 * The node's part in serving its static mirror (node/mirror/, spec/api.md
 * A.12):
 *
 *   GET /mirror-auth    for a reverse proxy's auth_request in front of a
 *                       mirror directory: 204 for a valid provider or
 *                       auditor token, 401 without one or with a bad one,
 *                       403 for another role (counted and access-logged by
 *                       the guard, as every route)
 *   GET /mirror/<path>  S3 mirrors: 302 to a URL of the object, presigned
 *                       for 300 s; restricted paths (entry bundles,
 *                       snapshots) need a provider or auditor token, public
 *                       ones none. 404 for a path outside the mirror's
 *                       layout, or when this node has no S3 mirror.
 */
import { Hono } from 'hono'
import { LedgerError } from '../../protocol/errors.ts'
import { parseMirrorPath, type MirrorFile } from '../mirror/index.ts'
import type { ApiRole } from '../tokens.ts'
import { requireRole, type Env } from './request.ts'

/** Who may read the restricted part of a mirror (indicator values). */
export const MIRROR_READERS: ApiRole[] = ['provider', 'auditor']

export interface MirrorRouteDeps {
  /** A presigned GET URL of a file of the node's S3 mirror; absent when it has none. */
  mirrorPresign?: (file: MirrorFile) => Promise<string>
}

export function mirrorRoutes(deps: MirrorRouteDeps) {
  const r = new Hono<Env>()
  const readers = requireRole(...MIRROR_READERS)

  r.get('/mirror-auth', readers, (c) => {
    c.header('Cache-Control', 'no-store')
    return c.body(null, 204)
  })

  r.get('/mirror/*', async (c) => {
    if (!deps.mirrorPresign) throw new LedgerError('NOT_FOUND', 'this node writes no S3 mirror (node.json mirror.s3)')
    const file = parseMirrorPath(c.req.path.slice('/mirror/'.length))
    const go = async () => {
      c.header('Cache-Control', 'no-store')
      return c.redirect(await deps.mirrorPresign!(file), 302)
    }
    if (!file.restricted) return go()
    let res: Response | undefined
    await readers(c, async () => {
      res = await go()
    })
    return res!
  })
  return r
}
