/**
 * Provider feedback on an indicator (spec/api.md §A.11): a provider says a
 * record's indicator matched content it judged a false (or a true) positive.
 * A report names the record, a verdict, a reason from a closed set, and
 * optionally the provider's case reference as a pseudonym — never the
 * content, its hash, or anything about a user. This file holds the closed
 * sets, the strict parser of a report as a client sends it, and the report
 * id: one per (node it was made at, provider, record), so a repeat is the
 * same report everywhere, whichever node or retry carries it.
 */
import { concat, fromHex, sha256, toHex, utf8 } from './bytes.ts'
import { LedgerError } from './errors.ts'
import { isRefPseudonym } from './case-ref.ts'

export const FEEDBACK_VERDICTS = ['false_positive', 'true_positive'] as const
export type FeedbackVerdict = (typeof FEEDBACK_VERDICTS)[number]

/**
 * Reasons, per verdict. False positive: `benign_content` (the matched content
 * is not abuse material), `hash_collision` (different content with the same
 * or a near hash), `adult_content` (sexual content of adults, not of a
 * child). True positive: `confirmed` (reviewed, it is what the indicator
 * says), `wrong_category` (abuse material, but of another category).
 * `unspecified` for either, and the default.
 */
export const FEEDBACK_REASONS = {
  false_positive: ['benign_content', 'hash_collision', 'adult_content', 'unspecified'],
  true_positive: ['confirmed', 'wrong_category', 'unspecified'],
} as const satisfies Record<FeedbackVerdict, readonly string[]>
export type FeedbackReason = (typeof FEEDBACK_REASONS)[FeedbackVerdict][number]
export const ALL_FEEDBACK_REASONS: readonly FeedbackReason[] = [...new Set(Object.values(FEEDBACK_REASONS).flat())]

/** What the adding centre decided about a record it was told about: an attestation (confirm) or a revocation. */
export const FEEDBACK_DECISIONS = ['confirm', 'revoke'] as const
export type FeedbackDecision = (typeof FEEDBACK_DECISIONS)[number]

/** A report as a provider sends it (POST /feedback). */
export interface FeedbackInput {
  /** Record id, 64 lowercase hex digits. */
  record: string
  verdict: FeedbackVerdict
  reason: FeedbackReason
  /** The provider's case reference, pseudonymised (`p1:` ‖ 32 hex digits). */
  ref?: string
}

const FIELDS = ['record', 'verdict', 'reason', 'ref']
/** Largest JSON body POST /feedback reads (a report is ~200 bytes). */
export const MAX_FEEDBACK_BODY_BYTES = 1024

export function isVerdict(v: unknown): v is FeedbackVerdict {
  return (FEEDBACK_VERDICTS as readonly unknown[]).includes(v)
}

export function isReasonFor(verdict: FeedbackVerdict, reason: unknown): reason is FeedbackReason {
  return (FEEDBACK_REASONS[verdict] as readonly unknown[]).includes(reason)
}

/** Parses a report strictly: exactly the known keys, each of its type and set; throws a LedgerError naming the first fault. */
export function parseFeedbackInput(json: unknown): FeedbackInput {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new LedgerError('BAD_REQUEST', 'a report is a JSON object {"record", "verdict", "reason"?, "ref"?}')
  for (const k of Object.keys(json)) if (!FIELDS.includes(k)) throw new LedgerError('UNKNOWN_FIELD', `unknown field ${JSON.stringify(k.slice(0, 40))}: a report has only record, verdict, reason and ref (never content or user data)`)
  const o = json as Record<string, unknown>
  if (o.record === undefined) throw new LedgerError('MISSING_FIELD', 'record is required: the record id (64 hex digits) that cairn match printed')
  if (typeof o.record !== 'string' || !/^[0-9a-fA-F]{64}$/.test(o.record)) throw new LedgerError('BAD_FIELD', 'record is a record id: 64 hex digits')
  if (o.verdict === undefined) throw new LedgerError('MISSING_FIELD', `verdict is required: ${FEEDBACK_VERDICTS.join(' or ')}`)
  if (!isVerdict(o.verdict)) throw new LedgerError('BAD_VERDICT', `verdict must be ${FEEDBACK_VERDICTS.join(' or ')}`)
  const reason = o.reason ?? 'unspecified'
  if (!isReasonFor(o.verdict, reason)) throw new LedgerError('BAD_REASON', `reason for ${o.verdict} must be one of ${FEEDBACK_REASONS[o.verdict].join(', ')}`)
  const out: FeedbackInput = { record: o.record.toLowerCase(), verdict: o.verdict, reason }
  if (o.ref !== undefined) {
    if (typeof o.ref !== 'string' || !isRefPseudonym(o.ref)) {
      throw new LedgerError('BAD_REF', 'ref must be a case-reference pseudonym, p1: and 32 lowercase hex digits; cairn feedback --ref makes one from your own reference with your key, so the raw reference never leaves you')
    }
    out.ref = o.ref
  }
  return out
}

/** Provider names as nodes know them: a token holder's name (node/tokens.ts). */
const PROVIDER_RE = /^[A-Za-z0-9 ._@-]{1,64}$/

export function checkProviderName(name: unknown): string {
  if (typeof name !== 'string' || !PROVIDER_RE.test(name)) throw new LedgerError('BAD_FIELD', 'a provider name is 1–64 letters, digits, spaces or ._@-')
  return name
}

/**
 * The report id: hex of the first 16 bytes of SHA-256("cairn/feedback/v1" ‖ 0x00 ‖
 * serving origin ‖ 0x00 ‖ provider name ‖ 0x00 ‖ record id bytes).
 */
export function feedbackReportId(servingOrigin: string, provider: string, recordHex: string): string {
  const zero = new Uint8Array([0])
  const h = sha256(concat(utf8('cairn/feedback/v1'), zero, utf8(servingOrigin), zero, utf8(provider), zero, fromHex(recordHex, 'record')))
  return toHex(h).slice(0, 32)
}

export const isReportId = (s: unknown): s is string => typeof s === 'string' && /^[0-9a-f]{32}$/.test(s)
