/**
 * `cairn hash` end to end: the real CLI in a child process over a directory
 * of files made here (corrupt, truncated, empty, not an image, 4x4, nested)
 * and, when ../shared/pdq-ref is present, a reference image.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const REF = fileURLToPath(new URL('../../shared/pdq-ref/', import.meta.url))
const HAVE_REF = existsSync(REF + 'data')
if (!HAVE_REF) console.log(`hash-command.test.ts: skipping the reference-image case: ${REF} (../shared/pdq-ref beside the repository) is absent`)

function cairnHash(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'hash', ...args], { cwd: ROOT, encoding: 'utf8' })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const jsonLines = (out: string): Record<string, any>[] => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))

let dir = ''
let noisyJpeg: Buffer

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-hash-'))
  // A 96x96 image of noise: many gradients, so a usable quality.
  const noise = Buffer.alloc(96 * 96 * 3)
  let x = 12345
  for (let i = 0; i < noise.length; i++) noise[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24
  noisyJpeg = await sharp(noise, { raw: { width: 96, height: 96, channels: 3 } }).jpeg({ quality: 90 }).toBuffer()
  writeFileSync(join(dir, 'a-good.jpg'), noisyJpeg)
  writeFileSync(join(dir, 'b-truncated.jpg'), noisyJpeg.subarray(0, Math.floor(noisyJpeg.length / 2)))
  writeFileSync(join(dir, 'c-corrupt.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200, 0x42)]))
  writeFileSync(join(dir, 'd-empty.bin'), '')
  writeFileSync(join(dir, 'e-notes.txt'), 'not an image\n')
  writeFileSync(join(dir, 'f-tiny.png'), await sharp(Buffer.alloc(4 * 4 * 3, 128), { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer())
  mkdirSync(join(dir, 'g-sub'))
  writeFileSync(join(dir, 'g-sub', 'h-nested.webp'), await sharp(noisyJpeg).webp({ quality: 90 }).toBuffer())
})

test.after(() => {
  rmSync(dir, { recursive: true, force: true })
})

test('--json walks the directory, one object per file, errors reported and the walk goes on', () => {
  const r = cairnHash('--json', dir)
  assert.is(r.status, 1, 'a file failed, so exit 1')
  const lines = jsonLines(r.stdout)
  const byName = new Map(lines.map((l) => [l.file.slice(dir.length + 1), l]))
  assert.equal([...byName.keys()], ['a-good.jpg', 'b-truncated.jpg', 'c-corrupt.png', 'd-empty.bin', 'e-notes.txt', 'f-tiny.png', join('g-sub', 'h-nested.webp')])

  const good = byName.get('a-good.jpg')!
  assert.equal(Object.keys(good), ['file', 'md5', 'sha1', 'sha256', 'pdq', 'quality'])
  assert.is(good.md5, createHash('md5').update(noisyJpeg).digest('hex'))
  assert.is(good.sha1, createHash('sha1').update(noisyJpeg).digest('hex'))
  assert.is(good.sha256, createHash('sha256').update(noisyJpeg).digest('hex'))
  assert.match(good.pdq, /^[0-9a-f]{64}$/)
  assert.ok(good.quality >= 50, `noise has quality ${good.quality}`)

  assert.is(byName.get('b-truncated.jpg')!.error.code, 'BAD_IMAGE')
  assert.is(byName.get('c-corrupt.png')!.error.code, 'BAD_IMAGE')
  assert.equal(Object.keys(byName.get('b-truncated.jpg')!), ['file', 'error'])

  const empty = byName.get('d-empty.bin')!
  assert.is(empty.md5, 'd41d8cd98f00b204e9800998ecf8427e')
  assert.is(empty.sha256, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  assert.is(empty.pdq, undefined)
  assert.is(byName.get('e-notes.txt')!.pdq, undefined)
  assert.is(byName.get('e-notes.txt')!.quality, undefined)

  const tiny = byName.get('f-tiny.png')!
  assert.is(tiny.quality, 0)
  assert.is(tiny.pdq, '0'.repeat(64))

  // The WebP re-encode of the same noise is a near-duplicate.
  const nested = byName.get(join('g-sub', 'h-nested.webp'))!
  let d = 0
  for (let i = 0; i < 64; i += 2) d += popcount(parseInt(nested.pdq.slice(i, i + 2), 16) ^ parseInt(good.pdq.slice(i, i + 2), 16))
  assert.ok(d <= 31, `re-encoded copy is ${d} bits away`)
})

test('exit 0 when every file is hashed; --dihedral adds the 8 hashes; missing paths are errors', () => {
  const ok = cairnHash('--json', '--dihedral', join(dir, 'a-good.jpg'), join(dir, 'e-notes.txt'))
  assert.is(ok.status, 0, ok.stderr)
  const [img, txt] = jsonLines(ok.stdout)
  assert.is(img!.pdq_dihedral.length, 8)
  assert.is(img!.pdq_dihedral[0], img!.pdq)
  assert.is(txt!.pdq_dihedral, undefined)

  const missing = cairnHash('--json', join(dir, 'no-such-file'))
  assert.is(missing.status, 1)
  assert.is(jsonLines(missing.stdout)[0]!.error.code, 'NOT_FOUND')
})

test('plain output is readable lines; errors go to stderr', () => {
  const r = cairnHash(join(dir, 'a-good.jpg'), join(dir, 'b-truncated.jpg'))
  assert.is(r.status, 1)
  assert.match(r.stdout, /a-good\.jpg\n  md5 +[0-9a-f]{32}\n  sha1 +[0-9a-f]{40}\n  sha256 +[0-9a-f]{64}\n  pdq +[0-9a-f]{64}  quality \d+/)
  assert.match(r.stderr, /b-truncated\.jpg: error BAD_IMAGE/)
})

test('a reference image through the CLI gives the published hash', () => {
  if (!HAVE_REF) return
  // pdq/wasm/test/TestData/PDQMD5TestData.csv and pdq/python/pdqhashing/tests/pdq_test.py, misc-images/wee.jpg.
  const r = cairnHash('--json', join(REF, 'data/misc-images/wee.jpg'))
  assert.is(r.status, 0, r.stderr)
  const [line] = jsonLines(r.stdout)
  assert.is(line!.pdq, '6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d')
  assert.is(line!.md5, createHash('md5').update(readFileSync(join(REF, 'data/misc-images/wee.jpg'))).digest('hex'))
})

function popcount(x: number): number {
  let n = 0
  for (; x; x &= x - 1) n++
  return n
}

test.run()
