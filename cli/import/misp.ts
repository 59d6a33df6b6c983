/**
 * MISP events and feeds (the MISP core format, MISP/misp-rfc
 * misp-core-format: Event, Attribute, Object, Tag, and its "Manifest"
 * section for feeds). The import path is either an event file
 * (`{"Event": {...}}`) or a feed directory: `manifest.json` (event uuid →
 * summary) and one `<uuid>.json` per event beside it (`hashes.csv` is an
 * index MISP uses to correlate; not needed here).
 *
 * Entries are the attributes, the event's own and those inside its MISP
 * objects, numbered from 1 across the whole import in file order (events in
 * manifest order).
 *
 *  - `deleted: true` (a revoked attribute, in the RFC's words) is skipped,
 *    and so are all attributes of a deleted object.
 *  - Types md5, sha1, sha256 and filename|md5, filename|sha1,
 *    filename|sha256 (the hash after the `|`; the file name is never
 *    imported) are the hashes cairn holds. cairn's own feeds carry PDQ,
 *    PhotoDNA, TMK+PDQF and URL SHA-256 values, which MISP has no type for,
 *    as type `other` with a tag `cairn:alg="<alg>"`.
 *  - Other hash types (sha512, ssdeep, tlsh, …) are rejected: cairn has no
 *    alg for them. Attributes that are not hashes (text, links, …) are
 *    skipped with their type.
 *  - Tags (attribute's, else the event's): `cairn:category="A1"` gives the
 *    category (else `--category`), `cairn:pdq-quality="87"` the quality of a
 *    PDQ value (else `--pdq-quality`).
 */
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { completed, valueHex, type Defaults, type ParsedLine } from './indicator.ts'
import { readDocument, parseJson } from './document.ts'

type Obj = Record<string, unknown>

const TYPE_ALG: Record<string, string> = { md5: 'md5', sha1: 'sha1', sha256: 'sha256' }
const OTHER_HASH_TYPE = /^(filename\|)?(sha224|sha384|sha512(\/224|\/256)?|sha3-\d+|ssdeep|tlsh|imphash|telfhash|impfuzzy|authentihash|vhash|pehash|cdhash)$/
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/** The value of a `cairn:<name>="<value>"` machine tag in a MISP Tag list. */
export function cairnTag(tags: unknown, name: string): string | undefined {
  if (!Array.isArray(tags)) return undefined
  const prefix = `cairn:${name}=`
  for (const t of tags) {
    const n = (t as Obj)?.name
    if (typeof n === 'string' && n.startsWith(prefix)) return n.slice(prefix.length).replace(/^"(.*)"$/, '$1')
  }
  return undefined
}

/** Numbering across events: the next attribute's entry number. */
interface Counter { n: number }

function* attribute(a: Obj, event: Obj, counter: Counter, d: Defaults, objectDeleted: boolean): Generator<ParsedLine> {
  const n = ++counter.n
  const where = typeof a?.uuid === 'string' ? `attribute ${a.uuid}` : undefined
  const at = where ? { where } : {}
  if (typeof a !== 'object' || a === null) return yield { line: n, error: 'not a MISP attribute object' }
  if (a.deleted === true || objectDeleted) return yield { line: n, skipped: objectDeleted ? 'in a deleted object' : 'deleted', ...at }
  const type = a.type, value = a.value
  if (typeof type !== 'string' || typeof value !== 'string') return yield { line: n, error: 'an attribute needs a type and a value (strings)', ...at }
  let alg: string | undefined, hash = value.trim()
  if (TYPE_ALG[type]) alg = TYPE_ALG[type]
  else if (type.startsWith('filename|') && TYPE_ALG[type.slice('filename|'.length)]) {
    alg = TYPE_ALG[type.slice('filename|'.length)]
    const bar = value.lastIndexOf('|')
    if (bar < 0) return yield { line: n, error: `a ${type} value is "<filename>|<hash>"`, ...at }
    hash = value.slice(bar + 1).trim()
  } else if (type === 'other' && cairnTag(a.Tag, 'alg') !== undefined) alg = cairnTag(a.Tag, 'alg')
  else if (OTHER_HASH_TYPE.test(type)) return yield { line: n, error: `MISP type ${type} has no cairn alg (cairn holds md5, sha1, sha256 and, tagged cairn:alg, pdq, photodna, tmk_pdqf, url_sha256)`, ...at }
  else return yield { line: n, skipped: `type ${type} is not a hash`, ...at }
  try {
    const body: Record<string, unknown> = {
      alg, value: valueHex(alg!, hash),
      category: cairnTag(a.Tag, 'category') ?? cairnTag(event.Tag, 'category') ?? d.category,
    }
    const quality = cairnTag(a.Tag, 'pdq-quality') ?? cairnTag(event.Tag, 'pdq-quality')
    if (alg === 'pdq' && quality !== undefined) body.quality = quality
    yield completed(n, body, d, where)
  } catch (e) {
    yield { line: n, error: (e as Error).message, ...at }
  }
}

/** The attributes of one `{"Event": {...}}` document. */
export function* readMispEvent(json: unknown, d: Defaults, counter: Counter = { n: 0 }, what = 'the file'): Generator<ParsedLine> {
  const event = (json as Obj)?.Event as Obj | undefined
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    yield { line: counter.n, error: `${what} is not a MISP event: expected {"Event": {...}}` }
    return
  }
  const attrs = Array.isArray(event.Attribute) ? event.Attribute : []
  for (const a of attrs) yield* attribute(a as Obj, event, counter, d, false)
  const objects = Array.isArray(event.Object) ? event.Object : []
  for (const o of objects) {
    const list = Array.isArray((o as Obj)?.Attribute) ? (o as Obj).Attribute as Obj[] : []
    for (const a of list) yield* attribute(a, event, counter, d, (o as Obj)?.deleted === true)
  }
}

export async function* readMisp(path: string, d: Defaults): AsyncGenerator<ParsedLine> {
  const counter: Counter = { n: 0 }
  try {
    if (!statSync(path).isDirectory()) {
      yield* readMispEvent(parseJson(readDocument(path), path), d, counter)
      return
    }
    const manifestPath = join(path, 'manifest.json')
    if (!existsSync(manifestPath)) throw new Error(`${path} is a directory without manifest.json: not a MISP feed`)
    const manifest = parseJson(readDocument(manifestPath), manifestPath)
    if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new Error(`${manifestPath} is not a MISP manifest: expected {"<event uuid>": {...}}`)
    for (const uuid of Object.keys(manifest)) {
      // The uuid names a file: only a real uuid, so a manifest cannot point outside the feed.
      if (!UUID_RE.test(uuid)) {
        yield { line: counter.n, error: `manifest.json names ${JSON.stringify(uuid.slice(0, 60))}, which is not an event uuid` }
        continue
      }
      const file = join(path, `${uuid}.json`)
      let json: unknown
      try {
        json = parseJson(readDocument(file), file)
      } catch (e) {
        yield { line: counter.n, error: `event ${uuid}: ${(e as Error).message}` }
        continue
      }
      yield* readMispEvent(json, d, counter, file)
    }
  } catch (e) {
    yield { line: counter.n, error: (e as Error).message }
  }
}
