/**
 * A MISP feed of an indicator set: the files a MISP instance pulls from a
 * feed URL or directory (MISP/misp-rfc misp-core-format: Event, Attribute,
 * Tag, and the "Manifest" section; hashes.csv as PyMISP's feed generator
 * writes it): `manifest.json`, `hashes.csv` and one event file
 * `<event uuid>.json`. Pure: records in, text out, so that `cairn export`
 * writes it from a local copy and a node route can serve it from its set.
 *
 * One event holds the whole set (uuid stable per federation, UUIDv5 in
 * cairn's STIX namespace, so a MISP pulling again updates the same event).
 * Event: published, analysis 2 (complete), threat_level_id 1 (high),
 * distribution 0 (your organisation only: a MISP that pulls it must not pass
 * CSAM indicators on), Orgc = the federation. One attribute per record (uuid
 * stable per record id), distribution 5 (inherit the event's):
 *
 *   md5, sha1, sha256         type md5 / sha1 / sha256, category "Payload delivery", to_ids true
 *   pdq, photodna, tmk_pdqf,  MISP has no type for them: type "other", category "Payload delivery",
 *   url_sha256                to_ids false, tag cairn:alg="<alg>" (cairn's reader takes them back)
 *
 * Tags on each attribute: cairn:category="A1", cairn:log="<origin>",
 * cairn:pdq-quality="<q>" (PDQ), cairn:confirmed-by / cairn:disputed-by
 * (one per centre). Comment: the record id, log and seq. hashes.csv: per
 * attribute, `<md5 of the value>,<event uuid>` (PyMISP MISPAttribute.hash_values('md5')).
 * The manifest maps the event uuid to info, Orgc, analysis, threat_level_id,
 * date, timestamp and Tag, as the RFC's Manifest section lists.
 *
 * Times: the set's own records carry times the copy does not keep, so the
 * event and attribute timestamps are `now` (seconds), the date its UTC day.
 */
import { createHash } from 'node:crypto'
import { CAIRN_STIX_NAMESPACE, uuidv5 } from '../protocol/stix-pattern.ts'

export interface MispFeedRecord {
  /** Record id, hex. */
  id: string
  log: string
  seq: number
  alg: string
  value: Uint8Array
  category: string
  quality?: number
  confirmations?: string[]
  disputes?: string[]
}

export interface MispFeedOptions {
  /** The federation the set comes from: names the event and its organisation. */
  federation: string
  /** ms since the epoch. */
  now: number
}

const MISP_TYPE: Record<string, string> = { md5: 'md5', sha1: 'sha1', sha256: 'sha256' }

export const mispEventUuid = (federation: string) => uuidv5(CAIRN_STIX_NAMESPACE, `misp-event:${federation}`)
export const mispAttributeUuid = (recordId: string) => uuidv5(CAIRN_STIX_NAMESPACE, `misp-attribute:${recordId}`)

const tag = (name: string) => ({ name, colour: '#ffffff', exportable: true })
const seconds = (ms: number) => String(Math.floor(ms / 1000))

function orgc(federation: string) {
  return { name: `cairn ${federation}`, uuid: uuidv5(CAIRN_STIX_NAMESPACE, `misp-org:${federation}`) }
}

/** The event's own fields, shared by the event file and the manifest. */
function eventMeta(o: MispFeedOptions) {
  return {
    info: `cairn: current CSAM indicator set of ${o.federation}`,
    Orgc: orgc(o.federation),
    analysis: '2',
    threat_level_id: '1',
    date: new Date(o.now).toISOString().slice(0, 10),
    timestamp: seconds(o.now),
    Tag: [tag(`cairn:federation="${o.federation}"`)],
  }
}

export function mispAttribute(r: MispFeedRecord, o: MispFeedOptions): Record<string, unknown> {
  const type = MISP_TYPE[r.alg]
  const tags = [tag(`cairn:category="${r.category}"`), tag(`cairn:log="${r.log}"`)]
  if (!type) tags.unshift(tag(`cairn:alg="${r.alg}"`))
  if (r.quality !== undefined) tags.push(tag(`cairn:pdq-quality="${r.quality}"`))
  for (const c of r.confirmations ?? []) tags.push(tag(`cairn:confirmed-by="${c}"`))
  for (const c of r.disputes ?? []) tags.push(tag(`cairn:disputed-by="${c}"`))
  return {
    uuid: mispAttributeUuid(r.id),
    type: type ?? 'other',
    category: 'Payload delivery',
    value: Buffer.from(r.value).toString('hex'),
    to_ids: type !== undefined,
    timestamp: seconds(o.now),
    distribution: '5',
    sharing_group_id: '0',
    comment: `cairn record ${r.id} (${r.log} #${r.seq})`,
    deleted: false,
    disable_correlation: false,
    Tag: tags,
  }
}

/** `<event uuid>.json`, in pieces: `{"Event": {..., "Attribute": [...]}}`, one attribute per line. */
export function* mispEventChunks(records: Iterable<MispFeedRecord>, o: MispFeedOptions): Generator<string> {
  const uuid = mispEventUuid(o.federation)
  const { Tag, ...meta } = eventMeta(o)
  const head = { uuid, ...meta, published: true, publish_timestamp: meta.timestamp, distribution: '0', sharing_group_id: '0', Tag }
  yield `{"Event":${JSON.stringify(head).slice(0, -1)},"Attribute":[`
  let first = true
  for (const r of records) {
    yield (first ? '\n' : ',\n') + JSON.stringify(mispAttribute(r, o))
    first = false
  }
  yield '\n]}}\n'
}

/** hashes.csv lines: `<md5 of the attribute value>,<event uuid>`. */
export function* mispHashLines(records: Iterable<MispFeedRecord>, o: MispFeedOptions): Generator<string> {
  const uuid = mispEventUuid(o.federation)
  for (const r of records) yield `${createHash('md5').update(Buffer.from(r.value).toString('hex'), 'utf8').digest('hex')},${uuid}\n`
}

/** manifest.json: the one event's summary under its uuid. */
export function mispManifest(o: MispFeedOptions): string {
  return JSON.stringify({ [mispEventUuid(o.federation)]: eventMeta(o) }, null, 1) + '\n'
}

/** The feed's file names, in the order to write them (the manifest, which names the event, last). */
export function mispFeedFiles(o: MispFeedOptions): { event: string; hashes: string; manifest: string } {
  return { event: `${mispEventUuid(o.federation)}.json`, hashes: 'hashes.csv', manifest: 'manifest.json' }
}
