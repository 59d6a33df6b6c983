/**
 * restore: backup → more records → kill -9 → wipe → restore → publish at once.
 *
 *   1. three nodes; r1 publishes; a provider syncs a verified copy from r2;
 *   2. `cairn node backup` of the RUNNING r1, while r1 keeps publishing
 *      (the figure: the slowest publish during the backup);
 *   3. r1 publishes "an hour's worth" of records more, and revokes one;
 *      every node holds them;
 *   4. kill -9 r1, delete its directory, `cairn node restore` the backup;
 *      bad restores first: a truncated and an altered copy, a non-empty
 *      directory (each one line, exit 1, nothing written);
 *   5. start r1 and publish at once: new indicators and a revocation of a
 *      record written AFTER the backup (only valid if r1 got it back first).
 *
 * Pass: every node ends with the same sizes and roots, every checkpoint
 * cosigned by both other members, no log frozen anywhere, no equivocation
 * counted, r1's new records follow the whole log (not the backup), and the
 * provider's `cairn sync --genesis` copy holds every live record of r1 and
 * none of the revoked ones; `cairn verify --genesis` passes.
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { publishBodies, grantToken, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { call } from '../processes.ts'
import { openLocalCopy } from '../../client/local-copy.ts'
import { Fed, cairn, logs, status, seconds, sleep, outcome, type Scenario } from './common.ts'

export const restore: Scenario = {
  name: 'restore',
  title: 'backup, kill -9, restore, publish at once',
  async run(ctx) {
    const before = ctx.quick ? 2000 : 20_000
    const after = ctx.quick ? 3000 : 50_000
    const atOnce = ctx.quick ? 200 : 2000
    const problems: string[] = []
    const fed = await Fed.start(ctx.dir, { names: ['r1', 'r2', 'r3'], federation: 'restore.cairn' })
    try {
      const r1 = fed.planned[0]!
      const urls = () => fed.procs.map((p) => p!.url)
      const expected: Record<string, number> = {}
      const idsBefore = await publishBodies(fed.proc(0), Array.from({ length: before }, (_, j) => sampleIndicator('r1', j)))
      for (const i of [1, 2]) {
        await publishBodies(fed.proc(i), Array.from({ length: 40 }, (_, j) => sampleIndicator(fed.planned[i]!.name, j)))
        expected[fed.planned[i]!.origin] = 40
      }
      expected[r1.origin] = before
      await waitConverged(urls(), expected, 120_000)
      const provider = await grantToken(fed.proc(1), 'provider', 'restore-provider')
      const copy = join(ctx.dir, 'provider-copy')
      const sync = () => cairn(['sync', '--node', fed.proc(1).url, '--token', provider, '--dir', copy, '--genesis', fed.genesisPath, '--quiet'])
      const first = await sync()
      if (first.code !== 0) throw new Error(`the provider's first sync failed: ${first.stderr.trim()}`)
      ctx.log(`r1 holds ${before} records, the provider a verified copy; backing up the running r1 while it publishes`)

      // 2. The backup of the running node, with publishing going on meanwhile.
      const backupFile = join(ctx.dir, 'r1.backup')
      let publishing = true
      const latencies: number[] = []
      let duringBackup = 0
      const writer = (async () => {
        while (publishing) {
          const t = Date.now()
          await publishBodies(fed.proc(0), Array.from({ length: 50 }, (_, j) => sampleIndicator('r1-during', duringBackup + j)))
          duringBackup += 50
          latencies.push(Date.now() - t)
        }
      })()
      const tBackup = Date.now()
      const b = await cairn(['node', 'backup', '--dir', r1.dir, '--out', backupFile])
      const backupMs = Date.now() - tBackup
      publishing = false
      await writer
      if (b.code !== 0) throw new Error(`cairn node backup failed: ${b.stderr.trim()}`)
      const backupBytes = readFileSync(backupFile).length
      ctx.log(`backup: ${seconds(backupMs)} s, ${backupBytes} bytes; ${duringBackup} records published meanwhile (slowest ${Math.max(...latencies)} ms per 50)`)

      // 3. An hour's worth of records after the backup, and a revocation; everywhere.
      const idsAfter = await publishBodies(fed.proc(0), Array.from({ length: after }, (_, j) => sampleIndicator('r1-after', j)))
      await call(fed.proc(0).url, fed.proc(0).operatorToken, 'POST', '/records', { type: 'revocation', target: idsBefore[0], reason: 'false_positive' })
      expected[r1.origin] = before + duringBackup + after + 1
      await waitConverged(urls(), expected, 300_000)
      const lostSize = expected[r1.origin]!

      // 4. Lose r1, and restore it — after the restores that must fail.
      await fed.stop(0, 'SIGKILL')
      rmSync(r1.dir, { recursive: true, force: true })
      const bad = join(ctx.dir, 'bad.backup')
      const whole = readFileSync(backupFile)
      const refused: string[] = []
      const refuse = async (what: string, args: string[], code: string) => {
        const r = await cairn(args)
        const line = r.stderr.trim()
        if (r.code !== 1 || !line.startsWith(`error ${code}:`) || line.includes('\n')) problems.push(`${what}: exit ${r.code}, ${JSON.stringify(line.slice(0, 300))} (want one line "error ${code}: …")`)
        else refused.push(what)
      }
      writeFileSync(bad, whole.subarray(0, Math.floor(whole.length / 2)))
      await refuse('truncated backup', ['node', 'restore', bad, '--dir', r1.dir], 'STORAGE_CORRUPT')
      const altered = Buffer.from(whole)
      altered[Math.floor(altered.length * 0.7)]! ^= 0x01
      writeFileSync(bad, altered)
      await refuse('altered backup', ['node', 'restore', bad, '--dir', r1.dir], 'STORAGE_CORRUPT')
      const occupied = join(ctx.dir, 'occupied')
      mkdirSync(occupied, { recursive: true })
      writeFileSync(join(occupied, 'keep-me'), 'x')
      await refuse('non-empty directory', ['node', 'restore', backupFile, '--dir', occupied], 'CONFLICT')
      const tRestore = Date.now()
      const rs = await cairn(['node', 'restore', backupFile, '--dir', r1.dir])
      const restoreMs = Date.now() - tRestore
      if (rs.code !== 0) throw new Error(`cairn node restore failed: ${rs.stderr.trim()}`)
      ctx.log(`bad restores refused (${refused.join(', ')}); restored r1 in ${seconds(restoreMs)} s; starting it and publishing at once`)

      // 5. Start and publish at once: indicators, and a revocation of a record written after the backup.
      const tStart = Date.now()
      await fed.start(0)
      const startedMs = Date.now() - tStart
      const tPublish = Date.now()
      const newIds = await publishBodies(fed.proc(0), Array.from({ length: atOnce }, (_, j) => sampleIndicator('r1-restored', j)))
      const firstPublishMs = Date.now() - tPublish
      await call(fed.proc(0).url, fed.proc(0).operatorToken, 'POST', '/records', { type: 'revocation', target: idsAfter[0], reason: 'duplicate' })
      expected[r1.origin] = lostSize + atOnce + 1
      const s1 = await status(fed.proc(0))
      const last = await call<{ id: string; seq: number }>(fed.proc(0).url, fed.proc(0).operatorToken, 'POST', '/records', sampleIndicator('r1-restored', atOnce))
      expected[r1.origin]! += 1
      newIds.push(last.id)
      if (last.seq !== lostSize + atOnce + 1) problems.push(`the restored r1 wrote its record at index ${last.seq}, not ${lostSize + atOnce + 1}: it did not continue the whole log`)

      let converged = true
      await waitConverged(urls(), expected, 300_000).catch((e) => { converged = false; problems.push((e as Error).message) })
      const frozen: string[] = []
      let equivocations = 0
      for (const [i, p] of fed.procs.entries()) {
        for (const row of await logs(p!)) if (row.frozen) frozen.push(`${fed.planned[i]!.name}:${row.name}`)
        equivocations += (await status(p!)).sync.equivocations
      }
      if (frozen.length) problems.push(`frozen logs: ${frozen.join(', ')}`)
      if (equivocations) problems.push(`${equivocations} equivocations counted`)

      // The provider's verified copy, synced again from r2.
      await sleep(200)
      const again = await sync()
      if (again.code !== 0) problems.push(`the provider's sync after the restore failed: ${again.stderr.trim().split('\n')[0]}`)
      const local = openLocalCopy(copy, { pdqIndex: 'on-first-use', persistPdqIndex: false })
      const held = new Set<string>()
      for (const r of local.records()) if (r.log === r1.origin) held.add(r.id)
      const live = [...idsBefore.slice(1), ...idsAfter.slice(1), ...newIds]
      const missing = live.filter((id) => !held.has(id)).length
      if (missing) problems.push(`the provider's copy lacks ${missing} live records of r1`)
      for (const gone of [idsBefore[0]!, idsAfter[0]!]) if (held.has(gone)) problems.push(`the provider's copy still holds revoked record ${gone}`)
      const copyLog = local.logs.find((l) => l.origin === r1.origin)
      if (copyLog?.size !== expected[r1.origin]) problems.push(`the provider's copy holds ${copyLog?.size} entries of r1, not ${expected[r1.origin]}`)
      const verify = await cairn(['verify', '--node', fed.proc(2).url, '--token', await grantToken(fed.proc(2), 'auditor', 'restore-auditor-3'), '--genesis', fed.genesisPath])
      if (verify.code !== 0) problems.push(`cairn verify --genesis failed: ${(verify.stdout + verify.stderr).trim().split('\n').slice(-2).join(' ')}`)

      const figures = {
        records_before_backup: before, records_during_backup: duringBackup, records_after_backup: after + 1,
        backup_s: seconds(backupMs), backup_bytes: backupBytes, publish_50_ms_max_during_backup: Math.max(...latencies),
        restore_s: seconds(restoreMs), restart_s: seconds(startedMs),
        first_publish_after_start_s: seconds(firstPublishMs), own_log_state_after_first_publish: s1.ownLog?.state ?? '?',
        entries_synced_back: s1.sync.entriesSynced, final_size_r1: expected[r1.origin]!, converged,
        frozen_logs: frozen.length, equivocations, bad_restores_refused: refused.length,
        provider_copy_missing: missing, provider_copy_live_r1: held.size, verify_exit: verify.code ?? -1,
      }
      return outcome(problems, figures,
        `backup of a running node ${seconds(backupMs)} s; ${after + 1} records after it synced back before the first signature (first publish ${seconds(firstPublishMs)} s after start); frozen ${frozen.length}, missing in provider copy ${missing}`)
    } finally {
      await fed.close()
    }
  },
}
