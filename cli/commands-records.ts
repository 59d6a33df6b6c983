/** Writing to the node's own log: publish, import, revoke, attest, roster changes. */
import type { Command } from 'commander'
import { LedgerError } from '../protocol/errors.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import { toHex } from '../protocol/bytes.ts'
import { api, type Endpoint as Target } from '../client/http.ts'
import { resolveTarget } from './target.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadConfig = () => import('../node/config.ts')
const loadImport = () => import('./import/run.ts')

type Published = { id: string; seq: number; log: string; ref?: string }

const withTarget = (c: Command) => c.option('--dir <dir>', 'node directory').option('--node <url>', 'API base URL').option('--token <token>', 'operator token')

async function publishOne(t: Target, body: Record<string, unknown>): Promise<Published> {
  return api<Published>(t, 'POST', '/records', body)
}

function printPublished(p: Published) {
  console.log(`${p.id}  (${p.log} #${p.seq})${p.ref ? `  ref ${p.ref}` : ''}`)
}

export function registerRecordCommands(program: Command) {
  withTarget(program
    .command('publish')
    .description('publish one indicator to this node\'s log')
    .requiredOption('--alg <alg>', 'md5 | sha1 | sha256 | pdq | photodna | tmk_pdqf | url_sha256')
    .requiredOption('--value <hex>', 'the hash, lowercase hex')
    .requiredOption('--category <c>', 'A1 | A2 | B1 | B2')
    .option('--kind <kind>', 'known_material | new_material | solicitation | url')
    .option('--media <media>', 'image | video | text | url')
    .option('--quality <q>', 'PDQ quality 0–100, as cairn hash prints it (required for pdq)')
    .option('--ref <ref>', 'your case reference (≤ 64 chars of A-Z a-z 0-9 . _ : / -); the node records only its pseudonym p1:… (cairn ref)')
    .option('--allow-duplicate', 'publish even if this log already has this value in force (e.g. under another category)')
    .option('--expires <ms>', 'expiry, ms since epoch'))
    .action(async (o) => {
      const body: Record<string, unknown> = {
        type: 'indicator', alg: o.alg, value: String(o.value).toLowerCase(), category: o.category,
        kind: o.kind ?? (o.alg === 'url_sha256' ? 'url' : 'known_material'),
        media: o.media ?? ({ pdq: 'image', photodna: 'image', tmk_pdqf: 'video', url_sha256: 'url' } as Record<string, string>)[o.alg] ?? 'image',
      }
      if (o.quality !== undefined) {
        if (!/^\d+$/.test(String(o.quality)) || Number(o.quality) > 100) throw new LedgerError('BAD_FIELD', `--quality is a whole number from 0 to 100, got ${o.quality}`)
        body.quality = Number(o.quality)
      } else if (o.alg === 'pdq') {
        throw new LedgerError('MISSING_FIELD', '--quality is required with --alg pdq: give the PDQ quality (0–100) that cairn hash prints beside the hash')
      }
      if (o.ref) body.ref = o.ref
      if (o.expires) body.expires = Number(o.expires)
      if (o.allowDuplicate) body.allow_duplicate = true
      printPublished(await publishOne(resolveTarget(o), body))
    })

  withTarget(program
    .command('import <file>')
    .description('bulk-import indicators (CSV, JSON lines, "<alg> <hex>" lines, HMA text, pdq-photo-hasher output, a STIX 2.1 bundle, a MISP event or feed directory, NCMEC entries XML); rejected lines or entries are reported by number and reason, good ones imported; exit 1 if any was rejected')
    .addHelpText('after', [
      '',
      'Formats (spec/formats.md):',
      '  csv               a header naming alg and value, and any of category,kind,media,quality,ref,expires (RFC 4180)',
      '  jsonl             JSON lines with the same keys',
      '  txt               "<alg> <hex> [category]" lines',
      '  hma               "<signal type> <signal>" lines (python-threatexchange local files): pdq, video_md5, video_sha256',
      '  pdq-photo-hasher  "<hash>,<quality>,<filename>" lines of Meta\'s PDQ hashers (the file name is not kept)',
      '  stix              a STIX 2.1 bundle of file-hash indicators (revoked or expired ones skipped)',
      '  misp              a MISP event file, or a feed directory with manifest.json (deleted attributes skipped)',
      '  ncmec-xml         NCMEC hash-sharing entries XML; a deleted entry revokes what this centre imported from it',
      'PDQ values need a quality: from the line (pdq-photo-hasher, csv, jsonl, cairn\'s own STIX and MISP), else --pdq-quality; never assumed.',
      'Exit status: 0 everything imported or skipped on purpose; 1 any line or entry rejected (counts on the last line).',
    ].join('\n'))
    .option('--format <f>', 'csv | jsonl | txt | hma | pdq-photo-hasher | stix | misp | ncmec-xml (default: from the file name: .csv, .jsonl/.ndjson, .xml → ncmec-xml, .stix.json, else txt)')
    .option('--category <c>', 'category for lines that give none')
    .option('--kind <k>', 'kind for lines that give none', 'known_material')
    .option('--media <m>', 'media for lines that give none (derived from the alg where fixed)')
    .option('--pdq-quality <n>', 'PDQ quality 0-100 for pdq lines that give none (without it such lines are rejected)')
    .option('--deleted-reason <reason>', 'ncmec-xml: revocation reason for deleted entries (false_positive | legal_order | duplicate | reclassified | expired); without it they are rejected')
    .option('--auditor-token <token>', 'ncmec-xml with deleted entries: a token of this node with the auditor role, to read this centre\'s own log and find the records to revoke')
    .option('--batch <n>', 'records per request', '5000')
    .option('--quiet', 'no progress bar')
    .option('--allow-duplicate', 'publish values this log already has in force as further records (else they are rejected with DUPLICATE_VALUE)'))
    .action(async (file, o) => {
      const { runImport } = await loadImport()
      return runImport(file, resolveTarget(o), o)
    })

  withTarget(program
    .command('revoke <record-id>')
    .description('revoke one of this node\'s indicators (only the log that wrote it can)')
    .requiredOption('--reason <reason>', 'false_positive | legal_order | duplicate | reclassified | expired'))
    .action(async (id, o) => {
      printPublished(await publishOne(resolveTarget(o), { type: 'revocation', target: String(id).toLowerCase(), reason: o.reason }))
    })

  withTarget(program
    .command('redact <record-id>')
    .description('redact one of this node\'s indicators on legal order: it is revoked (if still current), its payload is deleted on every node, its leaf hash and a signed notice stay')
    .requiredOption('--reason <reason>', 'legal_order'))
    .action(async (id, o) => {
      const r = await api<{ index: number; id: string; revocation: string | null; already: boolean }>(
        resolveTarget(o), 'POST', '/admin/redactions', { id: String(id).toLowerCase(), reason: o.reason },
      )
      if (r.already) console.log(`${r.id}  (entry #${r.index}) was already redacted`)
      else console.log(`${r.id}  (entry #${r.index}) redacted${r.revocation ? `; revoked by ${r.revocation}` : ''}`)
    })

  withTarget(program
    .command('attest <record-id>')
    .description('confirm or dispute any member\'s indicator, or confirm a roster proposal')
    .option('--confirm').option('--dispute')
    .option('--reason <reason>', 'false_positive | wrong_category | duplicate | low_quality | reviewed'))
    .action(async (id, o) => {
      if (Boolean(o.confirm) === Boolean(o.dispute)) throw new LedgerError('BAD_REQUEST', 'say --confirm or --dispute')
      const body: Record<string, unknown> = { type: 'attestation', target: String(id).toLowerCase(), opinion: o.confirm ? 'confirm' : 'dispute' }
      if (o.reason) body.reason = o.reason
      printPublished(await publishOne(resolveTarget(o), body))
    })

  const roster = program.command('roster').description('propose federation changes (they apply once threshold members confirm with cairn attest --confirm)')
  withTarget(roster
    .command('add <member.json>')
    .description('propose adding the member described by a keygen member.json'))
    .action(async (file, o) => {
      const { parseJsonFile } = await loadConfig()
      const { GenesisMember } = await import('../protocol/genesis.ts')
      const m = parseJsonFile(file, GenesisMember, 'member entry')
      const body = {
        type: 'roster', change: 'add_member', member: m.name, origin: m.origin,
        key: toHex(parseVerifierKey(m.vkey).publicKey), witness_key: toHex(parseVerifierKey(m.witness_vkey).publicKey),
        peer_id: m.peer_id, roles: [...m.roles].sort(),
      }
      const p = await publishOne(resolveTarget(o), body)
      printPublished(p)
      console.error(`proposal ${p.id}: other members confirm with: cairn attest ${p.id} --confirm`)
    })
  withTarget(roster
    .command('remove <member-name>')
    .description('propose removing a member'))
    .action(async (name, o) => {
      const p = await publishOne(resolveTarget(o), { type: 'roster', change: 'remove_member', member: name })
      printPublished(p)
      console.error(`proposal ${p.id}: other members confirm with: cairn attest ${p.id} --confirm`)
    })
}
