/**
 * GET /openapi.json describes exactly the routes the node serves: every
 * route of the app is an operation of the document and every operation a
 * route (TAXII's slash-less aliases aside), each with its roles, responses
 * and the spec/api.md section that holds the contract.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type CairnNode } from '../node/node.ts'
import { OPERATIONS, operationKey } from '../node/http/openapi.ts'
import { planFederation } from '../testnet/federation.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-openapi-'))
let node: CairnNode

test.before(async () => {
  const { nodes } = await planFederation({ dir, names: ['solo'], threshold: 1 })
  node = await startNode({ dir: nodes[0]!.dir, alone: true, logLevel: 'silent' })
})
test.after(async () => {
  await node?.stop()
  rmSync(dir, { recursive: true, force: true })
})

test('every route the node serves is documented, and every documented operation is a route', () => {
  const served = new Set(node.routes.map((r) => operationKey(r.method, r.path)))
  const documented = new Set(Object.keys(OPERATIONS))
  assert.equal([...served].filter((k) => !documented.has(k)).sort(), [], 'routes missing from node/http/openapi.ts')
  assert.equal([...documented].filter((k) => !served.has(k)).sort(), [], 'documented operations the node does not serve')
})

test('GET /openapi.json: an OpenAPI 3.1 document with paths, roles, security and the error shape', async () => {
  const res = await fetch(node.url + '/openapi.json')
  assert.is(res.status, 200)
  const doc = (await res.json()) as { openapi: string; info: { title: string }; paths: Record<string, Record<string, { security?: unknown; 'x-cairn-roles': unknown; responses: Record<string, unknown>; parameters?: { name: string; in: string }[] }>>; components: Record<string, Record<string, unknown>> }
  assert.is(doc.openapi, '3.1.0')
  assert.match(doc.info.title, node.origin)
  assert.ok(doc.components.securitySchemes!.bearer)
  assert.ok(doc.components.schemas!.Error)
  const lookup = doc.paths['/lookup/{alg}/{hex}']!.get!
  assert.equal(lookup['x-cairn-roles'], ['auditor', 'oversight'])
  assert.ok(lookup.security, 'a route for tokens carries the bearer scheme')
  assert.equal(lookup.parameters!.filter((p) => p.in === 'path').map((p) => p.name), ['alg', 'hex'])
  assert.is(doc.paths['/logs']!.get!.security, undefined, 'a public route carries none')
  assert.ok(doc.paths['/logs/{name}/tile/{path}']!.get, 'the tile wildcard is a path parameter')
  let operations = 0
  for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) {
    operations++
    assert.ok(Object.keys(op.responses).length > 0)
  }
  assert.is(operations, Object.keys(OPERATIONS).length)
  // Every section it cites exists in spec/api.md.
  const api = readFileSync(new URL('../spec/api.md', import.meta.url), 'utf8')
  for (const op of Object.values(OPERATIONS)) assert.ok(api.includes(`## ${op.section} `) || api.includes(`## ${op.section}\n`) || api.includes(`### ${op.section} `), `spec/api.md has no section ${op.section}`)
})

test.run()
