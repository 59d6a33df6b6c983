/**
 * Output of Meta's PDQ photo hashers (facebook/ThreatExchange:
 * pdq/cpp/bin/pdq-photo-hasher.cpp and pdq/python's pdq_photo_hasher_tool.py,
 * which print the same lines):
 *
 *   default      `<hash>,<quality>,<filename>`
 *   --details    `hash=<hash>,norm=<n>,delta=<n>,quality=<q>[,dims=…,readSeconds=…,hashSeconds=…],filename=<filename>`
 *
 * The hash is 64 hex digits, the quality 0..100 (both tools print an int).
 * The file name is never imported (it may be a path naming a person). A
 * `--pdqdih-across` line (eight hashes, then quality and file name) is
 * rejected: those are the dihedral variants of one image, and `cairn match
 * --dihedral` already tries them.
 */
import { completed, hexOfLength, parseQuality, type Defaults, type ParsedLine } from './indicator.ts'
import { numberedLines } from './lines.ts'

function parseLine(text: string): { hash: string; quality: string } {
  if (text.startsWith('hash=')) {
    // key=value cells up to filename=, which runs to the end of the line (a file name may hold commas).
    const end = text.indexOf(',filename=')
    const cells = new Map((end < 0 ? text : text.slice(0, end)).split(',').map((c) => {
      const eq = c.indexOf('=')
      return [c.slice(0, eq), c.slice(eq + 1)] as const
    }))
    const hash = cells.get('hash'), quality = cells.get('quality')
    if (hash === undefined || quality === undefined) throw new Error('a --details line needs hash= and quality=')
    return { hash, quality }
  }
  const cells = text.split(',')
  if (cells.length >= 10 && /^[0-9a-fA-F]{64}$/.test(cells[1]!)) throw new Error('eight dihedral hashes on one line (--pdqdih-across output): import the plain hash of the image; cairn match --dihedral tries the variants')
  if (cells.length < 3) throw new Error('expected "<hash>,<quality>,<filename>" (pdq-photo-hasher output)')
  return { hash: cells[0]!, quality: cells[1]! }
}

export async function* readPdqPhotoHasher(path: string, d: Defaults): AsyncGenerator<ParsedLine> {
  for await (const l of numberedLines(path)) {
    if ('error' in l) {
      yield l
      continue
    }
    try {
      const { hash, quality } = parseLine(l.text)
      yield completed(l.line, { alg: 'pdq', value: hexOfLength(hash, 32, 'a PDQ hash'), quality: parseQuality(quality) }, d)
    } catch (e) {
      yield { line: l.line, error: (e as Error).message }
    }
  }
}
