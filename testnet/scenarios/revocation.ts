/**
 * revocation reach: how long from `cairn revoke` on the owner's node until a
 * provider, running `cairn sync` in a loop against ANOTHER node, no longer
 * has the hash in its verified local copy. Also reports the node-to-node
 * part (until the other node serves the revocation), how long the CLI
 * commands themselves take, and the reach counted from the moment `cairn
 * revoke` returned (the revocation durable in the owner's log). Several
 * revocations, each of a different indicator.
 */
import { join } from 'node:path'
import { publishBodies, grantToken, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { loadLocalSet } from '../../client/local-copy.ts'
import { fromHex } from '../../protocol/bytes.ts'
import { Fed, logs, cairn, median, seconds, sleep, outcome, type Scenario } from './common.ts'

export const revocation: Scenario = {
  name: 'revocation',
  title: 'revocation reach: revoke on one node, gone from a provider syncing another',
  async run(ctx) {
    const records = ctx.quick ? 200 : 10_000
    const rounds = ctx.quick ? 2 : 5
    const fed = await Fed.start(ctx.dir, { names: ['r1', 'r2', 'r3'], federation: 'revocation.cairn' })
    const problems: string[] = []
    try {
      const owner = fed.planned[0]!
      const bodies = Array.from({ length: records }, (_, j) => sampleIndicator('r1', j))
      const ids = await publishBodies(fed.proc(0), bodies)
      for (const i of [1, 2]) await publishBodies(fed.proc(i), Array.from({ length: 20 }, (_, j) => sampleIndicator(fed.planned[i]!.name, j)))
      await waitConverged(fed.procs.map((p) => p!.url), { [owner.origin]: records, [fed.planned[1]!.origin]: 20, [fed.planned[2]!.origin]: 20 }, 300_000)
      const provider = await grantToken(fed.proc(1), 'provider', 'scenario-provider')
      const copy = join(ctx.dir, 'provider-copy')
      const sync = () => cairn(['sync', '--node', fed.proc(1).url, '--token', provider, '--dir', copy, '--genesis', fed.genesisPath, '--quiet'])
      const first = await sync()
      if (first.code !== 0) throw new Error(`the first cairn sync failed: ${first.stderr.trim()}`)
      ctx.log(`${records} indicators published on r1; the provider's first sync from r2 took ${seconds(first.ms)} s`)

      const reach: number[] = []
      const reachAck: number[] = []
      const revokeRuns: number[] = []
      const propagation: number[] = []
      const runs: number[] = []
      let size = records
      for (let k = 0; k < rounds; k++) {
        const j = Math.floor(((k + 0.5) / rounds) * records)
        const b = bodies[j]!
        const value = fromHex(b.value as string)
        if (!loadLocalSet(copy).has(b.alg as string, value)) throw new Error(`the provider's copy lacks indicator ${j} before its revocation`)
        const t0 = Date.now()
        const revoke = await cairn(['revoke', ids[j]!, '--reason', 'false_positive', '--dir', owner.dir])
        if (revoke.code !== 0) throw new Error(`cairn revoke failed: ${revoke.stderr.trim()}`)
        const tAck = Date.now()
        revokeRuns.push(tAck - t0)
        size++
        // Node to node: until r2 serves the revocation.
        const propagated = (async () => {
          for (;;) {
            if ((await logs(fed.proc(1))).find((r) => r.origin === owner.origin)?.size === size) return Date.now() - tAck
            await sleep(50)
          }
        })()
        let gone = false
        let loops = 0
        while (!gone && Date.now() - tAck < 120_000) {
          const r = await sync()
          loops++
          runs.push(r.ms)
          if (r.code !== 0) ctx.log(`a sync run failed (it will run again): ${r.stderr.trim().split('\n')[0]}`)
          gone = !loadLocalSet(copy).has(b.alg as string, value)
        }
        if (!gone) { problems.push(`indicator ${j} still in the provider's copy 120 s after its revocation`); break }
        reach.push(Date.now() - t0)
        reachAck.push(Date.now() - tAck)
        propagation.push(await propagated)
        ctx.log(`revocation ${k + 1}: gone from the provider's copy ${seconds(reach.at(-1)!)} s after cairn revoke started (${seconds(reachAck.at(-1)!)} s after it returned; ${loops} sync runs); r2 served it ${seconds(propagation.at(-1)!)} s after the revoke returned`)
      }
      const figures = {
        indicators: records, revocations: reach.length,
        reach_s_median: seconds(median(reach)), reach_s_max: seconds(Math.max(...reach)),
        reach_after_revoke_returned_s_median: seconds(median(reachAck)), revoke_cli_s_median: seconds(median(revokeRuns)),
        node_to_node_s_median: seconds(median(propagation)), sync_run_s_median: seconds(median(runs)),
        first_sync_s: seconds(first.ms),
      }
      return outcome(problems, figures, `cairn revoke → gone from a provider syncing another node: median ${figures.reach_s_median} s (max ${figures.reach_s_max}); after the revoke returned ${figures.reach_after_revoke_returned_s_median} s; node to node ${figures.node_to_node_s_median} s; one cairn sync run ${figures.sync_run_s_median} s`)
    } finally {
      await fed.close()
    }
  },
}
