/**
 * Writes the JSON Schemas (draft 2020-12) of the files an operator writes or
 * receives, from the zod schemas the code parses them with, into
 * spec/schemas/: the genesis roster, a member entry (member.json), node.json;
 * and of a record's JSON form, from the constants protocol/records.ts
 * validates with.
 * `npm run gen-schemas`; test/schemas.test.ts checks the committed files are
 * what this writes. What JSON Schema cannot say (an origin's shape beyond
 * its characters, a verifier key that parses and names its origin) is in the
 * description and checked by the node when it loads the file.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { Genesis, GenesisMember } from '../../protocol/genesis.ts'
import { NodeFile } from '../../node/config.ts'
import { ALG_LENGTHS, ATTESTATION_REASONS, CATEGORIES, KINDS, MAX_ORIGIN_LENGTH, MAX_PDQ_QUALITY, MAX_PEER_ID_LENGTH, MAX_TMK_PDQF_BYTES, MEDIA, MIN_PDQ_QUALITY, OPINIONS, REVOCATION_REASONS, ROLES } from '../../protocol/records.ts'

const outDir = new URL('../schemas', import.meta.url).pathname

export const SCHEMAS: { file: string; title: string; description: string; schema: z.ZodType }[] = [
  {
    file: 'genesis.schema.json', title: 'cairn genesis roster (genesis.json)', schema: Genesis,
    description: 'The federation\'s first members, their keys and the confirmations a roster change needs (spec/federation.md §10.1). Beyond this schema, a node checks that names, origins and peer ids are unique, that each vkey parses and names its member\'s origin, and that threshold is at most the number of members.',
  },
  {
    file: 'member.schema.json', title: 'cairn member entry (member.json)', schema: GenesisMember,
    description: 'One member as `cairn keygen` writes it and `cairn federation init` reads it (spec/federation.md §10.1); addrs are what other members dial.',
  },
  {
    file: 'node.schema.json', title: 'cairn node settings (node.json)', schema: NodeFile,
    description: 'A node\'s settings (docs/reference.md, node.json); defaults apply to absent fields. Beyond this schema, origin must be <federation>/<member>, and advertise addresses must be dialable (not 0.0.0.0 or ::).',
  },
]

/**
 * A record in its JSON form (recordToJson: byte strings as lowercase hex),
 * as feed items, provenance documents and `POST /records` carry it, from the
 * same constants protocol/records.ts validates with. What JSON Schema cannot
 * say is left to the validator and named in the description.
 */
function recordSchema(): Record<string, unknown> {
  const hex = (bytes: number) => ({ type: 'string', pattern: `^([0-9a-f]{2}){${bytes}}$` })
  const uint = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }
  const segment = { type: 'string', pattern: '^[A-Za-z0-9._-]+$' }
  const origin = { type: 'string', pattern: '^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$', maxLength: MAX_ORIGIN_LENGTH }
  const peerId = { type: 'string', pattern: '^[A-Za-z0-9]+$', minLength: 1, maxLength: MAX_PEER_ID_LENGTH }
  const roles = { type: 'array', items: { enum: [...ROLES] }, minItems: 0, uniqueItems: true }
  const header = { v: { const: 1 }, log: origin, seq: uint, time: uint }
  const obj = (type: string, props: Record<string, unknown>, required: string[]) => ({
    type: 'object', additionalProperties: false, properties: { ...header, type: { const: type }, ...props }, required: ['v', 'type', 'log', 'seq', 'time', ...required],
  })
  const indicators = Object.entries(ALG_LENGTHS).map(([alg, length]) => obj('indicator', {
    alg: { const: alg },
    value: length === 'variable' ? { type: 'string', pattern: `^([0-9a-f]{2}){1,${MAX_TMK_PDQF_BYTES}}$` } : hex(length as number),
    category: { enum: [...CATEGORIES] }, kind: { enum: [...KINDS] }, media: { enum: [...MEDIA] },
    ref: { type: 'string', pattern: '^p1:[0-9a-f]{32}$' },
    ...(alg === 'pdq' ? { quality: { type: 'integer', minimum: MIN_PDQ_QUALITY, maximum: MAX_PDQ_QUALITY } } : {}),
    expires: uint,
  }, ['alg', 'value', 'category', 'kind', 'media', ...(alg === 'pdq' ? ['quality'] : [])]))
  const change = (name: string, props: Record<string, unknown>, required: string[]) => obj('roster', { change: { const: name }, ...props }, ['change', ...required])
  return {
    oneOf: [
      ...indicators,
      obj('revocation', { target: hex(32), reason: { enum: [...REVOCATION_REASONS] } }, ['target', 'reason']),
      obj('attestation', { target: hex(32), opinion: { enum: [...OPINIONS] }, reason: { enum: [...ATTESTATION_REASONS] } }, ['target', 'opinion']),
      change('add_member', { member: segment, origin, key: hex(32), witness_key: hex(32), peer_id: peerId, roles }, ['member', 'origin', 'key', 'witness_key', 'peer_id', 'roles']),
      change('remove_member', { member: segment }, ['member']),
      change('rotate_key', { member: segment, key: hex(32), witness_key: hex(32), peer_id: peerId }, ['member']),
      change('set_roles', { member: segment, roles }, ['member', 'roles']),
      change('set_threshold', { threshold: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } }, ['threshold']),
      change('compromise', { member: segment, from: uint, key: hex(32), witness_key: hex(32) }, ['member', 'from', 'key']),
      change('resolve_fork', { member: segment, checkpoint: { type: 'string', minLength: 1 }, key: hex(32), witness_key: hex(32) }, ['member', 'checkpoint', 'key']),
    ],
  }
}

const RECORD_DESCRIPTION = 'A cairn record in its JSON form (byte strings as lowercase hex; spec/encoding.md gives the CBOR form that is signed). Beyond this schema the validator (protocol/records.ts) checks: alg url_sha256 with kind url and media url and only then; pdq and photodna with media image, tmk_pdqf with video; no all-0x00 or all-0xff value; expires later than time; roles sorted; a witness key different from the log key; add_member origin = the writer\'s federation + member; at least one of key, witness_key, peer_id in rotate_key; resolve_fork\'s checkpoint a signed note of that member\'s log; the writer\'s right to write the type.'

/** The schema documents as written to spec/schemas/. */
export function schemaDocuments(): { file: string; text: string }[] {
  const record = { file: 'record.schema.json', text: JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'https://cairn.invalid/spec/schemas/record.schema.json', title: 'cairn record (JSON form)', description: RECORD_DESCRIPTION, ...recordSchema() }, null, 2) + '\n' }
  return [...SCHEMAS.map((s) => {
    const json = z.toJSONSchema(s.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
    const { $schema, ...rest } = json
    return { file: s.file, text: JSON.stringify({ $schema, $id: `https://cairn.invalid/spec/schemas/${s.file}`, title: s.title, description: s.description, ...rest }, null, 2) + '\n' }
  }), record]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(outDir, { recursive: true })
  for (const d of schemaDocuments()) {
    writeFileSync(join(outDir, d.file), d.text)
    console.log(`spec/schemas/${d.file}`)
  }
}
