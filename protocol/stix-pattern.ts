/**
 * STIX 2.1 patterns for cairn values, both ways, and the name-based UUIDs of
 * the STIX ids cairn derives. The pattern for a value of `alg` is
 * `[file:hashes.<key> = '<hex>']`, with the hash-algorithm-ov names where
 * STIX has one (MD5, 'SHA-1', 'SHA-256') and custom keys for the perceptual
 * hashes (PDQ, PhotoDNA, 'TMK-PDQF'); url_sha256 is `[url:x_cairn_sha256 = '<hex>']`.
 * These are the patterns node/provider/stix.ts emits (test/export-formats
 * checks that both agree).
 *
 * The reader takes the subset a hash list is written in: one or more
 * observation expressions joined by OR, each a comparison `=` of one hash
 * (several joined by OR inside the brackets are several hashes). AND,
 * FOLLOWEDBY, qualifiers and other operators or objects are refused with
 * the reason: an AND of two hashes cannot be one cairn indicator.
 */
import { createHash } from 'node:crypto'
import { utf8 } from './bytes.ts'

/** RFC 9562 name-based UUID (version 5, SHA-1). */
export function uuidv5(namespace: string, name: Uint8Array | string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex')
  if (ns.length !== 16) throw new Error(`bad namespace UUID ${namespace}`)
  const h = createHash('sha1').update(ns).update(typeof name === 'string' ? utf8(name) : name).digest()
  h[6] = (h[6]! & 0x0f) | 0x50
  h[8] = (h[8]! & 0x3f) | 0x80
  const x = h.subarray(0, 16).toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
}

/** RFC 9562 namespace for URLs. */
export const NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8'
/** Namespace of every STIX id cairn derives (the same as node/provider/stix.ts). */
export const CAIRN_STIX_NAMESPACE = uuidv5(NAMESPACE_URL, 'urn:cairn:stix:v1')

/** Hash keys of the STIX `file` hashes dictionary, as written. */
const FILE_HASH_KEYS: Record<string, string> = {
  md5: 'MD5', sha1: "'SHA-1'", sha256: "'SHA-256'", pdq: 'PDQ', photodna: 'PhotoDNA', tmk_pdqf: "'TMK-PDQF'",
}

/** Hash keys read (upper-cased, quotes removed) → alg; the spellings SHA1/SHA256 seen in the wild included. */
const ALG_FOR_KEY: Record<string, string> = {
  'MD5': 'md5', 'SHA-1': 'sha1', 'SHA1': 'sha1', 'SHA-256': 'sha256', 'SHA256': 'sha256',
  'PDQ': 'pdq', 'PHOTODNA': 'photodna', 'TMK-PDQF': 'tmk_pdqf',
}

/** STIX pattern matching a value of `alg`. */
export function stixPattern(alg: string, hex: string): string {
  if (alg === 'url_sha256') return `[url:x_cairn_sha256 = '${hex}']`
  const key = FILE_HASH_KEYS[alg]
  if (!key) throw new Error(`no STIX pattern for alg ${alg}`)
  return `[file:hashes.${key} = '${hex}']`
}

export interface PatternHash {
  alg: string
  /** The value as written (not yet checked as hex of the alg's length). */
  value: string
}

const MAX_PATTERN_CHARS = 100_000

/** The hashes a pattern matches, or an Error saying which part cairn cannot hold. */
export function parseHashPattern(pattern: string): PatternHash[] {
  if (typeof pattern !== 'string' || pattern.length > MAX_PATTERN_CHARS) throw new Error('the pattern is not a string of at most 100,000 characters')
  const out: PatternHash[] = []
  let i = 0
  const ws = () => { while (i < pattern.length && /\s/.test(pattern[i]!)) i++ }
  const fail = (what: string): never => { throw new Error(`unsupported pattern at character ${i + 1}: ${what} (cairn reads [file:hashes.<key> = '<hex>'] comparisons joined by OR)`) }
  const word = (w: string) => {
    ws()
    if (pattern.startsWith(w, i)) { i += w.length; return true }
    return false
  }
  const quoted = (): string => {
    if (pattern[i] !== "'") fail('expected a quoted string')
    let s = ''
    for (i++; i < pattern.length && pattern[i] !== "'"; i++) {
      if (pattern[i] === '\\') i++
      s += pattern[i] ?? ''
    }
    if (pattern[i] !== "'") fail('an unclosed string')
    i++
    return s
  }
  const comparison = () => {
    ws()
    let alg: string | undefined
    if (pattern.startsWith('file:hashes.', i)) {
      i += 'file:hashes.'.length
      let key: string
      if (pattern[i] === "'") key = quoted()
      else {
        key = /^[A-Za-z0-9_]+/.exec(pattern.slice(i))?.[0] ?? fail('expected a hash name')
        i += key.length
      }
      alg = ALG_FOR_KEY[key.toUpperCase()]
      if (!alg) throw new Error(`hash ${JSON.stringify(key.slice(0, 40))} has no cairn alg (known: MD5, SHA-1, SHA-256, PDQ, PhotoDNA, TMK-PDQF)`)
    } else if (pattern.startsWith('url:x_cairn_sha256', i)) {
      i += 'url:x_cairn_sha256'.length
      alg = 'url_sha256'
    } else {
      fail(`the object path ${JSON.stringify(pattern.slice(i, i + 40))}`)
    }
    ws()
    if (pattern[i] !== '=') fail('only = comparisons name a hash')
    i++
    ws()
    out.push({ alg: alg!, value: quoted() })
  }
  const observation = () => {
    ws()
    if (pattern[i] !== '[') fail('expected [')
    i++
    comparison()
    while (word('OR')) comparison()
    ws()
    if (pattern[i] !== ']') fail(pattern.startsWith('AND', i) ? 'AND (a cairn indicator is one hash)' : 'expected ]')
    i++
  }
  observation()
  while (word('OR')) observation()
  ws()
  if (i < pattern.length) fail(JSON.stringify(pattern.slice(i, i + 40)))
  return out
}
