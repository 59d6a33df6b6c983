/**
 * The bench's verdicts (testnet/bench/report.ts judge): relative targets are
 * judged against the run's baselines (start and end mean); the Ed25519
 * baselines measured around a measure give the same target beside, never
 * the verdict; absolute targets ignore baselines.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judge, type Baselines, type Measured } from '../testnet/bench/report.ts'

const run: Baselines = { sha256_per_s: 400_000, sign_per_s: 30_000, verify_per_s: 12_000, level_put_per_s: 300_000 }

test('a relative target is judged against the run baselines; the adjacent ones are reported beside', () => {
  const m: Measured = {
    key: 'verify_per_s', value: 16_000, method: 'm',
    adjacent: { before: { sign_per_s: 28_000, verify_per_s: 11_000 }, after: { sign_per_s: 26_000, verify_per_s: 11_400 } },
  }
  const v = judge(m, run, 2, 1)
  assert.is(v.need, 0.7 * 12_000 * 2)
  assert.is(v.ratio, 16_000 / 24_000)
  assert.is(v.pass, false)
  assert.match(v.gap!, '95.2 %')
  assert.equal(v.adjacent, { baseline: 'verify_per_s', need: 0.7 * 11_200 * 2, ratio: 16_000 / 22_400, pass: true })
})

test('ingest: the adjacent sign baseline, and the 20,000 floor in both', () => {
  const fast = { before: { sign_per_s: 40_000, verify_per_s: 1 }, after: { sign_per_s: 40_000, verify_per_s: 1 } }
  const v = judge({ key: 'ingest_per_s', value: 27_000, method: 'm', adjacent: fast }, run, 2, 1)
  assert.is(v.need, 21_000)
  assert.is(v.pass, true)
  assert.equal(v.adjacent, { baseline: 'sign_per_s', need: 28_000, ratio: 27_000 / 40_000, pass: false })
  const slow = { before: { sign_per_s: 20_000, verify_per_s: 1 }, after: { sign_per_s: 20_000, verify_per_s: 1 } }
  assert.is(judge({ key: 'ingest_per_s', value: 19_000, method: 'm', adjacent: slow }, run, 2, 1).adjacent!.need, 20_000)
})

test('without adjacent baselines, or with unmeasured ones, nothing is reported beside', () => {
  assert.is(judge({ key: 'sync_per_s', value: 12_000, method: 'm' }, run, 2, 1).adjacent, undefined)
  const nan = { before: { sign_per_s: NaN, verify_per_s: NaN }, after: { sign_per_s: NaN, verify_per_s: NaN } }
  const v = judge({ key: 'sync_per_s', value: 12_000, method: 'm', adjacent: nan }, run, 2, 1)
  assert.is(v.adjacent, undefined)
  assert.is(v.need, 16_800)
})

test('absolute targets take no baseline', () => {
  const adjacent = { before: { sign_per_s: 1, verify_per_s: 1 }, after: { sign_per_s: 1, verify_per_s: 1 } }
  const v = judge({ key: 'proof_per_s', value: 6_000, method: 'm', adjacent }, run, 2, 1)
  assert.is(v.adjacent, undefined)
  assert.is(v.need, 5_000)
  assert.is(v.pass, true)
})

test.run()
