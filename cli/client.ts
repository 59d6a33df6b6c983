/**
 * The CLI's view of a node's API: base URL and token, either given
 * (--node, --token) or read from a node directory (--dir: node.url written at
 * start, operator.token written once).
 */
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { LedgerError, ERROR_CODES, type ErrorCode } from '../protocol/errors.ts'

export interface Target {
  url: string
  token?: string
}

export function resolveTarget(o: { node?: string; token?: string; dir?: string }): Target {
  if (o.node) return { url: o.node.replace(/\/$/, ''), token: o.token ?? process.env.CAIRN_TOKEN }
  const dir = o.dir ?? process.env.CAIRN_DIR
  if (!dir) throw new LedgerError('BAD_CONFIG', 'say which node: --dir <node directory> (on the node\'s machine) or --node <url> --token <token>')
  const urlFile = join(dir, 'node.url')
  if (!existsSync(urlFile)) throw new LedgerError('BAD_CONFIG', `${urlFile} is missing: is the node running? (cairn node start --dir ${dir})`)
  const tokenFile = join(dir, 'operator.token')
  return {
    url: readFileSync(urlFile, 'utf8').trim(),
    token: o.token ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined),
  }
}

/** Calls the API; a JSON error body becomes the LedgerError it describes. */
export async function api<T = unknown>(t: Target, method: string, path: string, body?: unknown, accept = 'application/json'): Promise<T> {
  let res: Response
  try {
    res = await fetch(t.url + path, {
      method,
      headers: {
        ...(t.token ? { authorization: `Bearer ${t.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        accept,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (e) {
    throw new LedgerError('PEER_UNREACHABLE', `cannot reach the node at ${t.url}: ${(e as Error).message}`)
  }
  const text = await res.text()
  if (!res.ok) {
    let code: ErrorCode = 'BAD_REQUEST'
    let message = text.trim() || res.statusText
    try {
      const j = JSON.parse(text) as { error?: { code?: string; message?: string } }
      if (j.error?.code && (ERROR_CODES as readonly string[]).includes(j.error.code)) code = j.error.code as ErrorCode
      if (j.error?.message) message = j.error.message
    } catch {
      if (res.status === 401) code = 'UNAUTHORIZED'
      else if (res.status === 403) code = 'FORBIDDEN'
      else if (res.status === 404) code = 'NOT_FOUND'
    }
    throw new LedgerError(code, `${method} ${path}: ${res.status} ${message}`)
  }
  if (accept === 'application/json') return JSON.parse(text) as T
  return text as T
}
