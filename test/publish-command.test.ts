/**
 * `cairn publish` checks what it can before it talks to a node: a PDQ
 * indicator needs `--quality` (the value `cairn hash` prints), given as a
 * whole number 0..100. The node named here does not exist, so reaching it
 * would give PEER_UNREACHABLE instead of the CLI's own message.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const PDQ = 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22'
const NOWHERE = ['--node', 'http://127.0.0.1:9', '--token', 'cairn_test']

function cairn(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

test('publish --alg pdq without --quality: one error line naming --quality, exit 1, no request', () => {
  const r = cairn('publish', '--alg', 'pdq', '--value', PDQ, '--category', 'A1', ...NOWHERE)
  assert.is(r.status, 1)
  assert.is(r.stdout, '')
  assert.match(r.stderr, /^error MISSING_FIELD: --quality is required with --alg pdq/)
  assert.is(r.stderr.trim().split('\n').length, 1)
})

for (const bad of ['abc', '101', '-1', '50.5', '']) {
  test(`publish --quality ${JSON.stringify(bad)}: BAD_FIELD before any request`, () => {
    const r = cairn('publish', '--alg', 'pdq', '--value', PDQ, '--category', 'A1', '--quality', bad, ...NOWHERE)
    assert.is(r.status, 1)
    assert.match(r.stderr, /^error BAD_FIELD: --quality is a whole number from 0 to 100/)
  })
}

test('publish with a good --quality goes on to the node (here: unreachable)', () => {
  const r = cairn('publish', '--alg', 'pdq', '--value', PDQ, '--category', 'A1', '--quality', '100', ...NOWHERE)
  assert.is(r.status, 1)
  assert.match(r.stderr, /^error PEER_UNREACHABLE/)
})

test('publish of a non-PDQ alg needs no --quality', () => {
  const r = cairn('publish', '--alg', 'sha256', '--value', 'ab'.repeat(32), '--category', 'A1', ...NOWHERE)
  assert.is(r.status, 1)
  assert.match(r.stderr, /^error PEER_UNREACHABLE/)
})

test('export --help points to the export section of spec/local-copy.md', () => {
  const r = cairn('export', '--help')
  assert.is(r.status, 0)
  assert.match(r.stdout, 'spec/local-copy.md §L.6')
})

test.run()
