/**
 * What `cairn hash` (and later `cairn match`) computes for a file: MD5,
 * SHA-1 and SHA-256 of its bytes, streamed, and for an image its PDQ hash
 * and quality. Also the walk that turns paths and directories into files.
 */
import { lstat, open, readdir, stat, type FileHandle } from 'node:fs/promises'
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

/** Files up to this size are read in one piece; larger ones are streamed. */
const READ_WHOLE_BYTES = 64 * 1024 * 1024

/**
 * Files `hashPaths` works on at once: while one file's PDQ runs on this
 * thread, sharp decodes the next ones on its own threads. Four keep both of
 * this machine's cores decoding while this thread hashes (with two, a decode
 * that finished waited for the thread: 0.65 of sharp's decode-only rate
 * against 0.76 with four, same run conditions); each holds one decoded image.
 */
export const HASH_CONCURRENCY = 4

/**
 * Hashes one file; an unreadable file or undecodable image throws a LedgerError.
 * A file up to READ_WHOLE_BYTES is read in one piece, a larger one streamed.
 * An image's MD5/SHA-1/SHA-256 are computed here while sharp decodes it on
 * its own thread; any other large file is hashed as it streams.
 */
export async function hashFile(file: string, options: { dihedral?: boolean } = {}): Promise<FileHashes> {
  const md5 = createHash('md5')
  const sha1 = createHash('sha1')
  const sha256 = createHash('sha256')
  const update = (chunk: Buffer) => {
    md5.update(chunk)
    sha1.update(chunk)
    sha256.update(chunk)
  }
  let head: Uint8Array | undefined
  let isImage: boolean | undefined
  let kept: Buffer[] = []
  let keeping = true
  let size = 0
  let handle: FileHandle | undefined
  try {
    handle = await open(file, 'r')
    const stat = await handle.stat()
    if (stat.isFile() && stat.size <= READ_WHOLE_BYTES) {
      // One read (a stream costs more than the bytes for a photo-sized file).
      const whole = await handle.readFile()
      size = whole.length
      isImage = sniffImageFormat(whole) !== undefined
      kept = [whole]
    } else {
      for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false }) as AsyncIterable<Buffer>) {
        size += chunk.length
        if (isImage === undefined) {
          head = head === undefined ? chunk : Buffer.concat([head, chunk])
          if (head.length >= 16) isImage = sniffImageFormat(head) !== undefined
        }
        if (keeping && (isImage === false || size > MAX_IMAGE_FILE_BYTES)) {
          // Not an image we decode: hash what was kept and stream the rest.
          for (const k of kept) update(k)
          kept = []
          keeping = false
        }
        if (keeping) kept.push(chunk)
        else update(chunk)
      }
    }
  } catch (e) {
    throw fileError(file, e)
  } finally {
    await handle?.close().catch(() => {})
  }
  if (isImage === false && keeping) {
    for (const k of kept) update(k)
    kept = []
    keeping = false
  }
  const bytes = keeping ? (kept.length === 1 ? kept[0]! : Buffer.concat(kept)) : undefined
  const format = bytes === undefined ? undefined : sniffImageFormat(bytes)
  // Start the decode (sharp's thread), then hash the bytes here meanwhile.
  const decoding = format === undefined ? undefined : decodeImage(new Uint8Array(bytes!.buffer, bytes!.byteOffset, bytes!.byteLength), format)
  decoding?.catch(() => {}) // awaited below; not an unhandled rejection meanwhile
  if (bytes !== undefined) update(bytes)
  const out: FileHashes = { file, md5: md5.digest('hex'), sha1: sha1.digest('hex'), sha256: sha256.digest('hex') }
  if (size > MAX_IMAGE_FILE_BYTES && isImage === true) throw new LedgerError('TOO_LARGE', `${file}: image files over ${MAX_IMAGE_FILE_BYTES} bytes are not decoded`)
  if (decoding === undefined) return out
  const pixels = await decoding
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

/**
 * Hashes every file under `paths`, in walk order; a failure becomes an error
 * entry and the walk goes on. Up to HASH_CONCURRENCY files are in hand at
 * once (read, decode, hash), so sharp decodes one while PDQ runs on another.
 */
export async function* hashPaths(paths: string[], options: { dihedral?: boolean } = {}): AsyncGenerator<FileHashes | FileHashError> {
  const pending: Promise<FileHashes | FileHashError>[] = []
  const start = (file: string) => hashFile(file, options).catch((e: unknown) => ({ file, error: errorOf(e) }))
  for await (const item of walkFiles(paths)) {
    pending.push(typeof item === 'string' ? start(item) : Promise.resolve(item))
    if (pending.length >= HASH_CONCURRENCY) yield await pending.shift()!
  }
  while (pending.length > 0) yield await pending.shift()!
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
