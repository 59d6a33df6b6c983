/**
 * spec/schemas/ (the JSON Schemas of genesis.json, member.json, node.json
 * and a record's JSON form) are what `npm run gen-schemas` writes from the
 * schemas and constants the code validates with; files a real federation
 * writes and the valid record vectors validate against them, broken ones do not.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
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

test('every valid record of the entry vectors validates against record.schema.json; broken ones do not', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false })
  const v = ajv.compile(schema('record.schema.json'))
  const vectors = new URL('../spec/vectors/entries/', import.meta.url).pathname
  const records = readdirSync(vectors).filter((f) => f.startsWith('valid-')).map((f) => JSON.parse(readFileSync(join(vectors, f), 'utf8')).record as Record<string, unknown>)
  assert.ok(records.length >= 10)
  const types = new Set<string>()
  for (const r of records) {
    assert.ok(v(r), `${JSON.stringify(r).slice(0, 120)}: ${ajv.errorsText(v.errors)}`)
    types.add(String(r.type))
  }
  assert.ok(types.has('indicator') && types.has('revocation') && types.has('attestation'))
  const indicator = records.find((r) => r.type === 'indicator' && r.alg === 'sha256')!
  const pdq = records.find((r) => r.alg === 'pdq')!
  for (const [what, bad] of [
    ['an unknown field', { ...indicator, note: 'x' }],
    ['a category not in the list', { ...indicator, category: 'C9' }],
    ['a value of the wrong length', { ...indicator, value: 'ab' }],
    ['upper-case hex', { ...indicator, value: String(indicator.value).toUpperCase() }],
    ['a raw case reference', { ...indicator, ref: 'CASE-17' }],
    ['quality on a sha256', { ...indicator, quality: 90 }],
    ['a pdq without quality', Object.fromEntries(Object.entries(pdq).filter(([k]) => k !== 'quality'))],
    ['a pdq quality below 50', { ...pdq, quality: 49 }],
    ['v 2', { ...indicator, v: 2 }],
    ['a revocation with a free-text reason', { v: 1, type: 'revocation', log: 'a.cairn/b', seq: 1, time: 1, target: '00'.repeat(32), reason: 'oops' }],
  ] as [string, unknown][]) assert.not.ok(v(bad), `${what} was accepted`)
})

test.run()
