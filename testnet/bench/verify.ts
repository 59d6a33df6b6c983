/**
 * verify_per_s: records per second of `cairn verify` (cli/verify-client.ts
 * verifyNode, the code behind the command) over a node serving a log of the
 * `signed` fixture (1M genuinely signed entries at scale 1).
 *
 * The node runs as its own process; the auditor client runs in this process
 * with its default worker pool (one verify worker per core). It checks the
 * checkpoint, authenticates every tile against the root, fetches every entry
 * bundle, verifies every signature and record, rebuilds the tree and compares
 * it leaf by leaf. Keys are pinned from the genesis roster; cosignatures are
 * not required (min 0), since the fixture's checkpoint may not be cosigned yet.
 * Rate = entries verified / the run's own wall time (report.ms). The fixture
 * log must verify without a problem (the other member's log, empty and
 * perhaps without a checkpoint on this node, is ignored).
 */
import { join } from 'node:path'
import { verifyNode } from '../../client/verify.ts'
import type { NodeProcess } from '../processes.ts'
import type { FixtureInfo } from './loader.ts'
import type { Measured } from './report.ts'

export async function measureVerify(node: NodeProcess, token: string, f: FixtureInfo): Promise<Measured> {
  const report = await verifyNode({ url: node.url, token, genesisPath: join(f.dir, 'genesis.json'), minWitnesses: 0 })
  const log = report.logs.find((l) => l.origin === f.origin)
  if (!log || log.entries !== f.entries || log.problems.length > 0) {
    throw new Error(`cairn verify checked ${log?.entries ?? 0} of ${f.entries} entries of ${f.origin}: ${(log?.problems ?? report.problems).slice(0, 3).join('; ')}`)
  }
  const seconds = report.ms / 1000
  return {
    key: 'verify_per_s',
    value: report.entries / seconds,
    method: `cairn verify (verifyNode, in this process, default worker pool) against a node process serving a log of ${f.entries.toLocaleString('en')} genuinely signed entries (bench loader, cached fixture 'signed'); keys pinned from genesis, cosignatures not required; rate = entries verified / wall time of the whole run (checkpoint, tiles, bundles, signatures, tree)`,
    details: { entries: report.entries, seconds, tiles: log.tiles, other_logs_problems: report.problems.filter((p) => !p.startsWith(f.origin)).slice(0, 3) },
  }
}
