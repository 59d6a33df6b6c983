/**
 * Reading indicator files for `cairn import`: CSV with a header row (RFC 4180,
 * through csv-parse: quotes, a BOM, CRLF, optional trailing columns), JSON
 * lines, or `<alg> <hex>` lines. Each line becomes a record body or an error
 * with its line number; bad lines never stop the good ones.
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { parse as parseCsv, CsvError } from 'csv-parse'

export type ImportFormat = 'csv' | 'jsonl' | 'txt'

export interface Defaults {
  category?: string
  kind?: string
  media?: string
  /** Quality for PDQ lines that give none, as the user states it (`--pdq-quality`); never assumed. */
  pdqQuality?: number
}

export type ParsedLine = { line: number; body: Record<string, unknown> } | { line: number; error: string }

const MEDIA_FOR_ALG: Record<string, string> = { pdq: 'image', photodna: 'image', tmk_pdqf: 'video', url_sha256: 'url' }

/** Fills the fields a short line leaves out: kind/media follow from the alg where the rules fix them. */
function complete(body: Record<string, unknown>, d: Defaults): Record<string, unknown> {
  const alg = String(body.alg ?? '')
  const out: Record<string, unknown> = { type: 'indicator', ...body }
  out.category ??= d.category
  out.media ??= MEDIA_FOR_ALG[alg] ?? d.media ?? 'image'
  out.kind ??= alg === 'url_sha256' ? 'url' : d.kind ?? 'known_material'
  if (alg === 'pdq' && (out.quality === undefined || out.quality === '')) {
    if (d.pdqQuality === undefined) throw new Error('a pdq line needs its quality (0-100, as `cairn hash` prints it): give it on the line or state it for the file with --pdq-quality N; none is assumed')
    out.quality = d.pdqQuality
  }
  if (typeof out.quality === 'string') out.quality = Number(out.quality)
  if (typeof out.expires === 'string') out.expires = Number(out.expires)
  for (const k of Object.keys(out)) if (out[k] === undefined || out[k] === '') delete out[k]
  return out
}

export function detectFormat(path: string): ImportFormat {
  if (path.endsWith('.csv')) return 'csv'
  if (path.endsWith('.jsonl') || path.endsWith('.ndjson')) return 'jsonl'
  return 'txt'
}

const MAX_LINE_CHARS = 20_000
const CSV_COLUMNS = ['alg', 'value', 'category', 'kind', 'media', 'quality', 'ref', 'expires']

export async function* readIndicators(path: string, format: ImportFormat, d: Defaults): AsyncGenerator<ParsedLine> {
  if (format === 'csv') return yield* readCsv(path, d)
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  let n = 0
  for await (const raw of rl) {
    n++
    const line = (n === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim()
    if (line === '' || line.startsWith('#')) continue
    if (line.length > MAX_LINE_CHARS) {
      yield { line: n, error: `line longer than ${MAX_LINE_CHARS.toLocaleString('en')} characters` }
      continue
    }
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
