/**
 * The numbered lines of a text import file: a BOM on the first line is
 * dropped, lines are trimmed, blank lines and `#` comments skipped, and a
 * line over the length cap is one error (the rest of the file still read).
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'

export const MAX_LINE_CHARS = 20_000

export type NumberedLine = { line: number; text: string } | { line: number; error: string }

export async function* numberedLines(path: string): AsyncGenerator<NumberedLine> {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  let n = 0
  for await (const raw of rl) {
    n++
    const text = (n === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim()
    if (text === '' || text.startsWith('#')) continue
    if (text.length > MAX_LINE_CHARS) yield { line: n, error: `line longer than ${MAX_LINE_CHARS.toLocaleString('en')} characters` }
    else yield { line: n, text }
  }
}
