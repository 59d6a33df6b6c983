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
  /** Told each time a rate-limited request is about to be retried (e.g. to print a line). */
  onRetry?: (message: string) => void
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

/** How often a 429 is retried, and the longest Retry-After waited for: a longer one is the caller's to decide on. */
const RATE_LIMIT_RETRIES = 3
const MAX_RETRY_AFTER_S = 30

/**
 * Seconds a 429's Retry-After asks for (delta-seconds or an HTTP date), or
 * undefined when it is missing, unreadable or longer than we wait.
 */
export function retryAfterSeconds(header: string | null, nowMs = Date.now()): number | undefined {
  if (header === null) return undefined
  const text = header.trim()
  const s = /^\d{1,6}$/.test(text) ? Number(text) : /^[A-Za-z]{3}, /.test(text) ? Math.ceil((Date.parse(text) - nowMs) / 1000) : NaN
  if (!Number.isFinite(s)) return undefined
  const wait = Math.max(0, s)
  return wait <= MAX_RETRY_AFTER_S ? wait : undefined
}

/**
 * One request; an answer that is not 2xx throws its LedgerError, an
 * unreachable node PEER_UNREACHABLE. A 429 (RATE_LIMITED) is retried after
 * its Retry-After, up to three times — the node refuses such a request
 * before doing anything, so resending it (a POST too) is safe.
 */
export async function request(ep: Endpoint, method: string, path: string, o: RequestOptions = {}): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
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
    if (res.ok) return res
    const wait = res.status === 429 && attempt < RATE_LIMIT_RETRIES ? retryAfterSeconds(res.headers.get('retry-after')) : undefined
    if (wait === undefined) throw errorFromResponse(res.status, await res.text(), `${method} ${path.split('?')[0]}`)
    await res.body?.cancel()
    ep.onRetry?.(`${method} ${path.split('?')[0]}: rate limited by the node; retrying in ${wait} s`)
    await new Promise((r) => setTimeout(r, wait * 1000))
  }
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
