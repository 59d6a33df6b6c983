/**
 * A static mirror for tests and the bench, made without the node's writer: copies a
 * node's answers (GET /logs as logs.json, every log's checkpoint, hash tiles
 * and entry bundles) into a directory at the mirror layout's paths
 * (spec/api.md §A.12), and serves a directory on 127.0.0.1 the way a static
 * host behind a token-checking proxy would: entry bundles and snapshots only
 * with the bearer token, everything else open; `/r/<path>` answers 302 to
 * `/<path>` (a presigned-URL redirect's stand-in).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, normalize } from 'node:path'
import { tilesForTree, tilePath, entriesPath, TILE_WIDTH } from '../protocol/tiles.ts'
import { mapLimit } from '../client/verify.ts'

async function get(url: string, token: string): Promise<Uint8Array> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`)
  return new Uint8Array(await res.arrayBuffer())
}

function put(dir: string, path: string, data: Uint8Array): void {
  mkdirSync(dirname(join(dir, path)), { recursive: true })
  writeFileSync(join(dir, path), data)
}

/** Copies node `url` (read with an auditor token) into `dir` as a mirror; the checkpoint after its tiles and bundles, logs.json last. */
export async function copyNodeToMirror(url: string, token: string, dir: string): Promise<{ name: string; origin: string; size: number }[]> {
  const listing = await get(`${url}/logs`, token)
  const logs = JSON.parse(Buffer.from(listing).toString('utf8')) as { name: string; origin: string; size: number }[]
  for (const l of logs) {
    const prefix = `logs/${l.name}/`
    const checkpoint = await get(`${url}/${prefix}checkpoint`, token)
    const size = Number(Buffer.from(checkpoint).toString('utf8').split('\n')[1])
    const paths = [...tilesForTree(size)].map((t) => prefix + tilePath(t))
    for (let b = 0; b * TILE_WIDTH < size; b++) paths.push(prefix + entriesPath(b, Math.min(TILE_WIDTH, size - b * TILE_WIDTH)))
    await mapLimit(paths, 8, async (p) => put(dir, p, await get(`${url}/${p}`, token)))
    put(dir, `${prefix}checkpoint`, checkpoint)
  }
  put(dir, 'logs.json', listing)
  return logs
}

export interface StaticServer {
  url: string
  /** Bearer-token requests seen per restricted path (how many bundle reads a sync made). */
  restrictedReads: number
  close(): Promise<void>
}

/**
 * Serves `root` read-only; restricted paths (`…/tile/entries/…`, `…/snapshot/…`)
 * need `Authorization: Bearer <one of tokens>` — or, given a node's
 * `/mirror-auth` URL instead of a list, a token that node accepts (what
 * nginx's auth_request does in docs/deploy.md §8).
 */
export async function serveStatic(root: string, tokens: string[] | { authUrl: string }, host = '127.0.0.1'): Promise<StaticServer> {
  const allowed = async (authorization: string | undefined): Promise<boolean> => {
    if (Array.isArray(tokens)) return tokens.some((t) => authorization === `Bearer ${t}`)
    if (!authorization) return false
    const r = await fetch(tokens.authUrl, { headers: { authorization } }).catch(() => undefined)
    await r?.body?.cancel()
    return r?.status === 204
  }
  const s: StaticServer = { url: '', restrictedReads: 0, close: async () => undefined }
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    if (path.startsWith('/r/')) {
      res.writeHead(302, { location: path.slice(2) }).end()
      return
    }
    if (path.includes('/tile/entries/') || /(^|\/)snapshot\//.test(path)) {
      if (!(await allowed(req.headers.authorization))) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('a valid bearer token is required')
        return
      }
      s.restrictedReads++
    }
    const file = normalize(join(root, path))
    const data = file.startsWith(root) ? await readFile(file).catch(() => undefined) : undefined
    if (!data) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data)
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  s.url = `http://${host}:${(server.address() as AddressInfo).port}`
  s.close = () => new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
  return s
}
