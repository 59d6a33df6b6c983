/**
 * `cairn roster rotate-key`, `cairn roster compromise` and `cairn roster
 * resolve-fork`: key changes of a member, proposed like every roster change and applied once `threshold`
 * members confirm (`cairn attest <id> --confirm`). spec/federation.md
 * §10.7-10.8 says what each does to the keys.
 */
import type { Command } from 'commander'
import { toHex } from '../protocol/bytes.ts'
import { LedgerError } from '../protocol/errors.ts'
import { api } from '../client/http.ts'
import { resolveTarget } from './target.ts'
import { readFileSync } from 'node:fs'
import { standingCheckpointText } from '../protocol/fork-resolution.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadConfig = () => import('../node/config.ts')

interface Published { id: string; seq: number; log: string }

/** POST /records with one body (the node fills in v, log, seq, time and signs). */
async function propose(o: { dir?: string; node?: string; token?: string }, body: Record<string, unknown>): Promise<Published> {
  return api<Published>(resolveTarget(o), 'POST', '/records', body)
}

export function registerRosterCommands(program: Command): void {
  const roster = program.commands.find((c) => c.name() === 'roster')
  if (!roster) throw new Error('the roster command group is registered by commands-records.ts first')

  const rotate = roster
    .command('rotate-key')
    .description('make a new log key (and with --witness a new witness key), keep it in keys.json beside the old one, and propose the rotation; '
      + 'this log signs nothing more until threshold members confirm, then signs with the new key')
    .requiredOption('--dir <dir>', 'this node\'s directory (its keys.json gets the new keys)')
    .option('--witness', 'rotate the witness key too')
    .option('--witness-only', 'rotate only the witness key')
  rotate.action(async (o: { dir: string; witness?: boolean; witnessOnly?: boolean }) => {
    const { addRotationKeys, loadNodeFile } = await loadConfig()
    const settings = loadNodeFile(o.dir)
    const keys = addRotationKeys(o.dir, { log: !o.witnessOnly, witness: Boolean(o.witness || o.witnessOnly) })
    const body: Record<string, unknown> = { type: 'roster', change: 'rotate_key', member: settings.name }
    if (keys.logPublicKey) body.key = toHex(keys.logPublicKey)
    if (keys.witnessPublicKey) body.witness_key = toHex(keys.witnessPublicKey)
    const p = await propose(o, body)
    console.log(`${p.id}  ${p.log} #${p.seq}`)
    console.error(`new ${keys.logPublicKey ? 'log ' : ''}${keys.witnessPublicKey ? 'witness ' : ''}key saved in ${o.dir}/keys.json; proposal ${p.id}`)
    console.error(keys.logPublicKey
      ? `${p.log} signs nothing more until the rotation applies; other members confirm with: cairn attest ${p.id} --confirm`
      : `other members confirm with: cairn attest ${p.id} --confirm`)
  })

  const compromise = roster
    .command('compromise <member-name>')
    .description('propose recording that a member\'s log key was compromised from an index: entries from there signed with it are invalid everywhere, '
      + 'the given new key signs from there (run on another member\'s node; the member makes its key with cairn roster new-key)')
    .requiredOption('--from <index>', 'first entry index of the member\'s log the old key may no longer have signed')
    .requiredOption('--key <hex>', 'the member\'s new log public key (64 hex digits)')
    .option('--witness-key <hex>', 'the member\'s new witness public key')
    .option('--dir <dir>', 'node directory of the member writing the proposal').option('--node <url>', 'API base URL').option('--token <token>', 'operator token')
  compromise.action(async (name: string, o: { from: string; key: string; witnessKey?: string; dir?: string; node?: string; token?: string }) => {
    const from = Number(o.from)
    if (!Number.isSafeInteger(from) || from < 0) throw new LedgerError('BAD_REQUEST', '--from is an entry index (a whole number ≥ 0)')
    const body: Record<string, unknown> = { type: 'roster', change: 'compromise', member: name, from, key: o.key.toLowerCase() }
    if (o.witnessKey) body.witness_key = o.witnessKey.toLowerCase()
    const p = await propose(o, body)
    console.log(`${p.id}  ${p.log} #${p.seq}`)
    console.error(`proposal ${p.id}: other members confirm with: cairn attest ${p.id} --confirm`)
  })

  const resolveFork = roster
    .command('resolve-fork <member-name>')
    .description('propose resolving a fork of a member\'s log (spec/federation.md §10.10): the branch of the given checkpoint stands, every node converges on it, '
      + 'the log unfreezes and continues under the given new key (run on another member\'s node; the member makes its key with cairn roster new-key)')
    .requiredOption('--checkpoint <file>', 'the standing branch\'s signed checkpoint (cosignature lines are dropped; the log\'s own signature stays)')
    .requiredOption('--key <hex>', 'the member\'s new log public key (64 hex digits)')
    .option('--witness-key <hex>', 'the member\'s new witness public key')
    .option('--dir <dir>', 'node directory of the member writing the proposal').option('--node <url>', 'API base URL').option('--token <token>', 'operator token')
  resolveFork.action(async (name: string, o: { checkpoint: string; key: string; witnessKey?: string; dir?: string; node?: string; token?: string }) => {
    let text: string
    try {
      text = readFileSync(o.checkpoint, 'utf8')
    } catch (e) {
      throw new LedgerError('BAD_REQUEST', `cannot read --checkpoint ${o.checkpoint}: ${(e as Error).message}`)
    }
    const body: Record<string, unknown> = { type: 'roster', change: 'resolve_fork', member: name, checkpoint: standingCheckpointText(text), key: o.key.toLowerCase() }
    if (o.witnessKey) body.witness_key = o.witnessKey.toLowerCase()
    const p = await propose(o, body)
    console.log(`${p.id}  ${p.log} #${p.seq}`)
    console.error(`proposal ${p.id}: other members confirm with: cairn attest ${p.id} --confirm`)
  })

  roster
    .command('new-key')
    .description('make a new log key (and witness key) in keys.json and print the public halves, for a compromise proposal another member writes')
    .requiredOption('--dir <dir>', 'this node\'s directory')
    .option('--no-witness', 'no new witness key')
    .action(async (o: { dir: string; witness: boolean }) => {
      const { addRotationKeys } = await loadConfig()
      const keys = addRotationKeys(o.dir, { log: true, witness: o.witness })
      console.log(`key ${toHex(keys.logPublicKey!)}`)
      if (keys.witnessPublicKey) console.log(`witness_key ${toHex(keys.witnessPublicKey)}`)
    })
}
