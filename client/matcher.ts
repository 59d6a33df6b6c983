/**
 * Matching files against a provider's local copy (`cairn match`): each file
 * is hashed (file-hashes.ts) and looked up exactly by MD5, SHA-1 and
 * SHA-256, and by PDQ within a Hamming distance, optionally over the 8
 * dihedral variants of the image (rotations and flips). A query PDQ of
 * quality below 50 is not matched: Meta's reference advises discarding such
 * hashes (flat images match too much).
 */
import { fromHex } from '../protocol/bytes.ts'
import { PDQ_DIHEDRAL_NAMES } from '../protocol/pdq.ts'
import { hashPaths, isFileHashError, type FileHashes, type FileHashError } from './file-hashes.ts'
import type { LocalCopy, CopyRecord } from './local-copy-reader.ts'

export const DEFAULT_MAX_DISTANCE = 31
/** Beyond this a PDQ "match" is about as likely between unrelated images as between copies (256 bits, random pairs differ by ~128). */
export const MAX_MAX_DISTANCE = 63
export const MIN_QUERY_QUALITY = 50
const EXACT_ALGS = ['md5', 'sha1', 'sha256'] as const

export interface MatchOptions {
  maxDistance?: number
  dihedral?: boolean
}

export type MatchEvent =
  | { kind: 'match'; file: string; alg: string; distance: number; variant?: string; record: CopyRecord }
  | { kind: 'low_quality'; file: string; pdq: string; quality: number }
  | FileHashError & { kind: 'error' }
  /** One file done (after its matches), for progress. */
  | { kind: 'file'; file: string; matches: number }

/** The matches of one hashed file: exact ones by alg order, then PDQ ones by distance. */
export function matchHashes(copy: LocalCopy, h: FileHashes, o: MatchOptions = {}): MatchEvent[] {
  const d = o.maxDistance ?? DEFAULT_MAX_DISTANCE
  const out: MatchEvent[] = []
  for (const alg of EXACT_ALGS) for (const record of copy.lookup(alg, fromHex(h[alg]))) out.push({ kind: 'match', file: h.file, alg, distance: 0, record })
  if (h.pdq === undefined) return out
  if (h.quality! < MIN_QUERY_QUALITY) {
    out.push({ kind: 'low_quality', file: h.file, pdq: h.pdq, quality: h.quality! })
    return out
  }
  if (!o.dihedral || h.pdq_dihedral === undefined) {
    for (const m of copy.matchPdq(fromHex(h.pdq), d)) out.push({ kind: 'match', file: h.file, alg: 'pdq', distance: m.distance, record: m.record })
    return out
  }
  // Each record once, under the variant closest to it (the first in PDQ_DIHEDRAL_NAMES order on a tie).
  const best = new Map<string, { distance: number; variant: string; record: CopyRecord }>()
  h.pdq_dihedral.forEach((hex, v) => {
    for (const m of copy.matchPdq(fromHex(hex), d)) {
      const had = best.get(m.record.id)
      if (!had || m.distance < had.distance) best.set(m.record.id, { distance: m.distance, variant: PDQ_DIHEDRAL_NAMES[v]!, record: m.record })
    }
  })
  const pdq = [...best.values()].sort((a, b) => a.distance - b.distance || (a.record.log < b.record.log ? -1 : a.record.log > b.record.log ? 1 : a.record.seq - b.record.seq))
  for (const m of pdq) out.push({ kind: 'match', file: h.file, alg: 'pdq', distance: m.distance, variant: m.variant, record: m.record })
  return out
}

/** Hashes and matches every file under `paths`; a file that cannot be read or decoded is an error event and the walk goes on. */
export async function* matchPaths(copy: LocalCopy, paths: string[], o: MatchOptions = {}): AsyncGenerator<MatchEvent> {
  for await (const h of hashPaths(paths, { dihedral: o.dihedral === true })) {
    if (isFileHashError(h)) {
      yield { kind: 'error', ...h }
      yield { kind: 'file', file: h.file, matches: 0 }
      continue
    }
    const events = matchHashes(copy, h, o)
    yield* events
    yield { kind: 'file', file: h.file, matches: events.filter((e) => e.kind === 'match').length }
  }
}
