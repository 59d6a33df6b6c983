/**
 * PDQ, Meta's perceptual image hash, on decoded pixels: bit for bit what the
 * reference C++ (`pdq/cpp` in facebook/ThreatExchange) computes from the same
 * pixels. Written from the reference, not copied; every float step goes
 * through Math.fround where the reference holds a `float`, because a single
 * rounding difference can flip a bit next to the median.
 *
 * Pipeline: (nearest-neighbour resize to 512x512 if a side is over 512) →
 * float luma → two passes of the box ("Jarosz") filter along rows and columns
 * → decimation to 64x64 → quality from the 64x64 gradients → 16x16 DCT
 * (frequencies 1..16, no DC) → a bit per coefficient strictly above the
 * Torben median.
 */
import { LedgerError } from './errors.ts'

/** Decoded pixels, row-major, `channels` interleaved bytes per pixel (1 = grey, 3 = RGB). */
export interface PixelImage {
  width: number
  height: number
  channels: 1 | 3
  data: Uint8Array
}

export interface PdqHash {
  /** 32 bytes; their hex is the reference's text form (bit k of the reference is bit k%8 of byte 31 - k/8). */
  hash: Uint8Array
  /** 0..100; below 50 the reference advises discarding the hash. */
  quality: number
}

export const PDQ_HASH_BYTES = 32

/** The reference's order of the dihedral hashes. */
export const PDQ_DIHEDRAL_NAMES = ['original', 'rot90', 'rot180', 'rot270', 'flipX', 'flipY', 'flipPlus1', 'flipMinus1'] as const

/** The reference hashes at most 512x512: larger images are first resized to exactly that. */
const DOWNSAMPLE_DIMS = 512
const MIN_HASHABLE_DIM = 5
const JAROSZ_PASSES = 2
/** Decoded images larger than this are refused rather than allocated (a decode limit). */
export const MAX_PDQ_PIXELS = 1 << 28

const f32 = Math.fround
const LUMA_R = f32(0.299)
const LUMA_G = f32(0.587)
const LUMA_B = f32(0.114)

/** 16x64 DCT-II rows 1..16 (row 0, the DC, is left out), as the reference builds it in float. */
const DCT_MATRIX = (() => {
  const m = new Float32Array(16 * 64)
  const scale = f32(Math.sqrt(2 / 64))
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) m[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1))
  }
  return m
})()

/** PDQ hash and quality of an image. Images under 5 px on a side give the all-zero hash and quality 0. */
export function pdqHash(image: PixelImage): PdqHash {
  const dct = pdqDct(image, true)
  if (dct === undefined) return { hash: new Uint8Array(PDQ_HASH_BYTES), quality: 0 }
  return { hash: bitsFromDct(dct.coefficients), quality: dct.quality }
}

/**
 * The 8 dihedral hashes (in PDQ_DIHEDRAL_NAMES order), each derived from the
 * one DCT by sign flips and transposition, as the reference does. Like the
 * reference's dihedral path, a 64x64 image is blurred too, so `hashes[0]` can
 * differ from `pdqHash` for exactly 64x64 input.
 */
export function pdqDihedralHashes(image: PixelImage): { hashes: Uint8Array[]; quality: number } {
  const dct = pdqDct(image, false)
  if (dct === undefined) return { hashes: PDQ_DIHEDRAL_NAMES.map(() => new Uint8Array(PDQ_HASH_BYTES)), quality: 0 }
  const a = dct.coefficients
  const hashes = DIHEDRAL_TRANSFORMS.map((t) => bitsFromDct(t === undefined ? a : transformDct(a, t)))
  return { hashes, quality: dct.quality }
}

/** Number of differing bits between two PDQ hashes. */
export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== PDQ_HASH_BYTES || b.length !== PDQ_HASH_BYTES) {
    throw new LedgerError('BAD_VALUE_LENGTH', `a PDQ hash is ${PDQ_HASH_BYTES} bytes, got ${a.length} and ${b.length}`)
  }
  let d = 0
  for (let i = 0; i < PDQ_HASH_BYTES; i++) {
    let x = a[i]! ^ b[i]!
    x -= (x >> 1) & 0x55
    x = (x & 0x33) + ((x >> 2) & 0x33)
    d += (x + (x >> 4)) & 0x0f
  }
  return d
}

// ---------------------------------------------------------------- pipeline

interface Dct {
  coefficients: Float32Array // 16x16 row-major
  quality: number
}

function pdqDct(image: PixelImage, skipBlurAt64: boolean): Dct | undefined {
  checkImage(image)
  const { rows, cols, luma } = lumaOf(image)
  if (rows < MIN_HASHABLE_DIM || cols < MIN_HASHABLE_DIM) return undefined
  let small: Float32Array
  if (skipBlurAt64 && rows === 64 && cols === 64) {
    // The reference's plain path takes 64x64 input (e.g. video frames) as already downsampled.
    small = luma
  } else {
    jaroszFilter(luma, rows, cols, windowSize(cols), windowSize(rows))
    small = decimate(luma, rows, cols)
  }
  return { coefficients: dct64To16(small), quality: qualityOf(small) }
}

function checkImage(image: PixelImage): void {
  const { width, height, channels, data } = image
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 0 || height < 0) {
    throw new LedgerError('BAD_MEDIA', `image dimensions must be non-negative integers, got ${width}x${height}`)
  }
  if (channels !== 1 && channels !== 3) throw new LedgerError('BAD_MEDIA', `PDQ takes grey or RGB pixels, got ${channels} channels`)
  if (width * height > MAX_PDQ_PIXELS) throw new LedgerError('TOO_LARGE', `image of ${width}x${height} pixels is over the ${MAX_PDQ_PIXELS}-pixel limit`)
  if (data.length !== width * height * channels) {
    throw new LedgerError('BAD_MEDIA', `a ${width}x${height}x${channels} image has ${width * height * channels} bytes, got ${data.length}`)
  }
}

/** f32(coefficient × v) for every byte v: the reference's per-channel products, looked up. */
const lumaTable = (c: number) => Float32Array.from({ length: 256 }, (_, v) => f32(c * v))
const LUMA_R_OF = lumaTable(LUMA_R)
const LUMA_G_OF = lumaTable(LUMA_G)
const LUMA_B_OF = lumaTable(LUMA_B)

/**
 * Float luma, after the reference's nearest-neighbour resize (CImg's default
 * `resize(512, 512)`: output x reads input floor(x * width / 512)).
 */
function lumaOf(image: PixelImage): { rows: number; cols: number; luma: Float32Array } {
  const { width, height, channels, data } = image
  const resize = width > DOWNSAMPLE_DIMS || height > DOWNSAMPLE_DIMS
  const cols = resize ? DOWNSAMPLE_DIMS : width
  const rows = resize ? DOWNSAMPLE_DIMS : height
  const srcCol = new Int32Array(cols)
  for (let x = 0; x < cols; x++) srcCol[x] = (resize ? Math.floor((x * width) / cols) : x) * channels
  const luma = new Float32Array(rows * cols)
  for (let y = 0; y < rows; y++) {
    const sy = resize ? Math.floor((y * height) / rows) : y
    const rowBase = sy * width * channels
    const out = y * cols
    if (channels === 1) {
      for (let x = 0; x < cols; x++) luma[out + x] = data[rowBase + srcCol[x]!]!
    } else {
      for (let x = 0; x < cols; x++) {
        const p = rowBase + srcCol[x]!
        luma[out + x] = f32(LUMA_R_OF[data[p]!]! + LUMA_G_OF[data[p + 1]!]!) + LUMA_B_OF[data[p + 2]!]!
      }
    }
  }
  return { rows, cols, luma }
}

/** Box window per pass: ceil(dim / 128), so two passes cover one 64th of the image. */
function windowSize(dim: number): number {
  return Math.floor((dim + 2 * 64 - 1) / (2 * 64))
}

/** The 64 rows (or columns) out of `dim` that decimation samples. */
function sampled(dim: number): Int32Array {
  return Int32Array.from({ length: 64 }, (_, o) => Math.trunc(((o + 0.5) * dim) / 64))
}

/**
 * Two passes of (box along rows, then box along columns), in place in `buf`.
 * Only the 64 sampled columns of the last column pass are computed: nothing
 * else of it is read (decimate samples them; every other pass is whole).
 */
function jaroszFilter(buf: Float32Array, rows: number, cols: number, windowAlongRows: number, windowAlongCols: number): void {
  const tmp = new Float32Array(buf.length)
  const everyRow = Int32Array.from({ length: rows }, (_, i) => i * cols)
  const everyCol = Int32Array.from({ length: cols }, (_, j) => j)
  const sampledCols = rows >= 64 && cols >= 64 ? sampled(cols) : everyCol
  for (let pass = 0; pass < JAROSZ_PASSES; pass++) {
    boxLanes(buf, tmp, everyRow, cols, 1, windowAlongRows)
    boxLanes(tmp, buf, pass === JAROSZ_PASSES - 1 ? sampledCols : everyCol, rows, cols, windowAlongCols)
  }
}

/**
 * Running-mean box filter of many rows or columns ("lanes", starting at
 * `lanes[l]`, `length` values `stride` apart), centred, with the window
 * shrinking at the ends. Each lane's float sum adds and subtracts in the
 * reference's order, rounding included; the lanes go side by side, step by
 * step, so their sums do not wait on one another (the reference's one
 * lane at a time is a chain of dependent float adds) and a column pass
 * reads memory in order. Dividing by a power of two is multiplying by its
 * inverse, exactly.
 */
function boxLanes(input: Float32Array, output: Float32Array, lanes: Int32Array, length: number, stride: number, window: number): void {
  // Lanes along rows are a row apart in memory: take them 16 at a time, so
  // each step touches 16 cache lines that stay hot for the next 15 steps.
  const block = stride === 1 ? 16 : lanes.length
  const sums = new Float32Array(block)
  for (let from = 0; from < lanes.length; from += block) boxBlock(input, output, lanes, from, Math.min(lanes.length, from + block), sums, length, stride, window)
}

function boxBlock(input: Float32Array, output: Float32Array, lanes: Int32Array, from: number, to: number, sums: Float32Array, length: number, stride: number, window: number): void {
  const half = Math.floor((window + 2) / 2)
  const phase1 = half - 1
  const phase2 = window - half + 1
  const phase3 = length - window
  const phase4 = half - 1
  sums.fill(0)
  let n = 0
  for (let k = 0; k < phase1; k++) {
    const at = k * stride
    for (let l = from, i = 0; l < to; l++, i++) sums[i] = sums[i]! + input[lanes[l]! + at]!
    n++
  }
  for (let k = 0; k < phase2; k++) {
    const at = (phase1 + k) * stride
    const out = k * stride
    n++
    for (let l = from, i = 0; l < to; l++, i++) {
      const s = f32(sums[i]! + input[lanes[l]! + at]!)
      sums[i] = s
      output[lanes[l]! + out] = s / n
    }
  }
  const inv = (n & (n - 1)) === 0 ? 1 / n : 0
  for (let k = 0; k < phase3; k++) {
    const right = (window + k) * stride
    const left = k * stride
    const out = (phase2 + k) * stride
    if (inv !== 0) {
      for (let l = from, i = 0; l < to; l++, i++) {
        const base = lanes[l]!
        const s = f32(f32(sums[i]! + input[base + right]!) - input[base + left]!)
        sums[i] = s
        output[base + out] = s * inv
      }
    } else {
      for (let l = from, i = 0; l < to; l++, i++) {
        const base = lanes[l]!
        const s = f32(f32(sums[i]! + input[base + right]!) - input[base + left]!)
        sums[i] = s
        output[base + out] = s / n
      }
    }
  }
  for (let k = 0; k < phase4; k++) {
    const left = (phase3 + k) * stride
    const out = (phase2 + phase3 + k) * stride
    n--
    for (let l = from, i = 0; l < to; l++, i++) {
      const s = f32(sums[i]! - input[lanes[l]! + left]!)
      sums[i] = s
      output[lanes[l]! + out] = s / n
    }
  }
}

/** Sample 64x64 cell centres. */
function decimate(buf: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(64 * 64)
  for (let oi = 0; oi < 64; oi++) {
    const ii = Math.trunc(((oi + 0.5) * rows) / 64)
    for (let oj = 0; oj < 64; oj++) {
      const ij = Math.trunc(((oj + 0.5) * cols) / 64)
      out[oi * 64 + oj] = buf[ii * cols + ij]!
    }
  }
  return out
}

/** The reference's heuristic: sum of quantised vertical and horizontal gradients, /90, capped at 100. */
function qualityOf(a: Float32Array): number {
  let sum = 0
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) sum += Math.abs(Math.trunc(f32(f32(f32(a[i * 64 + j]! - a[(i + 1) * 64 + j]!) * 100) / 255)))
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) sum += Math.abs(Math.trunc(f32(f32(f32(a[i * 64 + j]! - a[i * 64 + j + 1]!) * 100) / 255)))
  }
  return Math.min(100, Math.trunc(sum / 90))
}

/** B = D A Dᵀ with D the 16x64 matrix, float sums in the reference's order. */
function dct64To16(a: Float32Array): Float32Array {
  const d = DCT_MATRIX
  const t = new Float32Array(16 * 64)
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let s = 0
      for (let k = 0; k < 64; k++) s = f32(s + f32(d[i * 64 + k]! * a[k * 64 + j]!))
      t[i * 64 + j] = s
    }
  }
  const b = new Float32Array(16 * 16)
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let s = 0
      for (let k = 0; k < 64; k++) s = f32(s + f32(t[i * 64 + k]! * d[j * 64 + k]!))
      b[i * 16 + j] = s
    }
  }
  return b
}

/** Bit i*16+j set where coefficient (i, j) is strictly above the median; laid out as the reference prints it. */
function bitsFromDct(c: Float32Array): Uint8Array {
  const median = torbenMedian(c)
  const hash = new Uint8Array(PDQ_HASH_BYTES)
  for (let k = 0; k < 256; k++) {
    // The reference prints 16-bit word 15 first and word 0 last, each big-endian.
    if (c[k]! > median) hash[31 - (k >> 3)]! |= 1 << (k & 7)
  }
  return hash
}

/** Torben Mogensen's median (N. Devillard's version, as the reference uses it): no sorting, no copy. */
function torbenMedian(m: Float32Array): number {
  const n = m.length
  let min = m[0]!
  let max = m[0]!
  for (let i = 1; i < n; i++) {
    if (m[i]! < min) min = m[i]!
    if (m[i]! > max) max = m[i]!
  }
  const halfCount = Math.floor((n + 1) / 2)
  for (;;) {
    const guess = f32(f32(min + max) / 2)
    let less = 0
    let greater = 0
    let equal = 0
    let maxLtGuess = min
    let minGtGuess = max
    for (let i = 0; i < n; i++) {
      const v = m[i]!
      if (v < guess) {
        less++
        if (v > maxLtGuess) maxLtGuess = v
      } else if (v > guess) {
        greater++
        if (v < minGtGuess) minGtGuess = v
      } else {
        equal++
      }
    }
    if (less <= halfCount && greater <= halfCount) {
      if (less >= halfCount) return maxLtGuess
      if (less + equal >= halfCount) return guess
      return minGtGuess
    }
    if (less > greater) max = maxLtGuess
    else min = minGtGuess
  }
}

// ---------------------------------------------------------------- dihedral

/**
 * How each dihedral variant's DCT follows from the original's: whether it is
 * transposed, and which coefficients change sign (by row/column parity).
 * Rotating or flipping the image only permutes and negates DCT coefficients.
 */
interface DihedralTransform {
  transpose: boolean
  negate: (i: number, j: number) => boolean
}

const DIHEDRAL_TRANSFORMS: (DihedralTransform | undefined)[] = [
  undefined, // original
  { transpose: true, negate: (_i, j) => (j & 1) === 0 }, // rot90
  { transpose: false, negate: (i, j) => ((i + j) & 1) === 1 }, // rot180
  { transpose: true, negate: (i) => (i & 1) === 0 }, // rot270
  { transpose: false, negate: (i) => (i & 1) === 0 }, // flipX
  { transpose: false, negate: (_i, j) => (j & 1) === 0 }, // flipY
  { transpose: true, negate: () => false }, // flipPlus1
  { transpose: true, negate: (i, j) => ((i + j) & 1) === 1 }, // flipMinus1
]

function transformDct(a: Float32Array, t: DihedralTransform): Float32Array {
  const b = new Float32Array(256)
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      const v = t.negate(i, j) ? -a[i * 16 + j]! : a[i * 16 + j]!
      b[t.transpose ? j * 16 + i : i * 16 + j] = v
    }
  }
  return b
}
