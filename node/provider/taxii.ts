/**
 * The TAXII 2.1 collection over the logs (read-only): which STIX object
 * versions each timeline event adds (an indicator, its revoked version, a
 * log's identity), pages of them in timeline order with a resumable `next`
 * token, and the date headers and envelope of a page. The HTTP side (media
 * types, auth, parameters, errors) is node/http/routes-provider.ts.
 */
import type { Store } from '../storage/store.ts'
import { decodeCursor, encodeCursor, type Sizes } from '../../protocol/feed-cursor.ts'
import { publishedSizes, openTimeline, revokedIndicator, revokedBelow, type TimelineEvent } from './feed.ts'
import { stixIndicator, stixIdentity, stixTime, type StixObject } from './stix.ts'

/** Timeline events one TAXII request may look at before it answers (with `more`) — bounds id lookups. */
const TAXII_SCAN_BUDGET = 100_000

export interface TaxiiFilter {
  ids?: Set<string>
  types?: Set<string>
  /** 'first' | 'last' | 'all' and/or explicit versions, as canonical STIX timestamps. */
  versions: Set<string>
  specVersions?: Set<string>
}

export interface Version {
  object: StixObject
  dateAdded: number
}

/** The object versions a timeline event adds to the collection, after the filter. */
export async function versionsOf(store: Store, sizes: Sizes, ev: TimelineEvent, f: TaxiiFilter): Promise<Version[]> {
  if (f.specVersions && !f.specVersions.has('2.1')) return []
  const wantType = (t: string) => !f.types || f.types.has(t)
  const wantVersion = (modified: string, isFirst: boolean, isLast: boolean) =>
    f.versions.has('all') || (isFirst && f.versions.has('first')) || (isLast && f.versions.has('last')) || f.versions.has(modified)
  const keep = (o: StixObject, isFirst: boolean, isLast: boolean): Version[] =>
    (!f.ids || f.ids.has(o.id)) && wantType(o.type) && wantVersion(o.modified as string, isFirst, isLast) ? [{ object: o, dateAdded: ev.time }] : []
  if (ev.kind === 'log') return wantType('identity') ? keep(stixIdentity(ev.origin, ev.time), true, true) : []
  if (!wantType('indicator')) return []
  const size = sizes.get(ev.origin)!
  if (ev.kind === 'indicator') {
    const o = stixIndicator({ id: ev.id!, seq: ev.pos - 1, record: ev.record! })
    if (f.ids && !f.ids.has(o.id)) return []
    const onlyLast = !f.versions.has('all') && !f.versions.has('first') && !f.versions.has(o.modified as string)
    const revoked = onlyLast ? await revokedBelow(store, ev.origin, size, ev.id!, await store.inCurrentSet(ev.id!)) : false
    return keep(o, true, !revoked)
  }
  const target = ev.record!.target!
  const ind = await revokedIndicator(store, ev.origin, ev.pos - 1, target)
  const o = stixIndicator({ id: target, seq: ind.seq, record: ind }, { id: ev.id!, seq: ev.pos - 1, record: ev.record! })
  return keep(o, false, true)
}

export interface TaxiiPage {
  versions: Version[]
  more: boolean
  next?: string
}

/** Where a page starts and how much it holds, as the request gave them. */
export interface TaxiiPageRequest {
  limit: number
  /** ms since epoch: only versions added after it. */
  addedAfter?: number
  /** The `next` token of the page before. */
  next?: string
}

/** One page of the collection's object versions, in timeline order, after the filter. */
export async function taxiiPage(store: Store, req: TaxiiPageRequest, filter: TaxiiFilter): Promise<TaxiiPage> {
  const { limit, addedAfter, next: nextRaw } = req
  let positions: Sizes | undefined
  if (nextRaw !== undefined) {
    // The token holds each log's timeline position plus one (so position 0 survives the cursor codec).
    positions = new Map([...decodeCursor(nextRaw, 'next')].map(([o, p]) => [o, p - 1]))
  }
  const sizes = publishedSizes(store)
  const tl = await openTimeline(store, sizes, positions, addedAfter)
  const out: Version[] = []
  let scanned = 0
  while (out.length < limit && scanned < TAXII_SCAN_BUDGET) {
    const ev = await tl.next()
    if (!ev) break
    scanned++
    out.push(...(await versionsOf(store, sizes, ev, filter)))
  }
  let more = false
  for (const r of tl.readers) if (await r.head()) more = true
  const page: TaxiiPage = { versions: out, more }
  if (more) page.next = encodeCursor(new Map([...tl.positions()].map(([o, p]) => [o, p + 1])))
  return page
}

export function dateHeaders(versions: Version[]): Record<string, string> {
  if (versions.length === 0) return {}
  const times = versions.map((v) => v.dateAdded)
  return {
    'X-TAXII-Date-Added-First': stixTime(Math.min(...times)),
    'X-TAXII-Date-Added-Last': stixTime(Math.max(...times)),
  }
}

export function envelope(page: TaxiiPage, key: string, items: unknown[]): Record<string, unknown> {
  const body: Record<string, unknown> = { more: page.more }
  if (page.next) body.next = page.next
  if (items.length > 0) body[key] = items
  return body
}

