/**
 * Image bytes to the pixels PDQ hashes, decoding as the PDQ reference's
 * decoder (CImg over ImageMagick) hands them over: no resizing (PDQ does its
 * own), EXIF orientation ignored, alpha dropped, the first frame of a GIF or
 * the first page of a TIFF, and an image whose pixels are all grey passed as
 * one grey channel. JPEG, PNG, WebP, GIF and TIFF go through sharp (libvips);
 * binary PGM/PPM through our own reader, as the reference reads those itself.
 */
import type { OutputInfo } from 'sharp'
import { LedgerError, isLedgerError } from '../protocol/errors.ts'
import { MAX_PDQ_PIXELS, type PixelImage } from '../protocol/pdq.ts'
import { decodeNetpbm, isNetpbm } from './netpbm.ts'

/** sharp (libvips) loads on the first decode, not with every module that imports this one (cairn --help). */
let sharpModule: Promise<typeof import('sharp')> | undefined
const loadSharp = async () => (await (sharpModule ??= import('sharp'))).default

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'netpbm'

/** The image format the bytes start with, or undefined for a file that is not an image we hash. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const b = bytes
  const starts = (...sig: number[]): boolean => sig.every((v, i) => b[i] === v)
  if (starts(0xff, 0xd8, 0xff)) return 'jpeg'
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png'
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'gif' // GIF8
  if (starts(0x52, 0x49, 0x46, 0x46) && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'webp' // RIFF....WEBP
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return 'tiff'
  if (isNetpbm(b)) return 'netpbm'
  return undefined
}

/**
 * Decodes image bytes to 8-bit grey or RGB pixels. Throws BAD_IMAGE for an
 * undecodable (corrupt, truncated, unsupported) image, TOO_LARGE past the
 * pixel limit.
 */
export async function decodeImage(bytes: Uint8Array, format = sniffImageFormat(bytes)): Promise<PixelImage> {
  if (format === undefined) throw new LedgerError('BAD_IMAGE', 'not a JPEG, PNG, WebP, GIF, TIFF or binary PGM/PPM image')
  if (format === 'netpbm') return decodeNetpbm(bytes, MAX_PDQ_PIXELS)
  let raw: { data: Buffer; info: OutputInfo }
  try {
    raw = await (await loadSharp())(bytes, {
      failOn: 'warning', // a truncated or damaged image is an error, not a half-grey picture
      limitInputPixels: MAX_PDQ_PIXELS,
      autoOrient: false,
      animated: false, // first frame/page only
    })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
  } catch (e) {
    if (isLedgerError(e)) throw e
    const detail = e instanceof Error ? e.message.split('\n')[0] : String(e)
    if (/pixel limit/i.test(detail ?? '')) throw new LedgerError('TOO_LARGE', `${format} image: ${detail}`, { cause: e })
    throw new LedgerError('BAD_IMAGE', `${format} image cannot be decoded (corrupt, truncated or unsupported): ${detail}`, { cause: e })
  }
  const { width, height, channels } = raw.info
  const data = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength)
  if (channels === 1) return { width, height, channels: 1, data }
  if (channels === 3) return isAllGrey(data) ? { width, height, channels: 1, data: firstChannel(data) } : { width, height, channels: 3, data }
  throw new LedgerError('BAD_IMAGE', `${format} image decodes to ${channels} channels; only grey and RGB are hashed`)
}

/**
 * ImageMagick writes an image whose pixels all have R = G = B as a grey PGM,
 * so the reference takes its luma as the grey value, not 0.299R + 0.587G +
 * 0.114B in float (which can differ in the last bit); we do the same.
 */
function isAllGrey(rgb: Uint8Array): boolean {
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] !== rgb[i + 1] || rgb[i] !== rgb[i + 2]) return false
  return true
}

function firstChannel(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3)
  for (let i = 0; i < out.length; i++) out[i] = rgb[i * 3]!
  return out
}
