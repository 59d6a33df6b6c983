/** Auditor commands: verify (a node's logs, end to end) and lookup (provenance of one value, proofs checked offline). */
import type { Command } from 'commander'
import { LedgerError } from '../protocol/errors.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { resolveTarget } from './target.ts'
import type { VerifyReport, LookupResult } from '../client/verify.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadVerify = () => import('../client/verify.ts')

function count(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined) return undefined
  if (!/^[0-9]{1,6}$/.test(raw)) throw new LedgerError('BAD_REQUEST', `${what} must be a whole number`)
  return Number(raw)
}

const OK = '✓'
const BAD = '✗'

export function formatVerifyReport(r: VerifyReport): string {
  const out: string[] = [`cairn verify ${r.node} (log keys from ${r.keys === 'genesis' ? 'the genesis roster' : r.keys === 'state' ? 'the state file' : 'the node: trust on first use'})`]
  for (const l of r.logs) {
    const mark = l.problems.length ? BAD : OK
    const prev = l.previous ? `, consistent with size ${l.previous.size} seen before` : ''
    out.push(`  ${mark} ${l.origin.padEnd(32)} size ${String(l.size).padStart(8)}  ${l.entries} entries signed${prev}, cosigned by ${l.cosignedBy.length}${l.cosignedBy.length ? ` (${l.cosignedBy.map((n) => n.split('/')[1] ?? n).join(', ')})` : ''}`)
  }
  for (const w of r.warnings) out.push(`warning: ${w}`)
  for (const p of r.problems) out.push(`FAIL ${p}`)
  const rate = r.ms > 0 ? Math.round((r.entries / r.ms) * 1000) : r.entries
  out.push(r.ok
    ? `OK: ${r.logs.length} logs, ${r.entries} entries, every signature, tree, tile and cosignature verified in ${(r.ms / 1000).toFixed(1)} s (${rate} entries/s)`
    : `FAILED: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} in ${r.logs.filter((l) => l.problems.length).length || r.problems.length} log(s)`)
  return out.join('\n')
}

const when = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString().replace('.000Z', 'Z') : '?')
const member = (origin: string) => origin.split('/')[1] ?? origin

export function formatLookup(res: LookupResult): string {
  const { doc, verified } = res
  const out: string[] = [`${doc.alg}:${doc.value}`]
  if (verified.indicators.length === 0) {
    out.push('  no log on this node holds a record of this value')
    return out.join('\n')
  }
  const s = doc.summary
  out.push(`  ${s.records} record${s.records === 1 ? '' : 's'} from ${s.published_by.map(member).join(', ')}; ${s.current ? 'in the current set' : 'revoked'}` +
    `${s.confirmed_by.length ? `; confirmed by ${s.confirmed_by.map(member).join(', ')}` : ''}${s.disputed_by.length ? `; disputed by ${s.disputed_by.map(member).join(', ')}` : ''}`)
  const cosig = (v: { checkpointSize: number; cosignedBy: string[] }) => `proof ${OK} (checkpoint size ${v.checkpointSize}, cosigned by ${v.cosignedBy.length ? v.cosignedBy.map(member).join(', ') : 'no witness'})`
  for (const ind of verified.indicators) {
    const r = ind.record as Extract<CairnRecord, { type: 'indicator' }>
    out.push('')
    out.push(`  record ${ind.id}`)
    out.push(`    added by   ${ind.log} (entry #${ind.index}) on ${when(r.time)}`)
    out.push(`    category   ${r.category}, ${r.kind}, ${r.media}${r.quality !== undefined ? `, quality ${r.quality}` : ''}${r.ref ? `, ref ${r.ref}` : ''}${r.expires ? `, expires ${when(r.expires)}` : ''}`)
    out.push(`    signature ${OK}  ${cosig(ind)}`)
    if (ind.attestations.length === 0) out.push('    attestations: none')
    for (const a of ind.attestations) {
      const ar = a.record as Extract<CairnRecord, { type: 'attestation' }>
      out.push(`    ${ar.opinion === 'confirm' ? 'confirmed' : 'DISPUTED '} by ${a.log} on ${when(ar.time)}${ar.reason ? ` (${ar.reason})` : ''}  signature ${OK} ${cosig(a)}`)
    }
    if (ind.revocations.length === 0) out.push('    revoked: no')
    for (const v of ind.revocations) {
      const vr = v.record as Extract<CairnRecord, { type: 'revocation' }>
      out.push(`    REVOKED by ${v.log} on ${when(vr.time)} (${vr.reason})  signature ${OK} ${cosig(v)}`)
    }
  }
  out.push('')
  out.push(res.keys === 'genesis'
    ? `all ${countItems(res)} records and proofs verified offline ${OK} (keys from the genesis roster)`
    : `all ${countItems(res)} records and proofs verified offline ${OK} (keys as the node gave them; pass --genesis to check them against the roster)`)
  return out.join('\n')
}

function countItems(res: LookupResult): number {
  return res.verified.indicators.reduce((n, i) => n + 1 + i.attestations.length + i.revocations.length, 0)
}

export function registerAuditCommands(program: Command) {
  program
    .command('verify')
    .description('download every log from a node via tiles and check it end to end: entry signatures, trees, consistency with the last run, cosignatures (auditor)')
    .option('--node <url>', 'API base URL').option('--token <token>', 'auditor or oversight token (default $CAIRN_TOKEN)').option('--dir <dir>', 'node directory (local)')
    .option('--from <url>', 'base URL of a static mirror of a node, instead of --node (same checks)')
    .option('--state <file>', 'keeps the checkpoints verified (and the keys pinned) between runs')
    .option('--genesis <file>', 'genesis roster to take the log and witness keys from')
    .option('--min-witnesses <k>', 'valid cosignatures by other members every checkpoint needs (default 1)')
    .option('--workers <n>', 'signature-checking threads (default: one per core)')
    .option('--json', 'print the report as JSON')
    .option('--quiet', 'no progress lines')
    .action(async (o) => {
      const { verifyNode } = await loadVerify()
      if (o.from && (o.node || o.dir)) throw new LedgerError('BAD_REQUEST', 'give --from (a mirror) or --node/--dir (a node), not both')
      const t = o.from ? { url: String(o.from).replace(/\/$/, ''), token: o.token ?? process.env.CAIRN_TOKEN } : resolveTarget(o)
      const report = await verifyNode({
        url: t.url, token: t.token, mirror: Boolean(o.from), statePath: o.state, genesisPath: o.genesis,
        minWitnesses: count(o.minWitnesses, '--min-witnesses'), workers: count(o.workers, '--workers'),
        onLine: o.quiet || o.json ? undefined : (line) => console.error(line),
      })
      console.log(o.json ? JSON.stringify({ ...report, logs: report.logs.map(({ checkpoint: _c, ...l }) => l) }, null, 2) : formatVerifyReport(report))
      if (!report.ok) process.exitCode = 1
    })

  program
    .command('lookup <alg:hex>')
    .description('everything the federation says about one value: who added it, when, category, confirmations, disputes, revocations, with every proof verified offline (auditor)')
    .option('--node <url>', 'API base URL').option('--token <token>', 'auditor or oversight token (default $CAIRN_TOKEN)').option('--dir <dir>', 'node directory (local)')
    .option('--genesis <file>', 'genesis roster to check the keys against')
    .option('--min-witnesses <k>', 'valid cosignatures each proof\'s checkpoint needs (default 0)')
    .option('--json', 'print the verified provenance document as JSON')
    .action(async (spec: string, o) => {
      const { lookupValue } = await loadVerify()
      const m = /^([a-z0-9_]+):([0-9a-fA-F]+)$/.exec(spec)
      if (!m) throw new LedgerError('BAD_REQUEST', 'give the value as <alg>:<hex>, e.g. sha256:9f86d0…')
      const t = resolveTarget(o)
      const res = await lookupValue({ url: t.url, token: t.token, alg: m[1]!, hex: m[2]!.toLowerCase(), genesisPath: o.genesis, minWitnesses: count(o.minWitnesses, '--min-witnesses') })
      console.log(o.json ? JSON.stringify(res.doc, null, 2) : formatLookup(res))
    })
}

