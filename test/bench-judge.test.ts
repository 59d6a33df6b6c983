/**
 * The bench's verdicts (testnet/bench/report.ts judge): relative targets are
 * judged against the run's baselines (start and end mean); the Ed25519
 * baselines measured around a measure give the same target beside, never
 * the verdict; absolute targets ignore baselines.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judge, fastest, table, type Baselines, type Measured } from '../testnet/bench/report.ts'

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
  assert.equal(v.adjacent, { baseline: 'verify_per_s', library: 'node:crypto', need: 0.7 * 11_200 * 2, ratio: 16_000 / 22_400, pass: true })
  assert.is(v.ratioOf, 'raw verify/s × 2 cores (node:crypto, the faster library)')
})

test('ingest: the adjacent sign baseline, and the 20,000 floor in both', () => {
  const fast = { before: { sign_per_s: 40_000, verify_per_s: 1 }, after: { sign_per_s: 40_000, verify_per_s: 1 } }
  const v = judge({ key: 'ingest_per_s', value: 27_000, method: 'm', adjacent: fast }, run, 2, 1)
  assert.is(v.need, 21_000)
  assert.is(v.pass, true)
  assert.equal(v.adjacent, { baseline: 'sign_per_s', library: 'node:crypto', need: 28_000, ratio: 27_000 / 40_000, pass: false })
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

const sodium: Baselines = { ...run, libsodium_sign_per_s: 48_000, libsodium_verify_per_s: 17_500 }

test('the faster library sets the target: libsodium where it is faster, node:crypto where libsodium is slower or absent', () => {
  assert.equal(fastest(sodium, 'verify'), { value: 17_500, library: 'libsodium' })
  assert.equal(fastest(sodium, 'sign'), { value: 48_000, library: 'libsodium' })
  assert.equal(fastest({ ...run, libsodium_sign_per_s: 20_000, libsodium_verify_per_s: NaN }, 'sign'), { value: 30_000, library: 'node:crypto' })
  assert.equal(fastest({ ...run, libsodium_sign_per_s: 20_000, libsodium_verify_per_s: NaN }, 'verify'), { value: 12_000, library: 'node:crypto' })
  for (const key of ['sync_per_s', 'verify_per_s'] as const) {
    // 16,800 passes against node:crypto's 12,000 × 2 × 0.7 but not against libsodium's 17,500 × 2 × 0.7 = 24,500.
    const v = judge({ key, value: 16_800, method: 'm' }, sodium, 2, 1)
    assert.is(v.need, 0.7 * 17_500 * 2)
    assert.is(v.pass, false)
    assert.is(v.ratio, 16_800 / 35_000)
    assert.is(v.ratioOf, 'raw verify/s × 2 cores (libsodium, the faster library)')
    assert.match(v.target, 'libsodium verify/s × 2')
  }
  // One core: the two-core target counts one.
  assert.is(judge({ key: 'sync_per_s', value: 1, method: 'm' }, sodium, 1, 1).need, 0.7 * 17_500)
  const i = judge({ key: 'ingest_per_s', value: 30_000, method: 'm' }, sodium, 2, 1)
  assert.is(i.need, 0.7 * 48_000)
  assert.is(i.pass, false)
  assert.is(i.ratioOf, 'raw sign/s (1 core, libsodium, the faster library)')
})

test('adjacent baselines take the faster library measured around the measure', () => {
  const adjacent = {
    before: { sign_per_s: 30_000, verify_per_s: 12_000, libsodium_sign_per_s: 40_000, libsodium_verify_per_s: 16_000 },
    after: { sign_per_s: 30_000, verify_per_s: 12_000, libsodium_sign_per_s: 44_000, libsodium_verify_per_s: 18_000 },
  }
  const v = judge({ key: 'verify_per_s', value: 24_000, method: 'm', adjacent }, sodium, 2, 1)
  assert.equal(v.adjacent, { baseline: 'verify_per_s', library: 'libsodium', need: 0.7 * 17_000 * 2, ratio: 24_000 / 34_000, pass: true })
  assert.is(v.pass, false) // against the run's 17,500: 24,000 < 24,500
  // Adjacent node:crypto figures alone: the run's libsodium rates are not mixed in.
  const nodeOnly = { before: { sign_per_s: 30_000, verify_per_s: 12_000 }, after: { sign_per_s: 30_000, verify_per_s: 12_000 } }
  assert.is(judge({ key: 'verify_per_s', value: 24_000, method: 'm', adjacent: nodeOnly }, sodium, 2, 1).adjacent!.library, 'node:crypto')
})

test('sync against hypercore: ≥ 2.5 ×; the hypercore figure is a reference, not judged', () => {
  const ok = judge({ key: 'sync_vs_hypercore', value: 2.6, method: 'm', reference: { value: 7_000, what: 'hypercore' } }, sodium, 2, 1)
  assert.is(ok.need, 2.5)
  assert.is(ok.pass, true)
  const low = judge({ key: 'sync_vs_hypercore', value: 1.3, method: 'm' }, sodium, 2, 1)
  assert.is(low.pass, false)
  assert.match(low.gap!, '52 %')
  const hc = judge({ key: 'hypercore_replicate_per_s', value: 7_000, method: 'm' }, sodium, 2, 1)
  assert.is(hc.pass, null)
  assert.match(table([hc, low]), /hypercore_replicate_per_s .*REFERENCE/)
  assert.match(table([hc, low]), /sync_vs_hypercore .*FAIL/)
})

test.run()
