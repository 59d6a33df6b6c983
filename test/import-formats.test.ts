/**
 * `cairn import --format hma|pdq-photo-hasher|stix|misp|ncmec-xml`: each
 * reader on small files written here (shapes from each format's source,
 * named in cli/import/*.ts), rejected lines and entries with their number
 * and reason, skipped ones with theirs; then the command against a stub node
 * that signs real entries and serves them as tiles: an NCMEC deleted entry
 * revokes exactly the records imported from that entry, in the centre's own
 * log, and nothing else.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { readIndicators, type ParsedLine, type ImportFormat, type Defaults } from '../cli/import-file.ts'
import { signEntry } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { recordFromJson } from '../protocol/records.ts'
import { encodeEntryBundle, parseTilePath } from '../protocol/tiles.ts'
import { decodeEntry } from '../protocol/entry.ts'
import { decodeRecord } from '../protocol/records.ts'
import { toHex, sha256, utf8 } from '../protocol/bytes.ts'
import { minimiseRef, refPseudonym } from '../protocol/case-ref.ts'
import { runCairn } from './support/cli.ts'
const REF_SECRET = sha256(utf8('import-formats test: case-ref secret'))

const dir = mkdtempSync(join(tmpdir(), 'cairn-import-formats-'))
const hex = (c: string, bytes: number) => c.repeat(2 * bytes)

async function read(name: string, text: string, format: ImportFormat, d: Defaults = {}): Promise<ParsedLine[]> {
  const path = join(dir, name)
  writeFileSync(path, text)
  const out: ParsedLine[] = []
  for await (const l of readIndicators(path, format, d)) out.push(l)
  return out
}
const kinds = (ls: ParsedLine[]) => ls.map((l) => [l.line, 'body' in l ? 'body' : 'error' in l ? 'error' : 'skipped' in l ? 'skipped' : 'revoke'])
function body(l: ParsedLine | undefined): Record<string, unknown> {
  if (l && 'body' in l) return l.body
  throw new Error(`expected a record body, got ${JSON.stringify(l)}`)
}
function error(l: ParsedLine | undefined): string {
  if (l && 'error' in l) return l.error
  throw new Error(`expected an error, got ${JSON.stringify(l)}`)
}

test('hma: pdq, video_md5 and video_sha256 lines; other signal types and bad hex rejected; pdq needs --pdq-quality', async () => {
  const text = `pdq ${hex('a', 32)}\nvideo_md5 ${hex('b', 16)}\nvideo_sha256 ${hex('c', 32)}\nurl_md5 ${hex('d', 16)}\npdq abc\npdq\n`
  const without = await read('a.hma', text, 'hma', { category: 'A1' })
  assert.equal(kinds(without), [[1, 'error'], [2, 'body'], [3, 'body'], [4, 'error'], [5, 'error'], [6, 'error']])
  assert.match(error(without[0]), /--pdq-quality/)
  assert.match(error(without[3]), /url_md5.*no cairn alg/)
  assert.equal(body(without[1]), { type: 'indicator', alg: 'md5', value: hex('b', 16), media: 'video', category: 'A1', kind: 'known_material' })
  const withQ = await read('a.hma', text, 'hma', { category: 'A1', pdqQuality: 90 })
  assert.equal(body(withQ[0]), { type: 'indicator', alg: 'pdq', value: hex('a', 32), media: 'image', category: 'A1', kind: 'known_material', quality: 90 })
})

test('pdq-photo-hasher: hash,quality,filename (file name dropped, commas in it fine), --details lines; dihedral and bad quality rejected', async () => {
  const h = 'f'.repeat(60) + '0a1b'
  const text = [
    `${h},87,/photos/a,b.jpg`,
    `hash=${h},norm=128,delta=0,quality=64,filename=x.png`,
    `${h},101,y.jpg`,
    [h, h, h, h, h, h, h, h, '90', 'z.jpg'].join(','),
    `${h.slice(2)},90,short.jpg`,
  ].join('\n') + '\n'
  const ls = await read('p.txt', text, 'pdq-photo-hasher', { category: 'B1', pdqQuality: 55 })
  assert.equal(kinds(ls), [[1, 'body'], [2, 'body'], [3, 'error'], [4, 'error'], [5, 'error']])
  assert.equal(body(ls[0]), { type: 'indicator', alg: 'pdq', value: h, quality: 87, category: 'B1', media: 'image', kind: 'known_material' })
  assert.is(body(ls[1]).quality, 64, 'the line\'s quality wins over --pdq-quality')
  assert.not.ok(JSON.stringify(ls).includes('photos'), 'the file name is never kept')
  assert.match(error(ls[3]), /dihedral/)
})

const indicator = (id: string, pattern: string, extra: Record<string, unknown> = {}) => ({
  type: 'indicator', spec_version: '2.1', id: `indicator--${id}`, created: '2025-01-01T00:00:00.000Z', modified: '2025-01-01T00:00:00.000Z',
  pattern, pattern_type: 'stix', valid_from: '2025-01-01T00:00:00Z', ...extra,
})
const U = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`

test('stix: hash indicators become records; OR gives several, AND and unknown hashes are refused; revoked, expired and older versions skipped', async () => {
  const bundle = {
    type: 'bundle', id: `bundle--${U(99)}`, objects: [
      { type: 'identity', spec_version: '2.1', id: `identity--${U(50)}`, created: '2025-01-01T00:00:00Z', modified: '2025-01-01T00:00:00Z', name: 'x' },
      indicator(U(1), `[file:hashes.'SHA-256' = '${hex('1', 32)}']`, { labels: ['csam', 'category-a2'] }),
      indicator(U(2), `[file:hashes.MD5 = '${hex('2', 16)}' OR file:hashes.'SHA-1' = '${hex('3', 20)}']`),
      indicator(U(3), `[file:hashes.MD5 = '${hex('4', 16)}' AND file:hashes.'SHA-1' = '${hex('5', 20)}']`),
      indicator(U(4), `[file:hashes.'SHA-512' = '${hex('6', 64)}']`),
      indicator(U(5), `[file:hashes.PDQ = '${hex('7', 32)}']`, { revoked: true }),
      indicator(U(6), `[file:hashes.PDQ = '${hex('8', 32)}']`, { x_cairn_quality: 77, x_cairn_category: 'B2' }),
      indicator(U(7), `[file:hashes.MD5 = '${hex('9', 16)}']`, { valid_until: '2001-01-01T00:00:00Z' }),
      indicator(U(8), `[file:hashes.MD5 = '${hex('a', 16)}']`),
      indicator(U(8), `[file:hashes.MD5 = '${hex('a', 16)}']`, { modified: '2025-02-01T00:00:00.000Z', revoked: true }),
      indicator(U(9), `[file:name = 'x.jpg']`),
    ],
  }
  const ls = await read('b.json', JSON.stringify(bundle), 'stix', { category: 'A1' })
  assert.equal(kinds(ls), [[2, 'body'], [3, 'body'], [3, 'body'], [4, 'error'], [5, 'error'], [6, 'skipped'], [7, 'body'], [8, 'skipped'], [9, 'skipped'], [10, 'skipped'], [11, 'error']])
  assert.equal(body(ls[0]), { type: 'indicator', alg: 'sha256', value: hex('1', 32), category: 'A2', media: 'image', kind: 'known_material' })
  assert.equal([body(ls[1]).alg, body(ls[2]).alg, body(ls[1]).category], ['md5', 'sha1', 'A1'])
  assert.match(error(ls[3]), /AND/)
  assert.match(error(ls[4]), /SHA-512.*no cairn alg/)
  assert.equal([body(ls[6]).quality, body(ls[6]).category], [77, 'B2'])
  assert.is(ls[5]!.where, `indicator--${U(5)}`)
  assert.equal(await read('c.json', '{"type":"report"}', 'stix'), [{ line: 0, error: 'not a STIX 2.1 bundle: expected {"type":"bundle","objects":[...]} (or a TAXII envelope {"objects":[...]})' }])
})

const attr = (n: number, type: string, value: string, extra: Record<string, unknown> = {}) => ({ uuid: U(n), type, category: 'Payload delivery', value, to_ids: true, timestamp: '1700000000', deleted: false, ...extra })

test('misp: hash attributes (and filename|hash) become records, deleted ones and non-hashes skipped, other hash types refused; event or feed directory', async () => {
  const event = {
    Event: {
      uuid: U(100), info: 'list', date: '2025-01-01', timestamp: '1700000000', published: true, analysis: '2', threat_level_id: '1',
      Tag: [{ name: 'cairn:category="B1"' }],
      Attribute: [
        attr(1, 'md5', hex('A', 16)),
        attr(2, 'filename|sha256', `holiday, 2.jpg|${hex('b', 32)}`, { Tag: [{ name: 'cairn:category="A2"' }] }),
        attr(3, 'sha1', hex('c', 20), { deleted: true }),
        attr(4, 'sha512', hex('d', 64)),
        attr(5, 'text', 'a note'),
        attr(6, 'other', hex('e', 32), { Tag: [{ name: 'cairn:alg="pdq"' }, { name: 'cairn:pdq-quality="70"' }] }),
      ],
      Object: [{ name: 'file', deleted: false, Attribute: [attr(7, 'sha1', hex('f', 20))] }, { name: 'file', deleted: true, Attribute: [attr(8, 'md5', hex('1', 16))] }],
    },
  }
  const ls = await read('e.json', JSON.stringify(event), 'misp')
  assert.equal(kinds(ls), [[1, 'body'], [2, 'body'], [3, 'skipped'], [4, 'error'], [5, 'skipped'], [6, 'body'], [7, 'body'], [8, 'skipped']])
  assert.equal(body(ls[0]), { type: 'indicator', alg: 'md5', value: hex('a', 16), category: 'B1', media: 'image', kind: 'known_material' })
  assert.equal([body(ls[1]).value, body(ls[1]).category], [hex('b', 32), 'A2'])
  assert.not.ok(JSON.stringify(ls).includes('holiday'), 'the file name is never kept')
  assert.equal([body(ls[5]).alg, body(ls[5]).quality], ['pdq', 70])
  assert.is(ls[3]!.where, `attribute ${U(4)}`)

  const feed = join(dir, 'feed')
  mkdirSync(feed)
  writeFileSync(join(feed, 'manifest.json'), JSON.stringify({ [U(100)]: { info: 'list' }, '../../etc/passwd': {} }))
  writeFileSync(join(feed, `${U(100)}.json`), JSON.stringify(event))
  const fromFeed: ParsedLine[] = []
  for await (const l of readIndicators(feed, 'misp', {})) fromFeed.push(l)
  assert.equal(kinds(fromFeed).slice(0, 8), kinds(ls))
  assert.match(error(fromFeed[8]), /not an event uuid/)
})

const NS = 'xmlns="https://hashsharing.ncmec.org/hashsharing/v2"'
const pdna = hex('c', 144)

test('ncmec-xml: fingerprints of image and video entries, classification to category, ref ncmec:<id>; deleted entries become revocations; unknown elements are errors, not guesses', async () => {
  const xml = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult ${NS}>
  <images count="4" maxTimestamp="2017-10-24T15:10:00Z">
    <image><member id="42">Example Member</member><timestamp>2017-10-24T15:00:00Z</timestamp><id>image1</id><classification>A1</classification>
      <fingerprints><md5>${hex('a', 16)}</md5><sha1>${hex('b', 20)}</sha1><pdna>${pdna}</pdna><pdq>${hex('d', 32)}</pdq></fingerprints>
      <feedback lastUpdateTimestamp="2023-06-01T12:48:14Z"><affirmativeFeedback type="Md5"><members><member id="42">Example Member</member></members></affirmativeFeedback></feedback>
    </image>
    <deletedImage><member id="43">Example Member2</member><id>image4</id><timestamp>2017-10-24T15:10:00Z</timestamp></deletedImage>
    <image><member id="42">M</member><id>image2</id><classification>Z9</classification><fingerprints><md5>${hex('e', 16)}</md5></fingerprints></image>
    <image><member id="42">M</member><id>image3</id><classification>B2</classification><colour>red</colour><fingerprints><md5>${hex('e', 16)}</md5></fingerprints></image>
  </images>
  <videos count="1" maxTimestamp="2019-11-24T15:10:00Z">
    <video><member id="101">TX</member><id>video1</id><classification>A2</classification>
      <fingerprints><md5>${hex('f', 16)}</md5><tmk-pdqf rel="self" href="/v2/entries/1/fingerprints/TMK_PDQF"/><videntifier>00</videntifier></fingerprints></video>
  </videos>
  <paging><next>/v2/entries?start=2001&amp;size=1000&amp;max=3000</next></paging>
</queryResult>`
  const ls = await read('n.xml', xml, 'ncmec-xml', { deletedReason: 'false_positive', pdqQuality: 80 })
  assert.equal(kinds(ls), [[1, 'body'], [1, 'body'], [1, 'body'], [1, 'body'], [2, 'revoke'], [3, 'error'], [4, 'error'], [5, 'body'], [5, 'error'], [5, 'error']])
  assert.equal(body(ls[0]), { type: 'indicator', category: 'A1', media: 'image', ref: 'ncmec:image1', alg: 'md5', value: hex('a', 16), kind: 'known_material' })
  assert.equal([body(ls[2]).alg, body(ls[2]).value], ['photodna', pdna])
  assert.equal(body(ls[3]).quality, 80)
  assert.equal((ls[4] as { revoke: unknown }).revoke, { ref: 'ncmec:image4', reason: 'false_positive' })
  assert.match(error(ls[5]), /classification "Z9"/)
  assert.match(error(ls[6]), /unknown element.*<colour>/)
  assert.equal([body(ls[7]).media, body(ls[7]).category], ['video', 'A2'])
  assert.match(error(ls[8]), /by reference/)
  assert.match(error(ls[9]), /videntifier has no cairn alg/)
  assert.is(ls[8]!.where, 'video video1, tmk-pdqf')

  const noReason = await read('n.xml', xml, 'ncmec-xml', { pdqQuality: 80 })
  assert.match(error(noReason[4]), /--deleted-reason/)
  assert.match(error((await read('bad.xml', '<queryResult><images>', 'ncmec-xml'))[0]), /not well-formed/)
  assert.match(error((await read('other.xml', '<status/>', 'ncmec-xml'))[0]), /not <queryResult>/)
})

// ---------------------------------------------------------------------------
// The command against a stub node that signs real entries and serves them as tiles.

const ORIGIN = 'test.cairn/centre'
const SEED = sha256(utf8('import-formats stub log key'))
const OPERATOR = 'cairn_operator', AUDITOR = 'cairn_auditor'

function stubNode(): Promise<{ server: Server; url: string; entries: Uint8Array[] }> {
  const entries: Uint8Array[] = []
  const server = createServer((req, res) => {
    let text = ''
    req.on('data', (d) => { text += d })
    req.on('end', () => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
      const json = (status: number, v: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)) }
      const url = req.url ?? ''
      if (req.method === 'GET' && url === '/status') return token === OPERATOR ? json(200, { origin: ORIGIN }) : json(403, { error: { code: 'FORBIDDEN', message: 'operator only' } })
      if (req.method === 'GET' && url === '/logs') return json(200, [{ name: 'centre', origin: ORIGIN, size: entries.length }])
      if (req.method === 'GET' && url.startsWith('/logs/centre/tile/entries/')) {
        // As the node: tiles are for auditor and oversight, not the operator.
        if (token !== AUDITOR) return json(403, { error: { code: 'FORBIDDEN', message: 'this route is for auditor or oversight; your token has role operator' } })
        const t = parseTilePath(url.slice('/logs/centre/'.length))
        const start = t.index * 256
        res.writeHead(200).end(encodeEntryBundle(entries.slice(start, start + (t.width ?? 256))))
        return
      }
      if (req.method === 'POST' && url === '/records') {
        const { records } = JSON.parse(text) as { records: Record<string, unknown>[] }
        const results = records.map((b) => {
          try {
            if (b.ref !== undefined) b.ref = minimiseRef(REF_SECRET, b.ref) // as the node: only the pseudonym is recorded
            const record = recordFromJson({ ...b, v: 1, log: ORIGIN, seq: entries.length, time: 1_700_000_000_000 + entries.length })
            if (record.type === 'revocation') {
              // As the node: the target must be an indicator of this log.
              const target = entries.find((e) => toHex(leafHash(e)) === toHex(record.target))
              if (!target || decodeRecord(decodeEntry(target).recordBytes).type !== 'indicator') throw new Error(`revocation target ${toHex(record.target)} is not an earlier record of ${ORIGIN}`)
            }
            const entry = signEntry(SEED, record)
            entries.push(entry)
            return { id: toHex(leafHash(entry)), seq: entries.length - 1, log: ORIGIN, ...(b.ref ? { ref: b.ref } : {}) }
          } catch (e) {
            return { error: { code: 'UNKNOWN_TARGET', message: (e as Error).message } }
          }
        })
        return json(200, { results })
      }
      if (req.method === 'POST' && url === '/refs') return json(200, { pseudonyms: (JSON.parse(text) as { refs: string[] }).refs.map((r) => refPseudonym(REF_SECRET, r)) })
      json(404, { error: { code: 'NOT_FOUND', message: url } })
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, entries })))
}

const cairn = runCairn

const entryXml = (id: string, md5s: string[]) => `<image><member id="1">M</member><id>${id}</id><classification>A1</classification><fingerprints>${md5s.map((m) => `<md5>${m}</md5>`).join('')}</fingerprints></image>`
const deletedXml = (id: string) => `<deletedImage><member id="1">M</member><id>${id}</id></deletedImage>`
const doc = (...entries: string[]) => `<?xml version="1.0"?><queryResult ${NS}><images count="${entries.length}">${entries.join('')}</images></queryResult>`

test('cairn import --format ncmec-xml: a deleted entry revokes exactly the records imported from it, in this log; an unknown or already revoked one is rejected', async () => {
  const { server, url, entries } = await stubNode()
  const run = (file: string, text: string, ...extra: string[]) => {
    writeFileSync(join(dir, file), text)
    return cairn(['import', join(dir, file), '--format', 'ncmec-xml', '--node', url, '--token', OPERATOR, '--quiet', ...extra])
  }
  const revocations = () => entries.map((e) => decodeRecord(decodeEntry(e).recordBytes)).filter((r) => r.type === 'revocation').map((r) => toHex((r as { target: Uint8Array }).target))
  const idOf = (pred: (r: Record<string, unknown>) => boolean) => toHex(leafHash(entries.find((e) => pred(decodeRecord(decodeEntry(e).recordBytes) as unknown as Record<string, unknown>))!))
  try {
    // The same md5 from another source (no ref) must survive the deletion of the NCMEC entry.
    writeFileSync(join(dir, 'other.txt'), `md5 ${hex('1', 16)} A1\n`)
    assert.is((await cairn(['import', join(dir, 'other.txt'), '--node', url, '--token', OPERATOR, '--quiet'])).code, 0)
    const first = await run('first.xml', doc(entryXml('e1', [hex('1', 16), hex('2', 16)]), entryXml('e2', [hex('3', 16)])))
    assert.is(first.code, 0, first.stderr)
    assert.match(first.stdout, /imported 3 indicators, rejected 0/)

    // Without a token that may read tiles, the deletion is rejected, naming what to give.
    const noToken = await run('del.xml', doc(deletedXml('e1')), '--deleted-reason', 'false_positive')
    assert.is(noToken.code, 1)
    assert.match(noToken.stderr, /^entry 1 \(deletedImage e1\): FORBIDDEN: .*--auditor-token/m)
    assert.equal(revocations(), [])

    const del = await run('del2.xml', doc(deletedXml('e1'), deletedXml('nope')), '--deleted-reason', 'false_positive', '--auditor-token', AUDITOR)
    assert.is(del.code, 1, del.stderr)
    assert.match(del.stdout, /imported 0 indicators, rejected 1, revoked 2/)
    assert.match(del.stderr, /^entry 2 \(deletedImage nope\): no current record with ref ncmec:nope \(p1:[0-9a-f]{32}\) in test\.cairn\/centre's log/m)
    const e1 = [hex('1', 16), hex('2', 16)].map((v) => idOf((r) => r.ref === refPseudonym(REF_SECRET, 'ncmec:e1') && toHex(r.value as Uint8Array) === v)).sort()
    assert.equal(revocations().sort(), e1)
    assert.not.ok(revocations().includes(idOf((r) => r.ref === undefined && r.type === 'indicator')), 'the same value from another source stays')

    // Deleting it again: nothing current is left to revoke. Added and deleted in one file: revoked at once.
    const again = await run('del3.xml', doc(deletedXml('e1'), entryXml('e3', [hex('4', 16)]), deletedXml('e3')), '--deleted-reason', 'duplicate', '--auditor-token', AUDITOR)
    assert.match(again.stderr, /entry 1 \(deletedImage e1\): no current record .*already revoked/)
    assert.match(again.stdout, /imported 1 indicators, rejected 1, revoked 1/)
    assert.ok(revocations().includes(idOf((r) => r.ref === refPseudonym(REF_SECRET, 'ncmec:e3'))))
    assert.is(revocations().length, 3)
  } finally {
    server.close()
  }
})

test('cairn import --format stix: skipped entries are counted by reason and do not fail the run', async () => {
  const { server, url } = await stubNode()
  try {
    const bundle = { type: 'bundle', id: `bundle--${U(1)}`, objects: [indicator(U(1), `[file:hashes.MD5 = '${hex('5', 16)}']`), indicator(U(2), `[file:hashes.MD5 = '${hex('6', 16)}']`, { revoked: true })] }
    writeFileSync(join(dir, 'b.stix.json'), JSON.stringify(bundle))
    const r = await cairn(['import', join(dir, 'b.stix.json'), '--node', url, '--token', OPERATOR, '--category', 'A1', '--quiet'])
    assert.is(r.code, 0, r.stderr)
    assert.match(r.stdout, /imported 1 indicators, rejected 0, skipped 1/)
    assert.match(r.stderr, /skipped 1: revoked/)
  } finally {
    server.close()
  }
})

test.after(() => rmSync(dir, { recursive: true, force: true }))
test.run()
