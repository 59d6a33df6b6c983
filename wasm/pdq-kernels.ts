/**
 * PDQ's hot loops in WebAssembly (AssemblyScript source; `npm run build:wasm`
 * compiles it into protocol/pdq-kernels-wasm.ts, which is committed and
 * checked to be what this source builds). protocol/pdq-wasm.ts drives them; protocol/pdq.ts
 * holds the same steps in plain TypeScript, and both give the same bits.
 *
 * WebAssembly's f32 arithmetic is IEEE single precision, as the reference's
 * `float`, so no rounding step is needed; f32x4 runs four independent lanes.
 * The box filter's running sums depend on their order along a row or column,
 * so the lanes are always four rows' or columns' sums side by side, never
 * four steps of one sum: a pass along rows is a pass along the columns of the
 * transposed image.
 *
 * All pointers are byte offsets into this module's memory, laid out by the
 * caller. Matrices are row-major f32; widths handed to transpose and
 * columnPass are multiples of 16, padding lanes computing values nobody reads.
 */

/** Where the caller may start laying out buffers. */
export function heapBase(): usize {
  return __heap_base
}

/**
 * Float luma of RGB pixels, 0.299 R + 0.587 G + 0.114 B in f32 as the
 * reference sums it, written transposed: out[x][y] (rows of outStride
 * floats) for source row y, which the caller placed at src + y * rowStride
 * (the rows the resize keeps, in order), and column x, byte offset colTab[x]
 * within a row (the resize's columns). Each f32x4 holds four rows' pixels of
 * one column, each fetched with one 32-bit load (R, G, B and a byte that is
 * dropped: the caller leaves 4 bytes after the last row); sixteen rows at a
 * time, so every store fills a whole cache line. Rows past `rows` (up to a
 * multiple of 16) repeat the last one.
 */
export function lumaRgbT(src: usize, rowStride: i32, rows: i32, cols: i32, colTab: usize, out: usize, outStride: i32): void {
  lumaT(src, rowStride, rows, cols, colTab, out, outStride, true)
}

/** Grey pixels: the luma is the byte. Same layout and rules as lumaRgbT. */
export function lumaGreyT(src: usize, rowStride: i32, rows: i32, cols: i32, colTab: usize, out: usize, outStride: i32): void {
  lumaT(src, rowStride, rows, cols, colTab, out, outStride, false)
}

@inline function lumaT(src: usize, rowStride: i32, rows: i32, cols: i32, colTab: usize, out: usize, outStride: i32, rgb: bool): void {
  const cr = f32x4.splat(0.299)
  const cg = f32x4.splat(0.587)
  const cb = f32x4.splat(0.114)
  const byte = i32x4.splat(255)
  const last = src + <usize>((rows - 1) * rowStride)
  for (let band = 0; band < rows; band += 16) {
    // The band's 16 row starts.
    const a0 = rowAt(src, rowStride, last, band), a1 = rowAt(src, rowStride, last, band + 1), a2 = rowAt(src, rowStride, last, band + 2), a3 = rowAt(src, rowStride, last, band + 3)
    const b0 = rowAt(src, rowStride, last, band + 4), b1 = rowAt(src, rowStride, last, band + 5), b2 = rowAt(src, rowStride, last, band + 6), b3 = rowAt(src, rowStride, last, band + 7)
    const c0 = rowAt(src, rowStride, last, band + 8), c1 = rowAt(src, rowStride, last, band + 9), c2 = rowAt(src, rowStride, last, band + 10), c3 = rowAt(src, rowStride, last, band + 11)
    const d0 = rowAt(src, rowStride, last, band + 12), d1 = rowAt(src, rowStride, last, band + 13), d2 = rowAt(src, rowStride, last, band + 14), d3 = rowAt(src, rowStride, last, band + 15)
    for (let x = 0; x < cols; x++) {
      const off = <usize>load<i32>(colTab + (<usize>x << 2))
      const o = out + (<usize>(x * outStride + band) << 2)
      const wa = words(a0 + off, a1 + off, a2 + off, a3 + off)
      const wb = words(b0 + off, b1 + off, b2 + off, b3 + off)
      const wc = words(c0 + off, c1 + off, c2 + off, c3 + off)
      const wd = words(d0 + off, d1 + off, d2 + off, d3 + off)
      if (rgb) {
        v128.store(o, luma4(wa, byte, cr, cg, cb))
        v128.store(o, luma4(wb, byte, cr, cg, cb), 16)
        v128.store(o, luma4(wc, byte, cr, cg, cb), 32)
        v128.store(o, luma4(wd, byte, cr, cg, cb), 48)
      } else {
        v128.store(o, f32x4.convert_i32x4_u(v128.and(wa, byte)))
        v128.store(o, f32x4.convert_i32x4_u(v128.and(wb, byte)), 16)
        v128.store(o, f32x4.convert_i32x4_u(v128.and(wc, byte)), 32)
        v128.store(o, f32x4.convert_i32x4_u(v128.and(wd, byte)), 48)
      }
    }
  }
}

/** Start of source row y, the last row for rows past it. */
@inline function rowAt(src: usize, rowStride: i32, last: usize, y: i32): usize {
  return min(src + <usize>(y * rowStride), last)
}

/** The 32-bit words at four addresses. */
@inline function words(p0: usize, p1: usize, p2: usize, p3: usize): v128 {
  let w = i32x4.splat(load<i32>(p0))
  w = i32x4.replace_lane(w, 1, load<i32>(p1))
  w = i32x4.replace_lane(w, 2, load<i32>(p2))
  return i32x4.replace_lane(w, 3, load<i32>(p3))
}

/** Luma of four pixels given as little-endian words R | G << 8 | B << 16 | x << 24. */
@inline function luma4(w: v128, byte: v128, cr: v128, cg: v128, cb: v128): v128 {
  const r = f32x4.convert_i32x4_u(v128.and(w, byte))
  const g = f32x4.convert_i32x4_u(v128.and(i32x4.shr_u(w, 8), byte))
  const b = f32x4.convert_i32x4_u(v128.and(i32x4.shr_u(w, 16), byte))
  return f32x4.add(f32x4.add(f32x4.mul(cr, r), f32x4.mul(cg, g)), f32x4.mul(cb, b))
}

/**
 * dst (cols × rows) = transpose of src (rows × cols), both multiples of 16,
 * in 4x4 blocks of shuffles, 16 source rows at a time so that the
 * destination's cache lines fill whole before they are left.
 */
export function transpose(src: usize, rows: i32, cols: i32, dst: usize): void {
  const rs = <usize>cols << 2 // bytes per source row
  const ds = <usize>rows << 2 // bytes per destination row
  for (let band = 0; band < rows; band += 16) {
    for (let x = 0; x < cols; x += 4) {
      for (let y = band; y < band + 16; y += 4) {
        const s = src + <usize>y * rs + (<usize>x << 2)
        const r0 = v128.load(s)
        const r1 = v128.load(s + rs)
        const r2 = v128.load(s + 2 * rs)
        const r3 = v128.load(s + 3 * rs)
        const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5)
        const t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7)
        const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5)
        const t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7)
        const d = dst + <usize>x * ds + (<usize>y << 2)
        v128.store(d, f32x4.shuffle(t0, t2, 0, 1, 4, 5))
        v128.store(d + ds, f32x4.shuffle(t0, t2, 2, 3, 6, 7))
        v128.store(d + 2 * ds, f32x4.shuffle(t1, t3, 0, 1, 4, 5))
        v128.store(d + 3 * ds, f32x4.shuffle(t1, t3, 2, 3, 6, 7))
      }
    }
  }
}

/** Where boxPass puts its outputs. */
const AS_IS = 0 // dst row k = output k (rows of width floats)
const TRANSPOSED = 1 // dst[column][k] (rows of dstStride floats)
const PICKED = 2 // dst row j = output pickTab[j], for the 64 entries of pickTab (ascending)

/**
 * The reference's box filter down every column of src (length rows of width
 * floats, width a multiple of 16): a centred running mean whose window
 * shrinks at both ends, summed in the reference's order — p1 values added
 * before the first output, then p2 outputs while the window grows, p3 while
 * it slides, p4 while it shrinks. Sixteen columns at a time, their sums in
 * registers. `inv` is 1/window when that is exact (a power of two), else 0
 * and the sliding phase divides.
 *
 * `mode` says where outputs go (AS_IS, TRANSPOSED, PICKED). Transposed
 * outputs collect four at a time in `scratch` (256 bytes) and leave as 4x4
 * blocks, so a pass along rows needs no separate transpose before the next
 * pass; dstStride is then a multiple of 4 at least `length`.
 */
export function boxPass(src: usize, dst: usize, length: i32, width: i32, mode: i32, dstStride: i32, pickTab: usize, scratch: usize, p1: i32, p2: i32, p3: i32, p4: i32, inv: f32): void {
  const stride = <usize>width << 2
  const vinv = f32x4.splat(inv)
  for (let c = 0; c < width; c += 16) {
    const col = <usize>c << 2
    let s0 = f32x4.splat(0)
    let s1 = s0
    let s2 = s0
    let s3 = s0
    let r = src + col // next value to add
    let l = src + col // next value to remove
    let k = 0 // next output
    let pick = 0 // next entry of pickTab
    let n: f32 = 0
    for (let i = 0; i < p1; i++, r += stride) {
      s0 = f32x4.add(s0, v128.load(r))
      s1 = f32x4.add(s1, v128.load(r, 16))
      s2 = f32x4.add(s2, v128.load(r, 32))
      s3 = f32x4.add(s3, v128.load(r, 48))
      n += 1
    }
    for (let i = 0; i < p2; i++, r += stride, k++) {
      n += 1
      const vn = f32x4.splat(n)
      s0 = f32x4.add(s0, v128.load(r))
      s1 = f32x4.add(s1, v128.load(r, 16))
      s2 = f32x4.add(s2, v128.load(r, 32))
      s3 = f32x4.add(s3, v128.load(r, 48))
      pick = emit(dst, col, c, k, mode, stride, dstStride, pickTab, pick, scratch, f32x4.div(s0, vn), f32x4.div(s1, vn), f32x4.div(s2, vn), f32x4.div(s3, vn))
    }
    if (inv != 0) {
      for (let i = 0; i < p3; i++, r += stride, l += stride, k++) {
        s0 = f32x4.sub(f32x4.add(s0, v128.load(r)), v128.load(l))
        s1 = f32x4.sub(f32x4.add(s1, v128.load(r, 16)), v128.load(l, 16))
        s2 = f32x4.sub(f32x4.add(s2, v128.load(r, 32)), v128.load(l, 32))
        s3 = f32x4.sub(f32x4.add(s3, v128.load(r, 48)), v128.load(l, 48))
        pick = emit(dst, col, c, k, mode, stride, dstStride, pickTab, pick, scratch, f32x4.mul(s0, vinv), f32x4.mul(s1, vinv), f32x4.mul(s2, vinv), f32x4.mul(s3, vinv))
      }
    } else {
      const vn = f32x4.splat(n)
      for (let i = 0; i < p3; i++, r += stride, l += stride, k++) {
        s0 = f32x4.sub(f32x4.add(s0, v128.load(r)), v128.load(l))
        s1 = f32x4.sub(f32x4.add(s1, v128.load(r, 16)), v128.load(l, 16))
        s2 = f32x4.sub(f32x4.add(s2, v128.load(r, 32)), v128.load(l, 32))
        s3 = f32x4.sub(f32x4.add(s3, v128.load(r, 48)), v128.load(l, 48))
        pick = emit(dst, col, c, k, mode, stride, dstStride, pickTab, pick, scratch, f32x4.div(s0, vn), f32x4.div(s1, vn), f32x4.div(s2, vn), f32x4.div(s3, vn))
      }
    }
    for (let i = 0; i < p4; i++, l += stride, k++) {
      n -= 1
      const vn = f32x4.splat(n)
      s0 = f32x4.sub(s0, v128.load(l))
      s1 = f32x4.sub(s1, v128.load(l, 16))
      s2 = f32x4.sub(s2, v128.load(l, 32))
      s3 = f32x4.sub(s3, v128.load(l, 48))
      pick = emit(dst, col, c, k, mode, stride, dstStride, pickTab, pick, scratch, f32x4.div(s0, vn), f32x4.div(s1, vn), f32x4.div(s2, vn), f32x4.div(s3, vn))
    }
    // The last, partial block of transposed outputs (its missing rows are stale values in padding).
    if (mode == TRANSPOSED && (k & 3) != 0) flushBlock(dst, c, k & ~3, dstStride, scratch)
  }
}

/** Puts output k of columns c..c+15 (four vectors) where `mode` says; returns the next pick. */
@inline function emit(dst: usize, col: usize, c: i32, k: i32, mode: i32, stride: usize, dstStride: i32, pickTab: usize, pick: i32, scratch: usize, v0: v128, v1: v128, v2: v128, v3: v128): i32 {
  if (mode == AS_IS) {
    const o = dst + col + <usize>k * stride
    v128.store(o, v0)
    v128.store(o, v1, 16)
    v128.store(o, v2, 32)
    v128.store(o, v3, 48)
  } else if (mode == TRANSPOSED) {
    const o = scratch + (<usize>(k & 3) << 6)
    v128.store(o, v0)
    v128.store(o, v1, 16)
    v128.store(o, v2, 32)
    v128.store(o, v3, 48)
    if ((k & 3) == 3) flushBlock(dst, c, k - 3, dstStride, scratch)
  } else {
    // Small images sample a row more than once.
    while (pick < 64 && load<i32>(pickTab + (<usize>pick << 2)) == k) {
      const o = dst + col + <usize>pick * stride
      v128.store(o, v0)
      v128.store(o, v1, 16)
      v128.store(o, v2, 32)
      v128.store(o, v3, 48)
      pick++
    }
  }
  return pick
}

/** Scratch holds outputs k0..k0+3 of columns c..c+15 (a row of 16 floats each): to dst[c + i][k0..k0+3]. */
@inline function flushBlock(dst: usize, c: i32, k0: i32, dstStride: i32, scratch: usize): void {
  const ds = <usize>dstStride << 2
  for (let v = 0; v < 4; v++) {
    const s = scratch + (<usize>v << 4)
    const r0 = v128.load(s)
    const r1 = v128.load(s, 64)
    const r2 = v128.load(s, 128)
    const r3 = v128.load(s, 192)
    const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5)
    const t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7)
    const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5)
    const t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7)
    const d = dst + <usize>(c + 4 * v) * ds + (<usize>k0 << 2)
    v128.store(d, f32x4.shuffle(t0, t2, 0, 1, 4, 5))
    v128.store(d + ds, f32x4.shuffle(t0, t2, 2, 3, 6, 7))
    v128.store(d + 2 * ds, f32x4.shuffle(t1, t3, 0, 1, 4, 5))
    v128.store(d + 3 * ds, f32x4.shuffle(t1, t3, 2, 3, 6, 7))
  }
}

/**
 * out (16 × 16) = D A Dᵀ for A (64 × 64) and D (16 × 64) the DCT rows, with
 * dt = Dᵀ (64 × 16) and t (16 × 64) scratch; every sum over k in order from
 * zero, products rounded before adding, as the reference's loops.
 */
export function dct(a: usize, d: usize, dt: usize, t: usize, out: usize): void {
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j += 16) {
      let s0 = f32x4.splat(0)
      let s1 = s0
      let s2 = s0
      let s3 = s0
      for (let k = 0; k < 64; k++) {
        const dik = f32x4.splat(load<f32>(d + (<usize>(i * 64 + k) << 2)))
        const row = a + (<usize>(k * 64 + j) << 2)
        s0 = f32x4.add(s0, f32x4.mul(dik, v128.load(row)))
        s1 = f32x4.add(s1, f32x4.mul(dik, v128.load(row, 16)))
        s2 = f32x4.add(s2, f32x4.mul(dik, v128.load(row, 32)))
        s3 = f32x4.add(s3, f32x4.mul(dik, v128.load(row, 48)))
      }
      const o = t + (<usize>(i * 64 + j) << 2)
      v128.store(o, s0)
      v128.store(o, s1, 16)
      v128.store(o, s2, 32)
      v128.store(o, s3, 48)
    }
  }
  for (let i = 0; i < 16; i++) {
    let s0 = f32x4.splat(0)
    let s1 = s0
    let s2 = s0
    let s3 = s0
    for (let k = 0; k < 64; k++) {
      const tik = f32x4.splat(load<f32>(t + (<usize>(i * 64 + k) << 2)))
      const row = dt + (<usize>(k * 16) << 2)
      s0 = f32x4.add(s0, f32x4.mul(tik, v128.load(row)))
      s1 = f32x4.add(s1, f32x4.mul(tik, v128.load(row, 16)))
      s2 = f32x4.add(s2, f32x4.mul(tik, v128.load(row, 32)))
      s3 = f32x4.add(s3, f32x4.mul(tik, v128.load(row, 48)))
    }
    const o = out + (<usize>(i * 16) << 2)
    v128.store(o, s0)
    v128.store(o, s1, 16)
    v128.store(o, s2, 32)
    v128.store(o, s3, 48)
  }
}

/**
 * The reference's quality heuristic over the 64x64 decimated luma: the sum of
 * |trunc((a - b) * 100 / 255)| in f32 over vertical then horizontal
 * neighbours, divided by 90 (integer division), capped at 100.
 */
export function quality(a: usize): i32 {
  let sum = 0
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) sum += abs(<i32>((load<f32>(a + (<usize>(i * 64 + j) << 2)) - load<f32>(a + (<usize>((i + 1) * 64 + j) << 2))) * 100 / 255))
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) sum += abs(<i32>((load<f32>(a + (<usize>(i * 64 + j) << 2)) - load<f32>(a + (<usize>(i * 64 + j + 1) << 2))) * 100 / 255))
  }
  return min(100, sum / 90)
}
