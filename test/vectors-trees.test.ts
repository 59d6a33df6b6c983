import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fromHex } from '../protocol/bytes.ts'
import { isLedgerError, type ErrorCode } from '../protocol/errors.ts'
import { EMPTY_ROOT, leafHash, nodeHash } from '../protocol/hash.ts'
import { verifyConsistency, verifyInclusion } from '../protocol/merkle.ts'
import { treeCases } from '../spec/gen/trees.ts'

interface TreeVector {
  entries: string[]
  root: string
  inclusion: Array<{ index: number; size: number; proof: string[] }>
  consistency: Array<{ old: number; new: number; proof: string[] }>
}

const dir = new URL('../spec/vectors/trees', import.meta.url).pathname
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()

/** MTH straight from RFC 9162 §2.1.1, independent of protocol/merkle.ts. */
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT
  if (leaves.length === 1) return leaves[0]!
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)))
}

function rejects(fn: () => unknown, code: ErrorCode): boolean {
  try {
    fn()
    return false
  } catch (e) {
    return isLedgerError(e, code)
  }
}

function flipOne(proof: Uint8Array[], i: number, byte: number): Uint8Array[] {
  const out = proof.slice()
  const h = proof[i]!.slice()
  h[byte] = h[byte]! ^ 0x01
  out[i] = h
  return out
}

test('the trees/ folder holds the expected cases', () => {
  assert.equal(files, treeCases().map((c) => `${c.name}.json`).sort())
})

test('vector files are exactly what spec/gen/trees.ts generates', () => {
  for (const c of treeCases()) {
    assert.is(readFileSync(join(dir, `${c.name}.json`), 'utf8'), JSON.stringify(c.data, null, 2) + '\n', c.name)
  }
})

for (const file of files) {
  test(`trees/${file}`, () => {
    const v = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TreeVector
    assert.equal(Object.keys(v), ['entries', 'root', 'inclusion', 'consistency'])
    const leaves = v.entries.map((e) => leafHash(fromHex(e, 'entry')))
    const rootOf = new Map<number, Uint8Array>()
    const root = (size: number): Uint8Array => {
      if (!rootOf.has(size)) rootOf.set(size, mth(leaves.slice(0, size)))
      return rootOf.get(size)!
    }
    assert.equal(fromHex(v.root), root(leaves.length), 'root of the full tree')

    for (const { index, size, proof: hex } of v.inclusion) {
      const what = `inclusion ${index}/${size}`
      assert.ok(size <= leaves.length && index < size, what)
      const proof = hex.map((h) => fromHex(h, 'proof hash'))
      verifyInclusion(leaves[index]!, index, size, proof, root(size))
      for (let i = 0; i < proof.length; i++) {
        assert.ok(rejects(() => verifyInclusion(leaves[index]!, index, size, flipOne(proof, i, (i * 7) % 32), root(size)), 'BAD_PROOF'), `${what}: flipped proof[${i}]`)
      }
      const badLeaf = leaves[index]!.slice()
      badLeaf[31] = badLeaf[31]! ^ 0x80
      assert.ok(rejects(() => verifyInclusion(badLeaf, index, size, proof, root(size)), 'BAD_PROOF'), `${what}: flipped leaf`)
      const badRoot = root(size).slice()
      badRoot[0] = badRoot[0]! ^ 0x01
      assert.ok(rejects(() => verifyInclusion(leaves[index]!, index, size, proof, badRoot), 'BAD_PROOF'), `${what}: flipped root`)
    }

    for (const { old, new: size, proof: hex } of v.consistency) {
      const what = `consistency ${old}->${size}`
      assert.ok(old <= size && size <= leaves.length, what)
      const proof = hex.map((h) => fromHex(h, 'proof hash'))
      verifyConsistency(old, size, root(old), root(size), proof)
      for (let i = 0; i < proof.length; i++) {
        assert.ok(rejects(() => verifyConsistency(old, size, root(old), root(size), flipOne(proof, i, (i * 11) % 32)), 'INCONSISTENT_CHECKPOINT'), `${what}: flipped proof[${i}]`)
      }
      if (old > 0 || old === size) {
        // (the empty tree is a prefix of every tree, whatever its root)
        const badNew = root(size).slice()
        badNew[5] = badNew[5]! ^ 0x01
        assert.ok(rejects(() => verifyConsistency(old, size, root(old), badNew, proof), 'INCONSISTENT_CHECKPOINT'), `${what}: flipped new root`)
      }
      if (old > 0) {
        const badOld = root(old).slice()
        badOld[9] = badOld[9]! ^ 0x01
        assert.ok(rejects(() => verifyConsistency(old, size, badOld, root(size), proof), 'INCONSISTENT_CHECKPOINT'), `${what}: flipped old root`)
      }
    }
  })
}

test.run()
