/**
 * Writes the JSON Schemas (draft 2020-12) of the files an operator writes or
 * receives, from the zod schemas the code parses them with, into
 * spec/schemas/: the genesis roster, a member entry (member.json), node.json.
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

/** The schema documents as written to spec/schemas/. */
export function schemaDocuments(): { file: string; text: string }[] {
  return SCHEMAS.map((s) => {
    const json = z.toJSONSchema(s.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
    const { $schema, ...rest } = json
    return { file: s.file, text: JSON.stringify({ $schema, $id: `https://cairn.invalid/spec/schemas/${s.file}`, title: s.title, description: s.description, ...rest }, null, 2) + '\n' }
  })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(outDir, { recursive: true })
  for (const d of schemaDocuments()) {
    writeFileSync(join(outDir, d.file), d.text)
    console.log(`spec/schemas/${d.file}`)
  }
}
