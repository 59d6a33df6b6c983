/**
 * How the local copy looks through the eyes of Meta's Hasher-Matcher-
 * Actioner (HMA, "OpenMediaMatch"): its signal type names for our
 * algorithms, its validation of a signal string, its bank names and
 * content ids for our records, and its match shapes. Pure: no I/O. The
 * mapping is spec/matcher-api.md §M.2; the service is matcher-service.ts.
 */
import { LedgerError } from '../protocol/errors.ts'
import { sha256, utf8 } from '../protocol/bytes.ts'
import type { LocalCopy, CopyRecord } from './local-copy-reader.ts'

/** Uploads above this are refused with 413 (HMA's own cap on fetched files is 100 MB; images we hash are far smaller). */
export const DEFAULT_MAX_UPLOAD_BYTES = 32 * 1024 * 1024

/** HMA's PDQ match threshold (python-threatexchange PDQ_CONFIDENT_MATCH_THRESHOLD): distance ≤ 31 is a match. */
export const HMA_PDQ_THRESHOLD = 31
/** HMA's `distance` for a match without one (exact signal types): python-threatexchange NO_DISTANCE_STR. */
export const NO_DISTANCE = '-'

/** Signal type name → our alg and the hex digits a signal has. HMA's own names (video_md5, video_sha256) are aliases: both are digests of the file's bytes. */
export const SIGNAL_TYPES: Record<string, { alg: 'pdq' | 'md5' | 'sha1' | 'sha256'; hexDigits: number }> = {
  pdq: { alg: 'pdq', hexDigits: 64 },
  md5: { alg: 'md5', hexDigits: 32 },
  sha1: { alg: 'sha1', hexDigits: 40 },
  sha256: { alg: 'sha256', hexDigits: 64 },
  video_md5: { alg: 'md5', hexDigits: 32 },
  video_sha256: { alg: 'sha256', hexDigits: 64 },
}
const SERVED = Object.keys(SIGNAL_TYPES).join(', ')
/** Algorithms a copy may hold that this matcher does not index (no HMA-compatible similarity for them here). */
const NOT_INDEXED = new Set(['photodna', 'tmk_pdqf', 'url_sha256'])

/** The alg a signal type names, or BAD_ALG naming the types served. */
export function resolveSignalType(name: string): (typeof SIGNAL_TYPES)[string] {
  const t = Object.hasOwn(SIGNAL_TYPES, name) ? SIGNAL_TYPES[name] : undefined
  if (t) return t
  const shown = JSON.stringify(name.slice(0, 40))
  if (NOT_INDEXED.has(name)) throw new LedgerError('BAD_ALG', `signal type ${shown} is not indexed by this matcher; it answers ${SERVED}`)
  throw new LedgerError('BAD_ALG', `No such SignalType ${shown}; this matcher answers ${SERVED}`)
}

/** The signal's bytes: hex of the type's length, case and surrounding blanks ignored (HMA strips and lowercases MD5s; we do so for every type). */
export function parseSignal(signalType: string, signal: string): { alg: string; value: Uint8Array } {
  const t = resolveSignalType(signalType)
  const hex = signal.trim().toLowerCase()
  if (hex.length !== t.hexDigits || !/^[0-9a-f]+$/.test(hex)) {
    throw new LedgerError('BAD_VALUE_LENGTH', `invalid signal: a ${signalType} signal is ${t.hexDigits} hex digits, got ${signal.length > 80 ? `${signal.length} characters` : JSON.stringify(signal)}`)
  }
  return { alg: t.alg, value: new Uint8Array(Buffer.from(hex, 'hex')) }
}

/**
 * Bank names: one per (centre, category), as HMA spells bank names
 * ([A-Z_][A-Z0-9_]*): the centre's log origin upper-cased with every other
 * character made `_`, then `_` and the category, e.g. demo.cairn/ncmec +
 * A1 → DEMO_CAIRN_NCMEC_A1. Two origins that would spell the same get the
 * first 8 hex digits of their SHA-256 appended, so a name never stands for
 * two centres.
 */
export function bankNamer(origins: string[]): (origin: string, category: string) => string {
  const spelt = (o: string) => o.toUpperCase().replace(/[^A-Z0-9]/g, '_').replace(/^([0-9])/, '_$1')
  const count = new Map<string, number>()
  for (const o of new Set(origins)) count.set(spelt(o), (count.get(spelt(o)) ?? 0) + 1)
  const names = new Map<string, string>()
  const centre = (o: string) => {
    let n = names.get(o)
    if (n === undefined) {
      n = spelt(o)
      if ((count.get(n) ?? 0) > 1 || !count.has(n)) n += '_' + Buffer.from(sha256(utf8(o))).toString('hex', 0, 4).toUpperCase()
      names.set(o, n)
    }
    return n
  }
  return (origin, category) => `${centre(origin)}_${category}`
}

/** One match of a query: the record and HMA's distance string. */
export interface SignalMatch {
  record: CopyRecord
  distance: string
}

/** Every live record matching the signal: PDQ within HMA's threshold (by distance, then centre, then seq), exact types by equality (by centre, then seq). */
export function matchSignal(copy: LocalCopy, signalType: string, signal: string): SignalMatch[] {
  const { alg, value } = parseSignal(signalType, signal)
  if (alg === 'pdq') return copy.matchPdq(value, HMA_PDQ_THRESHOLD).map((m) => ({ record: m.record, distance: String(m.distance) }))
  return copy.lookup(alg, value).map((record) => ({ record, distance: NO_DISTANCE }))
}

/** HMA's bank_content_id for a record: its index (seq) in its centre's log. Unique within a bank; (bank, id) names the log entry. */
export function contentId(record: CopyRecord): number {
  return record.seq
}

/** The `banks` query parameter (comma-separated names), or undefined for every bank. */
export function parseBanks(raw: string | undefined): Set<string> | undefined {
  if (raw === undefined || raw === '') return undefined
  return new Set(raw.split(',').map((b) => b.trim()).filter((b) => b !== ''))
}

/** HMA's /m/lookup answer for one signal type: bank name → [{bank_content_id, distance}], banks in the order of their best match. */
export function byBank(matches: SignalMatch[], bankOf: (origin: string, category: string) => string, banks?: Set<string>): Record<string, { bank_content_id: number; distance: string }[]> {
  const out: Record<string, { bank_content_id: number; distance: string }[]> = {}
  for (const m of matches) {
    const bank = bankOf(m.record.log, m.record.category)
    if (banks && !banks.has(bank)) continue
    ;(out[bank] ??= []).push({ bank_content_id: contentId(m.record), distance: m.distance })
  }
  return out
}
