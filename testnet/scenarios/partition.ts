/**
 * partition: five nodes split 3|2 by the harness, both sides publish, the split is checked to hold (neither side learns the other's
 * new entries), then it heals; reports how long the federation takes to hold
 * every log everywhere again, and to be fully cosigned.
 *
 * The split: on loopback, each node's test-only blocklist file
 * (CAIRN_TEST_BLOCKLIST) names the other side's peer ids; with --netns, the
 * network itself (Netns.cut: an unreachable route to each node of the other
 * side in every namespace, and the connections across reset), while the
 * harness still reaches every node through the bridge.
 */
import { join } from 'node:path'
import { writeFileSync, mkdirSync } from 'node:fs'
import { publishBodies, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { Fed, logs, status, waitFor, seconds, sleep, outcome, layout, type Scenario } from './common.ts'

export const partition: Scenario = {
  name: 'partition',
  title: 'split 3|2, publish on both sides, heal',
  async run(ctx) {
    const perNode = ctx.quick ? 100 : 4000
    const names = ['p1', 'p2', 'p3', 'p4', 'p5']
    const blockDir = join(ctx.dir, 'blocklists')
    mkdirSync(blockDir, { recursive: true })
    const blockFile = (name: string) => join(blockDir, `${name}.txt`)
    const fed = await Fed.start(ctx.dir, { names, federation: 'partition.cairn', env: (name) => (layout.netns ? undefined : { CAIRN_TEST_BLOCKLIST: blockFile(name) }) })
    const problems: string[] = []
    try {
      const all = names.map((_, i) => i)
      const sideA = [0, 1, 2]
      const sideB = [3, 4]
      const urls = () => all.map((i) => fed.proc(i).url)
      const expected: Record<string, number> = {}
      const publish = async (i: number, n: number, tag: string) => {
        const p = fed.planned[i]!
        await publishBodies(fed.proc(i), Array.from({ length: n }, (_, j) => sampleIndicator(`${p.name}-${tag}`, j)))
        expected[p.origin] = (expected[p.origin] ?? 0) + n
      }
      await Promise.all(all.map((i) => publish(i, 20, 'before')))
      ctx.log('5 nodes up')
      await waitConverged(urls(), expected, 120_000)
      ctx.log('5 nodes converged; splitting 3|2')

      const peerIds = fed.planned.map((p) => p.member.peer_id)
      const tSplit = Date.now()
      if (fed.net) fed.net.cut(sideA, sideB)
      else {
        for (const i of sideA) writeFileSync(blockFile(names[i]!), sideB.map((j) => peerIds[j]).join('\n') + '\n')
        for (const i of sideB) writeFileSync(blockFile(names[i]!), sideA.map((j) => peerIds[j]).join('\n') + '\n')
      }
      const crossLinks = async () => {
        let n = 0
        for (const [mine, theirs] of [[sideA, sideB], [sideB, sideA]] as const) {
          for (const i of mine) {
            const s = await status(fed.proc(i))
            n += s.peers.filter((p) => theirs.some((j) => peerIds[j] === p.peerId)).length
          }
        }
        return n
      }
      await waitFor('no connection across the split', async () => (await crossLinks()) === 0, 30_000, 200)
      const splitMs = Date.now() - tSplit
      const before = { ...expected }

      ctx.log(`split after ${seconds(splitMs)} s; publishing ${perNode} records on each node`)
      await Promise.all(all.map((i) => publish(i, perNode, 'during')))
      const sideHolds = async (side: number[]) => {
        for (const i of side) {
          const rows = await logs(fed.proc(i))
          for (const j of side) if (rows.find((r) => r.origin === fed.planned[j]!.origin)?.size !== expected[fed.planned[j]!.origin]) return false
        }
        return true
      }
      const tSides = Date.now()
      await waitFor('each side to hold its own logs', async () => (await sideHolds(sideA)) && (await sideHolds(sideB)), 300_000, 200)
      const sidesMs = Date.now() - tSides
      await sleep(3000) // long enough for gossip and several status rounds to leak, if anything leaked
      let leaked = 0
      for (const [mine, theirs] of [[sideA, sideB], [sideB, sideA]] as const) {
        for (const i of mine) {
          const rows = await logs(fed.proc(i))
          for (const j of theirs) {
            const size = rows.find((r) => r.origin === fed.planned[j]!.origin)?.size
            if (size !== before[fed.planned[j]!.origin]) {
              leaked++
              problems.push(`${names[i]} holds ${names[j]}'s log at ${size} during the split (before the split: ${before[fed.planned[j]!.origin]})`)
            }
          }
        }
      }
      ctx.log(`each side holds its own logs (${seconds(sidesMs)} s); nothing crossed: ${leaked === 0}; healing`)

      const tHeal = Date.now()
      if (fed.net) fed.net.heal()
      else for (const n of names) writeFileSync(blockFile(n), '')
      await waitFor('every node connected to the other four', async () => {
        for (const i of all) if ((await status(fed.proc(i))).peers.length < 4) return false
        return true
      }, 120_000, 100)
      const reconnectMs = Date.now() - tHeal
      await waitFor('every node to hold every log again', async () => {
        for (const i of all) {
          const rows = await logs(fed.proc(i))
          for (const [origin, size] of Object.entries(expected)) if (rows.find((r) => r.origin === origin)?.size !== size) return false
        }
        return true
      }, 300_000, 100)
      const healDataMs = Date.now() - tHeal
      await waitConverged(urls(), expected, 300_000)
      const healMs = Date.now() - tHeal
      for (const i of all) if (!fed.alive(i)) problems.push(`${names[i]} exited`)
      const figures = {
        nodes: 5, split: '3|2', split_by: fed.net ? 'network' : 'blocklist', records_per_node_during_split: perNode, records_total: Object.values(expected).reduce((a, b) => a + b, 0),
        split_effective_s: seconds(splitMs), sides_converged_s: seconds(sidesMs), leaked_logs: leaked,
        heal_to_reconnected_s: seconds(reconnectMs), heal_to_all_entries_s: seconds(healDataMs), heal_to_converged_s: seconds(healMs),
      }
      return outcome(problems, figures, `${perNode * 5} records during a 3|2 split; after heal: all entries in ${seconds(healDataMs)} s, fully cosigned in ${seconds(healMs)} s`)
    } finally {
      await fed.close()
    }
  },
}
