/**
 * `cairn export --format stix|misp|hma` from a local copy, and back: every
 * STIX object validates against the OASIS STIX 2.1 schemas; the MISP feed
 * keeps the field rules of the MISP core format (MISP/misp-rfc: Event,
 * Attribute, Tag, Manifest) and PyMISP's hashes.csv; and what is exported
 * reads back, through cairn import's own readers, to the same indicators
 * (alg, value, category, PDQ quality).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import Ajv2020 from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { sharedPath } from './support/shared.ts'
import { emptyState, originIndex, Journal, commit, openLocalCopy } from '../client/local-copy.ts'
import { exportLines } from '../client/copy-export.ts'
import { mispEventUuid } from '../client/misp-feed.ts'
import { checkMispEvent } from './support/misp-rules.ts'
import { readIndicators, type ImportFormat, type Defaults } from '../cli/import-file.ts'
import { stixPattern as protocolPattern } from '../protocol/stix-pattern.ts'
import { sha256, utf8 } from '../protocol/bytes.ts'

const scratch = mkdtempSync(join(tmpdir(), 'cairn-export-formats-'))
const copyDir = join(scratch, 'copy')
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const bytes = (tag: string, n: number) => {
  let out = Buffer.alloc(0)
  for (let i = 0; out.length < n; i++) out = Buffer.concat([out, Buffer.from(sha256(utf8(`${tag}/${i}`)))])
  return new Uint8Array(out.subarray(0, n))
}
const id = (i: number) => sha256(utf8(`export-formats record ${i}`))
const A = 'demo.cairn/eu-centre', B = 'demo.cairn/ncmec'

/** The copy's live records, as alg/value/category/quality: what every round trip must give back. */
const expected = [
  { alg: 'sha256', value: hex(bytes('s256', 32)), category: 'A1' },
  { alg: 'pdq', value: hex(bytes('pdq', 32)), category: 'B1', quality: 87 },
  { alg: 'md5', value: hex(bytes('md5', 16)), category: 'A2' },
  { alg: 'sha1', value: hex(bytes('sha1', 20)), category: 'B2' },
  { alg: 'photodna', value: hex(bytes('pdna', 144)), category: 'A1' },
  { alg: 'tmk_pdqf', value: hex(bytes('tmk', 258)), category: 'A2' },
  { alg: 'url_sha256', value: hex(bytes('url', 32)), category: 'B2' },
]

test.before(() => {
  const state = emptyState()
  const j = new Journal()
  const a = originIndex(state, A), b = originIndex(state, B)
  expected.forEach((e, i) => j.add(id(i), e.alg, e.category, Buffer.from(e.value, 'hex'), i % 2 ? b : a, i, e.quality))
  j.add(id(100), 'md5', 'A1', bytes('revoked', 16), a, 100)
  j.remove(id(100))
  j.attest(id(200), id(0), 'confirm', b, 50)
  mkdirSync(copyDir)
  commit(copyDir, state, j)
})
test.after(() => rmSync(scratch, { recursive: true, force: true }))

async function readBack(path: string, format: ImportFormat, d: Defaults = {}) {
  const out: Record<string, unknown>[] = []
  for await (const l of readIndicators(path, format, d)) {
    assert.ok('body' in l, `${format} entry ${l.line} did not read back: ${JSON.stringify(l)}`)
    const { alg, value, category, quality } = l.body as Record<string, unknown>
    out.push({ alg, value, category, ...(quality !== undefined ? { quality } : {}) })
  }
  return out
}

function cairn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'cli', 'main.ts'), ...args], { timeout: 60_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

// --- STIX ---------------------------------------------------------------

const SCHEMAS = sharedPath('stix-schemas/schemas', 'the exported STIX bundle is not validated against the OASIS schemas')
const SCHEMA_BASE = 'http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/'
type Validator = ((x: unknown) => boolean) & { errors?: unknown[] | null }
const validators = new Map<string, Validator>()
if (SCHEMAS) {
  const Ajv = ((Ajv2020 as unknown as { default?: unknown }).default ?? Ajv2020) as new (o: object) => { addSchema(s: object): void; getSchema(id: string): Validator | undefined }
  const formats = ((addFormats as unknown as { default?: unknown }).default ?? addFormats) as (ajv: unknown) => void
  const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false, logger: false })
  formats(ajv)
  for (const d of readdirSync(SCHEMAS)) for (const f of readdirSync(join(SCHEMAS, d))) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMAS, d, f), 'utf8')))
  for (const [name, path] of [['indicator', 'sdos/indicator.json'], ['identity', 'sdos/identity.json'], ['bundle', 'common/bundle.json']]) validators.set(name!, ajv.getSchema(SCHEMA_BASE + path!)!)
}
function assertValid(o: { type: string }) {
  if (!SCHEMAS) return
  const v = validators.get(o.type)!
  assert.ok(v(o), `${o.type} is not valid STIX 2.1: ${JSON.stringify(v.errors?.slice(0, 3))}\n${JSON.stringify(o)}`)
}

test('stix: one bundle, every object valid STIX 2.1, patterns as the node writes them; it reads back to the same indicators', async () => {
  const text = [...exportLines(openLocalCopy(copyDir), 'stix', { now: Date.parse('2026-01-02T03:04:05.678Z') })].join('')
  const bundle = JSON.parse(text) as { type: string; objects: Record<string, unknown>[] }
  assertValid(bundle)
  for (const o of bundle.objects) assertValid(o as { type: string })
  const indicators = bundle.objects.filter((o) => o.type === 'indicator')
  assert.is(indicators.length, expected.length)
  assert.equal(bundle.objects.filter((o) => o.type === 'identity').map((o) => o.name), [A, B])
  assert.is(indicators[0]!.created, '2026-01-02T03:04:05.678Z')
  assert.equal(indicators[0]!.x_cairn_confirmations, [B])
  // The node's TAXII objects carry the pattern the export writes (both come from protocol/stix-pattern.ts).
  for (const o of indicators) {
    const e = expected.find((x) => protocolPattern(x.alg, x.value) === o.pattern)
    assert.ok(e, `an exported pattern the node would not write: ${String(o.pattern)}`)
  }
  assert.match(String(indicators[0]!.id), /^indicator--[0-9a-f-]{36}$/)
  const path = join(scratch, 'set.stix.json')
  writeFileSync(path, text)
  assert.equal(await readBack(path, 'stix'), expected)
})

test('stix of an empty copy: a bundle without objects (the schema wants one or more when present)', () => {
  const empty = join(scratch, 'empty')
  mkdirSync(empty)
  commit(empty, emptyState(), new Journal())
  const bundle = JSON.parse([...exportLines(openLocalCopy(empty), 'stix', { now: 0 })].join(''))
  assert.not.ok('objects' in bundle)
  assertValid(bundle)
})

// --- MISP ---------------------------------------------------------------

test('misp: cairn export writes manifest.json, hashes.csv and one event file, in the MISP feed format; it reads back to the same indicators', async () => {
  const feed = join(scratch, 'feed')
  const r = await cairn(['export', '--copy', copyDir, '--format', 'misp', '--out', feed])
  assert.is(r.code, 0, r.stderr)
  const uuid = mispEventUuid('demo.cairn')
  assert.equal(readdirSync(feed).sort(), [`${uuid}.json`, 'hashes.csv', 'manifest.json'].sort())
  const manifest = JSON.parse(readFileSync(join(feed, 'manifest.json'), 'utf8')) as Record<string, Record<string, unknown>>
  assert.equal(Object.keys(manifest), [uuid])
  for (const k of ['info', 'Orgc', 'timestamp', 'date', 'analysis', 'threat_level_id']) assert.ok(k in manifest[uuid]!, `the manifest entry has ${k}`)
  const event = (JSON.parse(readFileSync(join(feed, `${uuid}.json`), 'utf8')) as { Event: Record<string, unknown> }).Event
  checkMispEvent(event)
  assert.is(event.uuid, uuid)
  assert.is(manifest[uuid]!.timestamp, event.timestamp)
  const attrs = event.Attribute as Record<string, unknown>[]
  assert.equal(attrs.map((a) => a.type), ['sha256', 'other', 'md5', 'sha1', 'other', 'other', 'other'])
  assert.equal(attrs.map((a) => a.to_ids), [true, false, true, true, false, false, false])
  const hashes = readFileSync(join(feed, 'hashes.csv'), 'utf8')
  assert.is(hashes, attrs.map((a) => `${createHash('md5').update(String(a.value)).digest('hex')},${uuid}\n`).join(''))
  assert.equal(await readBack(feed, 'misp'), expected)
  // Again into the same directory: the same event, replaced.
  assert.is((await cairn(['export', '--copy', copyDir, '--format', 'misp', '--out', feed])).code, 0)
  assert.is(readdirSync(feed).length, 3)
  assert.is((await cairn(['export', '--copy', copyDir, '--format', 'misp'])).code, 2, 'misp needs --out')
})

// --- HMA and the command -------------------------------------------------

test('hma: "pdq <hex>" lines read back (quality stated on import, as the text carries none); stix through the command', async () => {
  const path = join(scratch, 'pdq.txt')
  writeFileSync(path, [...exportLines(openLocalCopy(copyDir), 'hma')].join(''))
  assert.equal(await readBack(path, 'hma', { category: 'B1', pdqQuality: 87 }), expected.filter((e) => e.alg === 'pdq'))
  const out = join(scratch, 'cmd.stix.json')
  const r = await cairn(['export', '--copy', copyDir, '--format', 'stix', '--out', out])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stderr, /^wrote a STIX bundle of 7 indicators to /)
  assert.not.ok(existsSync(out + '.tmp'))
  assert.equal(await readBack(out, 'stix'), expected)
})

test.run()
