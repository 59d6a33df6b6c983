/**
 * TAXII 2.1 over a real 3-node federation: discovery, API root, collections,
 * objects, manifest, object and versions endpoints; media types, Accept
 * (406), auth (401/403), paging with next/more, added_after and the date
 * headers; every STIX object emitted (indicators, revoked versions,
 * identities, the snapshot bundle) validated against the OASIS STIX 2.1
 * JSON schemas.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import http from 'node:http'
import Ajv2020 from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { sharedPath } from './support/shared.ts'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { sha256, utf8, fromHex, concat } from '../protocol/bytes.ts'
import { indicatorStixId } from '../node/provider/stix.ts'
import { uuidv5, stixPattern, NAMESPACE_URL } from '../protocol/stix-pattern.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'

const SCHEMAS = sharedPath('stix-schemas/schemas', 'STIX objects are not validated against the OASIS schemas')
const SCHEMA_BASE = 'http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/'
const TAXII = 'application/taxii+json;version=2.1'

type Validator = ((x: unknown) => boolean) & { errors?: unknown[] | null }
type Obj = Record<string, unknown> & { type: string; id: string; modified: string; created: string }

const validators = new Map<string, Validator>()
if (SCHEMAS) {
  const Ajv = ((Ajv2020 as unknown as { default?: unknown }).default ?? Ajv2020) as new (o: object) => {
    addSchema(s: object): void
    getSchema(id: string): Validator | undefined
  }
  const formats = ((addFormats as unknown as { default?: unknown }).default ?? addFormats) as (ajv: unknown) => void
  // The OASIS patterns use escapes that unicode-mode regular expressions refuse.
  const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false, logger: false })
  formats(ajv)
  for (const d of readdirSync(SCHEMAS)) for (const f of readdirSync(join(SCHEMAS, d))) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMAS, d, f), 'utf8')))
  for (const [name, path] of [['indicator', 'sdos/indicator.json'], ['identity', 'sdos/identity.json'], ['bundle', 'common/bundle.json']]) {
    validators.set(name!, ajv.getSchema(SCHEMA_BASE + path!)!)
  }
}

let validated = 0
function assertValidStix(o: { type: string }, what: string) {
  if (!SCHEMAS) return
  const v = validators.get(o.type)
  assert.ok(v, `no schema for ${o.type}`)
  const ok = v!(o)
  assert.ok(ok, `${what} (${o.type}) is not valid STIX 2.1: ${JSON.stringify(v!.errors?.slice(0, 3))}\n${JSON.stringify(o)}`)
  validated++
}

let cluster: Cluster
let nodes: CairnNode[]
const tokenSets = new Map<CairnNode, Record<string, string>>()
const tok = (node: CairnNode, role: string) => tokenSets.get(node)![role]!
let collection = ''

function bytes(tag: string, n: number): Uint8Array {
  let out: Uint8Array = new Uint8Array(0)
  for (let i = 0; out.length < n; i++) out = concat(out, sha256(utf8(`${tag}/${i}`)))
  return out.slice(0, n)
}

function indicators(tag: string): RecordBody[] {
  return [
    { type: 'indicator', alg: 'sha256', value: bytes(`${tag}-s256`, 32), category: 'A1', kind: 'known_material', media: 'image', ref: 'p1:00112233445566778899aabbccddeeff' },
    { type: 'indicator', alg: 'md5', value: bytes(`${tag}-md5`, 16), category: 'A2', kind: 'known_material', media: 'video' },
    { type: 'indicator', alg: 'sha1', value: bytes(`${tag}-sha1`, 20), category: 'B1', kind: 'known_material', media: 'image' },
    { type: 'indicator', alg: 'pdq', value: bytes(`${tag}-pdq`, 32), category: 'B1', kind: 'new_material', media: 'image', quality: 88 },
    { type: 'indicator', alg: 'photodna', value: bytes(`${tag}-pdna`, 144), category: 'A1', kind: 'known_material', media: 'image' },
    { type: 'indicator', alg: 'tmk_pdqf', value: bytes(`${tag}-tmk`, 258), category: 'A2', kind: 'known_material', media: 'video' },
    { type: 'indicator', alg: 'url_sha256', value: bytes(`${tag}-url`, 32), category: 'B2', kind: 'url', media: 'url', expires: Date.now() + 86_400_000 },
  ]
}

async function req(node: CairnNode, path: string, opts: { token?: string | null; accept?: string | null; method?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {}
  const token = opts.token === undefined ? tok(node, 'provider') : opts.token
  if (token) headers.authorization = `Bearer ${token}`
  const accept = opts.accept === undefined ? TAXII : opts.accept
  if (accept) headers.accept = accept
  return fetch(node.url + path, { headers, method: opts.method ?? 'GET' })
}

async function taxii<T = Record<string, unknown>>(node: CairnNode, path: string): Promise<{ body: T; res: Response }> {
  const res = await req(node, path)
  const text = await res.text()
  assert.is(res.status, 200, `${path}: ${text}`)
  assert.is(res.headers.get('content-type'), TAXII)
  return { body: JSON.parse(text) as T, res }
}

/** Pages through an envelope endpoint with `next`, checking more/next and the date headers against the manifest's order. */
async function pageAll(node: CairnNode, path: string, limit: number): Promise<{ objects: Obj[]; pages: number }> {
  const objects: Obj[] = []
  let next: string | undefined
  let pages = 0
  for (;;) {
    const sep = path.includes('?') ? '&' : '?'
    const { body, res } = await taxii<{ more: boolean; next?: string; objects?: Obj[] }>(node, `${path}${sep}limit=${limit}${next ? `&next=${encodeURIComponent(next)}` : ''}`)
    pages++
    const page = body.objects ?? []
    assert.ok(page.length <= limit)
    if (page.length > 0) {
      assert.ok(res.headers.get('x-taxii-date-added-first'))
      assert.ok(res.headers.get('x-taxii-date-added-last'))
      assert.ok(res.headers.get('x-taxii-date-added-first')! <= res.headers.get('x-taxii-date-added-last')!)
    }
    objects.push(...page)
    if (!body.more) {
      assert.is(body.next, undefined)
      return { objects, pages }
    }
    assert.type(body.next, 'string')
    next = body.next
    assert.ok(pages < 1000)
  }
}

const API = '/taxii2/api/'
const settled = () => waitFor('federation converges', () => converged(nodes, 2), 60_000)
const published: { id: string; node: number }[] = []
const revokedIds: string[] = []
/** The indicator nodes[1] confirms. */
const attestedId = () => published.filter((p) => p.node === 0)[1]!.id

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  for (const node of nodes) {
    const set: Record<string, string> = {}
    for (const role of ['provider', 'auditor', 'oversight', 'operator'] as const) set[role] = (await node.tokens.grant(role, `taxii ${role}`)).token
    tokenSets.set(node, set)
  }
  for (let n = 0; n < 3; n++) {
    const ids = await Promise.all(indicators(`n${n}`).map((b) => nodes[n]!.publisher.submit(b)))
    for (const p of ids) published.push({ id: p.id, node: n })
  }
  // Revocations come in later batches (later record times) than the indicators they revoke.
  await new Promise((r) => setTimeout(r, 20))
  const a = published.filter((p) => p.node === 0)
  for (const t of [a[0]!.id, a[3]!.id]) {
    await nodes[0]!.publisher.submit({ type: 'revocation', target: fromHex(t), reason: 'false_positive' })
    revokedIds.push(t)
  }
  await nodes[1]!.publisher.submit({ type: 'attestation', target: fromHex(a[1]!.id), opinion: 'confirm' })
  await nodes[2]!.publisher.submit({ type: 'attestation', target: fromHex(a[1]!.id), opinion: 'dispute', reason: 'wrong_category' })
  await settled()
})

test.after(async () => {
  await cluster?.close()
})

test('UUIDv5 matches RFC 9562 and Python\'s uuid5; ids and patterns are deterministic', () => {
  assert.is(uuidv5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org'), '886313e1-3b8a-5372-9b90-0c9aee199e5d')
  assert.is(uuidv5(NAMESPACE_URL, 'http://python.org/'), '4c565f0d-3f5a-5890-b41b-20cf47701c5e')
  const id = sha256(utf8('x'))
  assert.is(indicatorStixId(id), indicatorStixId(new Uint8Array(id)))
  assert.match(indicatorStixId(id), /^indicator--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.is(stixPattern('sha256', 'ab'), "[file:hashes.'SHA-256' = 'ab']")
  assert.is(stixPattern('md5', 'ab'), "[file:hashes.MD5 = 'ab']")
  assert.is(stixPattern('pdq', 'ab'), "[file:hashes.PDQ = 'ab']")
})

test('auth on every TAXII route: 401 (with WWW-Authenticate) without or with a bad token, 403 for the operator, 200 for readers', async () => {
  const a = nodes[0]!
  const { body } = await taxii<{ collections: { id: string }[] }>(a, `${API}collections/`)
  collection = body.collections[0]!.id
  const routes = ['/taxii2/', '/taxii2', API, `${API}collections/`, `${API}collections/${collection}/`, `${API}collections/${collection}/objects/`, `${API}collections/${collection}/manifest/`]
  for (const path of routes) {
    const none = await req(a, path, { token: null })
    assert.is(none.status, 401, path)
    assert.is(none.headers.get('content-type'), TAXII)
    assert.is(none.headers.get('www-authenticate'), 'Bearer')
    assert.is(((await none.json()) as { http_status: string }).http_status, '401')
    assert.is((await req(a, path, { token: 'cairn_nope' })).status, 401, path)
    const op = await req(a, path, { token: tok(a, 'operator') })
    assert.is(op.status, 403, path)
    assert.is(((await op.json()) as { title: string }).title, 'Forbidden')
    for (const role of ['provider', 'auditor', 'oversight']) {
      const res = await req(a, path, { token: tok(a, role) })
      assert.is(res.status, 200, `${path} as ${role}`)
      assert.is(res.headers.get('content-type'), TAXII)
      await res.arrayBuffer()
    }
  }
})

test('Accept: application/taxii+json (2.1 or unversioned) or a wildcard; anything else is 406', async () => {
  const a = nodes[0]!
  for (const ok of [TAXII, 'application/taxii+json', 'application/taxii+json; version=2.1', 'application/json;q=0.5, application/taxii+json;version=2.1', '*/*']) {
    assert.is((await req(a, '/taxii2/', { accept: ok })).status, 200, ok)
  }
  // fetch always sends an Accept header; a request without one, by hand:
  const bare = await new Promise<number>((resolve, reject) => {
    const u = new URL(`${a.url}${API}`)
    http.get({ host: u.hostname, port: u.port, path: u.pathname, headers: { authorization: `Bearer ${tok(a, 'provider')}` } }, (res) => {
      res.resume()
      resolve(res.statusCode!)
    }).on('error', reject)
  })
  assert.is(bare, 406, 'no Accept header')
  for (const bad of ['application/json', 'application/taxii+json;version=2.0', 'application/stix+json;version=2.1', 'application/taxii+json;version=2.1;q=0', 'text/html']) {
    const res = await req(a, `${API}collections/`, { accept: bad })
    assert.is(res.status, 406, String(bad))
    assert.is(((await res.json()) as { http_status: string }).http_status, '406')
  }
})

test('discovery, API root, collections, one collection', async () => {
  const a = nodes[0]!
  const { body: disc } = await taxii<{ title: string; api_roots: string[]; default: string }>(a, '/taxii2/')
  assert.type(disc.title, 'string')
  assert.equal(disc.api_roots, [`${a.url}${API}`])
  assert.is(disc.default, disc.api_roots[0])
  assert.is((await taxii(a, '/taxii2')).res.status, 200)
  const { body: root } = await taxii<{ versions: string[]; max_content_length: number; title: string }>(a, API)
  assert.equal(root.versions, [TAXII])
  assert.type(root.max_content_length, 'number')
  const { body: cols } = await taxii<{ collections: Record<string, unknown>[] }>(a, `${API}collections/`)
  assert.is(cols.collections.length, 1)
  const col = cols.collections[0]!
  assert.equal([col.can_read, col.can_write, col.media_types], [true, false, ['application/stix+json;version=2.1']])
  assert.match(String(col.id), /^[0-9a-f-]{36}$/)
  const { body: one } = await taxii(a, `${API}collections/${col.id}/`)
  assert.equal(one, col)
  // Every node of the federation names the collection alike.
  assert.equal((await taxii(nodes[2]!, `${API}collections/`)).body, cols)
  assert.is((await req(a, `${API}collections/00000000-0000-4000-8000-000000000000/`)).status, 404)
  assert.is((await req(a, `${API}collections/${col.id}/objects/`, { method: 'POST' })).status, 405)
  assert.is((await req(a, `${API}status/abc/`)).status, 404)
})

test('objects: latest versions, revocations as revoked: true, ascending date_added, paging with next/more; all valid STIX 2.1', async () => {
  const a = nodes[0]!
  const { objects, pages } = await pageAll(a, `${API}collections/${collection}/objects/`, 4)
  assert.ok(pages >= 5)
  const identities = objects.filter((o) => o.type === 'identity')
  const inds = objects.filter((o) => o.type === 'indicator')
  assert.is(identities.length, 3)
  assert.is(inds.length, published.length)
  assert.is(new Set(inds.map((o) => o.id)).size, inds.length)
  for (const o of objects) assertValidStix(o, 'TAXII object')
  for (const p of published) {
    const o = inds.find((x) => x.x_cairn_record_id === p.id)!
    assert.ok(o, p.id)
    assert.is(o.id, indicatorStixId(fromHex(p.id)))
    assert.is(o.created_by_ref, identities.find((i) => i.name === nodes[p.node]!.origin)!.id)
    if (revokedIds.includes(p.id)) {
      assert.is(o.revoked, true)
      assert.ok(o.modified > o.created)
      assert.is(o.x_cairn_revocation_reason, 'false_positive')
    } else if (p.id === attestedId()) {
      // Its last version is the one nodes[2]'s dispute made, after nodes[1]'s confirmation.
      assert.is(o.revoked, undefined)
      assert.ok(o.modified > o.created)
      assert.equal(o.x_cairn_confirmations, [nodes[1]!.origin])
      assert.equal(o.x_cairn_disputes, [nodes[2]!.origin])
    } else {
      assert.is(o.revoked, undefined)
      assert.is(o.modified, o.created)
      assert.is(o.x_cairn_confirmations, undefined)
    }
  }
  const pdq = inds.find((o) => o.x_cairn_alg === 'pdq')!
  assert.is(pdq.x_cairn_pdq_hex, pdq.x_cairn_value_hex)
  assert.is(pdq.x_cairn_quality, 88)
  assert.is(pdq.pattern, `[file:hashes.PDQ = '${pdq.x_cairn_value_hex}']`)
  assert.ok(inds.find((o) => o.x_cairn_alg === 'url_sha256')!.valid_until)
  assert.is(inds.find((o) => o.x_cairn_alg === 'sha256' && o.x_cairn_log === nodes[1]!.origin)!.x_cairn_ref, 'p1:00112233445566778899aabbccddeeff')

  // The same objects, byte for byte, from another node.
  const onC = await pageAll(nodes[2]!, `${API}collections/${collection}/objects/`, 50)
  assert.equal(onC.objects, objects)

  // Bundled, they validate as a bundle.
  assertValidStix({ type: 'bundle', id: 'bundle--6ba7b810-9dad-41d1-80b4-00c04fd430c8', objects } as never, 'bundle')
})

test('manifest, added_after, match filters, the date headers, one object and its versions', async () => {
  const a = nodes[0]!
  const base = `${API}collections/${collection}`
  const { objects: manifest } = await pageAll(a, `${base}/manifest/`, 5)
  assert.is(manifest.length, published.length + 3)
  for (const m of manifest) {
    assert.equal(Object.keys(m).sort(), ['date_added', 'id', 'media_type', 'version'])
    assert.is(m.media_type, 'application/stix+json;version=2.1')
  }
  const dates = manifest.map((m) => String(m.date_added))
  assert.equal(dates, [...dates].sort(), 'ascending date_added')

  // Headers name the first and last date_added of the page.
  const { body, res } = await taxii<{ objects: { date_added: string }[] }>(a, `${base}/manifest/?limit=3`)
  assert.is(res.headers.get('x-taxii-date-added-first'), body.objects[0]!.date_added)
  assert.is(res.headers.get('x-taxii-date-added-last'), body.objects[2]!.date_added)

  // added_after: only what was added strictly later.
  const mid = dates[Math.floor(dates.length / 2)]!
  const { objects: later } = await pageAll(a, `${base}/manifest/?added_after=${mid}`, 100)
  assert.ok(later.length > 0 && later.length < manifest.length)
  assert.ok(later.every((m) => String(m.date_added) > mid))
  assert.is(later.length, dates.filter((d) => d > mid).length)
  const { objects: none } = await pageAll(a, `${base}/objects/?added_after=${dates[dates.length - 1]}`, 100)
  assert.is(none.length, 0)

  // match[version]: all versions show revocations and attestations as versions of their own; first shows none revoked.
  const { objects: all } = await pageAll(a, `${base}/objects/?match[version]=all&match[type]=indicator`, 100)
  assert.is(all.length, published.length + revokedIds.length + 2)
  for (const o of all) assertValidStix(o, 'version')
  const attested = all.filter((o) => o.id === indicatorStixId(fromHex(attestedId())))
  assert.is(attested.length, 3)
  assert.ok(attested[0]!.modified < attested[1]!.modified && attested[1]!.modified < attested[2]!.modified)
  assert.is(attested[0]!.x_cairn_confirmations, undefined)
  assert.equal([attested[1]!.x_cairn_confirmations, attested[1]!.x_cairn_disputes], [[nodes[1]!.origin], undefined])
  assert.equal([attested[2]!.x_cairn_confirmations, attested[2]!.x_cairn_disputes], [[nodes[1]!.origin], [nodes[2]!.origin]])
  const { objects: first } = await pageAll(a, `${base}/objects/?match[version]=first&match[type]=indicator`, 100)
  assert.is(first.length, published.length)
  assert.ok(first.every((o) => !o.revoked))
  const { objects: ids } = await pageAll(a, `${base}/objects/?match[type]=identity`, 100)
  assert.is(ids.length, 3)
  assert.is((await pageAll(a, `${base}/objects/?match[spec_version]=2.0`, 100)).objects.length, 0)

  // One object, and its versions.
  const target = indicatorStixId(fromHex(revokedIds[0]!))
  const { body: one } = await taxii<{ objects: Obj[]; more: boolean }>(a, `${base}/objects/${target}/`)
  assert.is(one.objects.length, 1)
  assert.is(one.objects[0]!.revoked, true)
  const { body: vers } = await taxii<{ versions: string[]; more: boolean }>(a, `${base}/objects/${target}/versions/`)
  assert.is(vers.versions.length, 2)
  assert.ok(vers.versions[0]! < vers.versions[1]!)
  const { body: v1 } = await taxii<{ objects: Obj[] }>(a, `${base}/objects/${target}/?match[version]=${vers.versions[0]}`)
  assert.is(v1.objects[0]!.revoked, undefined)
  const micro = vers.versions[1]!.replace('Z', '999Z')
  const { body: v2 } = await taxii<{ objects: Obj[] }>(a, `${base}/objects/${target}/?match[version]=${micro}`)
  assert.is(v2.objects[0]!.revoked, true)
  assert.is((await req(a, `${base}/objects/indicator--00000000-0000-5000-8000-000000000000/`)).status, 404)

  // Bad parameters: a TAXII error, 400.
  for (const q of ['added_after=yesterday', 'limit=0', 'next=%21%21', 'match[version]=latest']) {
    const r = await req(a, `${base}/objects/?${q}`)
    assert.is(r.status, 400, q)
    assert.is(r.headers.get('content-type'), TAXII)
  }
})

test('the stix snapshot is a valid bundle of valid objects; the validator does reject bad objects', async () => {
  const c = nodes[2]!
  const res = await fetch(`${c.url}/feed/snapshot?format=stix`, { headers: { authorization: `Bearer ${tok(c, 'provider')}` } })
  const bundle = (await res.json()) as { type: string; id: string; objects: Obj[] }
  assertValidStix(bundle, 'snapshot bundle')
  for (const o of bundle.objects) assertValidStix(o, 'snapshot object')
  assert.is(bundle.objects.filter((o) => o.type === 'indicator').length, published.length - revokedIds.length)

  const good = bundle.objects.find((o) => o.type === 'indicator')!
  const v = validators.get('indicator')!
  assert.ok(v(good))
  assert.not.ok(v({ ...good, x_cairn_value_hex: 'not hex' }), 'a *_hex property must be hex')
  assert.not.ok(v({ ...good, id: 'indicator--1234' }), 'ids are UUIDs')
  assert.not.ok(v({ ...good, created: '2024-01-01T00:00:00Z' }), 'created needs milliseconds')
  const { pattern: _p, ...noPattern } = good
  assert.not.ok(v(noPattern), 'an indicator needs a pattern')
  if (SCHEMAS) assert.ok(validated > 40)
})

test.run()
