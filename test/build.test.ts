/**
 * The compiled CLI (npm run build → dist/, which npm install runs as
 * `prepare`): it starts, answers as the TypeScript does, and bin/cairn
 * takes it only while it is as new as the sources. Builds dist/ first when it
 * is missing or stale (about a minute).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { newestSource } from '../bin/sources.mjs'
import { sharedPath } from './support/shared.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const node = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } })

function fresh(): boolean {
  const built = join(root, 'dist/build.json')
  return existsSync(built) && JSON.parse(readFileSync(built, 'utf8')).newest_source_ms >= newestSource(root)
}

test('npm run build leaves a dist/ as new as the sources', () => {
  if (!fresh()) {
    const b = node(['scripts/build.mjs'])
    assert.is(b.status, 0, `build failed: ${b.stderr}`)
  }
  assert.ok(fresh(), 'dist/build.json is older than the sources right after a build')
  for (const f of ['dist/cli/main.js', 'dist/workers/crypto-jobs.js', 'dist/node/dashboard/page.html']) assert.ok(existsSync(join(root, f)), `${f} missing`)
})

test('bin/cairn runs the compiled CLI: --help lists the commands without loading the node', () => {
  const help = node(['bin/cairn.mjs', '--help'])
  assert.is(help.status, 0, help.stderr)
  for (const verb of ['keygen', 'node', 'sync', 'hash', 'match', 'verify', 'lookup']) assert.ok(help.stdout.includes(verb), `--help does not list ${verb}`)
  const fromSource = node(['bin/cairn.mjs', '--help'], { CAIRN_FROM_SOURCE: '1' })
  assert.is(fromSource.stdout, help.stdout, 'the compiled CLI and the sources print different help')
})

test('the compiled CLI hashes an image as the sources do (WebAssembly kernels included)', () => {
  const dir = sharedPath('pdq-ref/data/bridge-mods', 'the compiled hash is not compared')
  if (dir === undefined) return
  const file = join(dir, 'shrink-a-lot.jpg')
  const compiled = node(['dist/cli/main.js', 'hash', file, '--json'])
  const source = node(['--import', 'tsx', 'cli/main.ts', 'hash', file, '--json'])
  assert.is(compiled.status, 0, compiled.stderr)
  assert.is(compiled.stdout, source.stdout)
  assert.ok(JSON.parse(compiled.stdout).pdq.length === 64)
})

test('the compiled CLI makes a node directory (keygen loads its configuration and libp2p keys on demand)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-build-'))
  try {
    const r = node(['dist/cli/main.js', 'keygen', '--dir', join(dir, 'n'), '--origin', 'test.cairn/build'])
    assert.is(r.status, 0, r.stderr)
    const member = JSON.parse(readFileSync(join(dir, 'n', 'member.json'), 'utf8'))
    assert.is(member.origin, 'test.cairn/build')
    assert.match(member.peer_id, /^12D3Koo/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
