/**
 * compromise: an attacker holding centre c1's log key appends indicators to
 * c1's log (through c1's own server); the federation records the compromise
 * from the first of them (`cairn roster compromise` on c2, confirmed by c3:
 * 2 of 3) with a new key c1's operator made (`cairn roster new-key`); c1
 * restarts with it. Then the attacker, still holding the old key, tries to
 * append again. Pass: every node holds the same c1 log, in which c1's new
 * key revoked each attacker indicator (`key_compromise`); no witness
 * cosigns and no node takes anything the old key signs past the compromise
 * index; a provider's `cairn sync --genesis` holds none of the attacker's
 * indicators and all of c1's own; an auditor's `cairn verify --genesis`
 * passes and counts the attacker's entries as compromised.
 */
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { publishBodies, grantToken, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { signCheckpoint } from '../../protocol/checkpoint.ts'
import { encodeAddCheckpointRequest } from '../../protocol/witness-request.ts'
import { fromHex, sha256 } from '../../protocol/bytes.ts'
import { Fed, cairn, waitFor, seconds, sleep, outcome, expectLogSizeEverywhere, genesisSync, genesisVerify, heldInCopy, type Scenario } from './common.ts'

export const compromise: Scenario = {
  name: 'compromise',
  title: 'key compromise: the attacker\'s entries revoked, its key refused from then on',
  async run(ctx) {
    const records = ctx.quick ? 50 : 1000
    const bad = 5
    const fed = await Fed.start(ctx.dir, { names: ['c1', 'c2', 'c3'], federation: 'compromise.cairn', threshold: 2 })
    const problems: string[] = []
    try {
      const owner = fed.planned[0]!
      const expected: Record<string, number> = {}
      for (const [i, p] of fed.planned.entries()) {
        await publishBodies(fed.proc(i), Array.from({ length: records }, (_, j) => sampleIndicator(p.name, j)))
        expected[p.origin] = records
      }
      // The attacker, with c1's keys, appends through c1's server.
      const attackerSeed = fromHex((JSON.parse(readFileSync(join(owner.dir, 'keys.json'), 'utf8')) as { log_seed: string }).log_seed)
      const badBodies = Array.from({ length: bad }, (_, j) => sampleIndicator('attacker', j))
      await publishBodies(fed.proc(0), badBodies)
      const from = records
      expected[owner.origin] = records + bad
      await waitConverged(fed.procs.map((p) => p!.url), expected, 300_000)
      ctx.log(`the attacker appended ${bad} indicators to c1's log at ${from}..${from + bad - 1}; every node holds them`)

      // c1's operator stops the server, makes a new key; c2 proposes the compromise, c3 confirms.
      const t0 = Date.now()
      await fed.stop(0)
      const made = await cairn(['roster', 'new-key', '--dir', owner.dir])
      if (made.code !== 0) throw new Error(`cairn roster new-key failed: ${made.stderr.trim()}`)
      const key = /key ([0-9a-f]{64})/.exec(made.stdout)![1]!
      const witnessKey = /witness_key ([0-9a-f]{64})/.exec(made.stdout)![1]!
      const proposed = await cairn(['roster', 'compromise', 'c1', '--from', String(from), '--key', key, '--witness-key', witnessKey, '--dir', fed.planned[1]!.dir])
      if (proposed.code !== 0) throw new Error(`cairn roster compromise failed: ${proposed.stderr.trim()}`)
      const id = proposed.stdout.trim().split(/\s+/)[0]!
      const confirmed = await cairn(['attest', id, '--confirm', '--dir', fed.planned[2]!.dir])
      if (confirmed.code !== 0) throw new Error(`cairn attest --confirm failed: ${confirmed.stderr.trim()}`)
      await fed.start(0)
      // c1 revokes the attacker's indicators and confirms, under its new key.
      expected[owner.origin] = records + bad + bad + 1
      expected[fed.planned[1]!.origin] = records + 1
      expected[fed.planned[2]!.origin] = records + 1
      await waitConverged(fed.procs.map((p) => p!.url), expected, 120_000, (p) => ctx.log(`waiting: ${p.slice(0, 3).join('; ')}`))
      const recoveredMs = Date.now() - t0
      ctx.log(`compromise applied; c1 revoked the attacker's entries under its new key (${seconds(recoveredMs)} s)`)

      // The attacker tries again with the old key: a checkpoint past the compromise index.
      const size = expected[owner.origin]! + 1
      const forged = signCheckpoint({ origin: owner.origin, size, root: sha256(new TextEncoder().encode('attack')) }, { name: owner.origin, seed: attackerSeed })
      let refusals = 0
      for (const i of [1, 2]) {
        const res = await fetch(`${fed.proc(i).url}/witness/add-checkpoint`, {
          method: 'POST', headers: { authorization: `Bearer ${fed.proc(i).operatorToken}` },
          body: encodeAddCheckpointRequest({ oldSize: expected[owner.origin]!, proof: [], checkpoint: forged }),
        })
        if (res.status === 200) problems.push(`${fed.planned[i]!.name} cosigned a checkpoint of the compromised key`)
        else refusals++
      }
      // c1 keeps publishing under its new key.
      await publishBodies(fed.proc(0), [sampleIndicator('c1', records + 1)])
      expected[owner.origin]! += 1
      await waitConverged(fed.procs.map((p) => p!.url), expected, 120_000).catch((e) => problems.push((e as Error).message))
      await sleep(500)
      await expectLogSizeEverywhere(fed, owner.origin, expected[owner.origin]!, 'c1', problems)

      // A provider and an auditor that know only the genesis file.
      const provider = await grantToken(fed.proc(2), 'provider', 'compromise-provider')
      const auditor = await grantToken(fed.proc(1), 'auditor', 'compromise-auditor')
      const copy = join(ctx.dir, 'provider-copy')
      const sync = await genesisSync(fed, 2, copy, provider, problems)
      let kept = 0
      let own = 0
      if (sync.code === 0) {
        ;[kept, own] = heldInCopy(copy, badBodies, Array.from({ length: records }, (_, j) => sampleIndicator('c1', j))) as [number, number]
        if (kept > 0) problems.push(`the provider's copy still holds ${kept} of the attacker's indicators`)
        if (own !== records) problems.push(`the provider's copy holds ${own} of c1's ${records} own indicators`)
      }
      const verify = await genesisVerify(fed, 1, auditor, problems)
      const compromisedSeen = /(\d+) signed by a compromised key/.exec(verify.stdout + verify.stderr)?.[1]
      await waitFor('nothing more', () => true, 1)
      const figures = {
        records_per_log: records, attacker_entries: bad, compromise_from: from, recovered_s: seconds(recoveredMs),
        old_key_refused_by_witnesses: refusals, provider_sync_ok: sync.code === 0, attacker_indicators_in_copy: kept,
        own_indicators_in_copy: own, auditor_verify_ok: verify.code === 0, auditor_compromised_entries: Number(compromisedSeen ?? 0),
      }
      return outcome(problems, figures, `compromise from ${from} applied (2 of 3); ${bad} attacker indicators revoked by c1's new key in ${seconds(recoveredMs)} s; old key refused by ${refusals}/2 witnesses; provider copy holds ${kept} of them; auditor verify ${verify.code === 0 ? 'ok' : 'FAILED'}`)
    } finally {
      await fed.close()
    }
  },
}
