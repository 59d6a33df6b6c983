/** `cairn hash`: MD5, SHA-1, SHA-256 and (for images) PDQ of files and directories. */
import type { Command } from 'commander'
import type { FileHashes } from '../client/file-hashes.ts'
import { PDQ_DIHEDRAL_NAMES } from '../protocol/pdq.ts'
// Loaded when a command runs, not when the CLI starts (`cairn --help` stays fast).
const loadHashes = () => import('../client/file-hashes.ts')

export function registerHashCommands(program: Command) {
  program
    .command('hash')
    .description('MD5, SHA-1 and SHA-256 of each file, and PDQ with its quality for images (JPEG, PNG, WebP, GIF first frame, TIFF, binary PGM/PPM); directories are walked')
    .argument('<path...>', 'files or directories')
    .option('--json', 'one JSON object per line: {"file","md5","sha1","sha256","pdq","quality"}, or {"file","error":{"code","message"}} for a file that cannot be read or decoded')
    .option('--dihedral', 'also the 8 dihedral PDQ hashes (original, rot90, rot180, rot270, flipX, flipY, flipPlus1, flipMinus1) as "pdq_dihedral"')
    .addHelpText('after', '\nExit status: 0 when every file was hashed; 1 when at least one could not be read or decoded (it is reported and the walk goes on); 2 for a usage error.\nPDQ quality below 50 means the hash is too weak to match on (the reference advises discarding it).')
    .action(async (paths: string[], o: { json?: boolean; dihedral?: boolean }) => {
      const { hashPaths, isFileHashError } = await loadHashes()
      let failed = 0
      for await (const r of hashPaths(paths, { dihedral: o.dihedral === true })) {
        if (isFileHashError(r)) failed++
        if (o.json) {
          await write(JSON.stringify(r) + '\n')
        } else if (isFileHashError(r)) {
          process.stderr.write(`${r.file}: error ${r.error.code}: ${r.error.message}\n`)
        } else {
          await write(formatText(r))
        }
      }
      if (failed > 0) {
        if (!o.json) process.stderr.write(`${failed} file(s) could not be hashed\n`)
        process.exitCode = 1
      }
    })
}

function formatText(r: FileHashes): string {
  const lines = [r.file, `  md5     ${r.md5}`, `  sha1    ${r.sha1}`, `  sha256  ${r.sha256}`]
  if (r.pdq !== undefined) lines.push(`  pdq     ${r.pdq}  quality ${r.quality}${r.quality! < 50 ? ' (low: not usable for matching)' : ''}`)
  if (r.pdq_dihedral !== undefined) r.pdq_dihedral.forEach((h, i) => lines.push(`    ${PDQ_DIHEDRAL_NAMES[i]!.padEnd(10)} ${h}`))
  return lines.join('\n') + '\n'
}

/** Writes to stdout, waiting when the pipe is full so a long walk does not buffer without bound. */
function write(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve()
    else process.stdout.once('drain', resolve)
  })
}
