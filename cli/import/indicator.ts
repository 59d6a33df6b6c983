/**
 * What every import reader yields: for each numbered line (text formats) or
 * entry (JSON and XML documents), a record body to publish, an error saying
 * why it was rejected, a reason it was skipped on purpose (a deleted MISP
 * attribute, a revoked STIX indicator), or a revocation to resolve (an NCMEC
 * deleted entry). `complete` fills what a short line leaves out, the same for
 * every format.
 */
import { ALG_LENGTHS, MAX_TMK_PDQF_BYTES, type RevocationReason } from '../../protocol/records.ts'

export interface Defaults {
  category?: string
  kind?: string
  media?: string
  /** Quality for PDQ lines that give none, as the user states it (`--pdq-quality`); never assumed. */
  pdqQuality?: number
  /** Reason of the revocations that NCMEC deleted entries become (`--deleted-reason`); never assumed. */
  deletedReason?: RevocationReason
}

/** Optional context printed after the number, e.g. `image image1, pdq` or `event 5e1c…, attribute 3`. */
type Where = { where?: string }

export type ParsedLine =
  | ({ line: number; body: Record<string, unknown> } & Where)
  | ({ line: number; error: string } & Where)
  | ({ line: number; skipped: string } & Where)
  | ({ line: number; revoke: { ref: string; reason: RevocationReason } } & Where)

const MEDIA_FOR_ALG: Record<string, string> = { pdq: 'image', photodna: 'image', tmk_pdqf: 'video', url_sha256: 'url' }

export const PDQ_QUALITY_MISSING = 'a pdq line needs its quality (0-100, as `cairn hash` prints it): give it on the line or state it for the file with --pdq-quality N; none is assumed'

/** Fills the fields a short line leaves out: kind/media follow from the alg where the rules fix them. Throws on a PDQ value without a quality. */
export function complete(body: Record<string, unknown>, d: Defaults): Record<string, unknown> {
  const alg = String(body.alg ?? '')
  const out: Record<string, unknown> = { type: 'indicator', ...body }
  out.category ??= d.category
  out.media ??= MEDIA_FOR_ALG[alg] ?? d.media ?? 'image'
  out.kind ??= alg === 'url_sha256' ? 'url' : d.kind ?? 'known_material'
  if (alg === 'pdq' && (out.quality === undefined || out.quality === '')) {
    if (d.pdqQuality === undefined) throw new Error(PDQ_QUALITY_MISSING)
    out.quality = d.pdqQuality
  }
  if (typeof out.quality === 'string') out.quality = Number(out.quality)
  if (typeof out.expires === 'string') out.expires = Number(out.expires)
  for (const k of Object.keys(out)) if (out[k] === undefined || out[k] === '') delete out[k]
  return out
}

/** `complete` as a ParsedLine: the body, or the error it threw. */
export function completed(line: number, body: Record<string, unknown>, d: Defaults, where?: string): ParsedLine {
  try {
    return { line, body: complete(body, d), ...(where ? { where } : {}) }
  } catch (e) {
    return { line, error: (e as Error).message, ...(where ? { where } : {}) }
  }
}

const HEX_RE = /^[0-9a-fA-F]+$/

/** A hash as lowercase hex of exactly `bytes` bytes, or an error message. */
export function hexOfLength(value: string, bytes: number, what: string): string {
  if (!HEX_RE.test(value) || value.length !== 2 * bytes) throw new Error(`${what} must be ${2 * bytes} hex digits, got ${JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value)}`)
  return value.toLowerCase()
}

/** A PDQ quality as printed by the hashers: a whole number 0..100. */
export function parseQuality(text: string): number {
  if (!/^\d{1,3}$/.test(text) || Number(text) > 100) throw new Error(`the PDQ quality must be a whole number from 0 to 100, got ${JSON.stringify(text.slice(0, 20))}`)
  return Number(text)
}

/** A value of `alg` as lowercase hex of the alg's length (tmk_pdqf: 1..4096 bytes), or an error message. */
export function valueHex(alg: string, value: string): string {
  const len = (ALG_LENGTHS as Record<string, number | 'variable'>)[alg]
  if (len === undefined) throw new Error(`unknown alg ${JSON.stringify(alg.slice(0, 40))}`)
  if (len !== 'variable') return hexOfLength(value, len, `a ${alg} value`)
  if (!HEX_RE.test(value) || value.length % 2 !== 0 || value.length > 2 * MAX_TMK_PDQF_BYTES) throw new Error(`a ${alg} value must be an even number of hex digits, at most ${2 * MAX_TMK_PDQF_BYTES}`)
  return value.toLowerCase()
}
