/** `cairn match`: hashes files and matches them against the verified local copy `cairn sync` keeps. */
import type { Command } from 'commander'
import cliProgress from 'cli-progress'
import { isLedgerError } from '../protocol/errors.ts'
import type { LocalCopy } from '../client/local-copy-reader.ts'
import { matchPaths, DEFAULT_MAX_DISTANCE, MAX_MAX_DISTANCE, MIN_QUERY_QUALITY, type MatchEvent } from '../client/matcher.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadHashes = () => import('../client/file-hashes.ts')
const loadCopy = () => import('../client/local-copy-reader.ts')

export function registerMatchCommands(program: Command) {
  program
    .command('match')
    .description('hash files (directories are walked) and match them against the local copy: exact MD5, SHA-1, SHA-256; PDQ within a Hamming distance')
    .argument('<path...>', 'files or directories')
    .requiredOption('--copy <dir>', 'the local copy (the --dir of cairn sync)')
    .option('--max-distance <d>', `PDQ Hamming distance, 0..${MAX_MAX_DISTANCE}`, String(DEFAULT_MAX_DISTANCE))
    .option('--dihedral', 'also match the 8 rotations and flips of each image (reports the variant)')
    .option('--json', 'one JSON object per line: a match {"file","alg","distance","variant"?,"id","log","seq","category","value","quality"?,"confirmations","disputes"}, a low-quality image {"file","pdq","quality","low_quality":true}, or an unreadable file {"file","error":{"code","message"}}')
    .option('--quiet', 'no progress bar and no summary')
    .option('--report-false-positive', 'then report each matched record as a false positive to the centre that added it, at --node with a provider --token (cairn feedback); exit 0 once all are reported')
    .option('--reason <reason>', 'with --report-false-positive: benign_content | hash_collision | adult_content | unspecified')
    .option('--ref <ref>', 'with --report-false-positive: your case reference (only its pseudonym is sent; --ref-key as cairn feedback)')
    .option('--ref-key <file>', 'with --ref: your case-reference key file')
    .option('--node <url>', 'with --report-false-positive: API base URL of the node you sync from')
    .option('--token <token>', 'with --report-false-positive: provider token (default: $CAIRN_TOKEN)')
    .addHelpText('after', `\nEach match names the record, the centre (log) that published it, its category, and the centres that confirmed or disputed it.\nImages whose PDQ quality is below ${MIN_QUERY_QUALITY} are reported as low quality and not PDQ-matched.\nExit status: 1 at least one match; otherwise 2 if a file could not be read or decoded (each is reported and the walk goes on), on a usage error or a local copy that cannot be used; 0 every file was checked and none matched.`)
    .action(async function (this: Command, paths: string[], o: { copy: string; maxDistance: string; dihedral?: boolean; json?: boolean; quiet?: boolean; reportFalsePositive?: boolean; reason?: string; ref?: string; refKey?: string; node?: string; token?: string }) {
      const { openLocalCopy } = await loadCopy()
      const { walkFiles } = await loadHashes()
      if (o.reportFalsePositive && !o.node) this.error('error: --report-false-positive needs --node <url> (and --token or $CAIRN_TOKEN): the node you sync from')
      if (!/^\d+$/.test(o.maxDistance) || Number(o.maxDistance) > MAX_MAX_DISTANCE) this.error(`error: --max-distance is a whole number from 0 to ${MAX_MAX_DISTANCE}, got ${o.maxDistance}`)
      let copy: LocalCopy
      try {
        copy = openLocalCopy(o.copy)
      } catch (e) {
        if (!isLedgerError(e)) throw e
        console.error(`error ${e.code}: ${e.message}`)
        process.exit(2)
      }
      const bar = !o.quiet && process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'match [{bar}] {value}/{total} files | {matches} matches', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined
      if (bar) {
        let total = 0
        for await (const f of walkFiles(paths)) if (typeof f === 'string') total++
        bar.start(total, 0, { matches: 0 })
      }
      let files = 0
      let matched = 0
      let matches = 0
      let errors = 0
      let lowQuality = 0
      const matchedRecords = new Set<string>()
      try {
        for await (const ev of matchPaths(copy, paths, { maxDistance: Number(o.maxDistance), dihedral: o.dihedral === true })) {
          if (ev.kind === 'file') {
            files++
            if (ev.matches > 0) matched++
            bar?.increment(1, { matches })
            continue
          }
          if (ev.kind === 'match') {
            matches++
            matchedRecords.add(ev.record.id)
          } else if (ev.kind === 'error') errors++
          else lowQuality++
          if (o.json) await write(JSON.stringify(jsonOf(ev)) + '\n')
          else if (ev.kind === 'match') await write(textOf(ev) + '\n')
          else if (ev.kind === 'error') process.stderr.write(`${ev.file}: error ${ev.error.code}: ${ev.error.message}\n`)
          else process.stderr.write(`${ev.file}: low quality (PDQ quality ${ev.quality} < ${MIN_QUERY_QUALITY}): not matched by PDQ\n`)
        }
      } finally {
        bar?.stop()
      }
      if (!o.quiet && !o.json) process.stderr.write(`${files} file(s) checked against ${copy.size} indicators: ${matches} match(es) in ${matched} file(s)${lowQuality ? `, ${lowQuality} low quality` : ''}${errors ? `, ${errors} could not be read` : ''}\n`)
      // A match is what a caller must never miss; next, a file that was not checked must not pass for a clean one.
      process.exitCode = matches > 0 ? 1 : errors > 0 ? 2 : 0
      if (o.reportFalsePositive) process.exitCode = (await reportMatches([...matchedRecords], o)) || (errors > 0 ? 2 : 0)
    })
}

type Shown = Exclude<MatchEvent, { kind: 'file' }>

/** --report-false-positive: one report per matched record (cli/commands-feedback.ts); 0 when all were reported. */
async function reportMatches(records: string[], o: { json?: boolean; reason?: string; ref?: string; refKey?: string; node?: string; token?: string }): Promise<number> {
  const { reportEach, receiptLine } = await import('./commands-feedback.ts')
  const { resolveTarget } = await import('./target.ts')
  if (records.length === 0) process.stderr.write('no match: nothing to report\n')
  for (const r of await reportEach(resolveTarget(o), records, { verdict: 'false_positive', reason: o.reason, ref: o.ref, refKey: o.refKey })) {
    if (o.json) await write(JSON.stringify({ report: r }) + '\n')
    else await write(`reported false positive: ${receiptLine(r)}\n`)
  }
  return 0
}

function jsonOf(ev: Shown): Record<string, unknown> {
  if (ev.kind === 'error') return { file: ev.file, error: ev.error }
  if (ev.kind === 'low_quality') return { file: ev.file, pdq: ev.pdq, quality: ev.quality, low_quality: true }
  const r = ev.record
  return {
    file: ev.file, alg: ev.alg, distance: ev.distance, ...(ev.variant ? { variant: ev.variant } : {}),
    id: r.id, log: r.log, seq: r.seq, category: r.category, value: Buffer.from(r.value).toString('hex'),
    ...(r.quality !== undefined ? { quality: r.quality } : {}), confirmations: r.confirmations, disputes: r.disputes,
  }
}

function textOf(ev: Extract<MatchEvent, { kind: 'match' }>): string {
  const r = ev.record
  const list = (l: string[]) => (l.length ? l.join(', ') : 'none')
  return `${ev.file}: ${ev.alg} distance ${ev.distance}${ev.variant ? ` (${ev.variant})` : ''}, record ${r.id}, centre ${r.log} #${r.seq}, category ${r.category}, confirmed by ${list(r.confirmations)}, disputed by ${list(r.disputes)}`
}

/** Writes to stdout, waiting when the pipe is full. */
function write(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve()
    else process.stdout.once('drain', resolve)
  })
}
