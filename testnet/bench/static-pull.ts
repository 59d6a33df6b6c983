/**
 * static_pull_per_s: records per second of a provider's first `cairn sync`
 * (client/sync.ts syncLocalCopy, in this process) from a static mirror of a
 * node — the node's checkpoint, hash tiles and entry bundles copied into a
 * directory and served by a plain node:http static server on loopback, the
 * entry bundles behind a bearer-token check — against the same first sync
 * from the node's feed in the same run (the `reference`; the ratio is
 * mirror over node). Both read the `signed` fixture's log with the same
 * genesis roster and checks; the two copies must come out identical. The
 * mirror is made before the clock starts (testnet/static-mirror.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { syncLocalCopy } from '../../client/sync.ts'
import { copyNodeToMirror, serveStatic } from '../static-mirror.ts'
import type { FixtureInfo } from './loader.ts'
import type { NodeProcess } from '../processes.ts'
import type { Measured } from './report.ts'

export async function measureStaticPull(src: NodeProcess, provider: string, auditor: string, f: FixtureInfo): Promise<Measured> {
  const scratch = mkdtempSync(join(tmpdir(), 'cairn-bench-static-'))
  const mirror = join(scratch, 'mirror')
  const genesis = join(f.dir, 'genesis.json')
  try {
    const t = performance.now()
    await copyNodeToMirror(src.url, auditor, mirror)
    const copySeconds = (performance.now() - t) / 1000
    const server = await serveStatic(mirror, [provider])
    try {
      const pull = async (source: { node: string } | { from: string }, dir: string) => {
        const t0 = performance.now()
        const r = await syncLocalCopy({ ...source, token: provider, dir, minWitnesses: 0, genesis, warn: () => undefined })
        const seconds = (performance.now() - t0) / 1000
        if (r.entries !== f.entries) throw new Error(`the sync read ${r.entries} of ${f.entries} entries`)
        return { seconds, pages: r.pages, added: r.added }
      }
      // Node, mirror, mirror, node (each into a fresh copy): neither source gets the warm process alone; the faster of each pair counts.
      const runs: { source: 'node' | 'mirror'; seconds: number; pages: number }[] = []
      for (const [i, kind] of (['node', 'mirror', 'mirror', 'node'] as const).entries()) {
        const r = await pull(kind === 'node' ? { node: src.url } : { from: server.url }, join(scratch, `copy-${i}-${kind}`))
        runs.push({ source: kind, seconds: r.seconds, pages: r.pages })
      }
      const state = (dir: string) => JSON.stringify(JSON.parse(readFileSync(join(scratch, dir, 'state.json'), 'utf8')).logs)
      if (state('copy-0-node') !== state('copy-1-mirror')) throw new Error('the copies made from the node and from the mirror differ')
      const best = (kind: 'node' | 'mirror') => runs.filter((r) => r.source === kind).sort((a, b) => a.seconds - b.seconds)[0]!
      const fromNode = best('node')
      const fromMirror = best('mirror')
      const nodeRate = f.entries / fromNode.seconds
      const mirrorRate = f.entries / fromMirror.seconds
      return {
        key: 'static_pull_per_s',
        value: mirrorRate,
        method: `a provider's first cairn sync (syncLocalCopy in the bench process, genesis roster, every check of a sync) of the ${f.entries.toLocaleString('en')}-entry log of fixture 'signed' from a static mirror of its node (checkpoint, hash tiles and entry bundles copied beforehand into a directory, served by a plain node:http static server on loopback that checks the bearer token on bundles), timed from the call to its return; the reference is the same first sync from the node's feed (GET /feed?entries=1, node process) in the same run, timed the same way; run node, mirror, mirror, node into fresh copies, the faster of each source counts; ratio = mirror / node`,
        reference: { value: nodeRate, what: 'the same first sync from the node, records/s' },
        details: {
          entries: f.entries, mirror_seconds: fromMirror.seconds, node_seconds: fromNode.seconds, node_per_s: nodeRate,
          ratio: mirrorRate / nodeRate, pages: { mirror: fromMirror.pages, node: fromNode.pages }, runs, mirror_copy_seconds: copySeconds,
          bundle_requests: server.restrictedReads,
        },
      }
    } finally {
      await server.close()
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}
