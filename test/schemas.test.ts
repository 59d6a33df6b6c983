/**
 * spec/schemas/ (the JSON Schemas of genesis.json, member.json and
 * node.json) are what `npm run gen-schemas` writes from the zod schemas the
 * code parses those files with; files a real federation writes validate
 * against them, and broken ones do not.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { schemaDocuments } from '../spec/gen/schemas.ts'
import { planFederation } from '../testnet/federation.ts'

const dir = new URL('../spec/schemas/', import.meta.url).pathname
const schema = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8'))

test('the committed schemas are what npm run gen-schemas writes', () => {
  for (const d of schemaDocuments()) assert.is(readFileSync(join(dir, d.file), 'utf8'), d.text, `spec/schemas/${d.file} is stale: run npm run gen-schemas`)
})

test('a federation\'s genesis.json, member.json and node.json validate; broken ones do not', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cairn-schemas-'))
  try {
    const { nodes, genesisPath } = await planFederation({ dir: tmp, names: ['a', 'b'], threshold: 2 })
    const ajv = new Ajv2020({ allErrors: true, strict: false })
    const compiled = new Map<string, ReturnType<typeof ajv.compile>>()
    const check = (file: string, doc: unknown) => {
      if (!compiled.has(file)) compiled.set(file, ajv.compile(schema(file)))
      const v = compiled.get(file)!
      return v(doc) ? undefined : ajv.errorsText(v.errors)
    }
    const genesis = JSON.parse(readFileSync(genesisPath, 'utf8'))
    assert.is(check('genesis.schema.json', genesis), undefined)
    const node = JSON.parse(readFileSync(join(nodes[0]!.dir, 'node.json'), 'utf8'))
    assert.is(check('node.schema.json', node), undefined)
    assert.is(check('member.schema.json', genesis.members[0]), undefined)
    assert.ok(check('genesis.schema.json', { ...genesis, threshold: 0 }), 'threshold 0 accepted')
    assert.ok(check('genesis.schema.json', { ...genesis, members: [] }), 'no members accepted')
    assert.ok(check('member.schema.json', { ...genesis.members[0], roles: ['admin'] }), 'unknown role accepted')
    assert.ok(check('node.schema.json', { ...node, http: { ...node.http, port: 70000 } }), 'port 70000 accepted')
    assert.ok(check('node.schema.json', { ...node, surprise: true }), 'unknown field accepted in node.json')
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

test.run()
