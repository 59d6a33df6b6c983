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
 *
 * Why one file of ~500 lines: it follows Meta's pdq/cpp step by step, in
 * its order (luma, resize, box filters, decimation, DCT, median, quality,
 * dihedral hashes), so a reader can hold it against the reference in one view.
 */
import { LedgerError } from './errors.ts'
import { loadPdqKernels, type BoxPhases, type KernelPlan } from './pdq-wasm.ts'

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

export interface Dct {
  coefficients: Float32Array // 16x16 row-major
  quality: number
}

function pdqDct(image: PixelImage, skipBlurAt64: boolean): Dct | undefined {
  const dct = pdqDctWasm(image, skipBlurAt64)
  return dct === 'not-taken' ? pdqDctTs(image, skipBlurAt64) : dct
}

/** The DCT and quality from the WebAssembly kernels, or 'not-taken' where they are not loaded or do not take the image. */
export function pdqDctWasm(image: PixelImage, skipBlurAt64: boolean): Dct | undefined | 'not-taken' {
  if (kernels === undefined) return 'not-taken'
  checkImage(image)
  const plan = kernelPlan(image, skipBlurAt64)
  if (plan === undefined) return undefined
  if (!kernels.accepts(image.width, image.channels, plan)) return 'not-taken'
  return kernels.run(image.data, image.width, image.channels, plan)
}

/** The same steps in TypeScript: where WebAssembly is not available, and to test the kernels against. */
export function pdqDctTs(image: PixelImage, skipBlurAt64: boolean): Dct | undefined {
  checkImage(image)
  const { rows, cols, luma } = lumaOf(image)
  if (rows < MIN_HASHABLE_DIM || cols < MIN_HASHABLE_DIM) return undefined
  let small: Float32Array
  if (skipBlurAt64 && rows === 64 && cols === 64) {
    // The reference's plain path takes 64x64 input (e.g. video frames) as already downsampled.
    small = luma
  } else {
    small = blurAndDecimate(luma, rows, cols)
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
/** f32(LUMA_R_OF[r] + LUMA_G_OF[g]) at r << 8 | g: the reference's first sum, looked up (256 KiB, made on first use). */
let lumaRgOf: Float32Array | undefined
function lumaRg(): Float32Array {
  if (lumaRgOf === undefined) {
    lumaRgOf = new Float32Array(1 << 16)
    for (let r = 0; r < 256; r++) for (let g = 0; g < 256; g++) lumaRgOf[(r << 8) | g] = LUMA_R_OF[r]! + LUMA_G_OF[g]!
  }
  return lumaRgOf
}

/**
 * Float luma, after the reference's nearest-neighbour resize (CImg's default
 * `resize(512, 512)`: output x reads input floor(x * width / 512)). Only the
 * pixels the resize keeps are read; the full-size image is never converted.
 */
function lumaOf(image: PixelImage): { rows: number; cols: number; luma: Float32Array } {
  const { width, channels, data } = image
  const { rows, cols, srcRow, srcColByte: srcCol } = resizeTables(image.width, image.height, channels)
  const luma = new Float32Array(rows * cols)
  const rg = channels === 3 ? lumaRg() : LUMA_B_OF
  const lb = LUMA_B_OF
  for (let y = 0; y < rows; y++) {
    const rowBase = srcRow[y]! * width * channels
    const out = y * cols
    if (channels === 1) {
      for (let x = 0; x < cols; x++) luma[out + x] = data[rowBase + srcCol[x]!]!
    } else {
      for (let x = 0; x < cols; x++) {
        const p = rowBase + srcCol[x]!
        luma[out + x] = rg[(data[p]! << 8) | data[p + 1]!]! + lb[data[p + 2]!]!
      }
    }
  }
  return { rows, cols, luma }
}

/** The WebAssembly kernels (protocol/pdq-wasm.ts), or undefined: then every step runs here. */
const kernels = loadPdqKernels(DCT_MATRIX)

/** Whether pdqHash runs on the WebAssembly kernels in this process. */
export const pdqUsesWasm = kernels !== undefined

/** What the kernels compute for an image: the resize tables, filter phases and sampled rows and columns, as lumaOf and blurAndDecimate take them. */
function kernelPlan(image: PixelImage, skipBlurAt64: boolean): KernelPlan | undefined {
  const { width, height, channels } = image
  const key = `${width}x${height}x${channels}${skipBlurAt64 ? 's' : 'b'}`
  if (lastPlan?.key !== key) lastPlan = { key, plan: makeKernelPlan(width, height, channels, skipBlurAt64) }
  return lastPlan.plan
}

/** The last plan made: photos from one camera or one site share their size. */
let lastPlan: { key: string; plan: KernelPlan | undefined } | undefined

/**
 * The reference's nearest-neighbour resize (CImg's default `resize(512,
 * 512)` when a side is over 512: output x reads input floor(x * width /
 * 512)) as tables: the size after it, the source row of each output row and
 * the byte offset within a row of each output column.
 */
function resizeTables(width: number, height: number, channels: number): { rows: number; cols: number; srcRow: Int32Array; srcColByte: Int32Array } {
  const resize = width > DOWNSAMPLE_DIMS || height > DOWNSAMPLE_DIMS
  const cols = resize ? DOWNSAMPLE_DIMS : width
  const rows = resize ? DOWNSAMPLE_DIMS : height
  const srcRow = Int32Array.from({ length: rows }, (_, y) => (resize ? Math.floor((y * height) / rows) : y))
  const srcColByte = Int32Array.from({ length: cols }, (_, x) => (resize ? Math.floor((x * width) / cols) : x) * channels)
  return { rows, cols, srcRow, srcColByte }
}

function makeKernelPlan(width: number, height: number, channels: number, skipBlurAt64: boolean): KernelPlan | undefined {
  const { rows, cols, srcRow, srcColByte } = resizeTables(width, height, channels)
  if (rows < MIN_HASHABLE_DIM || cols < MIN_HASHABLE_DIM) return undefined
  const boxPhases = (length: number): BoxPhases => {
    const ph = phases(length, windowSize(length))
    const full = ph.p1 + ph.p2
    return { ...ph, inv: (full & (full - 1)) === 0 ? 1 / full : 0 }
  }
  return {
    rows, cols, srcRow, srcColByte,
    blur: !(skipBlurAt64 && rows === 64 && cols === 64),
    alongRows: boxPhases(cols),
    alongCols: boxPhases(rows),
    sampledRows: sampled(rows),
    sampledCols: sampled(cols),
  }
}

/** Box window per pass: ceil(dim / 128), so two passes cover one 64th of the image. */
function windowSize(dim: number): number {
  return Math.floor((dim + 2 * 64 - 1) / (2 * 64))
}

/** The 64 rows (or columns) out of `dim` that decimation samples. */
function sampled(dim: number): Int32Array {
  return Int32Array.from({ length: 64 }, (_, o) => Math.trunc(((o + 0.5) * dim) / 64))
}

/** The reference's box-filter phases for a vector of `length` values and a window. */
function phases(length: number, window: number): { p1: number; p2: number; p3: number; p4: number } {
  const half = Math.floor((window + 2) / 2)
  return { p1: half - 1, p2: window - half + 1, p3: length - window, p4: half - 1 }
}

/**
 * Two passes of (box along rows, then box along columns) of `luma`, then the
 * 64x64 decimation, as the reference does it, bit for bit. Only what the
 * decimation reads is computed to the end: the last column pass runs over
 * the 64 sampled columns only. `luma` is overwritten.
 */
function blurAndDecimate(luma: Float32Array, rows: number, cols: number): Float32Array {
  const windowAlongRows = windowSize(cols)
  const windowAlongCols = windowSize(rows)
  const tmp = new Float32Array(rows * cols)
  const sums = new Float64Array(Math.max(cols, 64))
  rowPass(luma, tmp, rows, cols, windowAlongRows)
  columnPass(tmp, luma, rows, cols, windowAlongCols, sums)
  rowPass(luma, tmp, rows, cols, windowAlongRows)
  // The last column pass, on the 64 sampled columns gathered side by side.
  const sc = sampled(cols)
  const sr = sampled(rows)
  const gathered = new Float32Array(rows * 64)
  for (let y = 0, at = 0; y < rows; y++, at += 64) {
    const base = y * cols
    for (let o = 0; o < 64; o++) gathered[at + o] = tmp[base + sc[o]!]!
  }
  const filtered = new Float32Array(rows * 64)
  columnPass(gathered, filtered, rows, 64, windowAlongCols, sums)
  const out = new Float32Array(64 * 64)
  for (let oi = 0; oi < 64; oi++) out.set(filtered.subarray(sr[oi]! * 64, sr[oi]! * 64 + 64), oi * 64)
  return out
}

/**
 * The box filter along every row (running mean, centred, the window
 * shrinking at the ends), eight rows side by side in locals: each row's float
 * sum adds and subtracts in the reference's order, rounding included, and the
 * eight chains do not wait on one another. Dividing by a power of two is
 * multiplying by its inverse, exactly.
 */
function rowPass(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number): void {
  const { p1, p2, p3, p4 } = phases(cols, window)
  const full = p1 + p2 // the window size in phase 3
  const inv = (full & (full - 1)) === 0 ? 1 / full : 0
  const last = (rows - 1) * cols
  for (let r = 0; r < rows; r += 8) {
    // Past the last row, lanes repeat it: the same values written twice.
    const a0 = r * cols
    const a1 = Math.min(a0 + 1 * cols, last)
    const a2 = Math.min(a0 + 2 * cols, last)
    const a3 = Math.min(a0 + 3 * cols, last)
    const a4 = Math.min(a0 + 4 * cols, last)
    const a5 = Math.min(a0 + 5 * cols, last)
    const a6 = Math.min(a0 + 6 * cols, last)
    const a7 = Math.min(a0 + 7 * cols, last)
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    let s4 = 0
    let s5 = 0
    let s6 = 0
    let s7 = 0
    let n = 0
    let ri = 0
    let li = 0
    let oi = 0
    for (let k = 0; k < p1; k++, ri++) {
      s0 = f32(s0 + input[a0 + ri]!)
      s1 = f32(s1 + input[a1 + ri]!)
      s2 = f32(s2 + input[a2 + ri]!)
      s3 = f32(s3 + input[a3 + ri]!)
      s4 = f32(s4 + input[a4 + ri]!)
      s5 = f32(s5 + input[a5 + ri]!)
      s6 = f32(s6 + input[a6 + ri]!)
      s7 = f32(s7 + input[a7 + ri]!)
      n++
    }
    for (let k = 0; k < p2; k++, ri++, oi++) {
      n++
      s0 = f32(s0 + input[a0 + ri]!)
      s1 = f32(s1 + input[a1 + ri]!)
      s2 = f32(s2 + input[a2 + ri]!)
      s3 = f32(s3 + input[a3 + ri]!)
      s4 = f32(s4 + input[a4 + ri]!)
      s5 = f32(s5 + input[a5 + ri]!)
      s6 = f32(s6 + input[a6 + ri]!)
      s7 = f32(s7 + input[a7 + ri]!)
      output[a0 + oi] = s0 / n
      output[a1 + oi] = s1 / n
      output[a2 + oi] = s2 / n
      output[a3 + oi] = s3 / n
      output[a4 + oi] = s4 / n
      output[a5 + oi] = s5 / n
      output[a6 + oi] = s6 / n
      output[a7 + oi] = s7 / n
    }
    if (inv !== 0) {
      for (let k = 0; k < p3; k++, ri++, li++, oi++) {
        s0 = f32(f32(s0 + input[a0 + ri]!) - input[a0 + li]!)
        s1 = f32(f32(s1 + input[a1 + ri]!) - input[a1 + li]!)
        s2 = f32(f32(s2 + input[a2 + ri]!) - input[a2 + li]!)
        s3 = f32(f32(s3 + input[a3 + ri]!) - input[a3 + li]!)
        s4 = f32(f32(s4 + input[a4 + ri]!) - input[a4 + li]!)
        s5 = f32(f32(s5 + input[a5 + ri]!) - input[a5 + li]!)
        s6 = f32(f32(s6 + input[a6 + ri]!) - input[a6 + li]!)
        s7 = f32(f32(s7 + input[a7 + ri]!) - input[a7 + li]!)
        output[a0 + oi] = s0 * inv
        output[a1 + oi] = s1 * inv
        output[a2 + oi] = s2 * inv
        output[a3 + oi] = s3 * inv
        output[a4 + oi] = s4 * inv
        output[a5 + oi] = s5 * inv
        output[a6 + oi] = s6 * inv
        output[a7 + oi] = s7 * inv
      }
    } else {
      for (let k = 0; k < p3; k++, ri++, li++, oi++) {
        s0 = f32(f32(s0 + input[a0 + ri]!) - input[a0 + li]!)
        s1 = f32(f32(s1 + input[a1 + ri]!) - input[a1 + li]!)
        s2 = f32(f32(s2 + input[a2 + ri]!) - input[a2 + li]!)
        s3 = f32(f32(s3 + input[a3 + ri]!) - input[a3 + li]!)
        s4 = f32(f32(s4 + input[a4 + ri]!) - input[a4 + li]!)
        s5 = f32(f32(s5 + input[a5 + ri]!) - input[a5 + li]!)
        s6 = f32(f32(s6 + input[a6 + ri]!) - input[a6 + li]!)
        s7 = f32(f32(s7 + input[a7 + ri]!) - input[a7 + li]!)
        output[a0 + oi] = s0 / n
        output[a1 + oi] = s1 / n
        output[a2 + oi] = s2 / n
        output[a3 + oi] = s3 / n
        output[a4 + oi] = s4 / n
        output[a5 + oi] = s5 / n
        output[a6 + oi] = s6 / n
        output[a7 + oi] = s7 / n
      }
    }
    for (let k = 0; k < p4; k++, li++, oi++) {
      n--
      s0 = f32(s0 - input[a0 + li]!)
      s1 = f32(s1 - input[a1 + li]!)
      s2 = f32(s2 - input[a2 + li]!)
      s3 = f32(s3 - input[a3 + li]!)
      s4 = f32(s4 - input[a4 + li]!)
      s5 = f32(s5 - input[a5 + li]!)
      s6 = f32(s6 - input[a6 + li]!)
      s7 = f32(s7 - input[a7 + li]!)
      output[a0 + oi] = s0 / n
      output[a1 + oi] = s1 / n
      output[a2 + oi] = s2 / n
      output[a3 + oi] = s3 / n
      output[a4 + oi] = s4 / n
      output[a5 + oi] = s5 / n
      output[a6 + oi] = s6 / n
      output[a7 + oi] = s7 / n
    }
  }
}

/**
 * The box filter along every column: all columns side by side, one row of
 * the image per step, so memory is read in order and the columns' float sums
 * (kept f32-exact in `sums`) are independent.
 */
function columnPass(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number, sums: Float64Array): void {
  const { p1, p2, p3, p4 } = phases(rows, window)
  const full = p1 + p2
  const inv = (full & (full - 1)) === 0 ? 1 / full : 0
  sums.fill(0, 0, cols)
  let n = 0
  let ri = 0
  let li = 0
  let oi = 0
  for (let k = 0; k < p1; k++, ri += cols) {
    for (let c = 0; c < cols; c++) sums[c] = f32(sums[c]! + input[ri + c]!)
    n++
  }
  for (let k = 0; k < p2; k++, ri += cols, oi += cols) {
    n++
    for (let c = 0; c < cols; c++) {
      const s = f32(sums[c]! + input[ri + c]!)
      sums[c] = s
      output[oi + c] = s / n
    }
  }
  for (let k = 0; k < p3; k++, ri += cols, li += cols, oi += cols) {
    if (inv !== 0) {
      for (let c = 0; c < cols; c++) {
        const s = f32(f32(sums[c]! + input[ri + c]!) - input[li + c]!)
        sums[c] = s
        output[oi + c] = s * inv
      }
    } else {
      for (let c = 0; c < cols; c++) {
        const s = f32(f32(sums[c]! + input[ri + c]!) - input[li + c]!)
        sums[c] = s
        output[oi + c] = s / n
      }
    }
  }
  for (let k = 0; k < p4; k++, li += cols, oi += cols) {
    n--
    for (let c = 0; c < cols; c++) {
      const s = f32(sums[c]! - input[li + c]!)
      sums[c] = s
      output[oi + c] = s / n
    }
  }
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
