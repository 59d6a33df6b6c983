/**
 * The bench's verdicts (testnet/bench/report.ts judge): relative targets are
 * judged against the Ed25519 baselines measured around the measure when it
 * has them, with the run's start/end baselines kept beside; absolute targets
 * ignore baselines.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judge, table, type Baselines, type Measured } from '../testnet/bench/report.ts'

const run: Baselines = { sha256_per_s: 400_000, sign_per_s: 30_000, verify_per_s: 12_000, level_put_per_s: 300_000 }

test('a relative target uses the mean of the baselines measured before and after the measure', () => {
  const m: Measured = {
    key: 'verify_per_s', value: 16_000, method: 'm',
    adjacent: { before: { sign_per_s: 28_000, verify_per_s: 11_000 }, after: { sign_per_s: 26_000, verify_per_s: 11_400 } },
  }
  const v = judge(m, run, 2, 1)
  assert.is(v.baseline, 'adjacent')
  assert.is(v.need, 0.7 * 11_200 * 2)
  assert.is(v.ratio, 16_000 / 22_400)
  assert.is(v.pass, true)
  // The run's start/end mean would have asked for 16,800: kept beside, not used.
  assert.equal(v.run, { need: 0.7 * 12_000 * 2, ratio: 16_000 / 24_000, pass: false })
  assert.match(table([v]), '(adjacent)')
})

test('ingest is judged against the adjacent sign baseline, and the 20,000 floor still holds', () => {
  const adjacent = { before: { sign_per_s: 40_000, verify_per_s: 1 }, after: { sign_per_s: 40_000, verify_per_s: 1 } }
  const v = judge({ key: 'ingest_per_s', value: 27_000, method: 'm', adjacent }, run, 2, 1)
  assert.is(v.need, 28_000)
  assert.is(v.pass, false)
  assert.match(v.gap!, '96.4 %')
  assert.is(v.run!.pass, true)
  const slow = { before: { sign_per_s: 20_000, verify_per_s: 1 }, after: { sign_per_s: 20_000, verify_per_s: 1 } }
  assert.is(judge({ key: 'ingest_per_s', value: 19_000, method: 'm', adjacent: slow }, run, 2, 1).need, 20_000)
})

test('without adjacent baselines (or with unmeasured ones) the run baselines judge', () => {
  const plain = judge({ key: 'sync_per_s', value: 12_000, method: 'm' }, run, 2, 1)
  assert.is(plain.baseline, 'run')
  assert.is(plain.need, 16_800)
  assert.is(plain.run, undefined)
  const nan = { before: { sign_per_s: NaN, verify_per_s: NaN }, after: { sign_per_s: NaN, verify_per_s: NaN } }
  assert.is(judge({ key: 'sync_per_s', value: 12_000, method: 'm', adjacent: nan }, run, 2, 1).baseline, 'run')
})

test('absolute targets take no baseline', () => {
  const adjacent = { before: { sign_per_s: 1, verify_per_s: 1 }, after: { sign_per_s: 1, verify_per_s: 1 } }
  const v = judge({ key: 'proof_per_s', value: 6_000, method: 'm', adjacent }, run, 2, 1)
  assert.is(v.baseline, undefined)
  assert.is(v.need, 5_000)
  assert.is(v.pass, true)
})

test.run()
