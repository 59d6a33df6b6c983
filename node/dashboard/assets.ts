/**
 * The dashboard's static files, served by the node itself (it may run
 * offline: no CDN): the page, its script and style sheet from this folder,
 * and Chart.js's UMD bundle from node_modules. Read once, with an ETag each.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'

export interface Asset {
  body: string
  type: string
  etag: string
}

const here = dirname(fileURLToPath(import.meta.url))

function chartJsPath(): string {
  // chart.js's exports map hides dist/, so find the package folder from its main entry.
  const main = createRequire(import.meta.url).resolve('chart.js')
  return join(dirname(main), 'chart.umd.min.js')
}

const FILES: Record<string, { path: () => string; type: string }> = {
  '/': { path: () => join(here, 'page.html'), type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { path: () => join(here, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { path: () => join(here, 'app.css'), type: 'text/css; charset=utf-8' },
  '/dashboard/chart.umd.js': { path: chartJsPath, type: 'text/javascript; charset=utf-8' },
}

export const ASSET_PATHS = Object.keys(FILES)

const cache = new Map<string, Asset>()

export function dashboardAsset(path: string): Asset | undefined {
  const f = FILES[path]
  if (!f) return undefined
  let a = cache.get(path)
  if (!a) {
    // The source map comment would make browsers ask for a file the node does not serve.
    const body = readFileSync(f.path(), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n')
    a = { body, type: f.type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }
    cache.set(path, a)
  }
  return a
}

/** The page may load only its own files and talk only to its own node. */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
