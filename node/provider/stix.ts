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
 *    quality, ref, expires and where the record sits;
 *  - each attestation of it makes a new version (modified = attestation
 *    time) whose x_cairn_confirmations / x_cairn_disputes name the centres
 *    whose latest word is confirm, resp. dispute;
 *  - a revocation makes a new version of that indicator: revoked = true,
 *    modified = revocation time;
 *  - each log is an `identity` (the centre), UUIDv5 of "identity:" + origin,
 *    named by every indicator's created_by_ref.
 */
import { toHex, utf8 } from '../../protocol/bytes.ts'
import type { StoredRecord } from '../../protocol/stored-record.ts'
import { uuidv5, stixPattern, CAIRN_STIX_NAMESPACE } from '../../protocol/stix-pattern.ts'
import { opinionsOf, type Attestation } from './opinions.ts'

export const STIX_MEDIA_TYPE = 'application/stix+json;version=2.1'

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

/**
 * When each version of an indicator was made: `created`; then one version
 * per attestation of it, in timeline order, until a revocation (a revoked
 * object takes no later versions); then the revoked one. Each `modified` is
 * the record's time, but at least 1 ms after the version before (STIX tells
 * versions apart by `modified`).
 */
export function versionTimes(created: number, attestations: readonly { time: number }[], revocationTime?: number): number[] {
  const out = [created]
  for (const a of attestations) out.push(Math.max(a.time, out[out.length - 1]! + 1))
  if (revocationTime !== undefined) out.push(Math.max(revocationTime, out[out.length - 1]! + 1))
  return out
}

/**
 * The indicator object as of a version: its first (no attestations), one
 * made by its attestations (`attestations`: every one up to it, in timeline
 * order), or the revoked one when `revocation` is given.
 */
export function stixIndicator(src: IndicatorSource, revocation?: RevocationSource, attestations: readonly Attestation[] = []): StixObject {
  const r = src.record
  const hex = toHex(r.value!)
  const created = stixTime(r.time)
  const times = versionTimes(r.time, attestations, revocation?.record.time)
  const o: StixObject = {
    type: 'indicator',
    spec_version: '2.1',
    id: indicatorStixId(src.id),
    created_by_ref: identityStixId(r.log),
    created,
    // STIX versions are told apart by `modified`, which must not precede `created`.
    modified: stixTime(times[times.length - 1]!),
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
  if (r.expires !== undefined) o.x_cairn_expires = r.expires
  if (attestations.length > 0) {
    const op = opinionsOf(attestations)
    if (op.confirmations.length > 0) o.x_cairn_confirmations = op.confirmations
    if (op.disputes.length > 0) o.x_cairn_disputes = op.disputes
  }
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
