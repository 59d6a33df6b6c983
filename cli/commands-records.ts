/** Writing to the node's own log: publish, import, revoke, attest, roster changes. */
import { statSync } from 'node:fs'
import type { Command } from 'commander'
import cliProgress from 'cli-progress'
import { LedgerError } from '../protocol/errors.ts'
import { parseJsonFile } from '../node/config.ts'
import { GenesisMember } from '../protocol/genesis.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import { toHex } from '../protocol/bytes.ts'
import { api, type Endpoint as Target } from '../client/http.ts'
import { resolveTarget } from './target.ts'
import { readIndicators, detectFormat, type ImportFormat } from './import-file.ts'

type Published = { id: string; seq: number; log: string }
type Result = Published | { error: { code: string; message: string } }

const withTarget = (c: Command) => c.option('--dir <dir>', 'node directory').option('--node <url>', 'API base URL').option('--token <token>', 'operator token')

async function publishOne(t: Target, body: Record<string, unknown>): Promise<Published> {
  return api<Published>(t, 'POST', '/records', body)
}

function printPublished(p: Published) {
  console.log(`${p.id}  (${p.log} #${p.seq})`)
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
    .option('--ref <ref>', 'opaque case reference (≤ 64 chars, no personal data)')
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
      printPublished(await publishOne(resolveTarget(o), body))
    })

  withTarget(program
    .command('import <file>')
    .description('bulk-import indicators (CSV with a header, JSON lines, or "<alg> <hex>" lines); bad lines are reported in line order, good ones imported; exit 1 if any line was rejected')
    .addHelpText('after', '\nCSV (RFC 4180: quoted cells, a BOM and CRLF are fine): a header naming alg and value, and any of category,kind,media,quality,ref,expires; a row may leave trailing columns out.\nExit status: 0 every line imported; 1 any line rejected (counts on the last line).')
    .option('--format <f>', 'csv | jsonl | txt (default: from the file name)')
    .option('--category <c>', 'category for lines that give none')
    .option('--kind <k>', 'kind for lines that give none', 'known_material')
    .option('--media <m>', 'media for lines that give none (derived from the alg where fixed)')
    .option('--pdq-quality <n>', 'PDQ quality 0-100 for pdq lines that give none (without it such lines are rejected)')
    .option('--batch <n>', 'records per request', '5000')
    .option('--quiet', 'no progress bar'))
    .action(async (file, o) => {
      const t = resolveTarget(o)
      const format = (o.format ?? detectFormat(file)) as ImportFormat
      if (!['csv', 'jsonl', 'txt'].includes(format)) throw new LedgerError('BAD_REQUEST', 'format must be csv, jsonl or txt')
      const pdqQuality = o.pdqQuality === undefined ? undefined : Number(o.pdqQuality)
      if (pdqQuality !== undefined && !(Number.isInteger(pdqQuality) && pdqQuality >= 0 && pdqQuality <= 100)) throw new LedgerError('BAD_REQUEST', '--pdq-quality must be an integer 0..100')
      const total = statSync(file).size
      const bar = o.quiet || !process.stderr.isTTY ? undefined : new cliProgress.SingleBar({ format: 'import [{bar}] {percentage}% | {imported} imported, {failed} rejected', stream: process.stderr }, cliProgress.Presets.shades_classic)
      bar?.start(100, 0, { imported: 0, failed: 0 })
      let imported = 0, failed = 0, lines = 0
      // Rejections come back per batch, two batches in flight: kept with their line and shown in line order.
      const errors: { line: number; text: string }[] = []
      const reject = (line: number, text: string) => {
        failed++
        if (errors.length < 10_000) errors.push({ line, text })
      }
      const batchSize = Math.min(Math.max(Number(o.batch), 1), 10_000)
      let batch: { line: number; body: Record<string, unknown> }[] = []
      const inflight: Promise<void>[] = []
      const send = async (b: typeof batch) => {
        const r = await api<{ results: Result[] }>(t, 'POST', '/records', { records: b.map((x) => x.body) })
        r.results.forEach((res, i) => {
          if ('error' in res) reject(b[i]!.line, `${res.error.code}: ${res.error.message}`)
          else imported++
        })
      }
      for await (const p of readIndicators(file, format, { category: o.category, kind: o.kind, media: o.media, pdqQuality })) {
        lines = p.line
        if ('error' in p) {
          reject(p.line, p.error)
          continue
        }
        batch.push(p)
        if (batch.length >= batchSize) {
          inflight.push(send(batch))
          batch = []
          // Two requests in flight keep the node's publisher busy without flooding it.
          if (inflight.length >= 2) await inflight.shift()
          bar?.update(Math.min(99, Math.round((lines / Math.max(1, total / 40)) * 100) % 100), { imported, failed })
        }
      }
      if (batch.length) inflight.push(send(batch))
      await Promise.all(inflight)
      bar?.update(100, { imported, failed })
      bar?.stop()
      const shown = errors.sort((a, b) => a.line - b.line).slice(0, 20)
      for (const e of shown) console.error(`line ${e.line}: ${e.text}`)
      if (failed > shown.length) console.error(`… and ${failed - shown.length} more rejected lines (the first ${shown.length} in line order are shown)`)
      console.log(`imported ${imported} indicators, rejected ${failed}`)
      // Any rejected line is a failure the operator must see, even when the rest went in.
      if (failed > 0) process.exitCode = 1
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
