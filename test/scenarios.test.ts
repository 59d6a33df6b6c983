/**
 * The fault scenarios of testnet/scenarios in their short form (smaller
 * counts, same checks), each against real node processes: crash, partition,
 * equivocation, intruder, garbage, late joiner, revocation reach. Figures are
 * printed, never asserted; `npm run scenarios` runs the full versions.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SCENARIOS, runScenario } from '../testnet/scenarios/index.ts'
import { killAll } from '../testnet/scenarios/common.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-scenarios-test-'))

test.after(async () => {
  await killAll()
  rmSync(dir, { recursive: true, force: true })
})

for (const s of SCENARIOS) {
  test(`${s.name}: ${s.title} (short)`, async () => {
    const r = await runScenario(s, { quick: true, dir: join(dir, s.name) })
    console.log(`${r.result} ${s.name} (${Math.round(r.seconds)} s): ${r.summary}`)
    assert.ok(r.result === 'PASS', `${s.name} failed:\n${r.problems.join('\n')}`)
  })
}

test.run()
