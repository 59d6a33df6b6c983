/**
 * c2sp.org/tlog-witness add-checkpoint: the request body and the witness's
 * decision, shared by the HTTP endpoint and the libp2p protocol.
 *
 *   old <size>\n
 *   <base64 consistency proof hash>\n   (0 to 63)
 *   \n
 *   <signed checkpoint>
 *
 * decideAddCheckpoint is pure: the caller supplies the log's key and the
 * witness's last cosigned (size, root) for the origin, and on `ok` must
 * cosign, persist and respond atomically (see the spec's race note).
 */
import { LedgerError, type ErrorCode } from './errors.ts'
import { equalBytes, fromBase64, toBase64 } from './bytes.ts'
import { HASH_SIZE } from './hash.ts'
import { verifyConsistency } from './merkle.ts'
import { noteString, noteVerifier, openNote, parseNote, MAX_NOTE_BYTES, type ParsedNote } from './note.ts'
import { hasValidEmptyRoot, parseCheckpoint, parseDecimal, type Checkpoint, type CheckpointNote } from './checkpoint.ts'

/** "The client MUST NOT send more than 63 consistency proof lines." */
export const MAX_CONSISTENCY_PROOF_LINES = 63
export const MAX_ADD_CHECKPOINT_BYTES = MAX_NOTE_BYTES + 4 * 1024
/** Content type of a 409 response body. */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size'

export interface AddCheckpointRequest {
  oldSize: number
  /** Consistency proof from oldSize to the checkpoint's size. */
  proof: Uint8Array[]
  /** The signed checkpoint note, verbatim. */
  checkpoint: string
}

export function encodeAddCheckpointRequest(r: AddCheckpointRequest): string {
  if (!Number.isSafeInteger(r.oldSize) || r.oldSize < 0) throw new LedgerError('BAD_FIELD', 'old size must be a non-negative safe integer')
  if (r.proof.length > MAX_CONSISTENCY_PROOF_LINES) throw new LedgerError('BAD_FIELD', `a consistency proof has at most ${MAX_CONSISTENCY_PROOF_LINES} hashes`)
  let out = `old ${r.oldSize}\n`
  for (const h of r.proof) {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw new LedgerError('BAD_FIELD', `consistency proof hashes are ${HASH_SIZE} bytes`)
    out += toBase64(h) + '\n'
  }
  parseNote(r.checkpoint)
  return out + '\n' + r.checkpoint
}

/** Parses a request body strictly; throws BAD_FIELD / TOO_LARGE, or the note's MALFORMED_NOTE. */
export function parseAddCheckpointRequest(input: string | Uint8Array, maxBytes = MAX_ADD_CHECKPOINT_BYTES): AddCheckpointRequest {
  return readRequest(input, maxBytes).request
}

/** A request with its checkpoint decoded: what the witness decides on. */
export interface DecodedAddCheckpointRequest extends AddCheckpointRequest {
  signed: CheckpointNote
}

/** parseAddCheckpointRequest, then the checkpoint body (MALFORMED_CHECKPOINT); the note is parsed once. */
export function decodeAddCheckpointRequest(input: string | Uint8Array, maxBytes = MAX_ADD_CHECKPOINT_BYTES): DecodedAddCheckpointRequest {
  const { request, note } = readRequest(input, maxBytes)
  return withCheckpoint(request, note)
}

function withCheckpoint(request: AddCheckpointRequest, note: ParsedNote = parseNote(request.checkpoint)): DecodedAddCheckpointRequest {
  return { ...request, signed: { text: request.checkpoint, note, checkpoint: parseCheckpoint(note.body) } }
}

function readRequest(input: string | Uint8Array, maxBytes: number): { request: AddCheckpointRequest; note: ParsedNote } {
  let text: string
  try {
    text = noteString(input, maxBytes, 'add-checkpoint request')
  } catch (e) {
    if (e instanceof LedgerError && e.code === 'TOO_LARGE') throw e
    throw new LedgerError('BAD_FIELD', (e as Error).message, { cause: e })
  }
  let pos = 0
  const nextLine = (what: string): string => {
    const nl = text.indexOf('\n', pos)
    if (nl < 0) throw new LedgerError('BAD_FIELD', `add-checkpoint request ends before ${what}`)
    const line = text.slice(pos, nl)
    pos = nl + 1
    return line
  }
  const first = nextLine('its old size line')
  if (!first.startsWith('old ')) throw new LedgerError('BAD_FIELD', 'an add-checkpoint request starts with "old <size>"')
  const oldSize = parseDecimal(first.slice(4), 'BAD_FIELD', 'old size')
  const proof: Uint8Array[] = []
  for (;;) {
    const line = nextLine('the empty line before the checkpoint')
    if (line === '') break
    if (proof.length === MAX_CONSISTENCY_PROOF_LINES) throw new LedgerError('BAD_FIELD', `more than ${MAX_CONSISTENCY_PROOF_LINES} consistency proof lines`)
    let h: Uint8Array
    try {
      h = fromBase64(line, 'consistency proof hash')
    } catch (e) {
      throw new LedgerError('BAD_FIELD', `consistency proof line ${proof.length + 1} is not canonical base64`, { cause: e })
    }
    if (h.length !== HASH_SIZE) throw new LedgerError('BAD_FIELD', `consistency proof line ${proof.length + 1} is ${h.length} bytes, not ${HASH_SIZE}`)
    proof.push(h)
  }
  const checkpoint = text.slice(pos)
  return { request: { oldSize, proof, checkpoint }, note: parseNote(checkpoint) }
}

/** What the witness knows about one log. */
export interface WitnessedLog {
  /** The log's Ed25519 verifier key; its name is the origin. */
  vkey: string
  /** Last checkpoint this witness cosigned for the origin; absent if none. */
  last?: { size: number; root: Uint8Array }
}

interface Rejection<K extends string, S extends number> {
  kind: K
  status: S
  code: ErrorCode
  message: string
}

export type AddCheckpointDecision =
  | {
      kind: 'ok'
      status: 200
      /** The parsed checkpoint to cosign and persist as the new `last`. */
      checkpoint: Checkpoint
      /** Its body: what cosign() signs. */
      body: string
      /** The submitted note, verbatim. */
      note: string
      /** The submitted note, parsed. */
      signed: CheckpointNote
    }
  | (Rejection<'conflict', 409> & {
      /** Size of the latest cosigned checkpoint; respond `${size}\n` as text/x.tlog.size. */
      size: number
      contentType: typeof TLOG_SIZE_CONTENT_TYPE
      responseBody: string
    })
  | Rejection<'bad-proof', 422>
  | (Rejection<'unknown-origin', 404> & { origin: string })
  | Rejection<'forbidden', 403>
  | Rejection<'malformed', 400>

const reject = <K extends string, S extends number>(kind: K, status: S, code: ErrorCode, message: string): Rejection<K, S> => ({ kind, status, code, message })

/**
 * The witness's checks, in the order c2sp.org/tlog-witness lays them out.
 * `lookup(origin)` returns the log this witness follows, or undefined (404).
 */
export function decideAddCheckpoint(
  input: string | Uint8Array | AddCheckpointRequest | DecodedAddCheckpointRequest,
  lookup: (origin: string) => WitnessedLog | undefined,
): AddCheckpointDecision {
  let req: DecodedAddCheckpointRequest
  let note: ParsedNote
  let cp: Checkpoint
  try {
    req = typeof input === 'string' || input instanceof Uint8Array ? decodeAddCheckpointRequest(input) : 'signed' in input ? input : withCheckpoint(input)
    note = req.signed.note
    cp = req.signed.checkpoint
  } catch (e) {
    if (e instanceof LedgerError) return reject('malformed', 400, e.code, e.message)
    throw e
  }

  const log = lookup(cp.origin)
  if (!log) return { ...reject('unknown-origin', 404, 'UNKNOWN_LOG', `this witness does not follow the log ${cp.origin}`), origin: cp.origin }

  try {
    const v = noteVerifier(log.vkey)
    if (v.name !== cp.origin) throw new LedgerError('WRONG_ORIGIN', `checkpoint origin ${cp.origin} is not the log's key name ${v.name}`)
    openNote(note, [v])
  } catch (e) {
    if (e instanceof LedgerError) return reject('forbidden', 403, e.code, e.message)
    throw e
  }

  if (req.oldSize > cp.size) {
    return reject('malformed', 400, 'BAD_FIELD', `old size ${req.oldSize} is larger than the checkpoint size ${cp.size}`)
  }
  const lastSize = log.last?.size ?? 0
  if (req.oldSize !== lastSize) {
    return {
      ...reject('conflict', 409, 'CONFLICT', `old size ${req.oldSize} is not the size of the latest cosigned checkpoint, ${lastSize}`),
      size: lastSize,
      contentType: TLOG_SIZE_CONTENT_TYPE,
      responseBody: `${lastSize}\n`,
    }
  }
  if (!hasValidEmptyRoot(cp)) {
    return reject('bad-proof', 422, 'INCONSISTENT_CHECKPOINT', 'a checkpoint of size 0 must carry the empty-tree root')
  }
  if (req.oldSize === 0) {
    if (req.proof.length !== 0) return reject('bad-proof', 422, 'BAD_PROOF', 'a consistency proof from size 0 must be empty')
  } else {
    const lastRoot = log.last!.root
    if (req.oldSize === cp.size && !equalBytes(lastRoot, cp.root)) {
      return reject('bad-proof', 422, 'INCONSISTENT_CHECKPOINT', `the checkpoint has the cosigned size ${cp.size} but a different root hash`)
    }
    try {
      verifyConsistency(req.oldSize, cp.size, lastRoot, cp.root, req.proof)
    } catch (e) {
      if (e instanceof LedgerError) return reject('bad-proof', 422, e.code, e.message)
      throw e
    }
  }
  return { kind: 'ok', status: 200, checkpoint: cp, body: note.body, note: req.checkpoint, signed: req.signed }
}
