/**
 * The verified current set of a local copy in the formats matchers read
 * (`cairn export`; fields in spec/local-copy.md §L.6, spec/formats.md):
 *   jsonl  one object per record: id, log, seq, alg, value, category, quality (PDQ only), confirmations, disputes
 *   csv    header id,log,seq,alg,value,category,quality,confirmations,disputes; the origin lists space-separated
 *   txt    "<alg> <hex>" per record, as the node's GET /feed/snapshot?format=txt
 *   hma    "pdq <hex>" per distinct PDQ value: the "<signal type> <signal>" lines python-threatexchange's
 *          local file exchange (and so HMA) reads
 *   stix   one STIX 2.1 bundle (client/stix-export.ts)
 *   misp   a MISP feed directory: manifest.json, hashes.csv, one event file (client/misp-feed.ts);
 *          not a stream of lines, so cairn export writes it with writeMispFeed
 */
import type { LocalCopy, CopyRecord } from './local-copy-reader.ts'
import { stixBundleChunks } from './stix-export.ts'

export const EXPORT_FORMATS = ['jsonl', 'csv', 'txt', 'hma', 'stix', 'misp'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]
/** Formats written as one file (or stdout); misp is a directory. */
export type FileExportFormat = Exclude<ExportFormat, 'misp'>
export const CSV_HEADER = 'id,log,seq,alg,value,category,quality,confirmations,disputes'

const hex = (v: Uint8Array) => Buffer.from(v).toString('hex')

/** RFC 4180: a field with a comma, quote or line break is quoted. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function jsonlLine(r: CopyRecord): string {
  const o: Record<string, unknown> = { id: r.id, log: r.log, seq: r.seq, alg: r.alg, value: hex(r.value), category: r.category }
  if (r.quality !== undefined) o.quality = r.quality
  o.confirmations = r.confirmations
  o.disputes = r.disputes
  return JSON.stringify(o) + '\n'
}

export function csvLine(r: CopyRecord): string {
  return [r.id, r.log, String(r.seq), r.alg, hex(r.value), r.category, r.quality === undefined ? '' : String(r.quality), r.confirmations.join(' '), r.disputes.join(' ')].map(csvField).join(',') + '\n'
}

/** The federation(s) a copy's logs belong to: the part of each origin before `/`. */
export function copyFederation(copy: Pick<LocalCopy, 'logs' | 'records'>): string {
  let origins = copy.logs.map((l) => l.origin)
  // A copy whose state names no log yet (written by hand, as in tests): the records' own.
  if (!origins.length) for (const r of copy.records()) origins.push(r.log)
  const names = [...new Set(origins.map((o) => o.split('/')[0]!))].sort()
  return names.length ? names.join(',') : 'cairn'
}

/** The export of `copy` in `format`, line by line (the csv header first; stix: one object per line). `now` dates the STIX objects. */
export function* exportLines(copy: LocalCopy, format: FileExportFormat, o: { now?: number } = {}): Generator<string> {
  if (format === 'stix') return yield* stixBundleChunks(copy.records(), { now: o.now ?? Date.now(), seed: copy.cursor })
  if (format === 'csv') yield CSV_HEADER + '\n'
  if (format === 'hma') {
    const seen = new Set<string>()
    for (const r of copy.records()) {
      if (r.alg !== 'pdq') continue
      const v = hex(r.value)
      if (seen.has(v)) continue
      seen.add(v)
      yield `pdq ${v}\n`
    }
    return
  }
  for (const r of copy.records()) {
    if (format === 'jsonl') yield jsonlLine(r)
    else if (format === 'csv') yield csvLine(r)
    else yield `${r.alg} ${hex(r.value)}\n`
  }
}
