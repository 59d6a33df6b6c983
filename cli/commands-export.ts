/** `cairn export`: the verified current set of a local copy as jsonl, csv, txt or hma lines. */
import type { Command } from 'commander'
import { createWriteStream, openSync, renameSync, unlinkSync, type WriteStream } from 'node:fs'
import { isLedgerError } from '../protocol/errors.ts'
import { openLocalCopy, type LocalCopy } from '../client/local-copy-reader.ts'
import { exportLines, EXPORT_FORMATS, CSV_HEADER, type ExportFormat } from '../client/copy-export.ts'

export function registerExportCommands(program: Command) {
  program
    .command('export')
    .description('write the verified current set of a local copy (made by cairn sync) in a format matchers read')
    .requiredOption('--copy <dir>', 'the local copy (the --dir of cairn sync)')
    .requiredOption('--format <format>', EXPORT_FORMATS.join('|'))
    .option('--out <file>', 'write to this file (replaced when complete) instead of stdout')
    .addHelpText('after', [
      '',
      'Formats (spec/local-copy.md §L.6):',
      '  jsonl  one object per record: {"id","log","seq","alg","value","category","quality" (PDQ only),"confirmations":[origins],"disputes":[origins]}',
      `  csv    header ${CSV_HEADER}; quality empty except for PDQ; confirmations and disputes are space-separated origins`,
      '  txt    "<alg> <hex>" per record, as GET /feed/snapshot?format=txt',
      '  hma    "pdq <hex>" per distinct PDQ value, the lines ThreatExchange\'s tools (python-threatexchange local files, HMA) read',
      'Exit status: 0 written; 2 a usage error or a local copy that cannot be used.',
    ].join('\n'))
    .action(async function (this: Command, o: { copy: string; format: string; out?: string }) {
      if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) this.error(`error: --format is one of ${EXPORT_FORMATS.join(', ')}, got ${o.format}`)
      let copy: LocalCopy
      try {
        copy = openLocalCopy(o.copy, { pdqIndex: 'on-first-use' })
      } catch (e) {
        if (!isLedgerError(e)) throw e
        console.error(`error ${e.code}: ${e.message}`)
        process.exit(2)
      }
      const tmp = o.out ? `${o.out}.tmp` : undefined
      let fd: number | undefined
      if (tmp) {
        try {
          fd = openSync(tmp, 'w', 0o644)
        } catch (e) {
          console.error(`error BAD_REQUEST: cannot write ${o.out}: ${(e as Error).message}`)
          process.exit(2)
        }
      }
      const out: NodeJS.WritableStream = tmp ? createWriteStream(tmp, { fd }) : process.stdout
      try {
        let lines = 0
        for (const line of exportLines(copy, o.format as ExportFormat)) {
          lines++
          if (!out.write(line)) await new Promise((r) => out.once('drain', r))
        }
        if (tmp) {
          await new Promise<void>((resolve, reject) => (out as WriteStream).end((e?: Error | null) => (e ? reject(e) : resolve())))
          renameSync(tmp, o.out!)
          console.error(`wrote ${lines} ${o.format} line${lines === 1 ? '' : 's'} to ${o.out} (${copy.size} records in the copy${o.format === 'hma' ? '; hma has one line per distinct PDQ value' : ''})`)
        }
      } catch (e) {
        if (tmp) try { unlinkSync(tmp) } catch { /* never written */ }
        throw e
      }
    })
}
