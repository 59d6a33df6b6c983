/**
 * The one table from LedgerError codes to HTTP statuses, the JSON error shape
 * `{error: {code, message, request_id}}`, and what an exception that is not a
 * LedgerError stands for: a full disk is STORAGE_FULL (507), anything else
 * INTERNAL (500) — never a claim that the store is damaged.
 */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { LedgerError, type ErrorCode } from '../../protocol/errors.ts'

const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  UNAUTHORIZED: 401,
  CREDENTIAL_EXPIRED: 401,
  CREDENTIAL_REVOKED: 401,
  FORBIDDEN: 403,
  ROLE_FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_LOG: 404,
  OUT_OF_RANGE: 404,
  CONFLICT: 409,
  DUPLICATE_VALUE: 409,
  LOG_FROZEN: 409,
  TOO_LARGE: 413,
  BAD_PROOF: 422,
  INCONSISTENT_CHECKPOINT: 422,
  UNKNOWN_TARGET: 422,
  BAD_COSIGNATURE: 422,
  NOT_EQUIVOCATION: 422,
  BAD_SIGNATURE: 422,
  UNKNOWN_KEY: 422,
  WRONG_ORIGIN: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  STORAGE_CORRUPT: 500,
  INTERNAL: 500,
  BAD_CONFIG: 500,
  PEER_REFUSED: 502,
  PEER_UNREACHABLE: 502,
  PEER_ERROR: 502,
  STORAGE_FULL: 507,
  STORAGE_UNAVAILABLE: 503,
}

/** Every other code is a problem with the request itself: 400. */
export function httpStatus(code: ErrorCode): ContentfulStatusCode {
  return STATUS[code] ?? 400
}

export function errorBody(code: ErrorCode, message: string, requestId?: string) {
  return { error: requestId === undefined ? { code, message } : { code, message, request_id: requestId } }
}

/** True when `e` (or an error in its `cause` chain) is the operating system's "no space left on device". */
export function isDiskFull(e: unknown): boolean {
  let x = e
  for (let depth = 0; x !== null && typeof x === 'object' && depth < 5; depth++) {
    const { code, message } = x as { code?: unknown; message?: unknown }
    if (code === 'ENOSPC') return true
    // level reports it as LEVEL_IO_ERROR with LevelDB's status text: "IO error: <file>: No space left on device".
    if (typeof message === 'string' && /\bENOSPC\b|no space left on device/i.test(message)) return true
    x = (x as { cause?: unknown }).cause
  }
  return false
}

/** The LedgerError an exception is answered with. The original stays as its `cause`, for the node log. */
export function asLedgerError(e: unknown): LedgerError {
  if (e instanceof LedgerError) return e
  if (isDiskFull(e)) {
    return new LedgerError('STORAGE_FULL', 'the disk holding this node\'s store is full; nothing of this request was stored. Retry once the operator has freed space', { cause: e })
  }
  return new LedgerError('INTERNAL', 'internal error; the operator can find the cause in the node log under this request id', { cause: e })
}

export function sendError(c: Context, e: unknown) {
  const le = asLedgerError(e)
  const requestId = c.get('requestId') as string | undefined
  // The cause goes to the node log with the request id (./app.ts, from hono's c.error), never to the client.
  return c.json(errorBody(le.code, le.message, requestId), httpStatus(le.code))
}
