/**
 * `cairn import`: reads the file (cli/import-file.ts), sends the records in
 * batches to the node's POST /records (two requests in flight), turns NCMEC
 * deleted entries into revocations of the records they name
 * (cli/import/revocations.ts), and reports every rejected line or entry by
 * number and reason, in file order, and skipped ones counted by reason.
 */
import { statSync } from 'node:fs'
import cliProgress from 'cli-progress'
import { LedgerError } from '../../protocol/errors.ts'
import { REVOCATION_REASONS, type RevocationReason } from '../../protocol/records.ts'
import { api, type Endpoint } from '../../client/http.ts'
import { readIndicators, detectFormat, unitOf, IMPORT_FORMATS, type ImportFormat } from '../import-file.ts'
import { RevocationTargets } from './revocations.ts'

type Result = { id: string; seq: number; log: string } | { error: { code: string; message: string } }

export interface ImportOptions {
  format?: string
  category?: string
  kind?: string
  media?: string
  pdqQuality?: string
  deletedReason?: string
  auditorToken?: string
  batch: string
  quiet?: boolean
}

interface Item { line: number; where?: string; body: Record<string, unknown> }

export async function runImport(file: string, t: Endpoint, o: ImportOptions): Promise<void> {
  const format = (o.format ?? detectFormat(file)) as ImportFormat
  if (!(IMPORT_FORMATS as readonly string[]).includes(format)) throw new LedgerError('BAD_REQUEST', `format must be one of ${IMPORT_FORMATS.join(', ')}`)
  const pdqQuality = o.pdqQuality === undefined ? undefined : Number(o.pdqQuality)
  if (pdqQuality !== undefined && !(Number.isInteger(pdqQuality) && pdqQuality >= 0 && pdqQuality <= 100)) throw new LedgerError('BAD_REQUEST', '--pdq-quality must be an integer 0..100')
  if (o.deletedReason !== undefined && !(REVOCATION_REASONS as readonly string[]).includes(o.deletedReason)) throw new LedgerError('BAD_REASON', `--deleted-reason is one of ${REVOCATION_REASONS.join(', ')}`)
  const unit = unitOf(format)
  const total = statSync(file).size
  const bar = o.quiet || !process.stderr.isTTY ? undefined : new cliProgress.SingleBar({ format: 'import [{bar}] {percentage}% | {imported} imported, {failed} rejected', stream: process.stderr }, cliProgress.Presets.shades_classic)
  bar?.start(100, 0, { imported: 0, failed: 0 })
  let imported = 0, revoked = 0, failed = 0, lines = 0
  const skipped = new Map<string, number>()
  // Rejections come back per batch, two batches in flight: kept with their number and shown in file order.
  const errors: { line: number; text: string }[] = []
  const label = (line: number, where?: string) => (line === 0 && !where ? 'file' : `${unit} ${line}${where ? ` (${where})` : ''}`)
  const reject = (line: number, where: string | undefined, text: string) => {
    failed++
    if (errors.length < 10_000) errors.push({ line, text: `${label(line, where)}: ${text}` })
  }
  const targets = new RevocationTargets(t, { ...t, token: o.auditorToken ?? t.token })
  const batchSize = Math.min(Math.max(Number(o.batch), 1), 10_000)
  let batch: Item[] = []
  const inflight: Promise<void>[] = []
  const send = async (b: Item[]) => {
    const r = await api<{ results: Result[] }>(t, 'POST', '/records', { records: b.map((x) => x.body) })
    r.results.forEach((res, i) => {
      const item = b[i]!
      if ('error' in res) return reject(item.line, item.where, `${res.error.code}: ${res.error.message}`)
      if (item.body.type === 'revocation') {
        revoked++
        targets.noteRevoked(String(item.body.target))
      } else {
        imported++
        if (typeof item.body.ref === 'string') targets.noteImported(item.body.ref, res.id)
      }
    })
  }
  const flush = async () => {
    if (batch.length) inflight.push(send(batch))
    batch = []
    await Promise.all(inflight.splice(0))
  }
  const defaults = { category: o.category, kind: o.kind, media: o.media, pdqQuality, deletedReason: o.deletedReason as RevocationReason | undefined }
  for await (const p of readIndicators(file, format, defaults)) {
    lines = p.line
    if ('error' in p) {
      reject(p.line, p.where, p.error)
      continue
    }
    if ('skipped' in p) {
      skipped.set(p.skipped, (skipped.get(p.skipped) ?? 0) + 1)
      continue
    }
    if ('revoke' in p) {
      // Everything above it in the file is published first, so the deletion sees what the file itself added.
      await flush()
      const found = await targets.targets(p.revoke.ref)
      if ('error' in found) reject(p.line, p.where, found.error)
      else for (const id of found.ids) batch.push({ line: p.line, where: p.where, body: { type: 'revocation', target: id, reason: p.revoke.reason } })
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
  await flush()
  bar?.update(100, { imported, failed })
  bar?.stop()
  // A stable sort: several rejections of one entry (one per fingerprint) keep their order.
  const shown = errors.sort((a, b) => a.line - b.line).slice(0, 20)
  for (const e of shown) console.error(e.text)
  if (failed > shown.length) console.error(`… and ${failed - shown.length} more rejected ${unit}s (the first ${shown.length} in file order are shown)`)
  for (const [reason, n] of skipped) console.error(`skipped ${n}: ${reason}`)
  const skippedAll = [...skipped.values()].reduce((a, b) => a + b, 0)
  console.log(`imported ${imported} indicators, rejected ${failed}${revoked ? `, revoked ${revoked}` : ''}${skippedAll ? `, skipped ${skippedAll}` : ''}`)
  // Any rejected line is a failure the operator must see, even when the rest went in.
  if (failed > 0) process.exitCode = 1
}
