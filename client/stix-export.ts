/**
 * A local copy's current set as one STIX 2.1 bundle (`cairn export --format
 * stix`): an `indicator` per live record, an `identity` per centre that wrote
 * one. Every object validates against the OASIS STIX 2.1 JSON schemas
 * (test/export-formats.test.ts).
 *
 * The copy keeps no record times (spec/local-copy.md §L.3), so `created`,
 * `modified` and `valid_from` are the export's time, and the ids are not the
 * node's TAXII ids: they are UUIDv5 in cairn's STIX namespace of
 * `copy:<record id>` (identities: `copy-identity:<origin>`). A file object
 * therefore never poses as a version of the node's object (which has the
 * record's own time and may since have been revoked there); a later export
 * of the same record is the same id with a later `modified`. A record
 * revoked since is absent from the next export, not marked revoked: the
 * copy holds only the current set. `x_cairn_record_id` names the record.
 *
 * Pattern and the properties cairn's STIX reader takes back
 * (cli/import/stix.ts): `[file:hashes.<key> = '<hex>']` (protocol/stix-pattern.ts),
 * labels `csam` and `category-<c>`, x_cairn_alg, x_cairn_value_hex,
 * x_cairn_category, x_cairn_quality (PDQ), and where it comes from:
 * x_cairn_record_id, x_cairn_log, x_cairn_seq, x_cairn_confirmations,
 * x_cairn_disputes (origins of the centres whose latest opinion that is;
 * left out when empty, as STIX lists have one item or more).
 */
import { CAIRN_STIX_NAMESPACE, uuidv5, stixPattern } from '../protocol/stix-pattern.ts'
import type { CopyRecord } from './local-copy-reader.ts'

const hex = (v: Uint8Array) => Buffer.from(v).toString('hex')

export const copyIndicatorId = (recordId: string) => `indicator--${uuidv5(CAIRN_STIX_NAMESPACE, `copy:${recordId}`)}`
export const copyIdentityId = (origin: string) => `identity--${uuidv5(CAIRN_STIX_NAMESPACE, `copy-identity:${origin}`)}`

export function copyStixIndicator(r: CopyRecord, time: string): Record<string, unknown> {
  const value = hex(r.value)
  const o: Record<string, unknown> = {
    type: 'indicator',
    spec_version: '2.1',
    id: copyIndicatorId(r.id),
    created_by_ref: copyIdentityId(r.log),
    created: time,
    modified: time,
    indicator_types: ['malicious-activity'],
    pattern: stixPattern(r.alg, value),
    pattern_type: 'stix',
    pattern_version: '2.1',
    valid_from: time,
    labels: ['csam', `category-${r.category.toLowerCase()}`],
    x_cairn_record_id: r.id,
    x_cairn_log: r.log,
    x_cairn_seq: r.seq,
    x_cairn_alg: r.alg,
    x_cairn_value_hex: value,
    x_cairn_category: r.category,
  }
  if (r.quality !== undefined) o.x_cairn_quality = r.quality
  // STIX lists are one or more items: an empty list of opinions is left out.
  if (r.confirmations.length) o.x_cairn_confirmations = r.confirmations
  if (r.disputes.length) o.x_cairn_disputes = r.disputes
  return o
}

export function copyStixIdentity(origin: string, time: string): Record<string, unknown> {
  return { type: 'identity', spec_version: '2.1', id: copyIdentityId(origin), created: time, modified: time, name: origin, identity_class: 'organization', x_cairn_origin: origin }
}

/**
 * The bundle, in pieces to write one after the other: one object per line
 * (identities last, once their centres are known). `seed` names the bundle
 * (its id is UUIDv5 of it); `now` is the export's time.
 */
export function* stixBundleChunks(records: Iterable<CopyRecord>, o: { now: number; seed: string }): Generator<string> {
  const time = new Date(o.now).toISOString()
  const origins = new Set<string>()
  let first = true
  const head = `{"type":"bundle","id":"bundle--${uuidv5(CAIRN_STIX_NAMESPACE, `copy-bundle:${o.seed}:${o.now}`)}"`
  for (const r of records) {
    origins.add(r.log)
    yield (first ? `${head},"objects":[\n` : ',\n') + JSON.stringify(copyStixIndicator(r, time))
    first = false
  }
  // A bundle's objects, when present, are one or more (the schema's minItems).
  if (first) return yield `${head}}\n`
  for (const origin of [...origins].sort()) yield ',\n' + JSON.stringify(copyStixIdentity(origin, time))
  yield '\n]}\n'
}
