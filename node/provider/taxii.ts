/**
 * The TAXII 2.1 collection over the logs (read-only): which STIX object
 * versions each timeline event adds (an indicator, a version per
 * attestation of it, its revoked version, a log's identity), pages of them in timeline order with a resumable `next`
 * token, and the date headers and envelope of a page. The HTTP side (media
 * types, auth, parameters, errors) is node/http/routes-provider.ts.
 */
import type { Store } from '../storage/store.ts'
import { decodeCursor, encodeCursor, type Sizes } from '../../protocol/feed-cursor.ts'
import { publishedSizes, openTimeline, revokedIndicator, revokedBelow, type TimelineEvent } from './feed.ts'
import { stixIndicator, stixIdentity, stixTime, indicatorStixId, type StixObject } from './stix.ts'
import { byTimeline, type Attestation, type OpinionIndex } from './opinions.ts'
import { readStoredRecord } from '../../protocol/stored-record.ts'

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

/** A revocation of an indicator, placed in the timeline. */
interface Placed {
  origin: string
  index: number
  time: number
}

/** The revocations of the indicator at `index` of `origin` that lie below the log's size, in timeline order. */
async function revocationsOf(store: Store, origin: string, size: number, target: Uint8Array): Promise<Placed[]> {
  const out: Placed[] = []
  for (const ref of await store.references(target)) {
    if (ref.type !== 'revocation') continue
    const at = await store.locate(ref.id)
    if (!at || at.origin !== origin || at.index >= size) continue
    out.push({ origin, index: at.index, time: readStoredRecord(await store.entry(origin, at.index)).time })
  }
  return out.sort((a, b) => byTimeline(a as Attestation, b as Attestation))
}

/** The object versions a timeline event adds to the collection, after the filter. */
export async function versionsOf(store: Store, sizes: Sizes, ev: TimelineEvent, f: TaxiiFilter, opinions?: OpinionIndex): Promise<Version[]> {
  if (f.specVersions && !f.specVersions.has('2.1')) return []
  const wantType = (t: string) => !f.types || f.types.has(t)
  const wantVersion = (modified: string, isFirst: boolean, isLast: boolean) =>
    f.versions.has('all') || (isFirst && f.versions.has('first')) || (isLast && f.versions.has('last')) || f.versions.has(modified)
  const keep = (o: StixObject, isFirst: boolean, isLast: boolean): Version[] =>
    (!f.ids || f.ids.has(o.id)) && wantType(o.type) && wantVersion(o.modified as string, isFirst, isLast) ? [{ object: o, dateAdded: ev.time }] : []
  if (ev.kind === 'log') return wantType('identity') ? keep(stixIdentity(ev.origin, ev.time), true, true) : []
  if (!wantType('indicator')) return []
  const attsOf = (target: Uint8Array) => opinions?.attestations(target, sizes) ?? []
  const size = sizes.get(ev.origin)!
  if (ev.kind === 'indicator') {
    const o = stixIndicator({ id: ev.id!, seq: ev.pos - 1, record: ev.record! })
    if (f.ids && !f.ids.has(o.id)) return []
    const onlyLast = !f.versions.has('all') && !f.versions.has('first') && !f.versions.has(o.modified as string)
    const later = onlyLast && (await revokedBelow(store, ev.origin, size, ev.id!, await store.inCurrentSet(ev.id!)) || attsOf(ev.id!).length > 0)
    return keep(o, true, !later)
  }
  if (ev.kind === 'attestation') {
    // A new version of the indicator it names, with the opinions up to it; none once the indicator is revoked.
    const target = ev.record!.target!
    if (f.ids && !f.ids.has(indicatorStixId(target))) return []
    const at = await store.locate(target)
    const targetSize = at ? sizes.get(at.origin) : undefined
    if (!at || targetSize === undefined || at.index >= targetSize) return []
    const ind = readStoredRecord(await store.entry(at.origin, at.index))
    if (ind.type !== 'indicator') return []
    const atts = attsOf(target)
    const k = atts.findIndex((a) => a.origin === ev.origin && a.index === ev.pos - 1)
    if (k < 0) return []
    const revs = await revocationsOf(store, at.origin, targetSize, target)
    if (revs.length > 0 && byTimeline(revs[0] as Attestation, atts[k]!) < 0) return []
    const o = stixIndicator({ id: target, seq: at.index, record: ind }, undefined, atts.slice(0, k + 1))
    return keep(o, false, k === atts.length - 1 && revs.length === 0)
  }
  const target = ev.record!.target!
  const ind = await revokedIndicator(store, ev.origin, ev.pos - 1, target)
  const before = attsOf(target).filter((a) => byTimeline(a, { origin: ev.origin, index: ev.pos - 1, time: ev.time } as Attestation) < 0)
  const o = stixIndicator({ id: target, seq: ind.seq, record: ind }, { id: ev.id!, seq: ev.pos - 1, record: ev.record! }, before)
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
export async function taxiiPage(store: Store, req: TaxiiPageRequest, filter: TaxiiFilter, opinions?: OpinionIndex): Promise<TaxiiPage> {
  const { limit, addedAfter, next: nextRaw } = req
  let positions: Sizes | undefined
  if (nextRaw !== undefined) {
    // The token holds each log's timeline position plus one (so position 0 survives the cursor codec).
    positions = new Map([...decodeCursor(nextRaw, 'next')].map(([o, p]) => [o, p - 1]))
  }
  const sizes = publishedSizes(store)
  await opinions?.upTo()
  const tl = await openTimeline(store, sizes, positions, addedAfter)
  const out: Version[] = []
  let scanned = 0
  while (out.length < limit && scanned < TAXII_SCAN_BUDGET) {
    const ev = await tl.next()
    if (!ev) break
    scanned++
    out.push(...(await versionsOf(store, sizes, ev, filter, opinions)))
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

