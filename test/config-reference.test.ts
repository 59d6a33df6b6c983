/**
 * docs/reference.md against the code: its node.json, keys.json and
 * genesis.json tables list exactly the fields of the zod schemas (with their
 * types, ranges and defaults), and its environment table lists exactly the
 * CAIRN_* variables the code reads, each with the folders that read it.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { NodeFile, KeysFile } from '../node/config.ts'
import { Genesis } from '../protocol/genesis.ts'

const root = new URL('..', import.meta.url).pathname
const DOC = 'docs/reference.md'
const doc = readFileSync(join(root, DOC), 'utf8')

// ------------------------------------------------------------------ the schemas

interface SchemaField { path: string; type: string; range: string; hasDefault: boolean; defaultValue?: unknown; optional: boolean }

// zod v4 keeps a schema's description in `_zod.def`: `type` ('object', 'default', ...) and the parts of that type.
type Def = { type: string; innerType?: Schema; shape?: Record<string, Schema>; element?: Schema; in?: Schema; defaultValue?: unknown }
type Schema = { _zod: { def: Def }; format?: string | null; minValue?: number | null; maxValue?: number | null }

function rangeOf(s: Schema): string {
  const finite = (x: number | null | undefined) => typeof x === 'number' && Number.isFinite(x) && Math.abs(x) < Number.MAX_SAFE_INTEGER
  const min = finite(s.minValue) ? s.minValue : undefined
  const max = finite(s.maxValue) ? s.maxValue : undefined
  if (min !== undefined && max !== undefined) return `${min}–${max}`
  if (min !== undefined) return `≥ ${min}`
  if (max !== undefined) return `≤ ${max}`
  return ''
}

function typeName(s: Schema): string {
  const d = s._zod.def
  if (d.type === 'string' || d.type === 'enum') return 'string'
  if (d.type === 'number') return s.format === 'safeint' || s.format === 'int32' ? 'integer' : 'number'
  if (d.type === 'boolean') return 'boolean'
  if (d.type === 'array') return `${typeName(d.element!)}[]`
  throw new Error(`no doc type name for a zod ${d.type}`)
}

/** Every leaf field of an object schema, objects (also inside arrays) opened up, as `a.b` and `a[].b`. */
function schemaFields(schema: Schema, prefix = '', inherited?: { value: unknown }): SchemaField[] {
  const out: SchemaField[] = []
  for (const [key, child] of Object.entries(schema._zod.def.shape!)) {
    const path = prefix + key
    let s = child
    let own: { value: unknown } | undefined
    let optional = false
    for (;;) {
      const d = s._zod.def
      if (d.type === 'default') { own ??= { value: d.defaultValue }; s = d.innerType! } // defaultValue is a getter: read once here
      else if (d.type === 'optional' || d.type === 'nullable') { optional = true; s = d.innerType! }
      else if (d.type === 'pipe') s = d.in!
      else break
    }
    const fromParent = inherited && typeof inherited.value === 'object' && inherited.value !== null && key in inherited.value
      ? { value: (inherited.value as Record<string, unknown>)[key] } : undefined
    if (own && fromParent) assert.equal(fromParent.value, own.value, `node/config.ts: the default of ${prefix.slice(0, -1)} and of ${path} disagree`)
    const dflt = own ?? fromParent
    const d = s._zod.def
    if (d.type === 'object') out.push(...schemaFields(s, `${path}.`, dflt))
    else if (d.type === 'array' && d.element!._zod.def.type === 'object') {
      out.push(...schemaFields(d.element!, `${path}[].`))
    } else {
      out.push({ path, type: typeName(s), range: d.type === 'number' ? rangeOf(s) : '', hasDefault: dflt !== undefined, defaultValue: dflt?.value, optional })
    }
  }
  return out
}

// ------------------------------------------------------------------ the doc's tables

/** The first markdown table after the heading line `heading` (before the next heading), as rows of cells keyed by the header. */
function tableAfter(heading: string): Record<string, string>[] {
  const lines = doc.split('\n')
  const start = lines.findIndex((l) => l.trim() === heading)
  assert.ok(start >= 0, `${DOC} has no heading "${heading}"`)
  const rows: string[][] = []
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('#')) break
    if (line.startsWith('|')) rows.push(line.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => c.trim()))
    else if (rows.length > 0) break
  }
  assert.ok(rows.length >= 3, `${DOC}: no table with rows under "${heading}"`)
  const [header, , ...body] = rows
  return body.map((cells) => Object.fromEntries(header!.map((h, i) => [h, cells[i] ?? ''])))
}

/** The text of the first `code` span of a cell, and what follows it. */
function codeSpan(cell: string, what: string): { code: string; rest: string } {
  const m = /^`([^`]+)`\s*(.*)$/.exec(cell)
  assert.ok(m, `${DOC}: ${what} should start with a \`code\` span, found "${cell}"`)
  return { code: m![1]!, rest: m![2]!.trim() }
}

function checkFileTable(heading: string, schema: unknown) {
  const fields = new Map(schemaFields(schema as Schema).map((f) => [f.path, f]))
  const rows = tableAfter(heading)
  const documented = new Map<string, Record<string, string>>()
  for (const row of rows) {
    const field = codeSpan(row.field ?? '', `a field under ${heading}`).code
    assert.not.ok(documented.has(field), `${DOC} ${heading}: ${field} is listed twice`)
    documented.set(field, row)
  }
  const missing = [...fields.keys()].filter((f) => !documented.has(f))
  const extra = [...documented.keys()].filter((f) => !fields.has(f))
  assert.equal(missing, [], `${DOC} ${heading} lacks fields the schema has: ${missing.join(', ')}`)
  assert.equal(extra, [], `${DOC} ${heading} lists fields the schema does not have: ${extra.join(', ')}`)

  for (const [path, f] of fields) {
    const row = documented.get(path)!
    const type = codeSpan(row.type ?? '', `the type of ${path}`)
    assert.is(type.code, f.type, `${DOC} ${heading}: type of ${path}`)
    assert.is(type.rest, f.range, `${DOC} ${heading}: range of ${path} (write it as "min–max", "≥ min" or nothing)`)
    const dflt = (row.default ?? '').trim()
    if (dflt === 'required') {
      assert.ok(!f.hasDefault && !f.optional, `${DOC} ${heading}: ${path} is documented as required but the schema ${f.hasDefault ? `defaults it to ${JSON.stringify(f.defaultValue)}` : 'makes it optional'}`)
    } else if (dflt === 'optional') {
      assert.ok(f.optional && !f.hasDefault, `${DOC} ${heading}: ${path} is documented as optional without a default, unlike the schema`)
    } else {
      const value = codeSpan(dflt, `the default of ${path} (or "required" / "optional")`).code
      let parsed: unknown
      try { parsed = JSON.parse(value) } catch { assert.unreachable(`${DOC} ${heading}: the default of ${path} should be JSON, found ${value}`) }
      assert.ok(f.hasDefault, `${DOC} ${heading}: ${path} is documented with default ${value} but the schema has none`)
      assert.equal(parsed, f.defaultValue, `${DOC} ${heading}: default of ${path}`)
    }
  }
}

test('the node.json table lists exactly the fields of NodeFile, with their types, ranges and defaults', () => {
  checkFileTable('### `node.json`', NodeFile)
})

test('the keys.json table lists exactly the fields of KeysFile', () => {
  checkFileTable('### `keys.json`', KeysFile)
})

test('the genesis.json table lists exactly the fields of Genesis', () => {
  checkFileTable('### `genesis.json`', Genesis)
})

test('the schema walk sees nested and defaulted fields (so an empty walk cannot pass)', () => {
  const paths = schemaFields(NodeFile as unknown as Schema).map((f) => f.path)
  for (const p of ['name', 'origin', 'http.host', 'http.port', 'listen', 'bootstrap', 'batch.max_records', 'batch.max_ms']) assert.ok(paths.includes(p), `walk of NodeFile misses ${p}`)
})

// ------------------------------------------------------------------ environment variables

const SOURCE_DIRS = ['bin', 'cli', 'client', 'node', 'protocol', 'workers', 'testnet', 'test', 'spec/gen']
const THIS_FILE = relative(root, new URL(import.meta.url).pathname)
const ENV_READ = /process\.env(?:\.|\[\s*['"])(CAIRN_[A-Z0-9_]+)/g

function sourceFiles(dir: string): string[] {
  let names: string[]
  try { names = readdirSync(join(root, dir)) } catch { return [] }
  const out: string[] = []
  for (const name of names) {
    const rel = join(dir, name)
    if (name === 'node_modules' || name.startsWith('.')) continue
    if (statSync(join(root, rel)).isDirectory()) out.push(...sourceFiles(rel))
    else if (/\.(ts|mts|js|mjs)$/.test(name) && rel !== THIS_FILE) out.push(rel)
  }
  return out
}

/** Variable name → the files that read it. */
function envReads(): Map<string, string[]> {
  const reads = new Map<string, string[]>()
  for (const file of SOURCE_DIRS.flatMap(sourceFiles)) {
    for (const m of readFileSync(join(root, file), 'utf8').matchAll(ENV_READ)) {
      const list = reads.get(m[1]!) ?? []
      if (!list.includes(file)) list.push(file)
      reads.set(m[1]!, list)
    }
  }
  return reads
}

test('the environment table lists exactly the CAIRN_* variables the code reads, and who reads them', () => {
  const reads = envReads()
  assert.ok(reads.has('CAIRN_TOKEN') && reads.has('CAIRN_LOG_LEVEL'), 'the source scan found none of the known variables: is SOURCE_DIRS right?')
  const rows = tableAfter('## Environment variables')
  const documented = new Map(rows.map((r) => [codeSpan(r.variable ?? '', 'a variable').code, r]))
  const undocumented = [...reads.keys()].filter((v) => !documented.has(v))
  const absent = [...documented.keys()].filter((v) => !reads.has(v))
  assert.equal(undocumented, [], `read in the code but not in ${DOC}: ${undocumented.map((v) => `${v} (${reads.get(v)!.join(', ')})`).join('; ')}`)
  assert.equal(absent, [], `in ${DOC} but read nowhere in ${SOURCE_DIRS.join(', ')}: ${absent.join(', ')}`)

  for (const [name, row] of documented) {
    const places = [...(row['read by'] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!)
    assert.ok(places.length > 0, `${DOC}: say where ${name} is read`)
    const files = reads.get(name)!
    const under = (f: string, p: string) => (p.endsWith('/') ? f.startsWith(p) : f === p)
    for (const f of files) assert.ok(places.some((p) => under(f, p)), `${DOC}: ${name} is read in ${f}, not under ${places.join(', ')}`)
    for (const p of places) assert.ok(files.some((f) => under(f, p)), `${DOC}: ${name} is listed as read by ${p}, which does not read it`)
    const use = (row.use ?? '').trim()
    assert.ok(['user', 'demo', 'test only'].includes(use), `${DOC}: use of ${name} should be user, demo or test only, found "${use}"`)
    const onlyTests = files.every((f) => f.startsWith('test/') || f.startsWith('testnet/scenarios/') || f.startsWith('testnet/bench/'))
    if (onlyTests) assert.is(use, 'test only', `${DOC}: ${name} is read only by tests, scenarios or the bench`)
  }
})

test.run()
