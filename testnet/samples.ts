/**
 * Made-up indicators for demos, testnets and benchmarks: deterministic
 * pseudo-random hashes (SHA-256 of a label), never real ones. The alg mix
 * resembles a real hash list: mostly MD5/SHA-1/SHA-256 and PDQ, some PhotoDNA,
 * video hashes and URL hashes.
 */
import { createHash } from 'node:crypto'

const MIX = ['md5', 'sha1', 'sha256', 'pdq', 'sha256', 'md5', 'pdq', 'photodna', 'tmk_pdqf', 'url_sha256'] as const
const CATEGORIES = ['A1', 'A2', 'B1', 'B2', 'A1', 'B2'] as const
const LENGTH: Record<string, number> = { md5: 16, sha1: 20, sha256: 32, pdq: 32, photodna: 144, tmk_pdqf: 256, url_sha256: 32 }

function bytes(label: string, n: number): string {
  let out = ''
  for (let i = 0; out.length < n * 2; i++) out += createHash('sha256').update(`${label}/${i}`).digest('hex')
  return out.slice(0, n * 2)
}

/** The i-th sample indicator of a source, as the JSON body POST /records takes. */
export function sampleIndicator(source: string, i: number): Record<string, unknown> {
  const alg = MIX[i % MIX.length]!
  const body: Record<string, unknown> = {
    type: 'indicator',
    alg,
    value: bytes(`cairn-sample/${source}/${i}`, LENGTH[alg]!),
    category: CATEGORIES[(i * 7) % CATEGORIES.length],
    kind: alg === 'url_sha256' ? 'url' : i % 5 === 0 ? 'new_material' : 'known_material',
    media: alg === 'url_sha256' ? 'url' : alg === 'tmk_pdqf' ? 'video' : 'image',
  }
  if (alg === 'pdq') body.quality = 50 + (i % 51)
  return body
}
