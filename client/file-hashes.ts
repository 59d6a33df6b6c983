/**
 * What `cairn hash` (and later `cairn match`) computes for a file: MD5,
 * SHA-1 and SHA-256 of its bytes, streamed, and for an image its PDQ hash
 * and quality. Also the walk that turns paths and directories into files.
 */
import { createReadStream } from 'node:fs'
import { lstat, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { LedgerError, isLedgerError, type ErrorCode } from '../protocol/errors.ts'
import { pdqHash, pdqDihedralHashes } from '../protocol/pdq.ts'
import { toHex } from '../protocol/bytes.ts'
import { decodeImage, sniffImageFormat } from './image-decoder.ts'

/** Image files larger than this are hashed (MD5/SHA) but not decoded for PDQ. */
export const MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024

export interface FileHashes {
  file: string
  md5: string
  sha1: string
  sha256: string
  /** Present for an image: PDQ hash in the reference's hex and its quality (0..100). */
  pdq?: string
  quality?: number
  /** With `dihedral`: the 8 hashes, original, rot90, rot180, rot270, flipX, flipY, flipPlus1, flipMinus1. */
  pdq_dihedral?: string[]
}

export interface FileHashError {
  file: string
  error: { code: ErrorCode; message: string }
}

/** Hashes one file; an unreadable file or undecodable image throws a LedgerError. */
export async function hashFile(file: string, options: { dihedral?: boolean } = {}): Promise<FileHashes> {
  const md5 = createHash('md5')
  const sha1 = createHash('sha1')
  const sha256 = createHash('sha256')
  let head: Uint8Array | undefined
  let isImage: boolean | undefined
  const kept: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      md5.update(chunk)
      sha1.update(chunk)
      sha256.update(chunk)
      size += chunk.length
      if (isImage === undefined) {
        head = head === undefined ? chunk : Buffer.concat([head, chunk])
        if (head.length >= 16) isImage = sniffImageFormat(head) !== undefined
      }
      if (isImage !== false && size <= MAX_IMAGE_FILE_BYTES) kept.push(chunk)
    }
  } catch (e) {
    throw fileError(file, e)
  }
  const out: FileHashes = { file, md5: md5.digest('hex'), sha1: sha1.digest('hex'), sha256: sha256.digest('hex') }
  const bytes = isImage === false ? undefined : Buffer.concat(kept)
  const format = bytes === undefined ? undefined : sniffImageFormat(bytes)
  if (format === undefined) return out
  if (size > MAX_IMAGE_FILE_BYTES) throw new LedgerError('TOO_LARGE', `${file}: image files over ${MAX_IMAGE_FILE_BYTES} bytes are not decoded`)
  const pixels = await decodeImage(new Uint8Array(bytes!.buffer, bytes!.byteOffset, bytes!.byteLength), format)
  const pdq = pdqHash(pixels)
  out.pdq = toHex(pdq.hash)
  out.quality = pdq.quality
  if (options.dihedral) out.pdq_dihedral = pdqDihedralHashes(pixels).hashes.map(toHex)
  return out
}

/**
 * The files named by `paths`, directories walked depth-first in name order.
 * Symbolic links to files are followed; links to directories are not (no cycles).
 * A path that cannot be listed is yielded as an error and the walk goes on.
 */
export async function* walkFiles(paths: string[]): AsyncGenerator<string | FileHashError> {
  for (const path of paths) yield* walkOne(path, true)
}

async function* walkOne(path: string, named: boolean): AsyncGenerator<string | FileHashError> {
  let info
  try {
    info = named ? await stat(path) : await lstat(path)
    if (!named && info.isSymbolicLink()) {
      const target = await stat(path)
      if (target.isDirectory()) return
      info = target
    }
  } catch (e) {
    yield { file: path, error: errorOf(fileError(path, e)) }
    return
  }
  if (info.isFile()) {
    yield path
    return
  }
  if (!info.isDirectory()) return // sockets, devices, fifos: not files to hash
  let names: string[]
  try {
    names = (await readdir(path)).sort()
  } catch (e) {
    yield { file: path, error: errorOf(fileError(path, e)) }
    return
  }
  for (const name of names) yield* walkOne(join(path, name), false)
}

/** Hashes every file under `paths`; a failure becomes an error entry and the walk goes on. */
export async function* hashPaths(paths: string[], options: { dihedral?: boolean } = {}): AsyncGenerator<FileHashes | FileHashError> {
  for await (const item of walkFiles(paths)) {
    if (typeof item !== 'string') {
      yield item
      continue
    }
    try {
      yield await hashFile(item, options)
    } catch (e) {
      yield { file: item, error: errorOf(e) }
    }
  }
}

export function isFileHashError(x: FileHashes | FileHashError): x is FileHashError {
  return 'error' in x
}

function errorOf(e: unknown): FileHashError['error'] {
  if (isLedgerError(e)) return { code: e.code, message: e.message }
  throw e // a programming error, not a bad file
}

function fileError(file: string, e: unknown): LedgerError {
  const code = (e as NodeJS.ErrnoException)?.code
  const reason = e instanceof Error ? e.message : String(e)
  if (code === 'ENOENT') return new LedgerError('NOT_FOUND', `${file}: no such file or directory`, { cause: e })
  if (code === 'EACCES' || code === 'EPERM') return new LedgerError('FORBIDDEN', `${file}: permission denied`, { cause: e })
  return new LedgerError('BAD_REQUEST', `${file}: cannot be read: ${reason}`, { cause: e })
}
