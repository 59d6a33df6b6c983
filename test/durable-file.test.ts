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
  ['sync', async (p: string, d: Parameters<typeof replaceFileSync>[1], m: number) => replaceFileSync(p, d, m)],
  ['async', replaceFile],
] as const

for (const [name, replace] of forms) {
  test(`${name}: parts written in order, the mode whatever the umask, no temporary file left`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-durable-'))
    const old = process.umask(0o000)
    try {
      const path = join(dir, 'f')
      writeFileSync(path, 'old contents', { mode: 0o666 })
      await replace(path, ['head\n', Uint8Array.of(1, 2, 3), ''], 0o600)
      assert.equal([...readFileSync(path)], [...Buffer.from('head\n'), 1, 2, 3])
      assert.is(statSync(path).mode & 0o777, 0o600, 'a wide umask does not widen it')
      process.umask(0o077)
      await replace(path, 'text', 0o644)
      assert.is(readFileSync(path, 'utf8'), 'text')
      assert.is(statSync(path).mode & 0o777, 0o644, 'a narrow umask does not narrow it')
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
      let missing: NodeJS.ErrnoException | undefined
      await replace(join(dir, 'no-such-folder', 'f'), 'x', 0o600).catch((e: NodeJS.ErrnoException) => { missing = e })
      assert.is(missing?.code, 'ENOENT')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test.run()
