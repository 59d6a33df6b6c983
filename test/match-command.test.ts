/**
 * `cairn match` end to end, as a new provider would try it: a centre
 * publishes the PDQ (and SHA-256) of a test image from Meta's reference set
 * (../shared/pdq-ref, never copied into the project), another confirms it,
 * `cairn sync` makes the copy, and `cairn match` finds the image and a
 * re-encoded, resized copy of it (made with sharp in a temp dir), naming the
 * centre and the category, exit 1; other images exit 0; an unreadable file
 * is reported and the walk goes on.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import sharp from 'sharp'
import { sharedPath } from './support/shared.ts'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { hashFile } from '../client/file-hashes.ts'
import { fromHex } from '../protocol/bytes.ts'

const ref = sharedPath('pdq-ref', 'the cairn match end-to-end tests need its images')
const scratch = mkdtempSync(join(tmpdir(), 'cairn-match-test-'))
const copy = join(scratch, 'copy')
const photos = join(scratch, 'photos')
let cluster: Cluster | undefined
let publisher = ''
let confirmer = ''
let pdqId = ''
let shaId = ''

function cairn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'cli', 'main.ts'), ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

const image = (name: string) => join(ref!, 'data', 'reg-test-input', name)

test.after(async () => {
  await cluster?.close()
  rmSync(scratch, { recursive: true, force: true })
})

if (ref) {
  test('setup: a centre publishes an image\'s PDQ and SHA-256, another confirms, cairn sync makes the copy', async () => {
    cluster = await startCluster(2)
    const [a, b] = cluster.nodes as [NonNullable<Cluster['nodes'][0]>, NonNullable<Cluster['nodes'][0]>]
    publisher = a.origin
    confirmer = b.origin
    const h = await hashFile(image('dih/bridge-1-original.jpg'))
    assert.ok(h.pdq && h.quality! >= 50)
    pdqId = (await a.publisher.submit({ type: 'indicator', alg: 'pdq', value: fromHex(h.pdq!), quality: h.quality!, category: 'A2', kind: 'known_material', media: 'image' })).id
    shaId = (await a.publisher.submit({ type: 'indicator', alg: 'sha256', value: fromHex(h.sha256), category: 'A2', kind: 'known_material', media: 'image' })).id
    await b.publisher.submit({ type: 'attestation', target: fromHex(pdqId), opinion: 'confirm' })
    await waitFor('federation converges', () => converged(cluster!.nodes, 1), 60_000)
    const token = (await b.tokens.grant('provider', 'match test')).token
    const s = await cairn(['sync', '--node', b.url, '--token', token, '--dir', copy, '--genesis', join(cluster.dir, 'genesis.json'), '--min-witnesses', '1', '--quiet'])
    assert.is(s.code, 0, s.stderr)
    // The photos folder: a re-encoded, resized copy of the published image.
    mkdirSync(photos)
    await sharp(image('dih/bridge-1-original.jpg')).resize({ width: 300 }).jpeg({ quality: 60 }).toFile(join(photos, 'bridge-small.jpg'))
  })

  test('cairn match finds the image (SHA-256 and PDQ) and its resized re-encoded copy (PDQ), naming centre, category and confirmations; exit 1', async () => {
    const r = await cairn(['match', image('dih/bridge-1-original.jpg'), photos, '--copy', copy])
    assert.is(r.code, 1, r.stderr)
    const lines = r.stdout.trim().split('\n')
    assert.is(lines.length, 3, r.stdout)
    const [sha, pdq, small] = lines as [string, string, string]
    assert.ok(sha.startsWith(`${image('dih/bridge-1-original.jpg')}: sha256 distance 0, record ${shaId}, centre ${publisher} #`), sha)
    assert.ok(pdq.startsWith(`${image('dih/bridge-1-original.jpg')}: pdq distance 0, record ${pdqId}, centre ${publisher} #`), pdq)
    assert.match(small, new RegExp(`^${join(photos, 'bridge-small.jpg')}: pdq distance \\d+, record ${pdqId}, centre ${publisher} #\\d+, category A2, confirmed by ${confirmer}, disputed by none$`))
    assert.match(sha, /category A2, confirmed by none, disputed by none$/)
    assert.match(r.stderr, /2 file\(s\) checked against 2 indicators: 3 match\(es\) in 2 file\(s\)/)

    const j = await cairn(['match', photos, '--copy', copy, '--json'])
    assert.is(j.code, 1, j.stderr)
    const m = JSON.parse(j.stdout.trim())
    assert.equal({ ...m, distance: 0, seq: 0 }, {
      file: join(photos, 'bridge-small.jpg'), alg: 'pdq', distance: 0, id: pdqId, log: publisher, seq: 0, category: 'A2',
      value: (await hashFile(image('dih/bridge-1-original.jpg'))).pdq, quality: 100, confirmations: [confirmer], disputes: [],
    })
    assert.ok(m.distance > 0 && m.distance <= 31, `distance ${m.distance}`)
    // A tighter threshold than the copy's distance: no match, exit 0.
    const tight = await cairn(['match', photos, '--copy', copy, '--max-distance', String(m.distance - 1)])
    assert.equal([tight.code, tight.stdout], [0, ''])
  })

  test('no match exits 0; a low-quality image is reported and not PDQ-matched; unreadable files are reported and the walk goes on', async () => {
    const none = await cairn(['match', image('labelme-subset/q0122.jpg'), '--copy', copy])
    assert.equal([none.code, none.stdout], [0, ''], none.stderr)
    const low = await cairn(['match', image('labelme-subset/q0003.jpg'), '--copy', copy])
    assert.is(low.code, 0)
    assert.match(low.stderr, /q0003\.jpg: low quality \(PDQ quality \d+ < 50\): not matched by PDQ/)
    const broken = join(scratch, 'broken.jpg')
    writeFileSync(broken, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 7)]))
    const missing = join(scratch, 'no-such-file.jpg')
    const r = await cairn(['match', missing, broken, photos, image('labelme-subset/q0003.jpg'), '--copy', copy, '--json'])
    assert.is(r.code, 1, r.stderr)
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l))
    assert.equal(lines.map((l) => [l.file, l.error?.code ?? (l.low_quality ? 'low' : l.alg)]), [
      [missing, 'NOT_FOUND'], [broken, 'BAD_IMAGE'], [join(photos, 'bridge-small.jpg'), 'pdq'], [image('labelme-subset/q0003.jpg'), 'low'],
    ])
    // Without a match, a file that could not be read makes the run exit 2: it never passes for a clean one.
    const unread = await cairn(['match', missing, image('labelme-subset/q0122.jpg'), '--copy', copy])
    assert.is(unread.code, 2, unread.stderr)
    assert.match(unread.stderr, /no-such-file\.jpg: error NOT_FOUND/)
  })

  test('--dihedral matches a rotated copy and names the variant; usage errors and an unusable copy exit 2', async () => {
    const rotated = image('dih/bridge-2-rotate-90.jpg')
    const plain = await cairn(['match', rotated, '--copy', copy])
    assert.is(plain.code, 0)
    const r = await cairn(['match', rotated, '--copy', copy, '--dihedral', '--json'])
    assert.is(r.code, 1, r.stderr)
    const m = JSON.parse(r.stdout.trim())
    assert.is(m.id, pdqId)
    assert.ok(['rot90', 'rot270'].includes(m.variant), m.variant)
    assert.is((await cairn(['match', rotated, '--copy', copy, '--max-distance', '64'])).code, 2)
    assert.is((await cairn(['match', rotated, '--copy', copy, '--max-distance', 'x'])).code, 2)
    assert.is((await cairn(['match', rotated])).code, 2)
    const bad = await cairn(['match', rotated, '--copy', join(scratch, 'nothing')])
    assert.is(bad.code, 2)
    assert.match(bad.stderr.trim(), /^error NOT_FOUND: no local copy/)
  })
}

test.run()
