/**
 * A provider's side of feedback (spec/api.md §A.11): report a record the
 * provider's matcher hit as a false (or true) positive, and read where its
 * reports stand, at the node it uses. A case reference is sent only as a
 * pseudonym made here with the provider's own key (protocol/case-ref.ts), so
 * the raw reference never leaves the provider.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { LedgerError } from '../protocol/errors.ts'
import { isRefPseudonym, refPseudonym, REF_SECRET_BYTES } from '../protocol/case-ref.ts'
import type { FeedbackDecision, FeedbackReason, FeedbackVerdict } from '../protocol/feedback.ts'
import { api, type Endpoint } from './http.ts'

export interface FeedbackOutcomeView {
  decision: FeedbackDecision
  /** The attestation or revocation record that carries it. */
  record: string
  time: number
  reason?: string
  reviewed: boolean
}

/** One report as the node it was made at shows it to its provider. */
export interface FeedbackReceipt {
  id: string
  record: string
  /** The adding centre's log: where the report went. */
  owner: string
  verdict: FeedbackVerdict
  reason: FeedbackReason
  ref?: string
  /** pending (not yet at the adding centre; retried), delivered (awaiting review), rejected, confirmed, revoked. */
  status: 'pending' | 'delivered' | 'rejected' | 'confirmed' | 'revoked'
  created: number
  updated: number
  revision: number
  attempts: number
  next_attempt?: number
  last_error?: string
  delivered?: number
  outcome?: FeedbackOutcomeView
  /** Set when the same report was already there (nothing changed). */
  duplicate?: boolean
}

export interface FeedbackRequest {
  record: string
  verdict: FeedbackVerdict
  reason?: FeedbackReason
  /** A pseudonym (p1:…) only; see `pseudonymiseRef`. */
  ref?: string
}

export function reportFeedback(ep: Endpoint, report: FeedbackRequest): Promise<FeedbackReceipt> {
  return api<FeedbackReceipt>(ep, 'POST', '/feedback', report)
}

export function feedbackStatus(ep: Endpoint, record?: string): Promise<{ provider: string; reports: FeedbackReceipt[] }> {
  return api(ep, 'GET', `/feedback${record ? `?record=${encodeURIComponent(record)}` : ''}`)
}

/**
 * The pseudonym to send for a case reference: one already in pseudonym form
 * as is, else HMAC under the key in `keyFile` (32 random bytes, made with
 * mode 0600 on first use). Keep the key: the same reference then gives the
 * same pseudonym, which lets you find your report again.
 */
export function pseudonymiseRef(ref: string, keyFile: string): string {
  if (isRefPseudonym(ref)) return ref
  if (!existsSync(keyFile)) {
    mkdirSync(dirname(keyFile), { recursive: true })
    writeFileSync(keyFile, randomBytes(REF_SECRET_BYTES).toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
    chmodSync(keyFile, 0o600)
  }
  const hex = readFileSync(keyFile, 'utf8').trim()
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new LedgerError('BAD_CONFIG', `${keyFile} is not a case-reference key (64 hex digits)`)
  return refPseudonym(Buffer.from(hex, 'hex'), ref)
}
