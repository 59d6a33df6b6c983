/**
 * `cairn import` reads CSV through an RFC 4180 parser (quoted cells, a BOM,
 * CRLF, rows that leave trailing columns out), reports rejected lines in line
 * order whether the file or the node rejected them, and exits 1 when any line
 * was rejected, with the counts. The node here is a stub that answers
 * POST /records the way a node does, rejecting the values it is told to.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { readIndicators, type ParsedLine } from '../cli/import-file.ts'
import { runCairn } from './support/cli.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-import-'))
const hex = (c: string, bytes: number) => c.repeat(2 * bytes)

async function read(name: string, text: string | Buffer, format: 'csv' | 'jsonl' | 'txt'): Promise<ParsedLine[]> {
  const path = join(dir, name)
  writeFileSync(path, text)
  const out: ParsedLine[] = []
  for await (const l of readIndicators(path, format, { category: 'A1' })) out.push(l)
  return out
}

test('CSV: a BOM, CRLF, quoted cells and rows without their trailing columns read as the header says', async () => {
  const text = '\uFEFFalg,value,category,kind\r\n' +
    `sha256,"${hex('a', 32)}",A2,known_material\r\n` +
    `md5,${hex('b', 16)},"B1"\r\n` +
    `sha1,${hex('c', 20)}\r\n`
  const lines = await read('ok.csv', text, 'csv')
  assert.equal(lines.map((l) => l.line), [2, 3, 4])
  const bodies = lines.map((l) => ('body' in l ? l.body : 'error' in l ? l.error : l))
  assert.equal(bodies[0], { type: 'indicator', alg: 'sha256', value: hex('a', 32), category: 'A2', kind: 'known_material', media: 'image' })
  assert.equal((bodies[1] as Record<string, unknown>).category, 'B1')
  assert.equal((bodies[2] as Record<string, unknown>).category, 'A1', 'the --category default fills a row that leaves it out')
})

test('CSV: a row with too many cells and an unclosed quote are reported with their lines, in order', async () => {
  const text = 'alg,value,category\n' +
    `md5,${hex('1', 16)},A1\n` +
    `md5,${hex('2', 16)},A1,extra\n` +
    `md5,${hex('3', 16)},B2\n` +
    `md5,"${hex('4', 16)},B2\n`
  const lines = await read('bad.csv', text, 'csv')
  assert.equal(lines.map((l) => [l.line, 'body' in l]), [[2, true], [3, false], [4, true], [5, false]])
  assert.match((lines[3] as { error: string }).error, /Quote Not Closed/)
})

test('CSV: a header without alg and value, or with an unknown column, is one error and nothing is read', async () => {
  for (const header of ['value,category', 'alg,value,colour']) {
    const lines = await read('header.csv', `${header}\nmd5,${hex('5', 16)},A1\n`, 'csv')
    assert.is(lines.length, 1)
    assert.ok('error' in lines[0]! && /header/.test(lines[0].error), JSON.stringify(lines))
  }
})

test('JSON lines and "<alg> <hex>" lines: a BOM on the first line is not part of the record', async () => {
  const j = await read('a.jsonl', `\uFEFF{"alg":"md5","value":"${hex('6', 16)}"}\n`, 'jsonl')
  assert.ok('body' in j[0]!, JSON.stringify(j))
  const t = await read('a.txt', `\uFEFFmd5 ${hex('7', 16)} B1\n`, 'txt')
  assert.equal('body' in t[0]! && t[0].body.category, 'B1')
})

/** A node stub: POST /records answers per record, rejecting values that start with "bad". */
function stubNode(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => {
      const { records } = JSON.parse(body) as { records: { value: string }[] }
      const results = records.map((r, i) => (r.value.startsWith('bad')
        ? { error: { code: 'BAD_VALUE_LENGTH', message: `record ${i} refused` } }
        : { id: hex('e', 32), log: 'test.cairn/x', seq: i }))
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ results }))
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })))
}

const cairn = runCairn

test('cairn import: rejections from the file and from the node come in line order; any rejection exits 1 with the counts', async () => {
  const { server, url } = await stubNode()
  try {
    const path = join(dir, 'mixed.csv')
    writeFileSync(path, 'alg,value\n' + [`md5,${hex('a', 16)}`, 'md5,bad1', `md5,${hex('b', 16)},x,y,z,w,v,u,t`, 'md5,bad2', `md5,${hex('c', 16)}`].join('\n') + '\n')
    const r = await cairn(['import', path, '--node', url, '--token', 'cairn_x', '--batch', '2', '--quiet'])
    assert.is(r.code, 1, r.stderr)
    const errLines = r.stderr.trim().split('\n')
    assert.equal(errLines.map((l) => Number(/^line (\d+):/.exec(l)?.[1])), [3, 4, 5], r.stderr)
    assert.match(r.stdout, /imported 2 indicators, rejected 3/)

    const good = join(dir, 'good.csv')
    writeFileSync(good, `alg,value\nmd5,${hex('d', 16)}\n`)
    const ok = await cairn(['import', good, '--node', url, '--token', 'cairn_x', '--quiet'])
    assert.is(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /imported 1 indicators, rejected 0/)
  } finally {
    server.close()
  }
})

test.after(() => rmSync(dir, { recursive: true, force: true }))
test.run()
