/**
 * rotate: a centre rotates its log and witness keys with the CLI while the
 * federation runs (`cairn roster rotate-key`, another member confirms with
 * `cairn attest --confirm`: 2 of 3), then keeps publishing. Pass: its log
 * pauses between the proposal and the quorum (publishing is refused, not
 * lost), the node takes the new keys up without a restart or a manual edit,
 * every node holds every log at the same checkpoint cosigned by both others,
 * a checkpoint signed with the old key past the cut-over is refused by every
 * witness, a provider's `cairn sync --genesis` and an auditor's `cairn verify
 * --genesis` succeed, and the node restarts with the rotated keys.
 */
import { join } from 'node:path'
import { publishBodies, grantToken, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { call } from '../processes.ts'
import { signCheckpoint } from '../../protocol/checkpoint.ts'
import { encodeAddCheckpointRequest } from '../../protocol/witness-request.ts'
import { fromHex } from '../../protocol/bytes.ts'
import { sha256 } from '../../protocol/bytes.ts'
import { readFileSync } from 'node:fs'
import { Fed, logs, status, cairn, waitFor, seconds, outcome, expectLogSizeEverywhere, genesisSync, genesisVerify, genesisLookup, type Scenario } from './common.ts'

export const rotate: Scenario = {
  name: 'rotate',
  title: 'key rotation with a cut-over, by the CLI, while publishing',
  async run(ctx) {
    const records = ctx.quick ? 100 : 2000
    const fed = await Fed.start(ctx.dir, { names: ['k1', 'k2', 'k3'], federation: 'rotate.cairn', threshold: 2 })
    const problems: string[] = []
    try {
      const owner = fed.planned[0]!
      const expected: Record<string, number> = {}
      for (const [i, p] of fed.planned.entries()) {
        await publishBodies(fed.proc(i), Array.from({ length: records }, (_, j) => sampleIndicator(p.name, j)))
        expected[p.origin] = records
      }
      await waitConverged(fed.procs.map((p) => p!.url), expected, 300_000)
      const oldSeed = fromHex((JSON.parse(readFileSync(join(owner.dir, 'keys.json'), 'utf8')) as { log_seed: string }).log_seed)
      ctx.log(`3 logs of ${records} records everywhere; k1 rotates its log and witness keys`)

      const t0 = Date.now()
      const proposed = await cairn(['roster', 'rotate-key', '--witness', '--dir', owner.dir])
      if (proposed.code !== 0) throw new Error(`cairn roster rotate-key failed: ${proposed.stderr.trim()}`)
      const id = proposed.stdout.trim().split(/\s+/)[0]!
      const cutover = records + 1 // the proposal is entry `records`; the new key signs from the next one
      const paused = await call(fed.proc(0).url, fed.proc(0).operatorToken, 'POST', '/records', sampleIndicator('k1', records + 10)).then(() => 'accepted', (e) => String((e as Error).message))
      if (paused === 'accepted') problems.push('k1 accepted a record between its rotation proposal and the quorum')
      const confirmed = await cairn(['attest', id, '--confirm', '--dir', fed.planned[1]!.dir])
      if (confirmed.code !== 0) throw new Error(`cairn attest --confirm failed: ${confirmed.stderr.trim()}`)
      // k1 takes the change up by itself: a confirmation under the new key (entry records + 1).
      expected[owner.origin] = records + 2
      expected[fed.planned[1]!.origin] = records + 1
      await waitFor('k1 to sign with its new key', async () => (await logs(fed.proc(0))).find((l) => l.origin === owner.origin)!.size >= records + 2, 60_000, 200)
      const appliedMs = Date.now() - t0
      ctx.log(`rotation applied and taken up in ${seconds(appliedMs)} s; k1 publishes ${records} more`)
      await publishBodies(fed.proc(0), Array.from({ length: records }, (_, j) => sampleIndicator('k1', records + 100 + j)))
      await publishBodies(fed.proc(2), Array.from({ length: 10 }, (_, j) => sampleIndicator('k3', records + j)))
      expected[owner.origin] = 2 * records + 2
      expected[fed.planned[2]!.origin] = records + 10
      await waitConverged(fed.procs.map((p) => p!.url), expected, 300_000, (p) => ctx.log(`waiting: ${p.slice(0, 3).join('; ')}`))
      const convergedMs = Date.now() - t0

      // The old key past the cut-over: every witness refuses it (its signature is checked before anything else).
      const size = expected[owner.origin]! + 1
      const forged = signCheckpoint({ origin: owner.origin, size, root: sha256(new TextEncoder().encode('forged')) }, { name: owner.origin, seed: oldSeed })
      let refusals = 0
      for (const i of [1, 2]) {
        const res = await fetch(`${fed.proc(i).url}/witness/add-checkpoint`, {
          method: 'POST', headers: { authorization: `Bearer ${fed.proc(i).operatorToken}` },
          body: encodeAddCheckpointRequest({ oldSize: expected[owner.origin]!, proof: [], checkpoint: forged }),
        })
        if (res.status === 200) problems.push(`${fed.planned[i]!.name} cosigned a checkpoint signed with k1's old key past the cut-over`)
        else refusals++
      }
      await expectLogSizeEverywhere(fed, owner.origin, expected[owner.origin]!, 'k1', problems)

      // Clients that know only the genesis file.
      const provider = await grantToken(fed.proc(1), 'provider', 'rotate-provider')
      const auditor = await grantToken(fed.proc(2), 'auditor', 'rotate-auditor')
      const copy = join(ctx.dir, 'provider-copy')
      const sync = await genesisSync(fed, 1, copy, provider, problems)
      const verify = await genesisVerify(fed, 2, auditor, problems)
      // A value k1 published under its new key, looked up with only the genesis file.
      const lookup = await genesisLookup(fed, 2, auditor, sampleIndicator('k1', records + 100), problems)

      // A restart with the rotated keys in keys.json (the start-up check reads the roster after its changes).
      await fed.stop(0)
      await fed.start(0)
      await publishBodies(fed.proc(0), [sampleIndicator('k1', 10 * records)])
      expected[owner.origin]! += 1
      await waitConverged(fed.procs.map((p) => p!.url), expected, 120_000).catch((e) => problems.push(`after k1's restart: ${(e as Error).message}`))
      const s = await status(fed.proc(1))
      const figures = {
        records_per_log: records, cut_over_index: cutover, applied_s: seconds(appliedMs), converged_s: seconds(convergedMs),
        paused_publish_refused: paused !== 'accepted', old_key_refused_by_witnesses: refusals, provider_sync_ok: sync.code === 0, auditor_verify_ok: verify.code === 0, auditor_lookup_ok: lookup.code === 0,
        restart_ok: problems.every((p) => !p.startsWith('after k1')), proposals_applied: s.roster.proposals.filter((p) => p.applied).length,
      }
      return outcome(problems, figures, `rotated k1's keys (cut-over at ${cutover}) in ${seconds(appliedMs)} s; converged with full cosignatures in ${seconds(convergedMs)} s; old key refused by ${refusals}/2 witnesses; provider sync ${sync.code === 0 ? 'ok' : 'FAILED'}, auditor verify ${verify.code === 0 ? 'ok' : 'FAILED'}, lookup ${lookup.code === 0 ? 'ok' : 'FAILED'}`)
    } finally {
      await fed.close()
    }
  },
}
