/**
 * client/durable-file.ts, used for every whole-file replacement of a node
 * directory (keys, config, set-lines state, value filter, credential
 * revocations) and of a provider's local copy: the new bytes in parts, the
 * mode whatever the umask, nothing left behind, and on a failure the old
 * file exactly as it was.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, readFileSync, writeFileSync, statSync, mkdirSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { replaceFile, replaceFileSync } from '../client/durable-file.ts'

const forms = [
  ['sync', async (p: string, d: Parameters<typeof replaceFileSync>[1], m?: number) => replaceFileSync(p, d, m)],
  ['async', replaceFile],
] as const

for (const [name, replace] of forms) {
  test(`${name}: parts written in order, the mode whatever the umask, no temporary file left`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-durable-'))
    const old = process.umask(0o000)
    try {
      const path = join(dir, 'f')
      writeFileSync(path, 'old contents', { mode: 0o666 })
      writeFileSync(`${path}.tmp`, 'left by a crash', { mode: 0o666 }) // open() keeps an existing file's mode
      await replace(path, ['head\n', Uint8Array.of(1, 2, 3), ''], 0o600)
      assert.equal([...readFileSync(path)], [...Buffer.from('head\n'), 1, 2, 3])
      assert.is(statSync(path).mode & 0o777, 0o600, 'a stale temporary file of mode 0666 does not widen it')
      process.umask(0o077)
      await replace(path, 'text', 0o644)
      assert.is(readFileSync(path, 'utf8'), 'text')
      assert.is(statSync(path).mode & 0o777, 0o644, 'a narrow umask does not narrow it')
      await replace(path, 'a user file')
      assert.is(statSync(path).mode & 0o777, 0o600, 'without a mode: 0644 less the umask')
      assert.equal(readdirSync(dir), ['f'])
    } finally {
      process.umask(old)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test(`${name}: a failed replacement throws and leaves the old file as it was`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-durable-'))
    try {
      const path = join(dir, 'f')
      writeFileSync(path, 'old contents')
      mkdirSync(`${path}.tmp`) // the temporary file cannot be made
      let err: NodeJS.ErrnoException | undefined
      await replace(path, 'new contents', 0o600).catch((e: NodeJS.ErrnoException) => { err = e })
      assert.ok(err?.code === 'EISDIR', `the cause is kept: ${err?.code}`)
      assert.is(readFileSync(path, 'utf8'), 'old contents')
      // The rename fails (a non-empty directory is in the way): the temporary file is removed.
      const blocked = join(dir, 'blocked')
      mkdirSync(join(blocked, 'inside'), { recursive: true })
      let renameErr: NodeJS.ErrnoException | undefined
      await replace(blocked, 'x', 0o600).catch((e: NodeJS.ErrnoException) => { renameErr = e })
      assert.ok(renameErr !== undefined, 'the rename over a directory fails')
      assert.not.ok(readdirSync(dir).includes('blocked.tmp'), 'no temporary file left')
      let missing: NodeJS.ErrnoException | undefined
      await replace(join(dir, 'no-such-folder', 'f'), 'x', 0o600).catch((e: NodeJS.ErrnoException) => { missing = e })
      assert.is(missing?.code, 'ENOENT')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('async: replacements of one path run one after another, the last one wins, none is lost or mixed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-durable-'))
  try {
    const path = join(dir, 'f')
    const big = (c: string) => c.repeat(1 << 20) // 1 MiB: writes long enough to overlap if they could
    await Promise.all(['a', 'b', 'c', 'd'].map((c) => replaceFile(path, big(c), 0o600)))
    assert.ok(readFileSync(path, 'utf8') === big('d'))
    assert.equal(readdirSync(dir), ['f'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
