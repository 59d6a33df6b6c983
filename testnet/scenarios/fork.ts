/**
 * fork: a real fork of f1's log, then its resolution (spec/federation.md §10.10).
 *
 *   1. three nodes (threshold 2); f1 publishes; `cairn node backup` of f1;
 *   2. f3 cut off; f1 publishes branch A; f2 holds it (its checkpoint: the
 *      one that will stand);
 *   3. kill -9 f1, restore the backup, cut f2 off; f1 (started, its own-log
 *      check answered by f3 only) publishes branch B of the same length;
 *      f3 holds it;
 *   4. heal: every node sees two checkpoints of one size and freezes f1's
 *      log — f2 holds A, f1 and f3 hold B;
 *   5. f1's operator makes a new key (`cairn roster new-key`); f2 proposes
 *      `cairn roster resolve-fork f1 --checkpoint <A> --key …`, f3 confirms.
 *
 * Pass: every node ends with f1's log unfrozen, at the same size and root,
 * holding branch A and none of B; f1 writes under its new key from N and
 * keeps publishing; every checkpoint is cosigned by both other members; a
 * provider's `cairn sync --genesis` (from f3, which held B) holds A's
 * indicators and none of B's; an auditor's `cairn verify --genesis` passes;
 * a resolution f1 proposes about itself is refused with one line.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { publishBodies, grantToken, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { Fed, cairn, logs, status, checkpointOf, waitFor, waitSizes, seconds, outcome, genesisSync, genesisVerify, heldInCopy, type Scenario } from './common.ts'

export const fork: Scenario = {
  name: 'fork',
  title: 'a forked log frozen everywhere, resolved by the federation: one branch everywhere, unfrozen, new key',
  async run(ctx) {
    const before = ctx.quick ? 20 : 500
    const branch = ctx.quick ? 5 : 200
    const names = ['f1', 'f2', 'f3']
    const blockDir = join(ctx.dir, 'blocklists')
    mkdirSync(blockDir, { recursive: true })
    const blockFile = (name: string) => join(blockDir, `${name}.txt`)
    for (const n of names) writeFileSync(blockFile(n), '')
    const fed = await Fed.start(ctx.dir, { names, federation: 'fork.cairn', threshold: 2, env: (name) => ({ CAIRN_TEST_BLOCKLIST: blockFile(name) }) })
    const problems: string[] = []
    try {
      const [f1, f2, f3] = fed.planned as [typeof fed.planned[0], typeof fed.planned[0], typeof fed.planned[0]]
      const peerIds = fed.planned.map((p) => p.member.peer_id)
      const block = (blocks: Record<number, number[]>) => {
        for (const [i, n] of names.entries()) writeFileSync(blockFile(n), (blocks[i] ?? []).map((j) => peerIds[j]).join('\n') + '\n')
      }
      const f1Log = async (i: number) => (await logs(fed.proc(i))).find((l) => l.origin === f1.origin)!
      const expected: Record<string, number> = { [f1.origin]: before, [f2.origin]: 10, [f3.origin]: 10 }
      await publishBodies(fed.proc(0), Array.from({ length: before }, (_, j) => sampleIndicator('f1', j)))
      for (const i of [1, 2]) await publishBodies(fed.proc(i), Array.from({ length: 10 }, (_, j) => sampleIndicator(names[i]!, j)))
      await waitConverged(fed.procs.map((p) => p!.url), expected, 120_000)
      const backupFile = join(ctx.dir, 'f1.backup')
      const b = await cairn(['node', 'backup', '--dir', f1.dir, '--out', backupFile])
      if (b.code !== 0) throw new Error(`cairn node backup failed: ${b.stderr.trim()}`)

      // 2. Branch A, held by f1 and f2 only.
      block({ 0: [2], 1: [2], 2: [0, 1] })
      await waitFor('f3 cut off', async () => (await status(fed.proc(2))).peers.length === 0, 30_000, 200)
      const branchA = Array.from({ length: branch }, (_, j) => sampleIndicator('f1-standing', j))
      await publishBodies(fed.proc(0), branchA)
      const n = before + branch
      await waitFor('f2 holds branch A', async () => (await f1Log(1)).size === n, 60_000, 200)
      const standing = await checkpointOf(fed.proc(1).url, f1.name)
      if (!standing || Number(standing.split('\n')[1]) !== n) throw new Error(`f2's checkpoint of f1 is not of size ${n}`)
      const standingFile = join(ctx.dir, 'standing.checkpoint')
      writeFileSync(standingFile, standing)
      ctx.log(`branch A: f1 and f2 hold ${n} entries of f1; f3 holds ${(await f1Log(2)).size}`)

      // 3. f1 restored from the backup, cut off from f2: branch B, held by f1 and f3.
      await fed.stop(0, 'SIGKILL')
      rmSync(f1.dir, { recursive: true, force: true })
      const rs = await cairn(['node', 'restore', backupFile, '--dir', f1.dir])
      if (rs.code !== 0) throw new Error(`cairn node restore failed: ${rs.stderr.trim()}`)
      block({ 0: [1], 1: [0, 2], 2: [1] })
      await fed.start(0)
      const branchB = Array.from({ length: branch }, (_, j) => sampleIndicator('f1-losing', j))
      await publishBodies(fed.proc(0), branchB)
      await waitFor('f3 holds branch B', async () => (await f1Log(2)).size === n, 60_000, 200)
      ctx.log(`branch B: f1 and f3 hold another ${n} entries of f1`)

      // 4. Heal: the fork is seen, f1's log freezes everywhere.
      block({})
      await waitFor('f1\'s log frozen on every node', async () => (await Promise.all([0, 1, 2].map(f1Log))).every((l) => l.frozen), 60_000, 200)
      ctx.log('healed: f1\'s log is frozen on every node')

      // 5. The resolution: f1 makes a new key, f2 proposes, f3 confirms.
      const self = await cairn(['roster', 'resolve-fork', 'f1', '--checkpoint', standingFile, '--key', 'aa'.repeat(32), '--dir', f1.dir])
      const selfLine = self.stderr.trim()
      if (self.code !== 1 || !selfLine.startsWith('error ') || selfLine.includes('\n')) problems.push(`a resolution f1 proposes about itself: exit ${self.code}, ${JSON.stringify(selfLine.slice(0, 200))}`)
      const t0 = Date.now()
      const made = await cairn(['roster', 'new-key', '--dir', f1.dir])
      if (made.code !== 0) throw new Error(`cairn roster new-key failed: ${made.stderr.trim()}`)
      const key = /key ([0-9a-f]{64})/.exec(made.stdout)![1]!
      const witnessKey = /witness_key ([0-9a-f]{64})/.exec(made.stdout)![1]!
      const proposed = await cairn(['roster', 'resolve-fork', 'f1', '--checkpoint', standingFile, '--key', key, '--witness-key', witnessKey, '--dir', f2.dir])
      if (proposed.code !== 0) throw new Error(`cairn roster resolve-fork failed: ${proposed.stderr.trim()}`)
      const id = proposed.stdout.trim().split(/\s+/)[0]!
      const confirmed = await cairn(['attest', id, '--confirm', '--dir', f3.dir])
      if (confirmed.code !== 0) throw new Error(`cairn attest --confirm failed: ${confirmed.stderr.trim()}`)
      // f1 confirms under its new key once its log stands on branch A: entry N.
      expected[f1.origin] = n + 1
      expected[f2.origin] = 11
      expected[f3.origin] = 11
      // Sizes first: f2's checkpoint with the proposal may carry f1's line under its old witness key (valid for its time),
      // which the outside check (testnet/convergence.ts) does not know; the records below get lines under the new key.
      await waitSizes(fed.procs.map((p) => p!), expected, 120_000)
      const resolvedMs = Date.now() - t0
      ctx.log(`resolved in ${seconds(resolvedMs)} s: every node holds f1's log at ${n + 1}`)

      // f1 keeps publishing under its new key.
      await publishBodies(fed.proc(0), Array.from({ length: 5 }, (_, j) => sampleIndicator('f1-after', j)))
      expected[f1.origin] = n + 6
      for (const i of [1, 2]) {
        await publishBodies(fed.proc(i), [sampleIndicator(`${names[i]}-after`, 0)])
        expected[fed.planned[i]!.origin]! += 1
      }
      await waitConverged(fed.procs.map((p) => p!.url), expected, 120_000).catch((e) => problems.push((e as Error).message))
      const rows = await Promise.all([0, 1, 2].map(f1Log))
      const frozen = rows.filter((l) => l.frozen).length
      if (frozen) problems.push(`f1's log is still frozen on ${frozen} node(s)`)
      const bodies = await Promise.all([0, 1, 2].map(async (i) => (await checkpointOf(fed.proc(i).url, f1.name))?.split('\n\n')[0]))
      if (new Set(bodies).size !== 1) problems.push(`the nodes hold different checkpoints of f1: ${bodies.map((x) => x?.split('\n').slice(1).join(' ')).join(' | ')}`)
      const latest = await checkpointOf(fed.proc(0).url, f1.name)
      const f1Status = await status(fed.proc(0))

      // Clients knowing only the genesis file, one of them from f3, which held branch B.
      const provider = await grantToken(fed.proc(2), 'provider', 'fork-provider')
      const auditor = await grantToken(fed.proc(0), 'auditor', 'fork-auditor')
      const copy = join(ctx.dir, 'provider-copy')
      const sync = await genesisSync(fed, 2, copy, provider, problems)
      let standingHeld = 0
      let losingHeld = 0
      if (sync.code === 0) {
        ;[standingHeld, losingHeld] = heldInCopy(copy, branchA, branchB) as [number, number]
        if (standingHeld !== branch) problems.push(`the provider's copy holds ${standingHeld} of branch A's ${branch} indicators`)
        if (losingHeld) problems.push(`the provider's copy holds ${losingHeld} of branch B's indicators`)
      }
      const verify = await genesisVerify(fed, 0, auditor, problems)
      const figures = {
        entries_before_fork: before, branch_length: branch, standing_size: n, resolved_s: seconds(resolvedMs),
        frozen_after: frozen, same_checkpoint_everywhere: new Set(bodies).size === 1, final_size_f1: expected[f1.origin]!,
        cosignatures_f1: latest ? latest.split('\n\n')[1]!.trim().split('\n').length - 1 : 0,
        f1_equivocations_seen: f1Status.sync.equivocations, provider_sync_ok: sync.code === 0,
        standing_in_copy: standingHeld, losing_in_copy: losingHeld, auditor_verify_ok: verify.code === 0,
      }
      return outcome(problems, figures, `fork at ${before} (branches of ${branch}); resolution applied and every node on branch A in ${seconds(resolvedMs)} s; frozen after ${frozen}; provider copy holds ${losingHeld} of branch B; auditor verify ${verify.code === 0 ? 'ok' : 'FAILED'}`)
    } finally {
      await fed.close()
    }
  },
}
