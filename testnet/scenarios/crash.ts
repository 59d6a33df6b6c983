/**
 * crash: SIGKILL a node many times at random moments while `cairn import`
 * feeds it, restart it each time, then check that
 *   - every record of every import the CLI reported as done is in the log,
 *   - the store opens (read directly after a final clean stop),
 *   - the log is consistent with every checkpoint it ever published (polled
 *     from every node throughout the run): the stored tree has each one's
 *     root at its size, and no size was ever signed with two roots,
 *   - the federation converges again.
 */
import { join } from 'node:path'
import { LevelKV } from '../../node/storage/kv.ts'
import { Store } from '../../node/storage/store.ts'
import { openCheckpoint } from '../../protocol/checkpoint.ts'
import { decodeEntry } from '../../protocol/entry.ts'
import { decodeRecord } from '../../protocol/records.ts'
import { toHex, toBase64 } from '../../protocol/bytes.ts'
import { sampleIndicator } from '../samples.ts'
import { waitConverged } from '../launch.ts'
import { Fed, cairn, writeLines, median, prng, seconds, sleep, outcome, type Scenario } from './common.ts'

export const crash: Scenario = {
  name: 'crash',
  title: 'SIGKILL during a bulk import',
  async run(ctx) {
    const total = ctx.quick ? 2000 : 100_000
    const chunk = ctx.quick ? 500 : 4000
    const kills = ctx.quick ? 2 : 20
    const seed = Number(process.env.CAIRN_SCENARIO_SEED ?? Date.now() % 1e9)
    const random = prng(seed)
    const problems: string[] = []

    const fed = await Fed.start(ctx.dir, { names: ['c1', 'c2', 'c3'], federation: 'crash.cairn' })
    try {
      const victim = fed.planned[0]!
      ctx.log(`3 nodes up; importing ${total} records into ${victim.name} in ${total / chunk} CLI runs, ${kills} SIGKILLs (seed ${seed})`)

      // Import files: one `cairn import` run per file, one request per run.
      const files: { path: string; values: string[] }[] = []
      for (let c = 0; c < total / chunk; c++) {
        const bodies = Array.from({ length: chunk }, (_, j) => sampleIndicator('crash', c * chunk + j))
        files.push({ path: writeLines(join(ctx.dir, 'import'), `chunk-${c}.jsonl`, bodies.map((b) => JSON.stringify(b))), values: bodies.map((b) => `${b.alg} ${b.value}`) })
      }
      // Which runs get a kill: distinct chunks, never the first (it times a clean run).
      const killChunks = new Set<number>()
      while (killChunks.size < Math.min(kills, files.length - 1)) killChunks.add(1 + Math.floor(random() * (files.length - 1)))

      // Every checkpoint any node serves for the victim's log, all run long.
      const seen = new Map<number, Set<string>>()
      const notes = new Map<string, string>()
      let watching = true
      const watcher = (async () => {
        while (watching) {
          await Promise.all(fed.procs.map(async (p) => {
            if (!p) return
            try {
              const r = await fetch(`${p.url}/logs/${victim.name}/checkpoint`, { signal: AbortSignal.timeout(2000) })
              if (!r.ok) return
              const note = await r.text()
              const body = note.slice(0, note.indexOf('\n\n') + 1)
              if (notes.has(body)) return
              notes.set(body, note)
              const [, size, root] = body.split('\n')
              if (!seen.has(Number(size))) seen.set(Number(size), new Set())
              seen.get(Number(size))!.add(root!)
            } catch {
              // the node is down or restarting
            }
          }))
          await sleep(100)
        }
      })()

      const acked: string[][] = []
      const restartMs: number[] = []
      let cliRuns = 0
      let cliFailures = 0
      let killsDone = 0
      let cleanRunMs = 2000
      const t0 = Date.now()
      for (let c = 0; c < files.length; c++) {
        let planned = killChunks.has(c)
        for (;;) {
          const run = cairn(['import', files[c]!.path, '--dir', victim.dir, '--batch', String(chunk), '--quiet'])
          cliRuns++
          let killed: Promise<void> = Promise.resolve()
          if (planned) {
            planned = false
            const delay = Math.floor(random() * cleanRunMs * 1.2)
            killed = sleep(delay).then(async () => {
              await fed.stop(0, 'SIGKILL')
              killsDone++
              const t = Date.now()
              await fed.start(0)
              restartMs.push(Date.now() - t)
            })
          }
          const r = await run
          await killed
          const m = /imported (\d+) indicators, rejected (\d+)/.exec(r.stdout)
          if (r.code === 0 && m) {
            if (Number(m[1]) !== chunk || Number(m[2]) !== 0) problems.push(`chunk ${c}: the CLI reported ${m[1]} imported, ${m[2]} rejected`)
            acked.push(files[c]!.values)
            if (c === 0) cleanRunMs = r.ms
            break
          }
          cliFailures++ // the node died under this run: nothing it sent counts as acknowledged; send the file again
        }
      }
      const importMs = Date.now() - t0
      ctx.log(`import done in ${seconds(importMs)} s: ${cliRuns} CLI runs (${cliFailures} failed by a kill), ${killsDone} kills, restarts ${median(restartMs)} ms median`)

      const tc = Date.now()
      await waitConverged(fed.procs.map((p) => p!.url), undefined, ctx.quick ? 60_000 : 300_000)
      const convergeMs = Date.now() - tc
      await sleep(500)
      watching = false
      await watcher

      // Checkpoints: each verifies, and no size was signed with two roots.
      for (const note of notes.values()) {
        try {
          openCheckpoint(note, victim.member.vkey)
        } catch (e) {
          problems.push(`a served checkpoint does not verify: ${(e as Error).message}`)
        }
      }
      for (const [size, roots] of seen) if (roots.size > 1) problems.push(`size ${size} was published with ${roots.size} different roots`)

      // White-box: the victim's store after a clean stop.
      await fed.stop(0, 'SIGTERM')
      let stored = 0
      let missing = 0
      let inconsistent = 0
      let store: Store | undefined
      try {
        store = await Store.open(await LevelKV.open(join(victim.dir, 'db')))
      } catch (e) {
        problems.push(`the store does not open: ${(e as Error).message}`)
      }
      if (store) {
        try {
          const origin = victim.origin
          stored = store.size(origin)
          const have = new Set<string>()
          for (let i = 0; i < stored; i += 4096) {
            for (const e of await store.entries(origin, i, Math.min(stored, i + 4096))) {
              const r = decodeRecord(decodeEntry(e).recordBytes)
              if (r.type === 'indicator') have.add(`${r.alg} ${toHex(r.value)}`)
            }
          }
          for (const chunkValues of acked) for (const v of chunkValues) if (!have.has(v)) missing++
          if (missing) problems.push(`${missing} acknowledged records are missing from the log`)
          for (const [size, roots] of seen) {
            if (size > stored) {
              inconsistent++
              problems.push(`a checkpoint of size ${size} was published but the log holds ${stored} entries`)
              continue
            }
            const root = toBase64(await store.root(origin, size))
            for (const r of roots) if (r !== root) { inconsistent++; problems.push(`the stored tree at size ${size} does not match a published checkpoint`) }
          }
          openCheckpoint(store.checkpoint(origin)!, victim.member.vkey)
        } finally {
          await store.close()
        }
      }
      const ackedCount = acked.length * chunk
      const figures = {
        records_acknowledged: ackedCount, log_size: stored, stored_but_unacknowledged: stored - ackedCount, missing_acknowledged: missing,
        kills: killsDone, cli_runs: cliRuns, cli_runs_cut_by_kill: cliFailures,
        checkpoints_observed: notes.size, checkpoints_inconsistent: inconsistent,
        restart_ms_median: median(restartMs), restart_ms_max: Math.max(...restartMs),
        import_s: seconds(importMs), converge_after_import_s: seconds(convergeMs), seed,
      }
      if (killsDone < Math.min(kills, files.length - 1)) problems.push(`only ${killsDone} of ${kills} kills happened`)
      return outcome(problems, figures, `${killsDone} kills, ${ackedCount} acked, ${missing} missing, ${notes.size} checkpoints all consistent: ${inconsistent === 0}`)
    } finally {
      await fed.close()
    }
  },
}
