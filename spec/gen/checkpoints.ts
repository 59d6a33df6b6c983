/**
 * spec/vectors/checkpoints/: signed checkpoints (c2sp signed-note +
 * tlog-checkpoint + tlog-cosignature) for the log `vectors.cairn/eu-centre`.
 *
 * Each case: `description`, `vkey` (the log's Ed25519 verifier key), `note`
 * (the signed note text), `valid`; invalid cases add `error` (the LedgerError
 * code cairn rejects with). Witness cases add `witness_vkeys` (type 0x04
 * verifier keys); such a case is valid only if the log signature verifies
 * AND every listed witness has a valid cosignature (cairn's
 * openCheckpoint(note, vkey, { witnesses, quorum: witnesses.length })).
 * Signatures by keys not given are ignored, as the signed-note spec requires.
 */
import { concat, toBase64, utf8 } from '../../protocol/bytes.ts'
import { sign } from '../../protocol/ed25519.ts'
import { EMPTY_ROOT, leafHash } from '../../protocol/hash.ts'
import { MerkleTree } from '../../protocol/merkle.ts'
import { formatSignatureLine, keyId, signNote, verifierKey } from '../../protocol/note.ts'
import { formatCheckpoint, signCheckpoint } from '../../protocol/checkpoint.ts'
import { addCosignatures, cosign, witnessKeyId, witnessVerifierKey } from '../../protocol/cosignature.ts'
import type { ErrorCode } from '../../protocol/errors.ts'
import { vectorKey, VECTOR_TIME_S, type VectorCase } from './seeds.ts'

export const VECTOR_ORIGIN = 'vectors.cairn/eu-centre'

type Signer = { name: string; seed: Uint8Array; publicKey: Uint8Array }
const signer = (name: string, label: string): Signer => ({ name, ...vectorKey(label) })

/** The vector federation: the log under test, three witnesses, and keys that must not be trusted. */
export const vectorLog = signer(VECTOR_ORIGIN, 'eu-centre/log')
export const vectorLogVkey = verifierKey(VECTOR_ORIGIN, vectorLog.publicKey)
export const vectorWitnesses = [
  signer('vectors.cairn/ncmec', 'ncmec/witness'),
  signer('vectors.cairn/c3p', 'c3p/witness'),
  signer('vectors.cairn/esafety', 'esafety/witness'),
]
export const vectorWitnessVkeys = vectorWitnesses.map((w) => witnessVerifierKey(w.name, w.publicKey))
/** Same name as the log, another key. */
const impostor = signer(VECTOR_ORIGIN, 'eu-centre/impostor')
/** A witness nobody configured. */
const stranger = signer('vectors.cairn/stranger', 'stranger/witness')

const tree = MerkleTree.from(Array.from({ length: 5 }, (_, i) => leafHash(utf8(`cairn-checkpoint-vector-${i}`))))
const ROOT = tree.root()
const OTHER_ROOT = tree.root(4)
const B64 = toBase64(ROOT)
const body = (size: number | string, root = B64, origin = VECTOR_ORIGIN): string => `${origin}\n${size}\n${root}\n`
const BODY = formatCheckpoint({ origin: VECTOR_ORIGIN, size: 5, root: ROOT })
const NOTE = signCheckpoint({ origin: VECTOR_ORIGIN, size: 5, root: ROOT }, vectorLog)
const SIG_LINE = NOTE.slice(BODY.length + 1)
const SIG_B64 = SIG_LINE.trim().split(' ')[2]!
const T = VECTOR_TIME_S
const TAB_BODY = BODY + 'a\tb\n'
const [ncmec, c3p, esafety] = vectorWitnesses as [Signer, Signer, Signer]
const [ncmecVkey, c3pVkey] = vectorWitnessVkeys as [string, string, string]

function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, n)
  return b
}

/** A cosignature line with chosen timestamp bytes and signed timestamp text. */
function rawCosignature(w: Signer, tsBytes: Uint8Array, tsSigned: string, over = BODY): string {
  const sig = sign(w.seed, utf8(`cosignature/v1\ntime ${tsSigned}\n${over}`))
  return formatSignatureLine(w.name, witnessKeyId(w.name, w.publicKey), concat(tsBytes, sig))
}

/** Sets a padding bit in the last base64 digit: same bytes for a lax decoder, not canonical. */
function nonCanonicalBase64(b64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const data = b64.replace(/=+$/, '')
  const last = alphabet.indexOf(data[data.length - 1]!)
  return data.slice(0, -1) + alphabet[last | 1] + b64.slice(data.length)
}

function flipKeyIdBit(line: string): string {
  const [dash, name, b64] = line.trim().split(' ') as [string, string, string]
  const raw = Buffer.from(b64, 'base64')
  raw[0]! ^= 0x80
  return `${dash} ${name} ${raw.toString('base64')}\n`
}

function flipLastSigByte(line: string): string {
  const [dash, name, b64] = line.trim().split(' ') as [string, string, string]
  const raw = Buffer.from(b64, 'base64')
  raw[raw.length - 1]! ^= 0x01
  return `${dash} ${name} ${raw.toString('base64')}\n`
}

function ok(name: string, description: string, note: string, witnesses?: string[]): VectorCase {
  return { name: `valid-${name}`, data: { description, vkey: vectorLogVkey, note, valid: true, ...(witnesses ? { witness_vkeys: witnesses } : {}) } }
}

function bad(name: string, description: string, note: string, error: ErrorCode, witnesses?: string[]): VectorCase {
  return {
    name: `invalid-${name}`,
    data: { description, vkey: vectorLogVkey, note, valid: false, error, ...(witnesses ? { witness_vkeys: witnesses } : {}) },
  }
}

export function checkpointCases(): VectorCase[] {
  const cosig = (w: Signer, ts = T, over = BODY) => cosign(over, w, ts)
  const bigSize = Number.MAX_SAFE_INTEGER
  return [
    // --- valid -------------------------------------------------------------
    ok('basic', 'checkpoint of a 5-entry tree signed by the log', NOTE),
    ok('empty-tree', 'size 0 with the empty-tree root SHA-256("")', signCheckpoint({ origin: VECTOR_ORIGIN, size: 0, root: EMPTY_ROOT }, vectorLog)),
    ok('max-size', 'largest tree size cairn supports, 2^53 - 1', signNote(body(bigSize), [vectorLog])),
    ok('extension-line', 'an opaque extension line after the root (allowed, never written by cairn)', signNote(body(5) + 'extension data\n', [vectorLog])),
    ok('unknown-signer-ignored', 'a second signature by a key the verifier does not know is ignored', signNote(BODY, [vectorLog, stranger])),
    ok('unknown-signer-first', 'an unknown signature before the log signature is ignored', signNote(BODY, [stranger, vectorLog])),
    ok('impostor-same-name-ignored', 'a signature under the log name with another key ID is an unknown key, ignored', signNote(BODY, [impostor, vectorLog])),
    ok('duplicate-signature-line', 'the same log signature line twice', NOTE + SIG_LINE),
    ok('cosigned-one', 'cosigned by the listed witness', addCosignatures(NOTE, [cosig(ncmec)]), [ncmecVkey]),
    ok('cosigned-three', 'cosigned by all three listed witnesses', addCosignatures(NOTE, [cosig(ncmec), cosig(c3p, T + 1), cosig(esafety, T + 2)]), vectorWitnessVkeys),
    ok('cosigned-plus-unknown-witness', 'an extra cosignature by an unlisted witness is ignored', addCosignatures(NOTE, [cosig(stranger), cosig(ncmec)]), [ncmecVkey]),
    ok('cosigned-witness-keys-not-checked', 'cosignatures are ignored when no witness keys are given', addCosignatures(NOTE, [cosig(ncmec)])),

    // --- wrong key, origin, content -----------------------------------------
    bad('wrong-key', 'signed under the log name by a different key', signNote(BODY, [impostor]), 'UNKNOWN_KEY'),
    bad('wrong-key-id', 'the log signature with its key ID altered', BODY + '\n' + flipKeyIdBit(SIG_LINE), 'UNKNOWN_KEY'),
    bad('wrong-name', 'the log signature under another key name', NOTE.replace(`— ${VECTOR_ORIGIN} `, '— vectors.cairn/other '), 'UNKNOWN_KEY'),
    bad('no-log-signature', 'only a cosignature, no log signature', BODY + '\n' + cosig(ncmec), 'UNKNOWN_KEY', [ncmecVkey]),
    bad('wrong-origin', 'validly signed by the log key, but the origin line names another log', signNote(body(5, B64, 'vectors.cairn/ncmec'), [vectorLog]), 'WRONG_ORIGIN'),
    bad('tampered-size', 'size changed after signing', NOTE.replace('\n5\n', '\n6\n'), 'BAD_SIGNATURE'),
    bad('tampered-root', 'root changed after signing', NOTE.replace(B64, toBase64(OTHER_ROOT)), 'BAD_SIGNATURE'),
    bad('bad-signature-byte', 'last byte of the Ed25519 signature flipped', BODY + '\n' + flipLastSigByte(SIG_LINE), 'BAD_SIGNATURE'),
    bad('bad-log-signature-after-good', 'a valid log signature followed by an invalid one by the same key; the spec says verify every known signature (Go\'s note.Open skips repeats and accepts this)', NOTE + flipLastSigByte(SIG_LINE), 'BAD_SIGNATURE'),

    // --- malformed checkpoint bodies (validly signed) -----------------------
    bad('size-leading-zero', 'tree size 05', signNote(body('05'), [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('size-negative', 'tree size -5', signNote(body('-5'), [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('size-beyond-2-53', 'tree size 2^53: valid per the spec, beyond what cairn supports', signNote(body('9007199254740992'), [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('size-not-decimal', 'tree size in hex', signNote(body('0x5'), [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('root-short', 'root hash of 31 bytes', signNote(body(5, toBase64(ROOT.subarray(0, 31))), [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('root-unpadded', 'root hash base64 without padding', signNote(body(5, B64.replace(/=+$/, '')), [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('root-non-canonical-base64', 'root hash base64 with non-zero padding bits (cairn requires canonical base64)', signNote(body(5, nonCanonicalBase64(B64)), [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('root-hex', 'root hash in hex', signNote(body(5, Buffer.from(ROOT).toString('hex')), [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('missing-root', 'only origin and size lines', signNote(`${VECTOR_ORIGIN}\n5\n`, [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('empty-origin', 'empty origin line', signNote(body(5, B64, ''), [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('empty-extension-line', 'an empty line after the root hash', signNote(BODY + '\n', [vectorLog]), 'MALFORMED_CHECKPOINT'),
    bad('empty-tree-wrong-root', 'size 0 with a root other than SHA-256(""), which RFC 6962 fixes for the empty tree', signNote(body(0), [vectorLog]), 'MALFORMED_CHECKPOINT'),

    // --- malformed notes --------------------------------------------------
    bad('note-missing-blank-line', 'no blank line between text and signature', BODY + SIG_LINE, 'MALFORMED_NOTE'),
    bad('note-no-signatures', 'blank line but no signature lines', BODY + '\n', 'MALFORMED_NOTE'),
    bad('note-hyphen', 'ASCII hyphen instead of the em dash', NOTE.replace('—', '-'), 'MALFORMED_NOTE'),
    bad('note-en-dash', 'en dash (U+2013) instead of the em dash', NOTE.replace('—', '–'), 'MALFORMED_NOTE'),
    bad('note-no-final-newline', 'last signature line without its newline', NOTE.slice(0, -1), 'MALFORMED_NOTE'),
    bad('note-trailing-data', 'text after the last signature line', NOTE + 'trailing', 'MALFORMED_NOTE'),
    bad('note-trailing-blank-line', 'a blank line after the signatures', NOTE + '\n', 'MALFORMED_NOTE'),
    bad('note-bad-base64', 'signature is not base64', NOTE.replace(SIG_B64, SIG_B64.slice(0, -4) + '!!!='), 'MALFORMED_NOTE'),
    bad('note-non-canonical-base64', 'signature base64 with non-zero padding bits (cairn requires canonical base64; a lax decoder reads the same bytes)', NOTE.replace(SIG_B64, nonCanonicalBase64(SIG_B64)), 'MALFORMED_NOTE'),
    bad('note-short-signature', 'signature of 4 bytes, a key ID only', BODY + `\n— ${VECTOR_ORIGIN} ${toBase64(Buffer.from(SIG_B64, 'base64').subarray(0, 4))}\n`, 'MALFORMED_NOTE'),
    bad('note-name-with-plus', 'key name containing "+"', NOTE.replace(`— ${VECTOR_ORIGIN} `, `— ${VECTOR_ORIGIN}+x `), 'MALFORMED_NOTE'),
    bad('note-carriage-return', 'CRLF line endings', NOTE.replace(/\n/g, '\r\n'), 'MALFORMED_NOTE'),
    bad('note-control-character', 'a tab in an extension line, validly signed', TAB_BODY + '\n' + formatSignatureLine(VECTOR_ORIGIN, keyId(VECTOR_ORIGIN, 0x01, vectorLog.publicKey), sign(vectorLog.seed, utf8(TAB_BODY))), 'MALFORMED_NOTE'),
    bad('note-too-many-signatures', '101 signature lines (more than the 100 cairn and Go accept)', NOTE + SIG_LINE.repeat(100), 'MALFORMED_NOTE'),

    // --- cosignatures ------------------------------------------------------
    bad('cosig-missing', 'the listed witness has not cosigned', NOTE, 'BAD_COSIGNATURE', [ncmecVkey]),
    bad('cosig-one-of-two-missing', 'two witnesses listed, one cosigned', addCosignatures(NOTE, [cosig(ncmec)]), 'BAD_COSIGNATURE', [ncmecVkey, c3pVkey]),
    bad('cosig-unknown-witness', 'cosigned by an unlisted witness only', addCosignatures(NOTE, [cosig(stranger)]), 'BAD_COSIGNATURE', [ncmecVkey]),
    bad('cosig-wrong-witness-key', 'cosigned under the witness name by another key', addCosignatures(NOTE, [cosig({ ...ncmec, ...vectorKey('ncmec/impostor') })]), 'BAD_COSIGNATURE', [ncmecVkey]),
    bad('cosig-type-01-key-id', 'witness signature whose key ID uses type 0x01 instead of 0x04', addCosignatures(NOTE, [formatSignatureLine(ncmec.name, keyId(ncmec.name, 0x01, ncmec.publicKey), Buffer.from(cosig(ncmec).trim().split(' ')[2]!, 'base64').subarray(4))]), 'BAD_COSIGNATURE', [ncmecVkey]),
    bad('cosig-timestamp-altered', 'cosignature timestamp changed after signing', addCosignatures(NOTE, [rawCosignature(ncmec, u64(BigInt(T + 1)), String(T))]), 'BAD_COSIGNATURE', [ncmecVkey]),
    bad('cosig-bad-signature', 'last byte of the cosignature flipped', addCosignatures(NOTE, [flipLastSigByte(cosig(ncmec))]), 'BAD_COSIGNATURE', [ncmecVkey]),
    bad('cosig-timestamp-over-2-63', 'timestamp 2^63, validly signed (the spec caps it at 2^63 - 1)', addCosignatures(NOTE, [rawCosignature(ncmec, u64(1n << 63n), (1n << 63n).toString())]), 'BAD_COSIGNATURE', [ncmecVkey]),
    bad('cosig-other-checkpoint', 'a cosignature of a different checkpoint of the same log', addCosignatures(NOTE, [cosig(ncmec, T, body(4, toBase64(OTHER_ROOT)))]), 'BAD_COSIGNATURE', [ncmecVkey]),
    bad('cosig-no-timestamp', 'a plain 64-byte Ed25519 signature over the cosigned message, timestamp omitted', addCosignatures(NOTE, [formatSignatureLine(ncmec.name, witnessKeyId(ncmec.name, ncmec.publicKey), sign(ncmec.seed, utf8(`cosignature/v1\ntime ${T}\n${BODY}`)))]), 'BAD_COSIGNATURE', [ncmecVkey]),
    bad('cosig-plain-ed25519-message', 'witness signed the bare checkpoint body, not the cosignature/v1 message', addCosignatures(NOTE, [formatSignatureLine(ncmec.name, witnessKeyId(ncmec.name, ncmec.publicKey), concat(u64(BigInt(T)), sign(ncmec.seed, utf8(BODY))))]), 'BAD_COSIGNATURE', [ncmecVkey]),
  ]
}
