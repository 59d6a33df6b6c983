/**
 * The bench harness (testnet/bench/run.ts) at a tiny scale, in its own cache
 * and output folder: every measure runs through its real path and the
 * results file is well-formed. No timing is asserted: only shapes, counts
 * and that every measure produced a number.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MEASURE_KEYS, TARGETS } from '../testnet/bench/report.ts'

const root = new URL('..', import.meta.url).pathname

test('a tiny bench run measures everything and writes well-formed results', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-smoke-'))
  try {
    const out = join(dir, 'results.json')
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'testnet/bench/run.ts'), '--scale', '0.0005', '--cache', join(dir, 'cache'), '--out', out], {
      cwd: root, encoding: 'utf8', timeout: 12 * 60_000, env: { ...process.env, CAIRN_LOG_LEVEL: 'silent' },
    })
    assert.is(r.status, 0, `bench exited with ${r.status}:\n${r.stderr.slice(-3000)}`)
    for (const k of MEASURE_KEYS) assert.ok(r.stdout.includes(k), `the table names ${k}`)

    const res = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown> & {
      targets: Record<string, { pass: boolean | null; need: number }>
      method: Record<string, string>
      not_measured: Record<string, string>
      fixtures: Record<string, unknown>
    }
    assert.is(res.scale, 0.0005)
    assert.type(res.date, 'string')
    assert.ok(!Number.isNaN(Date.parse(res.date as string)))
    assert.type(res.cores, 'number')
    assert.match(res.node_version as string, /^v\d+\./)
    for (const b of ['baseline_sha256_per_s', 'baseline_sign_per_s', 'baseline_verify_per_s', 'baseline_level_put_per_s', 'baseline_libsodium_sign_per_s', 'baseline_libsodium_verify_per_s']) {
      assert.ok(typeof res[b] === 'number' && (res[b] as number) > 0, `${b} is a positive number`)
    }
    assert.ok(['libsodium', 'node:crypto'].includes(res.ed25519_backend as string), 'results name the Ed25519 library cairn ran on')
    assert.ok(r.stdout.includes('libsodium (one core, same run): sign '), 'the output gives the libsodium baselines')
    for (const k of MEASURE_KEYS) {
      assert.ok(k in res, `results has ${k}`)
      assert.ok(typeof res[k] === 'number' && Number.isFinite(res[k]), `${k} was measured: ${res.not_measured[k] ?? ''}`)
      assert.ok(res.method[k]!.length > 20, `${k} says how it was measured`)
      if (TARGETS[k].referenceOnly) {
        assert.is(res.targets[k]!.pass, null, `${k} is a reference, not judged`)
        assert.is(res.targets[k]!.need, null, `${k} has no threshold`)
      } else {
        assert.type(res.targets[k]!.pass, 'boolean')
        assert.type(res.targets[k]!.need, 'number')
      }
    }
    const ceilings = res.ceilings as Record<string, number>
    for (const c of ['sign_job_per_s', 'open_job_per_s', 'verify_only_per_s', 'sign_job_one_thread_per_s', 'open_job_one_thread_per_s', 'sign_job_cpu_us', 'store_append_per_s', 'store_append_cpu_us', 'ingest_bound_per_s']) {
      assert.ok(typeof ceilings[c] === 'number' && ceilings[c]! > 0, `ceilings.${c} is a positive number`)
    }
    // The signatures alone on all workers, against the one-core rate and the sync and verify target.
    const sig = res.signature_ceiling as unknown as { verify_only_per_s: number; backend: string; over_one_core: number; target_of_it: number }
    assert.ok(sig.verify_only_per_s > 0 && sig.over_one_core > 0 && sig.target_of_it > 0, 'results give the signature ceiling')
    assert.is(sig.backend, res.ed25519_backend, 'the signature ceiling names the library the workers ran')
    assert.match(r.stdout, /signatures alone \(strict Ed25519 with (libsodium|node:crypto), (all \d+ workers at once|in process)\): /)
    for (const k of ['ingest_per_s', 'sync_per_s', 'verify_per_s']) {
      const c = (res.targets[k] as unknown as { ceiling?: { ceiling: number; target_of_ceiling: number } }).ceiling
      assert.ok(c && c.ceiling > 0 && c.target_of_ceiling > 0, `${k} is set against its ceiling`)
      assert.ok(r.stdout.includes(`  ${k.padEnd(13)} `), `the ceilings section names ${k}`)
      // The Ed25519 baselines measured around the measure, and the target against them, beside the verdict.
      const t = res.targets[k] as unknown as { adjacent_baselines: Record<string, Record<string, number>>; against_adjacent_baselines: { need: number } }
      for (const side of ['before', 'after']) for (const b of ['sign_per_s', 'verify_per_s', 'libsodium_sign_per_s', 'libsodium_verify_per_s']) assert.ok(t.adjacent_baselines[side]![b]! > 0, `${k}: ${side} ${b}`)
      assert.ok(t.against_adjacent_baselines.need > 0)
      assert.match(r.stdout, new RegExp(`${k}: (libsodium|node:crypto) ${k === 'ingest_per_s' ? 'sign' : 'verify'}/s measured just before it `), `the output gives the baselines around ${k}`)
      // The ratio names the library the target took (the faster of the two measured in the run).
      assert.match((res.targets[k] as unknown as { ratio_of: string }).ratio_of, /(libsodium|node:crypto), the faster library\)$/)
    }
    const hc = res.targets.sync_vs_hypercore as unknown as { need: number; baseline_in_run: { value: number } }
    assert.is(hc.need, 2.5)
    assert.is(hc.baseline_in_run.value, res.hypercore_replicate_per_s)
    assert.ok(Math.abs((res.sync_vs_hypercore as number) - (res.sync_per_s as number) / (res.hypercore_replicate_per_s as number)) < 1e-9, 'sync_vs_hypercore is sync over hypercore of the same run')
    assert.equal(res.not_measured, {})
    assert.ok(typeof res.fixtures.how === 'string')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
