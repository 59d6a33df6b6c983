/**
 * STIX 2.1 views of cairn records (for the snapshot's `stix` format and the
 * TAXII 2.1 server). Objects are derived from the records alone, so every
 * node emits byte-identical objects:
 *
 *  - an indicator record is an `indicator` whose id is UUIDv5(cairn
 *    namespace, record id bytes); created = modified = valid_from = record
 *    time; the pattern matches the file hash (custom hash keys PDQ, PhotoDNA,
 *    TMK-PDQF for the perceptual ones; url_sha256 as a custom url property),
 *    and x_cairn_* properties carry alg, value, category, kind, media,
 *    quality and where the record sits;
 *  - a revocation makes a new version of that indicator: revoked = true,
 *    modified = revocation time;
 *  - each log is an `identity` (the centre), UUIDv5 of "identity:" + origin,
 *    named by every indicator's created_by_ref.
 */
import { createHash } from 'node:crypto'
import { toHex, utf8 } from '../../protocol/bytes.ts'
import type { StoredRecord } from '../../protocol/stored-record.ts'

export const STIX_MEDIA_TYPE = 'application/stix+json;version=2.1'

/** RFC 9562 name-based UUID (version 5, SHA-1). */
export function uuidv5(namespace: string, name: Uint8Array | string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex')
  if (ns.length !== 16) throw new Error(`bad namespace UUID ${namespace}`)
  const h = createHash('sha1').update(ns).update(typeof name === 'string' ? utf8(name) : name).digest()
  h[6] = (h[6]! & 0x0f) | 0x50
  h[8] = (h[8]! & 0x3f) | 0x80
  const x = h.subarray(0, 16).toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
}

/** RFC 9562 namespace for URLs. */
export const NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8'
/** Namespace of every STIX id cairn derives. */
export const CAIRN_STIX_NAMESPACE = uuidv5(NAMESPACE_URL, 'urn:cairn:stix:v1')

/** STIX timestamp with millisecond precision (what `created`/`modified` require). */
export function stixTime(ms: number): string {
  return new Date(ms).toISOString()
}

export function indicatorStixId(recordId: Uint8Array): string {
  return `indicator--${uuidv5(CAIRN_STIX_NAMESPACE, recordId)}`
}

export function identityStixId(origin: string): string {
  return `identity--${uuidv5(CAIRN_STIX_NAMESPACE, `identity:${origin}`)}`
}

export function bundleStixId(seed: string): string {
  return `bundle--${uuidv5(CAIRN_STIX_NAMESPACE, `bundle:${seed}`)}`
}

export function collectionId(federation: string): string {
  return uuidv5(CAIRN_STIX_NAMESPACE, `collection:${federation}`)
}

/** Hash keys of the STIX `file` hashes dictionary (vocabulary names where one exists, custom keys otherwise). */
const FILE_HASH_KEYS: Record<string, string> = {
  md5: 'MD5', sha1: "'SHA-1'", sha256: "'SHA-256'", pdq: 'PDQ', photodna: 'PhotoDNA', tmk_pdqf: "'TMK-PDQF'",
}

/** STIX pattern matching a value of `alg`. */
export function stixPattern(alg: string, hex: string): string {
  if (alg === 'url_sha256') return `[url:x_cairn_sha256 = '${hex}']`
  const key = FILE_HASH_KEYS[alg]
  if (!key) throw new Error(`no STIX pattern for alg ${alg}`)
  return `[file:hashes.${key} = '${hex}']`
}

export type StixObject = Record<string, unknown> & { type: string; id: string }

/** Where an indicator was written. */
export interface IndicatorSource {
  id: Uint8Array
  seq: number
  record: StoredRecord
}

export interface RevocationSource {
  id: Uint8Array
  seq: number
  record: StoredRecord
}

/** The indicator object: its first version, or the revoked one when `revocation` is given. */
export function stixIndicator(src: IndicatorSource, revocation?: RevocationSource): StixObject {
  const r = src.record
  const hex = toHex(r.value!)
  const created = stixTime(r.time)
  const o: StixObject = {
    type: 'indicator',
    spec_version: '2.1',
    id: indicatorStixId(src.id),
    created_by_ref: identityStixId(r.log),
    created,
    // STIX versions are told apart by `modified`, which must not precede `created`.
    modified: revocation ? stixTime(Math.max(revocation.record.time, r.time + 1)) : created,
    indicator_types: ['malicious-activity'],
    pattern: stixPattern(r.alg!, hex),
    pattern_type: 'stix',
    pattern_version: '2.1',
    valid_from: created,
    labels: ['csam', `category-${r.category!.toLowerCase()}`, `kind-${r.kind}`, `media-${r.media}`],
  }
  if (r.expires !== undefined) o.valid_until = stixTime(r.expires)
  if (revocation) o.revoked = true
  o.x_cairn_record_id = toHex(src.id)
  o.x_cairn_log = r.log
  o.x_cairn_seq = src.seq
  o.x_cairn_alg = r.alg
  o.x_cairn_value_hex = hex
  o.x_cairn_category = r.category
  o.x_cairn_kind = r.kind
  o.x_cairn_media = r.media
  if (r.alg === 'pdq') o.x_cairn_pdq_hex = hex
  if (r.quality !== undefined) o.x_cairn_quality = r.quality
  if (r.ref !== undefined) o.x_cairn_ref = r.ref
  if (revocation) {
    o.x_cairn_revocation_id = toHex(revocation.id)
    o.x_cairn_revocation_seq = revocation.seq
    if (revocation.record.reason) o.x_cairn_revocation_reason = revocation.record.reason
  }
  return o
}

/** The centre that writes a log, dated by the log's first entry. */
export function stixIdentity(origin: string, firstTime: number): StixObject {
  const t = stixTime(firstTime)
  return {
    type: 'identity',
    spec_version: '2.1',
    id: identityStixId(origin),
    created: t,
    modified: t,
    name: origin,
    identity_class: 'organization',
    x_cairn_origin: origin,
  }
}
