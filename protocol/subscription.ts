/**
 * A provider's subscription: which indicators it wants, by category,
 * algorithm, media and centre (the log that published them). The node's feed
 * and snapshot filter by it (query parameters category=, alg=, media=, log=,
 * each a comma-separated list), and `cairn sync` keeps only matching records
 * in its copy (--category, --alg, --media, --log); both read it here, so
 * they agree on what a value means (spec/api.md §A.5.7).
 */
import { LedgerError } from './errors.ts'
import { ALGS, CATEGORIES, MEDIA, isValidOrigin } from './records.ts'

export interface Subscription {
  categories?: string[]
  algs?: string[]
  media?: string[]
  /** Origins of the publishing logs. */
  logs?: string[]
}

/** The fields a subscription looks at. */
export interface Subscribable {
  alg?: string
  category?: string
  media?: string
  log: string
}

export const SUBSCRIPTION_KEYS = ['category', 'alg', 'media', 'log'] as const
const MAX_VALUES = 1000

/** One list from its comma-separated text: every value must be one the federation knows. */
function list(raw: string | undefined, what: string, allowed: readonly string[] | ((v: string) => boolean)): string[] | undefined {
  if (raw === undefined) return undefined
  const values = raw.split(',').map((v) => v.trim())
  if (values.length > MAX_VALUES) throw new LedgerError('BAD_REQUEST', `${what}: at most ${MAX_VALUES} values`)
  const ok = typeof allowed === 'function' ? allowed : (v: string) => allowed.includes(v)
  for (const v of values) {
    if (!ok(v)) {
      const known = typeof allowed === 'function' ? 'a log origin such as demo.cairn/ncmec' : `one of ${allowed.join(', ')}`
      throw new LedgerError('BAD_REQUEST', `${what}: ${JSON.stringify(v)} is not ${known}`)
    }
  }
  return [...new Set(values)].sort()
}

/** A subscription from its four lists (undefined = no filter on that field); a value nobody uses is BAD_REQUEST. */
export function parseSubscription(get: (key: (typeof SUBSCRIPTION_KEYS)[number]) => string | undefined): Subscription {
  const s: Subscription = {}
  const categories = list(get('category'), 'category', CATEGORIES)
  const algs = list(get('alg'), 'alg', ALGS)
  const media = list(get('media'), 'media', MEDIA)
  const logs = list(get('log'), 'log', isValidOrigin)
  if (categories) s.categories = categories
  if (algs) s.algs = algs
  if (media) s.media = media
  if (logs) s.logs = logs
  return s
}

export function isEmptySubscription(s: Subscription | undefined): boolean {
  return !s || (!s.categories && !s.algs && !s.media && !s.logs)
}

/** True when the indicator is one the subscription wants. */
export function wanted(s: Subscription | undefined, r: Subscribable): boolean {
  if (!s) return true
  return (!s.categories || s.categories.includes(r.category!)) && (!s.algs || s.algs.includes(r.alg!)) &&
    (!s.media || s.media.includes(r.media!)) && (!s.logs || s.logs.includes(r.log))
}

/** The subscription as query parameters (`&category=A1&…`), for the client. */
export function subscriptionQuery(s: Subscription | undefined): string {
  if (!s) return ''
  const parts: string[] = []
  if (s.categories) parts.push(`category=${s.categories.join(',')}`)
  if (s.algs) parts.push(`alg=${s.algs.join(',')}`)
  if (s.media) parts.push(`media=${s.media.join(',')}`)
  if (s.logs) parts.push(`log=${s.logs.map(encodeURIComponent).join(',')}`)
  return parts.map((p) => `&${p}`).join('')
}

/** Equal subscriptions (lists are kept sorted and distinct). */
export function sameSubscription(a: Subscription | undefined, b: Subscription | undefined): boolean {
  const norm = (s: Subscription | undefined) => JSON.stringify(isEmptySubscription(s) ? {} : { c: s!.categories, a: s!.algs, m: s!.media, l: s!.logs })
  return norm(a) === norm(b)
}
