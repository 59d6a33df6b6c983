/**
 * Reading indicator files for `cairn import`: CSV with a header row, JSON
 * lines, or `<alg> <hex>` lines. Each line becomes a record body or an error
 * with its line number; bad lines never stop the good ones.
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'

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

export async function* readIndicators(path: string, format: ImportFormat, d: Defaults): AsyncGenerator<ParsedLine> {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  let n = 0
  let header: string[] | undefined
  for await (const raw of rl) {
    n++
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    if (line.length > 20_000) {
      yield { line: n, error: 'line longer than 20,000 characters' }
      continue
    }
    try {
      if (format === 'jsonl') {
        const j = JSON.parse(line)
        if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not a JSON object')
        yield { line: n, body: complete(j, d) }
      } else if (format === 'csv') {
        const cells = line.split(',').map((s) => s.trim())
        if (!header) {
          header = cells
          if (!header.includes('alg') || !header.includes('value')) throw new Error('the CSV header must name at least alg and value')
          continue
        }
        if (cells.length !== header.length) throw new Error(`expected ${header.length} cells, got ${cells.length}`)
        yield { line: n, body: complete(Object.fromEntries(header.map((h, i) => [h, cells[i]])), d) }
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
