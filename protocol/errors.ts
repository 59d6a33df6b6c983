/**
 * One error class for every rejection in cairn, with a closed set of codes.
 * The HTTP layer maps codes to status codes in one table (node/http), the CLI
 * maps them to exit codes; messages tell the user what to do.
 */
export const ERROR_CODES = [
  // canonical CBOR and entry framing
  'MALFORMED_CBOR',
  'NON_CANONICAL_CBOR',
  'TOO_LARGE',
  'MALFORMED_ENTRY',
  // record schema
  'UNKNOWN_FIELD',
  'MISSING_FIELD',
  'BAD_FIELD',
  'BAD_VERSION',
  'UNKNOWN_TYPE',
  'BAD_ALG',
  'BAD_VALUE_LENGTH',
  'DEGENERATE_HASH',
  'LOW_QUALITY',
  'BAD_CATEGORY',
  'BAD_KIND',
  'BAD_MEDIA',
  'BAD_REF',
  'BAD_REASON',
  'BAD_OPINION',
  'BAD_VERDICT', // a provider report's verdict is not false_positive or true_positive
  'BAD_ROSTER_CHANGE',
  // keys and signatures
  'BAD_PUBLIC_KEY',
  'BAD_SIGNATURE',
  'BAD_VERIFIER_KEY',
  // Merkle trees and proofs
  'OUT_OF_RANGE',
  'BAD_PROOF',
  'INCONSISTENT_CHECKPOINT',
  'BAD_TILE',
  // notes, checkpoints, cosignatures, tlog-proof
  'MALFORMED_NOTE',
  'UNKNOWN_KEY',
  'MALFORMED_CHECKPOINT',
  'WRONG_ORIGIN',
  'BAD_COSIGNATURE',
  'MALFORMED_PROOF',
  'NOT_EQUIVOCATION',
  // federation and node
  'UNKNOWN_LOG',
  'LOG_FROZEN',
  'ROLE_FORBIDDEN',
  'WRONG_LOG',
  'SEQ_MISMATCH',
  'UNKNOWN_TARGET',
  'NOT_FOUND',
  'CONFLICT',
  'DUPLICATE_VALUE', // the centre already has this alg+value in force in its own log (allow_duplicate to publish another record)
  'IDEMPOTENCY_KEY_REUSED', // an Idempotency-Key sent again with a different request body
  'UNAUTHORIZED',
  'FORBIDDEN',
  'BAD_REQUEST',
  'PEER_REFUSED',
  'PEER_UNREACHABLE', // dial failed, timed out, or the stream ended before the message was complete
  'PEER_ERROR', // the peer answered a request with an error (its code is in `cause`)
  'STORAGE_CORRUPT',
  'STORAGE_FULL', // the disk holding the node's store is full: writes are refused until space returns
  'STORAGE_UNAVAILABLE', // a write to the store failed with an I/O error: writes are refused until the node is restarted
  'INTERNAL', // an unexpected failure in the node (a bug, or an operating-system error); details in the node log
  'RATE_LIMITED', // too many requests from one token or address: retry after the Retry-After header's seconds
  'BAD_CONFIG',
  'BAD_REDACTION', // a redaction notice or marker that is malformed or does not name the leaf at its index
  // credentials every member accepts (spec/credentials.md)
  'BAD_CREDENTIAL', // a credential or revocation statement that is malformed (framing, base64url, field values)
  'UNKNOWN_ISSUER', // the credential's issuer is not an active member of the roster this node holds
  'KEY_COMPROMISED', // signed by a log key the roster marks compromised
  'CREDENTIAL_EXPIRED',
  'CREDENTIAL_REVOKED', // its issuer revoked it
  // client-side hashing
  'BAD_IMAGE', // a file in an image format that cannot be decoded: corrupt, truncated or unsupported
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

export class LedgerError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LedgerError'
    this.code = code
  }
}

export function isLedgerError(e: unknown, code?: ErrorCode): e is LedgerError {
  return e instanceof LedgerError && (code === undefined || e.code === code)
}

/** Throws `LedgerError(code, message)` unless `condition` holds. */
export function ensure(condition: unknown, code: ErrorCode, message: string): asserts condition {
  if (!condition) throw new LedgerError(code, message)
}
