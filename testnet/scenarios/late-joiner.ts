/**
 * late joiner: a new centre is voted in by the roster quorum (one member
 * proposes add_member, another confirms: 2 of 3), the owner of the big log is
 * then stopped, and the newcomer — a fresh node process outside the genesis
 * roster — syncs every log, the big one only from the members that are not
 * its owner. Pass: it holds every log at the members' checkpoints, sees
 * itself as an active member, and the members accept its first record.
 */
import { publishBodies, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { call } from '../processes.ts'
import { parseVerifierKey } from '../../protocol/note.ts'
import { toHex } from '../../protocol/bytes.ts'
import { Fed, logs, status, checkpointOf, bodyOf, waitFor, waitSizes, seconds, outcome, type Scenario } from './common.ts'

export const lateJoiner: Scenario = {
  name: 'late-joiner',
  title: 'a member voted in syncs from non-owners',
  async run(ctx) {
    const records = ctx.quick ? 2000 : 100_000
    const fed = await Fed.start(ctx.dir, { names: ['l1', 'l2', 'l3'], federation: 'joiner.cairn', outsiders: ['l4'], threshold: 2 })
    const problems: string[] = []
    try {
      const owner = fed.planned[0]!
      const newcomer = fed.outsiders[0]!
      const expected: Record<string, number> = { [owner.origin]: records }
      const t0 = Date.now()
      await Promise.all([
        publishBodies(fed.proc(0), Array.from({ length: records }, (_, j) => sampleIndicator('l1', j))),
        ...[1, 2].map(async (i) => {
          await publishBodies(fed.proc(i), Array.from({ length: 50 }, (_, j) => sampleIndicator(fed.planned[i]!.name, j)))
          expected[fed.planned[i]!.origin] = 50
        }),
      ])
      await waitConverged(fed.procs.map((p) => p!.url), expected, ctx.quick ? 120_000 : 600_000)
      ctx.log(`3 members hold ${records} records of l1 (${seconds(Date.now() - t0)} s); voting l4 in`)

      const m = newcomer.member
      const tVote = Date.now()
      const proposal = await call<{ id: string }>(fed.proc(1).url, fed.proc(1).operatorToken, 'POST', '/records', {
        type: 'roster', change: 'add_member', member: m.name, origin: m.origin,
        key: toHex(parseVerifierKey(m.vkey).publicKey), witness_key: toHex(parseVerifierKey(m.witness_vkey).publicKey), peer_id: m.peer_id, roles: ['publisher', 'witness'],
      })
      await call(fed.proc(2).url, fed.proc(2).operatorToken, 'POST', '/records', { type: 'attestation', target: proposal.id, opinion: 'confirm' })
      await waitFor('every member to apply the vote', async () => {
        for (const i of [0, 1, 2]) if (!(await status(fed.proc(i))).roster.members.some((x) => x.origin === m.origin && x.active)) return false
        return true
      }, 60_000, 200)
      const voteMs = Date.now() - tVote
      // The vote records themselves grow l2's and l3's logs: wait until they settle everywhere.
      expected[fed.planned[1]!.origin]! += 1
      expected[fed.planned[2]!.origin]! += 1
      await waitSizes(fed.procs.map((p) => p!), expected, 120_000)
      ctx.log(`vote applied on every member after ${seconds(voteMs)} s; stopping the owner l1 and starting l4`)

      await fed.stop(0)
      const tJoin = Date.now()
      const joiner = await fed.startOutsider(0)
      const startMs = Date.now() - tJoin
      await waitSizes([joiner], expected, ctx.quick ? 120_000 : 600_000)
      const syncMs = Date.now() - tJoin
      const s = await status(joiner)
      ctx.log(`l4 synced ${s.sync.entriesSynced} entries in ${seconds(syncMs)} s (${Math.round(s.sync.entriesSynced / ((syncMs - startMs) / 1000))} entries/s after its start)`)
      for (const p of fed.planned) {
        const mine = bodyOf(await checkpointOf(joiner.url, p.name))
        const theirs = bodyOf(await checkpointOf(fed.proc(1).url, p.name))
        if (mine !== theirs) problems.push(`l4's checkpoint of ${p.name} differs from l2's`)
      }
      if (!s.roster.members.some((x) => x.origin === m.origin && x.active)) problems.push('l4 does not see itself as an active member')
      if (s.sync.entriesSynced < records) problems.push(`l4 synced only ${s.sync.entriesSynced} entries`)

      // A member now: its first record reaches the others.
      await call(joiner.url, joiner.operatorToken, 'POST', '/records', sampleIndicator('l4', 0))
      await waitFor('l2 and l3 to accept l4\'s first record', async () => {
        for (const i of [1, 2]) if ((await logs(fed.proc(i))).find((r) => r.origin === m.origin)?.size !== 1) return false
        return true
      }, 60_000, 200).catch((e) => problems.push((e as Error).message))
      const figures = {
        records_in_owner_log: records, vote: '2 of 3 (proposal + 1 confirmation)', vote_applied_s: seconds(voteMs),
        joiner_start_s: seconds(startMs), joiner_sync_s: seconds(syncMs), entries_synced: s.sync.entriesSynced,
        entries_per_s: Math.round(s.sync.entriesSynced / ((syncMs - startMs) / 1000)), owner_running: false,
      }
      return outcome(problems, figures, `voted in (2 of 3) in ${seconds(voteMs)} s; synced ${s.sync.entriesSynced} entries from non-owners in ${seconds(syncMs)} s (${figures.entries_per_s}/s)`)
    } finally {
      await fed.close()
    }
  },
}
