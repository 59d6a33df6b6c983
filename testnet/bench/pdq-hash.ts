/**
 * pdq_hash_per_s (issue 18): images a second through `cairn hash`'s own path
 * (client/file-hashes.ts hashFile: read, MD5/SHA-1/SHA-256, decodeImage with
 * sharp, protocol/pdq.ts pdqHash) over a set of ~1 MP JPEGs, against the
 * same library's decode-only rate over the same files in the same run: the
 * file read and sharp's decode to raw pixels, nothing else.
 *
 * The JPEGs are made here, deterministically (seeded pixels encoded by sharp
 * at quality 85), into the bench cache (never into the project), once per
 * generator version and sharp version. Both rates are taken with the same
 * number of files in hand (HASH_CONCURRENCY, as `cairn hash` goes), in
 * alternating rounds (decode, hash, decode, hash, …) so a change in the
 * machine's speed hits both; each side's median round counts. The CPU time
 * a file of each side (all the process's threads: sharp's too) is reported
 * beside them: on a shared machine it says more than the wall clock.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import sharp from 'sharp'
import { HASH_CONCURRENCY, hashFile } from '../../client/file-hashes.ts'
import { mulberry32 } from '../random.ts'
import type { Measured } from './report.ts'

const WIDTH = 1152
const HEIGHT = 864
const QUALITY = 85
/** Bump when the images change. */
const GENERATOR_VERSION = 1

/** Seeded pixels with what photographs have: smooth shading, edges, texture and noise. */
function pixels(seed: number): Buffer {
  const random = mulberry32(seed)
  const out = Buffer.allocUnsafe(WIDTH * HEIGHT * 3)
  const base = [random() * 255, random() * 255, random() * 255]
  const grad = [random() - 0.5, random() - 0.5, random() - 0.5]
  const discs = Array.from({ length: 12 }, () => ({ x: random() * WIDTH, y: random() * HEIGHT, r: 30 + random() * 200, c: [random() * 255, random() * 255, random() * 255] }))
  const fx = 0.01 + random() * 0.05
  const fy = 0.01 + random() * 0.05
  let noise = (seed * 2654435761) >>> 0
  for (let y = 0, p = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++, p += 3) {
      let c0 = base[0]! + grad[0]! * (x - y) * 0.2
      let c1 = base[1]! + grad[1]! * (x + y) * 0.1
      let c2 = base[2]! + grad[2]! * y * 0.2
      for (const d of discs) {
        const dx = x - d.x
        const dy = y - d.y
        if (dx * dx + dy * dy < d.r * d.r) {
          c0 = (c0 + d.c[0]!) / 2
          c1 = (c1 + d.c[1]!) / 2
          c2 = (c2 + d.c[2]!) / 2
        }
      }
      const t = 20 * Math.sin(x * fx) * Math.cos(y * fy)
      noise = (Math.imul(noise, 1664525) + 1013904223) >>> 0
      const n = ((noise >>> 24) - 128) / 16
      out[p] = Math.max(0, Math.min(255, c0 + t + n))
      out[p + 1] = Math.max(0, Math.min(255, c1 + t + n))
      out[p + 2] = Math.max(0, Math.min(255, c2 - t + n))
    }
  }
  return out
}

/** `count` JPEGs of WIDTH × HEIGHT in the cache (made once); returns their paths. */
export async function ensureJpegs(cache: string, count: number, say: (line: string) => void): Promise<{ dir: string; files: string[]; cached: boolean }> {
  const dir = join(cache, `pdq-jpegs-v${GENERATOR_VERSION}-sharp${sharp.versions.sharp}-${count}`)
  const files = Array.from({ length: count }, (_, i) => join(dir, `img-${String(i).padStart(4, '0')}.jpg`))
  if (existsSync(join(dir, 'complete.json'))) return { dir, files, cached: true }
  mkdirSync(cache, { recursive: true })
  for (const other of readdirSync(cache)) if (other.startsWith('pdq-jpegs-') && other.endsWith(`-${count}`)) rmSync(join(cache, other), { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  say(`  making ${count} JPEGs of ${WIDTH}×${HEIGHT} (quality ${QUALITY}) in ${dir}…`)
  for (let i = 0; i < count; i++) {
    const jpeg = await sharp(pixels(1000 + i), { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).jpeg({ quality: QUALITY }).toBuffer()
    writeFileSync(files[i]!, jpeg)
  }
  writeFileSync(join(dir, 'complete.json'), JSON.stringify({ made: new Date().toISOString(), width: WIDTH, height: HEIGHT, quality: QUALITY, count }) + '\n')
  return { dir, files, cached: false }
}

/** The decode-only baseline: read the file, sharp to raw pixels (as decodeImage asks, minus our checks). */
async function decodeOnly(file: string): Promise<number> {
  const bytes = await readFile(file)
  const { info } = await sharp(bytes, { failOn: 'warning', autoOrient: false, animated: false }).removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })
  return info.width
}

/** Files a second through `fn`, `concurrency` files in hand at once, taken in order (as hashPaths does); and the process's CPU ms a file. */
async function ratePerS(files: string[], concurrency: number, fn: (file: string) => Promise<unknown>): Promise<{ perS: number; cpuMs: number }> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const pending: Promise<unknown>[] = []
  for (const f of files) {
    pending.push(fn(f))
    if (pending.length >= concurrency) await pending.shift()
  }
  await Promise.all(pending)
  const cpu = process.cpuUsage(c0)
  return { perS: files.length / ((performance.now() - t0) / 1000), cpuMs: (cpu.user + cpu.system) / 1000 / files.length }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

export async function measurePdqHash(cache: string, count: number, rounds: number, say: (line: string) => void): Promise<Measured> {
  const { dir, files, cached } = await ensureJpegs(cache, count, say)
  const bytes = files.reduce((n, f) => n + readFileSync(f).length, 0)
  // Warm both paths (sharp's first call loads libvips; tsx compiles pdq.ts) and check every file hashes.
  let qualities = 0
  for (const f of files) {
    await decodeOnly(f)
    const h = await hashFile(f)
    if (h.pdq === undefined || h.quality === undefined) throw new Error(`${f}: no PDQ hash`)
    qualities += h.quality
  }
  const decodeRounds: number[] = []
  const hashRounds: number[] = []
  const decodeCpu: number[] = []
  const hashCpu: number[] = []
  const k = HASH_CONCURRENCY
  for (let r = 0; r < rounds; r++) {
    const d = await ratePerS(files, k, decodeOnly)
    const h = await ratePerS(files, k, (f) => hashFile(f))
    decodeRounds.push(d.perS)
    decodeCpu.push(d.cpuMs)
    hashRounds.push(h.perS)
    hashCpu.push(h.cpuMs)
  }
  const decode = median(decodeRounds)
  const value = median(hashRounds)
  return {
    key: 'pdq_hash_per_s',
    value,
    reference: { value: decode, what: 'sharp decode-only/s' },
    method: `${count} JPEGs of ${WIDTH}×${HEIGHT} (${((WIDTH * HEIGHT) / 1e6).toFixed(2)} MP, quality ${QUALITY}, seeded pixels encoded by sharp ${sharp.versions.sharp}, ${Math.round(bytes / count / 1024)} KiB on average) hashed with hashFile (client/file-hashes.ts: read, MD5/SHA-1/SHA-256 while sharp decodes, decodeImage via sharp, pdqHash) ${k} files in hand at once as hashPaths (cairn hash) takes them, against the decode-only rate (read + the same sharp call to raw pixels) over the same files with the same ${k} in hand; ${rounds} alternating rounds of each, median round of each side; CPU time (all threads of the process) per file beside each`,
    details: {
      images: count, width: WIDTH, height: HEIGHT, jpeg_quality: QUALITY, mean_bytes: Math.round(bytes / count), mean_pdq_quality: Math.round(qualities / count),
      decode_only_per_s: decode, decode_rounds_per_s: decodeRounds.map((x) => Number(x.toFixed(1))), hash_rounds_per_s: hashRounds.map((x) => Number(x.toFixed(1))),
      concurrency: k, decode_cpu_ms_per_image: median(decodeCpu), hash_cpu_ms_per_image: median(hashCpu), cpu_ratio: median(decodeCpu) / median(hashCpu), load_average: loadavg(),
      ratio_to_decode: value / decode, images_dir: dir, images_cached: cached, sharp: sharp.versions.sharp, libvips: sharp.versions.vips,
    },
  }
}
