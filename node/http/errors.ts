/** The one table from LedgerError codes to HTTP statuses, and the JSON error shape `{error: {code, message}}`. */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { LedgerError, type ErrorCode } from '../../protocol/errors.ts'

const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  ROLE_FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_LOG: 404,
  OUT_OF_RANGE: 404,
  CONFLICT: 409,
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
  STORAGE_CORRUPT: 500,
  BAD_CONFIG: 500,
  PEER_REFUSED: 502,
  PEER_UNREACHABLE: 502,
  PEER_ERROR: 502,
}

/** Every other code is a problem with the request itself: 400. */
export function httpStatus(code: ErrorCode): ContentfulStatusCode {
  return STATUS[code] ?? 400
}

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } }
}

export function sendError(c: Context, e: unknown) {
  if (e instanceof LedgerError) return c.json(errorBody(e.code, e.message), httpStatus(e.code))
  // Anything else is our bug: say so without leaking internals.
  return c.json(errorBody('STORAGE_CORRUPT', 'internal error; the operator can find details in the node log'), 500)
}
