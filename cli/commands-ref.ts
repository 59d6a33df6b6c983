/** `cairn ref <case reference>`: the pseudonym this centre's records carry for it (protocol/case-ref.ts). */
import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { LedgerError } from '../protocol/errors.ts'
import { refPseudonym, checkRawRef } from '../protocol/case-ref.ts'
import { api } from '../client/http.ts'
import { resolveTarget } from './target.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadConfig = () => import('../node/config.ts')

export function registerRefCommand(program: Command) {
  program
    .command('ref <case-reference>')
    .description('print the pseudonym (p1:…) this centre\'s records carry for one of its case references, to find them (cairn lookup shows each record\'s ref)')
    .option('--dir <dir>', 'node directory: the secret is read from its case-ref.key (the node need not run)')
    .option('--node <url>', 'API base URL (asks the node, with an operator token)')
    .option('--token <token>', 'operator token')
    .action(async (raw: string, o: { dir?: string; node?: string; token?: string }) => {
      const { loadOrCreateRefSecret } = await loadConfig()
      checkRawRef(raw)
      if (o.dir && !o.node) {
        if (!existsSync(join(o.dir, 'case-ref.key'))) throw new LedgerError('NOT_FOUND', `no case-ref.key in ${o.dir}: the node makes it at keygen or first start`)
        console.log(refPseudonym(loadOrCreateRefSecret(o.dir), raw))
        return
      }
      const r = await api<{ pseudonyms: string[] }>(resolveTarget(o), 'POST', '/refs', { refs: [raw] })
      console.log(r.pseudonyms[0])
    })
}
