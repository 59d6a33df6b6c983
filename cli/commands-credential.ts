/**
 * `cairn credential issue|list|revoke`: credentials for this centre's
 * providers and auditors that every member node accepts (spec/credentials.md).
 * `issue` signs offline with the node directory's newest log key (keys.json);
 * `list` and `revoke` go through the running node, which sends revocations
 * to the members.
 */
import type { Command } from 'commander'
import { loadKeySeeds, loadNodeFile } from '../node/config.ts'
import { issueCredential } from '../node/credentials/issuer.ts'
import { LedgerError } from '../protocol/errors.ts'
import { api } from '../client/http.ts'
import { resolveTarget } from './target.ts'

interface IssuedRow { id: string; holder: string; role: string; iat: number; exp: number; revoked?: number }

const iso = (s: number) => new Date(s * 1000).toISOString()

export function registerCredentialCommands(program: Command): void {
  const credential = program.command('credential').description('credentials every member node accepts (operator of the issuing centre)')
  credential
    .command('issue')
    .description('sign a credential offline with the node\'s log key; it is printed once (give it to the holder as its --token)')
    .requiredOption('--dir <dir>', 'the issuing node\'s directory (keys.json, node.json)')
    .requiredOption('--holder <name>', 'who holds it (appears in every member\'s access log)')
    .option('--role <role>', 'provider | auditor', 'provider')
    .option('--days <n>', 'valid for this many days (1–400)', '90')
    .action((o) => {
      const days = Number(o.days)
      if (!/^\d+$/.test(o.days)) throw new LedgerError('BAD_REQUEST', '--days is a whole number of days from 1 to 400')
      const seeds = loadKeySeeds(o.dir).logSeeds
      const { credential: text, info } = issueCredential({ dir: o.dir, origin: loadNodeFile(o.dir).origin, seed: seeds[seeds.length - 1]!, nowMs: Date.now() }, o.holder, o.role, days)
      console.log(text)
      console.error(`credential ${info.id} (${info.role}, ${info.holder}) from ${info.issuer}, valid until ${iso(info.exp)}; revoke with: cairn credential revoke --id ${info.id} --dir ${o.dir}`)
    })
  credential
    .command('list')
    .description('credentials this centre issued (id, holder, role, expiry, revocation)')
    .option('--dir <dir>').option('--node <url>').option('--token <token>')
    .action(async (o) => {
      const list = await api<IssuedRow[]>(resolveTarget(o), 'GET', '/credentials')
      for (const c of list) console.log(`${c.id}  ${c.role.padEnd(8)} ${c.holder}  until ${iso(c.exp)}${c.revoked ? '  revoked ' + iso(c.revoked) : ''}`)
    })
  credential
    .command('revoke')
    .description('revoke a credential this centre issued; every member refuses it once the revocation reaches it')
    .requiredOption('--id <id>', 'the credential id (cairn credential list)')
    .option('--dir <dir>').option('--node <url>').option('--token <token>')
    .action(async (o) => {
      const r = await api<IssuedRow>(resolveTarget(o), 'POST', `/credentials/${encodeURIComponent(o.id)}/revoke`)
      console.log(`revoked credential ${r.id} of ${r.holder}`)
    })
}
