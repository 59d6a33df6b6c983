/**
 * NCMEC hash-sharing entries XML (the `queryResult` document that
 * `GET /v2/entries` answers, namespace https://hashsharing.ncmec.org/hashsharing/v2).
 *
 * Source followed: NCMEC's own documentation (report.cybertip.org/hashsharing/v2/documentation.pdf)
 * is not public; this reader follows Meta's client for that API in
 * facebook/ThreatExchange, python-threatexchange/threatexchange/exchanges/clients/ncmec/hash_api.py
 * (NCMECEntryUpdate.from_xml, GetEntriesResponse.from_xml, FingerprintType) and
 * the sample documents in its tests/data.py. What they show:
 *
 *   queryResult > images | videos (attributes count, maxTimestamp) > image | video | deletedImage | deletedVideo
 *   image/video > member (attribute id), timestamp, id, classification, fingerprints, feedback
 *   fingerprints > md5 | sha1 | pdna | pdq | tmk-pdqf | videntifier | netclean | ssvh-pdna | ssvh-safer-hash
 *     (large ones, such as tmk-pdqf, as an empty element with rel/href instead of text)
 *   deletedImage/deletedVideo > member, id, timestamp   (no fingerprints: a tombstone of entry `id`)
 *   queryResult > paging > next
 *
 * Mapping:
 *   - each fingerprint of an image/video entry → one indicator; md5 → md5, sha1 → sha1, pdq → pdq (quality from
 *     --pdq-quality: the XML carries none), pdna → photodna (288 hex digits; no other encoding is documented in the
 *     source), tmk-pdqf → tmk_pdqf when given inline as hex. Others (videntifier, netclean, ssvh-*) and any
 *     given only by href are rejected per fingerprint with the reason.
 *   - media: image for <image>, video for <video>.
 *   - classification → category: NCMEC's values A1, A2, B1, B2 are the industry classification
 *     that cairn's categories are (DESIGN §2, "industry classification"), so each maps to itself; the
 *     source's samples show A1 and A2. Any other value is a per-entry error; an entry without one takes
 *     --category, else it is rejected.
 *   - ref = `ncmec:<id>`: the entry id, so that a later deletedImage can find what it deletes.
 *   - deletedImage/deletedVideo → a revocation of every current indicator in this centre's own log whose
 *     ref is `ncmec:<id>` (resolved by cli/import/revocations.ts), with the reason --deleted-reason.
 *   - member, timestamp and feedback are read past (the uploader is not a cairn field; other members'
 *     votes are not this centre's opinion). Any other element is a per-entry error, not a guess.
 *
 * Entries are numbered from 1 in document order across images and videos.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { MAX_REF_LENGTH } from '../../protocol/records.ts'
import { completed, hexOfLength, valueHex, type Defaults, type ParsedLine } from './indicator.ts'
import { readDocument } from './document.ts'

/** A preserveOrder node of fast-xml-parser: `{ <tag>: children, ':@'?: attributes }` or `{ '#text': text }`. */
type XNode = Record<string, unknown>

const tagOf = (n: XNode) => Object.keys(n).find((k) => k !== ':@')!
const childrenOf = (n: XNode) => (n[tagOf(n)] as XNode[]) ?? []
const attrsOf = (n: XNode) => (n[':@'] as Record<string, string> | undefined) ?? {}
const elements = (list: XNode[]) => list.filter((c) => tagOf(c) !== '#text')
function textOf(n: XNode): string | undefined {
  const t = childrenOf(n).find((c) => '#text' in c)
  return t === undefined ? undefined : String(t['#text']).trim()
}

const CATEGORIES = ['A1', 'A2', 'B1', 'B2']
const KNOWN_ENTRY_CHILDREN = new Set(['member', 'timestamp', 'id', 'classification', 'fingerprints', 'feedback'])
const NO_ALG = new Set(['videntifier', 'netclean', 'ssvh-pdna', 'ssvh-safer-hash', 'ssvh_pdna', 'ssvh_safer_hash'])

function* entry(node: XNode, n: number, kind: 'image' | 'video', d: Defaults): Generator<ParsedLine> {
  const tag = tagOf(node)
  const kids = elements(childrenOf(node))
  const idNode = kids.find((k) => tagOf(k) === 'id')
  const id = idNode ? textOf(idNode) : undefined
  const where = `${tag}${id ? ` ${id}` : ''}`
  if (!id) return yield { line: n, error: `a <${tag}> without an <id>`, where }
  const ref = `ncmec:${id}`
  if (ref.length > MAX_REF_LENGTH) return yield { line: n, error: `the entry id is longer than the ${MAX_REF_LENGTH - 6} characters a cairn ref can keep after "ncmec:"`, where }
  const unknown = kids.map(tagOf).filter((t) => !KNOWN_ENTRY_CHILDREN.has(t))
  if (unknown.length) return yield { line: n, error: `unknown element(s) <${unknown.join('>, <')}> in <${tag}>: not in the documented entry format, so not guessed at`, where }
  if (tag.startsWith('deleted')) {
    if (!d.deletedReason) return yield { line: n, error: 'a deleted entry becomes a revocation, which needs its reason: give --deleted-reason (false_positive, legal_order, duplicate, reclassified, expired); none is assumed', where }
    return yield { line: n, revoke: { ref, reason: d.deletedReason }, where }
  }
  const clsNode = kids.find((k) => tagOf(k) === 'classification')
  const cls = clsNode ? textOf(clsNode) : undefined
  let category = d.category
  if (cls !== undefined && cls !== '') {
    if (!CATEGORIES.includes(cls.toUpperCase())) return yield { line: n, error: `classification ${JSON.stringify(cls.slice(0, 20))} has no cairn category (NCMEC's A1, A2, B1, B2 map to themselves)`, where }
    category = cls.toUpperCase()
  } else if (category === undefined) {
    return yield { line: n, error: 'no <classification>, and no --category for entries without one', where }
  }
  const fps = kids.find((k) => tagOf(k) === 'fingerprints')
  const list = fps ? elements(childrenOf(fps)) : []
  if (!list.length) return yield { line: n, error: 'no fingerprints', where }
  for (const fp of list) {
    const name = tagOf(fp)
    const w = `${where}, ${name}`
    const text = textOf(fp)
    try {
      if (NO_ALG.has(name.toLowerCase())) throw new Error(`NCMEC fingerprint ${name} has no cairn alg`)
      if (!text) throw new Error(attrsOf(fp).href ? `given only by reference (href ${attrsOf(fp).href}); fetching it is not supported: import the value inline` : 'empty fingerprint')
      const base = { category, media: kind, ref }
      switch (name.toLowerCase()) {
        case 'md5': yield completed(n, { ...base, alg: 'md5', value: hexOfLength(text, 16, 'an md5') }, d, w); break
        case 'sha1': yield completed(n, { ...base, alg: 'sha1', value: hexOfLength(text, 20, 'a sha1') }, d, w); break
        case 'pdq': yield completed(n, { ...base, alg: 'pdq', value: hexOfLength(text, 32, 'a pdq') }, d, w); break
        case 'pdna': yield completed(n, { ...base, alg: 'photodna', value: hexOfLength(text, 144, 'a PhotoDNA (pdna) hash') }, d, w); break
        case 'tmk-pdqf': case 'tmk_pdqf': yield completed(n, { ...base, alg: 'tmk_pdqf', value: valueHex('tmk_pdqf', text) }, d, w); break
        default: throw new Error(`unknown fingerprint <${name}>: not in the documented entry format, so not guessed at`)
      }
    } catch (e) {
      yield { line: n, error: (e as Error).message, where: w }
    }
  }
}

export function* readNcmecDocument(xml: string, d: Defaults): Generator<ParsedLine> {
  const valid = XMLValidator.validate(xml)
  if (valid !== true) {
    yield { line: 0, error: `not well-formed XML: ${valid.err.msg} (line ${valid.err.line})` }
    return
  }
  const parser = new XMLParser({
    preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true,
    parseTagValue: false, parseAttributeValue: false, trimValues: true, processEntities: true, htmlEntities: false,
  })
  const top = elements(parser.parse(xml) as XNode[]).filter((x) => tagOf(x) !== '?xml')
  const root = top.find((x) => tagOf(x) === 'queryResult')
  if (!root) {
    yield { line: 0, error: `the root element is <${top[0] ? tagOf(top[0]) : 'none'}>, not <queryResult> (an NCMEC GET /v2/entries answer)` }
    return
  }
  let n = 0
  for (const group of elements(childrenOf(root))) {
    const g = tagOf(group)
    if (g === 'paging') continue
    if (g !== 'images' && g !== 'videos') {
      yield { line: n, error: `unknown element <${g}> in <queryResult>: not in the documented format, so not read` }
      continue
    }
    const kind = g === 'images' ? 'image' : 'video'
    for (const e of elements(childrenOf(group))) {
      n++
      const t = tagOf(e)
      if (t !== kind && t !== `deleted${kind[0]!.toUpperCase()}${kind.slice(1)}`) {
        yield { line: n, error: `unknown element <${t}> in <${g}>`, where: t }
        continue
      }
      yield* entry(e, n, kind, d)
    }
  }
}

export async function* readNcmecXml(path: string, d: Defaults): AsyncGenerator<ParsedLine> {
  let xml: string
  try {
    xml = readDocument(path)
  } catch (e) {
    yield { line: 0, error: (e as Error).message }
    return
  }
  yield* readNcmecDocument(xml, d)
}
