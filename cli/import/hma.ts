/**
 * ThreatExchange / HMA text: `<signal type> <signal>` per line, the format of
 * python-threatexchange's local file exchange (LocalFileSignalExchangeAPI in
 * threatexchange/exchanges/impl/file_api.py: each line is split at its first
 * space into the signal type's name and the signal). Signal type names are
 * SignalType.get_name(): `pdq` (PdqSignal), `video_md5` (VideoMD5Signal),
 * `video_sha256` (VideoSHA256Signal); those are the ones cairn holds. Others
 * (url, url_md5, raw_text, trend_query, ...) are rejected with their name.
 * The text carries no PDQ quality: `--pdq-quality` states it, else each pdq
 * line is rejected.
 */
import { completed, hexOfLength, type Defaults, type ParsedLine } from './indicator.ts'
import { numberedLines } from './lines.ts'

/** threatexchange signal type name → cairn alg, media and value length. */
const SIGNAL_TYPES: Record<string, { alg: string; media: string; bytes: number }> = {
  pdq: { alg: 'pdq', media: 'image', bytes: 32 },
  video_md5: { alg: 'md5', media: 'video', bytes: 16 },
  video_sha256: { alg: 'sha256', media: 'video', bytes: 32 },
}

export async function* readHma(path: string, d: Defaults): AsyncGenerator<ParsedLine> {
  for await (const l of numberedLines(path)) {
    if ('error' in l) {
      yield l
      continue
    }
    const at = l.text.indexOf(' ')
    const type = at < 0 ? l.text : l.text.slice(0, at)
    const signal = at < 0 ? '' : l.text.slice(at + 1).trim()
    const t = SIGNAL_TYPES[type]
    if (!signal) yield { line: l.line, error: 'expected "<signal type> <signal>", e.g. "pdq <64 hex digits>"' }
    else if (!t) yield { line: l.line, error: `signal type ${JSON.stringify(type.slice(0, 40))} has no cairn alg (known: ${Object.keys(SIGNAL_TYPES).join(', ')})` }
    else {
      try {
        yield completed(l.line, { alg: t.alg, value: hexOfLength(signal, t.bytes, `a ${type} signal`), media: t.media }, d)
      } catch (e) {
        yield { line: l.line, error: (e as Error).message }
      }
    }
  }
}
