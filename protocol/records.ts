/**
 * The four record types of DESIGN §2 and the one function that decides
 * whether a map is a valid record (validateRecord). A record is one flat map:
 * the common keys v, type, log, seq, time plus the keys of its type.
 *
 * Checks run in a fixed order so every implementation reports the same code
 * for the same input: v, type, (roster: change), unknown keys, log, seq, time,
 * then the body keys in the order of the tables below, then cross-field rules.
 * A value of the wrong CBOR type is BAD_FIELD; a text value outside its closed
 * set has its own code (BAD_ALG, BAD_CATEGORY, ...).
 *
 * Why one file of ~500 lines: it is the whole answer to "how is a record
 * validated" (the order of the checks above is part of the contract), and
 * another implementation is written from it and spec/encoding.md side by side.
 */
import { assertValidPublicKey } from './ed25519.ts'
import { LedgerError, type ErrorCode } from './errors.ts'
import { fromHex, toHex } from './bytes.ts'
import { isRefPseudonym, MAX_RAW_REF_LENGTH } from './case-ref.ts'
import { parseStandingCheckpoint } from './fork-resolution.ts'
import { decodeCanonical, decodeChecked, encodeCanonical, encodeFlat, KeyTable, type CborValue } from './cbor.ts'

export const RECORD_VERSION = 1
export const RECORD_TYPES = ['indicator', 'revocation', 'attestation', 'roster'] as const
export type RecordType = (typeof RECORD_TYPES)[number]

/** Value length in bytes per algorithm; tmk_pdqf is variable, 1..MAX_TMK_PDQF_BYTES. */
export const ALG_LENGTHS = {
  md5: 16,
  sha1: 20,
  sha256: 32,
  pdq: 32,
  photodna: 144,
  tmk_pdqf: 'variable',
  url_sha256: 32,
} as const
export type Alg = keyof typeof ALG_LENGTHS
export const ALGS = Object.keys(ALG_LENGTHS) as Alg[]
export const MAX_TMK_PDQF_BYTES = 4096
export const MIN_PDQ_QUALITY = 50
export const MAX_PDQ_QUALITY = 100

export const CATEGORIES = ['A1', 'A2', 'B1', 'B2'] as const
export const KINDS = ['known_material', 'new_material', 'solicitation', 'url'] as const
export const MEDIA = ['image', 'video', 'text', 'url'] as const
export const REVOCATION_REASONS = ['false_positive', 'legal_order', 'duplicate', 'reclassified', 'expired', 'key_compromise'] as const
export const OPINIONS = ['confirm', 'dispute'] as const
export const ATTESTATION_REASONS = ['false_positive', 'wrong_category', 'duplicate', 'low_quality', 'reviewed'] as const
export const ROSTER_CHANGES = ['add_member', 'remove_member', 'rotate_key', 'set_roles', 'set_threshold', 'compromise', 'resolve_fork'] as const
export const ROLES = ['publisher', 'witness'] as const

export type Category = (typeof CATEGORIES)[number]
export type Kind = (typeof KINDS)[number]
export type Media = (typeof MEDIA)[number]
export type RevocationReason = (typeof REVOCATION_REASONS)[number]
export type Opinion = (typeof OPINIONS)[number]
export type AttestationReason = (typeof ATTESTATION_REASONS)[number]
export type RosterChangeKind = (typeof ROSTER_CHANGES)[number]
export type Role = (typeof ROLES)[number]

export const MAX_ORIGIN_LENGTH = 128
/** Longest raw case reference a node pseudonymises (protocol/case-ref.ts); a record holds only the pseudonym. */
export const MAX_REF_LENGTH = MAX_RAW_REF_LENGTH
export const MAX_PEER_ID_LENGTH = 128
export const RECORD_ID_BYTES = 32
export const KEY_BYTES = 32
/** A record is carried in an entry of at most 65,535 bytes. */
export const MAX_RECORD_BYTES = 65_535

const SEGMENT_RE = /^[A-Za-z0-9._-]+$/
const ORIGIN_RE = /^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/
const PEER_ID_RE = /^[A-Za-z0-9]+$/

export interface RecordHeader {
  v: 1
  /** Origin of the writing log, `<federation>/<member>`. */
  log: string
  /** Index of the entry in that log. */
  seq: number
  /** Milliseconds since the Unix epoch. */
  time: number
}

export interface IndicatorRecord extends RecordHeader {
  type: 'indicator'
  alg: Alg
  value: Uint8Array
  category: Category
  kind: Kind
  media: Media
  ref?: string
  quality?: number
  expires?: number
}

export interface RevocationRecord extends RecordHeader {
  type: 'revocation'
  target: Uint8Array
  reason: RevocationReason
}

export interface AttestationRecord extends RecordHeader {
  type: 'attestation'
  target: Uint8Array
  opinion: Opinion
  reason?: AttestationReason
}

export interface AddMemberChange {
  change: 'add_member'
  member: string
  origin: string
  key: Uint8Array
  witness_key: Uint8Array
  peer_id: string
  roles: Role[]
}
export interface RemoveMemberChange {
  change: 'remove_member'
  member: string
}
export interface RotateKeyChange {
  change: 'rotate_key'
  member: string
  key?: Uint8Array
  witness_key?: Uint8Array
  peer_id?: string
}
export interface SetRolesChange {
  change: 'set_roles'
  member: string
  roles: Role[]
}
export interface SetThresholdChange {
  change: 'set_threshold'
  threshold: number
}
/** The federation records that `member`'s log key was compromised from index `from`; `key` is its log key from there on. */
export interface CompromiseChange {
  change: 'compromise'
  member: string
  from: number
  key: Uint8Array
  witness_key?: Uint8Array
}
/**
 * The federation resolves a fork of `member`'s log (spec/federation.md
 * §10.10): the branch of `checkpoint` (size N, the log's signature only)
 * stands; `key` is its log key from index N on.
 */
export interface ResolveForkChange {
  change: 'resolve_fork'
  member: string
  checkpoint: string
  key: Uint8Array
  witness_key?: Uint8Array
}
export type RosterChange = AddMemberChange | RemoveMemberChange | RotateKeyChange | SetRolesChange | SetThresholdChange | CompromiseChange | ResolveForkChange
export type RosterRecord = RecordHeader & { type: 'roster' } & RosterChange

export type CairnRecord = IndicatorRecord | RevocationRecord | AttestationRecord | RosterRecord

const COMMON_KEYS = ['v', 'type', 'log', 'seq', 'time']
const BODY_KEYS: Record<Exclude<RecordType, 'roster'>, string[]> = {
  indicator: ['alg', 'value', 'category', 'kind', 'media', 'ref', 'quality', 'expires'],
  revocation: ['target', 'reason'],
  attestation: ['target', 'opinion', 'reason'],
}
const CHANGE_KEYS: Record<RosterChangeKind, string[]> = {
  add_member: ['change', 'member', 'origin', 'key', 'witness_key', 'peer_id', 'roles'],
  remove_member: ['change', 'member'],
  rotate_key: ['change', 'member', 'key', 'witness_key', 'peer_id'],
  set_roles: ['change', 'member', 'roles'],
  set_threshold: ['change', 'threshold'],
  compromise: ['change', 'member', 'from', 'key', 'witness_key'],
  resolve_fork: ['change', 'member', 'checkpoint', 'key', 'witness_key'],
}
const allowedKeys = (body: string[]): ReadonlySet<string> => new Set([...COMMON_KEYS, ...body])
const ALLOWED_BODY = new Map(Object.entries(BODY_KEYS).map(([t, keys]) => [t, allowedKeys(keys)]))
const ALLOWED_CHANGE = new Map(Object.entries(CHANGE_KEYS).map(([c, keys]) => [c, allowedKeys(keys)]))
/** Keys that hold byte strings (hex in the JSON form). */
const BYTE_KEYS = new Set(['value', 'target', 'key', 'witness_key'])

/** The last origin found valid: a log's records all name it, one after another. */
let lastValidOrigin = ''

export function isValidOrigin(origin: unknown): origin is string {
  if (origin === lastValidOrigin && origin !== '') return true
  const ok = typeof origin === 'string' && origin.length <= MAX_ORIGIN_LENGTH && ORIGIN_RE.test(origin)
  if (ok) lastValidOrigin = origin
  return ok
}

function fail(code: ErrorCode, message: string): never {
  throw new LedgerError(code, message)
}

/** The header fields the node fills in when it publishes a body. */
const HEADER_KEYS: ReadonlySet<string> = new Set(['v', 'log', 'seq', 'time'])

/** What the rules read of a record: a Map as decoded, or ObjectFields. */
interface FieldSource {
  has(key: string): boolean
  get(key: string): unknown
  /** The first key not in `allowed`, or undefined. */
  unknownKey(allowed: ReadonlySet<string>): unknown
}

/** A decoded record map (its keys may be of any CBOR type). */
class MapFields implements FieldSource {
  constructor(private readonly map: ReadonlyMap<unknown, unknown>) {}
  has(key: string) {
    return this.map.has(key)
  }
  get(key: string) {
    return this.map.get(key)
  }
  unknownKey(allowed: ReadonlySet<string>) {
    for (const key of this.map.keys()) if (typeof key !== 'string' || !allowed.has(key)) return key
    return undefined
  }
}

const isOwnField = (o: object, key: string): boolean => Object.prototype.propertyIsEnumerable.call(o, key)

/**
 * A record as a plain object, read in place: its own enumerable keys are its
 * fields, and one whose value is `undefined` is absent. Copying the object
 * into a Map first was most of what validating a record allocated.
 */
class ObjectFields implements FieldSource {
  constructor(private readonly o: Readonly<Record<string, unknown>>) {}
  has(key: string) {
    return isOwnField(this.o, key) && this.o[key] !== undefined
  }
  get(key: string) {
    return isOwnField(this.o, key) ? this.o[key] : undefined
  }
  unknownKey(allowed: ReadonlySet<string>) {
    for (const key in this.o) {
      if (isOwnField(this.o, key) && this.o[key] !== undefined && !allowed.has(key)) return key
    }
    return undefined
  }
}

/** A body being published: the header's four fields stand in for the body's own v, log, seq and time. */
class WithHeader implements FieldSource {
  constructor(private readonly body: FieldSource, private readonly header: RecordHeader) {}
  has(key: string) {
    return HEADER_KEYS.has(key) || this.body.has(key)
  }
  get(key: string) {
    return HEADER_KEYS.has(key) ? this.header[key as keyof RecordHeader] : this.body.get(key)
  }
  unknownKey(allowed: ReadonlySet<string>) {
    return this.body.unknownKey(allowed) // the header keys are allowed in every record
  }
}

function fieldSource(input: unknown, header?: RecordHeader): FieldSource {
  let fields: FieldSource
  if (input instanceof Map) fields = new MapFields(input)
  else if (typeof input === 'object' && input !== null && !Array.isArray(input) && !(input instanceof Uint8Array)) {
    fields = new ObjectFields(input as Record<string, unknown>)
  } else return fail('BAD_FIELD', 'a record must be a map')
  return header ? new WithHeader(fields, header) : fields
}

/** Typed reads of one record map, each failing with the code the rules assign. */
class Fields {
  constructor(readonly map: FieldSource, readonly what: string) {}

  has(key: string): boolean {
    return this.map.has(key)
  }
  private need(key: string): unknown {
    if (!this.map.has(key)) fail('MISSING_FIELD', `${this.what} is missing the required key "${key}"`)
    return this.map.get(key)
  }
  uint(key: string): number {
    const v = this.need(key)
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail('BAD_FIELD', `${this.what}: "${key}" must be an unsigned integer`)
    return v
  }
  text(key: string): string {
    const v = this.need(key)
    if (typeof v !== 'string') fail('BAD_FIELD', `${this.what}: "${key}" must be a text string`)
    return v
  }
  bytes(key: string, length?: number): Uint8Array {
    const v = this.need(key)
    if (!(v instanceof Uint8Array)) fail('BAD_FIELD', `${this.what}: "${key}" must be a byte string`)
    if (length !== undefined && v.length !== length) fail('BAD_FIELD', `${this.what}: "${key}" must be ${length} bytes, got ${v.length}`)
    return v
  }
  oneOf<T extends string>(key: string, set: readonly T[], code: ErrorCode): T {
    const v = this.text(key)
    if (!(set as readonly string[]).includes(v)) fail(code, `${this.what}: "${key}" must be one of ${set.join(', ')}; got "${v}"`)
    return v as T
  }
  segment(key: string): string {
    const v = this.text(key)
    if (v.length > MAX_ORIGIN_LENGTH || !SEGMENT_RE.test(v)) {
      fail('BAD_FIELD', `${this.what}: "${key}" must be 1..${MAX_ORIGIN_LENGTH} characters of A-Z a-z 0-9 . _ -`)
    }
    return v
  }
  origin(key: string): string {
    const v = this.text(key)
    if (!isValidOrigin(v)) {
      fail('BAD_FIELD', `${this.what}: "${key}" must be an origin <federation>/<member> (A-Z a-z 0-9 . _ - in each part, at most ${MAX_ORIGIN_LENGTH} characters)`)
    }
    return v
  }
  publicKey(key: string): Uint8Array {
    const v = this.bytes(key, KEY_BYTES)
    try {
      assertValidPublicKey(v)
    } catch (e) {
      if (e instanceof LedgerError) fail('BAD_PUBLIC_KEY', `${this.what}: "${key}": ${e.message}`)
      throw e
    }
    return v
  }
}

/**
 * Checks a record (a Map as decoded, or a plain object) against every rule of
 * DESIGN §2 and returns it normalised (keys in a fixed order, nothing extra).
 */
export function validateRecord(input: unknown, filled?: RecordHeader): CairnRecord {
  const map = fieldSource(input, filled)
  if (!map.has('v')) fail('MISSING_FIELD', 'the record is missing the required key "v"')
  if (map.get('v') !== RECORD_VERSION) fail('BAD_VERSION', `record version must be ${RECORD_VERSION}; this node does not understand ${String(map.get('v'))}`)
  const f = new Fields(map, 'record')
  const type = f.text('type')
  if (!(RECORD_TYPES as readonly string[]).includes(type)) fail('UNKNOWN_TYPE', `unknown record type "${type}" (expected ${RECORD_TYPES.join(', ')})`)
  const what = `${type} record`
  const g = new Fields(map, what)
  let allowed: ReadonlySet<string>
  let change: RosterChangeKind | undefined
  if (type === 'roster') {
    const c = g.text('change')
    if (!(ROSTER_CHANGES as readonly string[]).includes(c)) {
      fail('BAD_ROSTER_CHANGE', `${what}: "change" must be one of ${ROSTER_CHANGES.join(', ')}; got "${c}"`)
    }
    change = c as RosterChangeKind
    allowed = ALLOWED_CHANGE.get(change)!
  } else {
    allowed = ALLOWED_BODY.get(type)!
  }
  const unknown = map.unknownKey(allowed)
  if (unknown !== undefined) {
    fail('UNKNOWN_FIELD', `${what}${change ? ` (${change})` : ''} has an unknown key "${String(unknown)}"; allowed keys: ${[...allowed].join(', ')}`)
  }
  const header: RecordHeader = { v: RECORD_VERSION as 1, log: g.origin('log'), seq: g.uint('seq'), time: g.uint('time') }
  const { v, log, seq, time } = header
  // Records are built key by key, not by spreading: spreads made validation ~10x slower.
  switch (type) {
    case 'indicator':
      return validateIndicator(g, header)
    case 'revocation':
      return {
        v, type, log, seq, time,
        target: g.bytes('target', RECORD_ID_BYTES),
        reason: g.oneOf('reason', REVOCATION_REASONS, 'BAD_REASON'),
      }
    case 'attestation': {
      const rec: AttestationRecord = {
        v, type, log, seq, time,
        target: g.bytes('target', RECORD_ID_BYTES),
        opinion: g.oneOf('opinion', OPINIONS, 'BAD_OPINION'),
      }
      if (g.has('reason')) rec.reason = g.oneOf('reason', ATTESTATION_REASONS, 'BAD_REASON')
      return rec
    }
    default:
      return Object.assign({ v, type: 'roster' as const, log, seq, time }, validateChange(g, change!, log))
  }
}

function isDegenerate(value: Uint8Array): boolean {
  const first = value[0]
  if (first !== 0x00 && first !== 0xff) return false
  for (let i = 1; i < value.length; i++) if (value[i] !== first) return false
  return true
}

function validateIndicator(g: Fields, header: RecordHeader): IndicatorRecord {
  const what = g.what
  const alg = g.oneOf('alg', ALGS, 'BAD_ALG')
  const value = g.bytes('value')
  const expected = ALG_LENGTHS[alg]
  if (expected === 'variable') {
    if (value.length < 1 || value.length > MAX_TMK_PDQF_BYTES) {
      fail('BAD_VALUE_LENGTH', `${what}: a ${alg} value is 1..${MAX_TMK_PDQF_BYTES} bytes, got ${value.length}`)
    }
  } else if (value.length !== expected) {
    fail('BAD_VALUE_LENGTH', `${what}: a ${alg} value is ${expected} bytes, got ${value.length}`)
  }
  if (isDegenerate(value)) fail('DEGENERATE_HASH', `${what}: the ${alg} value is all 0x${value[0] === 0 ? '00' : 'ff'} bytes, which is not a real hash`)
  const category = g.oneOf('category', CATEGORIES, 'BAD_CATEGORY')
  const kind = g.oneOf('kind', KINDS, 'BAD_KIND')
  const media = g.oneOf('media', MEDIA, 'BAD_MEDIA')
  if ((alg === 'url_sha256') !== (kind === 'url')) {
    fail('BAD_FIELD', `${what}: alg url_sha256 goes with kind url and only with it (alg ${alg}, kind ${kind})`)
  }
  if ((kind === 'url') !== (media === 'url')) {
    fail('BAD_FIELD', `${what}: kind url goes with media url and only with it (kind ${kind}, media ${media})`)
  }
  if ((alg === 'pdq' || alg === 'photodna') && media !== 'image') fail('BAD_FIELD', `${what}: alg ${alg} requires media image, got ${media}`)
  if (alg === 'tmk_pdqf' && media !== 'video') fail('BAD_FIELD', `${what}: alg tmk_pdqf requires media video, got ${media}`)
  const rec: IndicatorRecord = { v: header.v, type: 'indicator', log: header.log, seq: header.seq, time: header.time, alg, value, category, kind, media }
  if (alg === 'pdq') {
    const quality = g.uint('quality')
    if (quality > MAX_PDQ_QUALITY) fail('BAD_FIELD', `${what}: "quality" is 0..${MAX_PDQ_QUALITY}, got ${quality}`)
    if (quality < MIN_PDQ_QUALITY) fail('LOW_QUALITY', `${what}: PDQ quality ${quality} is below ${MIN_PDQ_QUALITY}; such hashes match too much to publish`)
    rec.quality = quality
  } else if (g.has('quality')) {
    fail('UNKNOWN_FIELD', `${what}: "quality" is only allowed with alg pdq, not ${alg}`)
  }
  if (g.has('ref')) {
    const ref = g.text('ref')
    // Only the pseudonym a centre's node derives from its case reference: never the reference itself.
    if (!isRefPseudonym(ref)) {
      fail('BAD_REF', `${what}: "ref" must be a case-reference pseudonym, "p1:" and 32 lowercase hex digits; a raw case reference is never recorded (the centre's node turns it into its pseudonym)`)
    }
    rec.ref = ref
  }
  if (g.has('expires')) {
    const expires = g.uint('expires')
    if (expires <= header.time) fail('BAD_FIELD', `${what}: "expires" (${expires}) must be later than "time" (${header.time})`)
    rec.expires = expires
  }
  return rec
}

function roles(g: Fields): Role[] {
  const v = g.map.get('roles')
  if (!g.has('roles')) fail('MISSING_FIELD', `${g.what} is missing the required key "roles"`)
  if (!Array.isArray(v)) fail('BAD_FIELD', `${g.what}: "roles" must be an array of text strings`)
  for (let i = 0; i < v.length; i++) {
    const r: unknown = v[i]
    if (typeof r !== 'string') fail('BAD_FIELD', `${g.what}: "roles" must be an array of text strings`)
    if (!(ROLES as readonly string[]).includes(r)) fail('BAD_ROSTER_CHANGE', `${g.what}: unknown role "${r}" (roles are ${ROLES.join(', ')})`)
    if (i > 0 && !(v[i - 1] < r)) fail('BAD_ROSTER_CHANGE', `${g.what}: "roles" must be sorted and without duplicates`)
  }
  return [...v] as Role[]
}

function validateChange(g: Fields, change: RosterChangeKind, log: string): RosterChange {
  const what = `${g.what} (${change})`
  switch (change) {
    case 'add_member': {
      const member = g.segment('member')
      const origin = g.origin('origin')
      const federation = log.slice(0, log.indexOf('/'))
      if (origin !== `${federation}/${member}`) {
        fail('BAD_ROSTER_CHANGE', `${what}: "origin" must be "${federation}/${member}" (the writer's federation and the member name), got "${origin}"`)
      }
      const key = g.publicKey('key')
      const witness_key = g.publicKey('witness_key')
      if (toHex(key) === toHex(witness_key)) fail('BAD_ROSTER_CHANGE', `${what}: the witness key must differ from the log key`)
      const peer_id = peerId(g)
      return { change, member, origin, key, witness_key, peer_id, roles: roles(g) }
    }
    case 'remove_member':
      return { change, member: g.segment('member') }
    case 'rotate_key': {
      const rec: RotateKeyChange = { change, member: g.segment('member') }
      if (g.has('key')) rec.key = g.publicKey('key')
      if (g.has('witness_key')) rec.witness_key = g.publicKey('witness_key')
      if (g.has('peer_id')) rec.peer_id = peerId(g)
      if (!rec.key && !rec.witness_key && rec.peer_id === undefined) {
        fail('BAD_ROSTER_CHANGE', `${what}: name at least one of "key", "witness_key", "peer_id" to change`)
      }
      if (rec.key && rec.witness_key && toHex(rec.key) === toHex(rec.witness_key)) {
        fail('BAD_ROSTER_CHANGE', `${what}: the witness key must differ from the log key`)
      }
      return rec
    }
    case 'set_roles':
      return { change, member: g.segment('member'), roles: roles(g) }
    case 'set_threshold': {
      const threshold = g.uint('threshold')
      if (threshold < 1) fail('BAD_ROSTER_CHANGE', `${what}: "threshold" must be at least 1`)
      return { change, threshold }
    }
    case 'compromise': {
      const rec: CompromiseChange = { change, member: g.segment('member'), from: g.uint('from'), key: g.publicKey('key') }
      if (g.has('witness_key')) {
        rec.witness_key = g.publicKey('witness_key')
        if (toHex(rec.key) === toHex(rec.witness_key)) fail('BAD_ROSTER_CHANGE', `${what}: the witness key must differ from the log key`)
      }
      return rec
    }
    case 'resolve_fork': {
      const member = g.segment('member')
      const checkpoint = g.text('checkpoint')
      parseStandingCheckpoint(checkpoint, `${log.slice(0, log.indexOf('/'))}/${member}`)
      const rec: ResolveForkChange = { change, member, checkpoint, key: g.publicKey('key') }
      if (g.has('witness_key')) {
        rec.witness_key = g.publicKey('witness_key')
        if (toHex(rec.key) === toHex(rec.witness_key)) fail('BAD_ROSTER_CHANGE', `${what}: the witness key must differ from the log key`)
      }
      return rec
    }
  }
}

function peerId(g: Fields): string {
  const v = g.text('peer_id')
  if (v.length > MAX_PEER_ID_LENGTH || !PEER_ID_RE.test(v)) {
    fail('BAD_FIELD', `${g.what}: "peer_id" must be a libp2p peer id (1..${MAX_PEER_ID_LENGTH} letters and digits)`)
  }
  return v
}

/** Validates, then returns the canonical CBOR encoding of the record map. */
export function encodeRecord(record: CairnRecord): Uint8Array {
  return validateAndEncode(record).bytes
}

/** Every key of the flat record types (all but roster, which holds an array), in canonical order once. */
const FLAT_RECORD_KEYS = new KeyTable([...new Set([...COMMON_KEYS, ...Object.values(BODY_KEYS).flat()])])

/**
 * validateRecord, then the canonical bytes of what it returned (one
 * validation, not two). With `header`, the input is a body the node
 * publishes: the header's v, log, seq and time replace any of its own.
 */
export function validateAndEncode(input: unknown, header?: RecordHeader): { record: CairnRecord; bytes: Uint8Array } {
  const record = validateRecord(input, header)
  const bytes = record.type === 'roster' ? encodeCanonical(record as unknown as CborValue) : encodeFlat(FLAT_RECORD_KEYS, record as unknown as Record<string, unknown>)
  return { record, bytes }
}

/**
 * Record bytes decodeRecord has already accepted (opened by a worker, or read
 * back from this node's store): the rules again, not the canonical-form check.
 */
export function decodeCheckedRecord(bytes: Uint8Array): CairnRecord {
  return validateRecord(decodeChecked(bytes))
}

/** Canonical decode (NON_CANONICAL_CBOR, MALFORMED_CBOR, TOO_LARGE) then validateRecord. */
export function decodeRecord(bytes: Uint8Array): CairnRecord {
  return validateRecord(decodeCanonical(bytes, { maxBytes: MAX_RECORD_BYTES }))
}

/** The record as JSON for vectors and APIs: byte strings as lowercase hex. */
export function recordToJson(record: CairnRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue
    out[k] = v instanceof Uint8Array ? toHex(v) : Array.isArray(v) ? [...v] : v
  }
  return out
}

/** Inverse of recordToJson; the result is validated like any record. */
export function recordFromJson(json: unknown): CairnRecord {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('BAD_FIELD', 'a record must be a JSON object')
  const map = new Map<string, unknown>()
  for (const [k, v] of Object.entries(json)) {
    map.set(k, BYTE_KEYS.has(k) && typeof v === 'string' ? fromHex(v, k) : v)
  }
  return validateRecord(map)
}
