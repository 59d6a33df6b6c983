/**
 * PDQ's WebAssembly kernels (wasm/pdq-kernels.ts → .wasm, driven by
 * protocol/pdq-wasm.ts) against the same steps in TypeScript (pdqDctTs):
 * every DCT coefficient and the quality, bit for bit, on the reference's
 * pixel files and on seeded images of every awkward shape (tiny, odd,
 * exactly 64x64, one side over 512, grey and RGB). pdq.test.ts holds the
 * default path (the kernels) to Meta's published values; this file ties the
 * TypeScript path to it. Also: the committed module is what the source builds.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { pdqDctTs, pdqDctWasm, pdqUsesWasm, type Dct, type PixelImage } from '../protocol/pdq.ts'
import { decodeNetpbm } from '../client/netpbm.ts'
import { mulberry32 } from '../testnet/random.ts'
import { sharedPath } from './support/shared.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The first difference between the two paths' results, or undefined. */
function differs(image: PixelImage, skipBlurAt64: boolean): string | undefined {
  const w = pdqDctWasm(image, skipBlurAt64)
  const t = pdqDctTs(image, skipBlurAt64)
  if (w === 'not-taken') return 'the kernels did not take the image'
  if (w === undefined || t === undefined) return w === t ? undefined : `one path hashed it, the other not (${w === undefined ? 'kernels' : 'TypeScript'} did not)`
  if (w.quality !== t.quality) return `quality ${w.quality} vs ${t.quality}`
  const at = firstDifferent(w, t)
  return at === -1 ? undefined : `coefficient ${at}: ${w.coefficients[at]} vs ${t.coefficients[at]}`
}

function firstDifferent(a: Dct, b: Dct): number {
  for (let i = 0; i < 256; i++) if (!Object.is(a.coefficients[i], b.coefficients[i])) return i
  return -1
}

function seededImage(seed: number, width: number, height: number, channels: 1 | 3): PixelImage {
  const random = mulberry32(seed)
  const data = new Uint8Array(width * height * channels)
  const smooth = seed % 2 === 0
  const f = 0.002 + random() * 0.02
  for (let i = 0; i < data.length; i++) data[i] = smooth ? Math.max(0, Math.min(255, Math.round(128 + 110 * Math.sin(i * f) + random() * 12))) : Math.floor(random() * 256)
  return { width, height, channels, data }
}

test('the kernels are loaded in this process (Node has WebAssembly SIMD)', () => {
  assert.ok(pdqUsesWasm, 'pdqHash fell back to TypeScript: the kernels in protocol/pdq-kernels-wasm.ts did not load')
})

test('the kernels and the TypeScript path agree on awkward shapes, grey and RGB, both 64x64 modes', () => {
  const shapes: [number, number][] = [
    [4, 4], [5, 5], [5, 513], [7, 9], [16, 16], [63, 64], [64, 64], [65, 64], [100, 37], [127, 129], [255, 256],
    [256, 256], [511, 512], [512, 512], [513, 512], [512, 513], [600, 400], [1152, 864], [2000, 100], [100, 2000], [3001, 7],
  ]
  let seed = 1
  for (const [w, h] of shapes) {
    for (const channels of [1, 3] as const) {
      for (const skip of [true, false]) {
        const problem = differs(seededImage(seed++, w, h, channels), skip)
        assert.is(problem, undefined, `${w}x${h}x${channels} (${skip ? 'plain' : 'dihedral'} path): ${problem}`)
      }
    }
  }
})

test('the kernels and the TypeScript path agree on 200 seeded images of random sizes', () => {
  const random = mulberry32(20261207)
  for (let i = 0; i < 200; i++) {
    const w = 1 + Math.floor(random() * (i % 4 === 0 ? 1400 : 520))
    const h = 1 + Math.floor(random() * (i % 5 === 0 ? 1100 : 520))
    const channels = random() < 0.3 ? 1 : 3
    const problem = differs(seededImage(1000 + i, w, h, channels), i % 7 !== 0)
    assert.is(problem, undefined, `image ${i}, ${w}x${h}x${channels}: ${problem}`)
  }
})

const pixelsDir = sharedPath('pdq-ref/pixels', 'the kernels are not compared on the reference pixel files')
test('the kernels and the TypeScript path agree on every reference pixel file', () => {
  if (pixelsDir === undefined) return
  const files = readdirSync(pixelsDir).filter((f) => /\.p[gp]m$/.test(f))
  assert.ok(files.length >= 5, `expected the reference's pixel files in ${pixelsDir}`)
  for (const f of files) {
    const image = decodeNetpbm(readFileSync(join(pixelsDir, f)), 1 << 28)
    for (const skip of [true, false]) assert.is(differs(image, skip), undefined, f)
  }
})

test('the committed protocol/pdq-kernels-wasm.ts is what `npm run build:wasm` builds from wasm/pdq-kernels.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-wasm-'))
  try {
    const out = join(dir, 'pdq-kernels-wasm.ts')
    const r = spawnSync(process.execPath, [join(root, 'scripts/build-wasm.mjs'), '--out', out], { cwd: root, encoding: 'utf8', timeout: 120_000 })
    assert.is(r.status, 0, `build:wasm failed: ${r.stderr}`)
    assert.is(readFileSync(out, 'utf8'), readFileSync(join(root, 'protocol/pdq-kernels-wasm.ts'), 'utf8'), 'protocol/pdq-kernels-wasm.ts differs from what wasm/pdq-kernels.ts builds: run npm run build:wasm and commit both')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
