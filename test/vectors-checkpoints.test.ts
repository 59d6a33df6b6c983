import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isLedgerError } from '../protocol/errors.ts'
import { openCheckpoint } from '../protocol/checkpoint.ts'
import { checkpointCases } from '../spec/gen/checkpoints.ts'
import { vectorFolder, assertGenerated } from './helpers.ts'

const dir = new URL('../spec/vectors/checkpoints', import.meta.url).pathname

interface CheckpointVector {
  description: string
  vkey: string
  note: string
  valid: boolean
  witness_vkeys?: string[]
  error?: string
}

const { files, load } = vectorFolder<CheckpointVector>(dir)

test('the vector files are what the generator produces', () => assertGenerated(dir, files, checkpointCases()))

test('enough cases, most of them invalid', () => {
  const all = files.map(load)
  assert.ok(all.length >= 25)
  assert.ok(all.filter((v) => !v.valid).length > all.length / 2)
  for (const v of all) {
    assert.type(v.description, 'string')
    assert.ok(v.valid || typeof v.error === 'string', v.description)
  }
})

for (const f of files) {
  test(`checkpoints/${f}`, () => {
    const v = load(f)
    const witnesses = v.witness_vkeys ?? []
    const open = () => openCheckpoint(v.note, v.vkey, { witnesses, quorum: witnesses.length })
    if (v.valid) {
      const opened = open()
      assert.is(opened.cosignatures.length, witnesses.length)
      return
    }
    try {
      open()
    } catch (e) {
      assert.ok(isLedgerError(e), `${f}: ${String(e)}`)
      assert.is(e.code, v.error, `${f}: ${e.message}`)
      return
    }
    assert.unreachable(`${f}: accepted an invalid checkpoint (${v.description})`)
  })
}

test.run()
