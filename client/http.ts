/**
 * The one HTTP client of a node's API that the CLI, a provider's sync and an
 * auditor's verifier share: a request with the bearer token, and one decoder
 * that turns an error answer into the LedgerError it describes.
 */
import { LedgerError, ERROR_CODES, type ErrorCode } from '../protocol/errors.ts'

/** A node's API: base URL (no trailing slash) and the bearer token, if any. */
export interface Endpoint {
  url: string
  token?: string
  /** fetch to use (tests inject faults); the global one by default. */
  fetch?: typeof fetch
}

/** Code for an error answer whose body names none. */
function codeOfStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED'
  if (status === 403) return 'FORBIDDEN'
  if (status === 404) return 'NOT_FOUND'
  if (status >= 500) return 'PEER_ERROR'
  return 'BAD_REQUEST'
}

/**
 * The LedgerError an error answer stands for: the code and message of its JSON
 * body `{"error":{"code","message"}}` when it names a known code, else one
 * from the status. `what` says which call it was (e.g. "GET /feed").
 */
export function errorFromResponse(status: number, body: string, what: string): LedgerError {
  let code = codeOfStatus(status)
  let message = body.trim().slice(0, 300) || `status ${status}`
  try {
    const j = JSON.parse(body) as { error?: { code?: string; message?: string } }
    if (j.error?.code && (ERROR_CODES as readonly string[]).includes(j.error.code)) code = j.error.code as ErrorCode
    if (j.error?.message) message = j.error.message
  } catch {
    // not JSON: keep the text
  }
  return new LedgerError(code, `${what}: ${status} ${message}`)
}

export interface RequestOptions {
  body?: unknown
  accept?: string
  timeoutMs?: number
}

/** One request; an answer that is not 2xx throws its LedgerError, an unreachable node PEER_UNREACHABLE. */
export async function request(ep: Endpoint, method: string, path: string, o: RequestOptions = {}): Promise<Response> {
  let res: Response
  try {
    res = await (ep.fetch ?? fetch)(ep.url + path, {
      method,
      headers: {
        ...(ep.token ? { authorization: `Bearer ${ep.token}` } : {}),
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(o.accept ? { accept: o.accept } : {}),
      },
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: o.timeoutMs ? AbortSignal.timeout(o.timeoutMs) : undefined,
    })
  } catch (e) {
    throw new LedgerError('PEER_UNREACHABLE', `cannot reach the node at ${ep.url}: ${(e as Error).message}`)
  }
  if (!res.ok) throw errorFromResponse(res.status, await res.text(), `${method} ${path.split('?')[0]}`)
  return res
}

/** Calls the API and parses the JSON answer (or returns the text when `accept` is not JSON). */
export async function api<T = unknown>(ep: Endpoint, method: string, path: string, body?: unknown, accept = 'application/json'): Promise<T> {
  const res = await request(ep, method, path, { body, accept })
  const text = await res.text()
  if (accept !== 'application/json') return text as T
  try {
    return JSON.parse(text) as T
  } catch {
    throw new LedgerError('PEER_ERROR', `${ep.url} answered ${path.split('?')[0]} with something that is not JSON`)
  }
}
