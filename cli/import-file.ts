/**
 * Reading indicator files for `cairn import`. Each line (text formats) or
 * entry (JSON and XML documents) becomes a record body, an error with its
 * number, a skip with its reason, or a revocation to resolve; bad ones never
 * stop the good ones. Formats (spec/formats.md):
 *
 *   csv               a header row naming alg and value (RFC 4180, through csv-parse: quotes, a BOM, CRLF, optional trailing columns)
 *   jsonl             JSON lines with the same keys
 *   txt               `<alg> <hex> [category]` lines
 *   hma               `<signal type> <signal>` lines, python-threatexchange's local file format (cli/import/hma.ts)
 *   pdq-photo-hasher  `<hash>,<quality>,<filename>` lines of Meta's PDQ hashers (cli/import/pdq-photo-hasher.ts)
 *   stix              a STIX 2.1 bundle of file-hash indicators (cli/import/stix.ts)
 *   misp              a MISP event file or feed directory (cli/import/misp.ts)
 *   ncmec-xml         NCMEC hash-sharing entries XML (cli/import/ncmec-xml.ts)
 */
import { createReadStream, existsSync, statSync } from 'node:fs'
import { parse as parseCsv, CsvError } from 'csv-parse'
import { complete, type Defaults, type ParsedLine } from './import/indicator.ts'
import { numberedLines, MAX_LINE_CHARS } from './import/lines.ts'
import { readHma } from './import/hma.ts'
import { readPdqPhotoHasher } from './import/pdq-photo-hasher.ts'
import { readStix } from './import/stix.ts'
import { readMisp } from './import/misp.ts'
import { readNcmecXml } from './import/ncmec-xml.ts'

export type { Defaults, ParsedLine }

export const IMPORT_FORMATS = ['csv', 'jsonl', 'txt', 'hma', 'pdq-photo-hasher', 'stix', 'misp', 'ncmec-xml'] as const
export type ImportFormat = (typeof IMPORT_FORMATS)[number]

/** What a number in a report counts: lines of a text file, or entries of a document (1 = the first). */
export function unitOf(format: ImportFormat): 'line' | 'entry' {
  return format === 'stix' || format === 'misp' || format === 'ncmec-xml' ? 'entry' : 'line'
}

/** From the file name (a directory is a MISP feed); formats without a telling extension (hma, pdq-photo-hasher, a MISP event file) need --format. */
export function detectFormat(path: string): ImportFormat {
  if (existsSync(path) && statSync(path).isDirectory()) return 'misp'
  if (path.endsWith('.csv')) return 'csv'
  if (path.endsWith('.jsonl') || path.endsWith('.ndjson')) return 'jsonl'
  if (path.endsWith('.xml')) return 'ncmec-xml'
  if (path.endsWith('.stix.json')) return 'stix'
  return 'txt'
}

const CSV_COLUMNS = ['alg', 'value', 'category', 'kind', 'media', 'quality', 'ref', 'expires']

export async function* readIndicators(path: string, format: ImportFormat, d: Defaults): AsyncGenerator<ParsedLine> {
  switch (format) {
    case 'csv': return yield* readCsv(path, d)
    case 'hma': return yield* readHma(path, d)
    case 'pdq-photo-hasher': return yield* readPdqPhotoHasher(path, d)
    case 'stix': return yield* readStix(path, d)
    case 'misp': return yield* readMisp(path, d)
    case 'ncmec-xml': return yield* readNcmecXml(path, d)
  }
  for await (const l of numberedLines(path)) {
    if ('error' in l) {
      yield l
      continue
    }
    const n = l.line, line = l.text
    try {
      if (format === 'jsonl') {
        const j = JSON.parse(line)
        if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not a JSON object')
        yield { line: n, body: complete(j, d) }
      } else {
        const parts = line.split(/\s+/)
        if (parts.length < 2 || parts.length > 3) throw new Error('expected "<alg> <hex>" or "<alg> <hex> <category>"')
        yield { line: n, body: complete({ alg: parts[0], value: parts[1]!.toLowerCase(), category: parts[2] }, d) }
      }
    } catch (e) {
      yield { line: n, error: (e as Error).message }
    }
  }
}

/**
 * CSV: the first record is the header (it must name alg and value; other known
 * columns are optional, unknown ones refused); a row may leave trailing
 * columns out. A row the parser cannot read is reported with its line and the
 * rest of the file still read where the parser can go on.
 */
async function* readCsv(path: string, d: Defaults): AsyncGenerator<ParsedLine> {
  const parser = createReadStream(path).pipe(parseCsv({
    bom: true, trim: true, skip_empty_lines: true, comment: '#', comment_no_infix: true,
    relax_column_count_less: true, info: true, max_record_size: MAX_LINE_CHARS,
    skip_records_with_error: true,
  }))
  const skipped: ParsedLine[] = []
  parser.on('skip', (e: CsvError) => skipped.push({ line: (e as CsvError & { lines?: number }).lines ?? 0, error: e.message }))
  let header: string[] | undefined
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines
      // The parser reports a skipped row as soon as it reads it, which may be before rows above it reach here.
      skipped.sort((a, b) => a.line - b.line)
      while (skipped.length && skipped[0]!.line < line) yield skipped.shift()!
      if (!header) {
        header = record.map((h) => h.toLowerCase())
        const unknown = header.filter((h) => !CSV_COLUMNS.includes(h))
        if (!header.includes('alg') || !header.includes('value') || unknown.length) {
          yield { line, error: `the CSV header must name alg and value${unknown.length ? `; unknown column(s) ${unknown.join(', ')} (known: ${CSV_COLUMNS.join(', ')})` : ''}` }
          return
        }
        continue
      }
      if (record.length > header.length) {
        yield { line, error: `expected at most ${header.length} cells, got ${record.length}` }
        continue
      }
      try {
        yield { line, body: complete(Object.fromEntries(record.map((cell, i) => [header![i], cell])), d) }
      } catch (e) {
        yield { line, error: (e as Error).message }
      }
    }
  } catch (e) {
    // A CSV error the parser cannot step over (e.g. an unclosed quote at the end): the rest of the file is unread.
    const lines = (e as { lines?: number }).lines
    yield { line: lines ?? 0, error: `${(e as Error).message}; the rest of the file was not read` }
  }
  while (skipped.length) yield skipped.shift()!
}
