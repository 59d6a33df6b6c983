/**
 * STIX 2.1 bundles of file-hash indicators (OASIS STIX 2.1 §3 and §9: the
 * `indicator` SDO, STIX patterning): `{"type":"bundle","objects":[…]}`, or a
 * TAXII 2.1 envelope `{"objects":[…]}`. Entries are numbered by their place
 * in `objects` (1 = the first object).
 *
 *  - Objects other than indicators (identities, relationships, …) are not
 *    indicators and are passed over without a word.
 *  - Several versions of one indicator id: the one with the latest
 *    `modified` counts (STIX versioning, §3.6); the others are skipped.
 *  - A revoked indicator (`revoked: true`) is skipped, and so is one whose
 *    `valid_until` has passed; both are counted with their reason.
 *  - `pattern_type` must be `stix`; the pattern gives one hash per
 *    comparison (protocol/stix-pattern.ts); each becomes an indicator.
 *  - category: `x_cairn_category`, else a label `category-<a1|a2|b1|b2>`,
 *    else `--category`; PDQ quality: `x_cairn_quality`, else `--pdq-quality`;
 *    kind, media, ref: `x_cairn_kind`, `x_cairn_media`, `x_cairn_ref` when
 *    present (cairn's own exports carry them); expiry: `valid_until`.
 */
import { parseHashPattern } from '../../protocol/stix-pattern.ts'
import { completed, valueHex, type Defaults, type ParsedLine } from './indicator.ts'
import { readDocument, parseJson } from './document.ts'

type Obj = Record<string, unknown>

function category(o: Obj, d: Defaults): string | undefined {
  if (typeof o.x_cairn_category === 'string') return o.x_cairn_category
  const labels = Array.isArray(o.labels) ? o.labels : []
  for (const l of labels) {
    const m = typeof l === 'string' ? /^category-(a1|a2|b1|b2)$/i.exec(l) : null
    if (m) return m[1]!.toUpperCase()
  }
  return d.category
}

export function* readStixDocument(json: unknown, d: Defaults, now = Date.now()): Generator<ParsedLine> {
  const doc = json as Obj
  if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.objects) || (doc.type !== undefined && doc.type !== 'bundle')) {
    yield { line: 0, error: 'not a STIX 2.1 bundle: expected {"type":"bundle","objects":[...]} (or a TAXII envelope {"objects":[...]})' }
    return
  }
  const objects = doc.objects as unknown[]
  // The latest version of each indicator id (by `modified`; ISO 8601 UTC strings compare as text).
  const latest = new Map<string, number>()
  objects.forEach((o, i) => {
    const x = o as Obj
    if (x?.type !== 'indicator' || typeof x.id !== 'string') return
    const at = latest.get(x.id)
    if (at === undefined || String(x.modified ?? '') > String((objects[at] as Obj).modified ?? '')) latest.set(x.id, i)
  })
  for (let i = 0; i < objects.length; i++) {
    const o = objects[i] as Obj
    const n = i + 1
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      yield { line: n, error: 'not a STIX object' }
      continue
    }
    if (o.type !== 'indicator') continue
    const where = typeof o.id === 'string' ? o.id : undefined
    if (!where) {
      yield { line: n, error: 'an indicator without an id' }
      continue
    }
    if (latest.get(where) !== i) {
      yield { line: n, skipped: 'an older version of an indicator given again later in the bundle', where }
      continue
    }
    if (o.revoked === true) {
      yield { line: n, skipped: 'revoked', where }
      continue
    }
    let expires: number | undefined
    if (o.valid_until !== undefined) {
      expires = Date.parse(String(o.valid_until))
      if (!Number.isFinite(expires)) {
        yield { line: n, error: `valid_until ${JSON.stringify(String(o.valid_until).slice(0, 40))} is not a STIX timestamp`, where }
        continue
      }
      if (expires <= now) {
        yield { line: n, skipped: 'expired (valid_until has passed)', where }
        continue
      }
    }
    if (o.pattern_type !== 'stix') {
      yield { line: n, error: `pattern_type ${JSON.stringify(o.pattern_type)}: cairn reads STIX patterns only`, where }
      continue
    }
    let hashes
    try {
      hashes = parseHashPattern(o.pattern as string)
    } catch (e) {
      yield { line: n, error: (e as Error).message, where }
      continue
    }
    for (const h of hashes) {
      try {
        const body: Record<string, unknown> = { alg: h.alg, value: valueHex(h.alg, h.value), category: category(o, d) }
        if (typeof o.x_cairn_kind === 'string') body.kind = o.x_cairn_kind
        if (typeof o.x_cairn_media === 'string') body.media = o.x_cairn_media
        if (typeof o.x_cairn_ref === 'string') body.ref = o.x_cairn_ref
        if (h.alg === 'pdq' && o.x_cairn_quality !== undefined) body.quality = o.x_cairn_quality
        if (expires !== undefined) body.expires = expires
        yield completed(n, body, d, hashes.length > 1 ? `${where}, ${h.alg}` : where)
      } catch (e) {
        yield { line: n, error: (e as Error).message, where }
      }
    }
  }
}

export async function* readStix(path: string, d: Defaults): AsyncGenerator<ParsedLine> {
  let json: unknown
  try {
    json = parseJson(readDocument(path), path)
  } catch (e) {
    yield { line: 0, error: (e as Error).message }
    return
  }
  yield* readStixDocument(json, d)
}
