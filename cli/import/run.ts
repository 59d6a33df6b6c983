/**
 * `cairn import`: reads the file (cli/import-file.ts), sends the records in
 * batches to the node's POST /records (two requests in flight), turns NCMEC
 * deleted entries into revocations of the records they name
 * (cli/import/revocations.ts), and reports every rejected line or entry by
 * number and reason, in file order, and skipped ones counted by reason.
 *
 * Exactly once: each request carries an Idempotency-Key derived from the
 * file's SHA-256, the batch's position and its body, so a request retried
 * after a lost answer, or a whole import run again after a crash, stores
 * nothing twice; the node answers such a batch as it did the first time
 * and the summary counts it as already imported.
 */
import { createHash } from 'node:crypto'
import { createReadStream, statSync } from 'node:fs'
import cliProgress from 'cli-progress'
import { LedgerError } from '../../protocol/errors.ts'
import { REVOCATION_REASONS, type RevocationReason } from '../../protocol/records.ts'
import { api, type Endpoint } from '../../client/http.ts'
import { readIndicators, detectFormat, unitOf, IMPORT_FORMATS, type ImportFormat } from '../import-file.ts'
import { RevocationTargets } from './revocations.ts'

type Result = { id: string; seq: number; log: string; ref?: string } | { error: { code: string; message: string } }

/** Codes after which the same request is sent again (safe: it carries its Idempotency-Key). */
const RETRY = new Set(['PEER_UNREACHABLE', 'PEER_ERROR', 'INTERNAL', 'CONFLICT', 'RATE_LIMITED', 'STORAGE_FULL'])
const RETRIES = 6

async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** The batch's key: the same file, batch and body give the same key on every run. */
export function importKey(fileHash: string, batchIndex: number, body: string): string {
  return 'cairn-import/1:' + createHash('sha256').update(`${fileHash}\n${batchIndex}\n`).update(body).digest('hex')
}

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
  allowDuplicate?: boolean
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
  let imported = 0, revoked = 0, failed = 0, lines = 0, already = 0
  const fileHash = await fileSha256(file)
  let batchIndex = 0
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
    const body = JSON.stringify({ records: b.map((x) => x.body), ...(o.allowDuplicate ? { allow_duplicate: true } : {}) })
    const key = importKey(fileHash, batchIndex++, body)
    let replayed = false
    const keyed: Endpoint = {
      ...t,
      fetch: async (url, init) => {
        const res = await (t.fetch ?? fetch)(url, { ...init, body, headers: { ...(init?.headers as Record<string, string>), 'idempotency-key': key } })
        replayed = res.headers.get('idempotent-replayed') === 'true'
        return res
      },
    }
    let r!: { results: Result[] }
    for (let attempt = 0; ; attempt++) {
      try {
        r = await api<{ results: Result[] }>(keyed, 'POST', '/records', {})
        break
      } catch (e) {
        if (!(e instanceof LedgerError && RETRY.has(e.code)) || attempt >= RETRIES) throw e
        await new Promise((res) => setTimeout(res, 250 * 2 ** attempt))
      }
    }
    r.results.forEach((res, i) => {
      const item = b[i]!
      if ('error' in res) return reject(item.line, item.where, `${res.error.code}: ${res.error.message}`)
      if (item.body.type === 'revocation') {
        revoked++
        targets.noteRevoked(String(item.body.target))
      } else {
        imported++
        if (replayed) already++
        if (res.ref) targets.noteImported(res.ref, res.id)
      }
    })
  }
  // A failed batch is reported where it is awaited; meanwhile its rejection is not "unhandled" (no stack trace).
  const start = (b: Item[]) => {
    const p = send(b)
    p.catch(() => undefined)
    return p
  }
  const flush = async () => {
    if (batch.length) inflight.push(start(batch))
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
      const pseudonym = await pseudonymOf(t, p.revoke.ref)
      const found = await targets.targets(pseudonym)
      if ('error' in found) reject(p.line, p.where, found.error.replace(pseudonym, `${p.revoke.ref} (${pseudonym})`))
      else for (const id of found.ids) batch.push({ line: p.line, where: p.where, body: { type: 'revocation', target: id, reason: p.revoke.reason } })
      continue
    }
    batch.push(p)
    if (batch.length >= batchSize) {
      inflight.push(start(batch))
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
  console.log(`imported ${imported} indicators${already ? ` (${already} of them already stored by an earlier run)` : ''}, rejected ${failed}${revoked ? `, revoked ${revoked}` : ''}${skippedAll ? `, skipped ${skippedAll}` : ''}`)
  // Any rejected line is a failure the operator must see, even when the rest went in.
  if (failed > 0) process.exitCode = 1
}

/** The pseudonym this node records for a case reference (the ledger holds no raw one). */
async function pseudonymOf(t: Endpoint, ref: string): Promise<string> {
  if (/^p1:[0-9a-f]{32}$/.test(ref)) return ref
  return (await api<{ pseudonyms: string[] }>(t, 'POST', '/refs', { refs: [ref] })).pseudonyms[0]!
}
