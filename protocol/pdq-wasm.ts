/**
 * Drives PDQ's hot loops in WebAssembly (wasm/pdq-kernels.ts, built into
 * protocol/pdq-kernels-wasm.ts): float luma with the nearest-neighbour resize, the
 * two box-filter passes along rows and columns, decimation to 64x64 and the
 * 16x16 DCT and the quality, the same steps protocol/pdq.ts takes in TypeScript, bit for
 * bit (test/pdq-wasm.test.ts holds the two against each other). pdq.ts
 * decides what to compute (resize tables, filter phases, sampled rows); this
 * file lays the buffers out in the module's memory and calls the kernels.
 *
 * A pass along rows runs as a pass along the columns of the transposed
 * image, so every pass has four independent sums per f32x4:
 *   luma L → transpose → columns (= rows of L) → transpose → columns
 *   → transpose → columns (= rows) → the 64 sampled columns' last pass
 *   → the 64 sampled rows → DCT.
 */
import { PDQ_KERNELS_WASM_BASE64 } from './pdq-kernels-wasm.ts'

export interface BoxPhases {
  p1: number
  p2: number
  p3: number
  p4: number
  /** 1/window when exact (a power of two), else 0. */
  inv: number
}

/** What to compute for one image; the caller (pdq.ts) derives it from the reference's rules. */
export interface KernelPlan {
  /** Luma size after the resize (at most 512 × 512). */
  rows: number
  cols: number
  /** Source row for each luma row; byte offset within a source row for each luma column. */
  srcRow: Int32Array
  srcColByte: Int32Array
  /** False for the 64x64 input the reference takes as already decimated. */
  blur: boolean
  /** Along a row (length cols) and along a column (length rows). */
  alongRows: BoxPhases
  alongCols: BoxPhases
  /** The 64 rows and 64 columns decimation samples. */
  sampledRows: Int32Array
  sampledCols: Int32Array
}

interface Exports {
  memory: WebAssembly.Memory
  heapBase(): number
  lumaRgbT(src: number, rowStride: number, rows: number, cols: number, colTab: number, out: number, outStride: number): void
  lumaGreyT(src: number, rowStride: number, rows: number, cols: number, colTab: number, out: number, outStride: number): void
  transpose(src: number, rows: number, cols: number, dst: number): void
  boxPass(src: number, dst: number, length: number, width: number, mode: number, dstStride: number, pickTab: number, scratch: number, p1: number, p2: number, p3: number, p4: number, inv: number): void
  dct(a: number, d: number, dt: number, t: number, out: number): void
  quality(a: number): number
}

/** boxPass's output modes (wasm/pdq-kernels.ts). */
const TRANSPOSED = 1
const PICKED = 2

/** Source rows copied into the module at a time (the luma kernel's band). */
const BAND = 16
/** Sixteen source rows longer than this are left to the TypeScript path (a pathological shape). */
const MAX_SOURCE_BYTES = 256 * 1024 * 1024
const PAGE = 65536

/**
 * A matrix side padded for the kernels: a multiple of 16 floats, and never
 * a multiple of 256, whose power-of-two row stride would map a transpose's
 * four destination rows onto the same cache sets.
 */
const padded = (n: number) => {
  const p = (n + 15) & ~15
  return p % 256 === 0 ? p + 16 : p
}

export class PdqKernels {
  readonly #x: Exports
  // Fixed region: DCT matrix D (16×64), Dᵀ (64×16), DCT scratch (16×64), result (16×16), decimated (64×64), tables, boxPass's scratch.
  readonly #d: number
  readonly #dt: number
  readonly #t: number
  readonly #out: number
  readonly #small: number
  readonly #colTab: number
  readonly #pickCols: number
  readonly #pickRows: number
  readonly #scratch: number
  readonly #dynamic: number

  constructor(x: Exports, dctMatrix: Float32Array) {
    this.#x = x
    let at = (x.heapBase() + 15) & ~15
    const take = (bytes: number) => ((at += bytes), at - bytes)
    this.#d = take(16 * 64 * 4)
    this.#dt = take(64 * 16 * 4)
    this.#t = take(16 * 64 * 4)
    this.#out = take(16 * 16 * 4)
    this.#small = take(64 * 64 * 4)
    this.#colTab = take(512 * 4)
    this.#pickCols = take(64 * 4)
    this.#pickRows = take(64 * 4)
    this.#scratch = take(256)
    this.#dynamic = at
    this.#ensure(at)
    const d = new Float32Array(x.memory.buffer, this.#d, 16 * 64)
    const dt = new Float32Array(x.memory.buffer, this.#dt, 64 * 16)
    d.set(dctMatrix)
    for (let i = 0; i < 16; i++) for (let k = 0; k < 64; k++) dt[k * 16 + i] = dctMatrix[i * 64 + k]!
  }

  #ensure(bytes: number): void {
    const have = this.#x.memory.buffer.byteLength
    if (bytes > have) this.#x.memory.grow(Math.ceil((bytes - have) / PAGE))
  }

  /** Whether `run` takes this image (false: the caller computes it in TypeScript). */
  accepts(width: number, channels: number, plan: KernelPlan): boolean {
    return BAND * width * channels <= MAX_SOURCE_BYTES && plan.cols <= 512 && plan.rows <= 512
  }

  /** The 16x16 DCT (a copy: the module's memory is reused) and the quality of the decimated 64x64 luma. */
  run(data: Uint8Array, width: number, channels: 1 | 3, plan: KernelPlan): { coefficients: Float32Array; quality: number } {
    const x = this.#x
    const { rows, cols } = plan
    const R = padded(rows)
    const C = padded(cols)
    const stride = width * channels
    const buffer = Math.max(R * C, R * 64) * 4 // an image, or the 64 sampled columns
    const p = this.#dynamic
    const q = p + buffer
    const staging = q + buffer
    this.#ensure(staging + BAND * stride + 4) // luma reads 32 bits a pixel
    new Int32Array(x.memory.buffer, this.#colTab, cols).set(plan.srcColByte)
    const luma = channels === 3 ? x.lumaRgbT : x.lumaGreyT
    const mem = new Uint8Array(x.memory.buffer)
    // Luma, transposed, into p (C × R; 64 × 64 unblurred): sixteen of the rows the resize keeps at a time,
    // copied in and converted while they are still in this core's cache.
    const outStride = plan.blur ? R : 64
    const contiguous = isIdentity(plan.srcRow)
    for (let y0 = 0; y0 < rows; y0 += BAND) {
      const n = Math.min(BAND, rows - y0)
      if (contiguous) mem.set(data.subarray(y0 * stride, (y0 + n) * stride), staging)
      else for (let i = 0; i < n; i++) mem.set(data.subarray(plan.srcRow[y0 + i]! * stride, (plan.srcRow[y0 + i]! + 1) * stride), staging + i * stride)
      luma(staging, stride, n, cols, this.#colTab, p + y0 * 4, outStride)
    }
    if (!plan.blur) {
      x.transpose(p, 64, 64, this.#small)
    } else {
      const r = plan.alongRows
      const c = plan.alongCols
      new Int32Array(x.memory.buffer, this.#pickCols, 64).set(plan.sampledCols)
      new Int32Array(x.memory.buffer, this.#pickRows, 64).set(plan.sampledRows)
      const s = this.#scratch
      x.boxPass(p, q, cols, R, TRANSPOSED, C, 0, s, r.p1, r.p2, r.p3, r.p4, r.inv) // q: along rows, R × C
      x.boxPass(q, p, rows, C, TRANSPOSED, R, 0, s, c.p1, c.p2, c.p3, c.p4, c.inv) // p: along columns, transposed, C × R
      x.boxPass(p, q, cols, R, PICKED, 0, this.#pickCols, s, r.p1, r.p2, r.p3, r.p4, r.inv) // q: along rows, the 64 sampled columns, 64 × R
      x.transpose(q, 64, R, p) // p: R × 64
      x.boxPass(p, this.#small, rows, 64, PICKED, 0, this.#pickRows, s, c.p1, c.p2, c.p3, c.p4, c.inv) // along columns, the 64 sampled rows
    }
    x.dct(this.#small, this.#d, this.#dt, this.#t, this.#out)
    return { coefficients: new Float32Array(x.memory.buffer, this.#out, 256).slice(), quality: x.quality(this.#small) }
  }
}

function isIdentity(t: Int32Array): boolean {
  for (let i = 0; i < t.length; i++) if (t[i] !== i) return false
  return true
}

/**
 * The kernels, or undefined where they cannot run (no WebAssembly SIMD, or
 * CAIRN_PDQ=js asking for the TypeScript path).
 */
export function loadPdqKernels(dctMatrix: Float32Array): PdqKernels | undefined {
  if (process.env.CAIRN_PDQ === 'js') return undefined
  try {
    const bytes = Buffer.from(PDQ_KERNELS_WASM_BASE64, 'base64')
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {})
    return new PdqKernels(instance.exports as unknown as Exports, dctMatrix)
  } catch {
    return undefined
  }
}
