/** `cairn export`: the verified current set of a local copy as jsonl, csv, txt, hma, a STIX bundle or a MISP feed directory. */
import type { Command } from 'commander'
import { createWriteStream, mkdirSync, openSync, renameSync, unlinkSync, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import { isLedgerError } from '../protocol/errors.ts'
import type { LocalCopy } from '../client/local-copy-reader.ts'
import { exportLines, copyFederation, EXPORT_FORMATS, CSV_HEADER, type FileExportFormat } from '../client/copy-export.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadMisp = () => import('../client/misp-feed.ts')
const loadCopy = () => import('../client/local-copy-reader.ts')

/** An error of the file system (it has an errno), as opposed to one of the copy or a bug. */
const isOsError = (e: unknown) => e instanceof Error && typeof (e as NodeJS.ErrnoException).errno === 'number'

/** Writes `chunks` to `path` through `path.tmp`, renamed once complete (a reader never sees half a file); the count of chunks. */
async function writeReplacing(path: string, chunks: Iterable<string>): Promise<number> {
  const tmp = `${path}.tmp`
  const out = createWriteStream(tmp, { fd: openSync(tmp, 'w', 0o644) })
  let n = 0
  try {
    for (const c of chunks) {
      n++
      if (!out.write(c)) await new Promise<void>((r) => out.once('drain', () => r()))
    }
    await new Promise<void>((resolve, reject) => (out as WriteStream).end((e?: Error | null) => (e ? reject(e) : resolve())))
    renameSync(tmp, path)
    return n
  } catch (e) {
    out.destroy()
    try { unlinkSync(tmp) } catch { /* never written */ }
    throw e
  }
}

/** The MISP feed directory: the event file, then hashes.csv, then manifest.json (which names the event) last. */
async function writeMispFeed(copy: LocalCopy, dir: string, now: number): Promise<void> {
  const { mispEventChunks, mispFeedFiles, mispHashLines, mispManifest } = await loadMisp()
  mkdirSync(dir, { recursive: true })
  const o = { federation: copyFederation(copy), now }
  const files = mispFeedFiles(o)
  await writeReplacing(join(dir, files.event), mispEventChunks(copy.records(), o))
  await writeReplacing(join(dir, files.hashes), mispHashLines(copy.records(), o))
  await writeReplacing(join(dir, files.manifest), [mispManifest(o)])
}

export function registerExportCommands(program: Command) {
  program
    .command('export')
    .description('write the verified current set of a local copy (made by cairn sync) in a format matchers read')
    .requiredOption('--copy <dir>', 'the local copy (the --dir of cairn sync)')
    .requiredOption('--format <format>', EXPORT_FORMATS.join('|'))
    .option('--out <path>', 'write to this file (replaced when complete) instead of stdout; for misp, the feed directory (required)')
    .addHelpText('after', [
      '',
      'Formats (spec/local-copy.md §L.6, spec/formats.md):',
      '  jsonl  one object per record: {"id","log","seq","alg","value","category","quality" (PDQ only),"confirmations":[origins],"disputes":[origins]}',
      `  csv    header ${CSV_HEADER}; quality empty except for PDQ; confirmations and disputes are space-separated origins`,
      '  txt    "<alg> <hex>" per record, as GET /feed/snapshot?format=txt',
      '  hma    "pdq <hex>" per distinct PDQ value, the lines ThreatExchange\'s tools (python-threatexchange local files, HMA) read',
      '  stix   one STIX 2.1 bundle: an indicator per record ([file:hashes.\'SHA-256\' = \'…\'] etc.), an identity per centre',
      '  misp   a MISP feed in the --out directory: manifest.json, hashes.csv and one event file (<uuid>.json)',
      'cairn import reads stix, misp and hma back (--format stix|misp|hma).',
      'Exit status: 0 written; 2 a usage error or a local copy that cannot be used.',
    ].join('\n'))
    .action(async function (this: Command, o: { copy: string; format: string; out?: string }) {
      const { openLocalCopy } = await loadCopy()
      const { mispFeedFiles } = await loadMisp()
      if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) this.error(`error: --format is one of ${EXPORT_FORMATS.join(', ')}, got ${o.format}`)
      if (o.format === 'misp' && !o.out) this.error('error: --format misp writes a feed directory: give it with --out <dir>')
      let copy: LocalCopy
      try {
        copy = openLocalCopy(o.copy, { pdqIndex: 'on-first-use' })
      } catch (e) {
        if (!isLedgerError(e)) throw e
        console.error(`error ${e.code}: ${e.message}`)
        process.exit(2)
      }
      const now = Date.now()
      const cannotWrite = (e: unknown): never => {
        console.error(`error BAD_REQUEST: cannot write ${o.out}: ${(e as Error).message}`)
        process.exit(2)
      }
      if (o.format === 'misp') {
        try {
          await writeMispFeed(copy, o.out!, now)
        } catch (e) {
          if (isOsError(e)) cannotWrite(e)
          throw e
        }
        console.error(`wrote a MISP feed of ${copy.size} record${copy.size === 1 ? '' : 's'} to ${o.out} (manifest.json, hashes.csv, ${mispFeedFiles({ federation: copyFederation(copy), now }).event})`)
        return
      }
      const lines = exportLines(copy, o.format as FileExportFormat, { now })
      if (!o.out) {
        for (const line of lines) if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once('drain', r))
        return
      }
      let n: number
      try {
        n = await writeReplacing(o.out, lines)
      } catch (e) {
        if (isOsError(e)) cannotWrite(e)
        throw e
      }
      if (o.format === 'stix') console.error(`wrote a STIX bundle of ${copy.size} indicator${copy.size === 1 ? '' : 's'} to ${o.out}`)
      else console.error(`wrote ${n} ${o.format} line${n === 1 ? '' : 's'} to ${o.out} (${copy.size} records in the copy${o.format === 'hma' ? '; hma has one line per distinct PDQ value' : ''})`)
    })
}
