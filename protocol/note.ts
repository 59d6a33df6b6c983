/**
 * c2sp.org/signed-note: text signed by one or more keys, and verifier keys.
 *
 *   <text ending in "\n">
 *   "\n"
 *   "— " <key name> " " base64(key ID (4, big-endian) ‖ signature) "\n"   (one or more)
 *
 * Verification follows the spec and golang.org/x/mod/sumdb/note: signatures by
 * unknown (name, key ID) pairs are ignored, a failing signature by a known key
 * rejects the whole note, and a note no known key signed is rejected. Unlike
 * Go, every signature line by a known key is verified (Go skips repeats), and
 * base64 must be canonical.
 */
import { LedgerError } from './errors.ts'
import { concat, fromBase64, fromUtf8, sha256, toBase64, utf8 } from './bytes.ts'
import { assertValidPublicKey, generateKeyPair, sign, verify, PUBLIC_KEY_BYTES } from './ed25519.ts'

/** Signature type bytes assigned by c2sp.org/signed-note that cairn uses. */
export const SIG_TYPE_ED25519 = 0x01
export const SIG_TYPE_COSIGNATURE_V1 = 0x04

/** Default byte budget of a note; a checkpoint with 100 Ed25519 signature lines is ~20 KiB. */
export const MAX_NOTE_BYTES = 128 * 1024
/** Go's note.Open rejects notes with more than 100 signatures; the spec requires accepting 16. */
export const MAX_NOTE_SIGNATURES = 100
/** Longest key name accepted (the ML-DSA cosignature format caps names at 255 bytes). */
export const MAX_NAME_BYTES = 255

const SIG_PREFIX = '\u2014 ' // em dash, space
const ENCODED_KEY_ID = /^[0-9a-f]{8}$/

export interface NoteSignature {
  name: string
  /** uint32 key ID, big-endian from the first four signature bytes. */
  keyId: number
  /** The signature bytes after the key ID. */
  sig: Uint8Array
  /** The line as it appeared, without the final newline. */
  line: string
}

export interface ParsedNote {
  /** The note text, including its final newline. */
  body: string
  signatures: NoteSignature[]
}

/** Checks a note signature for one (name, key ID); `verify` gets the note text bytes. */
export interface NoteVerifier {
  name: string
  keyId: number
  /** The verifier key string this verifier was built from. */
  vkey: string
  verify(message: Uint8Array, sig: Uint8Array): boolean
}

export interface VerifiedSignature extends NoteSignature {
  vkey: string
}

export interface OpenedNote extends ParsedNote {
  /** Signatures by known keys, each verified, one per key. */
  verified: VerifiedSignature[]
  /** Signatures by keys not among the verifiers (ignored, kept for re-serialising). */
  unverified: NoteSignature[]
}

export interface VerifierKey {
  name: string
  keyId: number
  type: number
  publicKey: Uint8Array
}

export interface NoteSigner {
  name: string
  /** 32-byte Ed25519 seed. */
  seed: Uint8Array
}

export interface NoteLimits {
  maxBytes?: number
  maxSignatures?: number
}

/** Non-empty, well-formed, no Unicode space (Go's unicode.IsSpace ∪ JS \s), no '+', no control character. */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.isWellFormed() &&
    !/[\s\u0085+\u0000-\u001f]/u.test(name) &&
    utf8(name).length <= MAX_NAME_BYTES
  )
}

function assertKeyName(name: string, code: 'MALFORMED_NOTE' | 'BAD_VERIFIER_KEY' | 'BAD_FIELD'): void {
  if (!isValidKeyName(name)) {
    throw new LedgerError(code, `key name ${JSON.stringify(name)} is invalid: it must be non-empty, at most ${MAX_NAME_BYTES} bytes, without spaces, '+' or control characters`)
  }
}

/** Key ID = first 4 bytes of SHA-256(name ‖ 0x0A ‖ type ‖ public key), as a uint32. */
export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  const h = sha256(utf8(name), new Uint8Array([0x0a, type]), publicKey)
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0
}

export function keyIdHex(id: number): string {
  return id.toString(16).padStart(8, '0')
}

function keyIdBytes(id: number): Uint8Array {
  return new Uint8Array([id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff])
}

/** `name+hex8(key ID)+base64(type ‖ public key)`. */
export function verifierKey(name: string, publicKey: Uint8Array, type: number = SIG_TYPE_ED25519): string {
  assertKeyName(name, 'BAD_VERIFIER_KEY')
  checkKeyMaterial(type, publicKey)
  return `${name}+${keyIdHex(keyId(name, type, publicKey))}+${toBase64(concat(new Uint8Array([type]), publicKey))}`
}

function checkKeyMaterial(type: number, publicKey: Uint8Array): void {
  if (type !== SIG_TYPE_ED25519 && type !== SIG_TYPE_COSIGNATURE_V1) {
    throw new LedgerError('BAD_VERIFIER_KEY', `signature type 0x${type.toString(16).padStart(2, '0')} is not supported (cairn uses 0x01 Ed25519 and 0x04 cosignature/v1)`)
  }
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new LedgerError('BAD_VERIFIER_KEY', `an Ed25519 verifier key holds a ${PUBLIC_KEY_BYTES}-byte public key`)
  }
  try {
    assertValidPublicKey(publicKey)
  } catch (e) {
    throw new LedgerError('BAD_VERIFIER_KEY', `verifier key: ${(e as Error).message}`, { cause: e })
  }
}

/** Parses and checks a verifier key (types 0x01 and 0x04, key ID must match); throws BAD_VERIFIER_KEY. */
export function parseVerifierKey(vkey: string): VerifierKey {
  if (typeof vkey !== 'string' || vkey.length > 1024) throw new LedgerError('BAD_VERIFIER_KEY', 'a verifier key is a string of at most 1024 characters')
  // The base64 part may itself contain '+', so split on the first two only.
  const a = vkey.indexOf('+')
  const b = a < 0 ? -1 : vkey.indexOf('+', a + 1)
  if (b < 0) throw new LedgerError('BAD_VERIFIER_KEY', 'a verifier key has the form <name>+<hex key ID>+<base64 key>')
  const name = vkey.slice(0, a)
  const idHex = vkey.slice(a + 1, b)
  assertKeyName(name, 'BAD_VERIFIER_KEY')
  if (!ENCODED_KEY_ID.test(idHex)) throw new LedgerError('BAD_VERIFIER_KEY', 'the key ID of a verifier key is 8 lowercase hex digits')
  let material: Uint8Array
  try {
    material = fromBase64(vkey.slice(b + 1), 'verifier key')
  } catch (e) {
    throw new LedgerError('BAD_VERIFIER_KEY', 'the key part of a verifier key is not canonical base64', { cause: e })
  }
  if (material.length < 1) throw new LedgerError('BAD_VERIFIER_KEY', 'the key part of a verifier key is empty')
  const type = material[0]!
  const publicKey = material.subarray(1)
  checkKeyMaterial(type, publicKey)
  const id = keyId(name, type, publicKey)
  if (id !== Number.parseInt(idHex, 16)) {
    throw new LedgerError('BAD_VERIFIER_KEY', `the key ID ${idHex} does not match the key (expected ${keyIdHex(id)})`)
  }
  return { name, keyId: id, type, publicKey: new Uint8Array(publicKey) }
}

/** A verifier for plain Ed25519 note signatures (type 0x01). */
export function noteVerifier(vkey: string): NoteVerifier {
  const k = parseVerifierKey(vkey)
  if (k.type !== SIG_TYPE_ED25519) {
    throw new LedgerError('BAD_VERIFIER_KEY', `${k.name}: expected an Ed25519 note key (type 0x01), got type 0x${k.type.toString(16).padStart(2, '0')}`)
  }
  return { name: k.name, keyId: k.keyId, vkey, verify: (message, sig) => verify(k.publicKey, message, sig) }
}

/** Rejects control characters other than "\n" and ill-formed text. */
export function assertNoteText(text: string, code: 'MALFORMED_NOTE' | 'MALFORMED_CHECKPOINT', what: string): void {
  if (!text.isWellFormed()) throw new LedgerError(code, `${what} is not valid UTF-8`)
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u0009\u000b-\u001f]/.exec(text)
  if (bad) {
    throw new LedgerError(code, `${what} contains the control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}; only newline is allowed`)
  }
}

/** Decodes bytes or checks a string, enforcing the byte budget. */
export function noteString(input: string | Uint8Array, maxBytes: number, what = 'note'): string {
  if (typeof input === 'string') {
    if (!input.isWellFormed()) throw new LedgerError('MALFORMED_NOTE', `${what} is not valid UTF-8`)
    // UTF-8 length is at most 3 bytes per UTF-16 unit; only encode when it might matter.
    if (input.length * 3 > maxBytes && utf8(input).length > maxBytes) {
      throw new LedgerError('TOO_LARGE', `${what} is larger than ${maxBytes} bytes`)
    }
    return input
  }
  if (!(input instanceof Uint8Array)) throw new LedgerError('MALFORMED_NOTE', `${what} must be text or bytes`)
  if (input.length > maxBytes) throw new LedgerError('TOO_LARGE', `${what} is ${input.length} bytes, more than the ${maxBytes}-byte limit`)
  return fromUtf8(input, 'MALFORMED_NOTE')
}

/** Splits a note into text and signature lines; checks syntax only. Throws MALFORMED_NOTE / TOO_LARGE. */
export function parseNote(input: string | Uint8Array, limits: NoteLimits = {}): ParsedNote {
  const maxBytes = limits.maxBytes ?? MAX_NOTE_BYTES
  const maxSignatures = limits.maxSignatures ?? MAX_NOTE_SIGNATURES
  const text = noteString(input, maxBytes)
  assertNoteText(text, 'MALFORMED_NOTE', 'note')
  const split = text.lastIndexOf('\n\n')
  if (split < 0) throw new LedgerError('MALFORMED_NOTE', 'note has no blank line between its text and its signatures')
  const body = text.slice(0, split + 1)
  const block = text.slice(split + 2)
  if (block.length === 0) throw new LedgerError('MALFORMED_NOTE', 'note has no signature lines after its blank line')
  if (!block.endsWith('\n')) throw new LedgerError('MALFORMED_NOTE', 'the last signature line of the note does not end with a newline')
  const lines = block.slice(0, -1).split('\n')
  if (lines.length > maxSignatures) {
    throw new LedgerError('MALFORMED_NOTE', `note has ${lines.length} signature lines, more than the limit of ${maxSignatures}`)
  }
  return { body, signatures: lines.map(parseSignatureLine) }
}

/** Parses one signature line (without its newline). */
export function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIG_PREFIX)) {
    throw new LedgerError('MALFORMED_NOTE', 'a signature line must start with an em dash (U+2014) and a space')
  }
  const rest = line.slice(SIG_PREFIX.length)
  const sp = rest.indexOf(' ')
  if (sp < 0) throw new LedgerError('MALFORMED_NOTE', 'a signature line is "— <key name> <base64 signature>"')
  const name = rest.slice(0, sp)
  assertKeyName(name, 'MALFORMED_NOTE')
  let raw: Uint8Array
  try {
    raw = fromBase64(rest.slice(sp + 1), 'signature')
  } catch (e) {
    throw new LedgerError('MALFORMED_NOTE', `the signature by ${name} is not canonical base64`, { cause: e })
  }
  if (raw.length < 5) throw new LedgerError('MALFORMED_NOTE', `the signature by ${name} is shorter than a key ID plus one byte`)
  const id = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0
  return { name, keyId: id, sig: raw.subarray(4), line }
}

/** Formats a signature line, including its final newline. */
export function formatSignatureLine(name: string, id: number, sig: Uint8Array): string {
  assertKeyName(name, 'BAD_FIELD')
  return `${SIG_PREFIX}${name} ${toBase64(concat(keyIdBytes(id), sig))}\n`
}

/** Checks that `body` can be the text of a note: non-empty, well-formed, ends in "\n", no control characters. */
export function assertNoteBody(body: string): void {
  if (typeof body !== 'string' || !body.endsWith('\n')) throw new LedgerError('MALFORMED_NOTE', 'note text must end with a newline')
  assertNoteText(body, 'MALFORMED_NOTE', 'note text')
}

/** Signs `body` with each signer (Ed25519, type 0x01) and returns the note text. */
export function signNote(body: string, signers: readonly NoteSigner[]): string {
  assertNoteBody(body)
  if (signers.length === 0) throw new LedgerError('BAD_FIELD', 'a note needs at least one signer')
  const message = utf8(body)
  let out = body + '\n'
  for (const s of signers) {
    const { publicKey } = generateKeyPair(s.seed)
    out += formatSignatureLine(s.name, keyId(s.name, SIG_TYPE_ED25519, publicKey), sign(s.seed, message))
  }
  return out
}

/**
 * Parses and verifies a note. Signatures by keys not in `verifiers` are
 * ignored; one by a known key that fails throws BAD_SIGNATURE; a note no
 * known key signed throws UNKNOWN_KEY. Strings are taken as Ed25519 vkeys.
 */
export function openNote(
  input: string | Uint8Array | ParsedNote,
  verifiers: ReadonlyArray<NoteVerifier | string>,
  limits: NoteLimits = {},
): OpenedNote {
  const note = isParsedNote(input) ? input : parseNote(input, limits)
  const known = verifierIndex(verifiers.map((v) => (typeof v === 'string' ? noteVerifier(v) : v)))
  const message = utf8(note.body)
  const verified: VerifiedSignature[] = []
  const unverified: NoteSignature[] = []
  const seen = new Set<string>()
  for (const s of note.signatures) {
    const id = `${s.name}+${keyIdHex(s.keyId)}`
    const v = known.get(id)
    if (!v) {
      unverified.push(s)
      continue
    }
    if (!v.verify(message, s.sig)) {
      throw new LedgerError('BAD_SIGNATURE', `the signature by ${id} does not verify`)
    }
    if (seen.has(id)) continue
    seen.add(id)
    verified.push({ ...s, vkey: v.vkey })
  }
  if (verified.length === 0) {
    const names = [...known.keys()].join(', ') || 'none given'
    throw new LedgerError('UNKNOWN_KEY', `the note is not signed by any trusted key (trusted: ${names})`)
  }
  return { body: note.body, signatures: note.signatures, verified, unverified }
}

function isParsedNote(x: unknown): x is ParsedNote {
  return typeof x === 'object' && x !== null && !(x instanceof Uint8Array) && 'body' in x && 'signatures' in x
}

/** Indexes verifiers by name+keyID; two different keys under one pair is a configuration error. */
export function verifierIndex(list: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const m = new Map<string, NoteVerifier>()
  for (const v of list) {
    const id = `${v.name}+${keyIdHex(v.keyId)}`
    const prev = m.get(id)
    if (prev && prev.vkey !== v.vkey) throw new LedgerError('BAD_VERIFIER_KEY', `two different verifier keys share the name and key ID ${id}`)
    m.set(id, v)
  }
  return m
}

/** Re-serialises a note: body, blank line, signature lines in order. */
export function formatNote(body: string, signatures: ReadonlyArray<Pick<NoteSignature, 'line'>>): string {
  return body + '\n' + signatures.map((s) => s.line + '\n').join('')
}

/** Appends signature lines (each "— name b64\n") to a note, skipping lines already present. */
export function appendSignatureLines(noteText: string, lines: readonly string[], limits: NoteLimits = {}): string {
  return addSignatureLines(parseNote(noteText, limits), lines, limits).text
}

/** appendSignatureLines on a parsed note: the new text and its parsed form. */
export function addSignatureLines(note: ParsedNote, lines: readonly string[], limits: NoteLimits = {}): { text: string; note: ParsedNote } {
  const have = new Set(note.signatures.map((s) => s.line))
  const add: NoteSignature[] = []
  for (const raw of lines) {
    for (const l of raw.split('\n')) {
      if (l === '') continue
      const s = parseSignatureLine(l)
      if (have.has(s.line)) continue
      have.add(s.line)
      add.push(s)
    }
  }
  const text = formatNote(note.body, [...note.signatures, ...add])
  return { text, note: parseNote(text, limits) } // re-checks the limits on the result
}
