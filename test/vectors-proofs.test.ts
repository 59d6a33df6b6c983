import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fromHex } from '../protocol/bytes.ts'
import { isLedgerError } from '../protocol/errors.ts'
import { openEntry } from '../protocol/entry.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import { verifyTlogProof } from '../protocol/tlog-proof.ts'
import { proofCases } from '../spec/gen/proofs.ts'
import { vectorFolder, assertGenerated } from './helpers.ts'

const dir = new URL('../spec/vectors/proofs', import.meta.url).pathname

interface ProofVector {
  description: string
  vkey: string
  entry: string
  proof: string
  valid: boolean
  error?: string
}

const { files, load } = vectorFolder<ProofVector>(dir)

test('the vector files are what the generator produces', () => assertGenerated(dir, files, proofCases()))

test('enough cases, most of them invalid; entries are real cairn entries', () => {
  const all = files.map(load)
  assert.ok(all.length >= 10)
  assert.ok(all.filter((v) => !v.valid).length > all.length / 2)
  for (const v of all) {
    assert.ok(v.valid || typeof v.error === 'string', v.description)
    const { publicKey } = parseVerifierKey(v.vkey)
    openEntry(fromHex(v.entry), publicKey)
  }
})

for (const f of files) {
  test(`proofs/${f}`, () => {
    const v = load(f)
    const check = () => verifyTlogProof(v.proof, fromHex(v.entry, 'entry'), v.vkey)
    if (v.valid) {
      check()
      return
    }
    try {
      check()
    } catch (e) {
      assert.ok(isLedgerError(e), `${f}: ${String(e)}`)
      assert.is(e.code, v.error, `${f}: ${e.message}`)
      return
    }
    assert.unreachable(`${f}: accepted an invalid proof (${v.description})`)
  })
}

test.run()
