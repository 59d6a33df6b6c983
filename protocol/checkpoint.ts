/**
 * c2sp.org/tlog-checkpoint: the signed tree head of a log.
 *
 *   <origin>\n<tree size, decimal>\n<base64 root hash>\n[<extension line>\n ...]
 *
 * In cairn the origin is also the log's key name, so a checkpoint is only
 * accepted with origin == name of the log's verifier key.
 */
import { LedgerError } from './errors.ts'
import { equalBytes, fromBase64, toBase64 } from './bytes.ts'
import { HASH_SIZE, EMPTY_ROOT } from './hash.ts'
import {
  addSignatureLines,
  assertNoteText,
  isValidKeyName,
  noteString,
  noteVerifier,
  openNote,
  parseNote,
  signNote,
  MAX_NOTE_BYTES,
  type NoteLimits,
  type NoteSigner,
  type OpenedNote,
  type ParsedNote,
} from './note.ts'
import { verifyCosignatures, type Cosignature } from './cosignature.ts'

export interface Checkpoint {
  origin: string
  /** Tree size; cairn caps sizes at 2^53 - 1 (Number.MAX_SAFE_INTEGER). */
  size: number
  /** 32-byte RFC 6962 root hash. */
  root: Uint8Array
  /** Extension lines without their newlines (non-empty; cairn writes none). */
  extensions?: string[]
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/

/** Parses a decimal with no leading zeros into a safe integer, or throws `code`. */
export function parseDecimal(text: string, code: 'MALFORMED_CHECKPOINT' | 'MALFORMED_PROOF' | 'BAD_FIELD', what: string): number {
  if (!DECIMAL.test(text)) throw new LedgerError(code, `${what} must be a decimal number without leading zeros, got ${JSON.stringify(text.slice(0, 40))}`)
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new LedgerError(code, `${what} ${text} is larger than 2^53 - 1, which cairn does not support`)
  return n
}

/** The checkpoint body (note text), ending in "\n". */
export function formatCheckpoint(cp: Checkpoint): string {
  if (!isValidKeyName(cp.origin)) {
    throw new LedgerError('MALFORMED_CHECKPOINT', 'a cairn origin is a key name: non-empty, without spaces, "+" or control characters')
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new LedgerError('MALFORMED_CHECKPOINT', 'tree size must be a non-negative safe integer')
  if (!(cp.root instanceof Uint8Array) || cp.root.length !== HASH_SIZE) throw new LedgerError('MALFORMED_CHECKPOINT', `root hash must be ${HASH_SIZE} bytes`)
  let body = `${cp.origin}\n${cp.size}\n${toBase64(cp.root)}\n`
  for (const ext of cp.extensions ?? []) {
    if (ext === '' || ext.includes('\n')) throw new LedgerError('MALFORMED_CHECKPOINT', 'extension lines must be non-empty single lines')
    body += ext + '\n'
  }
  assertNoteText(body, 'MALFORMED_CHECKPOINT', 'checkpoint')
  return body
}

/**
 * Parses a checkpoint body strictly: three or more non-empty lines, size
 * without leading zeros, root exactly 32 bytes in canonical base64.
 * Syntax only (see assertEmptyTreeRoot). Throws MALFORMED_CHECKPOINT.
 */
export function parseCheckpoint(body: string | Uint8Array, maxBytes = MAX_NOTE_BYTES): Checkpoint {
  let text: string
  try {
    text = noteString(body, maxBytes, 'checkpoint')
  } catch (e) {
    throw new LedgerError('MALFORMED_CHECKPOINT', (e as Error).message, { cause: e })
  }
  assertNoteText(text, 'MALFORMED_CHECKPOINT', 'checkpoint')
  if (!text.endsWith('\n')) throw new LedgerError('MALFORMED_CHECKPOINT', 'checkpoint must end with a newline')
  const lines = text.slice(0, -1).split('\n')
  if (lines.length < 3) throw new LedgerError('MALFORMED_CHECKPOINT', 'checkpoint needs an origin, a size and a root hash line')
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]]
  if (origin === '') throw new LedgerError('MALFORMED_CHECKPOINT', 'checkpoint origin is empty')
  const size = parseDecimal(sizeLine, 'MALFORMED_CHECKPOINT', 'checkpoint tree size')
  let root: Uint8Array
  try {
    root = fromBase64(rootLine, 'root hash')
  } catch (e) {
    throw new LedgerError('MALFORMED_CHECKPOINT', 'checkpoint root hash is not canonical base64', { cause: e })
  }
  if (root.length !== HASH_SIZE) throw new LedgerError('MALFORMED_CHECKPOINT', `checkpoint root hash is ${root.length} bytes, not ${HASH_SIZE}`)
  if (extensions.some((l) => l === '')) throw new LedgerError('MALFORMED_CHECKPOINT', 'checkpoint extension lines must be non-empty')
  return extensions.length ? { origin, size, root, extensions } : { origin, size, root }
}

/**
 * A signed checkpoint as it travels through a node: the note text (what is
 * stored and gossiped), its parsed signatures and its parsed body. Decoded
 * once where it arrives; syntax only, nothing verified (openCheckpoint does).
 */
export interface CheckpointNote {
  text: string
  note: ParsedNote
  checkpoint: Checkpoint
}

/** Parses a signed checkpoint note: the note (MALFORMED_NOTE), then its body (MALFORMED_CHECKPOINT). */
export function parseCheckpointNote(input: string | Uint8Array, limits: NoteLimits = {}): CheckpointNote {
  const text = typeof input === 'string' ? input : noteString(input, limits.maxBytes ?? MAX_NOTE_BYTES)
  const note = parseNote(text, limits)
  return { text, note, checkpoint: parseCheckpoint(note.body, limits.maxBytes) }
}

/** `cp` with signature lines appended (lines it already has are skipped); `cp` itself when nothing is new. */
export function appendCheckpointSignatures(cp: CheckpointNote, lines: readonly string[], limits: NoteLimits = {}): CheckpointNote {
  const { text, note } = addSignatureLines(cp.note, lines, limits)
  return text === cp.text ? cp : { text, note, checkpoint: cp.checkpoint }
}

/** A checkpoint of size 0 must carry SHA-256(""), the RFC 6962 empty-tree root. */
export function hasValidEmptyRoot(cp: Checkpoint): boolean {
  return cp.size !== 0 || equalBytes(cp.root, EMPTY_ROOT)
}

/** Signs a checkpoint as its log; the signer's key name must be the origin. */
export function signCheckpoint(cp: Checkpoint, signer: NoteSigner): string {
  if (signer.name !== cp.origin) {
    throw new LedgerError('WRONG_ORIGIN', `a log signs checkpoints under its origin: key name ${signer.name} is not origin ${cp.origin}`)
  }
  return signNote(formatCheckpoint(cp), [signer])
}

export interface OpenCheckpointOptions extends NoteLimits {
  /** Witness verifier keys (type 0x04) whose cosignatures are checked. */
  witnesses?: readonly string[]
  /** How many of `witnesses` must have cosigned (default 0: only check those present). */
  quorum?: number
  /** Reject cosignatures with timestamps after this instant (seconds); none by default. */
  now?: number
}

export interface OpenedCheckpoint {
  checkpoint: Checkpoint
  /** The checkpoint body (note text). */
  body: string
  /** Valid cosignatures by the given witnesses. */
  cosignatures: Cosignature[]
  note: OpenedNote
}

/**
 * Verifies a signed checkpoint: syntax, origin == log key name (WRONG_ORIGIN),
 * a valid signature by the log key (UNKNOWN_KEY / BAD_SIGNATURE), then the
 * cosignatures of the given witnesses (BAD_COSIGNATURE). A CheckpointNote
 * was parsed where it arrived and is not parsed again.
 */
export function openCheckpoint(noteText: string | Uint8Array | CheckpointNote, logVkey: string, options: OpenCheckpointOptions = {}): OpenedCheckpoint {
  const log = noteVerifier(logVkey)
  const { note: parsed, checkpoint } = typeof noteText === 'string' || noteText instanceof Uint8Array ? parseCheckpointNote(noteText, options) : noteText
  if (checkpoint.origin !== log.name) {
    throw new LedgerError('WRONG_ORIGIN', `checkpoint origin ${checkpoint.origin} is not the log's key name ${log.name}`)
  }
  const note = openNote(parsed, [log])
  if (!hasValidEmptyRoot(checkpoint)) {
    throw new LedgerError('MALFORMED_CHECKPOINT', 'a checkpoint of size 0 must carry the empty-tree root, SHA-256 of the empty string')
  }
  const cosignatures = verifyCosignatures(parsed, options.witnesses ?? [], { quorum: options.quorum, now: options.now })
  return { checkpoint, body: parsed.body, cosignatures, note }
}
