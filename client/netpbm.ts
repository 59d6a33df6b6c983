/**
 * Binary netpbm (P5 grey PGM, P6 RGB PPM) to pixels. PDQ's reference reads
 * these itself, and its published "decoded pixels" are netpbm files, so we
 * read them byte for byte instead of through an image library.
 */
import { LedgerError } from '../protocol/errors.ts'
import type { PixelImage } from '../protocol/pdq.ts'

/** Whether the bytes start like a binary PGM or PPM ("P5"/"P6" then whitespace). */
export function isNetpbm(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x36) && isSpace(bytes[2]!)
}

/** Decodes P5/P6 with maxval 1..255; `maxPixels` bounds what the header may ask for. */
export function decodeNetpbm(bytes: Uint8Array, maxPixels: number): PixelImage {
  if (!isNetpbm(bytes)) throw bad('not a binary PGM (P5) or PPM (P6)')
  const channels = bytes[1] === 0x35 ? 1 : 3
  let pos = 2
  const fields: number[] = []
  while (fields.length < 3) {
    // Whitespace and '#' comments may sit between header fields.
    while (pos < bytes.length && (isSpace(bytes[pos]!) || bytes[pos] === 0x23)) {
      if (bytes[pos] === 0x23) while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++
      else pos++
    }
    let value = 0
    let digits = 0
    while (pos < bytes.length && bytes[pos]! >= 0x30 && bytes[pos]! <= 0x39 && digits < 10) {
      value = value * 10 + (bytes[pos]! - 0x30)
      pos++
      digits++
    }
    if (digits === 0) throw bad('truncated or malformed header')
    fields.push(value)
  }
  // Exactly one whitespace byte separates the header from the raster.
  if (pos >= bytes.length || !isSpace(bytes[pos]!)) throw bad('truncated or malformed header')
  pos++
  const [width, height, maxval] = fields as [number, number, number]
  if (width === 0 || height === 0) throw bad(`empty image ${width}x${height}`)
  if (maxval < 1 || maxval > 255) throw bad(`maxval ${maxval} is not 1..255 (16-bit netpbm is not read)`)
  if (width * height > maxPixels) throw new LedgerError('TOO_LARGE', `netpbm image of ${width}x${height} is over the ${maxPixels}-pixel limit`)
  const size = width * height * channels
  if (bytes.length - pos < size) throw bad(`truncated: ${size} raster bytes expected, ${bytes.length - pos} present`)
  // Samples are taken as they are, whatever the maxval, as the reference's reader (CImg) does.
  return { width, height, channels, data: bytes.slice(pos, pos + size) }
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c
}

function bad(detail: string): LedgerError {
  return new LedgerError('BAD_IMAGE', `netpbm: ${detail}`)
}
